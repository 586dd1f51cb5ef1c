//! Image quality metrics, computed the way the learned-compression literature
//! does (CompressAI's evaluation with `pytorch_msssim`), so our numbers sit on
//! the same axes as the published curves.

use crate::io::RgbImage;

/// PSNR is capped here for identical images, so JSON never holds infinity.
pub const PSNR_CAP: f64 = 100.0;

/// PSNR in dB of a mean squared error at `peak`, capped at [`PSNR_CAP`].
pub fn psnr_from_mse(mse: f64, peak: f64) -> f64 {
    if mse <= 0.0 { PSNR_CAP } else { (10.0 * (peak * peak / mse).log10()).min(PSNR_CAP) }
}

/// PSNR in dB over all RGB samples, peak 255.
pub fn psnr_rgb(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.pixels.len(), b.pixels.len(), "images differ in size");
    let sum: f64 = a.pixels.iter().zip(&b.pixels).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
    psnr_from_mse(sum / a.pixels.len() as f64, 255.0)
}

/// Full-range BT.601 luma (what JPEG, WebP and BPG call Y), in 0..255.
fn luma(px: &[u8]) -> f64 {
    0.299 * px[0] as f64 + 0.587 * px[1] as f64 + 0.114 * px[2] as f64
}

/// How visible the borders every `period` pixels are (tiles or windows):
/// the largest, over all vertical and horizontal borders, of the mean
/// squared error of the 4 pixel columns (rows) at the border, divided by
/// that of the 64-pixel bands beside them. 1 means the border is as good as
/// its neighbourhood; a seam shows as 2 and more. `None` without a border.
pub fn seam_ratio(original: &RgbImage, decoded: &RgbImage, period: usize) -> Option<f64> {
    let (w, h) = (original.width, original.height);
    let err = |x: usize, y: usize| -> f64 {
        let i = (y * w + x) * 3;
        (0..3).map(|c| (original.pixels[i + c] as f64 - decoded.pixels[i + c] as f64).powi(2)).sum()
    };
    let columns: Vec<f64> = (0..w).map(|x| (0..h).map(|y| err(x, y)).sum()).collect();
    let rows: Vec<f64> = (0..h).map(|y| (0..w).map(|x| err(x, y)).sum()).collect();
    let ratio = |lines: &[f64], at: usize| -> Option<f64> {
        let (a, b) = (at.checked_sub(2)?, at + 2);
        let (lo, hi) = (at.checked_sub(66)?, at + 66);
        if hi > lines.len() {
            return None;
        }
        let border = lines[a..b].iter().sum::<f64>() / 4.0;
        let beside = (lines[lo..a].iter().sum::<f64>() + lines[b..hi].iter().sum::<f64>()) / 128.0;
        Some(border / beside.max(f64::MIN_POSITIVE))
    };
    let vertical = (1..).map(|k| k * period).take_while(|&x| x < w).filter_map(|x| ratio(&columns, x));
    let horizontal = (1..).map(|k| k * period).take_while(|&y| y < h).filter_map(|y| ratio(&rows, y));
    vertical.chain(horizontal).reduce(f64::max)
}

/// PSNR in dB of the BT.601 luma plane, peak 255.
pub fn psnr_y(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.pixels.len(), b.pixels.len(), "images differ in size");
    let sum: f64 =
        a.pixels.chunks_exact(3).zip(b.pixels.chunks_exact(3)).map(|(x, y)| (luma(x) - luma(y)).powi(2)).sum();
    psnr_from_mse(sum / (a.width * a.height) as f64, 255.0)
}

const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const WINDOW: usize = 11;

/// The smallest side MS-SSIM accepts: five scales of an 11-tap window.
pub const MS_SSIM_MIN_SIDE: usize = (WINDOW - 1) * 16 + 1;

/// Multi-scale SSIM (Wang et al. 2003) on RGB in [0, 1], averaged over the
/// three channels, matching `pytorch_msssim.ms_ssim(data_range=1)`: Gaussian
/// window 11/σ1.5 without padding, 2×2 average pooling that zero-pads odd
/// sides at the start, negative contrast terms clamped to 0. `None` when the
/// image is too small for five scales.
pub fn ms_ssim(a: &RgbImage, b: &RgbImage) -> Option<f64> {
    assert_eq!((a.width, a.height), (b.width, b.height), "images differ in size");
    if a.width.min(a.height) < MS_SSIM_MIN_SIDE {
        return None;
    }
    let window = gaussian_window();
    let per_channel: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|c| {
                let window = &window;
                s.spawn(move || {
                    let x = Plane::channel(a, c);
                    let y = Plane::channel(b, c);
                    ms_ssim_plane(x, y, window)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("MS-SSIM worker panicked")).collect()
    });
    Some(per_channel.iter().sum::<f64>() / 3.0)
}

#[derive(Clone)]
struct Plane {
    w: usize,
    h: usize,
    v: Vec<f64>,
}

impl Plane {
    fn channel(img: &RgbImage, c: usize) -> Plane {
        let v = img.pixels.iter().skip(c).step_by(3).map(|&p| p as f64 / 255.0).collect();
        Plane { w: img.width, h: img.height, v }
    }

    fn map(&self, other: &Plane, f: impl Fn(f64, f64) -> f64) -> Plane {
        Plane { w: self.w, h: self.h, v: self.v.iter().zip(&other.v).map(|(&a, &b)| f(a, b)).collect() }
    }

    /// Separable Gaussian filter, "valid" region only (no padding).
    fn filter(&self, g: &[f64]) -> Plane {
        let k = g.len();
        let (w, h) = (self.w - k + 1, self.h - k + 1);
        let mut rows = vec![0.0; self.w * h];
        for y in 0..h {
            for x in 0..self.w {
                rows[y * self.w + x] = (0..k).map(|i| g[i] * self.v[(y + i) * self.w + x]).sum();
            }
        }
        let mut out = vec![0.0; w * h];
        for y in 0..h {
            let row = &rows[y * self.w..(y + 1) * self.w];
            for x in 0..w {
                out[y * w + x] = (0..k).map(|i| g[i] * row[x + i]).sum();
            }
        }
        Plane { w, h, v: out }
    }

    /// 2×2 average pooling with stride 2; an odd side is zero-padded by one
    /// sample at the start and the end (torch's `avg_pool2d(padding=s % 2)`,
    /// zeros counted in the mean).
    fn downsample(&self) -> Plane {
        let (px, py) = (self.w % 2, self.h % 2);
        let (w, h) = ((self.w + 2 * px - 2) / 2 + 1, (self.h + 2 * py - 2) / 2 + 1);
        let at = |x: isize, y: isize| -> f64 {
            if x < 0 || y < 0 || x >= self.w as isize || y >= self.h as isize {
                0.0
            } else {
                self.v[y as usize * self.w + x as usize]
            }
        };
        let mut out = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = ((2 * x) as isize - px as isize, (2 * y) as isize - py as isize);
                out[y * w + x] = (at(sx, sy) + at(sx + 1, sy) + at(sx, sy + 1) + at(sx + 1, sy + 1)) / 4.0;
            }
        }
        Plane { w, h, v: out }
    }
}

/// The Gaussian window (11 taps, σ 1.5) exactly as `pytorch_msssim` holds it:
/// computed by torch in f32 (its summation order included), then widened.
/// Using its values rather than our own f64 Gaussian keeps our MS-SSIM equal
/// to the published tooling's to ~1e-12 instead of ~1e-8.
fn gaussian_window() -> Vec<f64> {
    const HALF: [f32; 6] = [0.0010283804, 0.007598758, 0.036000773, 0.10936069, 0.21300553, 0.26601171];
    (0..WINDOW).map(|i| HALF[i.min(WINDOW - 1 - i)] as f64).collect()
}

/// (mean SSIM, mean contrast-structure) of one scale.
fn ssim_and_cs(x: &Plane, y: &Plane, g: &[f64]) -> (f64, f64) {
    const C1: f64 = 0.01 * 0.01;
    const C2: f64 = 0.03 * 0.03;
    let mu_x = x.filter(g);
    let mu_y = y.filter(g);
    let xx = x.map(x, |a, b| a * b).filter(g);
    let yy = y.map(y, |a, b| a * b).filter(g);
    let xy = x.map(y, |a, b| a * b).filter(g);
    let (mut ssim, mut cs) = (0.0, 0.0);
    for i in 0..mu_x.v.len() {
        let (mx, my) = (mu_x.v[i], mu_y.v[i]);
        let var_x = xx.v[i] - mx * mx;
        let var_y = yy.v[i] - my * my;
        let cov = xy.v[i] - mx * my;
        let cs_i = (2.0 * cov + C2) / (var_x + var_y + C2);
        cs += cs_i;
        ssim += (2.0 * mx * my + C1) / (mx * mx + my * my + C1) * cs_i;
    }
    let n = mu_x.v.len() as f64;
    (ssim / n, cs / n)
}

fn ms_ssim_plane(mut x: Plane, mut y: Plane, g: &[f64]) -> f64 {
    let mut value = 1.0;
    for (level, weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let (ssim, cs) = ssim_and_cs(&x, &y, g);
        if level + 1 < MS_SSIM_WEIGHTS.len() {
            value *= cs.max(0.0).powf(*weight);
            x = x.downsample();
            y = y.downsample();
        } else {
            value *= ssim.max(0.0).powf(*weight);
        }
    }
    value
}

/// SSIMULACRA 2 (Cloudinary's perceptual metric, via the `ssimulacra2`
/// crate of rust-av): about 90 for visually lossless, 70 high, 50 medium,
/// 30 low quality; negative for severe distortion. Both images are read as
/// sRGB (BT.709 primaries). `None` when the metric refuses the images (it
/// needs at least 8×8 pixels).
pub fn ssimulacra2(a: &RgbImage, b: &RgbImage) -> Option<f64> {
    use ::ssimulacra2::{ColorPrimaries, Rgb, TransferCharacteristic, compute_frame_ssimulacra2};
    let rgb = |img: &RgbImage| {
        let px = img.pixels.chunks_exact(3).map(|p| [p[0] as f32 / 255.0, p[1] as f32 / 255.0, p[2] as f32 / 255.0]);
        Rgb::new(px.collect(), img.width, img.height, TransferCharacteristic::SRGB, ColorPrimaries::BT709).ok()
    };
    compute_frame_ssimulacra2(rgb(a)?, rgb(b)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize, f: impl Fn(usize, usize, usize) -> u8) -> RgbImage {
        let mut pixels = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    pixels.push(f(x, y, c));
                }
            }
        }
        RgbImage { width: w, height: h, pixels }
    }

    #[test]
    fn psnr_of_a_known_error() {
        // Every sample off by 5: MSE 25, PSNR = 10·log10(255²/25).
        let a = image(8, 8, |x, y, c| (x * 20 + y + c) as u8);
        let b = image(8, 8, |x, y, c| (x * 20 + y + c) as u8 + 5);
        let expected = 10.0 * (255.0f64 * 255.0 / 25.0).log10();
        assert!((psnr_rgb(&a, &b) - expected).abs() < 1e-12);
        // Luma of (+5, +5, +5) is +5 as well (weights sum to 1).
        assert!((psnr_y(&a, &b) - expected).abs() < 1e-9);
        assert_eq!(psnr_rgb(&a, &a), PSNR_CAP);
    }

    #[test]
    fn psnr_y_ignores_chroma_only_changes_that_keep_luma() {
        // Swapping +R for a luma-equivalent −G change keeps Y nearly equal but not RGB.
        let a = image(4, 4, |_, _, _| 100);
        let b = image(4, 4, |_, _, c| [100 + 59, 100 - 30, 100][c]);
        assert!(psnr_y(&a, &b) > 55.0, "{}", psnr_y(&a, &b));
        assert!(psnr_rgb(&a, &b) < 30.0);
    }

    #[test]
    fn ms_ssim_limits() {
        let a = image(200, 170, |x, y, c| ((x * 7 + y * 3 + c * 50) % 256) as u8);
        assert!((ms_ssim(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        let small = image(160, 300, |_, _, _| 0);
        assert_eq!(ms_ssim(&small, &small), None);
    }
}
