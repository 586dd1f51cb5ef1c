//! Training resumes exactly: 4 steps in one go equal 2 steps, a stop, and 2
//! more from the checkpoint. (One test in this binary: burn's seed is global.)

mod common;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use livc::Backend;
use livc::model::ModelConfig;
use livc::train::{TrainSettings, load_run_model, train};
use std::path::Path;

fn weights(run: &Path) -> Vec<u8> {
    let (model, _) = load_run_model(run, &Backend::Cpu.device()).unwrap();
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).unwrap();
    store.get_bytes().unwrap()
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let root = std::env::temp_dir().join(format!("livc-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let images = root.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..3 {
        livc::io::write_image(&images.join(format!("{i}.png")), &common::gradient(80 + i * 10, 70, i as u32)).unwrap();
    }
    let settings = |steps| TrainSettings {
        model: ModelConfig { n: 8, m: 12 },
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
    assert_eq!(straight, weights(&root.join("sliced")), "resumed run diverged");
    let log = std::fs::read_to_string(root.join("sliced/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4);
}
