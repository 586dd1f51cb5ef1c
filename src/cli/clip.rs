//! The command line's clip paths: `encode`, `decode` and `info` for videos.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufWriter, Read, Seek, Write};
use std::path::Path;
use std::time::Instant;

use livc::bitstream::clip::{ClipReader as ClipRecords, FrameKind};
use livc::codec::Codec;
use livc::codec::video::{self, VideoDecoder, VideoEncoder};
use livc::io::video::{ClipReader, ClipWriter};
use livc::model::package::hex;

/// Extensions read as clips (anything FFmpeg reads is accepted by content;
/// these decide image or clip for a named input).
const CLIP_EXTENSIONS: &[&str] = &[
    "y4m", "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "mpg", "mpeg", "flv", "ogv", "nut", "ivf",
    "3gp", "3g2", "wmv", "asf", "mxf", "vob", "m2v", "dv", "f4v", "h264", "264", "hevc", "265",
];

pub fn is_clip_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| CLIP_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// What to encode.
pub struct EncodeClip<'a> {
    pub source: ClipReader,
    pub output: &'a Path,
    pub codec: &'a Codec,
    pub gop: u32,
    pub tile: u32,
    pub start: u64,
    pub frames: Option<u64>,
    pub force: bool,
    pub quiet: bool,
}

pub fn encode(a: EncodeClip) -> Result<()> {
    let EncodeClip { mut source, output, codec, gop, tile, start, frames, force, quiet } = a;
    source.skip(start)?;
    let info = source.info();
    let mut encoder = VideoEncoder::new(codec, &info, gop, tile)?;
    let expected = match (info.frames.map(|n| n.saturating_sub(start)), frames) {
        (Some(n), Some(f)) => Some(n.min(f)),
        (n, f) => f.or(n),
    };
    let bar = progress(expected, quiet, "encoding");
    let started = Instant::now();
    let (mut counts, mut bytes) = ([0u32; 2], 0u64);
    let mut taken = 0u64;
    let mut next = || -> Result<_> {
        if frames.is_some_and(|f| taken >= f) {
            return Ok(None);
        }
        taken += 1;
        source.next_frame()
    };
    // The header and the end record, then each frame's record.
    bytes += encoder.header().to_bytes().len() as u64 + 9;
    let mut report = |r: video::FrameReport| {
        counts[(r.coded.kind == FrameKind::Inter) as usize] += 1;
        bytes += r.coded.payload.len() as u64 + 9;
        bar.inc(1);
    };
    let header = if output == Path::new("-") {
        let mut out = BufWriter::new(std::io::stdout().lock());
        let header = video::encode_clip(&mut encoder, &mut next, &mut out, false, &mut report)?;
        out.flush().context("cannot write standard output")?;
        header
    } else {
        let mut file = livc::io::OutputFile::create(output)?;
        let mut out = BufWriter::new(file.file());
        let header = video::encode_clip(&mut encoder, &mut next, &mut out, false, &mut report)?;
        out.flush().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
        drop(out);
        // The frame count, now known, into the header.
        let f = file.file();
        f.rewind().and_then(|()| f.write_all(&header.to_bytes())).map_err(|e| file.failed(e))?;
        file.commit(force)?;
        header
    };
    bar.finish_and_clear();
    if let Some(warning) = source.truncation() {
        eprintln!("livc: {warning}");
    }
    if !quiet {
        let seconds = started.elapsed().as_secs_f64();
        let n = header.frames.max(1) as f64;
        let kbps = bytes as f64 * 8.0 / 1000.0 / (n / video::frame_rate_of(&header).fps());
        let bpp = bytes as f64 * 8.0 / (n * header.width as f64 * header.height as f64);
        eprintln!(
            "{} {}×{} at {} fps → {bytes} bytes ({} I, {} P), {bpp:.4} bpp, {kbps:.1} kbit/s; {:.2} s, {:.2} frames/s",
            frames_text(header.frames as u64),
            header.width,
            header.height,
            video::frame_rate_of(&header),
            counts[0],
            counts[1],
            seconds,
            header.frames as f64 / seconds
        );
    }
    Ok(())
}

/// Decodes the clip `input` (its magic already checked) to `output`.
pub fn decode(
    input: impl Read,
    output: &Path,
    codec_for: impl FnOnce(&str, &[u8; 8]) -> Result<Codec>,
    force: bool,
    quiet: bool,
) -> Result<()> {
    let (header, mut records) = ClipRecords::open(input)?;
    let codec = codec_for(&header.model_name, &header.model_hash)?;
    let mut decoder = VideoDecoder::new(&codec, header.clone())?;
    let mut writer = ClipWriter::create(
        output,
        header.width,
        header.height,
        video::frame_rate_of(&header),
        video::colour_of(&header),
    )?;
    let bar = progress((header.frames > 0).then_some(header.frames as u64), quiet, "decoding");
    let started = Instant::now();
    let mut count = 0u32;
    while let Some(record) = records.next_frame()? {
        let frame = decoder.decode_frame(&record).with_context(|| format!("frame {count}"))?;
        writer.write(&frame)?;
        count += 1;
        bar.inc(1);
    }
    writer.finish(force)?;
    bar.finish_and_clear();
    if !quiet {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{} {}×{} decoded in {seconds:.2} s, {:.2} frames/s",
            frames_text(count as u64),
            header.width,
            header.height,
            count as f64 / seconds
        );
    }
    Ok(())
}

/// Prints a clip's header and its frames' types and sizes.
pub fn info(input: impl Read, total_bytes: Option<u64>, json: bool) -> Result<()> {
    let (h, mut records) = ClipRecords::open(input)?;
    let mut frames = Vec::new();
    while let Some(r) = records.next_frame()? {
        frames.push((r.kind, r.payload.len()));
    }
    let structure: String = frames.iter().map(|(k, _)| k.letter()).collect();
    // Header, records (type, length, CRC: 9 bytes each besides the payload), end record.
    let counted = h.to_bytes().len() as u64 + frames.iter().map(|f| f.1 as u64 + 9).sum::<u64>() + 9;
    let bytes = total_bytes.unwrap_or(counted);
    let n = frames.len().max(1) as f64;
    let rate = video::frame_rate_of(&h);
    let kbps = bytes as f64 * 8.0 / 1000.0 / (n / rate.fps());
    let colour = video::colour_of(&h);
    if json {
        let value = serde_json::json!({
            "kind": "clip",
            "width": h.width, "height": h.height,
            "frame_rate": [h.rate_num, h.rate_den], "frames": frames.len(),
            "gop": h.gop, "quality": h.quality, "tile": h.tile,
            "colour": colour.to_string(),
            "model": h.model_name, "model_hash": hex(&h.model_hash),
            "temporal_prior_hash": (h.temporal_hash != [0; 8]).then(|| hex(&h.temporal_hash)),
            "encoded_with": format!("{:?}", h.producer).to_lowercase(),
            "bytes": bytes, "kbit_per_s": kbps,
            "frame_types": structure,
            "frame_bytes": frames.iter().map(|f| f.1).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("livc clip v{}", livc::bitstream::clip::CLIP_VERSION);
    println!("size         {}×{}, {} at {rate} fps", h.width, h.height, frames_text(frames.len() as u64));
    println!("quality      {}", h.quality);
    match h.gop {
        1 => println!("GOP          all-intra (every frame an I-frame)"),
        n => println!("GOP          I-frame every {n} frames"),
    }
    println!("colour       {colour} (YUV output)");
    println!("model        {} ({})", h.model_name, hex(&h.model_hash));
    if h.temporal_hash != [0; 8] {
        println!("P-frames     temporal prior {}", hex(&h.temporal_hash));
    }
    println!("encoded with {} backend (decodable with any)", format!("{:?}", h.producer).to_lowercase());
    println!("bytes        {bytes} ({kbps:.1} kbit/s)");
    println!("frames       type bytes");
    for (i, (kind, len)) in frames.iter().enumerate() {
        println!("{i:>12} {}   {len}", kind.letter());
    }
    Ok(())
}

fn progress(len: Option<u64>, quiet: bool, what: &'static str) -> ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = |template: &str| {
        ProgressStyle::with_template(template)
            .unwrap()
            .with_key("fps", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                write!(w, "{:.1} fps", s.per_sec()).unwrap()
            })
    };
    let bar = match len {
        Some(n) => ProgressBar::new(n).with_style(style("{msg} {bar:30} {pos}/{len} frames {fps} eta {eta}")),
        None => ProgressBar::no_length().with_style(style("{msg} {pos} frames {fps} {elapsed}")),
    };
    bar.with_message(what)
}

/// Refuses --gop/--frames/--start/--temporal for images.
pub fn refuse_clip_options(
    gop: Option<u32>,
    frames: Option<u64>,
    start: Option<u64>,
    temporal: Option<&Path>,
) -> Result<()> {
    if gop.is_some() || frames.is_some() || start.is_some() || temporal.is_some() {
        bail!("--gop, --frames, --start and --temporal apply to clips; the input is an image");
    }
    Ok(())
}

/// "1 frame", "8 frames".
fn frames_text(n: u64) -> String {
    if n == 1 { "1 frame".into() } else { format!("{n} frames") }
}
