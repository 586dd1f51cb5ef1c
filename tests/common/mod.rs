//! Shared helpers: a tiny model package and synthetic images.
#![allow(dead_code)]

use livc::Backend;
use livc::io::RgbImage;
use livc::model::package::{PackageInfo, export};
use livc::model::{Hyperprior, ModelConfig};
use std::sync::OnceLock;

/// A tiny random-weight model package, exported like a trained one.
pub fn tiny_package_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| tiny_export(ModelConfig::plain(16, 24), "tiny-test"))
}

/// The same with a context model of two uneven slices, whose corrections
/// (zero at initialisation) are made random so that they change the tables.
pub fn tiny_context_package_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        tiny_export(
            ModelConfig { n: 16, m: 24, slices: vec![8, 16], context_hidden: 16, lambdas: vec![], blocks: None },
            "tiny-context-test",
        )
    })
}

/// Every part at once: the context model, three trained rates (gains from
/// ×0.3 to ×3 with a per-channel spread, as a trained model's) and the
/// selective-scan blocks (their output layers made random, so they act).
pub fn tiny_full_package_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let config = ModelConfig {
            n: 16,
            m: 24,
            slices: vec![8, 16],
            context_hidden: 16,
            lambdas: vec![0.002, 0.01, 0.05],
            blocks: Some(livc::model::scan::BlockKind::Ssm),
        };
        tiny_export(config, "tiny-full-test")
    })
}

/// A context model whose last slice is wide, as the campaign's widened model
/// (M = 192, a sixth slice over 288 inputs): its integer level correction's
/// hidden layer has 24 + 2·120 = 264 inputs, 2,376 taps (more than the 2,048
/// an integer layer was once limited to).
pub fn tiny_wide_slice_package_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        tiny_export(
            ModelConfig { n: 16, m: 144, slices: vec![8, 16, 120], context_hidden: 16, lambdas: vec![], blocks: None },
            "tiny-wide-slice-test",
        )
    })
}

fn tiny_export(config: ModelConfig, name: &str) -> Vec<u8> {
    use burn::module::Param;
    use burn::prelude::*;
    let device = Backend::Cpu.device();
    let mut net = Hyperprior::new(&config, &device);
    for context in net.slice_mean.iter_mut().chain(net.slice_scale.iter_mut()) {
        let dims = context.output.weight.dims();
        // A few levels of correction: enough to move tables, not to saturate.
        context.output.weight =
            Param::from_tensor(Tensor::random(dims, burn::tensor::Distribution::Normal(0.0, 0.3), &device));
    }
    for block in net.analysis_block.iter_mut().chain(net.synthesis_block.iter_mut()) {
        let dims = block.out_proj.weight.dims();
        block.out_proj.weight =
            Param::from_tensor(Tensor::random(dims, burn::tensor::Distribution::Normal(0.0, 0.2), &device));
    }
    if let Some(gains) = &mut net.quality {
        let [levels, m] = gains.gain.dims();
        let row = Tensor::<1>::from_data(TensorData::new(vec![0.3f32, 1.0, 3.0], [3]), &device).reshape([levels, 1]);
        let spread = Tensor::<2>::random([levels, m], burn::tensor::Distribution::Uniform(0.8, 1.25), &device);
        let gain = row * spread;
        gains.inverse = Param::from_tensor(gain.clone().recip());
        gains.gain = Param::from_tensor(gain);
    }
    let info = PackageInfo {
        name: name.into(),
        quality: 1,
        lambda: 0.01,
        config,
        int_shifts: vec![],
        int_input_frac: 0,
        int_context_shifts: vec![],
        trained: "untrained (tests)".into(),
    };
    export(&net, info, &[gradient(70, 50, 3)], &device).unwrap()
}

/// A smooth colour pattern with some texture.
pub fn gradient(w: usize, h: usize, seed: u32) -> RgbImage {
    let mut pixels = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3u32 {
                let v = (x * 255 / w.max(1)) as u32 * (c + 1)
                    + (y * 200 / h.max(1)) as u32
                    + ((x * 7 + y * 13) as u32 ^ seed) % 17;
                pixels.push((v % 256) as u8);
            }
        }
    }
    RgbImage { width: w, height: h, pixels }
}

/// The stderr of a finished command, as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch folder `livc-NAME-PID` holding the tiny model package
/// (`tiny.safetensors`) and a small PNG (`in.png`).
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("livc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tiny.safetensors"), tiny_package_bytes()).unwrap();
    livc::io::write_image(&dir.join("in.png"), &gradient(33, 20, 4)).unwrap();
    dir
}

/// Runs the livc binary in `dir` with `args`.
pub fn livc_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_livc")).current_dir(dir).args(args).output().unwrap()
}

/// The names in `dir`, sorted (to check that nothing was left behind).
pub fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A random-weight temporal package (P-frame modules, hidden width 8) for
/// the image package `base`, made through the same export as a trained one;
/// its predictor and refiner output layers are random, so both act.
pub fn tiny_temporal_bytes(base: &[u8]) -> Vec<u8> {
    use burn::module::Param;
    use burn::prelude::*;
    use burn::store::{ModuleSnapshot, SafetensorsStore};
    use livc::model::package::Package;
    use livc::model::temporal::{TemporalNet, export};
    let base = Package::from_bytes(base).unwrap();
    let (n, m) = (base.info.config.n, base.info.config.m);
    let device = Backend::Cpu.device();
    let mut net = TemporalNet::new(n, m, 8, &device);
    for layer in [&mut net.predictor[2], &mut net.refiner[2]] {
        let dims = layer.weight.dims();
        layer.weight = Param::from_tensor(Tensor::random(dims, burn::tensor::Distribution::Normal(0.0, 0.05), &device));
    }
    let mut store = SafetensorsStore::from_bytes(None);
    net.save_into(&mut store).unwrap();
    let f32_bytes = store.get_bytes().unwrap();
    let st = safetensors::SafeTensors::deserialize(&f32_bytes).unwrap();
    let meta = format!(
        r#"{{"n": {n}, "m": {m}, "hidden": 8, "steps": 0, "wall_seconds": 0, "trainer": "untrained (tests)"}}"#
    );
    let run = safetensors::serialize(
        st.tensors(),
        Some(std::collections::HashMap::from([("livc-temporal-run".to_string(), meta)])),
    )
    .unwrap();
    export(&run, &base, "tiny-temporal-test").unwrap()
}
