//! Integer copy of the scale branch of the hyper-synthesis.
//!
//! The scale level of every y element selects the probability table that
//! parses it, so it must come out identical on every machine. This network
//! computes it from the decoded integers ẑ with i32 arithmetic only:
//! int8 weights with a power-of-two scale per layer, fixed-point activations
//! clamped to 12 bits (+sign), floor shifts. Bounds that keep every sum within
//! i32 (also in WGSL): |a| < 2^12, |w| < 2^7, taps ≤ 2^11, |bias| ≤ 2^29,
//! so |sum| < 2^30 + 2^29.
//!
//! Layout and order mirror [`super::Hyperprior::hyper_scale_level`]:
//! conv3×3 → pixel shuffle ×2 → ReLU, twice, then conv3×3 → level.
//! [`IntContextNet`] is the integer copy of a slice's level correction
//! ([`super::context`]), from the parsed symbols and that fixed-point level.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Largest activation magnitude kept between layers.
pub const ACT_MAX: i32 = 4095;
const WEIGHT_MAX: f32 = 127.0;
const BIAS_MAX: i64 = 1 << 29;
/// Taps (cin × 3 × 3) an integer layer may have: |sum| ≤ taps·ACT_MAX·127 +
/// BIAS_MAX = 3072·520,065 + 2^29 < 2^31, so i32 accumulators never overflow
/// (a context slice over 288 inputs, M = 192's last, has 2,592).
const MAX_TAPS: usize = 3072;
/// Fractional bits of the final level before it is rounded to an index.
const LEVEL_FRAC: u32 = 8;
/// Fractional bits of the context networks' inputs (q and levels up to ±255).
const CONTEXT_FRAC: u32 = 4;
/// [`super::context::CONTEXT_CLAMP`] as an integer.
const CONTEXT_CLAMP: i32 = 255;

/// A 3×3 convolution (stride 1, zero padding 1) in integers: int8 weights,
/// i32 biases and a floor right shift.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IntConv {
    pub cin: usize,
    pub cout: usize,
    /// `[cout][cin][3][3]`.
    pub weight: Vec<i8>,
    /// `[cout]`, at the accumulator's fixed point (input plus weight fractional
    /// bits).
    pub bias: Vec<i32>,
    /// Right shift from the accumulator to the output's fixed point.
    pub shift: u32,
}

/// Most fractional bits ẑ may be given at the integer scale network's
/// input: ẑ is clamped to ±[`ACT_MAX`] before the shift, so 16 keep it in i32.
pub const MAX_INPUT_FRAC: u32 = 16;

/// The integer copy of the hyperprior's scale branch: the scale level index
/// of every y element from ẑ, identical on every machine.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IntScaleNet {
    /// The 3 layers: conv → pixel shuffle ×2 → ReLU, twice, then conv.
    pub layers: Vec<IntConv>,
    /// Fractional bits of the input ẑ.
    pub input_frac: u32,
    /// Number of scale levels; indices are clamped to `0..levels`.
    pub levels: u32,
}

/// A float 3×3 conv layer as exported from the trained model.
pub struct FloatConv<'a> {
    pub cin: usize,
    pub cout: usize,
    /// `[cout][cin][3][3]`.
    pub weight: &'a [f32],
    pub bias: &'a [f32],
}

impl IntScaleNet {
    /// Quantises the float branch. `act_max` is the largest activation seen
    /// after each of the two hidden layers on calibration data; it sets how
    /// many fractional bits each activation keeps.
    pub fn quantize(layers: &[FloatConv; 3], act_max: [f32; 2], levels: u32) -> Self {
        // ẑ is an integer; give it as many fractional bits as its range allows
        // (values up to ±255 keep 4 bits).
        let fracs = [4, frac_for(act_max[0]), frac_for(act_max[1]), LEVEL_FRAC];
        let layers = layers.iter().enumerate().map(|(l, f)| IntConv::quantize(f, fracs[l], fracs[l + 1])).collect();
        Self { layers, input_frac: fracs[0], levels }
    }

    /// Scale level index (`0..levels`) of every y element, `[m][4h][4w]`,
    /// from ẑ laid out `[n][h][w]`.
    pub fn levels(&self, z_hat: &[i32], h: usize, w: usize) -> Vec<u8> {
        self.fixed_levels(z_hat, h, w).iter().map(|&v| self.index(v)).collect()
    }

    /// The table index of a fixed-point level.
    pub fn index(&self, fixed: i32) -> u8 {
        let half = 1 << (LEVEL_FRAC - 1);
        (fixed.saturating_add(half) >> LEVEL_FRAC).clamp(0, self.levels as i32 - 1) as u8
    }

    /// The level of every y element before rounding, with `LEVEL_FRAC`
    /// fractional bits, `[m][4h][4w]`, from ẑ laid out `[n][h][w]`.
    pub fn fixed_levels(&self, z_hat: &[i32], h: usize, w: usize) -> Vec<i32> {
        let n = self.layers[0].cin;
        // Pixel-major inside: each pixel's channels are contiguous, so the
        // inner loops run over whole channel vectors (SIMD) and skip zeros.
        let mut input = vec![0i32; z_hat.len()];
        for c in 0..n {
            for p in 0..h * w {
                input[p * n + c] =
                    (z_hat[c * h * w + p].clamp(-ACT_MAX, ACT_MAX) << self.input_frac).clamp(-ACT_MAX, ACT_MAX);
            }
        }
        let a = pixel_shuffle2(&relu_conv(&self.layers[0], &input, h, w, true), self.layers[0].cout, h, w);
        let a = pixel_shuffle2(&relu_conv(&self.layers[1], &a, 2 * h, 2 * w, true), self.layers[1].cout, 2 * h, 2 * w);
        channel_major(&relu_conv(&self.layers[2], &a, 4 * h, 4 * w, false), self.layers[2].cout)
    }
}

/// A slice's level correction in integers: conv 3×3 → ReLU → conv 3×3, over
/// the symbols of the earlier slices, the slice's hyperprior level and its
/// anchors' symbols (zeros in the first pass), each with `CONTEXT_FRAC`
/// fractional bits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IntContextNet {
    /// conv 3×3 from the context inputs to the hidden channels.
    pub hidden: IntConv,
    /// conv 3×3 to the slice's level corrections (`LEVEL_FRAC` fractional bits).
    pub output: IntConv,
}

impl IntContextNet {
    /// `hidden_max`: the largest hidden activation on calibration data.
    pub fn quantize(hidden: &FloatConv, output: &FloatConv, hidden_max: f32) -> Self {
        let frac = frac_for(hidden_max);
        Self {
            hidden: IntConv::quantize(hidden, CONTEXT_FRAC, frac),
            output: IntConv::quantize(output, frac, LEVEL_FRAC),
        }
    }

    /// Fixed-point levels of one slice, `[s][h][w]`: `hyper` (the hyperprior's
    /// fixed-point levels of the slice) plus the correction. `earlier` holds
    /// the symbols of the slices before, `[c][h][w]`; `anchors` the slice's
    /// own anchor symbols in the second pass (`[s][h][w]`, zero elsewhere).
    pub fn levels(&self, earlier: &[i32], hyper: &[i32], anchors: Option<&[i32]>, h: usize, w: usize) -> Vec<i32> {
        let plane = h * w;
        let (c0, s) = (earlier.len() / plane, hyper.len() / plane);
        let cin = self.hidden.cin;
        assert_eq!(c0 + 2 * s, cin, "context input does not match the network");
        let symbol = |q: i32| q.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP) << CONTEXT_FRAC;
        let mut input = vec![0i32; plane * cin];
        for (p, px) in input.chunks_exact_mut(cin).enumerate() {
            for c in 0..c0 {
                px[c] = symbol(earlier[c * plane + p]);
            }
            for c in 0..s {
                let level = hyper[c * plane + p] >> (LEVEL_FRAC - CONTEXT_FRAC);
                px[c0 + c] = level.clamp(-CONTEXT_CLAMP << CONTEXT_FRAC, CONTEXT_CLAMP << CONTEXT_FRAC);
                px[c0 + s + c] = anchors.map_or(0, |a| symbol(a[c * plane + p]));
            }
        }
        let hidden = relu_conv(&self.hidden, &input, h, w, true);
        let correction = channel_major(&relu_conv(&self.output, &hidden, h, w, false), s);
        hyper.iter().zip(&correction).map(|(&a, &b)| a.saturating_add(b)).collect()
    }
}

/// Fractional bits that keep activations up to `max` within `ACT_MAX`.
fn frac_for(max: f32) -> u32 {
    let max = max.max(1e-3);
    ((ACT_MAX as f32 / max).log2().floor().clamp(0.0, 12.0)) as u32
}

impl IntConv {
    /// Whether a layer read from a package keeps every sum within i32 and
    /// has its shape: `[cout][cin][3][3]` weights, at most [`MAX_TAPS`]
    /// taps, |bias| ≤ 2^29, a shift of at most 31 bits. Errors: which bound
    /// it breaks.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.cout == 0 || self.cin == 0 || self.weight.len() != self.cout * self.cin * 9 {
            return Err("weights of the wrong size");
        }
        if self.cin * 9 > MAX_TAPS {
            return Err("too many taps for i32 accumulation");
        }
        if self.bias.len() != self.cout || self.bias.iter().any(|&b| (b as i64).abs() > BIAS_MAX) {
            return Err("a bias out of range");
        }
        if self.shift > 31 {
            return Err("a shift out of range");
        }
        Ok(())
    }

    /// Quantises one float layer whose input has `in_frac` fractional bits
    /// and whose output should have `out_frac`.
    pub fn quantize(f: &FloatConv, in_frac: u32, out_frac: u32) -> Self {
        assert!(f.cin * 9 <= MAX_TAPS, "integer layer too wide for i32 accumulation");
        let wmax = f.weight.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-8);
        // Weight fractional bits: as many as fit in int8, and enough that
        // the output shift stays non-negative.
        let mut wfrac = (WEIGHT_MAX / wmax).log2().floor().clamp(0.0, 20.0) as u32;
        wfrac = wfrac.max(out_frac.saturating_sub(in_frac));
        let weight = f
            .weight
            .iter()
            .map(|w| (w * (1u32 << wfrac) as f32).round().clamp(-WEIGHT_MAX, WEIGHT_MAX) as i8)
            .collect();
        let acc_frac = in_frac + wfrac;
        let bias = f
            .bias
            .iter()
            .map(|b| ((*b as f64) * 2f64.powi(acc_frac as i32)).round().clamp(-BIAS_MAX as f64, BIAS_MAX as f64) as i32)
            .collect();
        IntConv { cin: f.cin, cout: f.cout, weight, bias, shift: acc_frac - out_frac }
    }
}

/// `[pixels][channels]` → `[channels][pixels]`.
fn channel_major(pixel_major: &[i32], channels: usize) -> Vec<i32> {
    let plane = pixel_major.len() / channels;
    let mut out = vec![0i32; pixel_major.len()];
    for (p, px) in pixel_major.chunks_exact(channels).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            out[c * plane + p] = v;
        }
    }
    out
}

/// 3×3 conv, stride 1, zero padding 1, over `[h][w][cin]` into `[h][w][cout]`;
/// optional ReLU, then clamp to the activation range (the last layer only
/// clamps). Integer sums are exact, so the order of the loops (and the rows
/// shared out among threads) cannot change the result.
fn relu_conv(layer: &IntConv, input: &[i32], h: usize, w: usize, relu: bool) -> Vec<i32> {
    let (cin, cout) = (layer.cin, layer.cout);
    // Weights as [tap][cin][cout]: one tap and input channel give a row of outputs.
    let mut taps = vec![0i32; 9 * cin * cout];
    for o in 0..cout {
        for i in 0..cin {
            for k in 0..9 {
                taps[(k * cin + i) * cout + o] = layer.weight[(o * cin + i) * 9 + k] as i32;
            }
        }
    }
    let (lo, hi) = if relu { (0, ACT_MAX) } else { (i32::MIN, i32::MAX) };
    let mut out = vec![0i32; h * w * cout];
    out.par_chunks_mut(w * cout).enumerate().for_each(|(y, row)| {
        for acc in row.chunks_exact_mut(cout) {
            acc.copy_from_slice(&layer.bias);
        }
        conv_row(row, input, &taps, (h, w, cin), y);
        for d in row.iter_mut() {
            *d = (*d >> layer.shift).clamp(lo, hi);
        }
    });
    out
}

/// Adds the 3×3 conv of `input` to output row `y`. Each weight vector is used
/// for the whole row before the next is loaded (weights stay in cache), zero
/// activations (ReLU makes many) are skipped, and where the CPU has AVX2 the
/// same code is compiled for it (the default x86-64 target, SSE2, has no
/// 32-bit vector multiply).
fn conv_row(row: &mut [i32], input: &[i32], taps: &[i32], (h, w, cin): (usize, usize, usize), y: usize) {
    #[inline(always)]
    fn body(row: &mut [i32], input: &[i32], taps: &[i32], (h, w, cin): (usize, usize, usize), y: usize) {
        let cout = row.len() / w;
        for ky in 0..3 {
            // Output (y, x) reads input (y + ky - 1, x + kx - 1).
            let Some(sy) = (y + ky).checked_sub(1).filter(|&sy| sy < h) else { continue };
            for kx in 0..3 {
                let (x0, x1) = (usize::from(kx == 0), (w + 1 - kx).min(w));
                let tap = &taps[(ky * 3 + kx) * cin * cout..][..cin * cout];
                for (i, weights) in tap.chunks_exact(cout).enumerate() {
                    for x in x0..x1 {
                        let a = input[(sy * w + x + kx - 1) * cin + i];
                        if a != 0 {
                            for (d, &wv) in row[x * cout..][..cout].iter_mut().zip(weights) {
                                // Cannot overflow (module bounds); wrapping, like WGSL's
                                // i32, so no overflow check blocks vectorising.
                                *d = d.wrapping_add(wv.wrapping_mul(a));
                            }
                        }
                    }
                }
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn avx2(row: &mut [i32], input: &[i32], taps: &[i32], dims: (usize, usize, usize), y: usize) {
            body(row, input, taps, dims, y)
        }
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { avx2(row, input, taps, (h, w, cin), y) };
    }
    body(row, input, taps, (h, w, cin), y)
}

/// Pixel shuffle ×2 with burn's channel order, on `[h][w][channels]`: input
/// channel `c·4 + dy·2 + dx` goes to output channel `c`, pixel `(2y + dy, 2x + dx)`.
fn pixel_shuffle2(input: &[i32], channels: usize, h: usize, w: usize) -> Vec<i32> {
    let out_c = channels / 4;
    let mut out = vec![0i32; channels * h * w];
    for y in 0..h {
        for x in 0..w {
            let src = &input[(y * w + x) * channels..][..channels];
            for c in 0..out_c {
                for dy in 0..2 {
                    for dx in 0..2 {
                        out[((2 * y + dy) * 2 * w + 2 * x + dx) * out_c + c] = src[c * 4 + dy * 2 + dx];
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
        // Several channels each way, zero activations, both ends of the
        // ReLU clamp, and a 1-wide image (every tap off the edge but one).
        for (h, w) in [(3, 4), (5, 1), (1, 6)] {
            let (cin, cout) = (5, 7);
            let weight: Vec<i8> = (0..cin * cout * 9).map(|i| ((i * 37 % 255) as i32 - 127) as i8).collect();
            let bias: Vec<i32> = (0..cout as i32).map(|o| o * 1000 - 3000).collect();
            let layer = IntConv { cin, cout, weight, bias, shift: 3 };
            // [cin][h][w], a third of it zero.
            let chw: Vec<i32> =
                (0..cin * h * w).map(|i| if i % 3 == 0 { 0 } else { (i * 613 % 8191) as i32 - 4095 }).collect();
            let hwc: Vec<i32> = (0..cin * h * w).map(|j| chw[(j % cin) * h * w + j / cin]).collect();
            for relu in [false, true] {
                let out = relu_conv(&layer, &hwc, h, w, relu);
                for o in 0..cout {
                    for y in 0..h as i64 {
                        for x in 0..w as i64 {
                            let mut s = layer.bias[o] as i64;
                            for i in 0..cin {
                                for ky in 0..3i64 {
                                    for kx in 0..3i64 {
                                        let (sy, sx) = (y + ky - 1, x + kx - 1);
                                        if (0..h as i64).contains(&sy) && (0..w as i64).contains(&sx) {
                                            let wv = layer.weight[(o * cin + i) * 9 + (ky * 3 + kx) as usize];
                                            s += wv as i64 * chw[i * h * w + (sy * w as i64 + sx) as usize] as i64;
                                        }
                                    }
                                }
                            }
                            let s = s >> 3;
                            let s = if relu { s.clamp(0, ACT_MAX as i64) } else { s };
                            assert_eq!(out[(y as usize * w + x as usize) * cout + o] as i64, s, "{h}×{w} relu {relu}");
                        }
                    }
                }
            }
        }
    }

    /// Float 3×3 conv with zero padding over `[c][h][w]`, the reference.
    fn float_conv(weight: &[f32], bias: &[f32], input: &[f32], cin: usize, h: usize, w: usize) -> Vec<f32> {
        let cout = bias.len();
        let mut out = vec![0f32; cout * h * w];
        for o in 0..cout {
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let mut s = bias[o];
                    for i in 0..cin {
                        for k in 0..9i64 {
                            let (sy, sx) = (y + k / 3 - 1, x + k % 3 - 1);
                            if (0..h as i64).contains(&sy) && (0..w as i64).contains(&sx) {
                                s += weight[(o * cin + i) * 9 + k as usize]
                                    * input[i * h * w + (sy * w as i64 + sx) as usize];
                            }
                        }
                    }
                    out[o * h * w + (y * w as i64 + x) as usize] = s;
                }
            }
        }
        out
    }

    #[test]
    fn context_levels_track_the_float_correction() {
        // Slice of 3 channels after 5 earlier ones, 7×6 latents, 8 hidden.
        let (c0, s, hidden, h, w) = (5, 3, 8, 7, 6);
        let cin = c0 + 2 * s;
        let plane = h * w;
        let pseudo = |i: usize, scale: f32| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * scale;
        let w1: Vec<f32> = (0..hidden * cin * 9).map(|i| pseudo(i, 0.2)).collect();
        let b1: Vec<f32> = (0..hidden).map(|i| pseudo(i + 11, 1.0)).collect();
        let w2: Vec<f32> = (0..s * hidden * 9).map(|i| pseudo(i + 3, 0.3)).collect();
        let b2: Vec<f32> = (0..s).map(|i| pseudo(i + 5, 2.0)).collect();
        let earlier: Vec<i32> = (0..c0 * plane).map(|i| (i * 31 % 7) as i32 - 3).collect();
        let anchors: Vec<i32> =
            (0..s * plane).map(|i| if (i % plane / w + i % w) % 2 == 0 { (i % 5) as i32 - 2 } else { 0 }).collect();
        // Hyperprior levels between 5 and 45, with fractional parts.
        let hyper_float: Vec<f32> = (0..s * plane).map(|i| 25.0 + pseudo(i + 17, 20.0)).collect();
        let hyper: Vec<i32> = hyper_float.iter().map(|&l| (l * (1 << LEVEL_FRAC) as f32).round() as i32).collect();

        // The float correction, fed exactly what the integer net sees.
        let mut input: Vec<f32> = earlier.iter().map(|&q| q as f32).collect();
        input.extend(hyper.iter().map(|&l| (l >> (LEVEL_FRAC - CONTEXT_FRAC)) as f32 / (1 << CONTEXT_FRAC) as f32));
        input.extend(anchors.iter().map(|&q| q as f32));
        let a: Vec<f32> = float_conv(&w1, &b1, &input, cin, h, w).iter().map(|v| v.max(0.0)).collect();
        let correction = float_conv(&w2, &b2, &a, hidden, h, w);
        let hidden_max = a.iter().cloned().fold(0f32, f32::max);

        let net = IntContextNet::quantize(
            &FloatConv { cin, cout: hidden, weight: &w1, bias: &b1 },
            &FloatConv { cin: hidden, cout: s, weight: &w2, bias: &b2 },
            hidden_max,
        );
        let fixed = net.levels(&earlier, &hyper, Some(&anchors), h, w);
        let scale = (1 << LEVEL_FRAC) as f32;
        let mut worst = 0f32;
        for i in 0..s * plane {
            let float_level = hyper[i] as f32 / scale + correction[i];
            worst = worst.max((fixed[i] as f32 / scale - float_level).abs());
        }
        // int8 weights: well under a level of error; a wrong channel order or
        // layout gives errors of several levels.
        assert!(worst < 0.25, "integer level off by {worst}");
        assert!(correction.iter().any(|c| c.abs() > 2.0), "the test correction should matter");
    }

    #[test]
    fn pixel_shuffle_follows_burns_channel_order() {
        let (c, h, w) = (8, 2, 3); // 2 output channels
        let input: Vec<i32> = (0..c * h * w).map(|i| i as i32).collect(); // [h][w][c]
        let out = pixel_shuffle2(&input, c, h, w); // [2h][2w][c/4]
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let (oc, dy, dx) = (ch / 4, ch % 4 / 2, ch % 2);
                    assert_eq!(out[((2 * y + dy) * 2 * w + 2 * x + dx) * (c / 4) + oc], input[(y * w + x) * c + ch]);
                }
            }
        }
    }
}
