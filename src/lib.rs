//! livc: a learned image codec.
//!
//! Data flows one way: io → model (transforms) → entropy (tables, rANS lanes)
//! → bitstream, and back. `codec` ties them together; the CLI in `main.rs`
//! is a thin layer over it.

pub mod bench;
pub mod bitstream;
pub mod codec;
pub mod entropy;
pub mod eval;
pub mod gpu;
pub mod io;
pub mod model;
pub mod train;

/// Which compute backend runs the networks and the parse path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// wgpu when a hardware GPU adapter exists, else the CPU.
    Auto,
    /// burn's flex backend on the CPU; the rANS coder and integer network in Rust.
    Cpu,
    /// burn's wgpu backend (Vulkan, Metal, DX12; lavapipe without a GPU); the
    /// rANS coder and integer network in livc's WGSL kernels.
    Wgpu,
}

impl Backend {
    /// `Auto` made concrete.
    pub fn resolve(self) -> Backend {
        match self {
            Backend::Auto if gpu::Gpu::hardware_available() => Backend::Wgpu,
            Backend::Auto => Backend::Cpu,
            other => other,
        }
    }

    /// The burn device the networks run on: wgpu's default device for
    /// [`Backend::Wgpu`], else the CPU (flex), after [`Backend::resolve`].
    pub fn device(self) -> burn::tensor::Device {
        match self.resolve() {
            Backend::Wgpu => burn::tensor::Device::wgpu(Default::default()),
            _ => burn::tensor::Device::flex(),
        }
    }
}
