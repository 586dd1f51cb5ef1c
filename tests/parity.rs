//! Weights trained in PyTorch (training/train.py) mean the same in livc: the
//! burn model, loaded from a run folder as `livc export` loads it, reproduces
//! every stage of the PyTorch model on checked-in vectors
//! (tests/data/parity.safetensors, from training/parity_vectors.py).

use burn::prelude::*;
use livc::Backend;
use livc::train::load_run_model;
use safetensors::SafeTensors;
use safetensors::tensor::TensorView;

fn tensor(st: &SafeTensors, name: &str, device: &Device) -> Tensor<4> {
    let view = st.tensor(name).unwrap();
    let shape: [usize; 4] = view.shape().try_into().unwrap();
    let data: Vec<f32> = view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// Largest difference relative to the largest magnitude of `expected`.
fn relative_error(actual: Tensor<4>, expected: Tensor<4>) -> f32 {
    let scale = expected.clone().abs().max().into_scalar::<f32>().max(1e-6);
    (actual - expected).abs().max().into_scalar::<f32>() / scale
}

#[test]
fn pytorch_trained_weights_give_the_same_outputs() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/parity.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();

    // A run folder as training/train.py --export writes it.
    let run = std::env::temp_dir().join(format!("livc-parity-{}", std::process::id()));
    std::fs::create_dir_all(&run).unwrap();
    let net: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .filter_map(|(name, view)| name.strip_prefix("net.").map(|k| (k.to_string(), view)))
        .collect();
    std::fs::write(run.join("model.safetensors"), safetensors::serialize(net, None).unwrap()).unwrap();
    let state = serde_json::json!({
        "settings": {"model": {"n": 8, "m": 12, "slices": [4, 8], "context_hidden": 8, "lambdas": [0.002, 0.01, 0.05], "blocks": "ssm"}, "lambda": 0.01, "batch": 1, "crop": 64, "learning_rate": 1e-4,
                     "seed": 1, "total_steps": 0, "log_every": 1, "checkpoint_every": 1,
                     "train_dir": "-", "val_dir": "-"},
        "step": 0, "wall_seconds": 0.0, "trainer": "training/parity_vectors.py"});
    std::fs::write(run.join("state.json"), state.to_string()).unwrap();

    let device = Backend::Cpu.device();
    let (model, _) = load_run_model(&run, &device).unwrap();
    std::fs::remove_dir_all(&run).ok();
    let get = |name: &str| tensor(&st, &format!("out.{name}"), &device);

    let y = model.analysis(get("input"));
    assert!(relative_error(y.clone(), get("y")) < 1e-4, "analysis differs");
    assert!(relative_error(model.hyper_analysis(get("y")), get("z")) < 1e-4, "hyper-analysis differs");
    // Each later stage starts from PyTorch's own values, so a z on a .5 edge cannot flip a rounding.
    assert!(relative_error(model.hyper_mean(get("z_hat")), get("mean")) < 1e-4, "hyper mean differs");
    assert!(relative_error(model.hyper_scale_level(get("z_hat")), get("scale_level")) < 1e-4, "hyper scale differs");
    assert!(relative_error(model.synthesis(get("y").round()), get("x_hat")) < 1e-4, "synthesis differs");
    let (mean, level) = model.context(get("y"), get("mean"), get("scale_level"), livc::model::straight_through_round);
    assert!(relative_error(mean, get("context_mean")) < 1e-4, "context means differ");
    assert!(relative_error(level, get("context_level")) < 1e-4, "context levels differ");
    let y_q30 = model.analysis_at(get("input"), 30);
    assert!(relative_error(y_q30, get("y_at_q30")) < 1e-4, "gained latent differs");
    let x_hat_q30 = model.synthesis_at(get("y_at_q30").round(), 30);
    assert!(relative_error(x_hat_q30, get("x_hat_at_q30")) < 1e-4, "synthesis of the gained latent differs");
}

#[test]
fn pytorch_trained_temporal_weights_give_the_same_outputs() {
    use burn::store::{ModuleSnapshot, SafetensorsStore};
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/temporal_parity.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let weights: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .filter_map(|(name, view)| name.strip_prefix("net.").map(|k| (k.to_string(), view)))
        .collect();
    let device = Backend::Cpu.device();
    let mut net = livc::model::temporal::TemporalNet::new(8, 12, 4, &device);
    net.load_from(&mut SafetensorsStore::from_bytes(Some(safetensors::serialize(weights, None).unwrap()))).unwrap();
    let get = |name: &str| tensor(&st, &format!("out.{name}"), &device);
    let (reference, y, gain) = (get("reference"), get("y"), get("gain"));
    let z = net.hyper_analysis(y.clone() - reference.clone(), reference.clone(), gain.clone());
    assert!(relative_error(z, get("z")) < 1e-4, "temporal hyper-analysis differs");
    let mean = net.hyper_mean(get("z_hat"), reference.clone(), gain.clone());
    assert!(relative_error(mean, get("mean")) < 1e-4, "temporal mean differs");
    assert!(
        relative_error(net.predict(reference.clone(), gain.clone()), get("prediction")) < 1e-4,
        "prediction differs"
    );
    assert!(relative_error(net.refine(y, reference, gain), get("refined")) < 1e-4, "refinement differs");
}
