//! The image pipeline: one picture in the `.livc` image container
//! ([`crate::bitstream`]), over the shared tile coding of [`super`].
//!
//! The image is analysed over windows ([`super::window`]), cut into tiles,
//! and each tile's latent coded on its own (z and y segments); an alpha
//! plane, if any, follows losslessly ([`super::alpha`]). The decoder parses
//! every tile, assembles ŷ of the whole image and runs the windowed synthesis.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::{Codec, Planes, Side, alpha, refine, window};
use crate::Backend;
use crate::bitstream::{self, Header, Kind, Producer, Reader, Writer};
use crate::io::{Picture, RgbImage};
use crate::model::Y_STRIDE;

/// An encoded image file and what the encoder measured on the way.
pub struct Encoded {
    /// The `.livc` file's bytes.
    pub bytes: Vec<u8>,
    /// What the decoder will reconstruct (bit for bit on the same backend),
    /// from [`Codec::encode_image_reconstructed`] only: the synthesis costs
    /// about as much as the analysis, and encoding does not need it.
    pub reconstruction: Option<RgbImage>,
    /// Bytes of the losslessly coded alpha plane (0 without one).
    pub alpha_bytes: usize,
    /// −log2 p of every coded symbol under the integer tables, and the lane
    /// bytes actually written: their ratio is the coder's overhead.
    pub ideal_bits: f64,
    /// Bits of the rANS lanes written (8 × their bytes; headers excluded).
    pub lane_bits: f64,
}

impl Codec {
    /// Encodes an RGB image into a `.livc` file, in tiles of `tile` pixels a
    /// side. Errors: a size outside the format's limits, a model name too long
    /// for the header, a failure of the WGSL coder (wgpu backend).
    pub fn encode_image(&self, img: &RgbImage, tile: u32, progress: bool) -> Result<Encoded> {
        self.encode(img, None, tile, progress, false)
    }

    /// Encodes a picture: its RGB with the learned model, its alpha plane (if
    /// any) losslessly ([`alpha`]).
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
        let header =
            picture_header(img, model, (Kind::Scalar, self.quality), tile, self.backend, alpha_plane.is_some())?;
        let mut writer = Writer::new(&header);
        let windows = window::window_count(img.width, img.height, self.windows);
        let bar = progress_bar(header.tiles().count() + windows * (1 + reconstruct as usize), progress, "encoding");
        let tick = || bar.inc(1);
        let m = self.package.info.config.m;
        let y = self.analyse(img, &tick);
        let mut y_hat = reconstruct.then(|| Planes::zeros(m, y.height, y.width));
        let (mut ideal_bits, mut lane_bits) = (0.0, 0.0);
        for (x0, y0, tw, th) in header.tiles() {
            let at = (y0 as usize / Y_STRIDE, x0 as usize / Y_STRIDE);
            let size = ((th as usize).div_ceil(Y_STRIDE), (tw as usize).div_ceil(Y_STRIDE));
            let (mut y_tile, mut z_tile) = (y.window(at, size, &self.device), None);
            if let Some(refiner) = &self.refiner {
                let iterations = refine::iterations(self.effort);
                let pixels = (at.0 * Y_STRIDE, at.1 * Y_STRIDE);
                let x = window::pixels_tensor(img, pixels, (size.0 * Y_STRIDE, size.1 * Y_STRIDE), &self.device);
                let (lambda, tile_size) = (self.quality().1, (tw as usize, th as usize));
                let (y, z) =
                    refine::refine((refiner, &self.net), x, y_tile, tile_size, self.quality, lambda, iterations);
                (y_tile, z_tile) = (y, Some(z));
            }
            let coded = self.code_tile(y_tile, z_tile)?;
            ideal_bits += coded.ideal_bits;
            lane_bits += coded.bytes() as f64 * 8.0;
            coded.write(&mut writer);
            if let Some(y_hat) = &mut y_hat {
                y_hat.paste(coded.y_hat, (0, 0), at, size);
            }
            tick();
        }
        let alpha_bytes = alpha::write(&mut writer, alpha_plane, w, h)?;
        let reconstruction = y_hat.map(|y_hat| self.synthesise(&y_hat, self.quality, (img.width, img.height), &tick));
        bar.finish_and_clear();
        Ok(Encoded { bytes: writer.finish(), reconstruction, ideal_bits, lane_bits, alpha_bytes })
    }

    /// Decodes a file made with this codec's model to its RGB (an alpha
    /// plane is checked and dropped; see [`Codec::decode_picture`]).
    pub fn decode_image(&self, file: &[u8], progress: bool) -> Result<RgbImage> {
        self.decode_picture(file, progress).map(|p| p.rgb)
    }

    /// Decodes a file made with this codec's model: RGB and, when the file
    /// has one, the alpha plane.
    ///
    /// Memory: ŷ of the whole image (M × H/16 × W/16 floats, allocated once
    /// the first tile has parsed), the output, and one window's activations.
    /// Errors: a corrupt or truncated file, another model's file.
    pub fn decode_picture(&self, file: &[u8], progress: bool) -> Result<Picture> {
        let (header, mut reader) = self.open(file)?;
        let config = &self.package.info.config;
        let (width, height) = (header.width as usize, header.height as usize);
        let windows = window::window_count(width, height, self.windows);
        let bar = progress_bar(header.tiles().count() + windows, progress, "decoding");
        let mut y_hat: Option<Planes> = None;
        for (x0, y0, tw, th) in header.tiles() {
            let (yh, yw) = ((th as usize).div_ceil(Y_STRIDE), (tw as usize).div_ceil(Y_STRIDE));
            let tile = self.reconstruct_tile(&mut reader, yh, yw, Side::Image)?;
            let whole = y_hat
                .get_or_insert_with(|| Planes::zeros(config.m, height.div_ceil(Y_STRIDE), width.div_ceil(Y_STRIDE)));
            whole.paste(tile, (0, 0), (y0 as usize / Y_STRIDE, x0 as usize / Y_STRIDE), (yh, yw));
            bar.inc(1);
        }
        let alpha = alpha::read_and_finish(&mut reader, &header)?;
        let y_hat = y_hat.context("file is corrupt: no tiles")?;
        let rgb = self.synthesise(&y_hat, header.quality, (width, height), &|| bar.inc(1));
        bar.finish_and_clear();
        Ok(Picture { rgb, alpha, notes: vec![] })
    }
}

impl Codec {
    /// The integers of every tile of a file, (ẑ, q), as the decoder parses
    /// them: what must agree across backends bit for bit.
    ///
    /// Errors: as [`Codec::decode_picture`]'s, before any synthesis.
    pub fn parse(&self, file: &[u8]) -> Result<Vec<(Vec<i32>, Vec<i32>)>> {
        let (header, mut reader) = self.open(file)?;
        let mut tiles = Vec::new();
        for (_, _, tw, th) in header.tiles() {
            tiles.push(self.parse_tile(
                &mut reader,
                (th as usize).div_ceil(Y_STRIDE),
                (tw as usize).div_ceil(Y_STRIDE),
                false,
            )?);
        }
        if header.alpha {
            reader.alpha()?;
        }
        reader.finish()?;
        Ok(tiles)
    }

    /// A file's header and a reader at its first tile, once the file is
    /// known to be a scalar file of this codec's model at one of its
    /// qualities. Errors: a corrupt or truncated header, a VQ file, another
    /// model's file, a quality the model does not have.
    fn open<'f>(&self, file: &'f [u8]) -> Result<(Header, Reader<'f>)> {
        let (header, reader) = Reader::open(file)?;
        if header.kind != Kind::Scalar {
            bail!("file is a VQ file (model {}): decode it with the VQ model", header.model_name);
        }
        self.check_model(&header.model_name, &header.model_hash)?;
        let quality_range = self.quality_range();
        if !quality_range.contains(&header.quality) {
            bail!("file is corrupt: quality {} is outside this model's {quality_range:?}", header.quality);
        }
        Ok((header, reader))
    }
}

/// The header of a file coding `img` with `model` (name, package hash) as
/// `kind` at `quality` (a VQ file's: its rate level).
/// Errors: a size outside the format's limits, a model name too long for it.
pub(super) fn picture_header(
    img: &RgbImage,
    (model_name, model_hash): (&str, [u8; 8]),
    (kind, quality): (Kind, u8),
    tile: u32,
    backend: Backend,
    alpha: bool,
) -> Result<Header> {
    let (width, height) = (img.width as u32, img.height as u32);
    if !bitstream::size_ok(width, height) {
        bail!(bitstream::FormatError::BadSize(width, height));
    }
    bitstream::check_model_name(model_name)?;
    Ok(Header {
        model_name: model_name.to_string(),
        model_hash,
        width,
        height,
        quality,
        tile,
        producer: if backend == Backend::Wgpu { Producer::Wgpu } else { Producer::Cpu },
        alpha,
        kind,
    })
}

pub(super) fn progress_bar(len: usize, enabled: bool, what: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64).with_message(what);
    bar.set_style(ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} tiles {elapsed}").unwrap());
    bar
}

/// Reads only the header of a file (after the whole-file checksum, which
/// covers every byte before it). Errors: not a livc file, corrupt or truncated.
pub fn read_header(file: &[u8]) -> Result<Header> {
    Ok(Reader::open(file)?.0)
}
