//! Encoder-side latent refinement: the `--effort` levels.
//!
//! The analysis transform is amortised: one network guesses y for every
//! image, and the guess is not the y that minimises this image's
//! rate-distortion cost (the "amortisation gap", Cremer et al. 2018). Above
//! effort 1 the encoder searches: gradient steps (Adam) on the coded latent y
//! of each tile, against λ·255²·MSE + bits/pixel through the hyperprior, the
//! context model and the synthesis, as in Campos et al. 2019 and Yang et al.
//! 2020 (SGA). z follows y (z = round(h_a(y)), as the encoder computes it).
//!
//! Rounding: the search optimises the cost with the soft rounding of
//! Agustsson & Theis 2020, s_α(v) = ⌊v⌋ + ½ + ½·tanh(α·r)/tanh(α/2) with
//! r = v − ⌊v⌋ − ½, in place of the coder's rounding, annealed from α = 1
//! (almost the identity: the rate pulls every latent toward its mean, the
//! distortion toward the image) to α = 8 (nearly a staircase, so the search
//! settles on values the coder can code). Four times per search, and before
//! it, the cost is evaluated with the coder's own rounding; the best y seen
//! is kept, so refinement never raises the estimated cost.
//!
//! The decoder and the bitstream do not change: a refined file is an
//! ordinary file, only its y was chosen with more effort.

use burn::prelude::*;
use burn::tensor::ops::PadMode;

use super::{Hyperprior, Z_STRIDE, gaussian_bits, level_to_scale, straight_through_round};

/// Effort levels run 1 (fastest, the default: no search) to `MAX_EFFORT`.
pub const MAX_EFFORT: u8 = 9;
pub const DEFAULT_EFFORT: u8 = 1;

/// `effort` itself, or an error when it is outside 1..=`MAX_EFFORT`.
pub fn checked(effort: u8) -> anyhow::Result<u8> {
    if !(1..=MAX_EFFORT).contains(&effort) {
        anyhow::bail!("effort {effort} is outside 1..={MAX_EFFORT}");
    }
    Ok(effort)
}

/// Gradient iterations per tile at `effort`: none at 1, then 2^effort
/// (4 at effort 2 … 512 at effort 9); each costs about three synthesis passes.
pub fn iterations(effort: u8) -> usize {
    if effort <= 1 { 0 } else { 1 << effort.min(MAX_EFFORT) }
}

/// Adam's step on y, in quantisation steps, is this over √iterations: longer
/// searches take smaller steps (0.04 at effort 2, 0.02 at 4, 0.01 at 6; tuned
/// on the sample image, where 0.05 at effort 3 already overshot).
const LEARNING_RATE: f64 = 0.08;
const ALPHA_START: f64 = 1.0;
const ALPHA_END: f64 = 8.0;

/// The soft rounding s_α(v) of Agustsson & Theis 2020: a smooth staircase,
/// almost the identity at α = 1, rounding as α → ∞.
pub fn soft_round(v: Tensor<4>, alpha: f64) -> Tensor<4> {
    let mid = v.clone().floor().detach() + 0.5;
    mid.clone() + (v - mid).mul_scalar(alpha).tanh().mul_scalar(0.5 / (alpha / 2.0).tanh())
}

/// The estimated rate-distortion cost of coding the tile `x` (`[1, 3, H', W']`,
/// padded; the first `height` × `width` pixels are the tile's own) with the
/// latent `y` (`[1, M, H'/16, W'/16]`, already scaled by the quality's gain):
/// λ·255²·MSE + bits per pixel of y and z. `round` makes the symbols.
pub fn rd_cost(
    net: &Hyperprior,
    x: Tensor<4>,
    y: Tensor<4>,
    (width, height): (usize, usize),
    quality: u8,
    lambda: f64,
    round: impl Fn(Tensor<4>) -> Tensor<4> + Copy,
) -> Tensor<1> {
    let [_, m, yh, yw] = y.dims();
    let (zh, zw) = (yh.div_ceil(Z_STRIDE), yw.div_ceil(Z_STRIDE));
    let y_padded = y.clone().pad((0, zw * Z_STRIDE - yw, 0, zh * Z_STRIDE - yh), PadMode::Edge);
    let z_hat = straight_through_round(net.hyper_analysis(y_padded));
    let bits_z = net.z_bits(z_hat.clone());
    let mut mean = net.hyper_mean(z_hat.clone()).slice([0..1, 0..m, 0..yh, 0..yw]);
    let mut level = net.hyper_scale_level(z_hat).slice([0..1, 0..m, 0..yh, 0..yw]);
    if !net.slice_mean.is_empty() {
        (mean, level) = net.context(y.clone(), mean, level, round);
    }
    let q = round(y - mean.clone());
    let bits_y = gaussian_bits(q.clone(), level_to_scale(level));
    let x_hat = net.synthesis_at(q + mean, quality).slice([0..1, 0..3, 0..height, 0..width]);
    let mse = (x_hat - x.slice([0..1, 0..3, 0..height, 0..width])).powi_scalar(2).mean();
    mse * (lambda * 255.0 * 255.0) + (bits_y + bits_z) / (width * height) as f64
}

/// The refined latent of one tile: `iterations` Adam steps from the analysis's
/// `y` (see the module doc). `net` lives on an autodiff device (its
/// parameters need no gradient); `x` and `y` on its inner device, where the
/// result is returned.
pub fn refine(
    net: &Hyperprior,
    x: Tensor<4>,
    y: Tensor<4>,
    size: (usize, usize),
    quality: u8,
    lambda: f64,
    iterations: usize,
) -> Tensor<4> {
    let x = x.autodiff();
    // The real objective: the coder's rounding (no gradient needed).
    let coded_cost = |y: &Tensor<4>| {
        rd_cost(net, x.clone(), y.clone().autodiff(), size, quality, lambda, |v| v.round()).inner().into_scalar::<f32>()
    };
    let lr = LEARNING_RATE / (iterations as f64).sqrt();
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let (mut m1, mut m2) = (y.zeros_like(), y.zeros_like());
    let mut best_cost = coded_cost(&y);
    let (mut current, mut best) = (y.clone(), y);
    let check_every = iterations.div_ceil(4).max(1);
    for i in 0..iterations {
        let alpha = ALPHA_START * (ALPHA_END / ALPHA_START).powf(i as f64 / iterations.max(2).saturating_sub(1) as f64);
        let leaf = current.clone().autodiff().require_grad();
        let cost = rd_cost(net, x.clone(), leaf.clone(), size, quality, lambda, move |v| soft_round(v, alpha));
        let Some(grad) = leaf.grad(&cost.backward()) else { break };
        let t = (i + 1) as i32;
        m1 = m1 * beta1 + grad.clone() * (1.0 - beta1);
        m2 = m2 * beta2 + grad.powi_scalar(2) * (1.0 - beta2);
        let step = (m1.clone() / (1.0 - beta1.powi(t))) / ((m2.clone() / (1.0 - beta2.powi(t))).sqrt() + eps);
        current = current - step * lr;
        if (i + 1) % check_every == 0 || i + 1 == iterations {
            let c = coded_cost(&current);
            if c < best_cost {
                (best_cost, best) = (c, current.clone());
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_rounding_anneals_from_the_identity_to_rounding() {
        let device = Device::flex();
        let v = Tensor::<4>::from_data(TensorData::new(vec![0.2f32, 0.45, 1.7, -0.55], [1, 1, 1, 4]), &device);
        let at = |alpha| soft_round(v.clone(), alpha).into_data().try_into_vec::<f32>().unwrap();
        let (gentle, steep) = (at(0.01), at(40.0));
        for (i, (&g, &s)) in gentle.iter().zip(&steep).enumerate() {
            let x = [0.2f32, 0.45, 1.7, -0.55][i];
            assert!((g - x).abs() < 1e-3, "α → 0 must be the identity: {gentle:?}");
            assert!((s - x.round()).abs() < 0.02, "α → ∞ must round: {steep:?}");
        }
    }

    #[test]
    fn iterations_double_per_effort() {
        assert_eq!(iterations(1), 0);
        assert_eq!(iterations(2), 4);
        assert_eq!(iterations(9), 512);
    }
}
