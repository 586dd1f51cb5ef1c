//! A model package: one safetensors file with everything a codec needs.
//!
//! - `net.*`: the float weights of [`Hyperprior`] as f16 (decoded to f32);
//! - `int.*`: the integer scale network (i8 weights, i32 biases);
//! - `table.*`: the integer CDF tables (Gaussian scale levels, z channels);
//! - metadata `livc`: name, quality, λ, model width, shifts (JSON).
//!
//! A package is identified in bitstreams by its name and the first 8 bytes
//! of the SHA-256 of the file, so a wrong model is caught and named.

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use super::context::slice_ranges;
use super::conv2d::floats;
use super::integer::{FloatConv, IntContextNet, IntConv, IntScaleNet, MAX_INPUT_FRAC};
use super::rate::MAX_QUALITY;
use super::{Hyperprior, ModelConfig};
use crate::entropy::tables::{self, LatentTable, SCALE_LEVELS};

/// A package's metadata `livc` (JSON): name, quality, λ, model sizes and the
/// integer networks' shifts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackageInfo {
    /// The model's name, written into every file it codes (at most
    /// [`crate::bitstream::MAX_MODEL_NAME`] bytes).
    pub name: String,
    /// The quality of a model trained at one λ; the default one of a
    /// variable-rate model.
    pub quality: u8,
    /// The λ of the training run (loss λ·255²·MSE + bpp); a variable-rate
    /// model's λ per row are `config.lambdas`.
    pub lambda: f64,
    /// The network's sizes.
    pub config: ModelConfig,
    /// Output shift and input fractional bits of the integer scale network.
    pub int_shifts: Vec<u32>,
    /// Fractional bits of ẑ at the integer scale network's input.
    pub int_input_frac: u32,
    /// Output shifts of each slice's integer level correction (hidden, output).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub int_context_shifts: Vec<[u32; 2]>,
    /// Training provenance, free-form (steps, data, hardware).
    pub trained: String,
}

/// Everything but the float network, which lives on a device.
#[derive(Clone)]
pub struct Package {
    /// The package's metadata.
    pub info: PackageInfo,
    /// First 8 bytes of the SHA-256 of the package file ([`package_hash`]).
    pub hash: [u8; 8],
    /// The integer scale network (`int.*`).
    pub int_scale: IntScaleNet,
    /// Per slice, the integer level correction (empty for a plain hyperprior).
    pub int_context: Vec<IntContextNet>,
    /// The [`SCALE_LEVELS`] Gaussian tables of y, one per scale level.
    pub scale_tables: Vec<LatentTable>,
    /// The N tables of ẑ, one per channel.
    pub z_tables: Vec<LatentTable>,
    /// The float weights as an f32 safetensors buffer for burn's store.
    net_f32: Vec<u8>,
}

/// The first 8 bytes of the SHA-256 of a package file: how files name the
/// package they need.
pub fn package_hash(bytes: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(bytes);
    digest[..8].try_into().unwrap()
}

/// A hash as 16 lowercase hex digits.
pub fn hex(hash: &[u8; 8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl Package {
    /// A package file (what `--model FILE` names).
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("model {}", path.display()))
    }

    /// A package from its safetensors bytes. Errors: not safetensors, not a
    /// livc image package (no metadata, a VQ package), or inconsistent
    /// integer layers and tables.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_hashed_bytes(bytes, package_hash(bytes))
    }

    /// [`Package::from_bytes`] for bytes whose [`package_hash`] the caller
    /// has just computed (the embedded packages' lookup): SHA-256 over a
    /// package is about 3 ms.
    pub(crate) fn from_hashed_bytes(bytes: &[u8], hash: [u8; 8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes).context("not a livc model package (bad safetensors)")?;
        let (_, meta) = SafeTensors::read_metadata(bytes)?;
        if meta.metadata().as_ref().is_some_and(|m| m.contains_key("livc-vq")) {
            bail!("this is a VQ package (the codebook mode): encode with --vq --model FILE");
        }
        let info_json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("livc"))
            .context("not a livc model package (no livc metadata)")?;
        let info: PackageInfo = serde_json::from_str(info_json).context("bad livc metadata in the model package")?;

        let Tensors { net_f32, mut ints, mut int8 } = Tensors::read(&st)?;

        let mut take_layer = |name: String, shift: u32| -> Result<IntConv> {
            let weight = int8.remove(&format!("{name}.weight")).context("missing integer weights")?;
            let bias = ints.remove(&format!("{name}.bias")).context("missing integer bias")?;
            let cout = bias.len();
            let layer = IntConv { cin: weight.len() / (cout * 9).max(1), cout, weight, bias, shift };
            layer.check().map_err(|e| anyhow::anyhow!("model package has a malformed integer layer {name}: {e}"))?;
            Ok(layer)
        };
        if info.int_shifts.len() != 3 {
            bail!("model package's integer scale network must have 3 layers");
        }
        let layers: Vec<IntConv> = info
            .int_shifts
            .iter()
            .enumerate()
            .map(|(l, &shift)| take_layer(format!("int.{l}"), shift))
            .collect::<Result<_>>()?;
        let config = &info.config;
        // conv → pixel shuffle ×2, twice, then conv: n → … → m.
        if layers[0].cin != config.n
            || layers[0].cout != 4 * layers[1].cin
            || layers[1].cout != 4 * layers[2].cin
            || layers[2].cout != config.m
            || info.int_input_frac > MAX_INPUT_FRAC
        {
            bail!("model package's integer scale network does not fit its sizes");
        }
        if config.has_context()
            && (config.slices.iter().try_fold(0usize, |sum, &s| sum.checked_add(s)) != Some(config.m)
                || config.slices.contains(&0)
                || config.context_hidden == 0
                || info.int_context_shifts.len() != config.slices.len())
        {
            bail!("model package has an inconsistent context model");
        }
        check_sizes(config, &net_f32)?;
        let mut int_context = Vec::new();
        for (k, (range, [hidden_shift, output_shift])) in
            slice_ranges(&config.slices).into_iter().zip(info.int_context_shifts.clone()).enumerate()
        {
            let hidden = take_layer(format!("int.ctx.{k}.hidden"), hidden_shift)?;
            let output = take_layer(format!("int.ctx.{k}.output"), output_shift)?;
            if hidden.cin != range.start + 2 * range.len() || output.cin != hidden.cout || output.cout != range.len() {
                bail!("model package's integer context network {k} does not match its slices");
            }
            int_context.push(IntContextNet { hidden, output });
        }
        let int_scale = IntScaleNet { layers, input_frac: info.int_input_frac, levels: SCALE_LEVELS as u32 };
        let scale_tables = unpack_tables(&ints, "table.scale")?;
        let z_tables = unpack_tables(&ints, "table.z")?;
        if scale_tables.len() != SCALE_LEVELS || z_tables.len() != info.config.n {
            bail!("model package has inconsistent tables");
        }
        Ok(Self { info, hash, int_scale, int_context, scale_tables, z_tables, net_f32 })
    }

    /// Builds the float network on `device` from the package's weights.
    pub fn network(&self, device: &Device) -> Result<Hyperprior> {
        let mut model = Hyperprior::new(&self.info.config, device);
        let mut store = SafetensorsStore::from_bytes(Some(self.net_f32.clone()));
        model.load_from(&mut store).map_err(|e| anyhow::anyhow!("cannot load network weights: {e:?}"))?;
        Ok(model)
    }
}

impl Package {
    /// This package with some of its float weights replaced (name, shape,
    /// f32 bytes, under the network's names); its hash stays its own.
    /// Errors: a name the network does not have, or a shape it does not fit.
    pub fn with_weights(&self, replace: &[(String, Vec<usize>, Vec<u8>)]) -> Result<Package> {
        let st = SafeTensors::deserialize(&self.net_f32)?;
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> =
            st.tensors().into_iter().map(|(k, v)| (k, v.shape().to_vec(), v.data().to_vec())).collect();
        for (name, shape, data) in replace {
            let slot =
                tensors.iter_mut().find(|t| &t.0 == name).with_context(|| format!("the network has no {name}"))?;
            if &slot.1 != shape {
                bail!("weights {name} have shape {shape:?}, the network's {:?}", slot.1);
            }
            slot.2 = data.clone();
        }
        Ok(Package { net_f32: f32_buffer(&tensors)?, ..self.clone() })
    }
}

/// A package file's tensors and its metadata entry `key` (JSON), for a
/// package of kind `what` (in messages: "not a livc {what} package").
pub(crate) fn open<'a, T: serde::de::DeserializeOwned>(
    bytes: &'a [u8],
    key: &str,
    what: &str,
) -> Result<(SafeTensors<'a>, T)> {
    let st = SafeTensors::deserialize(bytes).with_context(|| format!("not a livc {what} package (bad safetensors)"))?;
    let (_, meta) = SafeTensors::read_metadata(bytes)?;
    let json =
        meta.metadata().as_ref().and_then(|m| m.get(key)).with_context(|| format!("not a livc {what} package"))?;
    Ok((st, serde_json::from_str(json).with_context(|| format!("bad metadata in the {what} package"))?))
}

/// A package's tensors by kind: `net.*` (f16, as an f32 safetensors buffer
/// for burn's store), i32 and i8 tensors by name.
pub(crate) struct Tensors {
    pub net_f32: Vec<u8>,
    pub ints: HashMap<String, Vec<i32>>,
    pub int8: HashMap<String, Vec<i8>>,
}

impl Tensors {
    /// Errors: a tensor of another type, an f16 tensor outside `net.`.
    pub(crate) fn read(st: &SafeTensors) -> Result<Self> {
        let (mut net, mut ints, mut int8) = (Vec::new(), HashMap::new(), HashMap::new());
        for (name, view) in st.tensors() {
            match view.dtype() {
                Dtype::F16 => {
                    let key = name.strip_prefix("net.").context("stray f16 tensor")?.to_string();
                    net.push((key, view.shape().to_vec(), f16_to_f32(view.data())));
                }
                Dtype::I32 => {
                    let v = view.data().chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
                    ints.insert(name, v);
                }
                Dtype::I8 => {
                    int8.insert(name, view.data().iter().map(|&b| b as i8).collect());
                }
                other => bail!("unexpected tensor type {other:?} in model package"),
            }
        }
        Ok(Self { net_f32: f32_buffer(&net)?, ints, int8 })
    }
}

/// f16 bytes (little-endian) as f32 bytes.
pub(crate) fn f16_to_f32(data: &[u8]) -> Vec<u8> {
    data.chunks_exact(2).flat_map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32().to_le_bytes()).collect()
}

/// Named f32 tensors (name, shape, bytes) as one safetensors buffer, what
/// burn's store loads a network from.
pub(crate) fn f32_buffer(tensors: &[(String, Vec<usize>, Vec<u8>)]) -> Result<Vec<u8>> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(k, shape, data)| Ok((k.clone(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
        .collect::<Result<_>>()?;
    Ok(safetensors::serialize(views, None)?)
}

/// Tables are stored as two i32 tensors: the concatenated CDFs and, per
/// table, (min value, CDF length). Errors: missing or truncated tensors, a
/// table that is not a valid CDF ([`LatentTable::checked`]).
pub(crate) fn unpack_tables(ints: &HashMap<String, Vec<i32>>, prefix: &str) -> Result<Vec<LatentTable>> {
    let cdfs = ints.get(&format!("{prefix}.cdf")).context("missing tables")?;
    let index = ints.get(&format!("{prefix}.index")).context("missing tables")?;
    if index.len() % 2 != 0 {
        bail!("malformed table index {prefix}");
    }
    let mut at = 0usize;
    let mut out = Vec::new();
    for (k, pair) in index.chunks_exact(2).enumerate() {
        let end = usize::try_from(pair[1]).ok().and_then(|len| at.checked_add(len));
        let cdf = end.and_then(|end| cdfs.get(at..end)).context("truncated tables")?;
        // A negative entry becomes a value above PROB_SCALE, which the check refuses.
        let table = LatentTable::checked(pair[0], cdf.iter().map(|&c| c as u32).collect())
            .map_err(|e| anyhow::anyhow!("table {k} of {prefix}: {e}"))?;
        at += table.cdf.len();
        out.push(table);
    }
    Ok(out)
}

/// Errors unless the float weights `name` of `net_f32` (an f32 safetensors
/// buffer) have the shape `want`. Networks are built (allocated) from a
/// package's sizes before its weights are loaded into them, so the sizes
/// are checked against the weights first: a small file must not make a
/// decoder allocate a huge network.
pub(crate) fn expect_shape(net_f32: &[u8], name: &str, want: &[usize]) -> Result<()> {
    let st = SafeTensors::deserialize(net_f32)?;
    match st.tensor(name) {
        Ok(t) if t.shape() == want => Ok(()),
        Ok(t) => bail!("weights {name} have shape {:?}, where the package's sizes give {want:?}", t.shape()),
        Err(_) => bail!("the package has no weights {name}"),
    }
}

/// The image model's sizes (N, M, the context's hidden channels and slices,
/// the λ rows) against its weights: every layer the network allocates is
/// then bounded by a layer the file holds.
fn check_sizes(config: &ModelConfig, net_f32: &[u8]) -> Result<()> {
    let (n, m) = (config.n, config.m);
    expect_shape(net_f32, "analysis.0.weight", &[n, 3, 5, 5])?;
    expect_shape(net_f32, "hyper_analysis.0.weight", &[n, m, 3, 3])?;
    if config.is_variable_rate() {
        expect_shape(net_f32, "quality.gain", &[config.lambdas.len(), m])?;
    }
    for (k, &s) in config.slices.iter().enumerate() {
        expect_shape(net_f32, &format!("slice_mean.{k}.output.weight"), &[s, config.context_hidden, 3, 3])?;
    }
    Ok(())
}

pub(crate) fn pack_tables(tables: &[LatentTable]) -> (Vec<i32>, Vec<i32>) {
    let cdf = tables.iter().flat_map(|t| t.cdf.iter().map(|&c| c as i32)).collect();
    let index = tables.iter().flat_map(|t| [t.min, t.cdf.len() as i32]).collect();
    (cdf, index)
}

/// Exports a trained network as a package: f16 weights, the integer scale
/// network (calibrated on `calibration` images) and the integer tables.
/// Errors: a name longer than a file's header holds
/// ([`crate::bitstream::MAX_MODEL_NAME`] bytes), weights of another shape.
pub fn export(
    model: &Hyperprior,
    mut info: PackageInfo,
    calibration: &[crate::io::RgbImage],
    device: &Device,
) -> Result<Vec<u8>> {
    crate::bitstream::check_model_name(&info.name)?;
    // Round the float weights to f16 first, so the calibration and the
    // integer copy see exactly what decoders will load.
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| anyhow::anyhow!("cannot collect weights: {e:?}"))?;
    let f32_bytes = store.get_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let st = SafeTensors::deserialize(&f32_bytes)?;
    let mut f16_data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            bail!("unexpected {:?} weight {name}", view.dtype());
        }
        let data = view
            .data()
            .chunks_exact(4)
            .flat_map(|c| half::f16::from_f32(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
            .collect();
        f16_data.push((format!("net.{name}"), view.shape().to_vec(), data));
    }
    // A provisional package holding only the f16 network gives the rounded model.
    let rounded = {
        let views: Vec<(String, TensorView)> = f16_data
            .iter()
            .map(|(k, s, d)| Ok((k.clone(), TensorView::new(Dtype::F16, s.clone(), d)?)))
            .collect::<Result<_>>()?;
        let bytes = safetensors::serialize(views, None)?;
        let st = SafeTensors::deserialize(&bytes)?;
        let views: Vec<(String, Vec<usize>, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(n, v)| {
                let f: Vec<u8> = v
                    .data()
                    .chunks_exact(2)
                    .flat_map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32().to_le_bytes())
                    .collect();
                (n.trim_start_matches("net.").to_string(), v.shape().to_vec(), f)
            })
            .collect();
        let views: Vec<(String, TensorView)> = views
            .iter()
            .map(|(k, s, d)| Ok((k.clone(), TensorView::new(Dtype::F32, s.clone(), d)?)))
            .collect::<Result<_>>()?;
        let mut m = Hyperprior::new(&info.config, device);
        m.load_from(&mut SafetensorsStore::from_bytes(Some(safetensors::serialize(views, None)?)))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        m
    };

    // Integer scale network, calibrated on the activations the images produce.
    let layers = &rounded.hyper_scale;
    let float_layers: Vec<(usize, usize, Vec<f32>, Vec<f32>)> = layers.iter().map(float_conv).collect();
    let latents = calibration_latents(&rounded, &info, calibration, device);
    let mut act_max = [0f32; 2];
    for y in latents.iter().cloned() {
        let z_hat = rounded.hyper_analysis(y).round();
        let shuffle = burn::nn::PixelShuffleConfig::new(2).init();
        let h1 = burn::tensor::activation::relu(shuffle.forward(layers[0].forward(z_hat)));
        act_max[0] = act_max[0].max(h1.clone().max().into_scalar::<f32>());
        let h2 = burn::tensor::activation::relu(shuffle.forward(layers[1].forward(h1)));
        act_max[1] = act_max[1].max(h2.max().into_scalar::<f32>());
    }
    let fc: Vec<FloatConv> =
        float_layers.iter().map(|(cin, cout, w, b)| FloatConv { cin: *cin, cout: *cout, weight: w, bias: b }).collect();
    let [f0, f1, f2]: [FloatConv; 3] = fc.try_into().map_err(|_| anyhow::anyhow!("scale branch must have 3 layers"))?;
    let int_net = IntScaleNet::quantize(&[f0, f1, f2], act_max, SCALE_LEVELS as u32);
    report_level_agreement(&rounded, &int_net, &latents);
    info.int_shifts = int_net.layers.iter().map(|l| l.shift).collect();
    info.int_input_frac = int_net.input_frac;
    let int_context = quantize_context(&rounded, &latents, device);
    info.int_context_shifts = int_context.iter().map(|c| [c.hidden.shift, c.output.shift]).collect();

    // Tables: Gaussian levels, and the learned per-channel prior of z.
    let z_mean = floats(rounded.z_mean.val());
    let z_scale = floats(rounded.z_log_scale.val().exp());
    let z_tables: Vec<LatentTable> =
        z_mean.iter().zip(&z_scale).map(|(&m, &s)| tables::channel_table(m as f64, s as f64)).collect();
    let (scale_cdf, scale_index) = pack_tables(&tables::scale_tables());
    let (z_cdf, z_index) = pack_tables(&z_tables);

    let i32_bytes = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        f16_data.into_iter().map(|(k, s, d)| (k, Dtype::F16, s, d)).collect();
    // The integer layers, under the names `from_bytes` takes them back by.
    let mut put_layer = |name: String, layer: &IntConv| {
        let weight: Vec<u8> = layer.weight.iter().map(|&w| w as u8).collect();
        owned.push((format!("{name}.weight"), Dtype::I8, vec![weight.len()], weight));
        owned.push((format!("{name}.bias"), Dtype::I32, vec![layer.bias.len()], i32_bytes(&layer.bias)));
    };
    for (l, layer) in int_net.layers.iter().enumerate() {
        put_layer(format!("int.{l}"), layer);
    }
    for (k, net) in int_context.iter().enumerate() {
        put_layer(format!("int.ctx.{k}.hidden"), &net.hidden);
        put_layer(format!("int.ctx.{k}.output"), &net.output);
    }
    for (name, v) in [
        ("table.scale.cdf", &scale_cdf),
        ("table.scale.index", &scale_index),
        ("table.z.cdf", &z_cdf),
        ("table.z.index", &z_index),
    ] {
        owned.push((name.to_string(), Dtype::I32, vec![v.len()], i32_bytes(v)));
    }
    let views: Vec<(String, TensorView)> =
        owned.iter().map(|(k, t, s, d)| Ok((k.clone(), TensorView::new(*t, s.clone(), d)?))).collect::<Result<_>>()?;
    let meta = HashMap::from([("livc".to_string(), serde_json::to_string(&info)?)]);
    Ok(safetensors::serialize(views, Some(meta))?)
}

/// The latents the integer networks are calibrated on: every image at the
/// lowest, middle and highest quality of a variable-rate model (whose gains
/// move the latents' range), else at the model's one quality.
fn calibration_latents(
    net: &Hyperprior,
    info: &PackageInfo,
    images: &[crate::io::RgbImage],
    device: &Device,
) -> Vec<Tensor<4>> {
    let qualities =
        if info.config.is_variable_rate() { vec![0, MAX_QUALITY / 2, MAX_QUALITY] } else { vec![info.quality] };
    let mut out = Vec::new();
    for img in images {
        let x = crate::codec::image_tensor(img, 64, device);
        out.extend(qualities.iter().map(|&q| net.analysis_at(x.clone(), q)));
    }
    out
}

/// A float conv layer's (cin, cout, weights, bias).
fn float_conv(c: &burn::nn::conv::Conv2d) -> (usize, usize, Vec<f32>, Vec<f32>) {
    let [cout, cin, _, _] = c.weight.dims();
    let w = floats(c.weight.val());
    let b = c.bias.as_ref().map(|b| floats(b.val())).unwrap_or(vec![0.0; cout]);
    (cin, cout, w, b)
}

/// The integer copies of the slices' level corrections, each hidden layer's
/// fixed point set by its largest activation on the calibration images.
fn quantize_context(net: &Hyperprior, latents: &[Tensor<4>], device: &Device) -> Vec<IntContextNet> {
    if net.slice_scale.is_empty() {
        return Vec::new();
    }
    let mut hidden_max = vec![0f32; net.slice_scale.len()];
    for y in latents.iter().cloned() {
        let z_hat = net.hyper_analysis(y.clone()).round();
        let [_, _, h, w] = y.dims();
        let anchor = super::context::checkerboard(h, w, device);
        let (_, inputs) = net.context_means(
            y,
            net.hyper_mean(z_hat.clone()),
            net.hyper_scale_level(z_hat),
            &anchor,
            super::straight_through_round,
        );
        for (k, passes) in inputs.into_iter().enumerate() {
            for input in passes {
                let hidden = burn::tensor::activation::relu(net.slice_scale[k].hidden.forward(input));
                hidden_max[k] = hidden_max[k].max(hidden.max().into_scalar::<f32>());
            }
        }
    }
    net.slice_scale
        .iter()
        .zip(hidden_max)
        .map(|(c, max)| {
            let (h, o) = (float_conv(&c.hidden), float_conv(&c.output));
            IntContextNet::quantize(
                &FloatConv { cin: h.0, cout: h.1, weight: &h.2, bias: &h.3 },
                &FloatConv { cin: o.0, cout: o.1, weight: &o.2, bias: &o.3 },
                max,
            )
        })
        .collect()
}

/// Prints how often the integer scale level differs from the rounded float
/// level on the calibration images (each step of difference costs a little rate).
fn report_level_agreement(net: &Hyperprior, int_net: &IntScaleNet, latents: &[Tensor<4>]) {
    let (mut same, mut total, mut max_diff) = (0usize, 0usize, 0i32);
    for y in latents.iter().cloned() {
        let z_hat = net.hyper_analysis(y).round();
        let [_, _, zh, zw] = z_hat.dims();
        let float_levels = net.hyper_scale_level(z_hat.clone()).clamp(0.0, (SCALE_LEVELS - 1) as f32).round();
        let float_levels = floats(float_levels);
        let z: Vec<i32> = floats(z_hat).iter().map(|&v| v as i32).collect();
        for (a, &b) in float_levels.iter().zip(&int_net.levels(&z, zh, zw)) {
            let d = (*a as i32 - b as i32).abs();
            same += (d == 0) as usize;
            max_diff = max_diff.max(d);
            total += 1;
        }
    }
    if total > 0 {
        eprintln!(
            "integer scale network: {:.2}% of levels equal to the float network's, max difference {max_diff}",
            100.0 * same as f64 / total as f64
        );
    }
}
