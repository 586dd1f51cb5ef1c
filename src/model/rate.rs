//! One model for every rate (the asymmetric gained VAE of Cui et al. 2021):
//! the encoder codes y·g and the synthesis sees ŷ·g⁻¹, with per-channel gain
//! vectors g, g⁻¹ trained at L values of λ (rows of `gain` and `inverse`).
//! Between two trained rows the vectors are interpolated geometrically, so the
//! quality knob is continuous.
//!
//! The gains never touch what selects a probability table: the scale levels
//! come from ẑ and the parsed symbols, whatever the quality. The quality a
//! file was made at is in its header, and moves only the reconstruction.

use burn::module::Param;
use burn::prelude::*;

/// Qualities run from 0 (the smallest λ trained) to this (the largest).
pub const MAX_QUALITY: u8 = 100;

/// The λ a variable-rate model was trained for at `quality`: the trained
/// values interpolated geometrically, as the training interpolates them.
pub fn lambda_at(lambdas: &[f64], quality: u8) -> f64 {
    let (i, f) = QualityGains::bracket(lambdas.len(), quality);
    let f = f as f64;
    (lambdas[i].ln() * (1.0 - f) + lambdas[i + 1].ln() * f).exp()
}

/// The gain vectors of a variable-rate model (Cui et al. 2021): one row per
/// trained λ, interpolated geometrically between rows.
#[derive(Module, Debug)]
pub struct QualityGains {
    /// `[L, m]`: the encoder's gain of each channel at each trained λ.
    pub gain: Param<Tensor<2>>,
    /// `[L, m]`: the decoder's.
    pub inverse: Param<Tensor<2>>,
}

impl QualityGains {
    /// Gains of ones for `levels` trained λ (at least 2; panics below) and `m`
    /// channels.
    pub fn new(levels: usize, m: usize, device: &Device) -> Self {
        assert!(levels >= 2, "a variable-rate model needs at least two trained λ");
        Self {
            gain: Param::from_tensor(Tensor::ones([levels, m], device)),
            inverse: Param::from_tensor(Tensor::ones([levels, m], device)),
        }
    }

    /// The trained rows around `quality` (0 → row 0, MAX_QUALITY → the last):
    /// row i and i + 1, and the fraction f of the way from the first to the second.
    fn bracket(levels: usize, quality: u8) -> (usize, f32) {
        let position = quality.min(MAX_QUALITY) as f32 / MAX_QUALITY as f32 * (levels - 1) as f32;
        let i = (position.floor() as usize).min(levels - 2);
        (i, position - i as f32)
    }

    /// The encoder's and the decoder's gain vectors at `quality`, as `[1, m, 1, 1]`.
    pub fn at(&self, quality: u8) -> (Tensor<4>, Tensor<4>) {
        (interpolate(self.gain.val(), quality), interpolate(self.inverse.val(), quality))
    }
}

/// exp((1 − f)·ln row_i + f·ln row_{i+1}) at position i + f.
fn interpolate(rows: Tensor<2>, quality: u8) -> Tensor<4> {
    let [levels, m] = rows.dims();
    let (i, f) = QualityGains::bracket(levels, quality);
    let log = rows.log();
    let mixed = log.clone().narrow(0, i, 1) * (1.0 - f) + log.narrow(0, i + 1, 1) * f;
    mixed.exp().reshape([1, m, 1, 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_spans_the_trained_rows_and_interpolates_geometrically() {
        let device = Device::flex();
        let rows = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 4.0, 8.0, 16.0, 32.0], [3, 2]), &device);
        let gains = QualityGains { gain: Param::from_tensor(rows.clone()), inverse: Param::from_tensor(rows) };
        let at = |q| gains.at(q).0.into_data().try_into_vec::<f32>().unwrap();
        let close = |a: Vec<f32>, b: [f32; 2]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4 * y);
        assert!(close(at(0), [1.0, 2.0]));
        assert!(close(at(50), [4.0, 8.0]));
        assert!(close(at(100), [16.0, 32.0]));
        assert!(close(at(25), [2.0, 4.0]), "geometric mean of rows 0 and 1: {:?}", at(25));
        assert!(close(at(255), [16.0, 32.0]), "qualities above the top clamp to it");
    }

    #[test]
    fn lambda_at_follows_the_trained_ladder() {
        let ladder = [0.001, 0.004, 0.016];
        assert!((lambda_at(&ladder, 0) - 0.001).abs() < 1e-12);
        assert!((lambda_at(&ladder, 50) - 0.004).abs() < 1e-12);
        assert!((lambda_at(&ladder, 100) - 0.016).abs() < 1e-12);
        assert!((lambda_at(&ladder, 25) - 0.002).abs() < 1e-12, "geometric mean: {}", lambda_at(&ladder, 25));
    }
}
