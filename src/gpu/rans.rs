//! Host side of the WGSL rANS lane coder (`shaders/rans_*.wgsl`). Same lane
//! layout, same bytes and same errors as the CPU coder in `entropy`.

use anyhow::{Result, bail};
use wgpu::util::DeviceExt;

use super::Gpu;
use crate::entropy::RansError;
use crate::entropy::tables::LatentTable;

/// Tables uploaded once: per table (cdf offset, cdf entries, min, 0) and all cdfs.
pub struct GpuTables {
    info: wgpu::Buffer,
    cdfs: wgpu::Buffer,
    count: usize,
}

impl GpuTables {
    /// Uploads `tables` (one storage buffer of their CDFs, one of their offsets,
    /// lengths and minimum values).
    pub fn new(gpu: &Gpu, tables: &[LatentTable]) -> GpuTables {
        let mut info: Vec<u32> = Vec::with_capacity(tables.len() * 4);
        let mut cdfs: Vec<u32> = Vec::new();
        for t in tables {
            info.extend([cdfs.len() as u32, t.cdf.len() as u32, t.min as u32, 0]);
            cdfs.extend_from_slice(&t.cdf);
        }
        GpuTables { info: storage(gpu, "tables", &info), cdfs: storage(gpu, "cdfs", &cdfs), count: tables.len() }
    }
}

/// The compiled coder kernels.
pub struct GpuCoder {
    encode_layout: wgpu::BindGroupLayout,
    decode_layout: wgpu::BindGroupLayout,
    begin_lanes: wgpu::ComputePipeline,
    encode_lanes: wgpu::ComputePipeline,
    end_lanes: wgpu::ComputePipeline,
    gather_lengths: wgpu::ComputePipeline,
    pack_lanes: wgpu::ComputePipeline,
    start_lanes: wgpu::ComputePipeline,
    decode_lanes: wgpu::ComputePipeline,
    finish_lanes: wgpu::ComputePipeline,
}

const WORKGROUP: u32 = 64;
/// Symbols per lane in one dispatch: at most ~25 loop iterations each keeps an
/// invocation under llvmpipe's cap of 65535 iterations.
const STEP_SYMBOLS: u32 = 2048;
/// Bytes of one lane that one `pack_lanes` invocation copies (as in the shader).
const PACK_CHUNK: u64 = 1024;
/// Workgroups a dispatch may have along one dimension (WebGPU's default limit).
const MAX_WORKGROUPS: u32 = 65_535;
/// Parameter blocks sit at this stride for dynamic offsets (WebGPU's maximum alignment).
const PARAMS_STRIDE: usize = 256;
/// Largest escape: symbol, 6-bit length, two chunks; each step writes ≤ 2 bytes.
const MAX_BYTES_PER_SYMBOL: u64 = 8;

pub(crate) fn storage(gpu: &Gpu, label: &str, data: &[u32]) -> wgpu::Buffer {
    // wgpu refuses empty bindings; one spare word costs nothing.
    let padded: Vec<u32> = if data.is_empty() { vec![0] } else { data.to_vec() };
    gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(&padded),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    })
}

pub(crate) fn empty(gpu: &Gpu, label: &str, bytes: u64) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// One uniform buffer holding a parameter block per dispatch, bound with a
/// dynamic offset, so every step of a coding job goes in one submission.
fn params_blocks(gpu: &Gpu, blocks: &[[u32; 8]]) -> wgpu::Buffer {
    let mut bytes = vec![0u8; blocks.len() * PARAMS_STRIDE];
    for (i, block) in blocks.iter().enumerate() {
        bytes[i * PARAMS_STRIDE..i * PARAMS_STRIDE + 32].copy_from_slice(bytemuck::cast_slice(block));
    }
    gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("params"),
        contents: &bytes,
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

/// Copies `words` u32 of `buffer` back to the host.
///
/// Errors: any wgpu error raised on the device since the last check
/// ([`Gpu::check`]), a failed map.
pub(crate) fn read_back(gpu: &Gpu, buffer: &wgpu::Buffer, words: u64) -> Result<Vec<u32>> {
    let bytes = (words * 4).max(4);
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read back"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut commands = gpu.device.create_command_encoder(&Default::default());
    commands.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
    gpu.queue.submit([commands.finish()]);
    let slice = staging.slice(..);
    let (sender, receiver) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = sender.send(r);
    });
    gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
    let mapped = receiver.recv()?;
    // The device's own error first: it says why a buffer could not be mapped.
    gpu.check()?;
    mapped?;
    let data = bytemuck::cast_slice::<u8, u32>(&slice.get_mapped_range()?).to_vec();
    staging.unmap();
    Ok(data[..words as usize].to_vec())
}

fn workgroups(lanes: usize) -> u32 {
    (lanes as u32).div_ceil(WORKGROUP)
}

/// Workgroups for one invocation per element, wrapped into y past WebGPU's
/// 65535 per dimension (kernels index with x + y · 65535 · 64).
pub(crate) fn workgroups_2d(elements: u32) -> (u32, u32) {
    let groups = elements.div_ceil(WORKGROUP).max(1);
    if groups <= 65535 { (groups, 1) } else { (65535, groups.div_ceil(65535)) }
}

impl GpuCoder {
    /// Compiles the encoder's and the decoder's kernels on `gpu`.
    pub fn new(gpu: &Gpu) -> GpuCoder {
        let entry = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        };
        // Binding 0 holds the parameters, then read-only buffers, then
        // read-write ones: 4 + 3 for the encoder, 5 + 2 for the decoder.
        let make_layout = |read_only: u32| {
            let entries: Vec<wgpu::BindGroupLayoutEntry> = (0..8)
                .map(|b| match b {
                    0 => wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: true,
                            min_binding_size: std::num::NonZeroU64::new(32),
                        },
                        count: None,
                    },
                    b => entry(b, wgpu::BufferBindingType::Storage { read_only: b <= read_only }),
                })
                .collect();
            let layout = gpu
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some("rans"), entries: &entries });
            let pipeline_layout = gpu.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("rans"),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            (layout, pipeline_layout)
        };
        let (encode_layout, encode_pipeline_layout) = make_layout(4);
        let (decode_layout, decode_pipeline_layout) = make_layout(5);
        let module = |label: &str, source: &'static str| {
            let checks =
                wgpu::ShaderRuntimeChecks { force_loop_bounding: false, ..wgpu::ShaderRuntimeChecks::checked() };
            unsafe {
                gpu.device.create_shader_module_trusted(
                    wgpu::ShaderModuleDescriptor {
                        label: Some(label),
                        source: wgpu::ShaderSource::Wgsl(source.into()),
                    },
                    checks,
                )
            }
        };
        let encoder = module("rans_encode", include_str!("../../shaders/rans_encode.wgsl"));
        let decoder = module("rans_decode", include_str!("../../shaders/rans_decode.wgsl"));
        let pipeline = |module: &wgpu::ShaderModule, layout: &wgpu::PipelineLayout, entry: &str| {
            gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(layout),
                module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        GpuCoder {
            begin_lanes: pipeline(&encoder, &encode_pipeline_layout, "begin_lanes"),
            encode_lanes: pipeline(&encoder, &encode_pipeline_layout, "encode_lanes"),
            end_lanes: pipeline(&encoder, &encode_pipeline_layout, "end_lanes"),
            gather_lengths: pipeline(&encoder, &encode_pipeline_layout, "gather_lengths"),
            pack_lanes: pipeline(&encoder, &encode_pipeline_layout, "pack_lanes"),
            start_lanes: pipeline(&decoder, &decode_pipeline_layout, "start_lanes"),
            decode_lanes: pipeline(&decoder, &decode_pipeline_layout, "decode_lanes"),
            finish_lanes: pipeline(&decoder, &decode_pipeline_layout, "finish_lanes"),
            encode_layout,
            decode_layout,
        }
    }

    fn bind(gpu: &Gpu, layout: &wgpu::BindGroupLayout, buffers: [&wgpu::Buffer; 8]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: if i == 0 {
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: b,
                        offset: 0,
                        size: std::num::NonZeroU64::new(32),
                    })
                } else {
                    b.as_entire_binding()
                },
            })
            .collect();
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some("rans"), layout, entries: &entries })
    }

    /// Runs the dispatches in order, in one submission: (kernel, parameter
    /// block, workgroups in x and y).
    fn run(gpu: &Gpu, group: &wgpu::BindGroup, steps: &[(&wgpu::ComputePipeline, usize, u32, u32)]) {
        let mut commands = gpu.device.create_command_encoder(&Default::default());
        Self::record(&mut commands, group, steps);
        gpu.queue.submit([commands.finish()]);
    }

    fn record(
        commands: &mut wgpu::CommandEncoder,
        group: &wgpu::BindGroup,
        steps: &[(&wgpu::ComputePipeline, usize, u32, u32)],
    ) {
        let mut pass = commands.begin_compute_pass(&Default::default());
        for &(pipeline, block, x, y) in steps {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[(block * PARAMS_STRIDE) as u32]);
            pass.dispatch_workgroups(x, y, 1);
        }
    }

    /// Encodes `values[i]` with `tables[table_of[i]]` into `lanes` lanes
    /// (symbol i in lane i % lanes): the same bytes as `LatentTable::encode`
    /// with a `LaneEncoder`.
    pub fn encode(
        &self,
        gpu: &Gpu,
        tables: &GpuTables,
        values: &[i32],
        table_of: &[u32],
        lanes: usize,
    ) -> Result<Vec<Vec<u8>>> {
        check(values.len(), table_of, tables, lanes)?;
        let per_lane = values.len().div_ceil(lanes) as u64;
        let region_words = (MAX_BYTES_PER_SYMBOL * per_lane + 4).div_ceil(4);
        let region_bytes = lanes as u64 * region_words * 4;
        if region_bytes > gpu.device.limits().max_storage_buffer_binding_size {
            bail!(
                "{} symbols in {lanes} lanes need {region_bytes} bytes of GPU scratch, more than this adapter binds",
                values.len()
            );
        }
        let per_lane = per_lane as u32;
        let steps = per_lane.div_ceil(STEP_SYMBOLS);
        let base = [values.len() as u32, lanes as u32, region_words as u32, 0, 0, 0, 0, 0];
        let mut blocks = vec![base];
        // Last symbols first: rANS encodes backwards.
        for step in (0..steps).rev() {
            blocks.push([
                base[0],
                base[1],
                base[2],
                step * STEP_SYMBOLS,
                ((step + 1) * STEP_SYMBOLS).min(per_lane),
                0,
                0,
                0,
            ]);
        }
        let params = params_blocks(gpu, &blocks);
        let values_buf = storage(gpu, "values", bytemuck::cast_slice(values));
        let table_of_buf = storage(gpu, "table_of", table_of);
        let regions = empty(gpu, "regions", region_bytes);
        let book_words = 5 * lanes as u64 + 1;
        let book = empty(gpu, "book", book_words * 4);
        let packed = empty(gpu, "packed", region_bytes);
        let group = Self::bind(
            gpu,
            &self.encode_layout,
            [&params, &values_buf, &table_of_buf, &tables.info, &tables.cdfs, &regions, &book, &packed],
        );
        let groups = workgroups(lanes);
        let chunks = (region_words * 4).div_ceil(PACK_CHUNK) as u32;
        if chunks > MAX_WORKGROUPS {
            bail!("{} symbols in {lanes} lanes: too many per lane for the GPU encoder", values.len());
        }
        let mut plan = vec![(&self.begin_lanes, 0, groups, 1)];
        plan.extend((1..blocks.len()).map(|b| (&self.encode_lanes, b, groups, 1)));
        plan.extend([
            (&self.end_lanes, 0, groups, 1),
            (&self.gather_lengths, 0, 1, 1),
            (&self.pack_lanes, 0, groups, chunks),
        ]);
        Self::run(gpu, &group, &plan);
        let book = read_back(gpu, &book, book_words)?;
        let offsets = &book[4 * lanes..];
        let total = offsets[lanes] as u64;
        let words = read_back(gpu, &packed, total.div_ceil(4))?;
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        Ok((0..lanes).map(|l| bytes[offsets[l] as usize..offsets[l + 1] as usize].to_vec()).collect())
    }

    /// Decodes `table_of.len()` symbols from lanes made by either coder; the
    /// same values, or the same kind of error, as `LatentTable::decode`.
    pub fn decode(&self, gpu: &Gpu, tables: &GpuTables, lanes: &[&[u8]], table_of: &[u32]) -> Result<Vec<i32>> {
        let count = table_of.len();
        check(count, table_of, tables, lanes.len())?;
        let table_of = storage(gpu, "table_of", table_of);
        self.decode_with(gpu, tables, lanes, &table_of, count)
    }

    /// [`Self::decode`] with table indices already on the GPU (each below the
    /// table count, as the scale network's output is).
    pub fn decode_with(
        &self,
        gpu: &Gpu,
        tables: &GpuTables,
        lanes: &[&[u8]],
        table_of: &wgpu::Buffer,
        count: usize,
    ) -> Result<Vec<i32>> {
        self.decode_staged(gpu, tables, lanes, table_of, &[count], |_, _, _| {})
    }

    /// Decodes in stages, symbols `ends[i - 1]..ends[i]` in stage i, each
    /// after `stage(i, values, commands)` has recorded the dispatches that
    /// write those symbols' table indices into `table_of` (below the table
    /// count); they may read the symbols of earlier stages from `values`
    /// (i32, in stream order). Lane states stay on the GPU throughout.
    pub fn decode_staged(
        &self,
        gpu: &Gpu,
        tables: &GpuTables,
        lanes: &[&[u8]],
        table_of: &wgpu::Buffer,
        ends: &[usize],
        mut stage: impl FnMut(usize, &wgpu::Buffer, &mut wgpu::CommandEncoder),
    ) -> Result<Vec<i32>> {
        let count = ends.last().copied().unwrap_or(0);
        if ends.windows(2).any(|e| e[0] > e[1]) {
            bail!("decode stages out of order");
        }
        if !(1..=4096).contains(&lanes.len()) {
            bail!("{} lanes (1 to 4096)", lanes.len());
        }
        // Checked before anything is allocated: wgpu panics on a buffer past
        // the adapter's limits, where the CPU parser would give an error.
        let total: u64 = lanes.iter().map(|l| l.len() as u64).sum();
        let binding = gpu.device.limits().max_storage_buffer_binding_size;
        if total + 4 > binding.min(u32::MAX as u64) || count as u64 * 4 > binding {
            bail!("a segment of {total} bytes and {count} symbols is more than this adapter binds");
        }
        let mut offsets = Vec::with_capacity(lanes.len() + 1);
        let mut bytes = Vec::new();
        for lane in lanes {
            offsets.push(bytes.len() as u32);
            bytes.extend_from_slice(lane);
        }
        offsets.push(bytes.len() as u32);
        bytes.resize(bytes.len().next_multiple_of(4).max(4), 0);
        let base = [count as u32, lanes.len() as u32, 0, 0, 0, 0, 0, 0];
        let mut blocks = vec![base];
        let step = STEP_SYMBOLS as usize * lanes.len();
        // Per stage, the parameter blocks of its dispatches.
        let mut stage_blocks = Vec::with_capacity(ends.len());
        let mut begin = 0;
        for &end in ends {
            let first_block = blocks.len();
            for first in (begin..end).step_by(step.max(1)) {
                blocks.push([base[0], base[1], first as u32, (first + step).min(end) as u32, 0, 0, 0, 0]);
            }
            stage_blocks.push(first_block..blocks.len());
            begin = end;
        }
        let params = params_blocks(gpu, &blocks);
        let bytes_buf = storage(gpu, "lane bytes", bytemuck::cast_slice(&bytes));
        let offsets_buf = storage(gpu, "offsets", &offsets);
        let values = empty(gpu, "values", count as u64 * 4);
        let states = empty(gpu, "states", lanes.len() as u64 * 16);
        let group = Self::bind(
            gpu,
            &self.decode_layout,
            [&params, &bytes_buf, &offsets_buf, table_of, &tables.info, &tables.cdfs, &values, &states],
        );
        let groups = workgroups(lanes.len());
        Self::run(gpu, &group, &[(&self.start_lanes, 0, groups, 1)]);
        for (i, range) in stage_blocks.into_iter().enumerate() {
            let mut commands = gpu.device.create_command_encoder(&Default::default());
            stage(i, &values, &mut commands);
            let plan: Vec<_> = range.map(|b| (&self.decode_lanes, b, groups, 1)).collect();
            Self::record(&mut commands, &group, &plan);
            gpu.queue.submit([commands.finish()]);
        }
        Self::run(gpu, &group, &[(&self.finish_lanes, 0, groups, 1)]);
        let states = read_back(gpu, &states, lanes.len() as u64 * 4)?;
        for (lane, state) in states.chunks_exact(4).enumerate() {
            match state[2] {
                0 => {}
                1 => return Err(RansError::Truncated(lane).into()),
                3 => return Err(RansError::TrailingBytes(lane, (offsets[lane + 1] - state[1]) as usize).into()),
                _ => return Err(RansError::BadFinalState(lane).into()),
            }
        }
        let values = read_back(gpu, &values, count as u64)?;
        Ok(values.into_iter().map(|v| v as i32).collect())
    }
}

fn check(count: usize, table_of: &[u32], tables: &GpuTables, lanes: usize) -> Result<()> {
    if table_of.len() != count {
        bail!("{} table indices for {count} symbols", table_of.len());
    }
    if !(1..=4096).contains(&lanes) {
        bail!("{lanes} lanes (1 to 4096)");
    }
    if count > u32::MAX as usize / 2 {
        bail!("{count} symbols are too many for one GPU stream");
    }
    if let Some(t) = table_of.iter().find(|&&t| t as usize >= tables.count) {
        bail!("table {t} does not exist ({} tables)", tables.count);
    }
    Ok(())
}
