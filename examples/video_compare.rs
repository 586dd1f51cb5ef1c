//! Two runs of `livc eval-video` compared codec by codec: per clip, the
//! BD-rate (YUV and RGB PSNR, pchip) of each codec in the second run against
//! the same codec in the first, where both measured it. Used to measure a
//! change of livc's P-frames against the committed results before it
//! (evaluation/video_previous.sh).
//!
//! `cargo run --example video_compare -- BEFORE.json AFTER.json`

use anyhow::{Context, Result};
use livc::eval::bdrate::{RdPoint, bd_quality, bd_rate};
use livc::eval::video::VideoPoint;

fn read(path: &str) -> Result<Vec<VideoPoint>> {
    serde_json::from_slice(&std::fs::read(path).with_context(|| format!("cannot read {path}"))?)
        .with_context(|| format!("{path} is not an eval-video result"))
}

fn curve(points: &[VideoPoint], clip: &str, codec: &str, rgb: bool) -> Vec<RdPoint> {
    let of = |p: &VideoPoint| RdPoint { bpp: p.bpp, quality: if rgb { p.psnr_rgb } else { p.psnr_yuv } };
    points.iter().filter(|p| p.clip == clip && p.codec == codec).map(of).collect()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [before, after] = args.as_slice() else { anyhow::bail!("usage: video_compare BEFORE.json AFTER.json") };
    let (before, after) = (read(before)?, read(after)?);
    println!("| clip | codec | frames | BD-rate YUV (BD-PSNR) | BD-rate RGB (BD-PSNR) | overlap |");
    println!("|---|---|---|---|---|---|");
    let mut pairs: Vec<(String, String, usize)> =
        after.iter().map(|p| (p.clip.clone(), p.codec.clone(), p.frames)).collect();
    pairs.dedup();
    for (clip, codec, frames) in pairs {
        if !before.iter().any(|p| p.clip == clip && p.codec == codec && p.frames == frames) {
            continue;
        }
        let cell = |rgb: bool| {
            let (a, t) = (curve(&before, &clip, &codec, rgb), curve(&after, &clip, &codec, rgb));
            match (bd_rate(&a, &t), bd_quality(&a, &t)) {
                (Some(r), Some(q)) => (format!("{:+.1} % ({:+.2} dB)", r.value, q.value), r.overlap),
                (Some(r), None) => (format!("{:+.1} %", r.value), r.overlap),
                _ => ("n/a".to_string(), 0.0),
            }
        };
        let ((yuv, overlap), (rgb, _)) = (cell(false), cell(true));
        println!("| {clip} | {codec} | {frames} | {yuv} | {rgb} | {:.0} % |", 100.0 * overlap);
    }
    Ok(())
}
