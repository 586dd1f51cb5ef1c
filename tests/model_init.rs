//! The model's starting point (its own binary: burn's seed is global).

use livc::Backend;
use livc::model::ModelConfig;

/// A fresh model must start with latents that survive rounding: with default
/// initialisation y starts at σ ≈ 0.05, rounds to zero, and training spends
/// thousands of steps before anything reaches the synthesis.
#[test]
fn fresh_model_latents_survive_rounding() {
    use burn::prelude::*;
    let device = Backend::Cpu.device();
    device.seed(3);
    let model = livc::model::Hyperprior::new(&ModelConfig::default(), &device);
    let x = Tensor::<4>::random([2, 3, 128, 128], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
    let std = |t: Tensor<4>| {
        let centred = t.clone() - t.mean().reshape([1, 1, 1, 1]);
        centred.powi_scalar(2).mean().sqrt().into_scalar::<f32>()
    };
    let y = model.analysis(x);
    let z = model.hyper_analysis(y.clone());
    let (sy, sz) = (std(y), std(z));
    assert!(sy > 1.0 && sz > 0.5, "y σ = {sy}, z σ = {sz}: rounding would erase them");
}
