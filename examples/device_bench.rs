//! `livc bench` on each backend (cpu, then wgpu) in one process, for the
//! device machine (training/gpu_slice.sh): per-image encode/decode seconds,
//! bpp and PSNR (dB), and the rANS coder's throughput, CPU and WGSL.
//!
//! It exists beside the CLI because the CLI links the system FFmpeg
//! libraries (video I/O), which the device machine does not have; this
//! binary calls only the image path, so the linker (`--as-needed`) leaves
//! them out. The model comes from a file rather than the embedded set, which
//! keeps the binary small enough to carry.
//!
//! usage: device_bench MODEL.safetensors IMAGE_DIR [QUALITY 0..=100]

use anyhow::{Context, Result};
use livc::Backend;
use livc::codec::Codec;
use livc::model::package::Package;
use std::path::PathBuf;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, dataset) = match &args[..] {
        [m, d, ..] => (PathBuf::from(m), PathBuf::from(d)),
        _ => anyhow::bail!("usage: device_bench MODEL.safetensors IMAGE_DIR [QUALITY]"),
    };
    let quality = args.get(2).map(|q| q.parse::<u8>().context("QUALITY is 0..=100")).transpose()?;
    for backend in [Backend::Cpu, Backend::Wgpu] {
        println!("## --backend {backend:?}");
        let codec = Codec::new(Package::read(&model)?, backend)?;
        let codec = match quality {
            Some(q) => codec.at_quality(q)?,
            None => codec,
        };
        livc::bench::run(&codec, &dataset, None, None)?;
    }
    Ok(())
}
