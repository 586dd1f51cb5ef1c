//! `livc eval-video`: livc's P-frames and all-intra against x264 and x265 on
//! clips, all low-delay (no B-frames) with the same intra period and frame
//! count, every codec through its command line (livc's own binary, FFmpeg's
//! libx264/libx265).
//!
//! Per clip the first N frames are decoded once to raw Y4M (YUV 4:2:0): that
//! is the source every codec gets and every decode is compared with. Per
//! frame: YUV PSNR (6·Y + U + V)/8 on the 4:2:0 planes, RGB PSNR and
//! MS-SSIM on both sides converted to RGB by the same FFmpeg path (the
//! clip's matrix, BT.709 when untagged); averaged over frames. Bytes are
//! whole files: livc's clip container, x264/x265's raw elementary streams.
//! "Flicker" is the standard deviation of the per-frame YUV PSNR. The
//! metrics read the source and each decode one frame at a time, so memory
//! does not grow with `--frames`.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::bdrate::{RdPoint, bd_quality, bd_rate};
use super::metrics::{ms_ssim, psnr_rgb};
use crate::io::video::{ClipReader, Y4mHeader};
use crate::model::package::hex;

/// What to measure.
pub struct VideoEvalSettings {
    /// Clip files.
    pub clips: Vec<PathBuf>,
    /// Frames per clip (from the first).
    pub frames: usize,
    /// Intra period for every codec.
    pub gop: u32,
    /// livc's -q values and x264/x265's CRF values.
    pub qualities: Vec<u8>,
    /// x264/x265's CRF values.
    pub crfs: Vec<u8>,
    /// The codecs to run.
    pub codecs: Vec<VideoCodec>,
    /// Output folder: `video.json`, `summary.md`, plots and `work/` files.
    pub out: PathBuf,
    /// livc's backend (cpu or wgpu).
    pub backend: crate::Backend,
}

/// A video codec configuration `livc eval-video` runs (all low-delay, no
/// B-frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum VideoCodec {
    /// livc with P-frames.
    Livc,
    /// livc, every frame an I-frame.
    LivcIntra,
    /// x264 -preset veryslow.
    X264,
    /// x264 -preset medium -tune zerolatency.
    X264Fast,
    /// x265 -preset veryslow.
    X265,
}

impl VideoCodec {
    /// The codec's name in results and file names (e.g. `x264-veryslow`).
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Livc => "livc",
            VideoCodec::LivcIntra => "livc-intra",
            VideoCodec::X264 => "x264-veryslow",
            VideoCodec::X264Fast => "x264-medium-zerolatency",
            VideoCodec::X265 => "x265-veryslow",
        }
    }

    fn is_livc(self) -> bool {
        matches!(self, VideoCodec::Livc | VideoCodec::LivcIntra)
    }
}

/// What makes `codec`'s points, recorded with each: for livc, the version,
/// the clip model and temporal prior this binary embeds (names and hashes)
/// and the encoder's quantiser; for x264/x265, FFmpeg's version line. New
/// weights, a new quantiser or another FFmpeg invalidate cached points, as
/// `livc eval`'s records do for images.
///
/// # Errors
/// If the embedded models cannot be read.
pub fn codec_version(codec: VideoCodec) -> Result<String> {
    if !codec.is_livc() {
        return Ok(super::codecs::tool_version("ffmpeg", "-version"));
    }
    let model = crate::model::embedded::clip_model()?;
    let temporal = crate::model::embedded::temporal_for(&model)?.map_or("none".into(), |t| hex(&t.hash));
    Ok(format!(
        "livc {} ({} {}, temporal prior {temporal}), {}",
        env!("CARGO_PKG_VERSION"),
        model.info.name,
        hex(&model.hash),
        crate::codec::rdoq::describe()
    ))
}

/// One codec at one quality on one clip.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct VideoPoint {
    /// The clip's file stem.
    pub clip: String,
    /// [`VideoCodec::name`].
    pub codec: String,
    /// livc's -q or the CRF.
    pub quality: u8,
    /// Frames coded.
    pub frames: usize,
    /// Frame size in pixels.
    pub width: usize,
    pub height: usize,
    /// Size of the whole coded file (livc's clip container, or the raw
    /// elementary stream).
    pub bytes: u64,
    /// Bits per pixel per frame, and kbit/s at the clip's frame rate.
    pub bpp: f64,
    pub kbps: f64,
    /// Means over frames, dB.
    pub psnr_yuv: f64,
    pub psnr_rgb: f64,
    /// Mean MS-SSIM over frames (RGB); absent below 161 pixels a side.
    pub ms_ssim: Option<f64>,
    /// Standard deviation of the per-frame YUV PSNR, dB.
    pub flicker: f64,
    /// Frames per second of wall-clock encoding (the command line, process
    /// start included).
    pub encode_fps: f64,
    /// Frames per second of wall-clock decoding, likewise.
    pub decode_fps: f64,
    /// Per frame, the YUV PSNR (6·Y + U + V)/8 on the 4:2:0 planes, dB.
    pub frame_psnr_yuv: Vec<f64>,
    /// What made the point ([`codec_version`]); a cached point whose version
    /// differs from the current one is measured again (points saved before
    /// this field have none, so they are too).
    #[serde(default)]
    pub version: String,
}

/// The YUV 4:2:0 frames of a Y4M file (planes Y, U, V), read one at a time.
struct Y4mFrames {
    input: std::io::BufReader<std::fs::File>,
    width: usize,
    height: usize,
    /// Bytes of a frame's planes.
    frame_bytes: usize,
    path: PathBuf,
}

impl Y4mFrames {
    /// Errors: an unreadable file, not a Y4M stream, chroma other than 8-bit 4:2:0.
    fn open(path: &Path) -> Result<Self> {
        use std::io::BufRead;
        let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut input = std::io::BufReader::new(file);
        let mut header = Vec::new();
        input.read_until(b'\n', &mut header)?;
        let header = Y4mHeader::parse(&header).with_context(|| format!("{} is not a Y4M file", path.display()))?;
        if let Some(c) =
            header.chroma.as_ref().filter(|c| !matches!(c.as_str(), "420" | "420jpeg" | "420mpeg2" | "420paldv"))
        {
            bail!("{}: chroma {c}, not 8-bit 4:2:0", path.display());
        }
        let (Some(width @ 1..), Some(height @ 1..), Some(frame_bytes)) =
            (header.width, header.height, header.frame_bytes())
        else {
            bail!("{}: no frame size in its Y4M header", path.display());
        };
        let (width, height, frame_bytes) =
            (usize::try_from(width)?, usize::try_from(height)?, usize::try_from(frame_bytes)?);
        Ok(Self { input, width, height, frame_bytes, path: path.to_path_buf() })
    }

    /// The next frame's planes, or `None` at the end of the file.
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        use std::io::{BufRead, Read};
        let mut line = Vec::new();
        if self.input.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        if !line.starts_with(b"FRAME") || line.last() != Some(&b'\n') {
            bail!("{}: truncated Y4M frame header", self.path.display());
        }
        let mut frame = vec![0; self.frame_bytes];
        self.input.read_exact(&mut frame).with_context(|| format!("{}: truncated Y4M frame", self.path.display()))?;
        Ok(Some(frame))
    }

    /// How many frames the file holds (reading it through).
    fn count(mut self) -> Result<usize> {
        let mut n = 0;
        while self.next_frame()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

/// Per frame of `decoded` against `source` (both Y4M of one size): YUV PSNR,
/// RGB PSNR and MS-SSIM (`None` for frames too small for it). Holds one
/// frame of each at a time, so memory does not grow with the clip.
/// Errors: another size or frame count than the source's, unreadable files.
fn frame_metrics(source: &Path, decoded: &Path) -> Result<Vec<(f64, f64, Option<f64>)>> {
    let (mut a, mut b) = (Y4mFrames::open(source)?, Y4mFrames::open(decoded)?);
    if (a.width, a.height) != (b.width, b.height) {
        bail!("{}: {}×{}, the source {}×{}", decoded.display(), b.width, b.height, a.width, a.height);
    }
    let (mut a_rgb, mut b_rgb) = (ClipReader::open(source)?, ClipReader::open(decoded)?);
    let mut metrics = Vec::new();
    loop {
        match (a.next_frame()?, b.next_frame()?) {
            (Some(x), Some(y)) => {
                let (Some(x_rgb), Some(y_rgb)) = (a_rgb.next_frame()?, b_rgb.next_frame()?) else {
                    bail!("{}: FFmpeg read fewer frames than the file holds", decoded.display());
                };
                metrics.push((psnr_yuv(&x, &y, a.width, a.height), psnr_rgb(&x_rgb, &y_rgb), ms_ssim(&x_rgb, &y_rgb)));
            }
            (None, None) => return Ok(metrics),
            _ => bail!("{}: not the source's frame count", decoded.display()),
        }
    }
}

/// (6·PSNR_Y + PSNR_U + PSNR_V) / 8 of two 4:2:0 frames.
fn psnr_yuv(a: &[u8], b: &[u8], width: usize, height: usize) -> f64 {
    let luma = width * height;
    let chroma = width.div_ceil(2) * height.div_ceil(2);
    let psnr = |x: &[u8], y: &[u8]| {
        let mse = x.iter().zip(y).map(|(&p, &q)| (p as f64 - q as f64).powi(2)).sum::<f64>() / x.len() as f64;
        super::metrics::psnr_from_mse(mse, 255.0)
    };
    let y = psnr(&a[..luma], &b[..luma]);
    let u = psnr(&a[luma..luma + chroma], &b[luma..luma + chroma]);
    let v = psnr(&a[luma + chroma..], &b[luma + chroma..]);
    (6.0 * y + u + v) / 8.0
}

fn run(args: &[String]) -> Result<f64> {
    let start = Instant::now();
    let out = Command::new(&args[0]).args(&args[1..]).output().with_context(|| format!("cannot run {}", args[0]))?;
    if !out.status.success() {
        bail!("{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(start.elapsed().as_secs_f64())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The encode and decode command lines of `codec` at `q` (coded file
/// `coded`, decoded Y4M `decoded`).
fn commands(
    s: &VideoEvalSettings,
    codec: VideoCodec,
    q: u8,
    source: &Path,
    coded: &Path,
    decoded: &Path,
) -> [Vec<String>; 2] {
    let (src, cod, dec) = (source.display().to_string(), coded.display().to_string(), decoded.display().to_string());
    let livc = s.out.join("work").join("livc").display().to_string();
    let gop = s.gop.to_string();
    let (q, backend) = (q.to_string(), format!("{:?}", s.backend).to_lowercase());
    let ffmpeg_decode =
        strings(&["ffmpeg", "-v", "error", "-y", "-i", &cod, "-f", "yuv4mpegpipe", "-pix_fmt", "yuv420p", &dec]);
    match codec {
        VideoCodec::Livc | VideoCodec::LivcIntra => {
            let gop = if codec == VideoCodec::Livc { gop } else { "1".into() };
            [
                strings(&[
                    &livc,
                    "encode",
                    &src,
                    "-o",
                    &cod,
                    "-q",
                    &q,
                    "--gop",
                    &gop,
                    "--backend",
                    &backend,
                    "--force",
                    "--quiet",
                ]),
                strings(&[&livc, "decode", &cod, "-o", &dec, "--backend", &backend, "--force", "--quiet"]),
            ]
        }
        VideoCodec::X264 | VideoCodec::X264Fast => {
            let mut e = strings(&["ffmpeg", "-v", "error", "-y", "-i", &src, "-c:v", "libx264"]);
            if codec == VideoCodec::X264 {
                e.extend(strings(&["-preset", "veryslow"]));
            } else {
                e.extend(strings(&["-preset", "medium", "-tune", "zerolatency"]));
            }
            e.extend(strings(&[
                "-crf",
                &q,
                "-g",
                &gop,
                "-keyint_min",
                &gop,
                "-sc_threshold",
                "0",
                "-bf",
                "0",
                "-f",
                "h264",
                &cod,
            ]));
            [e, ffmpeg_decode]
        }
        VideoCodec::X265 => {
            let params = format!("keyint={gop}:min-keyint={gop}:bframes=0:scenecut=0:log-level=error");
            let e = strings(&[
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-i",
                &src,
                "-c:v",
                "libx265",
                "-preset",
                "veryslow",
                "-crf",
                &q,
                "-x265-params",
                &params,
                "-f",
                "hevc",
                &cod,
            ]);
            [e, ffmpeg_decode]
        }
    }
}

/// Measures every codec at every quality on every clip; writes
/// `OUT/video.json`, `OUT/summary.md` and RD plots per clip.
pub fn run_video_eval(s: &VideoEvalSettings) -> Result<Vec<VideoPoint>> {
    std::fs::create_dir_all(&s.out)?;
    let work = s.out.join("work");
    std::fs::create_dir_all(&work)?;
    // A copy of this binary codes livc's points: a rebuild during a long
    // evaluation must not change (or remove) the codec being measured.
    let exe = std::env::current_exe().context("cannot find the livc binary")?;
    std::fs::copy(&exe, work.join("livc")).with_context(|| format!("cannot copy {}", exe.display()))?;
    // Points already in OUT/video.json (same clip, codec, quality, frame
    // count, and made by the same codec version) are kept, not measured
    // again: delete the file to remeasure everything.
    let json = s.out.join("video.json");
    let done: Vec<VideoPoint> = match std::fs::read(&json) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{} is not readable", json.display()))?,
        Err(_) => Vec::new(),
    };
    let versions: Vec<String> = s.codecs.iter().map(|&c| codec_version(c)).collect::<Result<_>>()?;
    let names: Vec<String> = s
        .clips
        .iter()
        .map(|c| Ok(c.file_stem().context("clip without a name")?.to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    let mut points = Vec::new();
    for (i, (clip, name)) in s.clips.iter().zip(&names).enumerate() {
        let cached = |codec: usize, q: u8| {
            done.iter().find(|p| {
                p.clip == *name
                    && p.codec == s.codecs[codec].name()
                    && p.quality == q
                    && p.frames == s.frames
                    && p.version == versions[codec]
            })
        };
        let qualities = |c: VideoCodec| if c.is_livc() { &s.qualities } else { &s.crfs };
        let all: Vec<(usize, u8)> =
            (0..s.codecs.len()).flat_map(|c| qualities(s.codecs[c]).iter().map(move |&q| (c, q))).collect();
        let stale = all.iter().filter(|&&(c, q)| cached(c, q).is_none()).count();
        if stale == 0 {
            for (c, &codec) in s.codecs.iter().enumerate() {
                points.extend(qualities(codec).iter().filter_map(|&q| cached(c, q).cloned()));
            }
            eprintln!("{name}: every point already measured in {}", json.display());
            write_summary(s, &points)?;
            continue;
        }
        let source = work.join(format!("{name}.y4m"));
        let frames = s.frames.to_string();
        let clip_path = clip.display().to_string();
        let src_path = source.display().to_string();
        run(&strings(&[
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            &clip_path,
            "-frames:v",
            &frames,
            "-pix_fmt",
            "yuv420p",
            "-f",
            "yuv4mpegpipe",
            &src_path,
        ]))?;
        let original = Y4mFrames::open(&source)?;
        let (width, height) = (original.width, original.height);
        let n = original.count()?;
        let fps = ClipReader::open(&source)?.info().frame_rate.fps();
        eprintln!("{name}: {n} frames {width}×{height} at {fps:.3} fps");
        eprintln!("{name}: {stale} of {} points to measure (the others are cached in {})", all.len(), json.display());
        for (c, &codec) in s.codecs.iter().enumerate() {
            let ext = match codec {
                VideoCodec::Livc | VideoCodec::LivcIntra => "livc",
                VideoCodec::X265 => "hevc",
                _ => "264",
            };
            for &q in qualities(codec) {
                if let Some(point) = cached(c, q) {
                    points.push(point.clone());
                    continue;
                }
                let coded = work.join(format!("{name}-{}-{q}.{ext}", codec.name()));
                let decoded = work.join(format!("{name}-{}-{q}.y4m", codec.name()));
                let [enc, dec] = commands(s, codec, q, &source, &coded, &decoded);
                let encode_s = run(&enc)?;
                let decode_s = run(&dec)?;
                let bytes = std::fs::metadata(&coded)?.len();
                let metrics = frame_metrics(&source, &decoded)?;
                let frame_psnr: Vec<f64> = metrics.iter().map(|m| m.0).collect();
                let rgb: Vec<f64> = metrics.iter().map(|m| m.1).collect();
                let ssim: Option<Vec<f64>> = metrics.iter().map(|m| m.2).collect();
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                let m = mean(&frame_psnr);
                let flicker = (frame_psnr.iter().map(|p| (p - m).powi(2)).sum::<f64>() / n as f64).sqrt();
                let pixels = (width * height * n) as f64;
                let point = VideoPoint {
                    clip: name.clone(),
                    codec: codec.name().into(),
                    quality: q,
                    frames: n,
                    width,
                    height,
                    bytes,
                    bpp: bytes as f64 * 8.0 / pixels,
                    kbps: bytes as f64 * 8.0 / 1000.0 / (n as f64 / fps),
                    psnr_yuv: m,
                    psnr_rgb: mean(&rgb),
                    ms_ssim: ssim.map(|v| mean(&v)),
                    flicker,
                    encode_fps: n as f64 / encode_s,
                    decode_fps: n as f64 / decode_s,
                    frame_psnr_yuv: frame_psnr,
                    version: versions[c].clone(),
                };
                eprintln!(
                    "  {:24} q{q:<3} {:9.1} kbit/s {:.4} bpp  YUV {:.2} dB  RGB {:.2} dB  enc {:.2} fps  dec {:.2} fps",
                    point.codec,
                    point.kbps,
                    point.bpp,
                    point.psnr_yuv,
                    point.psnr_rgb,
                    point.encode_fps,
                    point.decode_fps
                );
                std::fs::remove_file(&decoded).ok();
                points.push(point);
            }
        }
        std::fs::remove_file(&source).ok();
        // After every clip, so an interrupted run leaves what it measured,
        // with the cached points of the clips it has not reached (or does not measure).
        let kept = done.iter().filter(|p| !names[..=i].contains(&p.clip));
        let all: Vec<&VideoPoint> = kept.chain(&points).collect();
        super::write_atomically(&json, &serde_json::to_vec_pretty(&all)?)?;
        write_summary(s, &points)?;
    }
    Ok(points)
}

fn curve(points: &[VideoPoint], clip: &str, codec: &str, rgb: bool) -> Vec<RdPoint> {
    points
        .iter()
        .filter(|p| p.clip == clip && p.codec == codec)
        .map(|p| RdPoint { bpp: p.bpp, quality: if rgb { p.psnr_rgb } else { p.psnr_yuv } })
        .collect()
}

fn write_summary(s: &VideoEvalSettings, points: &[VideoPoint]) -> Result<()> {
    let mut md = String::new();
    let command: Vec<String> = std::env::args().collect();
    writeln!(md, "# Video rate-distortion\n")?;
    writeln!(md, "Made by `{}`.\n", command.join(" "))?;
    writeln!(
        md,
        "{} frames per clip from the first, low-delay (no B-frames), an I-frame every {} frames for every codec. \
         YUV PSNR is (6·Y+U+V)/8 on the 4:2:0 planes; RGB PSNR and MS-SSIM on RGB (both sides converted by FFmpeg, BT.709); \
         means over frames. Flicker: standard deviation of the per-frame YUV PSNR. bpp: whole file over all frames' pixels. \
         livc runs on the {:?} backend; fps include process start and file I/O.\n",
        s.frames, s.gop, s.backend
    )?;
    for codec in &s.codecs {
        let mut versions: Vec<&str> =
            points.iter().filter(|p| p.codec == codec.name()).map(|p| p.version.as_str()).collect();
        versions.sort_unstable();
        versions.dedup();
        let versions: Vec<String> = versions.iter().map(|v| format!("`{v}`")).collect();
        writeln!(md, "- {}: {}", codec.name(), versions.join(", "))?;
    }
    writeln!(md)?;
    let mut clips: Vec<&str> = points.iter().map(|p| p.clip.as_str()).collect();
    clips.dedup();
    let codecs: Vec<&str> = s.codecs.iter().map(|c| c.name()).collect();
    for clip in &clips {
        writeln!(md, "## {clip}\n")?;
        for (metric, rgb) in [("YUV PSNR", false), ("RGB PSNR", true)] {
            writeln!(
                md,
                "BD-rate ({metric}, pchip) of each codec (rows) against each anchor (columns), negative = fewer bits, \
                 with BD-PSNR in brackets where the bitrates overlap. `*`: the curves overlap over less than 75 % of \
                 their joint PSNR range; n/a: no PSNR overlap.\n"
            )?;
            writeln!(md, "| codec | {} |", codecs.iter().map(|c| format!("vs {c}")).collect::<Vec<_>>().join(" | "))?;
            writeln!(md, "|---|{}", "---|".repeat(codecs.len()))?;
            for test in &codecs {
                let cells: Vec<String> = codecs
                    .iter()
                    .map(|anchor| {
                        if anchor == test {
                            return "—".into();
                        }
                        let (a, t) = (curve(points, clip, anchor, rgb), curve(points, clip, test, rgb));
                        let rate = match bd_rate(&a, &t) {
                            Some(r) => format!("{:+.1} %{}", r.value, if r.overlap < 0.75 { "*" } else { "" }),
                            None => "n/a".into(),
                        };
                        match bd_quality(&a, &t) {
                            Some(q) => format!("{rate} ({:+.2} dB)", q.value),
                            None => rate,
                        }
                    })
                    .collect();
                writeln!(md, "| {test} | {} |", cells.join(" | "))?;
            }
            writeln!(md)?;
        }
        writeln!(
            md,
            "| codec | q/CRF | kbit/s | bpp | YUV PSNR | RGB PSNR | MS-SSIM | flicker dB | enc fps | dec fps |"
        )?;
        writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
        for p in points.iter().filter(|p| &p.clip == clip) {
            writeln!(
                md,
                "| {} | {} | {:.1} | {:.4} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {:.2} |",
                p.codec,
                p.quality,
                p.kbps,
                p.bpp,
                p.psnr_yuv,
                p.psnr_rgb,
                p.ms_ssim.map_or("—".into(), |m| format!("{m:.4}")),
                p.flicker,
                p.encode_fps,
                p.decode_fps
            )?;
        }
        writeln!(md)?;
        let measured: Vec<(String, Vec<RdPoint>)> =
            codecs.iter().map(|c| (c.to_string(), curve(points, clip, c, false))).collect();
        super::plot::register_font()?;
        super::plot::rd_plot(
            &s.out.join(format!("{clip}-rd")),
            &format!("{clip}: YUV PSNR"),
            "YUV PSNR (dB)",
            &measured,
            &[],
        )?;
        writeln!(md, "![{clip}]({clip}-rd.png)\n")?;
    }
    std::fs::write(s.out.join("summary.md"), md)?;
    Ok(())
}
