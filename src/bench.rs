//! `livc bench`: encode/decode time, rate, PSNR and coder overhead per image,
//! plus the rANS coder's own throughput on the model's real tables.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

use crate::codec::{Codec, DEFAULT_TILE};
use crate::entropy::{LaneDecoder, LaneEncoder};

#[derive(Serialize)]
struct ImageResult {
    name: String,
    width: usize,
    height: usize,
    bytes: usize,
    bpp: f64,
    psnr: f64,
    encode_s: f64,
    decode_s: f64,
    coder_overhead: f64,
    /// Multiply-accumulates per pixel of the networks (see model::cost).
    encode_macs: f64,
    decode_macs: f64,
}

/// Encodes and decodes the first `limit` images of `dataset` (all without
/// it) with `codec`: bpp, PSNR (dB), seconds per encode and decode, the
/// coder's overhead, MACs per pixel, and the coder's throughput (symbols/s)
/// on the CPU and on any GPU; prints a table, and with `json` = (path,
/// replace) also writes it there (atomically; an existing file only when
/// replace is set). Errors: an unreadable dataset or image, a codec error,
/// an unwritable output.
pub fn run(codec: &Codec, dataset: &Path, limit: Option<usize>, json: Option<(&Path, bool)>) -> Result<()> {
    let mut paths: Vec<_> = std::fs::read_dir(dataset)
        .with_context(|| format!("cannot read the image folder {}", dataset.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| crate::io::is_image_path(p))
        .collect();
    paths.sort();
    paths.truncate(limit.unwrap_or(usize::MAX));
    // One untimed run first, so one-off start-up costs stay out of the numbers.
    if let Some(first) = paths.first() {
        let img = crate::io::read_image(first)?;
        codec.decode_image(&codec.encode_image(&img, DEFAULT_TILE, false)?.bytes, false)?;
    }
    let mut results = Vec::new();
    println!("{:<14} {:>8} {:>8} {:>9} {:>9} {:>9}", "image", "bpp", "PSNR", "encode s", "decode s", "overhead");
    for path in &paths {
        let img = crate::io::read_image(path)?;
        let t = Instant::now();
        let enc = codec.encode_image(&img, DEFAULT_TILE, false)?;
        let encode_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let dec = codec.decode_image(&enc.bytes, false)?;
        let decode_s = t.elapsed().as_secs_f64();
        let macs = codec.package.info.config.macs_per_pixel(img.width.min(DEFAULT_TILE as usize));
        let r = ImageResult {
            name: path.file_name().unwrap().to_string_lossy().into(),
            width: img.width,
            height: img.height,
            bytes: enc.bytes.len(),
            bpp: enc.bytes.len() as f64 * 8.0 / (img.width * img.height) as f64,
            psnr: crate::io::psnr(&img, &dec),
            encode_s,
            decode_s,
            coder_overhead: enc.lane_bits / enc.ideal_bits - 1.0,
            encode_macs: macs.encode,
            decode_macs: macs.decode,
        };
        println!(
            "{:<14} {:>8.4} {:>8.2} {:>9.3} {:>9.3} {:>8.3}%",
            r.name,
            r.bpp,
            r.psnr,
            r.encode_s,
            r.decode_s,
            r.coder_overhead * 100.0
        );
        results.push(r);
    }
    let n = results.len().max(1) as f64;
    let mean = |f: &dyn Fn(&ImageResult) -> f64| results.iter().map(f).sum::<f64>() / n;
    // `--limit 0` times the coder alone.
    if !results.is_empty() {
        println!(
            "{:<14} {:>8.4} {:>8.2} {:>9.3} {:>9.3} {:>8.3}%",
            "mean",
            mean(&|r| r.bpp),
            mean(&|r| r.psnr),
            mean(&|r| r.encode_s),
            mean(&|r| r.decode_s),
            mean(&|r| r.coder_overhead) * 100.0
        );
        println!(
            "networks: {:.1} kMAC/pixel to encode, {:.1} kMAC/pixel to decode",
            mean(&|r| r.encode_macs) / 1e3,
            mean(&|r| r.decode_macs) / 1e3
        );
    }
    let (enc_rate, dec_rate) = coder_throughput(codec);
    println!(
        "rANS coder on this model's tables: encode {:.1} M symbols/s, decode {:.1} M symbols/s",
        enc_rate / 1e6,
        dec_rate / 1e6
    );
    let gpu_rates = if codec.backend() == crate::Backend::Wgpu { gpu_coder_throughput(codec)? } else { Vec::new() };
    for (adapter, lanes, enc, dec) in &gpu_rates {
        println!(
            "WGSL rANS coder on {adapter}, {lanes} lanes (uploads and read-backs included): encode {:.1} M symbols/s ({:.2}× the CPU), decode {:.1} M symbols/s ({:.2}× the CPU)",
            enc / 1e6,
            enc / enc_rate,
            dec / 1e6,
            dec / dec_rate
        );
    }
    if let Some((path, force)) = json {
        let (quality, lambda) = codec.quality();
        let summary = serde_json::json!({
            "model": codec.package.info.name, "quality": quality, "lambda": lambda, "n": codec.package.info.config.n, "m": codec.package.info.config.m,
            "images": results,
            "mean": { "bpp": mean(&|r| r.bpp), "psnr": mean(&|r| r.psnr), "encode_s": mean(&|r| r.encode_s),
                      "decode_s": mean(&|r| r.decode_s), "coder_overhead": mean(&|r| r.coder_overhead),
                      "encode_macs_per_pixel": mean(&|r| r.encode_macs), "decode_macs_per_pixel": mean(&|r| r.decode_macs) },
            "coder_symbols_per_s": { "encode": enc_rate, "decode": dec_rate },
            "gpu_coder_symbols_per_s": gpu_rates.iter().map(|(adapter, lanes, e, d)| serde_json::json!({
                "adapter": adapter, "lanes": lanes, "encode": e, "decode": d })).collect::<Vec<_>>(),
        });
        crate::io::write_file(path, serde_json::to_string_pretty(&summary)?.as_bytes(), force)?;
    }
    Ok(())
}

const BENCH_SYMBOLS: usize = 1 << 21;

/// 2M (table, value) pairs drawn across the model's scale tables.
fn bench_symbols(codec: &Codec) -> Vec<(usize, i32)> {
    let tables = &codec.package.scale_tables;
    let n = BENCH_SYMBOLS;
    let mut state = 0x1234_5678_u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    (0..n)
        .map(|_| {
            let level = (next() % 24) as usize;
            let t = &tables[level];
            // A value near the table's centre, roughly following its spread.
            let spread = ((t.cdf.len() - 2) / 6).max(1) as i32;
            (level, (next() % (2 * spread as u32 + 1)) as i32 - spread)
        })
        .collect()
}

/// Symbols per second through the CPU's laned coder (64 lanes, the most the
/// codec gives one stream).
fn coder_throughput(codec: &Codec) -> (f64, f64) {
    let tables = &codec.package.scale_tables;
    let symbols = bench_symbols(codec);
    let n = symbols.len();
    let lanes = 64;
    let t = Instant::now();
    let mut enc = LaneEncoder::new(lanes);
    for &(level, v) in &symbols {
        let lane = enc.begin_symbol();
        tables[level].encode(&mut enc, lane, v);
    }
    let streams = enc.finish();
    let enc_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut dec = LaneDecoder::new(streams.iter().map(|s| s.as_slice()).collect()).unwrap();
    for &(level, v) in &symbols {
        let lane = dec.begin_symbol();
        assert_eq!(tables[level].decode(&mut dec, lane).unwrap(), v);
    }
    let dec_s = t.elapsed().as_secs_f64();
    (n as f64 / enc_s, n as f64 / dec_s)
}

/// The WGSL coder on the same symbols: with the codec's largest lane count and with
/// 4096 lanes (the format's maximum, where a GPU has work for every core).
/// Checks the bytes against the CPU coder's while at it.
fn gpu_coder_throughput(codec: &Codec) -> Result<Vec<(String, usize, f64, f64)>> {
    use crate::gpu::Gpu;
    use crate::gpu::rans::{GpuCoder, GpuTables};
    let gpu = Gpu::new(true)?;
    let coder = GpuCoder::new(&gpu);
    let tables = GpuTables::new(&gpu, &codec.package.scale_tables);
    let symbols = bench_symbols(codec);
    let values: Vec<i32> = symbols.iter().map(|s| s.1).collect();
    let table_of: Vec<u32> = symbols.iter().map(|s| s.0 as u32).collect();
    let mut out = Vec::new();
    for lanes in [64, 4096] {
        coder.encode(&gpu, &tables, &values, &table_of, lanes)?; // warm-up: pipelines, allocations
        let t = Instant::now();
        let streams = coder.encode(&gpu, &tables, &values, &table_of, lanes)?;
        let enc_s = t.elapsed().as_secs_f64();
        let refs: Vec<&[u8]> = streams.iter().map(|s| s.as_slice()).collect();
        let t = Instant::now();
        let decoded = coder.decode(&gpu, &tables, &refs, &table_of)?;
        let dec_s = t.elapsed().as_secs_f64();
        anyhow::ensure!(decoded == values, "the WGSL coder did not round-trip");
        let mut cpu = LaneEncoder::new(lanes);
        for &(level, v) in &symbols {
            let lane = cpu.begin_symbol();
            codec.package.scale_tables[level].encode(&mut cpu, lane, v);
        }
        anyhow::ensure!(cpu.finish() == streams, "the WGSL coder's bytes differ from the CPU coder's");
        let n = symbols.len() as f64;
        out.push((gpu.adapter.name.clone(), lanes, n / enc_s, n / dec_s));
    }
    Ok(out)
}
