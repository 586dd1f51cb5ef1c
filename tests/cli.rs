//! The command line: exit codes, messages, --force, stdin/stdout, info --json.

mod common;

use common::{scratch, stderr};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn livc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livc")).args(args).output().unwrap()
}

fn p(dir: &Path, f: &str) -> String {
    dir.join(f).to_string_lossy().into_owned()
}

/// Clean failure: exit status 1 with a message, never a panic (status 101).
fn assert_clean_failure(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(o));
    assert!(stderr(o).contains(needle), "expected {needle:?} in: {}", stderr(o));
    assert!(!stderr(o).contains("panicked"));
}

#[test]
fn encode_decode_info_and_overwrite_protection() {
    let d = scratch("cli-roundtrip");
    let model = p(&d, "tiny.safetensors");
    let o = livc(&["encode", &p(&d, "in.png"), "-o", &p(&d, "a.livc"), "--model", &model]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("bpp"));

    // Existing output without --force: refused, file untouched.
    let before = std::fs::read(d.join("a.livc")).unwrap();
    let o = livc(&["encode", &p(&d, "in.png"), "-o", &p(&d, "a.livc"), "--model", &model]);
    assert_clean_failure(&o, "--force");
    assert_eq!(std::fs::read(d.join("a.livc")).unwrap(), before);

    let o = livc(&["decode", &p(&d, "a.livc"), "-o", &p(&d, "out.png"), "--model", &model]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = livc::io::read_image(&d.join("out.png")).unwrap();
    assert_eq!((out.width, out.height), (33, 20));

    let o = livc(&["info", &p(&d, "a.livc"), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["width"], 33);
    assert_eq!(info["model"], "tiny-test");
    assert_eq!(info["encoded_with"], "cpu");
}

#[test]
fn standard_input_and_output() {
    let d = scratch("cli-stdio");
    let png = std::fs::read(d.join("in.png")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_livc"))
        .args(["encode", "-", "-o", "-", "--model", &p(&d, "tiny.safetensors"), "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&png).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(&o.stdout[..4], b"LIVC");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let d = scratch("cli-bad");
    let model = p(&d, "tiny.safetensors");
    std::fs::write(d.join("empty.livc"), b"").unwrap();
    assert_clean_failure(
        &livc(&["decode", &p(&d, "empty.livc"), "-o", &p(&d, "x.png"), "--model", &model]),
        "the file is empty",
    );
    std::fs::write(d.join("junk.livc"), b"LIVC\x01 some junk bytes here").unwrap();
    assert_clean_failure(&livc(&["decode", &p(&d, "junk.livc"), "-o", &p(&d, "x.png"), "--model", &model]), "corrupt");
    std::fs::write(d.join("not-an-image.png"), b"hello").unwrap();
    assert_clean_failure(
        &livc(&["encode", &p(&d, "not-an-image.png"), "-o", &p(&d, "x.livc"), "--model", &model]),
        "cannot decode image",
    );
    assert_clean_failure(
        &livc(&["encode", &p(&d, "missing.png"), "-o", &p(&d, "x.livc"), "--model", &model]),
        "cannot read",
    );
    assert_clean_failure(
        &livc(&["decode", &p(&d, "x.livc"), "-o", &p(&d, "x.png"), "--model", &p(&d, "in.png")]),
        "cannot read",
    );

    // A file whose model this build does not embed names the model.
    let o = livc(&["encode", &p(&d, "in.png"), "-o", &p(&d, "t.livc"), "--model", &model]);
    assert!(o.status.success());
    let o = livc(&["decode", &p(&d, "t.livc"), "-o", &p(&d, "t.png")]);
    assert_clean_failure(&o, "tiny-test");
    assert_clean_failure(&o, "weights/previous/");
}

/// `livc --version` names the embedded default image model.
#[test]
fn version_names_the_default_model() {
    let o = livc(&["--version"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(livc::model::embedded::DEFAULT_MODEL), "{out}");
}

/// `--backend wgpu` with no hardware GPU says, before any work, that it runs
/// on a software driver (and is silent when a GPU is there). The input is a
/// corrupt livc file, so the command fails at once after the note, whatever
/// the driver.
#[test]
fn wgpu_without_a_gpu_says_so_first() {
    let d = scratch("cli-wgpu-note");
    std::fs::write(d.join("junk.livc"), b"LIVC\x01 some junk bytes here").unwrap();
    let o = livc(&["decode", &p(&d, "junk.livc"), "-o", &p(&d, "x.png"), "--backend", "wgpu"]);
    assert_clean_failure(&o, "corrupt");
    let noted = stderr(&o).contains("runs on a software driver");
    assert_eq!(noted, livc::gpu::Gpu::only_software(), "stderr: {}", stderr(&o));
    let o = livc(&["decode", &p(&d, "junk.livc"), "-o", &p(&d, "x.png"), "--backend", "cpu"]);
    assert!(!stderr(&o).contains("software driver"), "stderr: {}", stderr(&o));
}
