//! `livc eval`: rate-distortion sweeps of livc and the classical codecs over
//! a folder of images, with per-image results cached so an interrupted run
//! resumes, then JSON, a Markdown summary, BD-rates and RD plots.

pub mod bdrate;
pub mod codecs;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod video;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::io::{is_image_path, read_image};
use codecs::{CodecKind, LivcModels};

/// What `livc eval` sweeps and where it writes (see [`run`]).
pub struct EvalSettings {
    /// Folder of images; those [`crate::io::is_image_path`] accepts, sorted by name.
    pub dataset: PathBuf,
    pub codecs: Vec<CodecKind>,
    /// Output folder: per-codec JSON, `bd.json`, `summary.md`, plots, and the
    /// per-image cache under `cache/`.
    pub out: PathBuf,
    /// Worker threads, each coding one image at one quality at a time (0 runs
    /// one).
    pub jobs: usize,
    /// Only the first N images (sorted by name).
    pub limit: Option<usize>,
    /// sha256sum-style list to verify the images against.
    pub manifest: Option<PathBuf>,
    /// Curve files (the format of kodak_published_rd.json, or an earlier
    /// run's curves.json) to plot and use as anchors.
    pub reference: Vec<PathBuf>,
    /// livc model packages to sweep instead of the embedded models: one
    /// variable-rate model, or per-rate models that together make one curve.
    pub models: Vec<PathBuf>,
    /// livc's encoder effort ([`crate::model::refine`]).
    pub effort: u8,
    /// Anchors for the BD table: measured codec names or reference curve keys.
    pub anchors: Vec<String>,
    /// A missing external tool is an error instead of a skipped codec.
    pub require_tools: bool,
    /// Whether to draw a progress bar on stderr.
    pub progress: bool,
}

/// Measurements of one image at one quality.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The image's file stem.
    pub image: String,
    /// The codec's own quality setting (livc's `-q`, a tool's quality,
    /// quantizer or CRF; [`codecs::CodecKind::qualities`]).
    pub quality: i32,
    /// Image size in pixels.
    pub width: usize,
    pub height: usize,
    /// Size of the whole coded file, container included.
    pub bytes: usize,
    /// Bits per pixel: 8 × `bytes` / (width × height).
    pub bpp: f64,
    /// PSNR over all RGB samples, dB ([`metrics::psnr_rgb`]).
    pub psnr: f64,
    /// PSNR of the full-range BT.601 luma, dB ([`metrics::psnr_y`]).
    pub psnr_y: f64,
    /// Absent when the image is smaller than MS-SSIM's five scales need.
    pub ms_ssim: Option<f64>,
    /// SSIMULACRA 2 ([`metrics::ssimulacra2`]); absent in rows cached before it was measured.
    #[serde(default)]
    pub ssimulacra2: Option<f64>,
    /// Wall-clock seconds to encode (external tools: including process start).
    pub encode_s: f64,
    /// Wall-clock seconds to decode, likewise.
    pub decode_s: f64,
}

/// What the cached rows of one codec were made with; a change empties the cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    /// The tool's version line (livc: its version, models and quantiser).
    pub version: String,
    /// The command templates the codec runs.
    pub commands: Vec<String>,
}

/// The image list of a dataset folder, sorted by name.
pub fn dataset_images(dir: &Path, limit: Option<usize>) -> Result<Vec<PathBuf>> {
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read dataset folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image_path(p))
        .collect();
    images.sort();
    if images.is_empty() {
        bail!("no images in {}", dir.display());
    }
    if let Some(n) = limit {
        images.truncate(n);
    }
    Ok(images)
}

/// The manifest for a dataset: the given one, else `datasets/<folder name>.sha256`
/// when the command runs from the repository.
pub fn find_manifest(dataset: &Path, given: Option<&Path>) -> Option<PathBuf> {
    if let Some(m) = given {
        return Some(m.to_path_buf());
    }
    let name = dataset.canonicalize().ok()?.file_name()?.to_str()?.to_string();
    let candidate = PathBuf::from("datasets").join(format!("{name}.sha256"));
    candidate.is_file().then_some(candidate)
}

/// Checks every image against a `sha256sum` list. Images the list does not
/// name are reported (sets grow) but not refused; a wrong digest is an error.
pub fn verify_manifest(manifest: &Path, images: &[PathBuf]) -> Result<usize> {
    let text = std::fs::read_to_string(manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    let mut expected = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (digest, name) = line.split_once(char::is_whitespace).context("malformed manifest line")?;
        expected.insert(name.trim().trim_start_matches('*').to_string(), digest.to_ascii_lowercase());
    }
    let mut checked = 0;
    for path in images {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(digest) = expected.get(name) else {
            eprintln!("livc eval: {name} is not in {} (not verified)", manifest.display());
            continue;
        };
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let actual: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        if &actual != digest {
            bail!("{} does not match {}: sha256 {actual}, expected {digest}", path.display(), manifest.display());
        }
        checked += 1;
    }
    Ok(checked)
}

fn image_stem(path: &Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_string()
}

struct Task {
    codec: CodecKind,
    image: usize,
    quality: i32,
}

fn cache_path(out: &Path, codec: CodecKind, image: &Path, quality: i32) -> PathBuf {
    cache_file(out, codec, &image_stem(image), quality)
}

fn cache_file(out: &Path, codec: CodecKind, stem: &str, quality: i32) -> PathBuf {
    out.join("cache").join(codec.name()).join(format!("{stem}_q{quality}.json"))
}

/// Fills a codec's cache from the results file an earlier run left in the
/// output folder (OUT/<codec>.json, committed under evaluation/results) when
/// the same dataset, tool and commands made it: a fresh clone then measures
/// only what changed, such as livc after new weights.
fn seed_cache(out: &Path, dataset: &str, codec: CodecKind, record: &ToolRecord) -> Result<()> {
    let Ok(bytes) = std::fs::read(out.join(format!("{}.json", codec.name()))) else { return Ok(()) };
    let Ok(previous) = serde_json::from_slice::<report::CodecResults>(&bytes) else { return Ok(()) };
    if previous.dataset != dataset || &previous.tool != record {
        return Ok(());
    }
    for row in previous.rows {
        let file = cache_file(out, codec, &row.image, row.quality);
        if !file.is_file() {
            write_atomically(&file, &serde_json::to_vec_pretty(&row)?)?;
        }
    }
    Ok(())
}

/// Held while livc codes in-process: burn's CPU backend already uses every
/// core, and two instances at once mostly fight over them.
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// Codes one image at one quality and measures it.
fn measure(task: &Task, livc: &LivcModels, path: &Path, work: &Path) -> Result<Row> {
    let original = read_image(path)?;
    let trial = if matches!(task.codec, CodecKind::Livc | CodecKind::LivcVq) {
        let _only_one = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        task.codec.run(livc, path, &original, task.quality, work)?
    } else {
        task.codec.run(livc, path, &original, task.quality, work)?
    };
    let pixels = (original.width * original.height) as f64;
    Ok(Row {
        image: image_stem(path),
        quality: task.quality,
        width: original.width,
        height: original.height,
        bytes: trial.bytes,
        bpp: trial.bytes as f64 * 8.0 / pixels,
        psnr: metrics::psnr_rgb(&original, &trial.decoded),
        psnr_y: metrics::psnr_y(&original, &trial.decoded),
        ms_ssim: metrics::ms_ssim(&original, &trial.decoded),
        ssimulacra2: metrics::ssimulacra2(&original, &trial.decoded),
        encode_s: trial.encode_s,
        decode_s: trial.decode_s,
    })
}

/// Writes `bytes` to `path` through a temporary file beside it, so that an
/// interrupted write leaves the earlier file (a cache) whole; the temporary
/// file is removed when the write fails.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Runs (or resumes) the sweep and writes every output. Returns the results
/// per codec, in the order given.
pub fn run(s: &EvalSettings) -> Result<Vec<report::CodecResults>> {
    let images = dataset_images(&s.dataset, s.limit)?;
    if let Some(manifest) = find_manifest(&s.dataset, s.manifest.as_deref()) {
        let n = verify_manifest(&manifest, &images)?;
        eprintln!("livc eval: {n} of {} images match {}", images.len(), manifest.display());
    }
    std::fs::create_dir_all(&s.out).with_context(|| format!("cannot create {}", s.out.display()))?;
    let livc = if s.models.is_empty() { LivcModels::embedded()? } else { LivcModels::files(&s.models)? };
    let livc = livc.with_effort(s.effort)?;

    let mut codecs = Vec::new();
    for &codec in &s.codecs {
        if let Some(tool) = codec.missing_tool() {
            let message = format!("{} needs `{tool}` (Debian package {})", codec.name(), codec.package());
            if s.require_tools {
                bail!("{message}");
            }
            eprintln!("livc eval: SKIPPING {message}: not installed");
            continue;
        }
        if codec.qualities(&livc).is_empty() {
            bail!("{} has no qualities to sweep", codec.name());
        }
        codecs.push(codec);
    }

    let dataset_name = s
        .dataset
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into());
    // Invalidate a codec's cache when its tool or arguments changed.
    let mut tools = BTreeMap::new();
    for &codec in &codecs {
        let record = ToolRecord { version: codec.version(&livc), commands: codec.command_template() };
        let dir = s.out.join("cache").join(codec.name());
        let record_path = dir.join("tool.json");
        let previous: Option<ToolRecord> =
            std::fs::read(&record_path).ok().and_then(|b| serde_json::from_slice(&b).ok());
        if previous.as_ref() != Some(&record) {
            if dir.exists() {
                eprintln!("livc eval: {} changed since its cached results; measuring again", codec.name());
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::create_dir_all(&dir)?;
            write_atomically(&record_path, &serde_json::to_vec_pretty(&record)?)?;
        }
        seed_cache(&s.out, &dataset_name, codec, &record)?;
        tools.insert(codec, record);
    }

    // Interleaved by image and quality step, so parallel workers mostly run
    // different codecs (livc, which uses every core itself, one at a time).
    let sweeps: Vec<(CodecKind, Vec<i32>)> = codecs.iter().map(|&c| (c, c.qualities(&livc))).collect();
    let steps = sweeps.iter().map(|(_, q)| q.len()).max().unwrap_or(0);
    let mut tasks = Vec::new();
    for (image, path) in images.iter().enumerate() {
        for step in 0..steps {
            for (codec, qualities) in &sweeps {
                if let Some(&quality) = qualities.get(step)
                    && !cache_path(&s.out, *codec, path, quality).is_file()
                {
                    tasks.push(Task { codec: *codec, image, quality });
                }
            }
        }
    }
    eprintln!("livc eval: {} images × {} codecs; {} measurements to run", images.len(), codecs.len(), tasks.len());

    let bar =
        if s.progress { indicatif::ProgressBar::new(tasks.len() as u64) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed_precise}, ETA {eta_precise}]")
            .expect("valid template"),
    );
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for worker in 0..s.jobs.max(1) {
            let (tasks, images, next, failure, bar, livc) = (&tasks, &images, &next, &failure, &bar, &livc);
            let work = s.out.join("tmp").join(worker.to_string());
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= tasks.len() || failure.lock().unwrap().is_some() {
                        break;
                    }
                    let task = &tasks[i];
                    let path = &images[task.image];
                    let result = measure(task, livc, path, &work).and_then(|row| {
                        let json = serde_json::to_vec_pretty(&row)?;
                        write_atomically(&cache_path(&s.out, task.codec, path, task.quality), &json)
                    });
                    if let Err(e) = result {
                        let e = e.context(format!("{} q{} on {}", task.codec.name(), task.quality, path.display()));
                        *failure.lock().unwrap() = Some(e);
                        break;
                    }
                    bar.set_message(format!("{} {}", task.codec.name(), image_stem(path)));
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(s.out.join("tmp"));
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }

    let mut results = Vec::new();
    for &codec in &codecs {
        let mut rows = Vec::new();
        for path in &images {
            for q in codec.qualities(&livc) {
                let file = cache_path(&s.out, codec, path, q);
                let bytes = std::fs::read(&file).with_context(|| format!("missing result {}", file.display()))?;
                rows.push(
                    serde_json::from_slice::<Row>(&bytes).with_context(|| format!("corrupt {}", file.display()))?,
                );
            }
        }
        results.push(report::CodecResults::new(codec, &dataset_name, &s.dataset, tools[&codec].clone(), rows));
    }
    report::write_all(s, &dataset_name, &results, &livc.name())?;
    Ok(results)
}
