//! The evaluation: metrics and BD-rate against the Python tools the literature
//! uses (values in tests/data/reference_values.json, made by
//! evaluation/reference/make_reference_values.py), every codec driver, and a
//! small end-to-end sweep that resumes from its cache.

use livc::eval::bdrate::{RdPoint, bd_quality, bd_rate};
use livc::eval::codecs::{CodecKind, LivcModels};
use livc::eval::{EvalSettings, metrics};
use livc::io::{RgbImage, write_image};
use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;

fn reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference_values.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn curve(points: &Value) -> Vec<RdPoint> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| RdPoint { bpp: p[0].as_f64().unwrap(), quality: p[1].as_f64().unwrap() })
        .collect()
}

#[test]
fn bd_rate_matches_the_bjontegaard_package_on_published_curves() {
    let r = reference();
    let cases = r["bd"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let (anchor, test) = (curve(&case["anchor_points"]), curve(&case["test_points"]));
        let rate = bd_rate(&anchor, &test).unwrap().value;
        let psnr = bd_quality(&anchor, &test).unwrap().value;
        let (want_rate, want_psnr) = (case["bd_rate"].as_f64().unwrap(), case["bd_psnr"].as_f64().unwrap());
        assert!(
            (rate - want_rate).abs() < 1e-6,
            "{} vs {}: BD-rate {rate} != {want_rate}",
            case["test"],
            case["anchor"]
        );
        assert!(
            (psnr - want_psnr).abs() < 1e-8,
            "{} vs {}: BD-PSNR {psnr} != {want_psnr}",
            case["test"],
            case["anchor"]
        );
        // The published standings: CompressAI's hyperprior is about +30 % against VTM.
        if case["test"] == "compressai-bmshj2018-hyperprior_mse_cuda" && case["anchor"] == "vtm" {
            assert!((28.0..33.0).contains(&rate), "hyperprior vs VTM {rate}");
        }
    }
}

/// The synthetic pair of make_reference_values.py: gradient + hashed noise.
fn synthetic(w: usize, h: usize, salt: u64) -> (RgbImage, RgbImage) {
    let mut a = Vec::with_capacity(w * h * 3);
    let mut b = Vec::with_capacity(w * h * 3);
    for y in 0..h as u64 {
        for x in 0..w as u64 {
            for c in 0..3u64 {
                let base = (x * 5 + y * 3 + c * 60 + (x * y) / 7) % 256;
                let hash = ((x * 73856093) ^ (y * 19349663) ^ ((c + salt) * 83492791)) % 31;
                a.push(base as u8);
                b.push((base as i64 + (hash as i64 - 15) * (1 + 2 * salt as i64)).clamp(0, 255) as u8);
            }
        }
    }
    (RgbImage { width: w, height: h, pixels: a }, RgbImage { width: w, height: h, pixels: b })
}

#[test]
fn ms_ssim_matches_pytorch_msssim() {
    let r = reference();
    for case in r["ms_ssim"].as_array().unwrap() {
        let (w, h) = (case["width"].as_u64().unwrap() as usize, case["height"].as_u64().unwrap() as usize);
        let (a, b) = synthetic(w, h, case["salt"].as_u64().unwrap());
        let got = metrics::ms_ssim(&a, &b).unwrap();
        let want = case["ms_ssim"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{w}×{h}: {got} != {want}");
    }
}

fn photo_like(w: usize, h: usize) -> RgbImage {
    let mut pixels = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f64 / w as f64, y as f64 / h as f64);
            pixels.push((128.0 + 100.0 * (fx * 6.0).sin() * (fy * 4.0).cos()) as u8);
            pixels.push((60.0 + 150.0 * fx * fy) as u8);
            pixels.push((50.0 + 100.0 * (fx + fy)) as u8);
        }
    }
    RgbImage { width: w, height: h, pixels }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("livc-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Says what was skipped on the real stderr, which the test harness does not
/// capture, so a skip is never silent.
fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}");
}

/// CI sets LIVC_REQUIRE_CODECS=1 after installing the tools, so a missing
/// tool there fails instead of skipping.
fn tools_required() -> bool {
    std::env::var("LIVC_REQUIRE_CODECS").is_ok_and(|v| v == "1")
}

#[test]
fn every_codec_driver_round_trips_an_odd_sized_image() {
    let dir = temp_dir("drivers");
    let original = photo_like(71, 45);
    let source = dir.join("source.png");
    write_image(&source, &original).unwrap();
    let livc = LivcModels::embedded().unwrap();
    for codec in CodecKind::ALL {
        if let Some(tool) = codec.missing_tool() {
            assert!(!tools_required(), "{} needs {tool}, which is not installed", codec.name());
            skipped(&format!("{}: `{tool}` not installed (Debian package {})", codec.name(), codec.package()));
            continue;
        }
        let qualities = codec.qualities(&livc);
        let (low, high) = (qualities[0], qualities[qualities.len() - 1]);
        let mut previous_bytes = 0;
        for q in [low, high] {
            let trial = codec.run(&livc, &source, &original, q, &dir.join(codec.name())).unwrap();
            assert_eq!((trial.decoded.width, trial.decoded.height), (71, 45), "{}", codec.name());
            assert!(trial.bytes > 0);
            let psnr = metrics::psnr_rgb(&original, &trial.decoded);
            assert!(psnr > 14.0, "{} q{q}: PSNR {psnr}", codec.name());
            if codec != CodecKind::Livc {
                // Each sweep runs from the smallest files to the largest.
                assert!(trial.bytes > previous_bytes, "{} q{q}: {} bytes", codec.name(), trial.bytes);
            }
            previous_bytes = trial.bytes;
        }
        // The top of every classical sweep is near-transparent on this image.
        if codec != CodecKind::Livc {
            let trial = codec.run(&livc, &source, &original, high, &dir.join(codec.name())).unwrap();
            let psnr = metrics::psnr_rgb(&original, &trial.decoded);
            assert!(psnr > 30.0, "{} q{high}: PSNR {psnr}", codec.name());
        }
    }
}

#[test]
fn a_sweep_writes_its_outputs_and_resumes_from_its_cache() {
    let dir = temp_dir("sweep");
    let dataset = dir.join("set");
    std::fs::create_dir_all(&dataset).unwrap();
    write_image(&dataset.join("a.png"), &photo_like(48, 40)).unwrap();
    write_image(&dataset.join("b.png"), &photo_like(33, 64)).unwrap();
    let jpeg_present = CodecKind::Jpeg444.missing_tool().is_none();
    let mut codecs = vec![CodecKind::Livc];
    if jpeg_present {
        codecs.push(CodecKind::Jpeg444);
    } else {
        assert!(!tools_required());
        skipped("the jpeg-444 part of the sweep: cjpeg not installed (libjpeg-turbo-progs)");
    }
    let out = dir.join("out");
    let settings = EvalSettings {
        dataset: dataset.clone(),
        codecs: codecs.clone(),
        out: out.clone(),
        jobs: 2,
        limit: None,
        manifest: None,
        reference: vec![],
        models: vec![],
        effort: 1,
        anchors: vec!["livc".into()],
        require_tools: true,
        progress: false,
    };
    let results = livc::eval::run(&settings).unwrap();
    assert_eq!(results.len(), codecs.len());
    let livc_results = &results[0];
    let qualities = CodecKind::Livc.qualities(&LivcModels::embedded().unwrap()).len();
    assert_eq!(livc_results.rows.len(), 2 * qualities);
    for row in &livc_results.rows {
        assert!((row.bpp - row.bytes as f64 * 8.0 / (row.width * row.height) as f64).abs() < 1e-12);
        assert_eq!(row.ms_ssim, None, "too small for MS-SSIM");
    }
    let first = &livc_results.averages[0];
    let rows_at: Vec<_> = livc_results.rows.iter().filter(|r| r.quality == first.quality).collect();
    let mean_bpp = rows_at.iter().map(|r| r.bpp).sum::<f64>() / rows_at.len() as f64;
    assert!((first.bpp - mean_bpp).abs() < 1e-12);
    for name in ["livc.json", "bd.json", "summary.md"] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("vs livc (measured)"));
    if livc::eval::plot::register_font().is_ok() {
        assert!(out.join("rd-psnr.png").is_file() && out.join("rd-psnr.svg").is_file());
    }

    // A rerun measures nothing: mark one cached row and see it come back.
    let cached = out.join(format!("cache/livc/a_q{}.json", first.quality));
    let mut row: Value = serde_json::from_slice(&std::fs::read(&cached).unwrap()).unwrap();
    row["encode_s"] = Value::from(12345.0);
    std::fs::write(&cached, serde_json::to_vec(&row).unwrap()).unwrap();
    let again = livc::eval::run(&settings).unwrap();
    assert!(again[0].rows.iter().any(|r| r.encode_s == 12345.0));

    // A fresh clone has the results files but not the cache: they seed it,
    // and again nothing is measured.
    std::fs::remove_dir_all(out.join("cache")).unwrap();
    let seeded = livc::eval::run(&settings).unwrap();
    assert!(seeded[0].rows.iter().any(|r| r.encode_s == 12345.0));

    // Its curves.json lets a later run compare against it: here a sweep of a
    // model file (every sixth quality of a variable-rate model), anchored on
    // this run's livc curve, keyed by the embedded models' names.
    let curves: Value = serde_json::from_slice(&std::fs::read(out.join("curves.json")).unwrap()).unwrap();
    let key = curves["curves"].as_object().unwrap().keys().find(|k| k.starts_with("livc")).unwrap().clone();
    let model = dir.join("tiny.safetensors");
    std::fs::write(&model, common::tiny_full_package_bytes()).unwrap();
    let other = EvalSettings {
        dataset: dataset.clone(),
        codecs: vec![CodecKind::Livc],
        out: dir.join("other"),
        jobs: 2,
        limit: None,
        manifest: None,
        reference: vec![out.join("curves.json")],
        models: vec![model],
        effort: 1,
        anchors: vec![key.clone()],
        require_tools: true,
        progress: false,
    };
    let tiny = livc::eval::run(&other).unwrap();
    assert_eq!(tiny[0].rows.len(), 2 * 6);
    let bd: Value = serde_json::from_slice(&std::fs::read(dir.join("other/bd.json")).unwrap()).unwrap();
    assert_eq!(bd[0]["anchor"], Value::from(key.clone()));
    assert!(std::fs::read_to_string(dir.join("other/summary.md")).unwrap().contains(&format!("vs {key} (reference)")));

    // A manifest that disagrees with the images stops the run.
    let manifest = dir.join("bad.sha256");
    std::fs::write(&manifest, format!("{}  a.png\n", "0".repeat(64))).unwrap();
    let err = livc::eval::run(&EvalSettings { manifest: Some(manifest), ..settings }).unwrap_err();
    assert!(format!("{err:#}").contains("does not match"), "{err:#}");
}

#[test]
fn per_rate_model_files_make_one_curve() {
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/previous");
    let (q1, q3) = (weights.join("livc-hp-q1.safetensors"), weights.join("livc-hp-q3.safetensors"));
    let curve = LivcModels::files(&[q3.clone(), q1.clone()]).unwrap();
    assert_eq!(CodecKind::Livc.qualities(&curve), vec![1, 3]);
    let twice = LivcModels::files(&[q1.clone(), q1.clone()]).err().unwrap();
    assert!(format!("{twice:#}").contains("two models for quality 1"), "{twice:#}");
    let variable = temp_dir("files").join("tiny.safetensors");
    std::fs::write(&variable, common::tiny_full_package_bytes()).unwrap();
    let mixed = LivcModels::files(&[q1, variable]).err().unwrap();
    assert!(format!("{mixed:#}").contains("variable-rate model"), "{mixed:#}");
}

#[test]
fn unknown_codec_names_are_refused() {
    assert!(CodecKind::parse_list("webp,nope").is_err());
    assert_eq!(
        CodecKind::parse_list("x265,webp").unwrap(),
        vec![CodecKind::X265_444, CodecKind::X265_420, CodecKind::Webp]
    );
}

/// `evaluation/reference/previous.txt` lists the previous default image
/// models that `rd_eval.sh` and `kodak_rd.sh` measure against (newest first;
/// `training/release.sh` adds to it): each has one curve per dataset beside
/// it, named after it, the newest is still a package in `weights/` (the
/// one `kodak_rd.sh` times), and the default itself is not among them.
#[test]
fn every_previous_default_has_its_curves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let list = std::fs::read_to_string(root.join("evaluation/reference/previous.txt")).unwrap();
    let names: Vec<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert!(!names.is_empty());
    assert!(!names.contains(&livc::model::embedded::DEFAULT_MODEL), "the default is listed as a previous one");
    assert!(root.join(format!("weights/{}.safetensors", names[0])).exists(), "{} has no package", names[0]);
    for name in &names {
        for set in ["kodak", "clic-valid"] {
            let path = root.join(format!("evaluation/reference/{name}-{set}.json"));
            let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let curves = json["curves"].as_object().unwrap();
            assert_eq!(curves.len(), 1, "{path:?}");
            let (key, curve) = curves.iter().next().unwrap();
            assert!(key.starts_with(name), "{path:?}: curve {key}");
            assert!(curve["points"].as_array().is_some_and(|p| p.len() >= 3), "{path:?}");
        }
    }
}
