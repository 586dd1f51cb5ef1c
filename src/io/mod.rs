//! Reading and writing images (8-bit RGB) through the `image` crate.

use anyhow::{Context, Result, bail};
use image::{DynamicImage, ImageFormat};
use std::io::{Read, Write};
use std::path::Path;

/// An 8-bit RGB image, interleaved, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
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

const EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "ppm", "pgm", "pnm", "pbm", "pam"];

pub fn is_image_path(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Reads an image file (`-` reads standard input).
pub fn read_image(path: &Path) -> Result<RgbImage> {
    let bytes = if path == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("cannot read standard input")?;
        b
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    decode_image_bytes(&bytes).with_context(|| format!("cannot decode image {}", path.display()))
}

/// Decodes PNG, JPEG, WebP, TIFF, BMP or PNM bytes. Grayscale becomes RGB;
/// an alpha channel is accepted only when fully opaque; more than 8 bits per
/// sample is refused rather than silently truncated.
pub fn decode_image_bytes(bytes: &[u8]) -> Result<RgbImage> {
    let format = image::guess_format(bytes).context("unrecognised image format")?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    // Refuse absurd sizes before allocating (the codec's own limit is checked later).
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(1 << 16);
    limits.max_image_height = Some(1 << 16);
    limits.max_alloc = Some(8 << 30);
    reader.limits(limits);
    let img = reader.decode()?;
    if img.color().bytes_per_pixel() / img.color().channel_count() > 1 {
        bail!("{:?} images have more than 8 bits per sample; livc codes 8-bit RGB (convert first)", img.color());
    }
    if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        if rgba.pixels().any(|p| p.0[3] != 255) {
            bail!("the image has transparency; livc codes RGB only (flatten the alpha channel first)");
        }
    }
    let rgb = img.to_rgb8();
    Ok(RgbImage { width: rgb.width() as usize, height: rgb.height() as usize, pixels: rgb.into_raw() })
}

/// Writes an image; the format follows the extension (PNG for `-`, standard output).
pub fn write_image(path: &Path, img: &RgbImage) -> Result<()> {
    let buffer = image::RgbImage::from_raw(img.width as u32, img.height as u32, img.pixels.clone())
        .context("image buffer has the wrong size")?;
    let dynamic = DynamicImage::ImageRgb8(buffer);
    if path == Path::new("-") {
        let mut out = std::io::Cursor::new(Vec::new());
        dynamic.write_to(&mut out, ImageFormat::Png)?;
        std::io::stdout().write_all(out.get_ref())?;
        return Ok(());
    }
    let format = ImageFormat::from_path(path).unwrap_or(ImageFormat::Png);
    dynamic.save_with_format(path, format).with_context(|| format!("cannot write {}", path.display()))
}

/// PSNR in dB over all RGB samples (peak 255).
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a.pixels.iter().zip(&b.pixels).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>()
        / a.pixels.len() as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}
