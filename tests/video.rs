//! Clips: round trips through the command line, the decoder reproducing the
//! encoder's references, the parse across backends, and bad input. The clips
//! are small synthetic Y4M streams made here.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use livc::Backend;
use livc::bitstream::clip::{self, ClipHeader, ClipReader as Records, FrameKind, FrameRecord};
use livc::codec::Codec;
use livc::codec::video::{VideoDecoder, VideoEncoder};
use livc::io::RgbImage;
use livc::io::video::{ClipInfo, ClipReader, Colour, FrameRate};
use livc::model::package::Package;
use livc::model::temporal::TemporalPackage;

/// Frame `t` of a test scene: a static textured background (left half) and a
/// pattern moving 3 pixels per frame (right half).
fn scene(w: usize, h: usize, t: usize) -> RgbImage {
    let still = common::gradient(w, h, 5);
    let moving = common::gradient(w + 64, h, 9);
    let mut pixels = still.pixels.clone();
    for y in 0..h {
        for x in w / 2..w {
            let s = (y * (w + 64) + (x + 3 * t) % (w + 64)) * 3;
            pixels[(y * w + x) * 3..][..3].copy_from_slice(&moving.pixels[s..s + 3]);
        }
    }
    RgbImage { width: w, height: h, pixels }
}

/// A Y4M stream (4:2:0, BT.601-free: only Y and flat chroma from the green
/// channel's texture) of `frames` frames of [`scene`].
fn y4m(w: usize, h: usize, frames: usize, rate: &str) -> Vec<u8> {
    let mut out = format!("YUV4MPEG2 W{w} H{h} F{rate} Ip A1:1 C420jpeg\n").into_bytes();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    for t in 0..frames {
        let img = scene(w, h, t);
        out.extend_from_slice(b"FRAME\n");
        out.extend(img.pixels.chunks(3).map(|p| 16 + (p[1] as u32 * 219 / 255) as u8));
        for plane in [0usize, 2] {
            for y in 0..ch {
                for x in 0..cw {
                    let p = &img.pixels[((2 * y).min(h - 1) * w + (2 * x).min(w - 1)) * 3..];
                    out.push(128u8.wrapping_add(((p[plane] as i32 - p[1] as i32) / 4) as u8));
                }
            }
        }
    }
    out
}

fn records(bytes: &[u8]) -> (ClipHeader, Vec<FrameRecord>) {
    let (header, mut r) = Records::open(bytes).unwrap();
    let mut frames = vec![];
    while let Some(f) = r.next_frame().unwrap() {
        frames.push(f);
    }
    (header, frames)
}

fn rebuild(header: &ClipHeader, frames: &[FrameRecord]) -> Vec<u8> {
    let mut b = header.to_bytes();
    for f in frames {
        clip::write_frame(&mut b, f.kind, &f.payload).unwrap();
    }
    clip::write_end(&mut b, frames.len() as u32).unwrap();
    b
}

/// Every frame of a clip file, read back through FFmpeg.
fn read_clip(path: &Path) -> (ClipInfo, Vec<RgbImage>) {
    let mut reader = ClipReader::open(path).unwrap();
    let info = reader.info();
    let mut frames = vec![];
    while let Some(f) = reader.next_frame().unwrap() {
        frames.push(f);
    }
    (info, frames)
}

#[test]
fn clip_round_trip_keeps_size_frame_count_and_frame_rate() {
    let dir = scratch("clip-round-trip");
    std::fs::write(dir.join("in.y4m"), y4m(70, 38, 5, "30000:1001")).unwrap();
    let o = livc(&dir, &["encode", "in.y4m", "-o", "c.livc", "--gop", "3"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("5 frames 70×38"), "{}", common::stderr(&o));

    let o = common::livc_in(&dir, &["info", "c.livc", "--json"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["frame_types"], "IPPIP");
    assert_eq!(info["frames"], 5);
    assert_eq!(info["frame_rate"], serde_json::json!([30000, 1001]));
    // The header's frame count was filled in after encoding.
    let (header, _) = records(&std::fs::read(dir.join("c.livc")).unwrap());
    assert_eq!(header.frames, 5);

    for out in ["out.y4m", "out.mkv"] {
        let o = livc(&dir, &["decode", "c.livc", "-o", out]);
        assert!(o.status.success(), "{out}: {}", common::stderr(&o));
        let (info, frames) = read_clip(&dir.join(out));
        assert_eq!((info.width, info.height, frames.len()), (70, 38, 5), "{out}");
        assert_eq!(info.frame_rate, FrameRate { num: 30000, den: 1001 }, "{out}");
    }
    // The two outputs hold the same frames (FFV1 is lossless).
    assert_eq!(read_clip(&dir.join("out.y4m")).1, read_clip(&dir.join("out.mkv")).1);
    // --start and --frames select frames; the default output name.
    let o = livc(&dir, &["encode", "in.y4m", "--start", "1", "--frames", "2"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = livc(&dir, &["decode", "in.livc"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(read_clip(&dir.join("in.livc.y4m")).1.len(), 2);
}

#[test]
fn clips_stream_through_standard_input_and_output() {
    let dir = scratch("clip-stdio");
    let o = encode_stdin(&dir, y4m(40, 24, 3, "25:1"));
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(!common::stderr(&o).contains("warning"), "{}", common::stderr(&o));
    let (header, frames) = records(&o.stdout);
    // Streamed: the header cannot know the count; the end record does.
    assert_eq!((header.frames, frames.len()), (0, 3));
    std::fs::write(dir.join("s.livc"), &o.stdout).unwrap();
    let o = livc(&dir, &["decode", "s.livc", "-o", "-"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(o.stdout.starts_with(b"YUV4MPEG2 W40 H24 F25:1"), "{:?}", String::from_utf8_lossy(&o.stdout[..40]));
    assert_eq!(o.stdout.windows(6).filter(|w| w == b"FRAME\n").count(), 3);

    // A named pipe can be read once: the clip is read on from the bytes
    // livc looked at first (it used to open the pipe again and fail, or wait).
    let Some(o) = encode_from_pipe(&dir, "pipe.y4m", y4m(40, 24, 3, "25:1")) else { return };
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(records(&std::fs::read(dir.join("pipe.livc")).unwrap()).1.len(), 3);
    // Without -o: no output name follows from a pipe's (`/dev/stdin` would
    // have written /dev/stdin.livc).
    let o = livc(&dir, &["encode", "pipe.y4m"]);
    assert!(common::stderr(&o).contains("so no output name follows from it: pass -o FILE"), "{}", common::stderr(&o));
    // Y4M is a clip under any name, as `/dev/stdin` or a shell's `<(…)` gives.
    let o = encode_from_pipe(&dir, "fd-63", y4m(40, 24, 2, "25:1")).unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(records(&std::fs::read(dir.join("fd-63.livc")).unwrap()).1.len(), 2);
}

/// `livc encode -` (the tiny model) in `dir`, `bytes` on standard input.
fn encode_stdin(dir: &Path, bytes: Vec<u8>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_livc"))
        .current_dir(dir)
        .args(["encode", "-"])
        .args(TINY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    o
}

#[test]
fn a_y4m_stream_cut_inside_a_frame_is_coded_to_its_last_whole_frame_with_a_warning() {
    let dir = scratch("clip-cut");
    let whole = y4m(40, 24, 3, "25:1");
    // Into the third frame's planes, and just after its FRAME line.
    let frame = 40 * 24 + 2 * 20 * 12;
    for (cut, expected) in [
        (100, format!("ends inside frame 3 ({} of its {frame} bytes)", frame - 100)),
        (frame, "frame 3's FRAME line".into()),
    ] {
        let o = encode_stdin(&dir, whole[..whole.len() - cut].to_vec());
        assert!(o.status.success(), "{}", common::stderr(&o));
        assert!(common::stderr(&o).contains(&expected), "{}", common::stderr(&o));
        assert_eq!(records(&o.stdout).1.len(), 2);
    }
    // A file, as a stream: the same.
    std::fs::write(dir.join("cut.y4m"), &whole[..whole.len() - 100]).unwrap();
    let o = livc(&dir, &["encode", "cut.y4m", "-o", "cut.livc"]);
    assert!(
        common::stderr(&o).contains("cut.y4m: warning: the Y4M stream ends inside frame 3"),
        "{}",
        common::stderr(&o)
    );
    assert_eq!(records(&std::fs::read(dir.join("cut.livc")).unwrap()).1.len(), 2);
    // Cut inside the first frame, or inside the header: an error that says so.
    let header = whole.iter().position(|&b| b == b'\n').unwrap() + 1;
    for (cut, expected) in [
        (header + 6 + 100, "has no whole video frame: the Y4M stream ends inside frame 1"),
        (20, "ends inside its header"),
    ] {
        let o = encode_stdin(&dir, whole[..cut].to_vec());
        assert!(!o.status.success());
        assert!(common::stderr(&o).contains(expected), "{}", common::stderr(&o));
    }
}

/// `livc encode NAME -o NAME.livc` (the tiny model) where NAME is a named
/// pipe in `dir` into which a thread writes `bytes`; `None` (skipped) where
/// `mkfifo` fails. Fails the test if livc has not exited after 120 s.
fn encode_from_pipe(dir: &Path, name: &str, bytes: Vec<u8>) -> Option<std::process::Output> {
    let fifo = dir.join(name);
    if !Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED the named-pipe part: mkfifo failed");
        return None;
    }
    // The write fails (broken pipe) where livc stops reading early.
    std::thread::spawn(move || std::fs::write(fifo, bytes));
    let output = Path::new(name).with_extension("livc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_livc"))
        .current_dir(dir)
        .args(["encode", name, "-o", output.to_str().unwrap()])
        .args(TINY)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() > 120 {
            child.kill().unwrap();
            panic!("livc still waits on the named pipe {name} after 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(child.wait_with_output().unwrap())
}

#[test]
fn a_pipe_that_would_need_seeking_gives_a_hint_and_no_output() {
    if !has_ffmpeg("pipe seeking test") {
        return;
    }
    let dir = scratch("clip-pipe-seek");
    // An MP4 whose index (moov) comes after the frames and after more bytes
    // than FFmpeg buffers: reading it needs a seek back.
    ffmpeg(&dir, "-f lavfi -i testsrc=size=640x480:rate=25 -frames:v 100 -pix_fmt yuv420p -b:v 5M late-index.mp4");
    let bytes = std::fs::read(dir.join("late-index.mp4")).unwrap();
    let Some(o) = encode_from_pipe(&dir, "pipe.mp4", bytes) else { return };
    assert!(!o.status.success());
    assert!(common::stderr(&o).contains("yuv4mpegpipe"), "{}", common::stderr(&o));
    assert!(!dir.join("pipe.livc").exists());
}

/// The tiny model and its temporal prior, as command-line options.
const TINY: [&str; 4] = ["--model", "tiny.safetensors", "--temporal", "tiny-temporal.safetensors"];

/// Runs livc in `dir` with `args` and the tiny model ([`TINY`]).
fn livc(dir: &Path, args: &[&str]) -> std::process::Output {
    common::livc_in(dir, &[args, &TINY[..]].concat())
}

/// A scratch folder (common::scratch) with the tiny model's temporal
/// prior beside it (`tiny-temporal.safetensors`).
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = common::scratch(name);
    std::fs::write(dir.join("tiny-temporal.safetensors"), common::tiny_temporal_bytes(common::tiny_package_bytes()))
        .unwrap();
    dir
}

fn temporal() -> TemporalPackage {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TemporalPackage::from_bytes(BYTES.get_or_init(|| common::tiny_temporal_bytes(common::tiny_full_package_bytes())))
        .unwrap()
}

fn tiny(backend: Backend) -> Codec {
    Codec::new(Package::from_bytes(common::tiny_full_package_bytes()).unwrap(), backend)
        .unwrap()
        .with_temporal(temporal())
        .unwrap()
        .at_quality(60)
        .unwrap()
}

const INFO: ClipInfo = ClipInfo {
    width: 90,
    height: 40,
    frame_rate: FrameRate { num: 25, den: 1 },
    colour: Colour::DEFAULT,
    frames: None,
};

/// Encodes frames 0..n of the scene with a GOP of 4 and 64-pixel tiles,
/// with the encoder's reconstructions.
fn encode_scene(codec: &Codec, n: usize) -> (ClipHeader, Vec<FrameRecord>, Vec<RgbImage>, usize) {
    let mut encoder = VideoEncoder::new(codec, &INFO, 4, 64).unwrap();
    let (mut records, mut recon, mut inter) = (vec![], vec![], 0);
    for t in 0..n {
        let coded = encoder.encode_frame(&scene(90, 40, t), true).unwrap();
        inter += coded.inter_tiles;
        records.push(FrameRecord { kind: coded.kind, payload: coded.payload });
        recon.push(coded.reconstruction.unwrap());
    }
    (encoder.header().clone(), records, recon, inter)
}

#[test]
fn the_decoder_reproduces_the_encoders_reconstruction_over_whole_gops() {
    let codec = tiny(Backend::Cpu);
    let (header, records, recon, inter) = encode_scene(&codec, 6);
    let kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
    use FrameKind::*;
    assert_eq!(kinds, [Intra, Inter, Inter, Inter, Intra, Inter]);
    // The static half makes inter tiles pay: the P path is exercised.
    assert!(inter > 0, "no tile was coded in inter mode");
    let mut decoder = VideoDecoder::new(&codec, header).unwrap();
    for (t, (record, expected)) in records.iter().zip(&recon).enumerate() {
        assert_eq!(&decoder.decode_frame(record).unwrap(), expected, "frame {t}");
    }
}

#[test]
fn p_frames_need_the_temporal_prior_they_were_made_with() {
    let codec = tiny(Backend::Cpu);
    let (header, records, _, _) = encode_scene(&codec, 2);
    assert_ne!(header.temporal_hash, [0; 8]);
    let err = |r: anyhow::Result<_>| format!("{:#}", r.expect_err("an error"));
    let plain = || Codec::new(Package::from_bytes(common::tiny_full_package_bytes()).unwrap(), Backend::Cpu).unwrap();
    assert!(err(VideoEncoder::new(&plain(), &INFO, 4, 64).map(|_| ())).contains("no temporal prior"));
    assert!(VideoEncoder::new(&plain(), &INFO, 1, 64).is_ok(), "all-intra needs no temporal prior");
    // ... and names none, even when the encoder has one: any codec of the model decodes it.
    let all_intra = VideoEncoder::new(&codec, &INFO, 1, 64).unwrap().header().clone();
    assert_eq!(all_intra.temporal_hash, [0; 8]);
    assert!(VideoDecoder::new(&plain(), all_intra).is_ok());
    assert!(err(VideoDecoder::new(&plain(), header.clone()).map(|_| ())).contains("no temporal prior"));
    // Another temporal prior for the same model (other random weights): refused by hash.
    let other = TemporalPackage::from_bytes(&common::tiny_temporal_bytes(common::tiny_full_package_bytes())).unwrap();
    let other = plain().with_temporal(other).unwrap();
    assert!(err(VideoDecoder::new(&other, header.clone()).map(|_| ())).contains("clip was made with temporal prior"));
    // A temporal prior trained for another model is refused.
    let base = Codec::new(Package::from_bytes(common::tiny_package_bytes()).unwrap(), Backend::Cpu).unwrap();
    assert!(err(base.with_temporal(temporal()).map(|_| ())).contains("was trained for model tiny-full-test"));
    // The right one decodes.
    let mut decoder = VideoDecoder::new(&codec, header).unwrap();
    for r in &records {
        decoder.decode_frame(r).unwrap();
    }
}

#[test]
fn a_clip_parses_identically_on_cpu_and_wgpu() {
    let gpu = match Codec::new(Package::from_bytes(common::tiny_full_package_bytes()).unwrap(), Backend::Wgpu) {
        Ok(c) => c.with_temporal(temporal()).unwrap().at_quality(60).unwrap(),
        Err(e) => {
            assert!(std::env::var("LIVC_REQUIRE_WGPU").map_or(true, |v| v != "1"), "wgpu backend unavailable: {e:#}");
            eprintln!("SKIPPED clip cross-backend test: {e:#}");
            return;
        }
    };
    let cpu = tiny(Backend::Cpu);
    let (header, records, _, _) = encode_scene(&cpu, 4);
    let mut on_cpu = VideoDecoder::new(&cpu, header.clone()).unwrap();
    let mut on_gpu = VideoDecoder::new(&gpu, header).unwrap();
    let mut worst = 0f32;
    for (t, record) in records.iter().enumerate() {
        assert_eq!(on_cpu.parse_frame(record).unwrap(), on_gpu.parse_frame(record).unwrap(), "frame {t}");
        let (a, b) = (on_cpu.decode_latent(record).unwrap(), on_gpu.decode_latent(record).unwrap());
        worst = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(worst, f32::max);
    }
    // The float latents (means, sums over the GOP) differ by rounding only.
    eprintln!("CPU and wgpu latents differ by at most {worst} after a GOP of 4 frames");
    assert!(worst < 1e-2, "latents drift apart across backends: {worst}");
}

#[test]
fn bad_clips_give_clear_errors_and_leave_no_output() {
    let dir = scratch("clip-bad");
    std::fs::write(dir.join("in.y4m"), y4m(40, 24, 3, "25:1")).unwrap();
    let o = livc(&dir, &["encode", "in.y4m", "-o", "c.livc"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let good = std::fs::read(dir.join("c.livc")).unwrap();
    let (header, frames) = records(&good);

    // (what, file, message, whether `info` sees it: it reads records, not tiles)
    let mut cases: Vec<(&str, Vec<u8>, &str, bool)> = vec![];
    cases.push(("truncated", good[..good.len() * 2 / 3].to_vec(), "truncated", true));
    let mut flipped = good.clone();
    let second = header.to_bytes().len() + 9 + frames[0].payload.len() + 5;
    flipped[second + 3] ^= 0x40;
    cases.push(("flipped P-frame byte", flipped, "checksum mismatch in frame 1", true));
    let mut garbage =
        frames.iter().map(|f| FrameRecord { kind: f.kind, payload: f.payload.clone() }).collect::<Vec<_>>();
    garbage[1].payload[0] = 9; // the first tile's mode
    cases.push(("corrupt P-frame, valid CRC", rebuild(&header, &garbage), "unknown tile mode", false));
    garbage[1].payload[0] = 1;
    let half = garbage[1].payload.len() / 2;
    garbage[1].payload.truncate(half);
    cases.push(("short P-frame, valid CRC", rebuild(&header, &garbage), "frame 1", false));
    let many = ClipHeader { frames: 1_000_000_000, ..header.clone() }.to_bytes();
    cases.push(("10^9 frames", many, "1000000000 frames", true));
    cases.push((
        "10^5 × 10^5 pixels",
        ClipHeader { width: 100_000, height: 100_000, ..header.clone() }.to_bytes(),
        "outside the supported range",
        true,
    ));
    for (what, bytes, message, container) in cases {
        std::fs::write(dir.join("bad.livc"), &bytes).unwrap();
        let info: &[&str] = if container { &["info", "bad.livc"] } else { &["decode", "bad.livc", "-o", "o.mkv"] };
        for args in [&["decode", "bad.livc", "-o", "out.y4m"][..], info] {
            let mut args = args.to_vec();
            if args[0] == "decode" {
                args.extend(TINY);
            }
            let o = common::livc_in(&dir, &args);
            let err = common::stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{what} {args:?}: {err}");
            assert!(err.contains(message), "{what} {args:?}: {err}");
            assert!(!err.contains("panicked"), "{what}: {err}");
        }
    }
    // An input FFmpeg cannot read, and a Y4M stream claiming 10^5 × 10^5 pixels.
    std::fs::write(dir.join("junk.mp4"), b"this is not a video at all, just some words").unwrap();
    let o = livc(&dir, &["encode", "junk.mp4", "-o", "j.livc"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("cannot read as a video"), "{}", common::stderr(&o));
    let mut huge = b"YUV4MPEG2 W100000 H100000 F25:1 C420jpeg\nFRAME\n".to_vec();
    huge.extend(vec![0u8; 4096]);
    std::fs::write(dir.join("huge.y4m"), huge).unwrap();
    let o = livc(&dir, &["encode", "huge.y4m", "-o", "h.livc"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("frame size 100000×100000 is outside"), "{}", common::stderr(&o));
    let o = livc(&dir, &["encode", "in.y4m", "-o", "late.livc", "--start", "10"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("no frames to encode"), "{}", common::stderr(&o));
    // livc data under a video or image extension, and a non-livc file to decode.
    let o = livc(&dir, &["encode", "in.y4m", "-o", "c.mkv"]);
    assert!(common::stderr(&o).contains("name it .livc"), "{}", common::stderr(&o));
    let o = livc(&dir, &["decode", "in.y4m", "-o", "d.y4m"]);
    assert!(common::stderr(&o).contains("not a livc file"), "{}", common::stderr(&o));
    // Nothing was left behind: no outputs, no temporary files.
    assert_eq!(
        common::files(&dir),
        [
            "bad.livc",
            "c.livc",
            "huge.y4m",
            "in.png",
            "in.y4m",
            "junk.mp4",
            "tiny-temporal.safetensors",
            "tiny.safetensors"
        ]
    );
}

#[cfg(unix)]
#[test]
fn an_interrupted_clip_encode_leaves_no_temporary_file() {
    let dir = scratch("clip-interrupt");
    std::fs::write(dir.join("in.y4m"), y4m(320, 192, 40, "25:1")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_livc"))
        .current_dir(&dir)
        .args(["encode", "in.y4m", "-o", "c.livc"])
        .args(TINY)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary output exists, then interrupt as Ctrl-C would.
    let started = std::time::Instant::now();
    while !common::files(&dir).iter().any(|f| f.ends_with(".part")) {
        assert!(started.elapsed().as_secs() < 60, "no temporary file appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "the encode finished before it was interrupted");
    assert_eq!(common::files(&dir), ["in.png", "in.y4m", "tiny-temporal.safetensors", "tiny.safetensors"]);
}

#[test]
fn the_embedded_temporal_prior_reads_and_fits_the_embedded_model() {
    let package = livc::model::embedded::clip_model().unwrap();
    let temporal = livc::model::embedded::temporal_for(&package).unwrap().expect("an embedded temporal prior");
    let config = &package.info.config;
    temporal.network(config.n, config.m, &Backend::Cpu.device()).unwrap();
    Codec::new(package, Backend::Cpu).unwrap().with_temporal(temporal).unwrap();
}

/// `livc eval-video` reuses a cached point only when the same codec version
/// made it (livc: its clip model, temporal prior and quantiser): a point from
/// another version is measured again, the others are kept as they are.
#[test]
fn eval_video_measures_again_only_the_points_of_another_version() {
    if !has_ffmpeg("eval-video cache test") {
        return;
    }
    let dir = common::scratch("eval-video-cache");
    std::fs::write(dir.join("clip.y4m"), y4m(48, 32, 2, "25:1")).unwrap();
    let run = || {
        let args =
            ["eval-video", "clip.y4m", "-o", "out", "--frames", "2", "--qualities", "0,60", "--codecs", "livc-intra"];
        let o = common::livc_in(&dir, &args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        common::stderr(&o)
    };
    let json = dir.join("out/video.json");
    let points = || -> Vec<serde_json::Value> { serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap() };
    let log = run();
    assert!(log.contains("2 of 2 points to measure"), "{log}");
    let first = points();
    assert_eq!(first.len(), 2);
    for p in &first {
        let version = p["version"].as_str().unwrap();
        assert!(version.starts_with("livc ") && version.contains("RDOQ"), "{version}");
    }
    let log = run();
    assert!(log.contains("every point already measured"), "{log}");
    assert_eq!(points(), first);
    // The second point as if an older build had made it: only it is measured
    // again (a reused point would keep the marker byte count).
    let mut edited = first.clone();
    edited[1]["version"] = "livc 0.0.0 (an older model)".into();
    edited[1]["bytes"] = 1.into();
    // A point of a clip this run does not measure stays in the file.
    let mut elsewhere = first[0].clone();
    elsewhere["clip"] = "another-clip".into();
    edited.insert(0, elsewhere.clone());
    std::fs::write(&json, serde_json::to_vec(&edited).unwrap()).unwrap();
    let log = run();
    assert!(log.contains("1 of 2 points to measure"), "{log}");
    let again = points();
    assert_eq!((&again[0], &again[1]), (&elsewhere, &first[0]));
    assert_eq!((&again[2]["version"], &again[2]["bytes"]), (&first[1]["version"], &first[1]["bytes"]));
}

/// Whether the `ffmpeg` command line is installed; without it, says that
/// `test` is skipped.
fn has_ffmpeg(test: &str) -> bool {
    let found = Command::new("ffmpeg").arg("-version").output().is_ok();
    if !found {
        eprintln!("SKIPPED {test}: needs ffmpeg");
    }
    found
}

/// Runs the `ffmpeg` command line in `dir` (quiet, overwriting).
fn ffmpeg(dir: &Path, args: &str) {
    let o = Command::new("ffmpeg").current_dir(dir).args(["-v", "error", "-y"]).args(args.split(' ')).output().unwrap();
    assert!(o.status.success(), "ffmpeg {args}: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn phone_rotation_is_applied_as_ffmpeg_applies_it_and_hdr_is_refused() {
    if !has_ffmpeg("clip rotation test") {
        return;
    }
    let dir = common::scratch("clip-rotation");
    ffmpeg(
        &dir,
        "-f lavfi -i testsrc2=size=64x48:rate=25 -frames:v 2 -c:v mpeg4 -q:v 1 -colorspace bt709 -color_range tv plain.mp4",
    );
    // A display matrix as phones write it (a stream copy: the pixels are plain.mp4's).
    ffmpeg(&dir, "-i plain.mp4 -c copy -metadata:s:v:0 rotate=90 rot.mp4");
    let mut rot = ClipReader::open(&dir.join("rot.mp4")).unwrap();
    assert_eq!((rot.info().width, rot.info().height), (48, 64));
    assert!(rot.notes().iter().any(|n| n.contains("display rotation")), "{:?}", rot.notes());
    let ours = rot.next_frame().unwrap().unwrap();
    // FFmpeg's own autorotation of the same file, and the opposite turn.
    ffmpeg(&dir, "-i rot.mp4 -frames:v 1 -pix_fmt rgb24 -f rawvideo upright.rgb");
    ffmpeg(&dir, "-noautorotate -i plain.mp4 -frames:v 1 -vf transpose=clock -pix_fmt rgb24 -f rawvideo other.rgb");
    ffmpeg(&dir, "-i plain.mp4 -frames:v 1 -pix_fmt rgb24 -f rawvideo plain.rgb");
    let mean_diff = |name: &str, ours: &RgbImage| {
        let theirs = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(theirs.len(), ours.pixels.len());
        theirs.iter().zip(&ours.pixels).map(|(&a, &b)| a.abs_diff(b) as f64).sum::<f64>() / theirs.len() as f64
    };
    // The unrotated clip sets the baseline (livc's and FFmpeg's RGB conversions differ a little).
    let mut plain = ClipReader::open(&dir.join("plain.mp4")).unwrap();
    assert!(plain.notes().is_empty(), "{:?}", plain.notes());
    let baseline = mean_diff("plain.rgb", &plain.next_frame().unwrap().unwrap());
    let (upright, other) = (mean_diff("upright.rgb", &ours), mean_diff("other.rgb", &ours));
    assert!(
        (upright - baseline).abs() < 0.5 && other > 4.0 * upright,
        "mean differences: {upright} upright, {other} turned the other way, {baseline} unrotated"
    );
    // HDR (PQ) is refused with a way out, not coded with the wrong transfer.
    ffmpeg(
        &dir,
        "-f lavfi -i testsrc2=size=64x48:rate=25 -frames:v 2 -c:v mpeg4 -color_trc smpte2084 -color_primaries bt2020 -colorspace bt2020nc -movflags +write_colr hdr.mp4",
    );
    let err = format!("{:#}", ClipReader::open(&dir.join("hdr.mp4")).map(|_| ()).unwrap_err());
    assert!(err.contains("HDR") && err.contains("tone-map"), "{err}");
}
