//! Our own wgpu compute work (the networks run through burn's wgpu backend):
//! the rANS lane coder in WGSL (`shaders/`), bit-exact with the CPU coder.

pub mod context_net;
pub mod rans;
pub mod scale_net;

use anyhow::{Context, Result, bail};

/// A wgpu device and queue for livc's kernels.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// The adapter's name, type and backend API.
    pub adapter: wgpu::AdapterInfo,
    /// The first wgpu error (out of memory, validation) not yet reported:
    /// wgpu raises them asynchronously, and its default handler panics.
    error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// Hardware adapters first; a software rasteriser (lavapipe) last.
fn preference(kind: wgpu::DeviceType) -> u8 {
    match kind {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Every adapter wgpu can see through the APIs `apis` (`WGPU_BACKEND`
/// narrows them).
fn adapters(apis: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends &= apis; // an API left out is not even initialised
    let instance = wgpu::Instance::new(descriptor);
    pollster::block_on(instance.enumerate_adapters(apis))
}

impl Gpu {
    /// The best adapter wgpu finds. `allow_software`: accept a CPU
    /// implementation (lavapipe) when there is no GPU, as the tests do.
    pub fn new(allow_software: bool) -> Result<Gpu> {
        let mut adapters = adapters(wgpu::Backends::all());
        adapters.sort_by_key(|a| preference(a.get_info().device_type));
        let Some(adapter) = adapters.into_iter().next() else {
            bail!("no wgpu adapter (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers)");
        };
        let info = adapter.get_info();
        if info.device_type == wgpu::DeviceType::Cpu && !allow_software {
            bail!("no GPU adapter, only the software one ({})", info.name);
        }
        // Ask for everything the adapter offers: big tiles need big buffers.
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("livc"),
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .with_context(|| format!("cannot open {}", info.name))?;
        let error = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = error.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| {
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        Ok(Gpu { device, queue, adapter: info, error })
    }

    /// Errors with the first wgpu error raised on this device since the last
    /// call (out of memory, a validation error), which wgpu reports
    /// asynchronously: every result read back from the device is checked
    /// (`rans::read_back`), and so is the set-up of a codec's kernels, so
    /// such an error fails the operation instead of giving wrong data or a
    /// panic. One error slot per device: use a `Gpu` from one thread.
    pub fn check(&self) -> Result<()> {
        match self.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => bail!("{}: {}", self.adapter.name, e.trim_end()),
            None => Ok(()),
        }
    }

    /// The compute pipelines `entries` of the WGSL `source`, all on one bind
    /// group `layout`.
    pub(crate) fn pipelines<const N: usize>(
        &self,
        label: &str,
        source: &str,
        layout: &wgpu::BindGroupLayout,
        entries: [&str; N],
    ) -> [wgpu::ComputePipeline; N] {
        let pipeline_layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(label),
            bind_group_layouts: &[Some(layout)],
            immediate_size: 0,
        });
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        entries.map(|entry| {
            self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        })
    }

    /// Whether a hardware GPU adapter exists (for `--backend auto`), through
    /// Vulkan, Metal or DX12 (wgpu's primary APIs). OpenGL is not asked: a
    /// GPU reached only through it is left to `--backend wgpu`, and asking
    /// loads the GL drivers, which cost every command about 25 ms on a
    /// machine without a GPU (Mesa's, 2 cores; 70 ms for both APIs).
    /// On Linux, with no GPU device node at all (`gpu_device_node`), the
    /// answer is no without asking Vulkan either: its loader opens every
    /// installed driver, software ones included, about 55 ms per command
    /// on such a machine (2 cores, 4 drivers).
    pub fn hardware_available() -> bool {
        hardware_through(wgpu::Backends::PRIMARY)
    }

    /// Whether [`Gpu::new`] would find only a software adapter (lavapipe) or
    /// none: every API asked, OpenGL included, as `Gpu::new` does (for
    /// `--backend wgpu`'s note; on Linux, no GPU device node settles it
    /// without asking).
    pub fn only_software() -> bool {
        !hardware_through(wgpu::Backends::all())
    }
}

/// Whether a hardware (not CPU) adapter exists through the APIs `apis`;
/// on Linux without a GPU device node, no without asking them.
fn hardware_through(apis: wgpu::Backends) -> bool {
    gpu_device_node() && adapters(apis).iter().any(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
}

/// Whether the kernel offers a node through which a GPU driver reaches
/// hardware: a DRM node (`/dev/dri/renderD*`, `card*`: Mesa's drivers and
/// NVIDIA's with DRM), NVIDIA's own (`/dev/nvidia*`) or WSL's (`/dev/dxg`).
/// Every hardware Vulkan driver opens one of these. Always true elsewhere
/// than Linux.
fn gpu_device_node() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let listed = |dir: &str, prefixes: &[&str]| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| prefixes.iter().any(|p| e.file_name().to_string_lossy().starts_with(p)))
        })
    };
    listed("/dev/dri", &["renderD", "card"]) || listed("/dev", &["nvidia", "dxg"])
}
