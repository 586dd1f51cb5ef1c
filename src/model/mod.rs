//! The networks: a mean-scale hyperprior (Minnen et al. 2018, without the
//! serial autoregressive context), written once for every burn device.
//!
//! - `analysis`   image → y (stride 16), conv 5×5 stride 2 + simplified GDN
//! - `synthesis`  ŷ → image, sub-pixel upsampling (conv 3×3 + pixel shuffle) + inverse GDN
//! - `hyper_analysis` y → z (stride 4 more)
//! - `hyper_mean`  ẑ → μ of y (float: means only shift the reconstruction)
//! - `hyper_scale` ẑ → scale level of y (ReLU convs and pixel shuffles only, so
//!   the exported integer copy in [`integer`] reproduces it exactly everywhere)
//! - z has a factorised prior: one learned Gaussian per channel.

pub mod context;
pub mod conv2d;
pub mod cost;
pub mod embedded;
pub mod gdn;
pub mod integer;
pub mod package;
pub mod rate;
pub mod refine;
pub mod scan;
pub mod temporal;
pub mod vq;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{PaddingConfig2d, PixelShuffle, PixelShuffleConfig};
use burn::prelude::*;
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};

use crate::entropy::tables::{SCALE_LEVELS, SCALE_MAX, SCALE_MIN};
use context::{CONTEXT_CLAMP, SliceContext, checkerboard, context_input, slice_ranges};
use gdn::Gdn;
use rate::QualityGains;
use scan::{BlockKind, ScanBlock};

/// Width of the networks; stored with the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Channels of the hidden layers.
    pub n: usize,
    /// Channels of the latent y.
    pub m: usize,
    /// Channel slices of the context model ([`context`]); empty for a plain
    /// hyperprior.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<usize>,
    /// Hidden channels of each slice's context networks.
    #[serde(default)]
    pub context_hidden: usize,
    /// The λ of each trained row of a variable-rate model ([`rate`]); empty
    /// for a model trained at one λ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambdas: Vec<f64>,
    /// Residual blocks at 1/8 resolution in both transforms ([`scan`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<BlockKind>,
}

impl ModelConfig {
    /// A plain hyperprior of `n` hidden and `m` latent channels: no context, one
    /// λ, no scan blocks.
    pub fn plain(n: usize, m: usize) -> Self {
        Self { n, m, slices: Vec::new(), context_hidden: 0, lambdas: Vec::new(), blocks: None }
    }

    /// Whether it was trained at several λ ([`rate`]): more than one entry in
    /// `lambdas`.
    pub fn is_variable_rate(&self) -> bool {
        self.lambdas.len() > 1
    }

    /// Whether it has the slice and checkerboard context ([`context`]).
    pub fn has_context(&self) -> bool {
        !self.slices.is_empty()
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::plain(64, 96)
    }
}

/// Spatial stride of y relative to the image, and of z relative to y.
pub const Y_STRIDE: usize = 16;
/// Spatial stride of z relative to y (64 pixels per z element).
pub const Z_STRIDE: usize = 4;

/// The image model: analysis and synthesis transforms and the mean-scale
/// hyperprior (Minnen et al. 2018), with the optional slice and checkerboard
/// context ([`context`]), variable-rate gains ([`rate`]) and scan blocks ([`scan`]).
#[derive(Module, Debug)]
pub struct Hyperprior {
    analysis: Vec<Conv2d>,
    analysis_gdn: Vec<Gdn>,
    synthesis: Vec<Conv2d>,
    synthesis_igdn: Vec<Gdn>,
    hyper_analysis: Vec<Conv2d>,
    /// ẑ → μ of y: up, ReLU, up, ReLU, conv (N → M).
    pub hyper_mean: Vec<Conv2d>,
    /// ẑ → continuous scale level of y, the same shape as `hyper_mean`; exported
    /// as [`integer::IntScaleNet`].
    pub hyper_scale: Vec<Conv2d>,
    /// Per-channel mean and log-scale of the factorised prior on z.
    pub z_mean: Param<Tensor<1>>,
    /// `[N]`; the scale is exp(z_log_scale), clamped to the scale table's range.
    pub z_log_scale: Param<Tensor<1>>,
    /// Per slice, the corrections of the means (float) and of the scale
    /// levels (integer at decode time); empty for a plain hyperprior.
    pub slice_mean: Vec<SliceContext>,
    /// Per slice, the level correction.
    pub slice_scale: Vec<SliceContext>,
    /// The gain vectors of a variable-rate model.
    pub quality: Option<QualityGains>,
    /// After the analysis's third stage and the synthesis's first (1/8 resolution).
    pub analysis_block: Option<ScanBlock>,
    /// After the synthesis's first stage (1/8 resolution).
    pub synthesis_block: Option<ScanBlock>,
    shuffle: PixelShuffle,
}

pub(crate) fn conv(cin: usize, cout: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(kernel / 2, kernel / 2, kernel / 2, kernel / 2))
        .init(device)
}

/// Last layer of the scale branch, biased to start at scale level 20
/// (σ ≈ 1.3): a network that starts at the smallest scale makes nearly every
/// latent "impossible", and the rate then gives almost no gradient.
fn scale_output(n: usize, m: usize, device: &Device) -> Conv2d {
    let mut layer = conv(n, m, 3, 1, device);
    layer.bias = Some(Param::from_tensor(Tensor::full([m], 20.0, device)));
    layer
}

/// Scales a layer's initial weights (detached: a parameter must be a leaf of
/// the autodiff graph).
fn gain(mut layer: Conv2d, factor: f32) -> Conv2d {
    layer.weight = Param::from_tensor((layer.weight.val() * factor).detach());
    layer
}

/// With the default initialisation y starts at σ ≈ 0.05 and z at σ ≈ 0.02:
/// rounding erases both, and nothing reaches the synthesis until they grow,
/// which costs thousands of steps. These gains start y at σ ≈ 3 and z near 1
/// (training/train.py starts the same way).
const Y_GAIN: f32 = 60.0;
const Z_GAIN: f32 = 8.0;
/// The scale branch's last layer learns as if its weights carried this gain
/// (as training/train.py's `GAINS`); its start is the level-20 bias.
const SCALE_GAIN: f32 = 8.0;

impl Hyperprior {
    /// A freshly initialised network of `config`'s sizes on `device`. Panics if
    /// the context's slices do not add up to M.
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let (n, m) = (config.n, config.m);
        assert!(!config.has_context() || config.slices.iter().sum::<usize>() == m, "slices must add up to m");
        // Slice k sees the channels before it, and its own hyperprior output
        // and anchors.
        let contexts = || -> Vec<SliceContext> {
            slice_ranges(&config.slices)
                .into_iter()
                .map(|r| SliceContext::new(r.start + 2 * r.len(), r.len(), config.context_hidden, device))
                .collect()
        };
        // Sub-pixel upsampling ×2: a 3×3 conv to 4× the channels, then pixel shuffle.
        let up = |cin: usize, cout: usize| conv(cin, cout * 4, 3, 1, device);
        let mut output = up(n, 3);
        let [out_channels] = output.bias.as_ref().expect("convs have a bias").dims(); // 3 × 4 before the shuffle
        output.bias = Some(Param::from_tensor(Tensor::full([out_channels], 0.45, device))); // mid-grey
        Self {
            analysis: vec![
                conv(3, n, 5, 2, device),
                conv(n, n, 5, 2, device),
                conv(n, n, 5, 2, device),
                gain(conv(n, m, 5, 2, device), Y_GAIN),
            ],
            analysis_gdn: (0..3).map(|_| Gdn::new(n, device)).collect(),
            synthesis: vec![gain(up(m, n), 1.0 / 5.0), up(n, n), up(n, n), output],
            synthesis_igdn: (0..3).map(|_| Gdn::new(n, device)).collect(),
            hyper_analysis: vec![
                conv(m, n, 3, 1, device),
                conv(n, n, 5, 2, device),
                gain(conv(n, n, 5, 2, device), Z_GAIN),
            ],
            hyper_mean: vec![up(n, n), up(n, n), conv(n, m, 3, 1, device)],
            hyper_scale: vec![up(n, n), up(n, n), scale_output(n, m, device)],
            z_mean: Param::from_tensor(Tensor::zeros([n], device)),
            z_log_scale: Param::from_tensor(Tensor::zeros([n], device)),
            slice_mean: contexts(),
            slice_scale: contexts(),
            quality: config.is_variable_rate().then(|| QualityGains::new(config.lambdas.len(), m, device)),
            analysis_block: config.blocks.map(|kind| ScanBlock::new(n, kind, device)),
            synthesis_block: config.blocks.map(|kind| ScanBlock::new(n, kind, device)),
            shuffle: PixelShuffleConfig::new(2).init(),
        }
    }

    /// The layers whose weights carry a gain, with it. Adam's steps have a
    /// fixed size whatever the weights' scale, so the trainer gives these
    /// layers a learning rate that much larger: the same steps as training
    /// the ungained weights (what training/train.py does). Without it the ×60
    /// analysis output barely moves in thousands of steps.
    pub fn gained_layers(&self) -> Vec<(&Conv2d, f32)> {
        let mut layers =
            vec![(&self.analysis[3], Y_GAIN), (&self.hyper_analysis[2], Z_GAIN), (&self.hyper_scale[2], SCALE_GAIN)];
        // The level corrections, like the scale branch, output levels.
        layers.extend(self.slice_scale.iter().map(|c| (&c.output, SCALE_GAIN)));
        layers
    }

    /// The latent y `[B, M, ⌈H/16⌉, ⌈W/16⌉]` of images `[B, 3, H, W]` in 0..1
    /// (before any variable-rate gain).
    pub fn analysis(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x;
        for (i, layer) in self.analysis.iter().enumerate() {
            h = conv2d::forward(layer, h);
            if let Some(gdn) = self.analysis_gdn.get(i) {
                h = gdn.forward(h);
            }
            if let (2, Some(block)) = (i, &self.analysis_block) {
                h = block.forward(h);
            }
        }
        h
    }

    /// The latent the entropy model codes at `quality` (a fixed-rate model
    /// has one quality and ignores it).
    pub fn analysis_at(&self, x: Tensor<4>, quality: u8) -> Tensor<4> {
        let y = self.analysis(x);
        match &self.quality {
            Some(gains) => y * gains.at(quality).0,
            None => y,
        }
    }

    /// The image `[B, 3, 16h, 16w]` (0..1 scale, not clamped) from ŷ
    /// `[B, M, h, w]` coded at `quality`: ŷ times the decoder's gain (none for a
    /// model trained at one λ), then [`Hyperprior::synthesis`].
    pub fn synthesis_at(&self, y_hat: Tensor<4>, quality: u8) -> Tensor<4> {
        match &self.quality {
            Some(gains) => self.synthesis(y_hat * gains.at(quality).1),
            None => self.synthesis(y_hat),
        }
    }

    /// The image `[B, 3, 16h, 16w]` (0..1 scale, not clamped) from ŷ
    /// `[B, M, h, w]`, with no gain.
    pub fn synthesis(&self, y_hat: Tensor<4>) -> Tensor<4> {
        let mut h = y_hat;
        for (i, layer) in self.synthesis.iter().enumerate() {
            h = self.shuffle.forward(conv2d::forward(layer, h));
            if let Some(igdn) = self.synthesis_igdn.get(i) {
                h = igdn.forward_inverse(h);
            }
            if let (0, Some(block)) = (i, &self.synthesis_block) {
                h = block.forward(h);
            }
        }
        h
    }

    /// The hyper latent z (continuous, `[1, N, ⌈yh/4⌉, ⌈yw/4⌉]`; the coder
    /// rounds it) of a tile's latent y (`[1, M, yh, yw]`): y edge-padded to a
    /// multiple of [`Z_STRIDE`], then [`Hyperprior::hyper_analysis`].
    pub fn hyper_latent(&self, y: Tensor<4>) -> Tensor<4> {
        self.hyper_analysis(pad_to_z_grid(y))
    }

    /// z `[B, N, h/4, w/4]` from y `[B, M, h, w]` (h, w multiples of 4): conv 3×3,
    /// ReLU, conv 5×5/2, ReLU, conv 5×5/2.
    pub fn hyper_analysis(&self, y: Tensor<4>) -> Tensor<4> {
        let [a, b, c] = [&self.hyper_analysis[0], &self.hyper_analysis[1], &self.hyper_analysis[2]];
        let h = burn::tensor::activation::relu(conv2d::forward(a, y));
        let h = burn::tensor::activation::relu(conv2d::forward(b, h));
        conv2d::forward(c, h)
    }

    /// Shared shape of both hyper-synthesis branches: up, ReLU, up, ReLU, conv.
    fn hyper_branch(&self, layers: &[Conv2d], z_hat: Tensor<4>) -> Tensor<4> {
        let h = burn::tensor::activation::relu(self.shuffle.forward(conv2d::forward(&layers[0], z_hat)));
        let h = burn::tensor::activation::relu(self.shuffle.forward(conv2d::forward(&layers[1], h)));
        conv2d::forward(&layers[2], h)
    }

    /// The means μ of y, `[B, M, 4h, 4w]`, from ẑ `[B, N, h, w]`.
    pub fn hyper_mean(&self, z_hat: Tensor<4>) -> Tensor<4> {
        self.hyper_branch(&self.hyper_mean, z_hat)
    }

    /// Continuous scale level of each y element (training path; decoding uses
    /// the integer copy).
    pub fn hyper_scale_level(&self, z_hat: Tensor<4>) -> Tensor<4> {
        self.hyper_branch(&self.hyper_scale, z_hat)
    }

    /// Training forward pass: returns the reconstruction and the estimated
    /// bits of y and z (summed over the batch).
    ///
    /// Rates use additive uniform noise (`noise_y`, `noise_z` in [-0.5, 0.5),
    /// drawn by the caller so runs resume exactly); the synthesis sees the
    /// rounded latents through a straight-through estimator, as the decoder will.
    pub fn forward_rd(&self, x: Tensor<4>, noise_y: Tensor<4>, noise_z: Tensor<4>) -> RdOutput {
        let y = self.analysis(x);
        let z = self.hyper_analysis(y.clone());
        let z_hat = straight_through_round(z.clone());
        let bits_z = self.z_bits(z + noise_z);

        let mut mean = self.hyper_mean(z_hat.clone());
        let mut level = self.hyper_scale_level(z_hat);
        if !self.slice_mean.is_empty() {
            let [_, _, yh, yw] = y.dims();
            (mean, level) = self.context(
                y.clone(),
                mean.narrow(2, 0, yh).narrow(3, 0, yw),
                level.narrow(2, 0, yh).narrow(3, 0, yw),
                straight_through_round,
            );
        }
        let bits_y = gaussian_bits(y.clone() + noise_y - mean.clone(), level_to_scale(level));
        let y_hat = straight_through_round(y - mean.clone()) + mean;
        RdOutput { x_hat: self.synthesis(y_hat), bits_y, bits_z }
    }

    /// Bits of z (noisy or rounded) under its factorised prior, one Gaussian
    /// per channel, summed over the batch.
    pub fn z_bits(&self, z: Tensor<4>) -> Tensor<1> {
        let [_, n, _, _] = z.dims();
        let z_mean = self.z_mean.val().reshape([1, n, 1, 1]);
        let z_scale = self.z_log_scale.val().exp().clamp(SCALE_MIN, SCALE_MAX).reshape([1, n, 1, 1]);
        gaussian_bits(z - z_mean, z_scale)
    }

    /// Means and continuous levels of every y element under the slice and
    /// checkerboard context, all passes at once (training; training/train.py's
    /// `context`). The codec runs the same networks pass by pass. `round`
    /// makes the symbols q from y − μ: a rounding with a surrogate gradient
    /// (straight-through in training, [`refine`]'s annealed soft rounding).
    pub fn context(
        &self,
        y: Tensor<4>,
        hyper_mean: Tensor<4>,
        hyper_level: Tensor<4>,
        round: impl Fn(Tensor<4>) -> Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let [_, _, h, w] = y.dims();
        let anchor = checkerboard(h, w, &y.device());
        let other = anchor.clone().neg() + 1.0;
        let (mean, level_inputs) = self.context_means(y, hyper_mean, hyper_level.clone(), &anchor, round);
        let levels = slice_ranges(&self.slice_sizes())
            .into_iter()
            .zip(level_inputs)
            .enumerate()
            .map(|(k, (r, [first, second]))| {
                let lh = hyper_level.clone().narrow(1, r.start, r.len());
                let net = &self.slice_scale[k];
                lh + net.forward(first) * anchor.clone() + net.forward(second) * other.clone()
            })
            .collect();
        (mean, Tensor::cat(levels, 1))
    }

    /// The means, and per slice the inputs of the level correction in its
    /// two passes. Means see ŷ; level corrections see the rounded symbols q.
    pub fn context_means(
        &self,
        y: Tensor<4>,
        hyper_mean: Tensor<4>,
        hyper_level: Tensor<4>,
        anchor: &Tensor<4>,
        round: impl Fn(Tensor<4>) -> Tensor<4>,
    ) -> (Tensor<4>, Vec<[Tensor<4>; 2]>) {
        let other = anchor.clone().neg() + 1.0;
        let (mut means, mut level_inputs, mut y_hats, mut qs) = (vec![], vec![], vec![], vec![]);
        for (k, r) in slice_ranges(&self.slice_sizes()).into_iter().enumerate() {
            let yk = y.clone().narrow(1, r.start, r.len());
            let mh = hyper_mean.clone().narrow(1, r.start, r.len());
            let lh = hyper_level.clone().narrow(1, r.start, r.len()).clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP);
            let none = yk.zeros_like();
            let mu_a = mh.clone() + self.slice_mean[k].forward(context_input(&y_hats, mh.clone(), none.clone()));
            let q_a = round(yk.clone() - mu_a.clone()) * anchor.clone();
            let anchors_hat = (q_a.clone() + mu_a.clone()) * anchor.clone();
            let mu_b = mh.clone() + self.slice_mean[k].forward(context_input(&y_hats, mh, anchors_hat));
            let mu = mu_a * anchor.clone() + mu_b * other.clone();
            level_inputs.push([
                context_input(&qs, lh.clone(), none),
                context_input(&qs, lh, q_a.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP)),
            ]);
            let q = round(yk - mu.clone());
            y_hats.push(q.clone() + mu.clone());
            qs.push(q.clamp(-CONTEXT_CLAMP, CONTEXT_CLAMP));
            means.push(mu);
        }
        (Tensor::cat(means, 1), level_inputs)
    }

    /// The means of a context model pass by pass, as the codec needs them:
    /// `symbols(range, μ)` returns the symbols q of the slice's channels
    /// (`range`) under the mean μ — the encoder rounds y − μ, the decoder
    /// gives what it parsed. It is asked twice per slice: with the first
    /// pass's mean (only its anchors are used) and with the final one.
    pub fn context_mean_passes(
        &self,
        hyper_mean: Tensor<4>,
        mut symbols: impl FnMut(std::ops::Range<usize>, Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        let [_, _, h, w] = hyper_mean.dims();
        let anchor = checkerboard(h, w, &hyper_mean.device());
        let other = anchor.clone().neg() + 1.0;
        let (mut means, mut y_hats) = (vec![], vec![]);
        for (k, r) in slice_ranges(&self.slice_sizes()).into_iter().enumerate() {
            let mh = hyper_mean.clone().narrow(1, r.start, r.len());
            let none = mh.zeros_like();
            let mu_a = mh.clone() + self.slice_mean[k].forward(context_input(&y_hats, mh.clone(), none));
            let q_a = symbols(r.clone(), mu_a.clone()) * anchor.clone();
            let anchors_hat = (q_a + mu_a.clone()) * anchor.clone();
            let mu_b = mh.clone() + self.slice_mean[k].forward(context_input(&y_hats, mh, anchors_hat));
            let mu = mu_a * anchor.clone() + mu_b * other.clone();
            y_hats.push(symbols(r, mu.clone()) + mu.clone());
            means.push(mu);
        }
        Tensor::cat(means, 1)
    }

    /// The slice sizes, read back from the networks.
    pub fn slice_sizes(&self) -> Vec<usize> {
        self.slice_mean.iter().map(|c| c.output.weight.dims()[0]).collect()
    }
}

/// What [`Hyperprior::forward_rd`] returns.
pub struct RdOutput {
    /// The reconstruction `[B, 3, H, W]` (0..1 scale, not clamped).
    pub x_hat: Tensor<4>,
    /// Estimated bits of y, `[1]`, summed over the batch.
    pub bits_y: Tensor<1>,
    /// Estimated bits of z, `[1]`, summed over the batch.
    pub bits_z: Tensor<1>,
}

/// A latent `[1, C, yh, yw]` edge-padded to `[1, C, 4⌈yh/4⌉, 4⌈yw/4⌉]`, the
/// grid the hyper analysis maps to z (one z element per [`Z_STRIDE`]² of y).
pub fn pad_to_z_grid(y: Tensor<4>) -> Tensor<4> {
    let [_, _, yh, yw] = y.dims();
    let (zh, zw) = (yh.div_ceil(Z_STRIDE), yw.div_ceil(Z_STRIDE));
    y.pad((0, zw * Z_STRIDE - yw, 0, zh * Z_STRIDE - yh), PadMode::Edge)
}

/// Rounds in the forward pass, passes gradients straight through.
pub fn straight_through_round(x: Tensor<4>) -> Tensor<4> {
    x.clone() + (x.clone().round() - x).detach()
}

/// Maps a continuous level to its scale, exactly as the scale table does.
pub fn level_to_scale(level: Tensor<4>) -> Tensor<4> {
    let step = ((SCALE_MAX / SCALE_MIN).ln() / (SCALE_LEVELS - 1) as f64) as f32;
    (level.clamp(0.0, (SCALE_LEVELS - 1) as f32) * step + SCALE_MIN.ln() as f32).exp()
}

/// Total bits of `v` (already centred) under a Gaussian of `scale`, each value
/// taking the mass of its unit interval.
pub fn gaussian_bits(v: Tensor<4>, scale: Tensor<4>) -> Tensor<1> {
    // Evaluate on the negative side where the CDF keeps its precision.
    let v = v.abs().neg();
    let inv = (scale * std::f32::consts::SQRT_2).recip();
    let upper = ((v.clone() + 0.5) * inv.clone()).erf();
    let lower = ((v - 0.5) * inv).erf();
    let likelihood = (upper - lower) * 0.5;
    // Bound the likelihood in the forward pass only, so that latents far in the
    // tail still tell the network which way to move (as CompressAI's LowerBound).
    let likelihood = likelihood.clone() + (likelihood.clone().clamp_min(1e-9) - likelihood).detach();
    likelihood.log().sum() * (-1.0 / std::f32::consts::LN_2)
}
