//! What the P-frame modules add on real clips (issue 19): each clip's first
//! frames coded with the embedded model and its temporal prior, at each
//! quality, then decoded twice — showing the refined latent (the default)
//! and the plain decoded one — against all-intra coding of the same frames.
//!
//! `cargo run --example temporal -- [--frames N] [--gop G] [-q Q,Q,...] CLIP...`
//! (evaluation/video_temporal.sh runs it). Prints a Markdown table per clip
//! and quality: bpp of P-frame coding and of all-intra coding, the share of
//! inter tiles, mean RGB PSNR of the P-frames' decode with and without the
//! refinement, and flicker (standard deviation of per-frame PSNR) of each.

use anyhow::{Context, Result};
use livc::Backend;
use livc::bitstream::clip::FrameRecord;
use livc::codec::Codec;
use livc::codec::video::{VideoDecoder, VideoEncoder};
use livc::eval::metrics::psnr_rgb;
use livc::io::RgbImage;
use livc::io::video::ClipReader;

fn option<T: std::str::FromStr>(args: &mut Vec<String>, name: &str, default: T) -> Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            let v =
                args.get(i + 1).context("option needs a value")?.parse().map_err(|_| anyhow::anyhow!("bad {name}"))?;
            args.drain(i..i + 2);
            Ok(v)
        }
        None => Ok(default),
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt())
}

/// Bits of every frame and the decoded frames (refined and not) at `gop`.
fn code(codec: &Codec, frames: &[RgbImage], info: &livc::io::video::ClipInfo, gop: u32) -> Result<Coded> {
    let mut encoder = VideoEncoder::new(codec, info, gop, livc::codec::DEFAULT_TILE)?;
    let (mut records, mut bits, mut inter, mut tiles) = (vec![], 0usize, 0, 0);
    for f in frames {
        let coded = encoder.encode_frame(f, false)?;
        bits += coded.payload.len() * 8;
        inter += coded.inter_tiles;
        tiles += coded.tiles;
        records.push(FrameRecord { kind: coded.kind, payload: coded.payload });
    }
    let header = encoder.header().clone();
    let decode = |refine: bool| -> Result<Vec<f64>> {
        let mut decoder = VideoDecoder::new(codec, header.clone())?;
        if !refine {
            decoder = decoder.without_refinement();
        }
        records.iter().zip(frames).map(|(r, f)| Ok(psnr_rgb(f, &decoder.decode_frame(r)?))).collect()
    };
    Ok(Coded { bits, inter_share: inter as f64 / tiles as f64, refined: decode(true)?, plain: decode(false)? })
}

struct Coded {
    bits: usize,
    inter_share: f64,
    refined: Vec<f64>,
    plain: Vec<f64>,
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let frames_wanted: usize = option(&mut args, "--frames", 12)?;
    let gop: u32 = option(&mut args, "--gop", 32)?;
    let qualities: String = option(&mut args, "-q", "0,30,60,90".to_string())?;
    let package = livc::model::embedded::clip_model()?;
    let temporal = livc::model::embedded::temporal_for(&package)?.context("this build embeds no temporal prior")?;
    println!(
        "temporal prior {} ({}); GOP {gop}, first {frames_wanted} frames",
        temporal.info.name, temporal.info.trained
    );
    println!();
    println!(
        "| clip | q | P bpp | intra bpp | inter tiles | P dB refined | P dB plain | intra dB | flicker refined / plain / intra (dB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for path in &args {
        let mut reader = ClipReader::open(std::path::Path::new(path))?;
        let info = reader.info();
        let mut frames = Vec::new();
        while frames.len() < frames_wanted {
            match reader.next_frame()? {
                Some(f) => frames.push(f),
                None => break,
            }
        }
        let pixels = (info.width * info.height) as f64 * frames.len() as f64;
        let name = std::path::Path::new(path).file_stem().unwrap().to_string_lossy().into_owned();
        for q in qualities.split(',') {
            let q: u8 = q.parse()?;
            let codec = Codec::new(package.clone(), Backend::Cpu)?.with_temporal(temporal.clone())?.at_quality(q)?;
            let p = code(&codec, &frames, &info, gop)?;
            let intra = code(&codec, &frames, &info, 1)?;
            // The P-frames only (frame 0 is the same I-frame in both).
            let (pr, pp, pi) = (mean_std(&p.refined[1..]), mean_std(&p.plain[1..]), mean_std(&intra.refined[1..]));
            println!(
                "| {name} | {q} | {:.4} | {:.4} | {:.0} % | {:.2} | {:.2} | {:.2} | {:.2} / {:.2} / {:.2} |",
                p.bits as f64 / pixels,
                intra.bits as f64 / pixels,
                100.0 * p.inter_share,
                pr.0,
                pp.0,
                pi.0,
                pr.1,
                pp.1,
                pi.1
            );
        }
    }
    Ok(())
}
