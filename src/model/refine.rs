//! Encoder-side latent refinement: the `--effort` levels.
//!
//! The analysis transform is amortised: one network guesses y for every
//! image, and the guess is not the y that minimises this image's
//! rate-distortion cost (the "amortisation gap", Cremer et al. 2018). Above
//! effort 1 the encoder searches: gradient steps (Adam) on the coded latents
//! of each tile, y and the hyper latent z together, against λ·255²·MSE +
//! bits/pixel through the hyperprior, the context model and the synthesis,
//! as in Campos et al. 2019 and Yang et al. 2020 (SGA, which also searches z).
//! Searching z with y, instead of letting it follow y (z = h_a(y)), and a
//! step that grows with the quality gained 0.4 points of BD-rate at effort 2
//! on Kodak files, and 0.7–0.9 points at efforts 2–6 in the search's PyTorch
//! estimate (evaluation/results/effort/search.md).
//!
//! Rounding: the search optimises the cost with the soft rounding of
//! Agustsson & Theis 2020, s_α(v) = ⌊v⌋ + ½ + ½·tanh(α·r)/tanh(α/2) with
//! r = v − ⌊v⌋ − ½, in place of the coder's rounding of y and z, annealed
//! from α = 1 (almost the identity: the rate pulls every latent toward its
//! mean, the distortion toward the image) to α = 2 (a gentle staircase).
//! Four times per search, and before it, the cost is evaluated with the
//! coder's own rounding; the best latents seen are kept, so refinement never
//! raises the estimated cost. These checks, not the annealing, are what
//! settle the search on values the coder can code: annealing on to a steep
//! staircase (α = 8, as until 2026-12-04) gained less at every rate, by 0.5
//! and 0.7 points of BD-rate at 4 and 16 steps on Kodak crops the tuning
//! did not see (evaluation/results/effort/search.md), and a search checked
//! only at its end lost a third of its gain (at α = 8, 4 steps).
//!
//! The decoder and the bitstream do not change: a refined file is an
//! ordinary file, only its y and z were chosen with more effort.

use burn::prelude::*;

use super::rate::MAX_QUALITY;
use super::{Hyperprior, gaussian_bits, level_to_scale};

/// The search, in words, from its constants: part of an evaluation's record
/// of the encoder (`livc eval` measures a changed search again instead of
/// reusing its cache).
pub fn search() -> String {
    format!(
        "y and z, Adam at {LEARNING_RATE}·{LEARNING_RATE_TOP}^(q/100)/√iterations, \
         soft rounding α {ALPHA_START} → {ALPHA_END}, best of {CHECKS} checks"
    )
}

/// Effort levels run 1 (fastest, the default: no search) to `MAX_EFFORT`.
pub const MAX_EFFORT: u8 = 9;
/// The default effort: no latent search.
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

/// Adam's step on y and z, in quantisation steps, is this times
/// 4^(quality/100) (0.08 at -q 0 to 0.32 at -q 100: the larger latents of
/// the high rates move further) over √iterations, so that longer searches
/// take smaller steps. Chosen by search.md's sweep on four Kodak crops.
const LEARNING_RATE: f64 = 0.08;
const LEARNING_RATE_TOP: f64 = 4.0;
const ALPHA_START: f64 = 1.0;
const ALPHA_END: f64 = 2.0;
/// How often per search the cost is taken with the coder's rounding.
const CHECKS: usize = 4;

/// The soft rounding s_α(v) of Agustsson & Theis 2020: a smooth staircase,
/// almost the identity at α = 1, rounding as α → ∞.
pub fn soft_round(v: Tensor<4>, alpha: f64) -> Tensor<4> {
    let mid = v.clone().floor().detach() + 0.5;
    mid.clone() + (v - mid).mul_scalar(alpha).tanh().mul_scalar(0.5 / (alpha / 2.0).tanh())
}

/// The estimated rate-distortion cost of coding the tile `x` (`[1, 3, H', W']`,
/// padded; the first `height` × `width` pixels are the tile's own) with the
/// latent `y` (`[1, M, H'/16, W'/16]`, already scaled by the quality's gain)
/// and the hyper latent `z` (`[1, N, ⌈H'/64⌉, ⌈W'/64⌉]`): λ·255²·MSE + bits
/// per pixel of y and z. `round` makes the symbols of both.
pub fn rd_cost(
    net: &Hyperprior,
    x: Tensor<4>,
    (y, z): (Tensor<4>, Tensor<4>),
    (width, height): (usize, usize),
    quality: u8,
    lambda: f64,
    round: impl Fn(Tensor<4>) -> Tensor<4> + Copy,
) -> Tensor<1> {
    let [_, m, yh, yw] = y.dims();
    let z_hat = round(z);
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

/// [`rd_cost`] with the coder's rounding: the real objective, for latents
/// (y, z) and the tile `x`, all on `plain`'s device. `plain` is the network
/// on a device without autodiff, so that the check runs the inference
/// kernels (on the CPU: the scan's recurrence, the plain convolutions) at
/// about half the cost of the same pass through the autodiff graph.
pub fn coded_cost(
    plain: &Hyperprior,
    x: &Tensor<4>,
    latents: &(Tensor<4>, Tensor<4>),
    size: (usize, usize),
    quality: u8,
    lambda: f64,
) -> f32 {
    rd_cost(plain, x.clone(), latents.clone(), size, quality, lambda, |v| v.round()).into_scalar::<f32>()
}

/// The refined latents of one tile: `iterations` Adam steps on y and z from
/// the analysis's `y` and its hyper latent (see the module doc). Returns
/// (y, z), z continuous (`[1, N, ⌈H'/64⌉, ⌈W'/64⌉]`; the coder rounds it).
/// `net` lives on an autodiff device (its parameters need no gradient);
/// `plain` is the same network on its inner device, where `x` and `y` live
/// and the result is returned (the checks with the coder's rounding run
/// there, [`coded_cost`]).
pub fn refine(
    (net, plain): (&Hyperprior, &Hyperprior),
    x: Tensor<4>,
    y: Tensor<4>,
    size: (usize, usize),
    quality: u8,
    lambda: f64,
    iterations: usize,
) -> (Tensor<4>, Tensor<4>) {
    let z = net.hyper_latent(y.clone().autodiff()).inner();
    let coded_cost = |latents: &(Tensor<4>, Tensor<4>)| coded_cost(plain, &x, latents, size, quality, lambda);
    let top = quality.min(MAX_QUALITY) as f64 / MAX_QUALITY as f64;
    let lr = LEARNING_RATE * LEARNING_RATE_TOP.powf(top) / (iterations as f64).sqrt();
    let mut current = (y, z);
    let mut adam = [Adam::new(&current.0), Adam::new(&current.1)];
    let mut best_cost = coded_cost(&current);
    let mut best = current.clone();
    let check_every = iterations.div_ceil(CHECKS).max(1);
    for i in 0..iterations {
        let alpha = ALPHA_START * (ALPHA_END / ALPHA_START).powf(i as f64 / iterations.max(2).saturating_sub(1) as f64);
        let leaves = (current.0.clone().autodiff().require_grad(), current.1.clone().autodiff().require_grad());
        let cost =
            rd_cost(net, x.clone().autodiff(), leaves.clone(), size, quality, lambda, move |v| soft_round(v, alpha));
        let grads = cost.backward();
        let (Some(gy), Some(gz)) = (leaves.0.grad(&grads), leaves.1.grad(&grads)) else { break };
        current = (adam[0].step(current.0, gy, lr), adam[1].step(current.1, gz, lr));
        if (i + 1) % check_every == 0 || i + 1 == iterations {
            let c = coded_cost(&current);
            if c < best_cost {
                (best_cost, best) = (c, current.clone());
            }
        }
    }
    best
}

/// Adam's moments for one latent (Kingma & Ba 2015, β = 0.9, 0.999).
struct Adam {
    m1: Tensor<4>,
    m2: Tensor<4>,
    t: i32,
}

impl Adam {
    fn new(like: &Tensor<4>) -> Self {
        Self { m1: like.zeros_like(), m2: like.zeros_like(), t: 0 }
    }

    /// `v` after one step of size `lr` against its gradient `grad`.
    fn step(&mut self, v: Tensor<4>, grad: Tensor<4>, lr: f64) -> Tensor<4> {
        let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
        self.t += 1;
        self.m1 = self.m1.clone() * beta1 + grad.clone() * (1.0 - beta1);
        self.m2 = self.m2.clone() * beta2 + grad.powi_scalar(2) * (1.0 - beta2);
        let m1 = self.m1.clone() / (1.0 - beta1.powi(self.t));
        let m2 = self.m2.clone() / (1.0 - beta2.powi(self.t));
        v - m1 / (m2.sqrt() + eps) * lr
    }
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

    /// On a 64² crop of the sample photo with the embedded model: the search
    /// lowers the cost with the coder's rounding, and the z it returns is its
    /// own (not h_a of the y it returns), so z is searched, not recomputed.
    #[test]
    fn the_search_lowers_the_coded_cost_and_chooses_z() {
        let package = crate::model::embedded::default_model().unwrap();
        let net = package.network(&Device::flex().autodiff()).unwrap().no_grad();
        let plain = package.network(&Device::flex()).unwrap();
        let img =
            crate::io::read_image(std::path::Path::new("datasets/sample/kodim23-crop.png")).unwrap().crop(0, 0, 64, 64);
        let x = crate::codec::window::pixels_tensor(&img, (0, 0), (64, 64), &Device::flex());
        let quality = 60;
        let lambda = crate::model::rate::lambda_at(&package.info.config.lambdas, quality);
        let y = net.analysis_at(x.clone().autodiff(), quality).inner();
        let z = net.hyper_latent(y.clone().autodiff()).inner();
        let (y2, z2) = refine((&net, &plain), x.clone(), y.clone(), (64, 64), quality, lambda, 8);
        let cost = |latents| coded_cost(&plain, &x, latents, (64, 64), quality, lambda);
        let (before, after) = (cost(&(y, z)), cost(&(y2.clone(), z2.clone())));
        assert!(after < before, "the search did not lower the coded cost: {before} → {after}");
        let own = net.hyper_latent(y2.autodiff()).inner();
        let moved = (z2 - own).abs().max().into_scalar::<f32>();
        assert!(moved > 1e-3, "the returned z is h_a(y) (moved {moved})");
    }

    #[test]
    fn iterations_double_per_effort() {
        assert_eq!(iterations(1), 0);
        assert_eq!(iterations(2), 4);
        assert_eq!(iterations(9), 512);
    }
}
