//! `livc train`: rate-distortion training with exact resume.
//!
//! Loss = λ·255²·MSE + bpp over random crops. A run lives in one folder:
//! `state.json` (step, settings), `model.bpk` and `optim.bpk` (burnpack, which
//! keeps parameter ids so Adam's moments reattach), and `log.jsonl` (one line
//! per logged step). Crops and noise for step s come from (seed, s) alone, so
//! stopping after any checkpoint and resuming gives the same run. A time
//! budget (`--max-minutes`) lets a long run be cut into slices.

pub mod data;

use anyhow::{Context, Result, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::io::RgbImage;
use crate::model::{Hyperprior, ModelConfig, Y_STRIDE, Z_STRIDE};

/// What a training run trains and how; stored in its `state.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSettings {
    /// The network's sizes.
    pub model: ModelConfig,
    /// λ of the loss λ·255²·MSE + bpp.
    pub lambda: f64,
    /// Crops per step.
    pub batch: usize,
    /// Crop side in pixels (a multiple of 64).
    pub crop: usize,
    /// Adam's learning rate; a tenth of it for the last 15 % of the steps.
    pub learning_rate: f64,
    /// Seeds the crops, noise and initial weights.
    pub seed: u64,
    /// Steps to train in all.
    pub total_steps: u64,
    /// Steps between log lines in `log.jsonl`.
    pub log_every: u64,
    /// Steps between checkpoints (each also validated and logged).
    pub checkpoint_every: u64,
    /// Folder of training images.
    pub train_dir: PathBuf,
    /// Folder of validation images (centre crops); none readable: no validation.
    pub val_dir: PathBuf,
}

/// A run folder's `state.json`.
#[derive(Serialize, Deserialize)]
pub struct RunState {
    /// The run's settings.
    pub settings: TrainSettings,
    /// Steps done.
    pub step: u64,
    /// Training wall-clock seconds so far, over every resumed slice.
    pub wall_seconds: f64,
    /// Set by trainers other than `livc train` (training/train.py).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trainer: Option<String>,
}

/// Where a run folder keeps its files (`state.json`, `model.bpk`,
/// `optim.bpk`, `log.jsonl`).
pub struct RunPaths {
    /// The run folder.
    pub dir: PathBuf,
}

impl RunPaths {
    fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// `model.bpk`: the weights `livc train` saves (burnpack).
    pub fn model(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }
    /// The weights training/train.py --export writes instead of `model.bpk`.
    fn torch_model(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
    fn optim(&self) -> PathBuf {
        self.dir.join("optim.bpk")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }
    /// Every file a run folder holds (what an export must not write over).
    pub fn files(&self) -> [PathBuf; 5] {
        [self.state(), self.model(), self.torch_model(), self.optim(), self.log()]
    }
}

/// Reads the state of an existing run folder.
pub fn run_state(dir: &Path) -> Result<RunState> {
    let paths = RunPaths { dir: dir.to_path_buf() };
    let text =
        std::fs::read_to_string(paths.state()).with_context(|| format!("no training run in {}", dir.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Loads the trained model of a run folder onto `device`: `model.bpk` from
/// `livc train`, or `model.safetensors` from `training/train.py` (PyTorch,
/// same parameter names).
pub fn load_run_model(dir: &Path, device: &Device) -> Result<(Hyperprior, RunState)> {
    let state = run_state(dir)?;
    let mut model = Hyperprior::new(&state.settings.model, device);
    let paths = RunPaths { dir: dir.to_path_buf() };
    let loaded = if paths.model().exists() {
        model.load_from(&mut BurnpackStore::from_file(paths.model())).map_err(|e| format!("{e:?}"))
    } else {
        model.load_from(&mut SafetensorsStore::from_file(paths.torch_model())).map_err(|e| format!("{e:?}"))
    };
    loaded.map_err(|e| anyhow::anyhow!("cannot load the model of {}: {e}", dir.display()))?;
    Ok((model, state))
}

/// Trains until `total_steps` or until `max_minutes` have passed, whichever
/// comes first; resumes from `dir` when it already holds a run (the settings
/// stored there win, except `total_steps`, which the caller sets).
///
/// `init_from` starts a new run from another run's weights (e.g. a nearby λ),
/// with a fresh optimizer.
pub fn train(
    dir: &Path,
    fresh: TrainSettings,
    init_from: Option<&Path>,
    max_minutes: f64,
    device: &Device,
) -> Result<()> {
    let paths = RunPaths { dir: dir.to_path_buf() };
    std::fs::create_dir_all(dir)?;
    let device = device.clone().autodiff();
    let (settings, mut step, mut wall, mut model, mut optim) = if paths.state().exists() {
        let state = run_state(dir)?;
        let mut settings = state.settings;
        settings.total_steps = fresh.total_steps;
        let mut model = Hyperprior::new(&settings.model, &device);
        model
            .load_from(&mut BurnpackStore::from_file(paths.model()))
            .map_err(|e| anyhow::anyhow!("cannot load checkpoint model: {e:?}"))?;
        let optim =
            optimizer().load(paths.optim()).map_err(|e| anyhow::anyhow!("cannot load optimizer state: {e:?}"))?;
        eprintln!("resuming {} at step {}", dir.display(), state.step);
        (settings, state.step, state.wall_seconds, model, optim)
    } else {
        // Seeded initialisation: the same settings give the same run.
        device.seed(fresh.seed);
        let mut model = Hyperprior::new(&fresh.model, &device);
        if let Some(src) = init_from {
            model
                .load_from(&mut BurnpackStore::from_file(RunPaths { dir: src.to_path_buf() }.model()))
                .map_err(|e| anyhow::anyhow!("cannot load {}: {e:?}", src.display()))?;
            eprintln!("starting from the weights of {}", src.display());
        }
        (fresh, 0, 0.0, model, optimizer())
    };
    if settings.crop % (Y_STRIDE * Z_STRIDE) != 0 {
        bail!("crop size must be a multiple of {}", Y_STRIDE * Z_STRIDE);
    }

    let train_images = data::load_folder(&settings.train_dir, settings.crop)?;
    let val_images = data::load_folder(&settings.val_dir, settings.crop).unwrap_or_default();
    eprintln!(
        "training on {} images ({} for validation), λ={}, batch {}×{}², {} steps",
        train_images.len(),
        val_images.len(),
        settings.lambda,
        settings.batch,
        settings.crop,
        settings.total_steps
    );
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(paths.log())?;
    let started = Instant::now();
    let budget = max_minutes * 60.0;
    let mut window = Window::default();

    while step < settings.total_steps && started.elapsed().as_secs_f64() < budget {
        let stats = train_step(&mut model, &mut optim, &settings, &train_images, step, &device);
        window.add(&stats);
        step += 1;
        let checkpoint_due = step % settings.checkpoint_every == 0 || step == settings.total_steps;
        if step % settings.log_every == 0 || checkpoint_due {
            let mut entry = window.take(step, wall + started.elapsed().as_secs_f64());
            if checkpoint_due {
                let val = validate(&model.valid(), &settings, &val_images, &device.clone().inner());
                entry["val"] = serde_json::to_value(val)?;
            }
            writeln!(log, "{entry}")?;
            eprintln!("{entry}");
        }
        if step % settings.checkpoint_every == 0 {
            save_checkpoint(&paths, &settings, step, wall + started.elapsed().as_secs_f64(), &model, &optim)?;
        }
    }
    wall += started.elapsed().as_secs_f64();
    save_checkpoint(&paths, &settings, step, wall, &model, &optim)?;
    eprintln!("stopped at step {step} of {} ({:.0} s of training so far)", settings.total_steps, wall);
    Ok(())
}

/// Adam with per-parameter gradient-norm clipping (as CompressAI trains).
fn optimizer() -> ModuleOptimizer {
    AdamConfig::new().with_grad_clipping(Some(GradientClippingConfig::Norm(1.0))).init()
}

/// Constant rate, a tenth of it for the last 15% of the steps.
fn learning_rate(s: &TrainSettings, step: u64) -> f64 {
    if step * 100 >= s.total_steps * 85 { s.learning_rate / 10.0 } else { s.learning_rate }
}

fn save_checkpoint(
    paths: &RunPaths,
    settings: &TrainSettings,
    step: u64,
    wall: f64,
    model: &Hyperprior,
    optim: &ModuleOptimizer,
) -> Result<()> {
    // Write next to the old files, then rename, so an interrupted save never
    // leaves a half-written checkpoint.
    let tmp = |p: PathBuf| p.with_extension("tmp");
    model
        .save_into(&mut BurnpackStore::from_file(tmp(paths.model())).overwrite(true).auto_extension(false))
        .map_err(|e| anyhow::anyhow!("cannot save model: {e:?}"))?;
    optim.save(tmp(paths.optim())).map_err(|e| anyhow::anyhow!("cannot save optimizer: {e:?}"))?;
    let state = RunState { settings: settings.clone(), step, wall_seconds: wall, trainer: None };
    std::fs::write(tmp(paths.state()), serde_json::to_string_pretty(&state)?)?;
    for p in [paths.model(), paths.optim(), paths.state()] {
        std::fs::rename(tmp(p.clone()), &p)?;
    }
    Ok(())
}

struct StepStats {
    loss: f64,
    bpp: f64,
    mse: f64,
}

#[derive(Default)]
struct Window {
    n: f64,
    loss: f64,
    bpp: f64,
    mse: f64,
}

impl Window {
    fn add(&mut self, s: &StepStats) {
        self.n += 1.0;
        self.loss += s.loss;
        self.bpp += s.bpp;
        self.mse += s.mse;
    }
    fn take(&mut self, step: u64, wall: f64) -> serde_json::Value {
        let n = self.n.max(1.0);
        let mse = self.mse / n;
        let v = serde_json::json!({
            "step": step, "wall_s": (wall * 10.0).round() / 10.0,
            "loss": self.loss / n, "bpp": self.bpp / n, "psnr": psnr_of_mse(mse),
        });
        *self = Window::default();
        v
    }
}

fn psnr_of_mse(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

fn train_step(
    model: &mut Hyperprior,
    optim: &mut ModuleOptimizer,
    s: &TrainSettings,
    images: &[RgbImage],
    step: u64,
    device: &Device,
) -> StepStats {
    let mut rng = data::step_rng(s.seed, step);
    let (b, c) = (s.batch, s.crop);
    let x = Tensor::<4>::from_data(TensorData::new(data::random_crops(images, &mut rng, b, c), [b, 3, c, c]), device);
    let (hy, hz) = (c / Y_STRIDE, c / Y_STRIDE / Z_STRIDE);
    let ny = TensorData::new(data::uniform_noise(&mut rng, b * s.model.m * hy * hy), [b, s.model.m, hy, hy]);
    let nz = TensorData::new(data::uniform_noise(&mut rng, b * s.model.n * hz * hz), [b, s.model.n, hz, hz]);
    let out = model.forward_rd(x.clone(), Tensor::from_data(ny, device), Tensor::from_data(nz, device));
    let pixels = (b * c * c) as f64;
    let mse = (out.x_hat - x).powi_scalar(2).mean();
    let bpp = (out.bits_y + out.bits_z) / pixels;
    let loss = mse.clone() * (s.lambda * 255.0 * 255.0) + bpp.clone();
    let mut grads = loss.backward();
    let lr = learning_rate(s, step);
    let gained: Vec<(GradientsParams, f64)> = model
        .gained_layers()
        .into_iter()
        .map(|(layer, gain)| (GradientsParams::from_module(&mut grads, layer), lr * gain as f64))
        .collect();
    let rest = GradientsParams::from_grads(grads, &*model);
    *model = optim.step(lr, model.clone(), rest);
    for (grads, lr) in gained {
        *model = optim.step(lr, model.clone(), grads);
    }
    StepStats {
        loss: loss.into_scalar::<f32>() as f64,
        bpp: bpp.into_scalar::<f32>() as f64,
        mse: mse.into_scalar::<f32>() as f64,
    }
}

#[derive(Serialize)]
struct Validation {
    bpp: f64,
    psnr: f64,
    loss: f64,
}

/// Estimated bpp and PSNR on the centre crop of each validation image.
fn validate(model: &Hyperprior, s: &TrainSettings, images: &[RgbImage], device: &Device) -> Option<Validation> {
    if images.is_empty() {
        return None;
    }
    let c = s.crop;
    let (mut bits, mut sq) = (0.0, 0.0);
    for (i, img) in images.iter().enumerate() {
        let mut rng = data::step_rng(s.seed ^ 0x5eed, i as u64);
        let x = Tensor::<4>::from_data(TensorData::new(data::centre_crop(img, c), [1, 3, c, c]), device);
        let (hy, hz) = (c / Y_STRIDE, c / Y_STRIDE / Z_STRIDE);
        let ny = Tensor::from_data(
            TensorData::new(data::uniform_noise(&mut rng, s.model.m * hy * hy), [1, s.model.m, hy, hy]),
            device,
        );
        let nz = Tensor::from_data(
            TensorData::new(data::uniform_noise(&mut rng, s.model.n * hz * hz), [1, s.model.n, hz, hz]),
            device,
        );
        let out = model.forward_rd(x.clone(), ny, nz);
        bits += (out.bits_y + out.bits_z).into_scalar::<f32>() as f64;
        sq += (out.x_hat.clamp(0.0, 1.0) - x).powi_scalar(2).mean().into_scalar::<f32>() as f64;
    }
    let n = images.len() as f64;
    let bpp = bits / (n * (c * c) as f64);
    let mse = sq / n;
    Some(Validation { bpp, psnr: psnr_of_mse(mse), loss: s.lambda * 255.0 * 255.0 * mse + bpp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2d;

    /// Largest change of a layer's weights between two copies of the model.
    fn max_change(before: &Conv2d, after: &Conv2d) -> f32 {
        (after.weight.val() - before.weight.val()).abs().max().into_scalar::<f32>()
    }

    /// Adam's first step moves every weight by the learning rate (its update
    /// is m̂/√v̂ = ±1), so a layer with a gain must move gain × that.
    #[test]
    fn gained_layers_step_gain_times_further() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let settings = TrainSettings {
            model: ModelConfig::plain(8, 12),
            lambda: 0.0035,
            batch: 1,
            crop: 64,
            learning_rate: 1e-4,
            seed: 3,
            total_steps: 100,
            log_every: 10,
            checkpoint_every: 10,
            train_dir: PathBuf::new(),
            val_dir: PathBuf::new(),
        };
        let pixels = (0..64 * 64 * 3).map(|i| (i * 37 % 251) as u8).collect();
        let images = [RgbImage { width: 64, height: 64, pixels }];
        let mut model = Hyperprior::new(&settings.model, &device);
        let before = model.clone();
        let mut optim = optimizer();
        train_step(&mut model, &mut optim, &settings, &images, 0, &device);

        let plain = max_change(&before.hyper_mean[0], &model.hyper_mean[0]);
        assert!((plain - 1e-4).abs() < 1e-5, "ungained layer moved {plain}");
        for ((old, gain), (new, _)) in before.gained_layers().into_iter().zip(model.gained_layers()) {
            let moved = max_change(old, new);
            assert!((moved / plain - gain).abs() < 0.05 * gain, "gain {gain}: moved {moved} against {plain}");
        }
    }
}
