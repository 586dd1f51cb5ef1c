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

#[test]
fn crop_pack_fits_its_budget_and_is_a_training_folder() {
    let sources = [common::gradient(90, 70, 1), common::gradient(64, 100, 2)];
    let (dir, source) = pack_sources("pack", &sources);
    let pack = dir.join("pack");
    let budget = 40_000;
    let (count, bytes) = livc::train::data::write_crop_pack(&source, &pack, 64, budget, 3).unwrap();
    assert!(count >= 2 && bytes <= budget, "{count} crops, {bytes} bytes");
    let crops = livc::train::data::load_folder(&pack, 64).unwrap();
    assert_eq!(crops.len(), count);
    assert!(crops.iter().all(|c| c.width == 64 && c.height == 64));
    // Lossless: every crop is a window of one of the sources.
    for crop in &crops {
        let found = sources.iter().any(|s| {
            (0..=s.height - 64).any(|y0| {
                (0..=s.width - 64).any(|x0| {
                    (0..64).all(|y| {
                        crop.pixels[y * 64 * 3..][..64 * 3] == s.pixels[((y0 + y) * s.width + x0) * 3..][..64 * 3]
                    })
                })
            })
        });
        assert!(found, "a crop is not an exact window of a source image");
    }
    assert!(livc::train::data::write_crop_pack(&source, &dir.join("tiny"), 64, 10, 3).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A budget for one crop: the seed picks which image it comes from, so
/// slices that each carry part of the training set cover all of it.
#[test]
fn crop_packs_with_other_seeds_cover_other_images() {
    let sources: Vec<_> = (0..4u32).map(|i| common::gradient(64, 64, i + 1)).collect();
    let (dir, source) = pack_sources("pack-seeds", &sources);
    let one = sources[0].pixels.len() as u64; // the raw size bounds one crop
    let mut first = std::collections::BTreeSet::new();
    for seed in 0..8 {
        let pack = dir.join(format!("pack{seed}"));
        livc::train::data::write_crop_pack(&source, &pack, 64, one, seed).unwrap();
        let crop = &livc::train::data::load_folder(&pack, 64).unwrap()[0];
        first.insert(sources.iter().position(|s| s.pixels == crop.pixels).expect("a crop of a 64² image is the image"));
    }
    assert!(first.len() >= 2, "every seed's first crop came from image {first:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh scratch folder (common::scratch) with `images` saved as PNGs in its
/// `source` folder: (the folder, the source folder).
fn pack_sources(name: &str, images: &[livc::io::RgbImage]) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = common::scratch(name);
    let source = dir.join("source");
    std::fs::create_dir_all(&source).unwrap();
    for (i, img) in images.iter().enumerate() {
        livc::io::write_image(&source.join(format!("{i}.png")), img).unwrap();
    }
    (dir, source)
}
