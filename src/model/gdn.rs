//! Simplified generalized divisive normalisation (Johnston et al. 2019):
//! `y_i = x_i / (β_i + Σ_j γ_ij |x_j|)`, and its inverse that multiplies.
//! Cheaper than Ballé's GDN (no square root) and as good for compression.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// Simplified GDN (Johnston et al. 2019) over C channels: β `[C]` and γ
/// `[C, C]`, stored as their square roots.
#[derive(Module, Debug)]
pub struct Gdn {
    /// β = beta², γ = gamma² keep both non-negative.
    beta: Param<Tensor<1>>,
    gamma: Param<Tensor<2>>,
}

impl Gdn {
    /// β = 1 and γ = 0.1·I for `channels` channels.
    pub fn new(channels: usize, device: &Device) -> Self {
        let gamma = Tensor::<2>::eye(channels, device) * 0.1f32.sqrt();
        Self { beta: Param::from_tensor(Tensor::ones([channels], device)), gamma: Param::from_tensor(gamma) }
    }

    fn norm(&self, x: Tensor<4>) -> Tensor<4> {
        let [c, _] = self.gamma.dims();
        let gamma = self.gamma.val().powi_scalar(2).reshape([c, c, 1, 1]);
        let beta = self.beta.val().powi_scalar(2) + 1e-6;
        conv2d(x.abs(), gamma, Some(beta), ConvOptions::new([1, 1], [0, 0], [1, 1], 1))
    }

    /// GDN: x / (β + γ·|x|) per position, `[B, C, H, W]` in and out (the analysis).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x.clone() / self.norm(x)
    }

    /// Inverse GDN: x · (β + γ·|x|) per position, `[B, C, H, W]` in and out (the
    /// synthesis).
    pub fn forward_inverse(&self, x: Tensor<4>) -> Tensor<4> {
        x.clone() * self.norm(x)
    }
}
