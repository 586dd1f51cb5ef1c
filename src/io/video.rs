//! Clips in and out through FFmpeg (the `ffmpeg-next` bindings to the
//! system's libavformat, libavcodec and libswscale).
//!
//! Reading: any file FFmpeg demuxes and decodes (mp4, mkv, webm, avi, y4m,
//! …), or a stream that can be read only once (standard input `-`, a named
//! pipe), as FFmpeg reads it without seeking, one frame at a time. Every
//! frame is converted once, by swscale, from its pixel format to 8-bit RGB,
//! and turned upright by the stream's display matrix (quarter turns). HDR
//! (PQ, HLG) and BT.2020 sources are refused.
//! YUV sources use the matrix their stream is tagged with (BT.709, or BT.601
//! for streams tagged BT.470BG/SMPTE 170M); an untagged stream is taken as
//! BT.709. The range is the stream's: limited (16–235 luma, 16–240 chroma)
//! unless the stream says full ("JPEG") range. [`Colour`] records both, the
//! clip header carries it, and writing converts back with the same matrix
//! and range, so a YUV clip's round trip is consistent.
//!
//! Writing: YUV 4:2:0 (8 bit) as raw Y4M (`.y4m`, or standard output for
//! `-`), or lossless FFV1 in Matroska (`.mkv`), tagged with the colour
//! matrix and range. Files are written to a temporary file beside the target
//! and renamed when complete ([`super::OutputFile`]), so a failure leaves
//! nothing behind.

use anyhow::{Context, Result, bail};
use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::util::color;
use ffmpeg_next as ffmpeg;
use std::path::{Path, PathBuf};

use super::{OutputFile, RgbImage};
use crate::bitstream::size_ok;

/// A frame rate as a rational number of frames per second (num/den, both ≥ 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

impl FrameRate {
    /// Frames per second as a float (`num / den`).
    pub fn fps(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl std::fmt::Display for FrameRate {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{} ({:.3})", self.num, self.den, self.fps())
        }
    }
}

/// The YUV↔RGB conversion of a clip: the matrix (ITU-T H.273
/// `matrix_coefficients`: 1 = BT.709, 6 = BT.601) and whether the YUV
/// samples use the full 0–255 range rather than the limited 16–235/240 range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour {
    /// H.273 `matrix_coefficients`: [`Colour::BT709`] or [`Colour::BT601`].
    pub matrix: u8,
    /// Full range (0–255) rather than limited (16–235 luma, 16–240 chroma).
    pub full_range: bool,
}

impl Colour {
    /// H.273 `matrix_coefficients` of BT.709.
    pub const BT709: u8 = 1;
    /// H.273 `matrix_coefficients` of BT.601 (BT.470BG, SMPTE 170M).
    pub const BT601: u8 = 6;
    /// What an untagged stream is taken to be: BT.709, limited range.
    pub const DEFAULT: Colour = Colour { matrix: Colour::BT709, full_range: false };

    /// Whether the matrix is one livc converts with (BT.709 or BT.601).
    pub fn is_valid(self) -> bool {
        self.matrix == Colour::BT709 || self.matrix == Colour::BT601
    }

    fn of_frame(frame: &ffmpeg::frame::Video) -> Colour {
        let matrix = match frame.color_space() {
            color::Space::BT470BG | color::Space::SMPTE170M => Colour::BT601,
            _ => Colour::BT709,
        };
        let full_range = frame.color_range() == color::Range::JPEG
            || matches!(frame.format(), Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P);
        Colour { matrix, full_range }
    }

    fn space(self) -> color::Space {
        if self.matrix == Colour::BT601 { color::Space::BT470BG } else { color::Space::BT709 }
    }

    fn range(self) -> color::Range {
        if self.full_range { color::Range::JPEG } else { color::Range::MPEG }
    }
}

impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let matrix = if self.matrix == Colour::BT601 { "BT.601" } else { "BT.709" };
        write!(f, "{matrix}, {} range", if self.full_range { "full" } else { "limited" })
    }
}

/// What a clip's first frame and its stream say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClipInfo {
    /// Frame size in pixels, as shown (after the stream's rotation).
    pub width: u32,
    pub height: u32,
    pub frame_rate: FrameRate,
    pub colour: Colour,
    /// The frame count the container declares, when it declares one.
    pub frames: Option<u64>,
}

fn init() -> Result<()> {
    static INIT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*INIT.get_or_init(|| {
        let ok = ffmpeg::init().is_ok();
        // FFmpeg's own messages only when they are errors.
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
        ok
    }) {
        bail!("cannot initialise the FFmpeg libraries");
    }
    Ok(())
}

/// FFmpeg's name for a path (`-` is a pipe); refuses names it cannot take.
fn url(path: &Path, stdin: bool) -> Result<String> {
    if path == Path::new("-") {
        return Ok(if stdin { "pipe:0" } else { "pipe:1" }.into());
    }
    let name = path.to_str().with_context(|| format!("{}: the file name is not UTF-8", path.display()))?;
    if name.contains('\0') {
        bail!("{name}: the file name contains a NUL byte");
    }
    // "file:" keeps a name with a colon from being read as a protocol.
    Ok(format!("file:{name}"))
}

/// Frames of a clip, decoded one at a time (memory: FFmpeg's decoder state
/// and one frame).
pub struct ClipReader {
    input: ffmpeg::format::context::Input,
    stream: usize,
    decoder: ffmpeg::decoder::Video,
    scaler: Option<(Pixel, scaling::Context)>,
    info: ClipInfo,
    frame: ffmpeg::frame::Video,
    /// The first frame, decoded while opening (to learn its colour tags).
    first: Option<RgbImage>,
    eof_sent: bool,
    path: PathBuf,
    /// Clockwise quarter turns that show a frame upright (the stream's
    /// display matrix, as phones record portrait video): 0 to 3.
    turns: u8,
    notes: Vec<String>,
    /// Read as a stream (a pipe): FFmpeg cannot seek in it.
    streamed: bool,
    /// A Y4M stream's framing, followed as its bytes pass to FFmpeg.
    y4m: Option<std::sync::Arc<std::sync::Mutex<Y4mFraming>>>,
    /// Whether [`ClipReader::next_frame`] has reached the end of the clip.
    ended: bool,
}

impl ClipReader {
    /// Opens `path` and decodes its first frame.
    ///
    /// Errors: a file FFmpeg cannot read, no video stream, no frame, a frame
    /// size outside [`crate::bitstream::MAX_SIDE`]/[`crate::bitstream::MAX_PIXELS`].
    pub fn open(path: &Path) -> Result<ClipReader> {
        Self::open_peeked(path, crate::io::Peeked::open(path)?)
    }

    /// Opens `path`, whose first bytes `peeked` has read already. A regular
    /// file is opened again by name (FFmpeg may seek in it, as MP4 needs);
    /// anything else (a named pipe, `/dev/stdin`, a shell's `<(…)`) can be
    /// read only once and is read on from `peeked`, as a stream, and so is
    /// Y4M, which needs no seeking (and whose framing is then checked:
    /// [`ClipReader::truncation`]).
    pub fn open_peeked(path: &Path, peeked: crate::io::Peeked) -> Result<ClipReader> {
        init()?;
        if !peeked.is_file || peeked.head.starts_with(b"YUV4MPEG2") {
            let (head, rest) = peeked.into_parts();
            let name = if path == Path::new("-") { "standard input".into() } else { path.display().to_string() };
            return Self::from_read(&name, head, rest);
        }
        check_y4m_size(&peeked.head).with_context(|| path.display().to_string())?;
        drop(peeked);
        let name = url(path, true)?;
        let input = ffmpeg::format::input(&name)
            .map_err(|e| anyhow::anyhow!("{}: cannot read as a video: {e}", path.display()))?;
        Self::from_input(input, path, false, None)
    }

    /// Reads a clip from a stream that cannot seek, called `name` in messages:
    /// `head`, the bytes the caller has read already, then `rest`.
    pub fn from_read(name: &str, head: Vec<u8>, rest: impl std::io::Read + Send + 'static) -> Result<ClipReader> {
        init()?;
        check_y4m_size(&head).context(name.to_string())?;
        if head.starts_with(b"YUV4MPEG2") && head.len() < 256 && !head.contains(&b'\n') {
            bail!("{name}: the Y4M stream ends inside its header line: the input was cut short");
        }
        let framing = Y4mHeader::parse(&head)
            .and_then(|h| h.frame_bytes())
            .map(|bytes| std::sync::Arc::new(std::sync::Mutex::new(Y4mFraming::new(bytes))));
        let stream =
            Watched { inner: std::io::Read::chain(std::io::Cursor::new(head), rest), framing: framing.clone() };
        let fail = |e: ffmpeg::Error| anyhow::anyhow!("{name}: cannot read as a video: {e}");
        let io = ffmpeg::format::context::StreamIo::from_read(stream).map_err(fail)?;
        let input = ffmpeg::format::input_from_stream(io, None, None).map_err(fail)?;
        Self::from_input(input, Path::new(name), true, framing)
    }

    fn from_input(
        input: ffmpeg::format::context::Input,
        path: &Path,
        streamed: bool,
        y4m: Option<std::sync::Arc<std::sync::Mutex<Y4mFraming>>>,
    ) -> Result<ClipReader> {
        let shown = path.display().to_string();
        let stream = input
            .streams()
            .best(ffmpeg::media::Type::Video)
            .with_context(|| format!("{shown}: has no video stream"))?;
        let index = stream.index();
        let rate = match stream.avg_frame_rate() {
            r if r.numerator() > 0 && r.denominator() > 0 => r,
            _ => stream.rate(),
        };
        if rate.numerator() <= 0 || rate.denominator() <= 0 {
            bail!("{shown}: the stream has no frame rate");
        }
        // Variable-rate phone clips give averages such as 162000000/5405401:
        // the nearest rate whose terms the clip header holds.
        let rate = match rate.reduce_with_limit(FRAME_RATE_TERM_MAX) {
            Ok(r) | Err(r) => r,
        };
        let mut notes = Vec::new();
        let turns = quarter_turns(&stream, &mut notes);
        let frames = (stream.frames() > 0).then_some(stream.frames() as u64);
        let mut context = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
        context.set_threading(ffmpeg::threading::Config {
            kind: ffmpeg::threading::Type::Frame,
            count: 0,
            ..Default::default()
        });
        let decoder =
            context.decoder().video().map_err(|e| anyhow::anyhow!("{shown}: cannot decode its video stream: {e}"))?;
        let (w, h) = (decoder.width(), decoder.height());
        if !size_ok(w, h) {
            bail!("{shown}: {}", crate::bitstream::FormatError::BadSize(w, h));
        }
        let (shown_w, shown_h) = if turns % 2 == 1 { (h, w) } else { (w, h) };
        let info = ClipInfo {
            width: shown_w,
            height: shown_h,
            frame_rate: FrameRate { num: rate.numerator() as u32, den: rate.denominator() as u32 },
            colour: Colour::DEFAULT,
            frames,
        };
        let mut reader = ClipReader {
            input,
            stream: index,
            decoder,
            scaler: None,
            info,
            frame: ffmpeg::frame::Video::empty(),
            first: None,
            eof_sent: false,
            path: path.to_path_buf(),
            turns,
            notes,
            streamed,
            y4m,
            ended: false,
        };
        let Some(first) = reader.decode_next()? else {
            reader.ended = true;
            match reader.cut_short() {
                Some(cut) => bail!("{shown}: has no whole video frame: {cut}: the input was cut short"),
                None => bail!("{shown}: has no video frames"),
            }
        };
        reader.first = Some(first);
        let sar = reader.frame.aspect_ratio();
        if sar.numerator() > 0 && sar.denominator() > 0 && sar.numerator() != sar.denominator() {
            reader.notes.push(format!(
                "warning: the pixel aspect ratio {}:{} is not kept; livc codes square pixels (scale first, e.g. ffmpeg -vf scale=iw*sar:ih,setsar=1)",
                sar.numerator(),
                sar.denominator()
            ));
        }
        if reader.frame.is_interlaced() {
            reader.notes.push("warning: the video is interlaced; livc codes its frames as progressive (deinterlace first, e.g. ffmpeg -vf bwdif)".into());
        }
        let alpha = reader.frame.format().descriptor().is_some_and(|d| {
            // SAFETY: a descriptor FFmpeg returned points at its static table.
            let flags = unsafe { (*d.as_ptr()).flags };
            flags & ffmpeg::ffi::AV_PIX_FMT_FLAG_ALPHA as u64 != 0
        });
        if alpha {
            reader.notes.push("warning: the video's alpha channel is dropped; clips are coded as RGB".into());
        }
        Ok(reader)
    }

    /// What reading the clip changed or could not keep (the display
    /// rotation applied; non-square pixels, an interlaced source, a dropped
    /// alpha channel: these start with "warning").
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The clip's size, frame rate, colour and declared frame count.
    pub fn info(&self) -> ClipInfo {
        self.info
    }

    /// The next frame as RGB, or `None` at the end of the clip.
    ///
    /// Errors: a decoding error, a frame whose size differs from the first.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        let frame = self.decode_next()?;
        self.ended |= frame.is_none();
        Ok(frame)
    }

    /// A warning (naming the input) when a Y4M stream read to its end stopped inside a frame:
    /// FFmpeg ends the clip at the last whole frame without a word (as the
    /// `ffmpeg` command does). `None` for whole streams, streams not read to
    /// their end, and inputs other than Y4M.
    pub fn truncation(&self) -> Option<String> {
        let cut = self.cut_short()?;
        Some(format!("{}: warning: {cut}, which is not coded: the input was cut short", self.path.display()))
    }

    /// Where a Y4M stream read to its end stopped inside a frame, in words.
    fn cut_short(&self) -> Option<String> {
        if !self.ended {
            return None;
        }
        let framing = self.y4m.as_ref()?.lock().unwrap_or_else(|p| p.into_inner());
        let frame = framing.frames + 1;
        framing.partial().map(|bytes| match bytes {
            0 => format!("the Y4M stream ends at frame {frame}'s FRAME line, before its planes"),
            _ => format!("the Y4M stream ends inside frame {frame} ({bytes} of its {} bytes)", framing.frame_bytes),
        })
    }

    /// Skips `n` frames (decoding them: most formats cannot seek exactly).
    pub fn skip(&mut self, n: u64) -> Result<()> {
        for _ in 0..n {
            if self.first.take().is_none() && !self.receive()? {
                break;
            }
        }
        Ok(())
    }

    /// Decodes the next frame into `self.frame`; false at the end.
    fn receive(&mut self) -> Result<bool> {
        let shown = self.path.display().to_string();
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => return Ok(true),
                Err(ffmpeg::Error::Eof) => return Ok(false),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {}
                Err(e) => bail!("{shown}: cannot decode a frame: {e}"),
            }
            if self.eof_sent {
                return Ok(false);
            }
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.stream => {
                    // A damaged packet is FFmpeg's to conceal or report on receive.
                    if let Err(e) = self.decoder.send_packet(&packet) {
                        bail!("{shown}: cannot decode a packet: {e}");
                    }
                }
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => {
                    self.decoder.send_eof().ok();
                    self.eof_sent = true;
                }
                Err(e) if self.streamed && self.input.format().name().contains("mov") => bail!(
                    "{shown}: cannot read: {e} (read as a stream, which cannot seek: an MP4 or MOV whose \
                     index comes last needs a file, or pipe it as Y4M: ffmpeg -i … -f yuv4mpegpipe -)"
                ),
                Err(e) => bail!("{shown}: cannot read: {e}"),
            }
        }
    }

    fn decode_next(&mut self) -> Result<Option<RgbImage>> {
        if !self.receive()? {
            return Ok(None);
        }
        let (w, h) = (self.frame.width(), self.frame.height());
        let coded =
            if self.turns % 2 == 1 { (self.info.height, self.info.width) } else { (self.info.width, self.info.height) };
        if (w, h) != coded {
            bail!(
                "{}: the frame size changes from {}×{} to {w}×{h} within the clip, which livc does not code",
                self.path.display(),
                coded.0,
                coded.1
            );
        }
        let format = self.frame.format();
        if self.scaler.as_ref().is_none_or(|(f, _)| *f != format) {
            refuse_hdr(&self.frame).with_context(|| self.path.display().to_string())?;
            let colour = Colour::of_frame(&self.frame);
            self.info.colour = colour;
            let mut scaler = scaling::Context::get(format, w, h, Pixel::RGB24, w, h, flags())
                .map_err(|e| anyhow::anyhow!("{}: cannot convert {format:?} to RGB: {e}", self.path.display()))?;
            set_colour(&mut scaler, colour, true);
            self.scaler = Some((format, scaler));
        }
        let mut rgb = ffmpeg::frame::Video::empty();
        self.scaler.as_mut().unwrap().1.run(&self.frame, &mut rgb).context("swscale failed")?;
        let (w, h) = (w as usize, h as usize);
        let mut pixels = Vec::with_capacity(w * h * 3);
        let (data, stride) = (rgb.data(0), rgb.stride(0));
        for y in 0..h {
            pixels.extend_from_slice(&data[y * stride..][..w * 3]);
        }
        Ok(Some(turn(RgbImage { width: w, height: h, pixels }, self.turns)))
    }
}

/// The largest numerator or denominator of a frame rate the clip header
/// holds ([`crate::bitstream::clip::MAX_RATE_TERM`]).
const FRAME_RATE_TERM_MAX: i32 = crate::bitstream::clip::MAX_RATE_TERM as i32;

/// Clockwise quarter turns that show `stream`'s frames upright, from its
/// display matrix (ISO/IEC 14496-12 `tkhd`, FFmpeg's side data; what
/// `ffmpeg`'s autorotation reads). A note says when one is applied; an
/// angle that is not a multiple of 90°, or a mirroring matrix, is ignored,
/// with a warning.
fn quarter_turns(stream: &ffmpeg::format::stream::Stream, notes: &mut Vec<String>) -> u8 {
    use ffmpeg::codec::packet::side_data::Type;
    let Some(matrix) = stream.side_data().find(|d| d.kind() == Type::DisplayMatrix && d.data().len() >= 36) else {
        return 0;
    };
    let m: Vec<i32> = matrix.data()[..36].chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
    if (m[0] as i64 * m[4] as i64) < (m[1] as i64 * m[3] as i64) {
        notes.push(
            "warning: the display matrix mirrors the picture; livc ignores it (flip first, e.g. ffmpeg -vf hflip)"
                .into(),
        );
        return 0;
    }
    // SAFETY: `m` holds the nine 32-bit entries the function reads.
    let counter_clockwise = unsafe { ffmpeg::ffi::av_display_rotation_get(m.as_ptr()) };
    if !counter_clockwise.is_finite() {
        return 0;
    }
    let clockwise = (-counter_clockwise).rem_euclid(360.0);
    let turns = (clockwise / 90.0).round();
    if (clockwise - 90.0 * turns).abs() > 1.0 {
        notes.push(format!("warning: the display rotation of {clockwise:.0}° is ignored (livc turns by quarters)"));
        return 0;
    }
    let turns = turns as u8 % 4;
    if turns > 0 {
        notes.push(format!("applied the display rotation ({}° clockwise)", 90 * turns as u32));
    }
    turns
}

/// `img` turned clockwise by `turns` quarter turns.
fn turn(img: RgbImage, turns: u8) -> RgbImage {
    if turns == 0 {
        return img;
    }
    let buffer = image::RgbImage::from_raw(img.width as u32, img.height as u32, img.pixels).expect("whole pixels");
    let turned = match turns {
        1 => image::imageops::rotate90(&buffer),
        2 => image::imageops::rotate180(&buffer),
        _ => image::imageops::rotate270(&buffer),
    };
    RgbImage { width: turned.width() as usize, height: turned.height() as usize, pixels: turned.into_raw() }
}

/// Refuses what livc's 8-bit SDR BT.709/BT.601 conversion would get wrong
/// without saying so: HDR transfers (PQ, HLG) and the BT.2020 matrix.
fn refuse_hdr(frame: &ffmpeg::frame::Video) -> Result<()> {
    use color::TransferCharacteristic as T;
    if matches!(frame.color_transfer_characteristic(), T::SMPTE2084 | T::ARIB_STD_B67) {
        bail!(
            "the video is HDR (PQ or HLG); livc codes 8-bit SDR: tone-map it first (e.g. ffmpeg -vf zscale=t=linear,tonemap=hable,zscale=t=bt709:m=bt709:p=bt709,format=yuv420p)"
        );
    }
    if matches!(frame.color_space(), color::Space::BT2020NCL | color::Space::BT2020CL) {
        bail!(
            "the video uses the BT.2020 colour matrix; livc converts BT.709 and BT.601 only: convert it first (e.g. ffmpeg -vf zscale=m=bt709:p=bt709:t=bt709,format=yuv420p)"
        );
    }
    Ok(())
}

/// The frame size and chroma tokens of a Y4M stream header (`W`, `H`, `C`;
/// the YUV4MPEG2 format as FFmpeg and mjpegtools write it).
#[derive(Debug, Default, PartialEq)]
pub struct Y4mHeader {
    /// Frame width in pixels (`W`), when present and a number.
    pub width: Option<u64>,
    /// Frame height in pixels (`H`), when present and a number.
    pub height: Option<u64>,
    /// The chroma tag (`C`, e.g. `420jpeg`, `444`), when present.
    pub chroma: Option<String>,
}

impl Y4mHeader {
    /// Parses the header line at the start of `head` (up to its newline or
    /// the end of `head`); `None` when `head` does not start with
    /// `YUV4MPEG2 `.
    pub fn parse(head: &[u8]) -> Option<Y4mHeader> {
        let rest = head.strip_prefix(b"YUV4MPEG2 ")?;
        let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        let mut header = Y4mHeader::default();
        for token in line.split(|&b| b == b' ') {
            let Some((&tag, value)) = token.split_first() else { continue };
            let value = String::from_utf8_lossy(value);
            match tag {
                b'W' => header.width = value.parse().ok(),
                b'H' => header.height = value.parse().ok(),
                b'C' => header.chroma = Some(value.into_owned()),
                _ => {}
            }
        }
        Some(header)
    }
}

impl Y4mHeader {
    /// Bytes of one frame's planes (without its `FRAME` line): 4:2:0
    /// (the default), 4:2:2, 4:1:1, 4:4:4, 4:4:4 with alpha or mono, 8 bits
    /// or more (`p10`, `p16`: two bytes a sample). `None` without a size or
    /// for a chroma tag not listed here.
    pub fn frame_bytes(&self) -> Option<u64> {
        let (w, h) = (self.width?, self.height?);
        let tag = self.chroma.as_deref().unwrap_or("420jpeg");
        let (base, deep) = match tag.find('p').filter(|&i| tag[i + 1..].bytes().all(|b| b.is_ascii_digit())) {
            Some(i) if i > 0 && tag.len() > i + 1 => (&tag[..i], tag[i + 1..].parse::<u32>().ok()? > 8),
            _ => (tag, false),
        };
        let (cw, ch, planes) = match base {
            "420" | "420jpeg" | "420mpeg2" | "420paldv" => (w.div_ceil(2), h.div_ceil(2), 2),
            "422" => (w.div_ceil(2), h, 2),
            "411" => (w.div_ceil(4), h, 2),
            "444" => (w, h, 2),
            "444alpha" => (w, h, 3),
            "mono" => (0, 0, 0),
            _ => return None,
        };
        let samples = w.checked_mul(h)?.checked_add(cw.checked_mul(ch)?.checked_mul(planes)?)?;
        samples.checked_mul(if deep { 2 } else { 1 })
    }
}

/// Where a Y4M stream stands in its framing (a header line, then per frame a
/// `FRAME` line and the frame's planes), from the bytes seen so far.
struct Y4mFraming {
    frame_bytes: u64,
    frames: u64,
    /// Bytes seen of the header line (before its newline), of the current
    /// frame's `FRAME` line, or of its planes.
    at: Stage,
    eof: bool,
}

enum Stage {
    Header,
    FrameLine(u64),
    Planes(u64),
}

impl Y4mFraming {
    fn new(frame_bytes: u64) -> Self {
        Y4mFraming { frame_bytes, frames: 0, at: Stage::Header, eof: false }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.at {
                Stage::Header | Stage::FrameLine(_) => match bytes.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        bytes = &bytes[i + 1..];
                        self.at = match self.at {
                            Stage::Header => Stage::FrameLine(0),
                            _ => Stage::Planes(0),
                        };
                    }
                    None => {
                        if let Stage::FrameLine(n) = self.at {
                            self.at = Stage::FrameLine(n + bytes.len() as u64);
                        }
                        bytes = &[];
                    }
                },
                Stage::Planes(seen) => {
                    let take = (self.frame_bytes - seen).min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.at = if seen + take == self.frame_bytes {
                        self.frames += 1;
                        Stage::FrameLine(0)
                    } else {
                        Stage::Planes(seen + take)
                    };
                }
            }
        }
    }

    /// Bytes of the planes of an unfinished frame at the end of the stream
    /// (0: it ends in or just after the frame's `FRAME` line); `None` before
    /// the end or after a whole frame.
    fn partial(&self) -> Option<u64> {
        match self.at {
            _ if !self.eof => None,
            Stage::FrameLine(n) if n > 0 => Some(0),
            Stage::Planes(seen) => Some(seen),
            _ => None,
        }
    }
}

/// A reader that shows the bytes it passes on to a [`Y4mFraming`].
struct Watched<R> {
    inner: R,
    framing: Option<std::sync::Arc<std::sync::Mutex<Y4mFraming>>>,
}

impl<R: std::io::Read> std::io::Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(framing) = &self.framing {
            let mut framing = framing.lock().unwrap_or_else(|p| p.into_inner());
            if n == 0 && !buf.is_empty() {
                framing.eof = true;
            }
            framing.feed(&buf[..n]);
        }
        Ok(n)
    }
}

/// A Y4M header's frame size, checked against the limits before FFmpeg sees
/// it (FFmpeg's own refusal of an absurd size has no clear message). Other
/// inputs pass: their sizes are checked once the stream is open.
fn check_y4m_size(head: &[u8]) -> Result<()> {
    if let Some(Y4mHeader { width: Some(w), height: Some(h), .. }) = Y4mHeader::parse(head)
        && (w > u32::MAX as u64 || h > u32::MAX as u64 || !size_ok(w as u32, h as u32))
    {
        bail!(
            "frame size {w}×{h} is outside what livc codes (1..={} a side, at most {} megapixels)",
            crate::bitstream::MAX_SIDE,
            crate::bitstream::MAX_MEGAPIXELS
        );
    }
    Ok(())
}

/// Chroma interpolated bilinearly at full resolution, accurate rounding.
fn flags() -> scaling::Flags {
    scaling::Flags::BILINEAR
        | scaling::Flags::ACCURATE_RND
        | scaling::Flags::FULL_CHR_H_INT
        | scaling::Flags::FULL_CHR_H_INP
}

/// Sets swscale's YUV matrix and ranges: `yuv_in` when the source is YUV
/// (and the destination RGB), else the other way round.
fn set_colour(scaler: &mut scaling::Context, colour: Colour, yuv_in: bool) {
    let cs = if colour.matrix == Colour::BT601 { ffmpeg::ffi::SWS_CS_ITU601 } else { ffmpeg::ffi::SWS_CS_ITU709 };
    let yuv_range = colour.full_range as i32;
    // SAFETY: the context is valid; sws_getCoefficients returns a static table.
    unsafe {
        let table = ffmpeg::ffi::sws_getCoefficients(cs);
        let (src_range, dst_range) = if yuv_in { (yuv_range, 1) } else { (1, yuv_range) };
        ffmpeg::ffi::sws_setColorspaceDetails(
            scaler.as_mut_ptr(),
            table,
            src_range,
            table,
            dst_range,
            0,
            1 << 16,
            1 << 16,
        );
    }
}

/// Where a clip's frames go: Y4M or FFV1/Matroska, YUV 4:2:0.
pub struct ClipWriter {
    output: ffmpeg::format::context::Output,
    encoder: ffmpeg::encoder::Video,
    scaler: scaling::Context,
    time_base: ffmpeg::Rational,
    stream_time_base: ffmpeg::Rational,
    colour: Colour,
    next_pts: i64,
    /// The temporary file (none for standard output).
    file: Option<OutputFile>,
    path: PathBuf,
}

/// The container and codec for an output path: `.y4m` and `-` raw Y4M,
/// `.mkv` FFV1 in Matroska.
pub fn clip_output_kind(path: &Path) -> Result<(&'static str, ffmpeg::codec::Id)> {
    if path == Path::new("-") {
        return Ok(("yuv4mpegpipe", ffmpeg::codec::Id::WRAPPED_AVFRAME));
    }
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("y4m") => Ok(("yuv4mpegpipe", ffmpeg::codec::Id::WRAPPED_AVFRAME)),
        Some("mkv") => Ok(("matroska", ffmpeg::codec::Id::FFV1)),
        _ => bail!(
            "{}: a clip decodes to .y4m (raw), .mkv (lossless FFV1) or - (Y4M on standard output)",
            path.display()
        ),
    }
}

impl ClipWriter {
    /// Starts writing `path` (`-`: Y4M on standard output).
    pub fn create(path: &Path, width: u32, height: u32, frame_rate: FrameRate, colour: Colour) -> Result<ClipWriter> {
        init()?;
        let (format, codec_id) = clip_output_kind(path)?;
        let file = if path == Path::new("-") { None } else { Some(OutputFile::create(path)?) };
        let target = match &file {
            Some(f) => url(f.temp_path(), false)?,
            None => url(path, false)?,
        };
        let fail = |e: ffmpeg::Error| anyhow::anyhow!("cannot write {}: {e}", path.display());
        let mut output = ffmpeg::format::output_as(&target, format).map_err(fail)?;
        let codec = ffmpeg::encoder::find(codec_id).with_context(|| format!("FFmpeg has no {codec_id:?} encoder"))?;
        let global_header = output.format().flags().contains(ffmpeg::format::Flags::GLOBAL_HEADER);
        let mut encoder = ffmpeg::codec::context::Context::new_with_codec(codec).encoder().video().map_err(fail)?;
        let time_base = ffmpeg::Rational::new(frame_rate.den as i32, frame_rate.num as i32);
        encoder.set_width(width);
        encoder.set_height(height);
        encoder.set_format(Pixel::YUV420P);
        encoder.set_time_base(time_base);
        encoder.set_frame_rate(Some(ffmpeg::Rational::new(frame_rate.num as i32, frame_rate.den as i32)));
        encoder.set_colorspace(colour.space());
        encoder.set_color_range(colour.range());
        if global_header {
            encoder.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
        }
        let encoder = encoder.open_as(codec).map_err(fail)?;
        {
            let mut stream = output.add_stream(codec).map_err(fail)?;
            stream.set_parameters(&encoder);
            stream.set_time_base(time_base);
            stream.set_avg_frame_rate(ffmpeg::Rational::new(frame_rate.num as i32, frame_rate.den as i32));
            stream.set_rate(ffmpeg::Rational::new(frame_rate.num as i32, frame_rate.den as i32));
        }
        output.write_header().map_err(fail)?;
        let stream_time_base = output.stream(0).unwrap().time_base();
        let mut scaler =
            scaling::Context::get(Pixel::RGB24, width, height, Pixel::YUV420P, width, height, flags()).map_err(fail)?;
        set_colour(&mut scaler, colour, false);
        Ok(ClipWriter {
            output,
            encoder,
            scaler,
            time_base,
            stream_time_base,
            colour,
            next_pts: 0,
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one frame (its size must be the clip's).
    pub fn write(&mut self, img: &RgbImage) -> Result<()> {
        let (w, h) = (img.width as u32, img.height as u32);
        let mut rgb = ffmpeg::frame::Video::new(Pixel::RGB24, w, h);
        let stride = rgb.stride(0);
        let data = rgb.data_mut(0);
        for y in 0..img.height {
            data[y * stride..][..img.width * 3].copy_from_slice(&img.pixels[y * img.width * 3..][..img.width * 3]);
        }
        let mut yuv = ffmpeg::frame::Video::empty();
        self.scaler.run(&rgb, &mut yuv).context("swscale failed")?;
        yuv.set_color_space(self.colour.space());
        yuv.set_color_range(self.colour.range());
        yuv.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.encoder.send_frame(&yuv).map_err(|e| anyhow::anyhow!("cannot encode a frame: {e}"))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<()> {
        let mut packet = ffmpeg::Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.rescale_ts(self.time_base, self.stream_time_base);
            packet
                .write_interleaved(&mut self.output)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.path.display()))?;
        }
        Ok(())
    }

    /// Flushes the encoder, writes the trailer and, for a file, renames the
    /// temporary file to its name (replacing an existing file only with
    /// `overwrite`).
    pub fn finish(mut self, overwrite: bool) -> Result<()> {
        self.encoder.send_eof().ok();
        self.drain()?;
        self.output.write_trailer().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.path.display()))?;
        let ClipWriter { output, file, .. } = self;
        drop(output); // closes FFmpeg's handle on the file
        match file {
            Some(file) => file.commit(overwrite),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y4m_headers_give_their_size_and_chroma_and_other_inputs_none() {
        let h = Y4mHeader::parse(b"YUV4MPEG2 W352 H288 F30000:1001 Ip A1:1 C420jpeg XYSCSS=420JPEG\nFRAME\n").unwrap();
        assert_eq!(h, Y4mHeader { width: Some(352), height: Some(288), chroma: Some("420jpeg".into()) });
        // A header cut short (the first bytes of a stream), an empty token,
        // a size that is not a number.
        let h = Y4mHeader::parse(b"YUV4MPEG2  W7 Hx").unwrap();
        assert_eq!(h, Y4mHeader { width: Some(7), height: None, chroma: None });
        assert_eq!(Y4mHeader::parse(b"\x89PNG\r\n"), None);
        assert!(check_y4m_size(b"YUV4MPEG2 W99999999 H2 F25:1\n").is_err());
        assert!(check_y4m_size(b"YUV4MPEG2 W64 H48 F25:1\n").is_ok());
    }

    #[test]
    fn y4m_framing_finds_a_frame_cut_short_however_the_bytes_arrive() {
        let size = |c: &str| Y4mHeader::parse(format!("YUV4MPEG2 W5 H3 C{c}\n").as_bytes()).unwrap().frame_bytes();
        // 15 luma samples; chroma 3×2 (4:2:0), 3×3 (4:2:2), 2×3 (4:1:1), 5×3.
        assert_eq!(size("420jpeg"), Some(15 + 2 * 6));
        assert_eq!(size("420p10"), Some(2 * (15 + 2 * 6)));
        assert_eq!(size("422"), Some(15 + 2 * 9));
        assert_eq!(size("411"), Some(15 + 2 * 6));
        assert_eq!(size("444alpha"), Some(4 * 15));
        assert_eq!(size("mono"), Some(15));
        assert_eq!(size("420unknown"), None);
        let header = b"YUV4MPEG2 W5 H3 F25:1\n".to_vec();
        let frame = |params: &str| [format!("FRAME{params}\n").into_bytes(), vec![7u8; 27]].concat();
        let stream = [header, frame(""), frame(" Ixyz"), frame("")].concat();
        // Cut from the end: nothing; one byte of the last planes; all of
        // them; its FRAME line's newline too; the whole last frame (a whole,
        // shorter stream).
        for (cut, expected, frames) in
            [(0, None, 3), (1, Some(26), 2), (27, Some(0), 2), (28, Some(0), 2), (33, None, 2)]
        {
            let bytes = &stream[..stream.len() - cut];
            for chunk in [1, 5, 64] {
                let mut framing = Y4mFraming::new(27);
                bytes.chunks(chunk).for_each(|c| framing.feed(c));
                assert_eq!(framing.partial(), None, "before the end");
                framing.eof = true;
                assert_eq!(framing.partial(), expected, "cut {cut}, chunks of {chunk}");
                assert_eq!(framing.frames, frames);
            }
        }
    }
}
