//! The codec: a model package on a device, and the tile coding that the
//! image ([`image`]) and clip ([`video`]) pipelines share.
//!
//! A tile's latent y (`[1, M, yh, yw]`): pad y to a multiple of 4 → z =
//! hyper-analysis → ẑ = round(z), coded with the per-channel z tables →
//! scale levels from ẑ by the integer network, means from ẑ by the float
//! network, both cropped to y's size (and, with a context model, corrected
//! slice by slice and pass by pass) → q = y − μ quantised ([`rdoq`]: the
//! nearest integer, or one step toward zero where that saves enough bits),
//! coded with the level's table → ŷ = q + μ. Only y's own elements are coded: padding y to
//! the hyper stride costs no bits. The transforms run over windows of the
//! whole picture ([`window`]).

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use burn::tensor::ops::PadMode;

use crate::Backend;
use crate::bitstream::{Reader, Writer};
use crate::entropy::tables::LatentTable;
use crate::entropy::{LaneDecoder, LaneEncoder};
use crate::gpu::Gpu;
use crate::gpu::context_net::GpuContextNet;
use crate::gpu::rans::{GpuCoder, GpuTables};
use crate::gpu::scale_net::GpuScaleNet;
use crate::io::RgbImage;
use crate::model::conv2d::floats;
use crate::model::package::{Package, hex};
use crate::model::rate::MAX_QUALITY;
use crate::model::refine;
use crate::model::temporal::{TemporalNet, TemporalPackage};
use crate::model::{Hyperprior, Z_STRIDE, pad_to_z_grid};

pub mod alpha;
mod context;
mod image;
pub mod rdoq;
pub mod video;
pub mod vq;
pub mod window;

pub use image::{Encoded, read_header};

pub use vq::VqCodec;
pub use window::{Planes, Windows};

/// Default tile side: large enough that seams are rare, small enough that a
/// tile's activations stay within a few hundred MB.
pub const DEFAULT_TILE: u32 = 1024;
/// Coded bytes per rANS lane. Each lane ends with a 4-byte flush, so lanes of
/// at least 8 KiB keep it under 0.05 % of the payload; more lanes would only
/// buy more parallel decoding.
const BYTES_PER_LANE: f64 = 8192.0;

/// A model package with its float network instantiated on a device.
pub struct Codec {
    /// The model package the codec was built from.
    pub package: Package,
    net: Hyperprior,
    device: Device,
    backend: Backend,
    /// The quality files are encoded at (see [`Codec::at_quality`]).
    quality: u8,
    /// Encoder effort ([`Codec::with_effort`]) and, above 1, the network on
    /// an autodiff device that the latent search runs through.
    effort: u8,
    refiner: Option<Hyperprior>,
    /// How the transforms cut large images ([`window`]).
    windows: Windows,
    /// The WGSL parse path (rANS lanes, integer scale network) on the wgpu backend.
    gpu: Option<GpuParse>,
    /// The P-frame modules ([`Codec::with_temporal`]).
    temporal: Option<Temporal>,
}

/// The P-frame modules of a codec: the temporal package and its networks.
pub(crate) struct Temporal {
    pub package: TemporalPackage,
    pub net: TemporalNet,
}

/// The latent codec a tile is coded with: the image model's hyperprior, or
/// the temporal prior's (a P-frame's residual, [`crate::model::temporal`]),
/// conditioned on the reference. Both share the integer scale network and
/// context: only the encoder's hyper-analysis, the float means and the
/// tables of ẑ differ.
#[derive(Clone, Copy)]
pub(crate) enum Side<'a> {
    Image,
    Temporal(&'a Condition),
}

/// What the temporal prior conditions a tile on: the reference ŷₜ₋₁ at the
/// tile (`[1, M, yh, yw]`) and the gain at the clip's quality (`[1, M, 1, 1]`).
pub(crate) struct Condition {
    pub reference: Tensor<4>,
    pub gain: Tensor<4>,
}

impl Condition {
    /// The reference padded by edge replication to `(h, w)`, as y is for the hyperprior.
    fn padded(&self, (h, w): (usize, usize)) -> Tensor<4> {
        let [_, _, yh, yw] = self.reference.dims();
        self.reference.clone().pad((0, w - yw, 0, h - yh), PadMode::Edge)
    }
}

/// Everything the WGSL parse path keeps on the GPU for one model.
struct GpuParse {
    gpu: Gpu,
    coder: GpuCoder,
    z_tables: GpuTables,
    scale_tables: GpuTables,
    scale_net: GpuScaleNet,
    /// The level corrections of a context model.
    context_net: Option<GpuContextNet>,
    /// The temporal prior's tables of ẑ, once [`Codec::with_temporal`] gave them.
    temporal_z_tables: Option<GpuTables>,
}

impl GpuParse {
    fn new(package: &Package) -> Result<GpuParse> {
        // The user asked for wgpu: a software adapter (lavapipe) is accepted.
        let gpu = Gpu::new(true)?;
        let parse = GpuParse {
            coder: GpuCoder::new(&gpu),
            z_tables: GpuTables::new(&gpu, &package.z_tables),
            scale_tables: GpuTables::new(&gpu, &package.scale_tables),
            scale_net: GpuScaleNet::new(&gpu, &package.int_scale)?,
            context_net: package.info.config.has_context().then(|| {
                GpuContextNet::new(&gpu, &package.info.config.slices, &package.int_context, package.int_scale.levels)
            }),
            temporal_z_tables: None,
            gpu,
        };
        // Shaders and buffers made above: their errors now, not at first use.
        parse.gpu.check()?;
        Ok(parse)
    }

    /// Table index of every y element, on the GPU.
    fn levels(&self, z: &[i32], zh: usize, zw: usize, yh: usize, yw: usize) -> wgpu::Buffer {
        let z = crate::gpu::rans::storage(&self.gpu, "z", bytemuck::cast_slice(z));
        self.scale_net.levels(&self.gpu, &z, zh, zw, yh, yw)
    }

    fn z_tables_for(&self, inter: bool) -> Result<&GpuTables> {
        if !inter {
            return Ok(&self.z_tables);
        }
        self.temporal_z_tables.as_ref().context("P-frames need the model's temporal prior")
    }

    fn z_table_of(n: usize, plane: usize) -> Vec<u32> {
        (0..n * plane).map(|i| (i / plane) as u32).collect()
    }
}

/// One tile's coded streams, and ŷ (`[1, M, yh, yw]`) as the decoder will
/// reconstruct it.
pub(crate) struct CodedTile {
    pub z_lanes: Vec<Vec<u8>>,
    pub y_lanes: Vec<Vec<u8>>,
    pub y_hat: Tensor<4>,
    /// −log2 p of its symbols under the integer tables.
    pub ideal_bits: f64,
}

impl CodedTile {
    /// Bytes of its lanes.
    pub fn bytes(&self) -> usize {
        self.z_lanes.iter().chain(&self.y_lanes).map(|l| l.len()).sum()
    }

    /// Its z segment, then its y segment.
    pub fn write(&self, writer: &mut Writer) {
        writer.segment(&self.z_lanes);
        writer.segment(&self.y_lanes);
    }
}

impl Codec {
    /// A codec for `package` on `backend` (`Auto` resolved), at the package's
    /// default quality. Errors: weights that do not fit the network; on wgpu, no
    /// adapter or an integer scale network the kernel cannot run.
    pub fn new(package: Package, backend: Backend) -> Result<Self> {
        let backend = backend.resolve();
        let device = backend.device();
        let net = package.network(&device)?;
        let gpu = if backend == Backend::Wgpu { Some(GpuParse::new(&package)?) } else { None };
        let quality = package.info.quality;
        Ok(Self {
            package,
            net,
            device,
            backend,
            gpu,
            quality,
            effort: refine::DEFAULT_EFFORT,
            refiner: None,
            windows: Windows::DEFAULT,
            temporal: None,
        })
    }

    /// Adds the P-frame modules (clips). Errors: a temporal package trained
    /// for another image model.
    pub fn with_temporal(mut self, package: TemporalPackage) -> Result<Self> {
        if !package.fits(&self.package) {
            bail!(
                "temporal package {} was trained for model {} ({}), not {} ({})",
                package.info.name,
                package.info.base_name,
                package.info.base_hash,
                self.package.info.name,
                hex(&self.package.hash)
            );
        }
        let config = &self.package.info.config;
        let net = package.network(config.n, config.m, &self.device)?;
        if let Some(g) = &mut self.gpu {
            g.temporal_z_tables = Some(GpuTables::new(&g.gpu, &package.z_tables));
        }
        self.temporal = Some(Temporal { package, net });
        Ok(self)
    }

    /// The P-frame modules, if given.
    pub(crate) fn temporal(&self) -> Option<&Temporal> {
        self.temporal.as_ref()
    }

    /// The encoder's gain vector at `quality` (`[1, M, 1, 1]`; ones for a
    /// model trained at one λ).
    pub(crate) fn gain(&self, quality: u8) -> Tensor<4> {
        match &self.net.quality {
            Some(gains) => gains.at(quality).0,
            None => Tensor::ones([1, self.package.info.config.m, 1, 1], &self.device),
        }
    }

    fn temporal_or_fail(&self) -> Result<&Temporal> {
        self.temporal.as_ref().context("P-frames need the model's temporal prior")
    }

    /// The integer tables of ẑ: the temporal prior's for an inter tile.
    fn z_tables(&self, inter: bool) -> Result<&[LatentTable]> {
        Ok(if inter { &self.temporal_or_fail()?.package.z_tables } else { &self.package.z_tables })
    }

    /// Encode with `effort` 1 (the default: the analysis transform's latent
    /// as it is) to [`refine::MAX_EFFORT`] (2^effort gradient steps of latent
    /// refinement per tile, [`crate::model::refine`]): smaller files at the
    /// same quality for more encoding time. Decoding is unchanged.
    ///
    /// Errors: an effort outside 1..=9.
    pub fn with_effort(mut self, effort: u8) -> Result<Self> {
        self.effort = refine::checked(effort)?;
        self.refiner = if refine::iterations(effort) > 0 {
            Some(self.package.network(&self.device.clone().autodiff())?.no_grad())
        } else {
            None
        };
        Ok(self)
    }

    /// Encode at `quality`: 0 (smallest files) to [`MAX_QUALITY`] (best
    /// images) with a variable-rate model. A model trained at one λ keeps
    /// its own quality.
    pub fn at_quality(mut self, quality: u8) -> Result<Self> {
        if self.package.info.config.is_variable_rate() {
            if quality > MAX_QUALITY {
                bail!("quality {quality} is outside 0..={MAX_QUALITY}");
            }
            self.quality = quality;
        }
        Ok(self)
    }

    /// The quality files are encoded at, and the λ the model was trained for there.
    pub fn quality(&self) -> (u8, f64) {
        let config = &self.package.info.config;
        let lambda = if config.is_variable_rate() {
            crate::model::rate::lambda_at(&config.lambdas, self.quality)
        } else {
            self.package.info.lambda
        };
        (self.quality, lambda)
    }

    /// The backend this codec runs on (`Auto` already resolved).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Codes one tile's latent y (`[1, M, yh, yw]`) and its hyper latent z
    /// (`[1, N, ⌈yh/4⌉, ⌈yw/4⌉]`; `None`: the analysis's, from y): their
    /// lanes, ŷ as the decoder will have it, and the ideal bits of both.
    pub(crate) fn code_tile(&self, y: Tensor<4>, z: Option<Tensor<4>>) -> Result<CodedTile> {
        self.code_tile_as(y, z, Side::Image)
    }

    /// [`Codec::code_tile`] with the latent codec `side`. `z` is the hyper
    /// latent to code (continuous, rounded here: an image encoder's search
    /// chooses it, `refine`, and y with it); `None` computes it from y, as
    /// the analysis does. y − μ is quantised by [`rdoq`], or, after a
    /// search (z given), rounded to the nearest integer.
    pub(crate) fn code_tile_as(&self, y: Tensor<4>, z: Option<Tensor<4>>, side: Side) -> Result<CodedTile> {
        let [_, m, yh, yw] = y.dims();
        let rdoq = z.is_none();
        let (zh, zw) = (yh.div_ceil(Z_STRIDE), yw.div_ceil(Z_STRIDE));
        let z_hat = match (z, side) {
            (Some(z), _) => z,
            (None, Side::Temporal(c)) => self.temporal_or_fail()?.net.hyper_analysis(
                pad_to_z_grid(y.clone()),
                c.padded((zh * Z_STRIDE, zw * Z_STRIDE)),
                c.gain.clone(),
            ),
            (None, Side::Image) => self.net.hyper_latent(y.clone()),
        }
        .round();
        let z_int: Vec<i32> = floats(z_hat.clone()).iter().map(|&v| v as i32).collect();
        let mut mean = self.means(side, &z_int, zh, zw, yh, yw)?;
        // The symbols in coding order, and their table indices.
        let (q, symbols, levels) = if self.package.info.config.has_context() {
            let fixed = self.fixed_levels(&z_int, zh, zw, yh, yw);
            let (final_mean, q, symbols, levels) = self.quantise_with_context(&y, mean, &fixed, (yh, yw), rdoq);
            mean = final_mean;
            (q, symbols, levels)
        } else {
            let levels = self.levels(&z_int, zh, zw, yh, yw);
            let residual = floats(y - mean.clone());
            let q: Vec<i32> = residual.iter().zip(&levels).map(|(&r, &l)| self.symbol(r, l, rdoq)).collect();
            (q.clone(), q, levels)
        };

        let (z_lanes, z_ideal) = self.code_z(matches!(side, Side::Temporal(_)), &z_int, zh * zw)?;
        let y_ideal: f64 =
            symbols.iter().zip(&levels).map(|(&v, &l)| self.package.scale_tables[l as usize].cost_bits(v)).sum();
        let y_lanes = match &self.gpu {
            Some(g) => {
                let table_of: Vec<u32> = levels.iter().map(|&l| l as u32).collect();
                g.coder.encode(&g.gpu, &g.scale_tables, &symbols, &table_of, lane_count(y_ideal, symbols.len()))?
            }
            None => {
                let mut enc = LaneEncoder::new(lane_count(y_ideal, symbols.len()));
                for (&v, &level) in symbols.iter().zip(&levels) {
                    let lane = enc.begin_symbol();
                    self.package.scale_tables[level as usize].encode(&mut enc, lane, v);
                }
                enc.finish()
            }
        };
        let y_hat = self.ints_tensor(&q, [1, m, yh, yw]) + mean;
        Ok(CodedTile { z_lanes, y_lanes, y_hat, ideal_bits: z_ideal + y_ideal })
    }

    /// The symbol for the residual `r` = y − μ under the table of `level`:
    /// [`rdoq::quantise`], or (`rdoq` false) the nearest integer.
    fn symbol(&self, r: f32, level: u8, rdoq: bool) -> i32 {
        if rdoq { rdoq::quantise(r, &self.package.scale_tables[level as usize]) } else { r.round() as i32 }
    }

    fn code_z(&self, inter: bool, z: &[i32], plane: usize) -> Result<(Vec<Vec<u8>>, f64)> {
        let tables = self.z_tables(inter)?;
        let ideal: f64 = z.iter().enumerate().map(|(i, &v)| tables[i / plane].cost_bits(v)).sum();
        if let Some(g) = &self.gpu {
            let table_of = GpuParse::z_table_of(z.len() / plane, plane);
            let gpu_tables = g.z_tables_for(inter)?;
            return Ok((g.coder.encode(&g.gpu, gpu_tables, z, &table_of, lane_count(ideal, z.len()))?, ideal));
        }
        let mut enc = LaneEncoder::new(lane_count(ideal, z.len()));
        for (i, &v) in z.iter().enumerate() {
            let lane = enc.begin_symbol();
            tables[i / plane].encode(&mut enc, lane, v);
        }
        Ok((enc.finish(), ideal))
    }

    /// Scale level of each y element (integer arithmetic only), cropped to y.
    fn levels(&self, z: &[i32], zh: usize, zw: usize, yh: usize, yw: usize) -> Vec<u8> {
        crop_planes(&self.package.int_scale.levels(z, zh, zw), (zh * Z_STRIDE, zw * Z_STRIDE), (yh, yw))
    }

    /// The hyperprior's fixed-point level of each y element, cropped to y.
    fn fixed_levels(&self, z: &[i32], zh: usize, zw: usize, yh: usize, yw: usize) -> Vec<i32> {
        crop_planes(&self.package.int_scale.fixed_levels(z, zh, zw), (zh * Z_STRIDE, zw * Z_STRIDE), (yh, yw))
    }

    fn means(&self, side: Side, z: &[i32], zh: usize, zw: usize, yh: usize, yw: usize) -> Result<Tensor<4>> {
        let z = self.ints_tensor(z, [1, z.len() / (zh * zw), zh, zw]);
        let mean = match side {
            Side::Temporal(c) => {
                self.temporal_or_fail()?.net.hyper_mean(z, c.padded((zh * Z_STRIDE, zw * Z_STRIDE)), c.gain.clone())
            }
            Side::Image => self.net.hyper_mean(z),
        };
        Ok(mean.slice([0..1, 0..self.package.info.config.m, 0..yh, 0..yw]))
    }

    /// The symbols as a float tensor of `shape`.
    fn ints_tensor(&self, q: &[i32], shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(q.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape), &self.device)
    }
}

impl Codec {
    /// Parses one tile's segments and reconstructs its ŷ = q + μ (`[1, M, yh, yw]`).
    pub(crate) fn reconstruct_tile(&self, reader: &mut Reader, yh: usize, yw: usize, side: Side) -> Result<Tensor<4>> {
        let config = &self.package.info.config;
        let (zh, zw) = (yh.div_ceil(Z_STRIDE), yw.div_ceil(Z_STRIDE));
        let (z, q) = self.parse_tile(reader, yh, yw, matches!(side, Side::Temporal(_)))?;
        let q = self.ints_tensor(&q, [1, config.m, yh, yw]);
        let mut mean = self.means(side, &z, zh, zw, yh, yw)?;
        if config.has_context() {
            mean = self.net.context_mean_passes(mean, |r, _| q.clone().narrow(1, r.start, r.len()));
        }
        Ok(q + mean)
    }

    /// y of a whole picture ([`window::analysis`] at this codec's quality).
    pub(crate) fn analyse(&self, img: &RgbImage, tick: &dyn Fn()) -> Planes {
        window::analysis(&self.net, self.package.info.config.m, img, self.quality, self.windows, &self.device, tick)
    }

    /// The `width`×`height` picture the synthesis makes of ŷ at `quality`.
    pub(crate) fn synthesise(&self, y_hat: &Planes, quality: u8, size: (usize, usize), tick: &dyn Fn()) -> RgbImage {
        window::synthesis(&self.net, y_hat, quality, size, self.windows, &self.device, tick)
    }

    /// The transforms over windows `windows` instead of [`Windows::DEFAULT`]
    /// (to measure what the windows cost; the file format is unchanged).
    pub fn with_windows(mut self, windows: Windows) -> Self {
        self.windows = windows;
        self
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    /// The header's model fields must name this codec's package.
    /// Errors: `hash` is not this codec's package's (the message names both models).
    pub fn check_model(&self, name: &str, hash: &[u8; 8]) -> Result<()> {
        if *hash != self.package.hash {
            bail!(
                "file was made with model {name} ({}), not {} ({})",
                hex(hash),
                self.package.info.name,
                hex(&self.package.hash)
            );
        }
        Ok(())
    }

    /// Qualities a file for this model may declare.
    pub(crate) fn quality_range(&self) -> std::ops::RangeInclusive<u8> {
        if self.package.info.config.is_variable_rate() {
            0..=MAX_QUALITY
        } else {
            let q = self.package.info.quality;
            q..=q
        }
    }

    pub(crate) fn parse_tile(
        &self,
        reader: &mut Reader,
        yh: usize,
        yw: usize,
        inter: bool,
    ) -> Result<(Vec<i32>, Vec<i32>)> {
        let config = &self.package.info.config;
        let (zh, zw) = (yh.div_ceil(Z_STRIDE), yw.div_ceil(Z_STRIDE));
        let z_segment = reader.segment()?;
        let y_segment = reader.segment()?;
        let z_tables = self.z_tables(inter)?;
        if let Some(g) = &self.gpu {
            let z_table_of = GpuParse::z_table_of(config.n, zh * zw);
            let z = g.coder.decode(&g.gpu, g.z_tables_for(inter)?, &z_segment.lanes, &z_table_of)?;
            if let Some(context) = &g.context_net {
                let z_buf = crate::gpu::rans::storage(&g.gpu, "z", bytemuck::cast_slice(&z));
                let hyper = g.scale_net.fixed_levels(&g.gpu, &z_buf, zh, zw, yh, yw);
                let q = context.parse(&g.gpu, &g.coder, &g.scale_tables, &y_segment.lanes, &hyper, (yh, yw))?;
                return Ok((z, q));
            }
            // The table indices of y never leave the GPU.
            let levels = g.levels(&z, zh, zw, yh, yw);
            let q = g.coder.decode_with(&g.gpu, &g.scale_tables, &y_segment.lanes, &levels, config.m * yh * yw)?;
            return Ok((z, q));
        }
        let mut dec = LaneDecoder::new(z_segment.lanes)?;
        let plane = zh * zw;
        let mut z = Vec::with_capacity(config.n * plane);
        for i in 0..config.n * plane {
            let lane = dec.begin_symbol();
            z.push(z_tables[i / plane].decode(&mut dec, lane)?);
        }
        dec.finish()?;
        let mut dec = LaneDecoder::new(y_segment.lanes)?;
        if config.has_context() {
            let q = self.context_passes(&self.fixed_levels(&z, zh, zw, yh, yw), (yh, yw), |elements, levels| {
                let mut pass = Vec::with_capacity(elements.len());
                for &level in levels {
                    let lane = dec.begin_symbol();
                    pass.push(self.package.scale_tables[level as usize].decode(&mut dec, lane)?);
                }
                Ok(pass)
            })?;
            dec.finish()?;
            return Ok((z, q));
        }
        let levels = self.levels(&z, zh, zw, yh, yw);
        let mut q = Vec::with_capacity(levels.len());
        for &level in &levels {
            let lane = dec.begin_symbol();
            q.push(self.package.scale_tables[level as usize].decode(&mut dec, lane)?);
        }
        dec.finish()?;
        Ok((z, q))
    }
}

/// `[c][fh][fw]` planes cropped to `[c][h][w]`.
fn crop_planes<T: Copy>(full: &[T], (fh, fw): (usize, usize), (h, w): (usize, usize)) -> Vec<T> {
    let channels = full.len() / (fh * fw);
    let mut out = Vec::with_capacity(channels * h * w);
    for c in 0..channels {
        for y in 0..h {
            out.extend_from_slice(&full[(c * fh + y) * fw..][..w]);
        }
    }
    out
}

/// The most symbols one lane carries: the WGSL encoder packs each lane's
/// scratch (at most 8 bytes a symbol) in 1 KiB chunks, one workgroup row
/// each, and a dispatch has at most 65,535 rows; 2^22 symbols (32 MiB) stay
/// at half of that. Only huge, nearly free streams reach it (a flat image
/// coded in tiles of 8192 pixels or more).
const MAX_SYMBOLS_PER_LANE: usize = 1 << 22;

/// Lanes for a stream of `symbols` whose ideal size is `bits` (the encoder's
/// choice: the lane table in the file tells the decoder): one per 8 KiB of
/// coded data up to 64, and at least one per [`MAX_SYMBOLS_PER_LANE`].
fn lane_count(bits: f64, symbols: usize) -> usize {
    ((bits / 8.0 / BYTES_PER_LANE).clamp(1.0, 64.0) as usize).max(symbols.div_ceil(MAX_SYMBOLS_PER_LANE))
}

/// The image as a `[1, 3, H, W]` tensor in [0, 1], padded by edge
/// replication to a multiple of `align`.
pub fn image_tensor(img: &RgbImage, align: usize, device: &Device) -> Tensor<4> {
    let (ph, pw) = (img.height.div_ceil(align) * align, img.width.div_ceil(align) * align);
    window::pixels_tensor(img, (0, 0), (ph, pw), device)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lanes_follow_the_coded_size_and_never_carry_more_than_the_gpu_packs() {
        use super::{MAX_SYMBOLS_PER_LANE, lane_count};
        assert_eq!(lane_count(0.0, 10), 1);
        assert_eq!(lane_count(8.0 * 8192.0 * 5.5, 10), 5);
        assert_eq!(lane_count(1e12, 10), 64);
        // A nearly free stream of a huge tile: as many lanes as its symbols need.
        assert_eq!(lane_count(100.0, 3 * MAX_SYMBOLS_PER_LANE + 1), 4);
        assert_eq!(lane_count(1e12, 100 * MAX_SYMBOLS_PER_LANE), 100);
    }
}
