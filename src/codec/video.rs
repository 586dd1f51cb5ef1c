//! The video pipeline: a clip is a sequence of frames, each coded as an
//! I-frame (the image codec: analysis, hyperprior, checkerboard/slice
//! context, synthesis) or a P-frame, in the clip container
//! ([`crate::bitstream::clip`]).
//!
//! **P-frames: a learned temporal prior in the latent domain**
//! ([`crate::model::temporal`]). The reference is the previous frame's
//! decoded latent ŷₜ₋₁ (M × H/16 × W/16), which encoder and decoder hold
//! identically. A small network predicts pₜ from it; per tile, the encoder
//! codes either the latent itself with the image's latent codec (intra mode)
//! or the residual rₜ = yₜ − pₜ with the temporal prior's (inter mode), and
//! keeps whichever takes fewer bytes; a mode byte per tile tells the
//! decoder, which reconstructs ŷₜ = r̂ₜ + pₜ. The prediction is the mean,
//! fused additively with the residual hyperprior's and the context model's
//! means; the residual's ẑ (coded first, under its own tables) selects the
//! scale levels through the image model's integer networks. The reference is
//! a latent, not pixels, so a P-frame needs no synthesis at the encoder.
//! What a P-frame shows is the **refined** latent ŷ′ₜ (from ŷₜ and ŷₜ₋₁); the
//! reference stays ŷₜ.
//!
//! **No drift.** ŷₜ is computed by the same tensor operations in the same
//! order at the encoder and the decoder, so on one backend the decoder's
//! reference equals the encoder's bit for bit and errors never accumulate;
//! every tile's table selection is the image codec's integer arithmetic on
//! already-decoded integers, so every backend parses every frame identically.
//! Across backends the float ŷ (means, sums) may differ in the last bits;
//! each I-frame resets the reference.

use anyhow::{Context, Result, bail};
use std::io::Write;

use super::{Codec, Condition, Planes, Side};
use crate::Backend;
use crate::bitstream::clip::{self, ClipHeader, FrameKind, FrameRecord};
use crate::bitstream::{Producer, Reader, Writer, size_ok};
use crate::io::RgbImage;
use crate::io::video::{ClipInfo, Colour, FrameRate};
use crate::model::Y_STRIDE;

/// Default intra period: an I-frame every 32 frames (about 1 s at 30 fps),
/// where a player can start or seek. P-frames never drift (module docs), so
/// the period trades seek granularity against the I-frames' cost only.
pub const DEFAULT_GOP: u32 = 32;

/// A tile coded on its own.
const TILE_INTRA: u8 = 0;
/// A tile coded as its temporal residual against the reference latent.
const TILE_INTER: u8 = 1;

/// One coded frame.
pub struct CodedFrame {
    /// I-frame or P-frame.
    pub kind: FrameKind,
    /// The frame record's payload (per tile: mode byte, z and y segments).
    pub payload: Vec<u8>,
    /// Tiles coded in inter mode, and tiles in all.
    pub inter_tiles: usize,
    pub tiles: usize,
    /// What the decoder will show, when asked for ([`VideoEncoder::encode_frame`]).
    pub reconstruction: Option<RgbImage>,
}

/// Codes frames one after another; holds the reference latent and nothing else.
pub struct VideoEncoder<'a> {
    codec: &'a Codec,
    header: ClipHeader,
    reference: Option<Planes>,
    frames: u32,
}

impl<'a> VideoEncoder<'a> {
    /// An encoder for frames of `info`'s size, with an I-frame every `gop`
    /// frames and tiles of `tile` pixels.
    ///
    /// Errors: a size outside the limits, `gop` outside 1..=[`clip::MAX_GOP`],
    /// a model name too long for the header.
    pub fn new(codec: &'a Codec, info: &ClipInfo, gop: u32, tile: u32) -> Result<Self> {
        if !size_ok(info.width, info.height) {
            bail!(crate::bitstream::FormatError::BadSize(info.width, info.height));
        }
        if !(1..=clip::MAX_GOP).contains(&gop) {
            bail!("--gop {gop} is outside 1..={}", clip::MAX_GOP);
        }
        crate::bitstream::check_model_name(&codec.package.info.name)?;
        if gop > 1 && codec.temporal().is_none() {
            bail!("model {} has no temporal prior for P-frames; code all-intra with --gop 1", codec.package.info.name);
        }
        let FrameRate { num, den } = info.frame_rate;
        if !(1..=clip::MAX_RATE_TERM).contains(&num) || !(1..=clip::MAX_RATE_TERM).contains(&den) {
            bail!("frame rate {num}/{den} is outside what the container stores");
        }
        let header = ClipHeader {
            model_name: codec.package.info.name.clone(),
            model_hash: codec.package.hash,
            // An all-intra clip needs no temporal prior, and names none.
            temporal_hash: if gop > 1 { codec.temporal().map_or([0; 8], |t| t.package.hash) } else { [0; 8] },
            width: info.width,
            height: info.height,
            rate_num: num,
            rate_den: den,
            frames: 0,
            gop,
            quality: codec.quality().0,
            tile,
            matrix: info.colour.matrix,
            full_range: info.colour.full_range,
            producer: if codec.backend() == Backend::Wgpu { Producer::Wgpu } else { Producer::Cpu },
        };
        Ok(Self { codec, header, reference: None, frames: 0 })
    }

    /// The sequence header (`frames` is 0 until the caller sets it).
    pub fn header(&self) -> &ClipHeader {
        &self.header
    }

    /// Codes the next frame: an I-frame at every multiple of the GOP, else a
    /// P-frame. With `reconstruct`, also runs the decoder's synthesis.
    pub fn encode_frame(&mut self, img: &RgbImage, reconstruct: bool) -> Result<CodedFrame> {
        let h = &self.header;
        if (img.width as u32, img.height as u32) != (h.width, h.height) {
            bail!("frame {} is {}×{}, the clip {}×{}", self.frames, img.width, img.height, h.width, h.height);
        }
        if self.frames >= clip::MAX_FRAMES {
            bail!("a clip holds at most {} frames", clip::MAX_FRAMES);
        }
        let kind = if self.frames.is_multiple_of(h.gop) { FrameKind::Intra } else { FrameKind::Inter };
        let device = self.codec.device();
        let y = self.codec.analyse(img, &|| ());
        let prediction = match (&self.reference, kind) {
            (Some(reference), FrameKind::Inter) => Some(predict(self.codec, reference, h.quality)?),
            _ => None,
        };
        let gain = self.codec.gain(h.quality);
        let mut y_hat = Planes::zeros(y.channels, y.height, y.width);
        let mut writer = Writer::bare();
        let (mut inter_tiles, mut tiles) = (0, 0);
        for (x0, y0, tw, th) in h.tiles() {
            let at = (y0 as usize / Y_STRIDE, x0 as usize / Y_STRIDE);
            let size = ((th as usize).div_ceil(Y_STRIDE), (tw as usize).div_ceil(Y_STRIDE));
            let y_tile = y.window(at, size, device);
            let intra = self.codec.code_tile(y_tile.clone(), None)?;
            let chosen = match (&prediction, &self.reference) {
                (Some(prediction), Some(reference)) => {
                    let p_tile = prediction.window(at, size, device);
                    let condition = Condition { reference: reference.window(at, size, device), gain: gain.clone() };
                    let mut inter =
                        self.codec.code_tile_as(y_tile - p_tile.clone(), None, Side::Temporal(&condition))?;
                    if inter.bytes() < intra.bytes() {
                        inter.y_hat = inter.y_hat + p_tile;
                        inter_tiles += 1;
                        Some(inter)
                    } else {
                        None
                    }
                }
                _ => None,
            };
            let (mode, coded) = match chosen {
                Some(inter) => (TILE_INTER, inter),
                None => (TILE_INTRA, intra),
            };
            writer.byte(mode);
            coded.write(&mut writer);
            y_hat.paste(coded.y_hat, (0, 0), at, size);
            tiles += 1;
        }
        let reconstruction = if reconstruct {
            let shown = shown(self.codec, &y_hat, prediction.as_ref().and(self.reference.as_ref()), h.quality)?;
            Some(self.codec.synthesise(&shown, h.quality, (img.width, img.height), &|| ()))
        } else {
            None
        };
        self.reference = Some(y_hat);
        self.frames += 1;
        Ok(CodedFrame { kind, payload: writer.into_bytes(), inter_tiles, tiles, reconstruction })
    }
}

/// Decodes frames one after another; holds the reference latent.
pub struct VideoDecoder<'a> {
    codec: &'a Codec,
    header: ClipHeader,
    reference: Option<Planes>,
    /// Whether P-frames show the refined latent (the default).
    refine: bool,
}

impl<'a> VideoDecoder<'a> {
    /// Errors: a clip made with another model, or at a quality the model
    /// does not have.
    pub fn new(codec: &'a Codec, header: ClipHeader) -> Result<Self> {
        codec.check_model(&header.model_name, &header.model_hash)?;
        if header.gop > 1 {
            let temporal = codec.temporal().context("clip has P-frames, and this model has no temporal prior")?;
            if temporal.package.hash != header.temporal_hash {
                bail!(
                    "clip was made with temporal prior {}, not {} ({})",
                    crate::model::package::hex(&header.temporal_hash),
                    temporal.package.info.name,
                    crate::model::package::hex(&temporal.package.hash)
                );
            }
        }
        if !codec.quality_range().contains(&header.quality) {
            bail!("file is corrupt: quality {} is outside this model's {:?}", header.quality, codec.quality_range());
        }
        Ok(Self { codec, header, reference: None, refine: true })
    }

    /// The frame's ŷ: every tile parsed and reconstructed, inter tiles added
    /// to the reference.
    fn latent(&mut self, record: &FrameRecord) -> Result<Planes> {
        let m = self.codec.package.info.config.m;
        let (h, w) =
            ((self.header.height as usize).div_ceil(Y_STRIDE), (self.header.width as usize).div_ceil(Y_STRIDE));
        let mut y_hat = Planes::zeros(m, h, w);
        let mut reader = Reader::bare(&record.payload);
        let mut prediction = None;
        let device = self.codec.device();
        for (x0, y0, tw, th) in self.header.tiles() {
            let at = (y0 as usize / Y_STRIDE, x0 as usize / Y_STRIDE);
            let size = ((th as usize).div_ceil(Y_STRIDE), (tw as usize).div_ceil(Y_STRIDE));
            let tile = match self.mode(&mut reader, record.kind)? {
                TILE_INTER => {
                    let reference =
                        self.reference.as_ref().context("file is corrupt: a P-frame without a reference")?;
                    if prediction.is_none() {
                        prediction = Some(predict(self.codec, reference, self.header.quality)?);
                    }
                    let gain = self.codec.gain(self.header.quality);
                    let condition = Condition { reference: reference.window(at, size, device), gain };
                    let residual =
                        self.codec.reconstruct_tile(&mut reader, size.0, size.1, Side::Temporal(&condition))?;
                    residual + prediction.as_ref().unwrap().window(at, size, device)
                }
                _ => self.codec.reconstruct_tile(&mut reader, size.0, size.1, Side::Image)?,
            };
            y_hat.paste(tile, (0, 0), at, size);
        }
        reader.finish()?;
        Ok(y_hat)
    }

    fn mode(&self, reader: &mut Reader, kind: FrameKind) -> Result<u8> {
        match (reader.byte()?, kind) {
            (TILE_INTRA, _) => Ok(TILE_INTRA),
            (TILE_INTER, FrameKind::Inter) => Ok(TILE_INTER),
            (TILE_INTER, FrameKind::Intra) => bail!("file is corrupt: an inter tile in an I-frame"),
            _ => bail!("file is corrupt: unknown tile mode"),
        }
    }

    /// Decodes the next frame (records in order; an I-frame resets the reference).
    pub fn decode_frame(&mut self, record: &FrameRecord) -> Result<RgbImage> {
        let y_hat = self.latent(record)?;
        let size = (self.header.width as usize, self.header.height as usize);
        let previous = (record.kind == FrameKind::Inter).then_some(self.reference.as_ref()).flatten();
        let y_shown =
            if self.refine { shown(self.codec, &y_hat, previous, self.header.quality)? } else { y_hat.clone() };
        let rgb = self.codec.synthesise(&y_shown, self.header.quality, size, &|| ());
        self.reference = Some(y_hat);
        Ok(rgb)
    }

    /// Shows the decoded ŷ of P-frames without the temporal refinement (to
    /// measure what it adds; the parse and the references are unchanged).
    pub fn without_refinement(mut self) -> Self {
        self.refine = false;
        self
    }

    /// The decoded latent of the next frame, without the synthesis (what
    /// must agree across backends up to float rounding, and bit for bit
    /// with the encoder on one backend).
    pub fn decode_latent(&mut self, record: &FrameRecord) -> Result<Planes> {
        let y_hat = self.latent(record)?;
        self.reference = Some(y_hat.clone());
        Ok(y_hat)
    }

    /// The integers of one frame as the decoder parses them: per tile its
    /// mode, ẑ and q. Parsing needs no reference.
    pub fn parse_frame(&self, record: &FrameRecord) -> Result<Vec<ParsedTile>> {
        let mut reader = Reader::bare(&record.payload);
        let mut tiles = Vec::new();
        for (_, _, tw, th) in self.header.tiles() {
            let mode = self.mode(&mut reader, record.kind)?;
            let (z, q) = self.codec.parse_tile(
                &mut reader,
                (th as usize).div_ceil(Y_STRIDE),
                (tw as usize).div_ceil(Y_STRIDE),
                mode == TILE_INTER,
            )?;
            tiles.push((mode, z, q));
        }
        reader.finish()?;
        Ok(tiles)
    }
}

/// A tile's integers as parsed: its mode byte, ẑ and q.
pub type ParsedTile = (u8, Vec<i32>, Vec<i32>);

/// What [`encode_clip`] reports after each frame.
pub struct FrameReport<'f> {
    /// The frame's position in the clip (0-based).
    pub index: u32,
    /// The frame as coded.
    pub coded: &'f CodedFrame,
    /// The source frame.
    pub source: &'f RgbImage,
}

/// Encodes frames from `next` (until it gives `None`) into `out`: the
/// header, one record per frame, the end record. Holds one source frame and
/// the reference latent at a time. Returns the header with the frame count.
pub fn encode_clip(
    encoder: &mut VideoEncoder,
    mut next: impl FnMut() -> Result<Option<RgbImage>>,
    out: &mut impl Write,
    reconstruct: bool,
    mut report: impl FnMut(FrameReport),
) -> Result<ClipHeader> {
    let fail = |e: std::io::Error| anyhow::anyhow!("cannot write the clip: {e}");
    out.write_all(&encoder.header().to_bytes()).map_err(fail)?;
    let mut index = 0u32;
    while let Some(frame) = next()? {
        let coded = encoder.encode_frame(&frame, reconstruct)?;
        clip::write_frame(out, coded.kind, &coded.payload).map_err(fail)?;
        report(FrameReport { index, coded: &coded, source: &frame });
        index += 1;
    }
    if index == 0 {
        bail!("no frames to encode (is --start past the end of the clip?)");
    }
    clip::write_end(out, index).map_err(fail)?;
    Ok(ClipHeader { frames: index, ..encoder.header().clone() })
}

/// The colour a clip header records.
pub fn colour_of(header: &ClipHeader) -> Colour {
    Colour { matrix: header.matrix, full_range: header.full_range }
}

/// The frame rate a clip header records.
pub fn frame_rate_of(header: &ClipHeader) -> FrameRate {
    FrameRate { num: header.rate_num, den: header.rate_den }
}

/// The temporal prior's prediction pₜ of a frame's latent from the reference ŷₜ₋₁.
fn predict(codec: &Codec, reference: &Planes, quality: u8) -> Result<Planes> {
    let temporal = codec.temporal().context("P-frames need the model's temporal prior")?;
    let whole = reference.window((0, 0), (reference.height, reference.width), codec.device());
    Ok(Planes::from_tensor(temporal.net.predict(whole, codec.gain(quality))))
}

/// What a frame shows: a P-frame's ŷₜ refined from ŷₜ₋₁ (`previous`), an
/// I-frame's as decoded.
fn shown(codec: &Codec, y_hat: &Planes, previous: Option<&Planes>, quality: u8) -> Result<Planes> {
    let (Some(previous), Some(temporal)) = (previous, codec.temporal()) else { return Ok(y_hat.clone()) };
    let device = codec.device();
    let size = (y_hat.height, y_hat.width);
    let refined = temporal.net.refine(
        y_hat.window((0, 0), size, device),
        previous.window((0, 0), size, device),
        codec.gain(quality),
    );
    Ok(Planes::from_tensor(refined))
}
