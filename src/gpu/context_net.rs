//! Host side of the context model's parse on the GPU
//! (`shaders/int_context_net.wgsl`): per slice and checkerboard pass, the
//! integer level correction computes the table index of each symbol of the
//! pass from the symbols decoded before it, and the rANS decoder
//! ([`GpuCoder::decode_staged`]) decodes the pass. The symbols never leave
//! the GPU between passes; the tables are those of
//! [`crate::model::integer::IntContextNet::levels`], bit for bit.

use anyhow::Result;
use wgpu::util::DeviceExt;

use super::Gpu;
use super::rans::{GpuCoder, GpuTables, empty, storage, workgroups_2d};
use super::scale_net::upload_layer;
use crate::model::context::{coding_passes, slice_ranges};
use crate::model::integer::IntContextNet;

/// The context model's integer level corrections in WGSL, per slice, with
/// their weights uploaded (the GPU side of
/// [`crate::model::integer::IntContextNet`]).
pub struct GpuContextNet {
    slices: Vec<usize>,
    nets: Vec<IntContextNet>,
    /// Per slice, (weights, bias) of the hidden and the output layer.
    weights: Vec<[(wgpu::Buffer, wgpu::Buffer); 2]>,
    levels: u32,
    layout: wgpu::BindGroupLayout,
    input: wgpu::ComputePipeline,
    hidden: wgpu::ComputePipeline,
    output: wgpu::ComputePipeline,
}

/// Where each y element `[m][h][w]` sits in the coding order, and the end
/// of each pass in that order.
fn coding_order(slices: &[usize], h: usize, w: usize) -> (Vec<u32>, Vec<usize>) {
    let passes = coding_passes(slices, h, w);
    let mut position_of = vec![0u32; passes.iter().map(Vec::len).sum()];
    let mut ends = Vec::with_capacity(passes.len());
    let mut next = 0u32;
    for pass in passes {
        for element in pass {
            position_of[element] = next;
            next += 1;
        }
        ends.push(next as usize);
    }
    (position_of, ends)
}

impl GpuContextNet {
    /// Uploads the weights of `nets` (one per slice of `slices` channels) and
    /// compiles the kernels; `levels` is the number of scale levels.
    pub fn new(gpu: &Gpu, slices: &[usize], nets: &[IntContextNet], levels: u32) -> GpuContextNet {
        let weights = nets.iter().map(|n| [upload_layer(gpu, &n.hidden), upload_layer(gpu, &n.output)]).collect();
        let entry = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        };
        let read = wgpu::BufferBindingType::Storage { read_only: true };
        let mut entries = vec![entry(0, wgpu::BufferBindingType::Uniform)];
        entries.extend((1..7).map(|b| entry(b, read)));
        entries.push(entry(7, wgpu::BufferBindingType::Storage { read_only: false }));
        let layout = gpu.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("int context net"),
            entries: &entries,
        });
        let source =
            concat!(include_str!("../../shaders/int_context_net.wgsl"), include_str!("../../shaders/int_conv.wgsl"));
        let [input, hidden, output] =
            gpu.pipelines("int_context_net", source, &layout, ["context_input", "context_hidden", "context_output"]);
        GpuContextNet { slices: slices.to_vec(), nets: nets.to_vec(), weights, levels, input, hidden, output, layout }
    }

    /// Decodes y's symbols from `lanes`, `[m][h][w]`, given the hyperprior's
    /// fixed-point levels `hyper` (i32 `[m][h][w]`, on the GPU).
    pub fn parse(
        &self,
        gpu: &Gpu,
        coder: &GpuCoder,
        tables: &GpuTables,
        lanes: &[&[u8]],
        hyper: &wgpu::Buffer,
        (h, w): (usize, usize),
    ) -> Result<Vec<i32>> {
        let plane = h * w;
        let (position_of, ends) = coding_order(&self.slices, h, w);
        let positions = storage(gpu, "position_of", &position_of);
        let table_of = empty(gpu, "table_of", position_of.len() as u64 * 4);
        let widest = |f: fn(&IntContextNet) -> usize| self.nets.iter().map(f).max().unwrap_or(1) * plane;
        let input = empty(gpu, "context input", widest(|n| n.hidden.cin) as u64 * 4);
        let hidden = empty(gpu, "context hidden", widest(|n| n.hidden.cout) as u64 * 4);
        let ranges = slice_ranges(&self.slices);
        let in_order = coder.decode_staged(gpu, tables, lanes, &table_of, &ends, |stage, values, commands| {
            let (k, pass) = (stage / 2, stage as u32 % 2);
            let (net, [(hw, hb), (ow, ob)]) = (&self.nets[k], &self.weights[k]);
            let r = &ranges[k];
            // (pipeline, weights, bias, input, output, cin, cout, shift)
            let steps = [
                (&self.input, hw, hb, &input, &input, net.hidden.cin, net.hidden.cin, 0),
                (&self.hidden, hw, hb, &input, &hidden, net.hidden.cin, net.hidden.cout, net.hidden.shift),
                (&self.output, ow, ob, &hidden, &table_of, net.output.cin, net.output.cout, net.output.shift),
            ];
            for (pipeline, weight, bias, from, to, cin, cout, shift) in steps {
                let params: [u32; 12] = [
                    cin as u32,
                    cout as u32,
                    h as u32,
                    w as u32,
                    shift,
                    r.start as u32,
                    r.len() as u32,
                    pass,
                    self.levels,
                    0,
                    0,
                    0,
                ];
                let params = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("context params"),
                    contents: bytemuck::cast_slice(&params),
                    usage: wgpu::BufferUsages::UNIFORM,
                });
                // The input kernel writes `input` (bound as `output`): bind a
                // stand-in where it would also be read.
                let from = if std::ptr::eq(from, to) { &hidden } else { from };
                let buffers = [&params, weight, bias, from, hyper, &positions, values, to];
                let entries: Vec<wgpu::BindGroupEntry> = buffers
                    .iter()
                    .enumerate()
                    .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
                    .collect();
                let group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("int context net"),
                    layout: &self.layout,
                    entries: &entries,
                });
                let (x, y) = workgroups_2d((cout * plane) as u32);
                let mut compute = commands.begin_compute_pass(&Default::default());
                compute.set_pipeline(pipeline);
                compute.set_bind_group(0, &group, &[]);
                compute.dispatch_workgroups(x, y, 1);
            }
        })?;
        Ok(position_of.iter().map(|&i| in_order[i as usize]).collect())
    }
}
