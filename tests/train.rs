//! Training resumes exactly: 4 steps in one go equal 2 steps, a stop, and 2
//! more from the checkpoint, up to float rounding (burn flex's multithreaded
//! backward pass is not bit-reproducible between runs; a lost Adam state or a
//! different crop would differ by ~1e-3). One test in this binary: burn's seed is global.

mod common;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use livc::Backend;
use livc::model::ModelConfig;
use livc::train::{TrainSettings, load_run_model, train};
use std::path::Path;

fn weights(run: &Path) -> Vec<f32> {
    let (model, _) = load_run_model(run, &Backend::Cpu.device()).unwrap();
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).unwrap();
    let bytes = store.get_bytes().unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    names
        .iter()
        .flat_map(|n| {
            st.tensor(n)
                .unwrap()
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    // Restored Adam state is created on burn's default device; keep it on the
    // CPU as the CLI does (the only test in this binary, so no other thread reads it).
    unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    let root = std::env::temp_dir().join(format!("livc-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let images = root.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..3 {
        livc::io::write_image(&images.join(format!("{i}.png")), &common::gradient(80 + i * 10, 70, i as u32)).unwrap();
    }
    let settings = |steps| TrainSettings {
        model: ModelConfig::plain(8, 12),
        lambda: 0.01,
        batch: 2,
        crop: 64,
        learning_rate: 1e-3,
        seed: 7,
        total_steps: steps,
        log_every: 1,
        checkpoint_every: 2,
        train_dir: images.clone(),
        val_dir: images.clone(),
    };
    let device = Backend::Cpu.device();
    train(&root.join("straight"), settings(4), None, f64::INFINITY, &device).unwrap();
    train(&root.join("sliced"), settings(2), None, f64::INFINITY, &device).unwrap();
    train(&root.join("sliced"), settings(4), None, f64::INFINITY, &device).unwrap();

    let straight = weights(&root.join("straight"));
    let sliced = weights(&root.join("sliced"));
    let untrained_diff = {
        // Scale of a real difference: two steps fewer.
        train(&root.join("short"), settings(2), None, f64::INFINITY, &device).unwrap();
        max_diff(&straight, &weights(&root.join("short")))
    };
    let diff = max_diff(&straight, &sliced);
    assert!(
        diff < 1e-5 && untrained_diff > 1e-4,
        "resumed run differs by {diff} (two missing steps: {untrained_diff})"
    );
    let log = std::fs::read_to_string(root.join("sliced/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4);
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
