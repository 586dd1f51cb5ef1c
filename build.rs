//! Embeds every model package in weights/ into the binary, so that
//! `livc encode`/`decode` work with no downloads and no flags.

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=weights");
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("weights");
    let files = safetensors_in(&dir);
    let mut code = embed(
        "EMBEDDED",
        "The image model packages of weights/: (file name, safetensors bytes), by file name.",
        &files,
    );
    // The P-frame modules trained for those models (src/model/temporal.rs).
    println!("cargo:rerun-if-changed=weights/temporal");
    code += &embed(
        "EMBEDDED_TEMPORAL",
        "The temporal packages of weights/temporal/: (file name, safetensors bytes), by file name.",
        &safetensors_in(&dir.join("temporal")),
    );
    // The VQ codebook mode's packages (src/model/vq.rs).
    println!("cargo:rerun-if-changed=weights/vq");
    code += &embed(
        "EMBEDDED_VQ",
        "The VQ packages of weights/vq/: (file name, safetensors bytes), by file name.",
        &safetensors_in(&dir.join("vq")),
    );
    fs::write(PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded_models.rs"), code).unwrap();
}

fn safetensors_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "safetensors"));
    files.sort();
    files
}

/// `pub static {name}`, documented with `doc`, holding every file's name and bytes.
fn embed(name: &str, doc: &str, files: &[PathBuf]) -> String {
    let mut code = format!("/// {doc}\npub static {name}: &[(&str, &[u8])] = &[\n");
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy();
        code += &format!("    ({name:?}, include_bytes!({:?})),\n", f.display().to_string());
    }
    code + "];\n"
}
