//! Integer copy of the scale branch of the hyper-synthesis.
//!
//! The scale level of every y element selects the probability table that
//! parses it, so it must come out identical on every machine. This network
//! computes it from the decoded integers ẑ with i32 arithmetic only:
//! int8 weights with a power-of-two scale per layer, fixed-point activations
//! clamped to 12 bits (+sign), floor shifts. Bounds that keep every sum within
//! i32 (also in WGSL): |a| < 2^12, |w| < 2^7, taps ≤ 2^10, |bias| ≤ 2^29.
//!
//! Layout and order mirror [`super::Hyperprior::hyper_scale_level`]:
//! conv3×3 → pixel shuffle ×2 → ReLU, twice, then conv3×3 → level.

use serde::{Deserialize, Serialize};

/// Largest activation magnitude kept between layers.
pub const ACT_MAX: i32 = 4095;
const WEIGHT_MAX: f32 = 127.0;
const BIAS_MAX: i64 = 1 << 29;
const MAX_TAPS: usize = 1024;
/// Fractional bits of the final level before it is rounded to an index.
const LEVEL_FRAC: u32 = 8;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IntConv {
    pub cin: usize,
    pub cout: usize,
    /// `[cout][cin][3][3]`.
    pub weight: Vec<i8>,
    pub bias: Vec<i32>,
    /// Right shift from the accumulator to the output's fixed point.
    pub shift: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IntScaleNet {
    pub layers: Vec<IntConv>,
    /// Fractional bits of the input ẑ.
    pub input_frac: u32,
    pub levels: u32,
}

/// A float 3×3 conv layer as exported from the trained model.
pub struct FloatConv<'a> {
    pub cin: usize,
    pub cout: usize,
    pub weight: &'a [f32],
    pub bias: &'a [f32],
}

impl IntScaleNet {
    /// Quantises the float branch. `act_max` is the largest activation seen
    /// after each of the two hidden layers on calibration data; it sets how
    /// many fractional bits each activation keeps.
    pub fn quantize(layers: &[FloatConv; 3], act_max: [f32; 2], levels: u32) -> Self {
        let frac_for = |max: f32| -> u32 {
            let max = max.max(1e-3);
            ((ACT_MAX as f32 / max).log2().floor().clamp(0.0, 12.0)) as u32
        };
        // ẑ is an integer; give it as many fractional bits as its range allows
        // (values up to ±255 keep 4 bits).
        let fracs = [4, frac_for(act_max[0]), frac_for(act_max[1]), LEVEL_FRAC];
        let layers = layers
            .iter()
            .enumerate()
            .map(|(l, f)| {
                assert!(f.cin * 9 <= MAX_TAPS, "integer layer too wide for i32 accumulation");
                let wmax = f.weight.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-8);
                // Weight fractional bits: as many as fit in int8, and enough that
                // the output shift stays non-negative.
                let mut wfrac = (WEIGHT_MAX / wmax).log2().floor().clamp(0.0, 20.0) as u32;
                wfrac = wfrac.max(fracs[l + 1].saturating_sub(fracs[l]));
                let weight = f
                    .weight
                    .iter()
                    .map(|w| (w * (1u32 << wfrac) as f32).round().clamp(-WEIGHT_MAX, WEIGHT_MAX) as i8)
                    .collect();
                let acc_frac = fracs[l] + wfrac;
                let bias = f
                    .bias
                    .iter()
                    .map(|b| {
                        ((*b as f64) * 2f64.powi(acc_frac as i32)).round().clamp(-BIAS_MAX as f64, BIAS_MAX as f64)
                            as i32
                    })
                    .collect();
                IntConv { cin: f.cin, cout: f.cout, weight, bias, shift: acc_frac - fracs[l + 1] }
            })
            .collect();
        Self { layers, input_frac: fracs[0], levels }
    }

    /// Scale level index (`0..levels`) of every y element, `[m][4h][4w]`,
    /// from ẑ laid out `[n][h][w]`.
    pub fn levels(&self, z_hat: &[i32], h: usize, w: usize) -> Vec<u8> {
        let input: Vec<i32> =
            z_hat.iter().map(|&z| (z.clamp(-ACT_MAX, ACT_MAX) << self.input_frac).clamp(-ACT_MAX, ACT_MAX)).collect();
        let a = pixel_shuffle2(&relu_conv(&self.layers[0], &input, h, w, true), self.layers[0].cout, h, w);
        let a = pixel_shuffle2(&relu_conv(&self.layers[1], &a, 2 * h, 2 * w, true), self.layers[1].cout, 2 * h, 2 * w);
        let out = relu_conv(&self.layers[2], &a, 4 * h, 4 * w, false);
        let half = 1 << (LEVEL_FRAC - 1);
        let top = self.levels as i32 - 1;
        out.iter().map(|&v| ((v + half) >> LEVEL_FRAC).clamp(0, top) as u8).collect()
    }
}

/// 3×3 conv, stride 1, zero padding 1, over `[cin][h][w]`; optional ReLU, then
/// clamp to the activation range (the last layer only clamps).
fn relu_conv(layer: &IntConv, input: &[i32], h: usize, w: usize, relu: bool) -> Vec<i32> {
    let plane = h * w;
    let mut out = vec![0i32; layer.cout * plane];
    let mut acc = vec![0i32; plane];
    for o in 0..layer.cout {
        acc.fill(layer.bias[o]);
        for i in 0..layer.cin {
            let src = &input[i * plane..(i + 1) * plane];
            for ky in 0..3usize {
                for kx in 0..3usize {
                    let wv = layer.weight[((o * layer.cin + i) * 3 + ky) * 3 + kx] as i32;
                    if wv == 0 {
                        continue;
                    }
                    // Output (y, x) reads input (y + ky - 1, x + kx - 1).
                    let y0 = 1usize.saturating_sub(ky);
                    let y1 = (h + 1 - ky).min(h);
                    let x0 = 1usize.saturating_sub(kx);
                    let x1 = (w + 1 - kx).min(w);
                    for y in y0..y1 {
                        let sy = y + ky - 1;
                        let dst = &mut acc[y * w + x0..y * w + x1];
                        let s = &src[sy * w + x0 + kx - 1..sy * w + x1 + kx - 1];
                        for (d, &v) in dst.iter_mut().zip(s) {
                            *d += wv * v;
                        }
                    }
                }
            }
        }
        let lo = if relu { 0 } else { i32::MIN };
        let hi = if relu { ACT_MAX } else { i32::MAX };
        for (d, &a) in out[o * plane..(o + 1) * plane].iter_mut().zip(&acc) {
            *d = (a >> layer.shift).clamp(lo, hi);
        }
    }
    out
}

/// Pixel shuffle ×2 with burn's channel order: input channel `c·4 + dy·2 + dx`
/// goes to output channel `c`, pixel `(2y + dy, 2x + dx)`.
fn pixel_shuffle2(input: &[i32], channels: usize, h: usize, w: usize) -> Vec<i32> {
    let out_c = channels / 4;
    let mut out = vec![0i32; channels * h * w];
    for c in 0..out_c {
        for dy in 0..2 {
            for dx in 0..2 {
                let src = &input[(c * 4 + dy * 2 + dx) * h * w..][..h * w];
                for y in 0..h {
                    for x in 0..w {
                        out[(c * 2 * h + 2 * y + dy) * 2 * w + 2 * x + dx] = src[y * w + x];
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_matches_direct_sum_with_zero_padding() {
        let layer =
            IntConv { cin: 2, cout: 1, weight: (0..18).map(|i| (i as i8) - 9).collect(), bias: vec![5], shift: 0 };
        let (h, w) = (3, 4);
        let input: Vec<i32> = (0..24).map(|i| i * 3 - 30).collect();
        let out = relu_conv(&layer, &input, h, w, false);
        for y in 0..h as i32 {
            for x in 0..w as i32 {
                let mut s = 5;
                for i in 0..2 {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (sy, sx) = (y + ky - 1, x + kx - 1);
                            if sy >= 0 && sy < h as i32 && sx >= 0 && sx < w as i32 {
                                s += layer.weight[(i * 9 + ky * 3 + kx) as usize] as i32
                                    * input[(i * 12 + sy * 4 + sx) as usize];
                            }
                        }
                    }
                }
                assert_eq!(out[(y * 4 + x) as usize], s);
            }
        }
    }
}
