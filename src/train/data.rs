//! Training images and the random crops drawn from them.
//!
//! Crops for step `s` depend only on (seed, s), so a run that resumes from a
//! checkpoint sees exactly the crops it would have seen without stopping.

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

use crate::io::RgbImage;

/// Loads every decodable image in `dir` whose sides are at least `min_side`.
pub fn load_folder(dir: &Path, min_side: usize) -> Result<Vec<RgbImage>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read training folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| crate::io::is_image_path(p))
        .collect();
    paths.sort();
    let mut images = Vec::new();
    for path in paths {
        let img = crate::io::read_image(&path)?;
        if img.width >= min_side && img.height >= min_side {
            images.push(img);
        }
    }
    if images.is_empty() {
        bail!("no images of at least {min_side}×{min_side} pixels in {}", dir.display());
    }
    Ok(images)
}

/// Per-step random source, independent of what earlier steps drew.
pub fn step_rng(seed: u64, step: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// `count` random `size`×`size` crops with random horizontal flips, as
/// planar f32 in [0, 1], laid out `[count][3][size][size]`.
pub fn random_crops(images: &[RgbImage], rng: &mut StdRng, count: usize, size: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(count * 3 * size * size);
    for _ in 0..count {
        let img = &images[rng.random_range(0..images.len())];
        let x0 = rng.random_range(0..=img.width - size);
        let y0 = rng.random_range(0..=img.height - size);
        let flip = rng.random_bool(0.5);
        out.extend(planar_crop(img, x0, y0, size, flip));
    }
    out
}

/// A fixed crop (centre), for validation.
pub fn centre_crop(img: &RgbImage, size: usize) -> Vec<f32> {
    planar_crop(img, (img.width - size) / 2, (img.height - size) / 2, size, false)
}

fn planar_crop(img: &RgbImage, x0: usize, y0: usize, size: usize, flip: bool) -> Vec<f32> {
    let mut out = vec![0f32; 3 * size * size];
    for y in 0..size {
        for x in 0..size {
            let sx = if flip { x0 + size - 1 - x } else { x0 + x };
            let p = ((y0 + y) * img.width + sx) * 3;
            for c in 0..3 {
                out[(c * size + y) * size + x] = img.pixels[p + c] as f32 / 255.0;
            }
        }
    }
    out
}

/// Uniform noise in [-0.5, 0.5) from the step's random source.
pub fn uniform_noise(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random::<f32>() - 0.5).collect()
}
