//! The P-frame modules (issue 19): the **temporal prior**, the latent codec
//! of P-frames, and the **temporal latent refinement**. Trained by
//! training/video.py with the image model frozen; this is its burn twin,
//! layer for layer, under the same parameter names.
//!
//! Frame t's latent yₜ (`[1, M, H/16, W/16]`, in the gained domain of the
//! variable-rate model, gain g = g(quality) of [`super::rate`]) is coded
//! against the previous frame's decoded latent ŷₜ₋₁:
//!
//! - **prediction** pₜ = ŷₜ₋₁ + g ⊙ predictor(ŷₜ₋₁ / g): a residual conv net
//!   (3×3, M → H → H → M, ReLU) whose last layer started at zero, so the
//!   untrained net is the identity prediction;
//! - **residual** rₜ = yₜ − pₜ, coded with a hyperprior trained on residuals
//!   and *conditioned on the reference* (DCVC's conditional coding, in the
//!   entropy model only): its own hyper-analysis of [rₜ, ŷₜ₋₁ / g] (run by
//!   the encoder only), factorised prior of ẑ (integer tables in the
//!   package) and mean branch, whose output adds g ⊙ mix([features of ẑ,
//!   ŷₜ₋₁ / g]) (float), fused with the image model's **integer** scale
//!   branch and checkerboard/slice context. So ẑ can tell the decoder how
//!   to use the reference where it moved, the prediction and the mean branch
//!   set the means, the residual's ẑ the scale levels, and every
//!   probability table is still chosen by integer arithmetic on decoded
//!   integers, identically on every backend;
//! - ŷₜ = r̂ₜ + pₜ is the next frame's reference.
//!
//! The **refinement** (after GNVC-VD's temporal latent refinement, in a form
//! that trains on a CPU) shows ŷ′ₜ = ŷₜ + g ⊙ refiner([ŷₜ, ŷₜ₋₁] / g) instead
//! of ŷₜ: a decoder-side conv net (2M → H → H → M, zero-started last layer)
//! trained to bring the synthesis input closer to yₜ. It changes only what
//! is shown: the reference stays ŷₜ, so the refinement cannot drift.

use anyhow::{Context, Result, bail};
use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{PixelShuffle, PixelShuffleConfig};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::package::{Package, hex, package_hash};
use super::{conv, conv2d};
use crate::entropy::tables::{self, LatentTable};

/// The P-frame networks (shapes for N hidden channels of the image model,
/// M latent channels, H hidden channels of the predictor and refiner).
#[derive(Module, Debug)]
pub struct TemporalNet {
    /// [residual, ŷₜ₋₁ / g] → z: conv 3×3 2M→N, ReLU, conv 5×5/2 N→N, ReLU, conv 5×5/2 N→N.
    pub hyper_analysis: Vec<Conv2d>,
    /// ẑ → mean of the residual: as the image model's mean branch, plus `mix`.
    pub hyper_mean: Vec<Conv2d>,
    /// [the mean branch's last features, ŷₜ₋₁ / g] → mean correction / g: conv 3×3 N+M→M.
    pub mix: Conv2d,
    /// Per-channel mean and log-scale of the residual's ẑ prior.
    pub z_mean: Param<Tensor<1>>,
    /// `[N]`: the log-scale of each channel's Gaussian.
    pub z_log_scale: Param<Tensor<1>>,
    /// ŷₜ₋₁ / g → prediction / g: conv 3×3 M→H, ReLU, H→H, ReLU, H→M.
    pub predictor: Vec<Conv2d>,
    /// [ŷₜ, ŷₜ₋₁] / g → correction / g: conv 3×3 2M→H, ReLU, H→H, ReLU, H→M.
    pub refiner: Vec<Conv2d>,
    shuffle: PixelShuffle,
}

fn mlp(layers: &[Conv2d], x: Tensor<4>) -> Tensor<4> {
    let relu = burn::tensor::activation::relu;
    conv2d::forward(&layers[2], relu(conv2d::forward(&layers[1], relu(conv2d::forward(&layers[0], x)))))
}

impl TemporalNet {
    /// Fresh networks for an image model of `n` hidden and `m` latent channels,
    /// with `hidden` channels in the predictor and refiner.
    pub fn new(n: usize, m: usize, hidden: usize, device: &Device) -> Self {
        Self {
            hyper_analysis: vec![conv(2 * m, n, 3, 1, device), conv(n, n, 5, 2, device), conv(n, n, 5, 2, device)],
            hyper_mean: vec![conv(n, n * 4, 3, 1, device), conv(n, n * 4, 3, 1, device), conv(n, m, 3, 1, device)],
            mix: conv(n + m, m, 3, 1, device),
            z_mean: Param::from_tensor(Tensor::zeros([n], device)),
            z_log_scale: Param::from_tensor(Tensor::zeros([n], device)),
            predictor: vec![
                conv(m, hidden, 3, 1, device),
                conv(hidden, hidden, 3, 1, device),
                conv(hidden, m, 3, 1, device),
            ],
            refiner: vec![
                conv(2 * m, hidden, 3, 1, device),
                conv(hidden, hidden, 3, 1, device),
                conv(hidden, m, 3, 1, device),
            ],
            shuffle: PixelShuffleConfig::new(2).init(),
        }
    }

    /// z of a residual `[1, M, h, w]` (h, w multiples of 4) given the
    /// reference ŷₜ₋₁ (same shape) and gain g (`[1, M, 1, 1]`) → `[1, N, h/4, w/4]`.
    pub fn hyper_analysis(&self, r: Tensor<4>, reference: Tensor<4>, gain: Tensor<4>) -> Tensor<4> {
        mlp(&self.hyper_analysis, Tensor::cat(vec![r, reference / gain], 1))
    }

    /// The residual's mean from ẑ `[1, N, h, w]`, the reference ŷₜ₋₁
    /// `[1, M, 4h, 4w]` and the gain → `[1, M, 4h, 4w]`.
    pub fn hyper_mean(&self, z_hat: Tensor<4>, reference: Tensor<4>, gain: Tensor<4>) -> Tensor<4> {
        let relu = burn::tensor::activation::relu;
        let h = relu(self.shuffle.forward(conv2d::forward(&self.hyper_mean[0], z_hat)));
        let h = relu(self.shuffle.forward(conv2d::forward(&self.hyper_mean[1], h)));
        let correction = conv2d::forward(&self.mix, Tensor::cat(vec![h.clone(), reference / gain.clone()], 1)) * gain;
        conv2d::forward(&self.hyper_mean[2], h) + correction
    }

    /// pₜ from ŷₜ₋₁ (`[1, M, h, w]`) and the encoder's gain `g` (`[1, M, 1, 1]`).
    pub fn predict(&self, reference: Tensor<4>, gain: Tensor<4>) -> Tensor<4> {
        reference.clone() + mlp(&self.predictor, reference / gain.clone()) * gain
    }

    /// ŷ′ₜ from ŷₜ and ŷₜ₋₁ (`[1, M, h, w]` each) and the gain `g`.
    pub fn refine(&self, y_hat: Tensor<4>, reference: Tensor<4>, gain: Tensor<4>) -> Tensor<4> {
        let input = Tensor::cat(vec![y_hat.clone() / gain.clone(), reference / gain.clone()], 1);
        y_hat + mlp(&self.refiner, input) * gain
    }
}

/// What a temporal package says of itself (metadata `livc-temporal`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TemporalInfo {
    /// The package's name.
    pub name: String,
    /// The image model it was trained on: its name and hash (hex).
    pub base_name: String,
    pub base_hash: String,
    /// Hidden channels of the predictor and the refiner.
    pub hidden: usize,
    /// Training steps and seconds so far (training/video.py resumes from them).
    #[serde(default)]
    pub steps: u64,
    /// Training wall-clock seconds so far.
    #[serde(default)]
    pub wall_seconds: f64,
    /// Training provenance (steps, data, hardware, wall time).
    pub trained: String,
}

/// A temporal package: one safetensors file with `net.*` (f16 weights of
/// [`TemporalNet`]) and `table.z.*` (the integer tables of the residual's ẑ).
/// Identified in clips by the first 8 bytes of its SHA-256, like an image
/// package.
#[derive(Clone)]
pub struct TemporalPackage {
    /// The package's metadata.
    pub info: TemporalInfo,
    /// First 8 bytes of the SHA-256 of the package file, as a clip header names it.
    pub hash: [u8; 8],
    /// The N integer tables of the residual's ẑ, one per channel.
    pub z_tables: Vec<LatentTable>,
    net_f32: Vec<u8>,
}

impl TemporalPackage {
    /// A temporal package from its safetensors bytes. Errors: not safetensors,
    /// no `livc-temporal` metadata, an unexpected tensor type, missing or
    /// malformed tables.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (st, info): (_, TemporalInfo) = super::package::open(bytes, "livc-temporal", "temporal")?;
        let super::package::Tensors { net_f32, ints, .. } = super::package::Tensors::read(&st)?;
        let z_tables = super::package::unpack_tables(&ints, "table.z")?;
        Ok(Self { info, hash: package_hash(bytes), z_tables, net_f32 })
    }

    /// The networks on `device`, for an image model with `n` hidden and `m` latent channels.
    /// Errors: a package for another shape of model, or whose sizes do not fit its weights.
    pub fn network(&self, n: usize, m: usize, device: &Device) -> Result<TemporalNet> {
        if self.z_tables.len() != n {
            bail!("temporal package {} does not fit a model with {n} hyperprior channels", self.info.name);
        }
        super::package::expect_shape(&self.net_f32, "predictor.0.weight", &[self.info.hidden, m, 3, 3])?;
        let mut net = TemporalNet::new(n, m, self.info.hidden, device);
        let mut store = SafetensorsStore::from_bytes(Some(self.net_f32.clone()));
        net.load_from(&mut store).map_err(|e| anyhow::anyhow!("cannot load temporal weights: {e:?}"))?;
        Ok(net)
    }

    /// Whether it was trained for the image model `base`.
    pub fn fits(&self, base: &Package) -> bool {
        self.info.base_hash == hex(&base.hash)
    }
}

/// Makes a temporal package from training/video.py's export (f32 weights
/// under [`TemporalNet`]'s names, metadata `livc-temporal-run`): weights to
/// f16, then the integer tables of ẑ from the f16-rounded prior, so the
/// tables describe exactly the prior decoders load.
///
/// Errors: a file that is not such an export, or one for another shape of model.
pub fn export(run_bytes: &[u8], base: &Package, name: &str) -> Result<Vec<u8>> {
    let st = SafeTensors::deserialize(run_bytes).context("not a training/video.py export (bad safetensors)")?;
    let (_, meta) = SafeTensors::read_metadata(run_bytes)?;
    let run: serde_json::Value = serde_json::from_str(
        meta.metadata().as_ref().and_then(|m| m.get("livc-temporal-run")).context("not a training/video.py export")?,
    )?;
    let config = &base.info.config;
    if run["n"] != config.n || run["m"] != config.m {
        bail!(
            "the export is for n = {}, m = {}; model {} has n = {}, m = {}",
            run["n"],
            run["m"],
            base.info.name,
            config.n,
            config.m
        );
    }
    let hidden = run["hidden"].as_u64().context("export lacks hidden")? as usize;
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut prior: HashMap<String, Vec<f32>> = HashMap::new();
    for (key, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            bail!("unexpected {:?} weight {key}", view.dtype());
        }
        let halves: Vec<half::f16> = view
            .data()
            .chunks_exact(4)
            .map(|c| half::f16::from_f32(f32::from_le_bytes(c.try_into().unwrap())))
            .collect();
        if key == "z_mean" || key == "z_log_scale" {
            prior.insert(key.clone(), halves.iter().map(|h| h.to_f32()).collect());
        }
        let bytes = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
        owned.push((format!("net.{key}"), Dtype::F16, view.shape().to_vec(), bytes));
    }
    let (means, log_scales) =
        (prior.get("z_mean").context("no z_mean")?, prior.get("z_log_scale").context("no z_log_scale")?);
    let z_tables: Vec<LatentTable> =
        means.iter().zip(log_scales).map(|(&m, &s)| tables::channel_table(m as f64, (s as f64).exp())).collect();
    let (cdf, index) = super::package::pack_tables(&z_tables);
    for (key, v) in [("table.z.cdf", cdf), ("table.z.index", index)] {
        owned.push((key.to_string(), Dtype::I32, vec![v.len()], v.iter().flat_map(|x| x.to_le_bytes()).collect()));
    }
    let trained = format!(
        "{}: {} steps, {} s, on synthetic camera motion over ../shared/datasets/train",
        run["trainer"].as_str().unwrap_or("training/video.py"),
        run["steps"],
        run["wall_seconds"]
    );
    let info = TemporalInfo {
        name: name.to_string(),
        base_name: base.info.name.clone(),
        base_hash: hex(&base.hash),
        hidden,
        steps: run["steps"].as_u64().unwrap_or(0),
        wall_seconds: run["wall_seconds"].as_f64().unwrap_or(0.0),
        trained,
    };
    let views: Vec<(String, TensorView)> =
        owned.iter().map(|(k, t, s, d)| Ok((k.clone(), TensorView::new(*t, s.clone(), d)?))).collect::<Result<_>>()?;
    let meta = HashMap::from([("livc-temporal".to_string(), serde_json::to_string(&info)?)]);
    let bytes = safetensors::serialize(views, Some(meta))?;
    // What decoders will load must load.
    TemporalPackage::from_bytes(&bytes)?.network(config.n, config.m, &Device::flex())?;
    Ok(bytes)
}
