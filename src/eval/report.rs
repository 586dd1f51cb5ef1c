//! Turning cached rows into the evaluation's outputs: one JSON per codec
//! (rows + averages per quality), `bd.json`, `summary.md` and the plots.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

use super::bdrate::{Delta, RdPoint, bd_quality, bd_rate};
use super::codecs::CodecKind;
use super::{EvalSettings, Row, ToolRecord, plot};

/// Dataset averages at one quality (means over images, as CompressAI reports).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Average {
    /// The codec's quality setting these rows share ([`Row::quality`]).
    pub quality: i32,
    /// Images averaged.
    pub images: usize,
    /// Mean bits per pixel.
    pub bpp: f64,
    /// Mean RGB PSNR, dB.
    pub psnr: f64,
    /// Mean BT.601 luma PSNR, dB.
    pub psnr_y: f64,
    /// Absent when some image was too small for MS-SSIM.
    pub ms_ssim: Option<f64>,
    /// Absent when some row lacks it (rows cached before it was measured).
    #[serde(default)]
    pub ssimulacra2: Option<f64>,
    /// Mean wall-clock seconds to encode one image.
    pub encode_s: f64,
    /// Mean wall-clock seconds to decode one image.
    pub decode_s: f64,
}

/// One codec's results on a dataset: every row and the averages per
/// quality, sorted by bpp (the `OUT/<codec>.json` of `livc eval`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodecResults {
    /// [`CodecKind::name`].
    pub codec: String,
    /// [`CodecKind::label`].
    pub label: String,
    /// The dataset folder's name.
    pub dataset: String,
    /// The dataset folder as given.
    pub dataset_dir: String,
    pub tool: ToolRecord,
    /// How the numbers were measured (bpp, metrics, timing), in words.
    pub note: String,
    pub averages: Vec<Average>,
    pub rows: Vec<Row>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

impl CodecResults {
    /// Results from `rows`, with the mean of every metric at each quality
    /// (MS-SSIM and SSIMULACRA 2 only where every row has them).
    pub fn new(codec: CodecKind, dataset: &str, dir: &Path, tool: ToolRecord, rows: Vec<Row>) -> CodecResults {
        let mut qualities: Vec<i32> = rows.iter().map(|r| r.quality).collect();
        qualities.sort();
        qualities.dedup();
        let averages = qualities
            .iter()
            .map(|&q| {
                let at: Vec<&Row> = rows.iter().filter(|r| r.quality == q).collect();
                let ms_ssim = at.iter().map(|r| r.ms_ssim).collect::<Option<Vec<f64>>>().map(|v| mean(v.into_iter()));
                Average {
                    quality: q,
                    images: at.len(),
                    bpp: mean(at.iter().map(|r| r.bpp)),
                    psnr: mean(at.iter().map(|r| r.psnr)),
                    psnr_y: mean(at.iter().map(|r| r.psnr_y)),
                    ms_ssim,
                    ssimulacra2: at
                        .iter()
                        .map(|r| r.ssimulacra2)
                        .collect::<Option<Vec<f64>>>()
                        .map(|v| mean(v.into_iter())),
                    encode_s: mean(at.iter().map(|r| r.encode_s)),
                    decode_s: mean(at.iter().map(|r| r.decode_s)),
                }
            })
            .collect::<Vec<Average>>();
        let mut averages = averages;
        averages.sort_by(|a, b| a.bpp.total_cmp(&b.bpp));
        CodecResults {
            codec: codec.name().into(),
            label: codec.label().into(),
            dataset: dataset.into(),
            dataset_dir: dir.display().to_string(),
            tool,
            note: "bpp counts the whole file (container included) over all pixels; PSNR and MS-SSIM compare decoded \
                   RGB with the original; PSNR-Y uses full-range BT.601 luma; external tools run single-threaded; \
                   times are wall-clock per image including process start"
                .into(),
            averages,
            rows,
        }
    }

    /// Mean SSIMULACRA 2 against bpp (qualities where every row has it).
    pub fn ssimulacra2_curve(&self) -> Vec<RdPoint> {
        self.averages.iter().filter_map(|a| a.ssimulacra2.map(|s| RdPoint { bpp: a.bpp, quality: s })).collect()
    }

    /// Mean RGB PSNR (dB) against bpp.
    pub fn psnr_curve(&self) -> Vec<RdPoint> {
        self.averages.iter().map(|a| RdPoint { bpp: a.bpp, quality: a.psnr }).collect()
    }

    /// Mean MS-SSIM in dB ([`ms_ssim_db`]) against bpp, at qualities where every
    /// row has MS-SSIM.
    pub fn ms_ssim_db_curve(&self) -> Vec<RdPoint> {
        self.averages.iter().filter_map(|a| a.ms_ssim.map(|m| RdPoint { bpp: a.bpp, quality: ms_ssim_db(m) })).collect()
    }
}

/// MS-SSIM on a dB scale, −10·log10(1 − MS-SSIM), as RD plots usually show it.
pub fn ms_ssim_db(m: f64) -> f64 {
    -10.0 * (1.0 - m).max(1e-10).log10()
}

/// A published curve from a reference file such as kodak_published_rd.json.
#[derive(Clone, Debug)]
pub struct ReferenceCurve {
    /// The curve's key in the file (what `--anchors` names).
    pub key: String,
    /// The curve's display name.
    pub name: String,
    /// PSNR (dB) against bpp.
    pub psnr: Vec<RdPoint>,
    /// MS-SSIM in dB ([`ms_ssim_db`]) against bpp, at points that give MS-SSIM.
    pub ms_ssim_db: Vec<RdPoint>,
}

#[derive(Deserialize)]
struct ReferenceFile {
    curves: std::collections::BTreeMap<String, ReferenceEntry>,
}

#[derive(Deserialize)]
struct ReferenceEntry {
    name: String,
    points: Vec<ReferencePoint>,
}

#[derive(Deserialize)]
struct ReferencePoint {
    bpp: f64,
    psnr: f64,
    #[serde(rename = "ms-ssim")]
    ms_ssim: Option<f64>,
}

/// The curves of a reference file (JSON: `curves`, each with a `name` and
/// `points` of `bpp`, `psnr` and optional `ms-ssim`). Errors: the file
/// cannot be read or does not parse.
pub fn load_reference(path: &Path) -> Result<Vec<ReferenceCurve>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: ReferenceFile =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not a reference-curve file", path.display()))?;
    Ok(file
        .curves
        .into_iter()
        .map(|(key, e)| ReferenceCurve {
            key,
            name: e.name,
            psnr: e.points.iter().map(|p| RdPoint { bpp: p.bpp, quality: p.psnr }).collect(),
            ms_ssim_db: e
                .points
                .iter()
                .filter_map(|p| p.ms_ssim.map(|m| RdPoint { bpp: p.bpp, quality: ms_ssim_db(m) }))
                .collect(),
        })
        .collect())
}

/// Published curves worth drawing next to ours (a plot with all of them is
/// unreadable): the classical anchors and a ladder of learned codecs.
const PLOTTED_REFERENCES: [&str; 7] = [
    "vtm",
    "bpg_444_x265_ycbcr",
    "av1",
    "compressai-bmshj2018-hyperprior_mse_cuda",
    "compressai-mbt2018_mse_cuda",
    "paper-elic2022_mse",
    "mlicplusplus",
];

/// Those, and any reference curve named as an anchor (an earlier model, say).
fn plotted_reference(all: &[ReferenceCurve], anchors: &[String]) -> Vec<ReferenceCurve> {
    let keys = PLOTTED_REFERENCES.iter().copied().chain(anchors.iter().map(String::as_str));
    let mut chosen: Vec<ReferenceCurve> = Vec::new();
    for key in keys {
        if let Some(c) = all.iter().find(|c| c.key == key).filter(|_| !chosen.iter().any(|c| c.key == key)) {
            chosen.push(c.clone());
        }
    }
    if chosen.is_empty() { all.to_vec() } else { chosen }
}

/// The measured curves in the reference-file format, so that a later run can
/// compare against this one (`--reference curves.json --anchors KEY`). livc's
/// curve is keyed by its models' names, the others by codec.
fn write_curves(path: &Path, results: &[CodecResults], livc_name: &str) -> Result<()> {
    let mut curves = serde_json::Map::new();
    for r in results {
        let key = if r.codec == "livc" { livc_name.to_string() } else { r.codec.clone() };
        let points: Vec<serde_json::Value> = r
            .averages
            .iter()
            .map(|a| serde_json::json!({"bpp": a.bpp, "psnr": a.psnr, "ms-ssim": a.ms_ssim, "ssimulacra2": a.ssimulacra2}))
            .collect();
        curves.insert(key, serde_json::json!({"name": r.label, "source": r.tool.version, "points": points}));
    }
    let about = format!("measured by livc eval on {}", results.first().map_or("", |r| r.dataset.as_str()));
    std::fs::write(path, serde_json::to_vec_pretty(&serde_json::json!({"_about": about, "curves": curves}))?)?;
    Ok(())
}

/// One anchor of the BD table: a measured codec or a published curve.
struct Anchor {
    key: String,
    title: String,
    psnr: Vec<RdPoint>,
}

#[derive(Serialize)]
struct BdEntry {
    codec: String,
    anchor: String,
    /// Percent; negative means fewer bits than the anchor at equal PSNR.
    bd_rate: Option<f64>,
    /// dB; positive means better than the anchor at equal rate.
    bd_psnr: Option<f64>,
    /// Share of the joint PSNR range the BD-rate was measured over.
    overlap: Option<f64>,
}

fn resolve_anchors(s: &EvalSettings, results: &[CodecResults], reference: &[ReferenceCurve]) -> Vec<Anchor> {
    let wanted: Vec<String> = if s.anchors.is_empty() {
        ["vtm", "x265-444", "avif"].iter().map(|a| a.to_string()).collect()
    } else {
        s.anchors.clone()
    };
    let mut anchors = Vec::new();
    for key in wanted {
        if let Some(r) = results.iter().find(|r| r.codec == key) {
            anchors.push(Anchor { key: key.clone(), title: format!("{key} (measured)"), psnr: r.psnr_curve() });
        } else if let Some(c) = reference.iter().find(|c| c.key == key) {
            anchors.push(Anchor { key: key.clone(), title: format!("{key} (reference)"), psnr: c.psnr.clone() });
        } else if !s.anchors.is_empty() {
            eprintln!("livc eval: anchor '{key}' is neither a measured codec nor a reference curve; left out");
        }
    }
    anchors
}

fn format_delta(rate: Option<Delta>, psnr: Option<Delta>) -> String {
    match (rate, psnr) {
        (Some(r), Some(p)) => {
            let flag = if r.overlap < 0.75 { "*" } else { "" };
            format!("{:+.1} % ({:+.2} dB){flag}", r.value, p.value)
        }
        (Some(r), None) => format!("{:+.1} %", r.value),
        // The quality ranges do not meet, but the rate ranges may.
        (None, Some(p)) => format!("n/a ({:+.2} dB)", p.value),
        (None, None) => "n/a".into(),
    }
}

/// Writes `<codec>.json`, `bd.json`, `summary.md` and the plots into `s.out`.
/// The references are read first: one may be this folder's own
/// `curves.json` from an earlier run, which this run replaces.
pub fn write_all(s: &EvalSettings, dataset: &str, results: &[CodecResults], livc_name: &str) -> Result<()> {
    let mut reference = Vec::new();
    for path in &s.reference {
        reference.extend(load_reference(path)?);
    }
    for r in results {
        std::fs::write(s.out.join(format!("{}.json", r.codec)), serde_json::to_vec_pretty(r)?)?;
    }
    write_curves(&s.out.join("curves.json"), results, livc_name)?;
    let anchors = resolve_anchors(s, results, &reference);

    let mut bd = Vec::new();
    let mut md = String::new();
    let images = results.first().map(|r| r.averages.first().map_or(0, |a| a.images)).unwrap_or(0);
    let command: Vec<String> = std::env::args().collect();
    writeln!(md, "# Rate-distortion on {dataset} ({images} images)\n")?;
    writeln!(md, "Made by `{}`.\n", command.join(" "))?;
    writeln!(
        md,
        "bpp counts the whole file over all pixels; PSNR is RGB, PSNR-Y full-range BT.601 luma, both averaged over images; "
    )?;
    writeln!(
        md,
        "MS-SSIM is computed on RGB like `pytorch_msssim`. Times are wall-clock seconds per image (external tools single-threaded, process start included; livc in-process on the CPU backend).\n"
    )?;

    if !anchors.is_empty() {
        writeln!(md, "## BD-rate (PSNR, pchip)\n")?;
        writeln!(
            md,
            "Bitrate change at equal PSNR against each anchor (negative = fewer bits), with BD-PSNR in brackets. `*`: the curves overlap over less than 75 % of their joint PSNR range; n/a: no PSNR overlap (BD-PSNR is still shown when the rate ranges overlap).\n"
        )?;
        write!(md, "| codec |")?;
        for a in &anchors {
            write!(md, " vs {} |", a.title)?;
        }
        writeln!(md)?;
        writeln!(md, "|---|{}", "---|".repeat(anchors.len()))?;
        for r in results {
            write!(md, "| {} |", r.codec)?;
            for a in &anchors {
                let (rate, psnr) = (bd_rate(&a.psnr, &r.psnr_curve()), bd_quality(&a.psnr, &r.psnr_curve()));
                bd.push(BdEntry {
                    codec: r.codec.clone(),
                    anchor: a.key.clone(),
                    bd_rate: rate.map(|d| d.value),
                    bd_psnr: psnr.map(|d| d.value),
                    overlap: rate.map(|d| d.overlap),
                });
                if a.key == r.codec {
                    write!(md, " — |")?;
                } else {
                    write!(md, " {} |", format_delta(rate, psnr))?;
                }
            }
            writeln!(md)?;
        }
        writeln!(md)?;
    }

    writeln!(md, "## Averages per quality\n")?;
    for r in results {
        writeln!(md, "### {} — `{}`\n", r.label, r.tool.version)?;
        for c in &r.tool.commands {
            writeln!(md, "    {c}")?;
        }
        writeln!(md)?;
        writeln!(md, "| quality | bpp | PSNR | PSNR-Y | MS-SSIM | SSIMULACRA 2 | encode s | decode s |")?;
        writeln!(md, "|---|---|---|---|---|---|---|---|")?;
        for a in &r.averages {
            let ms = a.ms_ssim.map_or("–".to_string(), |m| format!("{m:.4}"));
            let s2 = a.ssimulacra2.map_or("–".to_string(), |m| format!("{m:.2}"));
            writeln!(
                md,
                "| {} | {:.4} | {:.2} | {:.2} | {} | {} | {:.3} | {:.3} |",
                a.quality, a.bpp, a.psnr, a.psnr_y, ms, s2, a.encode_s, a.decode_s
            )?;
        }
        writeln!(md)?;
    }
    std::fs::write(s.out.join("bd.json"), serde_json::to_vec_pretty(&bd)?)?;

    match plot::register_font() {
        Ok(()) => {
            let measured_psnr: Vec<(String, Vec<RdPoint>)> =
                results.iter().map(|r| (r.label.clone(), r.psnr_curve())).collect();
            let plotted = plotted_reference(&reference, &s.anchors);
            let reference_psnr: Vec<(String, Vec<RdPoint>)> =
                plotted.iter().map(|c| (c.name.clone(), c.psnr.clone())).collect();
            plot::rd_plot(
                &s.out.join("rd-psnr"),
                &format!("{dataset}: RGB PSNR"),
                "PSNR (dB)",
                &measured_psnr,
                &reference_psnr,
            )?;
            let measured_ms: Vec<(String, Vec<RdPoint>)> =
                results.iter().map(|r| (r.label.clone(), r.ms_ssim_db_curve())).collect();
            let reference_ms: Vec<(String, Vec<RdPoint>)> =
                plotted.iter().map(|c| (c.name.clone(), c.ms_ssim_db.clone())).collect();
            writeln!(md, "## Plots\n\n![RD, PSNR](rd-psnr.png)\n")?;
            let measured_s2: Vec<(String, Vec<RdPoint>)> =
                results.iter().map(|r| (r.label.clone(), r.ssimulacra2_curve())).collect();
            // The other metrics, each plotted when some codec has it.
            for (stem, metric, y_label, measured, reference) in [
                ("rd-msssim", "MS-SSIM", "MS-SSIM (dB) = -10 log10(1 - MS-SSIM)", measured_ms, reference_ms),
                ("rd-ssimulacra2", "SSIMULACRA 2", "SSIMULACRA 2", measured_s2, Vec::new()),
            ] {
                if measured.iter().any(|(_, c)| !c.is_empty()) {
                    let title = format!("{dataset}: {metric}");
                    plot::rd_plot(&s.out.join(stem), &title, y_label, &measured, &reference)?;
                    writeln!(md, "![RD, {metric}]({stem}.png)\n")?;
                }
            }
            writeln!(md, "Measured curves are solid, reference curves (published, or earlier runs of ours) dashed.")?;
        }
        Err(e) => eprintln!("livc eval: no plots: {e:#}"),
    }
    std::fs::write(s.out.join("summary.md"), md)?;
    Ok(())
}
