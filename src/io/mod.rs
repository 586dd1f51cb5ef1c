//! Reading and writing images through the `image` crate: 8-bit RGB plus an
//! optional alpha plane, with the file's display metadata applied.
//!
//! What reading does with a file's metadata (the README's "Inputs" section):
//! - **EXIF orientation** (JPEG, PNG, TIFF, WebP): applied, so the pixels are
//!   coded upright as a viewer shows them.
//! - **ICC colour profile**: converted to sRGB with `moxcms` (the colour
//!   management `image` itself uses); a profile equal to sRGB is left alone, one
//!   that cannot be parsed or applied gives a warning and the raw values.
//! - **PNG gAMA without sRGB/ICC**: not applied; a warning names the gamma.
//! - **16 bits per sample**: reduced to 8 bits with rounding, round(v / 257).
//!   32-bit float samples (HDR) are refused: livc codes 8-bit sRGB.
//! - **Alpha**: kept as its own plane when any pixel is not fully opaque
//!   (coded losslessly beside the learned RGB); a fully opaque one is dropped.
//!
//! Every size is checked against [`MAX_SIDE`] and [`MAX_PIXELS`] from the
//! header, before any pixel is decoded.

use anyhow::{Context, Result, bail};
use image::{DynamicImage, ImageDecoder, ImageFormat};
use std::io::{Read, Write};
use std::path::Path;

pub use crate::bitstream::{MAX_PIXELS, MAX_SIDE};

pub mod video;

/// An 8-bit RGB image, interleaved, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `width × height × 3` samples, R G B per pixel.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// The `w`×`h` window whose top-left corner is (`x0`, `y0`); it must lie inside.
    pub fn crop(&self, x0: usize, y0: usize, w: usize, h: usize) -> RgbImage {
        let mut pixels = Vec::with_capacity(w * h * 3);
        for y in y0..y0 + h {
            pixels.extend_from_slice(&self.pixels[(y * self.width + x0) * 3..][..w * 3]);
        }
        RgbImage { width: w, height: h, pixels }
    }
}

/// An image as read from a file: what livc codes, and what reading did to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// Upright sRGB, 8 bits per sample.
    pub rgb: RgbImage,
    /// The alpha plane, width×height bytes row-major (255 = opaque); `None`
    /// when the file has none or every pixel is opaque.
    pub alpha: Option<Vec<u8>>,
    /// One line per conversion applied or metadata ignored, for the user.
    pub notes: Vec<String>,
}

const EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "ppm", "pgm", "pnm", "pbm", "pam"];

/// Whether `path` has an image extension livc reads (png, jpg/jpeg, webp,
/// tif/tiff, bmp, PNM family; case-insensitive).
pub fn is_image_path(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Reads a file's bytes; `-` reads standard input.
///
/// Errors: the file cannot be read (the message names it).
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("cannot read standard input")?;
        return Ok(b);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// An input whose first bytes have been read, to tell a clip from an image
/// by its magic before choosing how to read the rest.
pub struct Peeked {
    /// Up to 256 bytes from the start.
    pub head: Vec<u8>,
    /// Whether the input is a regular file, which can be opened again and
    /// read from any offset (not standard input, a named pipe, a device).
    pub is_file: bool,
    rest: Box<dyn Read + Send>,
}

impl Peeked {
    /// Opens `path` (`-`: standard input) and reads its first bytes.
    pub fn open(path: &Path) -> Result<Peeked> {
        let (mut rest, is_file): (Box<dyn Read + Send>, bool) = if path == Path::new("-") {
            (Box::new(std::io::stdin()), false)
        } else {
            let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            let is_file = file.metadata().is_ok_and(|m| m.is_file());
            (Box::new(file), is_file)
        };
        let mut head = Vec::with_capacity(256);
        (&mut rest).take(256).read_to_end(&mut head).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Peeked { head, is_file, rest })
    }

    /// The whole input again, from its first byte.
    pub fn into_reader(self) -> impl Read + Send + 'static {
        std::io::Cursor::new(self.head).chain(self.rest)
    }

    /// The bytes read so far and the rest of the input.
    pub fn into_parts(self) -> (Vec<u8>, Box<dyn Read + Send>) {
        (self.head, self.rest)
    }

    /// All of the input's bytes.
    pub fn read_all(self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.into_reader().read_to_end(&mut bytes).context("cannot read the input")?;
        Ok(bytes)
    }
}

/// Reads an image file (`-` reads standard input), see [`decode_picture_bytes`].
pub fn read_picture(path: &Path) -> Result<Picture> {
    let bytes = read_input(path)?;
    decode_picture_bytes(&bytes).with_context(|| format!("cannot decode image {}", path.display()))
}

/// Reads an image's RGB, upright and in sRGB; an alpha plane is ignored
/// (for evaluation, training and `livc compare`, which measure RGB).
pub fn read_image(path: &Path) -> Result<RgbImage> {
    read_picture(path).map(|p| p.rgb)
}

/// Decodes PNG, JPEG, WebP, TIFF, BMP or PNM bytes (see the module's notes).
///
/// Errors: an unrecognised or corrupt file; a side above [`MAX_SIDE`] or more
/// than [`MAX_PIXELS`] pixels (checked from the header, before decoding);
/// floating-point samples.
pub fn decode_picture_bytes(bytes: &[u8]) -> Result<Picture> {
    if bytes.is_empty() {
        bail!("the file is empty");
    }
    let format = image::guess_format(bytes).map_err(|_| anyhow::anyhow!("unrecognised image format"))?;
    if format == ImageFormat::Png {
        check_png_palette(bytes)?;
    }
    // Defence in depth: a decoder library that panics on a malformed file
    // (one did, see check_png_palette) gives an error, not a crash.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_checked(bytes, format))).unwrap_or_else(|_| {
        bail!("the {format:?} decoder failed on this file (a bug in the decoder library; the file is malformed)")
    })
}

/// [`decode_picture_bytes`] once the format is known.
fn decode_checked(bytes: &[u8], format: ImageFormat) -> Result<Picture> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    // The sides are checked below with livc's own message, once the header
    // is read (into_decoder reads only the header); the allocation limit
    // covers the largest image livc accepts at 4 channels of 16 bits.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(plain)?;
    let (w, h) = decoder.dimensions();
    check_size(w, h)?;
    let mut notes = Vec::new();
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(decoder).map_err(plain)?;
    if orientation != image::metadata::Orientation::NoTransforms {
        img.apply_orientation(orientation);
        notes.push(format!("applied the EXIF orientation ({orientation:?})"));
    }
    let color = img.color();
    match color {
        image::ColorType::Rgb32F | image::ColorType::Rgba32F => {
            bail!("{color:?} images have floating-point (HDR) samples; livc codes 8-bit sRGB (tone-map first)")
        }
        _ if color.bytes_per_pixel() / color.channel_count() == 2 => {
            notes.push("16-bit samples reduced to 8 bits (rounded)".into());
        }
        _ => {}
    }
    let alpha = if color.has_alpha() {
        let plane: Vec<u8> = img.to_rgba8().pixels().map(|p| p.0[3]).collect();
        plane.iter().any(|&a| a != 255).then_some(plane)
    } else {
        None
    };
    let rgb = img.to_rgb8();
    let mut rgb = RgbImage { width: rgb.width() as usize, height: rgb.height() as usize, pixels: rgb.into_raw() };
    if let Some(icc) = icc {
        to_srgb(&mut rgb, &icc, color.has_color(), &mut notes);
    }
    if format == ImageFormat::Png {
        png_gamma_note(bytes, &mut notes);
    }
    Ok(Picture { rgb, alpha, notes })
}

/// An `image` error as one line: its message already contains its source's,
/// which a chained report would repeat.
fn plain(e: image::ImageError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.to_string().split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Refuses a PNG whose PLTE chunk before the first IDAT is not 1..=256 whole
/// RGB entries (PNG spec 11.2.3). The `png` crate (0.18.1) does not check
/// this and panics expanding such a palette (transform/palette.rs:74); our
/// `read_image` fuzz target found it. Only chunk headers are read.
fn check_png_palette(bytes: &[u8]) -> Result<()> {
    let mut at = 8; // the signature
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes(header[..4].try_into().unwrap()) as usize;
        match &header[4..] {
            b"PLTE" if !len.is_multiple_of(3) || len == 0 || len > 768 => {
                bail!("corrupt PNG: its palette is {len} bytes, not 1 to 256 RGB entries")
            }
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        at = at.saturating_add(12).saturating_add(len);
    }
    Ok(())
}

/// Refuses sizes livc cannot code ([`crate::bitstream::size_ok`]), naming the size.
fn check_size(w: u32, h: u32) -> Result<()> {
    if !crate::bitstream::size_ok(w, h) {
        bail!(
            "the image claims {w}×{h} pixels; livc accepts 1..={MAX_SIDE} a side and at most {} megapixels",
            crate::bitstream::MAX_MEGAPIXELS
        );
    }
    Ok(())
}

/// Converts `rgb` from the ICC profile `icc` to sRGB in place, unless the
/// profile is sRGB already (the transform moves no sample of a test pattern
/// by more than 1). A gray source (its RGB is gray) is converted the same way
/// only when its profile is an RGB one; otherwise, and when the profile
/// cannot be used, a note says the values are kept as they are.
fn to_srgb(rgb: &mut RgbImage, icc: &[u8], has_color: bool, notes: &mut Vec<String>) {
    use moxcms::{ColorProfile, DataColorSpace, Layout, ProfileClass, TransformOptions};
    // The converted pixels, `None` for an sRGB-equivalent profile.
    let converted = || -> Result<Option<Vec<u8>>, String> {
        let p = ColorProfile::new_from_slice(icc).map_err(|e| e.to_string())?;
        // Only a profile that describes RGB pixels: not an abstract or link
        // profile (those transform colours rather than describe them).
        let device = matches!(
            p.profile_class,
            ProfileClass::InputDevice | ProfileClass::DisplayDevice | ProfileClass::ColorSpace
        );
        if !device || p.color_space != DataColorSpace::Rgb {
            return Err(format!("a {:?} profile for {:?} data, not an RGB one", p.profile_class, p.color_space));
        }
        let transform = p
            .create_transform_8bit(Layout::Rgb, &ColorProfile::new_srgb(), Layout::Rgb, TransformOptions::default())
            .map_err(|e| e.to_string())?;
        let pattern: Vec<u8> = (0..=255u8).flat_map(|v| [v, v / 2, 255 - v]).collect();
        let mut moved = vec![0; pattern.len()];
        transform.transform(&pattern, &mut moved).map_err(|e| e.to_string())?;
        if pattern.iter().zip(&moved).all(|(&a, &b)| a.abs_diff(b) <= 1) {
            return Ok(None);
        }
        let mut out = vec![0; rgb.pixels.len()];
        transform.transform(&rgb.pixels, &mut out).map_err(|e| e.to_string())?;
        Ok(Some(out))
    };
    match converted() {
        Ok(None) => {}
        Ok(Some(out)) => {
            rgb.pixels = out;
            notes.push("converted from the embedded ICC profile to sRGB".into());
        }
        Err(e) => {
            let kind = if has_color { "" } else { "gray " };
            notes.push(format!(
                "warning: the {kind}image's ICC profile cannot be applied ({e}); its values are coded as sRGB"
            ));
        }
    }
}

/// A PNG that states a gamma (gAMA) but neither sRGB nor an ICC profile:
/// livc does not apply it, so say so when it is not sRGB's ≈ 1/2.2.
fn png_gamma_note(bytes: &[u8], notes: &mut Vec<String>) {
    let Ok(reader) = png::Decoder::new(std::io::Cursor::new(bytes)).read_info() else { return };
    let info = reader.info();
    if let (Some(gamma), None, None) = (info.gama_chunk, info.srgb, &info.icc_profile) {
        let g = gamma.into_value();
        if (g - 1.0 / 2.2).abs() > 0.01 {
            notes.push(format!(
                "warning: the PNG states gamma {g:.4} (gAMA), which livc does not apply; its values are coded as sRGB"
            ));
        }
    }
}

/// Output image formats by extension: PNG (also for `-` and for a name
/// without extension), JPEG, WebP (lossless), TIFF, BMP, binary PPM (P6;
/// `.pnm` too) and PAM (P7, which also holds alpha).
const OUTPUT_EXTENSIONS: &str = "png, jpg/jpeg, webp, tif/tiff, bmp, ppm/pnm, pam";

/// The format an output image is written in, from its name; and whether that
/// format can hold an alpha plane. Checked before any work is done.
///
/// Errors: an extension livc cannot write (named, with the list it can).
pub fn output_format(path: &Path) -> Result<(ImageFormat, bool)> {
    let ext = path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    if path == Path::new("-") || ext.is_none() {
        return Ok((ImageFormat::Png, true));
    }
    Ok(match ext.as_deref().unwrap() {
        "png" => (ImageFormat::Png, true),
        "jpg" | "jpeg" => (ImageFormat::Jpeg, false),
        "webp" => (ImageFormat::WebP, true),
        "tif" | "tiff" => (ImageFormat::Tiff, true),
        "bmp" => (ImageFormat::Bmp, false),
        "ppm" | "pnm" => (ImageFormat::Pnm, false),
        "pam" => (ImageFormat::Pnm, true),
        other => bail!("livc cannot write .{other} images ({}); it writes {OUTPUT_EXTENSIONS}", path.display()),
    })
}

/// Encodes RGB (and alpha, when given: width×height bytes) as `format`;
/// PNM is binary PPM (P6) for RGB and PAM (P7) with alpha.
///
/// Errors: alpha for a format that cannot hold it (JPEG, BMP), or an encoder failure.
pub fn encode_image(img: &RgbImage, alpha: Option<&[u8]>, format: ImageFormat) -> Result<Vec<u8>> {
    use image::ExtendedColorType::{Rgb8, Rgba8};
    use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
    let (w, h) = (img.width as u32, img.height as u32);
    if img.pixels.len() != img.width * img.height * 3 || alpha.is_some_and(|a| a.len() != img.width * img.height) {
        bail!("image buffers have the wrong size");
    }
    let mut out = std::io::Cursor::new(Vec::new());
    match alpha {
        None if format == ImageFormat::Pnm => PnmEncoder::new(&mut out)
            .with_subtype(PnmSubtype::Pixmap(SampleEncoding::Binary))
            .encode(&img.pixels[..], w, h, Rgb8)?,
        None => image::write_buffer_with_format(&mut out, &img.pixels, w, h, Rgb8, format)?,
        Some(a) => {
            if !matches!(format, ImageFormat::Png | ImageFormat::WebP | ImageFormat::Tiff | ImageFormat::Pnm) {
                bail!("the image has transparency, which {format:?} cannot hold; write PNG, WebP, TIFF or PAM");
            }
            let rgba: Vec<u8> = img.pixels.chunks_exact(3).zip(a).flat_map(|(p, &a)| [p[0], p[1], p[2], a]).collect();
            image::write_buffer_with_format(&mut out, &rgba, w, h, Rgba8, format)?
        }
    }
    Ok(out.into_inner())
}

/// Writes an image in the format its extension names ([`output_format`]);
/// atomic, as [`write_file`].
pub fn write_picture(path: &Path, img: &RgbImage, alpha: Option<&[u8]>, overwrite: bool) -> Result<()> {
    let (format, _) = output_format(path)?;
    write_file(path, &encode_image(img, alpha, format)?, overwrite)
}

/// `img` resampled to `width`×`height` pixels with a Lanczos 3 filter (the
/// `image` crate's): the VQ mode's coded resolutions, the evaluation's
/// downscaled anchors.
pub fn resize_lanczos(img: &RgbImage, width: usize, height: usize) -> RgbImage {
    if (width, height) == (img.width, img.height) {
        return img.clone();
    }
    let buffer = image::RgbImage::from_raw(img.width as u32, img.height as u32, img.pixels.clone())
        .expect("pixels match the size");
    let out = image::imageops::resize(&buffer, width as u32, height as u32, image::imageops::FilterType::Lanczos3);
    RgbImage { width, height, pixels: out.into_raw() }
}

/// Writes an RGB image in the format its extension names, replacing an
/// existing file (tests, evaluation). Errors: as [`write_picture`].
pub fn write_image(path: &Path, img: &RgbImage) -> Result<()> {
    write_picture(path, img, None, true)
}

/// Writes `bytes` to `path` (`-`: standard output) so that a failure never
/// leaves a partial or empty file ([`OutputFile`]). Without `overwrite` an
/// existing `path` is refused, also one that appears while writing.
pub fn write_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes).and_then(|()| out.flush()).context("cannot write standard output")?;
        return Ok(());
    }
    let mut file = OutputFile::create(path)?;
    file.file().write_all(bytes).map_err(|e| file.failed(e))?;
    file.commit(overwrite)
}

/// An output file under construction: a temporary file in the target's
/// folder (mode 0666 less the umask, like any new file), renamed to the
/// target by [`OutputFile::commit`]. Dropped without a commit, it is
/// deleted, so a failure leaves no partial file.
pub struct OutputFile {
    path: std::path::PathBuf,
    /// Taken by [`OutputFile::commit`].
    temp: Option<tempfile::NamedTempFile>,
}

/// The temporary files of the [`OutputFile`]s being written, so that an
/// interrupted run can remove them ([`remove_unfinished_outputs`]).
static UNFINISHED: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Deletes the temporary files of outputs still being written (for a
/// Ctrl-C/SIGTERM handler, which exits without running destructors).
pub fn remove_unfinished_outputs() {
    if let Ok(paths) = UNFINISHED.lock() {
        for path in paths.iter() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn unfinished(path: &Path, add: bool) {
    if let Ok(mut paths) = UNFINISHED.lock() {
        match add {
            true => paths.push(path.to_path_buf()),
            false => paths.retain(|p| p != path),
        }
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some(temp) = &self.temp {
            unfinished(temp.path(), false);
        }
    }
}

impl OutputFile {
    /// Starts an output to `path`: a temporary file in its folder. Errors: the
    /// temporary file cannot be created there.
    pub fn create(path: &Path) -> Result<OutputFile> {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".livc-").suffix(".part");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder.tempfile_in(folder).map_err(|e| failed(path, e))?;
        unfinished(temp.path(), true);
        Ok(OutputFile { path: path.to_path_buf(), temp: Some(temp) })
    }

    /// The temporary file's path (for writers that open files by name).
    pub fn temp_path(&self) -> &Path {
        self.temp.as_ref().expect("not yet committed").path()
    }

    /// The temporary file, to write into. Panics once committed.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.temp.as_mut().expect("not yet committed").as_file_mut()
    }

    /// An io error in plain words, without the temporary file's name.
    pub fn failed(&self, e: std::io::Error) -> anyhow::Error {
        failed(&self.path, e)
    }

    /// Syncs and renames the file to its target; an existing target is
    /// replaced only with `overwrite` (else: an error saying to pass --force).
    pub fn commit(mut self, overwrite: bool) -> Result<()> {
        let path = self.path.clone();
        let temp = self.temp.take().expect("an output file is committed once");
        let temp_path = temp.path().to_path_buf();
        temp.as_file().sync_all().map_err(|e| failed(&path, e))?;
        let written =
            if overwrite { temp.persist(&path).map(|_| ()) } else { temp.persist_noclobber(&path).map(|_| ()) };
        // Renamed, or deleted when the rename failed: nothing left to clean up.
        unfinished(&temp_path, false);
        written.map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!("{} exists; pass --force to overwrite it", path.display())
            }
            _ if path.is_dir() => anyhow::anyhow!("{} is a folder", path.display()),
            _ => failed(&path, e.error),
        })
    }
}

fn failed(path: &Path, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot write {}: {}", path.display(), std::io::Error::from(e.kind()))
}

/// Whether two paths name the same existing file (also through links; `-`
/// is whatever standard input reads, when that is a file).
pub fn same_file(a: &Path, b: &Path) -> bool {
    let stdin = |p: &Path| if p == Path::new("-") { Path::new("/dev/stdin").to_path_buf() } else { p.to_path_buf() };
    match (std::fs::metadata(stdin(a)), std::fs::metadata(stdin(b))) {
        #[cfg(unix)]
        (Ok(x), Ok(y)) => {
            use std::os::unix::fs::MetadataExt;
            (x.dev(), x.ino()) == (y.dev(), y.ino())
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => a.canonicalize().ok() == b.canonicalize().ok(),
        _ => false,
    }
}

/// PSNR in dB over all RGB samples (peak 255).
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a.pixels.iter().zip(&b.pixels).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>()
        / a.pixels.len() as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}
