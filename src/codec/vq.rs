//! The VQ pipeline (issue 20): an image as codebook indices, one per 16×16
//! block, in the `.livc` image container (format version 3, kind
//! [`Kind::Vq`]), over the same tiles, windows and alpha plane as the
//! scalar pipeline ([`super::image`]).
//!
//! The rate level ([`LEVELS`]) sets the codebook size K and the coded
//! resolution: the picture is resampled (Lanczos 3) to 1/1 … 1/2 of its size
//! first, and the decoder resamples its output back; tiles cut the coded
//! picture. Per tile: y (the image model's analysis, at the VQ package's
//! quality, `[1, M, yh, yw]`) → the nearest of the first K codewords at every
//! position (float, encoder only) → the index map coded by the
//! [`IndexPrior`] in three rANS segments (anchors; the others' groups; their
//! ranks). The decoder parses the indices (integer tables chosen from
//! integers: the same on every backend), looks the codewords up and runs the
//! fine-tuned synthesis over windows.

use anyhow::{Context, Result, bail};
use burn::prelude::*;

use super::image::{picture_header, progress_bar};
use super::{Codec, Encoded, Planes, alpha, lane_count, window};
use crate::Backend;
use crate::bitstream::{self, Header, Kind, Reader, Writer};
use crate::entropy::{LaneDecoder, LaneEncoder};
use crate::gpu::rans::GpuTables;
use crate::io::{Picture, RgbImage};
use crate::model::Y_STRIDE;
use crate::model::package::{Package, hex};
use crate::model::vq::{
    ANCHOR_TABLE, GROUPS, IndexPrior, LEVELS, VqPackage, checkerboard, coded_size, context_table, member_table,
};

/// A VQ package on a device: the image model's analysis, the package's
/// synthesis and codebook, and its index priors.
pub struct VqCodec {
    codec: Codec,
    /// The VQ package: codebook, index priors and fine-tuned synthesis.
    pub package: VqPackage,
    /// The codebook, `K_max × M`, on the codec's device (for the encoder's search).
    codebook: Tensor<2>,
    /// The rate level files are encoded at (an index into [`LEVELS`]).
    level: u8,
    /// Per codebook size of the package, the prior's tables on the GPU (wgpu backend only).
    gpu_tables: Vec<GpuTables>,
}

impl VqCodec {
    /// Errors: `vq` was not made for `base`; no wgpu adapter (wgpu backend).
    pub fn new(vq: VqPackage, base: &Package, backend: Backend) -> Result<Self> {
        let codec = Codec::new(vq.network_package(base)?, backend)?.at_quality(vq.info.quality)?;
        let gpu_tables = match &codec.gpu {
            Some(g) => vq.priors.iter().map(|p| GpuTables::new(&g.gpu, &p.tables)).collect(),
            None => Vec::new(),
        };
        let k_max = *vq.info.sizes.last().unwrap();
        let codebook = Tensor::from_data(TensorData::new(vq.codebook.clone(), [k_max, vq.m]), codec.device());
        let level = VqPackage::level_for_quality(50);
        Ok(Self { codec, package: vq, codebook, level, gpu_tables })
    }

    /// Encode at quality `q` (0..=100), spread evenly over the codebook sizes.
    pub fn at_quality(mut self, q: u8) -> Result<Self> {
        if q > crate::model::rate::MAX_QUALITY {
            bail!("quality {q} is outside 0..={}", crate::model::rate::MAX_QUALITY);
        }
        self.level = VqPackage::level_for_quality(q);
        Ok(self)
    }

    /// The rate level, its codebook size K and the factor (in quarters) it
    /// downscales the picture by ([`LEVELS`]).
    pub fn level(&self) -> (u8, usize, u32) {
        let (k, quarters) = LEVELS[self.level as usize];
        (self.level, k, quarters)
    }

    /// The backend this codec runs on (`Auto` already resolved).
    pub fn backend(&self) -> Backend {
        self.codec.backend()
    }

    /// Encodes an RGB image as codebook indices.
    pub fn encode_image(&self, img: &RgbImage, tile: u32, progress: bool) -> Result<Encoded> {
        self.encode(img, None, tile, progress, false)
    }

    /// Encodes a picture: RGB as codebook indices, alpha (if any) losslessly.
    pub fn encode_picture(&self, picture: &Picture, tile: u32, progress: bool) -> Result<Encoded> {
        self.encode(&picture.rgb, picture.alpha.as_deref(), tile, progress, false)
    }

    /// Encodes and also runs the decoder's synthesis, to report quality.
    pub fn encode_image_reconstructed(&self, img: &RgbImage, tile: u32, progress: bool) -> Result<Encoded> {
        self.encode(img, None, tile, progress, true)
    }

    fn encode(
        &self,
        img: &RgbImage,
        alpha_plane: Option<&[u8]>,
        tile: u32,
        progress: bool,
        reconstruct: bool,
    ) -> Result<Encoded> {
        let (w, h) = (img.width as u32, img.height as u32);
        let model = (self.package.info.name.as_str(), self.package.hash);
        let header = picture_header(img, model, (Kind::Vq, self.level), tile, self.backend(), alpha_plane.is_some())?;
        let (_, k, quarters) = self.level();
        let (cw, ch) = coded_size(img.width, img.height, quarters);
        let coded = crate::io::resize_lanczos(img, cw, ch);
        let tiles: Vec<_> = bitstream::tiles(cw as u32, ch as u32, tile).collect();
        let mut writer = Writer::new(&header);
        let windows = window::window_count(cw, ch, self.codec.windows);
        let bar = progress_bar(tiles.len() + windows * (1 + reconstruct as usize), progress, "encoding");
        let tick = || bar.inc(1);
        let m = self.package.m;
        let y = self.codec.analyse(&coded, &tick);
        let mut y_hat = reconstruct.then(|| Planes::zeros(m, y.height, y.width));
        let (mut ideal_bits, mut lane_bits) = (0.0, 0.0);
        for (x0, y0, tw, th) in tiles {
            let at = (y0 as usize / Y_STRIDE, x0 as usize / Y_STRIDE);
            let size = ((th as usize).div_ceil(Y_STRIDE), (tw as usize).div_ceil(Y_STRIDE));
            let idx = self.nearest(y.window(at, size, self.codec.device()), k);
            let (segments, bits) = self.code_indices(&idx, size, k)?;
            ideal_bits += bits;
            for s in &segments {
                lane_bits += s.iter().map(|l| l.len()).sum::<usize>() as f64 * 8.0;
                writer.segment(s);
            }
            if let Some(y_hat) = &mut y_hat {
                self.paste_codewords(y_hat, &idx, at, size);
            }
            tick();
        }
        let alpha_bytes = alpha::write(&mut writer, alpha_plane, w, h)?;
        let reconstruction = y_hat.map(|y_hat| self.synthesise(&y_hat, (cw, ch), (img.width, img.height), &tick));
        bar.finish_and_clear();
        Ok(Encoded { bytes: writer.finish(), reconstruction, ideal_bits, lane_bits, alpha_bytes })
    }

    /// The nearest of the first `k` codewords to every position of y
    /// (`[1, M, h, w]`), raster order.
    fn nearest(&self, y: Tensor<4>, k: usize) -> Vec<u32> {
        let [_, m, h, w] = y.dims();
        let v = y.reshape([m, h * w]).transpose();
        let c = self.codebook.clone().narrow(0, 0, k);
        let norms = c.clone().powi_scalar(2).sum_dim(1).reshape([1, k]);
        let d = norms - v.matmul(c.transpose()) * 2.0;
        d.argmin(1).into_data().iter::<i64>().map(|i| i as u32).collect()
    }

    /// Writes the codewords of an `h`×`w` index map into `planes` at `at`.
    fn paste_codewords(&self, planes: &mut Planes, idx: &[u32], at: (usize, usize), (h, w): (usize, usize)) {
        let m = self.package.m;
        for c in 0..m {
            for i in 0..h {
                let row = (c * planes.height + at.0 + i) * planes.width + at.1;
                for j in 0..w {
                    planes.data[row + j] = self.package.codebook[idx[i * w + j] as usize * m + c];
                }
            }
        }
    }

    /// The picture of ŷ at the coded size `coded`, resampled to `size`.
    fn synthesise(&self, y_hat: &Planes, coded: (usize, usize), size: (usize, usize), tick: &dyn Fn()) -> RgbImage {
        let picture = self.codec.synthesise(y_hat, self.package.info.quality, coded, tick);
        crate::io::resize_lanczos(&picture, size.0, size.1)
    }

    /// The prior's tables on the GPU for codebook size `k`.
    fn gpu_tables(&self, k: usize) -> &GpuTables {
        &self.gpu_tables[self.package.info.sizes.iter().position(|&s| s == k).expect("a size of the package")]
    }

    /// The three segments of an `h`×`w` index map with codebook size `k`,
    /// and their ideal bits.
    fn code_indices(&self, idx: &[u32], (h, w): (usize, usize), k: usize) -> Result<(Vec<Vec<Vec<u8>>>, f64)> {
        let prior = self.package.prior(k);
        let (anchors, others) = checkerboard(h, w);
        let passes: [(Vec<i32>, Vec<u32>); 3] = [
            (anchors.iter().map(|&p| idx[p] as i32).collect(), vec![ANCHOR_TABLE; anchors.len()]),
            (
                others.iter().map(|&p| prior.group[idx[p] as usize] as i32).collect(),
                others.iter().map(|&p| context_table(prior.context(idx, (h, w), (p / w, p % w)))).collect(),
            ),
            (
                others.iter().map(|&p| prior.rank[idx[p] as usize] as i32).collect(),
                others.iter().map(|&p| member_table(prior.group[idx[p] as usize])).collect(),
            ),
        ];
        let mut bits = 0.0;
        let mut segments = Vec::new();
        for (symbols, table_of) in passes {
            let ideal: f64 = symbols.iter().zip(&table_of).map(|(&s, &t)| prior.tables[t as usize].cost_bits(s)).sum();
            bits += ideal;
            segments.push(match (&self.codec.gpu, symbols.is_empty()) {
                (Some(g), false) => {
                    g.coder.encode(&g.gpu, self.gpu_tables(k), &symbols, &table_of, lane_count(ideal, symbols.len()))?
                }
                _ => {
                    let mut enc = LaneEncoder::new(lane_count(ideal, symbols.len()));
                    for (&s, &t) in symbols.iter().zip(&table_of) {
                        let lane = enc.begin_symbol();
                        prior.tables[t as usize].encode(&mut enc, lane, s);
                    }
                    enc.finish()
                }
            });
        }
        Ok((segments, bits))
    }

    /// Parses one tile's index map (`h`×`w`, raster order) of codebook size `k`.
    /// Errors: a corrupt or truncated segment, an index outside the codebook.
    fn parse_indices(&self, reader: &mut Reader, (h, w): (usize, usize), k: usize) -> Result<Vec<u32>> {
        let prior = self.package.prior(k);
        let (anchors, others) = checkerboard(h, w);
        let mut idx = vec![0u32; h * w];
        let values = self.decode_pass(reader, prior, &vec![ANCHOR_TABLE; anchors.len()])?;
        for (&p, &v) in anchors.iter().zip(&values) {
            idx[p] = u32::try_from(v).ok().filter(|&v| (v as usize) < prior.size).context(CORRUPT)?;
        }
        let contexts: Vec<u32> =
            others.iter().map(|&p| context_table(prior.context(&idx, (h, w), (p / w, p % w)))).collect();
        let groups = self.decode_pass(reader, prior, &contexts)?;
        if groups.iter().any(|g| !(0..GROUPS as i32).contains(g)) {
            bail!(CORRUPT);
        }
        let member_tables: Vec<u32> = groups.iter().map(|&g| member_table(g as u8)).collect();
        let ranks = self.decode_pass(reader, prior, &member_tables)?;
        for ((&p, &g), &r) in others.iter().zip(&groups).zip(&ranks) {
            idx[p] = *usize::try_from(r).ok().and_then(|r| prior.members[g as usize].get(r)).context(CORRUPT)?;
        }
        Ok(idx)
    }

    /// One segment's symbols, symbol i with table `table_of[i]`: on the GPU
    /// with the WGSL coder (wgpu backend), else on the CPU; the same values.
    fn decode_pass(&self, reader: &mut Reader, prior: &IndexPrior, table_of: &[u32]) -> Result<Vec<i32>> {
        let segment = reader.segment()?;
        if let (Some(g), false) = (&self.codec.gpu, table_of.is_empty()) {
            return g.coder.decode(&g.gpu, self.gpu_tables(prior.size), &segment.lanes, table_of);
        }
        let mut dec = LaneDecoder::new(segment.lanes)?;
        let mut out = Vec::with_capacity(table_of.len());
        for &t in table_of {
            let lane = dec.begin_symbol();
            out.push(prior.tables[t as usize].decode(&mut dec, lane)?);
        }
        dec.finish()?;
        Ok(out)
    }

    /// Checks that `file` is a VQ file of this package, and returns its header
    /// and a reader at its first tile.
    fn open<'a>(&self, file: &'a [u8]) -> Result<(Header, Reader<'a>)> {
        let (header, reader) = Reader::open(file)?;
        if header.kind != Kind::Vq {
            bail!("file is not a VQ file (it was made by the scalar model {})", header.model_name);
        }
        if header.model_hash != self.package.hash {
            bail!(
                "file was made with VQ model {} ({}), not {} ({})",
                header.model_name,
                hex(&header.model_hash),
                self.package.info.name,
                hex(&self.package.hash)
            );
        }
        if header.quality as usize >= LEVELS.len() {
            bail!("file is corrupt: rate level {} is outside 0..={}", header.quality, LEVELS.len() - 1);
        }
        Ok((header, reader))
    }

    /// A file's codebook size, coded size and tiles (over the coded picture;
    /// the header's quality byte must be a level of [`LEVELS`]).
    pub fn layout(header: &Header) -> (usize, (usize, usize), Vec<bitstream::Tile>) {
        let (k, quarters) = LEVELS[header.quality as usize];
        let (cw, ch) = coded_size(header.width as usize, header.height as usize, quarters);
        (k, (cw, ch), bitstream::tiles(cw as u32, ch as u32, header.tile).collect())
    }

    /// Decodes a VQ file made with this package: RGB and, when the file has
    /// one, the alpha plane.
    ///
    /// Memory: the codewords of the whole coded picture (M × H/16 × W/16
    /// floats at most), the output, and one window's activations.
    /// Errors: a corrupt or truncated file, another package's file.
    pub fn decode_picture(&self, file: &[u8], progress: bool) -> Result<Picture> {
        let (header, mut reader) = self.open(file)?;
        let (width, height) = (header.width as usize, header.height as usize);
        let (k, (cw, ch), tiles) = Self::layout(&header);
        let windows = window::window_count(cw, ch, self.codec.windows);
        let bar = progress_bar(tiles.len() + windows, progress, "decoding");
        let mut y_hat: Option<Planes> = None;
        for (x0, y0, tw, th) in tiles {
            let size = ((th as usize).div_ceil(Y_STRIDE), (tw as usize).div_ceil(Y_STRIDE));
            let idx = self.parse_indices(&mut reader, size, k)?;
            let whole = y_hat
                .get_or_insert_with(|| Planes::zeros(self.package.m, ch.div_ceil(Y_STRIDE), cw.div_ceil(Y_STRIDE)));
            self.paste_codewords(whole, &idx, (y0 as usize / Y_STRIDE, x0 as usize / Y_STRIDE), size);
            bar.inc(1);
        }
        let alpha = alpha::read_and_finish(&mut reader, &header)?;
        let y_hat = y_hat.context("file is corrupt: no tiles")?;
        let rgb = self.synthesise(&y_hat, (cw, ch), (width, height), &|| bar.inc(1));
        bar.finish_and_clear();
        Ok(Picture { rgb, alpha, notes: vec![] })
    }

    /// The codebook indices of every tile of a file, as the decoder parses
    /// them (raster order): what must agree across backends bit for bit.
    pub fn parse(&self, file: &[u8]) -> Result<Vec<Vec<u32>>> {
        let (header, mut reader) = self.open(file)?;
        let (k, _, layout) = Self::layout(&header);
        let mut tiles = Vec::new();
        for (_, _, tw, th) in layout {
            let size = ((th as usize).div_ceil(Y_STRIDE), (tw as usize).div_ceil(Y_STRIDE));
            tiles.push(self.parse_indices(&mut reader, size, k)?);
        }
        if header.alpha {
            reader.alpha()?;
        }
        reader.finish()?;
        Ok(tiles)
    }
}

const CORRUPT: &str = "file is corrupt: a codebook index outside the codebook";
