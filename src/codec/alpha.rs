//! The alpha plane, coded losslessly beside the learned RGB: an 8-bit
//! grayscale PNG (deflate with PNG's row filters, through the `image` crate),
//! stored after the last tile (docs/FORMAT.md). Transparency must survive
//! exactly, and PNG is the well-kept lossless coder every viewer reads.

use anyhow::{Context, Result, bail};
use image::ImageDecoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

/// Codes a width×height alpha plane (row-major bytes) losslessly.
pub fn encode(plane: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(plane, width, height, ExtendedColorType::L8)
        .context("cannot code the alpha plane")?;
    Ok(out)
}

/// Decodes an alpha plane that must be exactly `width`×`height` 8-bit gray;
/// the size is checked from the PNG header before anything is decoded.
///
/// Errors: anything else in the file's alpha bytes ("file is corrupt").
pub fn decode(coded: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let decoder = image::codecs::png::PngDecoder::new(std::io::Cursor::new(coded))
        .context("file is corrupt: the alpha plane is not a PNG")?;
    if decoder.dimensions() != (width, height) || decoder.color_type() != image::ColorType::L8 {
        bail!("file is corrupt: the alpha plane is not {width}×{height} 8-bit gray");
    }
    let mut plane = vec![0; decoder.total_bytes() as usize];
    decoder.read_image(&mut plane).context("file is corrupt: the alpha plane does not decode")?;
    Ok(plane)
}

/// Writes the alpha plane `plane` (if any) after a file's last tile; its
/// coded bytes (0 without one). The image and VQ pipelines share it.
pub(crate) fn write(
    writer: &mut crate::bitstream::Writer,
    plane: Option<&[u8]>,
    width: u32,
    height: u32,
) -> Result<usize> {
    let Some(plane) = plane else { return Ok(0) };
    let coded = encode(plane, width, height)?;
    writer.alpha(&coded);
    Ok(coded.len())
}

/// After a file's last tile: its alpha plane when the header says it has
/// one, then the check that nothing follows.
pub(crate) fn read_and_finish(
    reader: &mut crate::bitstream::Reader,
    header: &crate::bitstream::Header,
) -> Result<Option<Vec<u8>>> {
    let alpha = if header.alpha { Some(decode(reader.alpha()?, header.width, header.height)?) } else { None };
    reader.finish()?;
    Ok(alpha)
}

#[cfg(test)]
mod tests {
    #[test]
    fn planes_round_trip_exactly_and_wrong_sizes_are_refused() {
        let plane: Vec<u8> = (0..37 * 21).map(|i| ((i * 7919) % 256) as u8).collect();
        let coded = super::encode(&plane, 37, 21).unwrap();
        assert_eq!(super::decode(&coded, 37, 21).unwrap(), plane);
        assert!(super::decode(&coded, 21, 37).unwrap_err().to_string().contains("corrupt"));
        assert!(super::decode(&coded[..coded.len() / 2], 37, 21).is_err());
    }
}
