//! Host side of the integer scale network in WGSL (`shaders/int_scale_net.wgsl`):
//! the same table indices as [`crate::model::integer::IntScaleNet::levels`],
//! computed where the decoded ẑ already is.

use anyhow::{Result, bail};
use wgpu::util::DeviceExt;

use super::Gpu;
use super::rans::{read_back, storage, workgroups_2d};
use crate::model::integer::{IntConv, IntScaleNet};

/// An integer layer's weights and biases as i32 storage buffers.
pub(crate) fn upload_layer(gpu: &Gpu, layer: &IntConv) -> (wgpu::Buffer, wgpu::Buffer) {
    let w: Vec<u32> = layer.weight.iter().map(|&v| v as i32 as u32).collect();
    let b: Vec<u32> = layer.bias.iter().map(|&v| v as u32).collect();
    (storage(gpu, "int weights", &w), storage(gpu, "int bias", &b))
}

/// The integer scale network ([`IntScaleNet`]) in WGSL, with its weights
/// uploaded: table indices from ẑ on the GPU.
pub struct GpuScaleNet {
    net: IntScaleNet,
    weights: Vec<(wgpu::Buffer, wgpu::Buffer)>,
    layout: wgpu::BindGroupLayout,
    prepare: wgpu::ComputePipeline,
    conv: wgpu::ComputePipeline,
    crop: wgpu::ComputePipeline,
}

const PARAMS_STRIDE: usize = 256;

impl GpuScaleNet {
    /// Uploads the network's weights and compiles its kernels. Errors: a
    /// network of other than 3 layers.
    pub fn new(gpu: &Gpu, net: &IntScaleNet) -> Result<GpuScaleNet> {
        if net.layers.len() != 3 {
            bail!("the integer scale network has {} layers, the GPU kernel expects 3", net.layers.len());
        }
        let weights = net.layers.iter().map(|l| upload_layer(gpu, l)).collect();
        let entry = |binding: u32, ty: wgpu::BufferBindingType, dynamic: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: dynamic,
                min_binding_size: if dynamic { std::num::NonZeroU64::new(32) } else { None },
            },
            count: None,
        };
        let read = wgpu::BufferBindingType::Storage { read_only: true };
        let layout = gpu.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("int scale net"),
            entries: &[
                entry(0, wgpu::BufferBindingType::Uniform, true),
                entry(1, read, false),
                entry(2, read, false),
                entry(3, read, false),
                entry(4, wgpu::BufferBindingType::Storage { read_only: false }, false),
            ],
        });
        let source =
            concat!(include_str!("../../shaders/int_scale_net.wgsl"), include_str!("../../shaders/int_conv.wgsl"));
        let [prepare, conv, crop] = gpu.pipelines("int_scale_net", source, &layout, ["prepare", "conv", "crop"]);
        Ok(GpuScaleNet { net: net.clone(), weights, prepare, conv, crop, layout })
    }

    /// Table index (as u32) of every y element, `[m][yh][yw]`, from ẑ
    /// `[n][h][w]` in `z` (i32): the `[m][4h][4w]` output cropped to y's size
    /// and left on the GPU for the y decoder.
    pub fn levels(&self, gpu: &Gpu, z: &wgpu::Buffer, h: usize, w: usize, yh: usize, yw: usize) -> wgpu::Buffer {
        self.run(gpu, z, (h, w), (yh, yw), 1)
    }

    /// The levels before rounding (i32, `LEVEL_FRAC` fractional bits), as
    /// [`IntScaleNet::fixed_levels`], cropped to y: what a context model adds
    /// its corrections to.
    pub fn fixed_levels(&self, gpu: &Gpu, z: &wgpu::Buffer, h: usize, w: usize, yh: usize, yw: usize) -> wgpu::Buffer {
        self.run(gpu, z, (h, w), (yh, yw), 2)
    }

    /// `last`: how the last layer writes, 1 table indices, 2 fixed-point levels.
    fn run(
        &self,
        gpu: &Gpu,
        z: &wgpu::Buffer,
        (h, w): (usize, usize),
        (yh, yw): (usize, usize),
        last: u32,
    ) -> wgpu::Buffer {
        let layers = &self.net.layers;
        let (h, w) = (h as u32, w as u32);
        let m = layers[2].cout as u32;
        // (cin, cout, h, w, shift, last, levels) of: prepare, conv 1, conv 2, conv 3, crop.
        let blocks: [[u32; 8]; 5] = [
            [layers[0].cin as u32, 0, h, w, self.net.input_frac, 0, 0, 0],
            [layers[0].cin as u32, layers[0].cout as u32, h, w, layers[0].shift, 0, 0, 0],
            [layers[1].cin as u32, layers[1].cout as u32, 2 * h, 2 * w, layers[1].shift, 0, 0, 0],
            [layers[2].cin as u32, layers[2].cout as u32, 4 * h, 4 * w, layers[2].shift, last, self.net.levels, 0],
            [m, 4 * w, yh as u32, yw as u32, 4 * h, 0, 0, 0],
        ];
        let mut bytes = vec![0u8; blocks.len() * PARAMS_STRIDE];
        for (i, b) in blocks.iter().enumerate() {
            bytes[i * PARAMS_STRIDE..i * PARAMS_STRIDE + 32].copy_from_slice(bytemuck::cast_slice(b));
        }
        let params = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("int params"),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let activation = |elements: u32| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("int activation"),
                size: (elements as u64 * 4).max(4),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        let plane = h * w;
        let a0 = activation(layers[0].cin as u32 * plane);
        let a1 = activation(layers[0].cout as u32 * plane);
        let a2 = activation(layers[1].cout as u32 * 4 * plane);
        let full = activation(m * 16 * plane);
        let out = activation(m * (yh * yw) as u32);
        let bind = |weights: &wgpu::Buffer, bias: &wgpu::Buffer, input: &wgpu::Buffer, output: &wgpu::Buffer| {
            gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("int scale net"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &params,
                            offset: 0,
                            size: std::num::NonZeroU64::new(32),
                        }),
                    },
                    wgpu::BindGroupEntry { binding: 1, resource: weights.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 2, resource: bias.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 3, resource: input.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 4, resource: output.as_entire_binding() },
                ],
            })
        };
        let (w0, b0) = &self.weights[0];
        let (w1, b1) = &self.weights[1];
        let (w2, b2) = &self.weights[2];
        let steps = [
            (&self.prepare, bind(w0, b0, z, &a0), layers[0].cin as u32 * plane),
            (&self.conv, bind(w0, b0, &a0, &a1), layers[0].cout as u32 * plane),
            (&self.conv, bind(w1, b1, &a1, &a2), layers[1].cout as u32 * 4 * plane),
            (&self.conv, bind(w2, b2, &a2, &full), m * 16 * plane),
            (&self.crop, bind(w2, b2, &full, &out), m * (yh * yw) as u32),
        ];
        let mut commands = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = commands.begin_compute_pass(&Default::default());
            for (i, (pipeline, group, elements)) in steps.iter().enumerate() {
                let (x, y) = workgroups_2d(*elements);
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, group, &[(i * PARAMS_STRIDE) as u32]);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
        gpu.queue.submit([commands.finish()]);
        out
    }

    /// [`Self::levels`] (uncropped) from host data, read back, for tests.
    pub fn levels_from_host(&self, gpu: &Gpu, z: &[i32], h: usize, w: usize) -> Result<Vec<u8>> {
        let z_buf = storage(gpu, "z", bytemuck::cast_slice(z));
        let out = self.levels(gpu, &z_buf, h, w, 4 * h, 4 * w);
        let count = self.net.layers[2].cout * 16 * h * w;
        Ok(read_back(gpu, &out, count as u64)?.into_iter().map(|v| v as u8).collect())
    }
}
