//! The `livc` command line: a thin layer over the library.

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use livc::Backend;
use livc::bitstream::Kind;
use livc::codec::{Codec, DEFAULT_TILE, VqCodec};
use livc::model::package::{Package, PackageInfo, hex};
use livc::model::temporal::TemporalPackage;
use livc::model::vq::VqPackage;
use livc::model::{ModelConfig, embedded};
use livc::train::TrainSettings;

#[path = "cli/clip.rs"]
mod clip;

#[derive(Parser)]
#[command(name = "livc", version, about = "A learned image and video codec")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compress an image (PNG, JPEG, WebP, TIFF, BMP, PNM; RGB or gray, 8 or
    /// 16 bits, with or without alpha; EXIF orientation and ICC profiles
    /// applied) or a clip (any video FFmpeg reads: .mp4 .mkv .webm .avi .mov
    /// .y4m …; Y4M on standard input).
    Encode {
        /// Input image or clip, or - for standard input (an image, or a Y4M stream).
        input: PathBuf,
        /// Output .livc file, or - for standard output [default: INPUT with
        /// its extension replaced by .livc; standard output for -].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Quality: 0 (smallest file) to 100 (best image) [default: the
        /// model's own, 30 for the embedded models; a per-rate model has one
        /// quality and ignores -q].
        #[arg(short, long)]
        quality: Option<u8>,
        /// Use this model package instead of the embedded one (-q is ignored
        /// unless it is a variable-rate model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Tile side in pixels (multiple of 64); bounds memory on large images.
        /// With --vq, in pixels of the downscaled picture the level codes, and
        /// small tiles cost much (each tile's index segments have their own
        /// headers): keep the default.
        #[arg(long, default_value_t = DEFAULT_TILE)]
        tile: u32,
        /// Encoder effort: 1 (fastest, the default) to 9. Above 1 the encoder
        /// refines each tile's latent with 2^effort gradient steps against the
        /// rate-distortion cost: smaller files at the same quality, slower
        /// encoding; decoding is unchanged.
        #[arg(short, long, default_value_t = livc::model::refine::DEFAULT_EFFORT,
              value_parser = clap::value_parser!(u8).range(1..=livc::model::refine::MAX_EFFORT as i64))]
        effort: u8,
        /// Clips: an I-frame every N frames (where playback can start), the
        /// frames between are P-frames [default: 32].
        #[arg(long)]
        gop: Option<u32>,
        /// Images: the VQ codebook mode, for extreme low bitrates (about
        /// 0.004–0.04 bpp on photos): -q picks one of six rate levels;
        /// --model then names a VQ package. Decoding needs no flag: the file
        /// says its mode.
        #[arg(long)]
        vq: bool,
        /// Clips: code at most N frames.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        frames: Option<u64>,
        /// Clips: skip the first N frames.
        #[arg(long)]
        start: Option<u64>,
        /// Clips: the temporal prior (P-frame modules) trained for the
        /// model [default: the embedded one trained for it].
        #[arg(long)]
        temporal: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Decompress a .livc file: an image (format from the extension: png,
    /// jpg, webp, tif, bmp, ppm, pam; PNG for -) or a clip (.y4m raw YUV
    /// 4:2:0, .mkv lossless FFV1; Y4M for -).
    Decode {
        /// Input .livc file, or - for standard input.
        input: PathBuf,
        /// Output [default: INPUT.png for an image, e.g. photo.livc.png;
        /// INPUT.y4m for a clip; standard output for -], or - for standard
        /// output (PNG or Y4M).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Model package to decode with, when the file's model is not embedded.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Clips: the temporal prior (P-frame modules) trained for the
        /// model [default: the embedded one trained for it].
        #[arg(long)]
        temporal: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the header of a .livc file (for a clip also its frames' types and sizes).
    Info {
        /// The .livc file, or - for standard input.
        input: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the PSNR between two images (and the bpp of a .livc file).
    Compare {
        original: PathBuf,
        decoded: PathBuf,
        /// The compressed file, to report its bits per pixel.
        #[arg(long)]
        livc: Option<PathBuf>,
    },
    /// Train a model (resumes when the run folder already holds one).
    Train(TrainArgs),
    /// Turn a training run into a model package (f16 weights, integer tables).
    Export {
        /// Run folder written by `livc train` or training/train.py --export.
        #[arg(long)]
        run: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// A per-rate model's -q; a variable-rate model's default quality.
        #[arg(long)]
        quality: u8,
        #[arg(long, default_value = "livc-hp")]
        name: String,
        /// Images to calibrate the integer scale network on.
        #[arg(long, default_value = "../shared/datasets/train-val")]
        calibration: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Turn training/video.py's export into a temporal package (the P-frame
    /// modules of `--base`'s model: f16 weights, integer tables of ẑ).
    ExportTemporal {
        /// training/video.py RUN --export FILE's output.
        #[arg(long)]
        run: PathBuf,
        /// The image model package it was trained on.
        #[arg(long, default_value = "weights/livc-vr.safetensors")]
        base: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value = "livc-vr-temporal")]
        name: String,
        #[arg(long)]
        force: bool,
    },
    /// Time encode and decode on a folder of images (see evaluation/).
    Bench {
        #[arg(long, default_value = "../shared/datasets/kodak")]
        dataset: PathBuf,
        #[arg(short, long)]
        quality: Option<u8>,
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: Backend,
        /// Encoder effort: 1 (fastest, the default) to 9. Above 1 the encoder
        /// refines each tile's latent with 2^effort gradient steps against the
        /// rate-distortion cost: smaller files at the same quality, slower
        /// encoding; decoding is unchanged.
        #[arg(short, long, default_value_t = livc::model::refine::DEFAULT_EFFORT,
              value_parser = clap::value_parser!(u8).range(1..=livc::model::refine::MAX_EFFORT as i64))]
        effort: u8,
        /// Write per-image results as JSON here (checked before the benchmark
        /// runs; an existing file needs --force).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Only the first N images.
        #[arg(long)]
        limit: Option<usize>,
        /// Replace an existing --json file.
        #[arg(long)]
        force: bool,
    },
    /// Rate-distortion sweep of livc and classical codecs: JSON, BD-rates, plots.
    Eval(EvalArgs),
    /// Video rate-distortion: livc (P-frames and all-intra) against x264 and
    /// x265 on clips, low-delay with one intra period: BD-rates, fps, plots.
    EvalVideo {
        /// Clip files (any format FFmpeg reads).
        #[arg(required = true)]
        clips: Vec<PathBuf>,
        /// Output folder. Points already in its video.json that the same
        /// codec version made (livc: its models and quantiser; x264/x265:
        /// FFmpeg) are kept; the others are measured.
        #[arg(short, long)]
        output: PathBuf,
        /// Frames per clip, from the first.
        #[arg(long, default_value_t = 32)]
        frames: usize,
        /// Intra period of every codec.
        #[arg(long, default_value_t = livc::codec::video::DEFAULT_GOP)]
        gop: u32,
        /// livc's -q values.
        #[arg(long, value_delimiter = ',', default_value = "0,25,50,75,100")]
        qualities: Vec<u8>,
        /// x264/x265 CRF values.
        #[arg(long, value_delimiter = ',', default_value = "22,27,32,37,42,47")]
        crfs: Vec<u8>,
        #[arg(long, value_enum, value_delimiter = ',', default_value = "livc,livc-intra,x264,x264-fast,x265")]
        codecs: Vec<livc::eval::video::VideoCodec>,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: Backend,
    },
}

#[derive(clap::Args)]
struct EvalArgs {
    /// Folder of images.
    #[arg(long, default_value = "../shared/datasets/kodak")]
    dataset: PathBuf,
    /// Comma-separated: livc, jpeg (= jpeg-444,jpeg-420), webp, avif, jxl, x265 (= x265-444,x265-420), all.
    #[arg(long, default_value = "all")]
    codecs: String,
    /// Output folder (results are cached in OUT/cache, so a rerun resumes).
    #[arg(short, long)]
    output: PathBuf,
    /// Images coded in parallel.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Only the first N images (sorted by name).
    #[arg(long)]
    limit: Option<usize>,
    /// sha256sum list to verify the images [default: datasets/<folder name>.sha256 if present].
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// RD curves to plot and use as anchors: kodak_published_rd.json, or an
    /// earlier run's curves.json (repeatable).
    #[arg(long)]
    reference: Vec<PathBuf>,
    /// Sweep this livc model package instead of the embedded models; repeat
    /// it to make one curve of several per-rate models.
    #[arg(long)]
    model: Vec<PathBuf>,
    /// BD-rate anchors: measured codec names or reference curve keys [default: vtm,x265-444,avif].
    #[arg(long, value_delimiter = ',')]
    anchors: Vec<String>,
    /// livc's encoder effort (1..9, see `livc encode --effort`); the curve is
    /// named livc-eN above 1.
    #[arg(long, default_value_t = livc::model::refine::DEFAULT_EFFORT,
          value_parser = clap::value_parser!(u8).range(1..=livc::model::refine::MAX_EFFORT as i64))]
    effort: u8,
    /// Fail instead of skipping a codec whose tool is not installed.
    #[arg(long)]
    require_tools: bool,
}

#[derive(clap::Args)]
struct Common {
    /// Overwrite the output if it exists.
    #[arg(long)]
    force: bool,
    /// Compute backend: auto picks wgpu when a hardware GPU adapter exists, else the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    backend: Backend,
    /// No summary line, no progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Run folder: checkpoint, state and log.
    #[arg(long)]
    run: PathBuf,
    #[arg(long, default_value = "../shared/datasets/train")]
    train_dir: PathBuf,
    #[arg(long, default_value = "../shared/datasets/train-val")]
    val_dir: PathBuf,
    /// Rate-distortion trade-off: loss = λ·255²·MSE + bpp.
    #[arg(long, default_value_t = 0.0067)]
    lambda: f64,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 128)]
    crop: usize,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    #[arg(long, default_value_t = 64)]
    n: usize,
    #[arg(long, default_value_t = 96)]
    m: usize,
    /// Channel slices of the context entropy model, e.g. 8,8,16,24,40 (default: a plain hyperprior).
    #[arg(long, value_delimiter = ',')]
    slices: Vec<usize>,
    /// Hidden channels of each slice's context networks.
    #[arg(long, default_value_t = 64)]
    context_hidden: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 10000)]
    steps: u64,
    #[arg(long, default_value_t = 20)]
    log_every: u64,
    #[arg(long, default_value_t = 200)]
    checkpoint_every: u64,
    /// Stop (with a checkpoint) after this many minutes; rerun to resume.
    #[arg(long, default_value_t = f64::INFINITY)]
    max_minutes: f64,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
    /// Start a new run from another run's weights (fresh optimizer).
    #[arg(long)]
    init_from: Option<PathBuf>,
}

fn main() {
    // Tensors burn creates without an explicit device (e.g. restored optimizer
    // state) go to BURN_DEVICE; keep them on the CPU unless told otherwise.
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: set before any thread is started.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    // Mesa's Vulkan device-select layer asks the display server for the default
    // GPU and, with no display (servers, CI), prints an error on every run;
    // livc ranks the adapters itself (gpu::Gpu::new).
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: set before any thread is started.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    #[cfg(unix)]
    clean_up_on_interrupt();
    // A reader that stops early (`livc info x.livc | head`) ends livc quietly,
    // as it does other Unix tools, instead of a panic in println!.
    #[cfg(unix)]
    // SAFETY: restores the default disposition before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // `livc --version` names the embedded default image model, which decides
    // what a plain `livc encode` makes.
    let version = format!("{} (default image model {})", env!("CARGO_PKG_VERSION"), embedded::DEFAULT_MODEL);
    let matches = Cli::command().version(&*Box::leak(version.into_boxed_str())).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(e) = run(cli) {
        eprintln!("livc: error: {e:#}");
        std::process::exit(1);
    }
}

/// Ctrl-C and SIGTERM: blocked in every thread and awaited by one, which
/// removes the temporary files of unfinished outputs and exits with 128 +
/// the signal (130 for Ctrl-C), so an interrupted run leaves no file behind.
/// Call before any other thread exists (they inherit the blocked set).
#[cfg(unix)]
fn clean_up_on_interrupt() {
    // SAFETY: libc calls on a signal set owned here; sigwait is the
    // async-signal-safe way to handle a signal on an ordinary thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        std::thread::spawn(move || {
            let mut signal = 0;
            if libc::sigwait(&set, &mut signal) == 0 {
                livc::io::remove_unfinished_outputs();
                std::process::exit(128 + signal);
            }
        });
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Encode { input, output, quality, model, tile, effort, gop, vq, frames, start, temporal, common } => {
            if tile == 0 || tile % 64 != 0 || tile > livc::bitstream::MAX_SIDE {
                bail!("--tile must be a positive multiple of 64");
            }
            let output = output_path(&input, output, |i| i.with_extension("livc"))?;
            check_output(&input, &output, common.force)?;
            note_software_gpu(&common);
            if livc::io::is_image_path(&output) || clip::is_clip_path(&output) {
                bail!("{} would hold livc data under an image or video extension; name it .livc", output.display());
            }
            let peeked = livc::io::Peeked::open(&input)?;
            // A clip by its name, or by the Y4M signature whatever the name
            // (`-`, `/dev/stdin`, a shell's `<(…)`).
            let is_clip =
                peeked.head.starts_with(b"YUV4MPEG2") || (input != Path::new("-") && clip::is_clip_path(&input));
            if is_clip {
                if vq {
                    bail!("--vq codes images; clips are coded with the scalar model");
                }
                if effort != livc::model::refine::DEFAULT_EFFORT {
                    bail!("--effort applies to images; clips are coded at effort 1");
                }
                let source = livc::io::video::ClipReader::open_peeked(&input, peeked)?;
                // Warnings even with --quiet; the other notes only without.
                for note in source.notes().iter().filter(|n| !common.quiet || n.starts_with("warning")) {
                    eprintln!("livc: {}: {note}", input.display());
                }
                let codec = with_temporal(
                    codec_for(model.as_deref(), embedded::clip_model, quality, common.backend)?,
                    temporal.as_deref(),
                )?;
                return clip::encode(clip::EncodeClip {
                    source,
                    output: &output,
                    codec: &codec,
                    gop: gop.unwrap_or(livc::codec::video::DEFAULT_GOP),
                    tile,
                    start: start.unwrap_or(0),
                    frames,
                    force: common.force,
                    quiet: common.quiet,
                });
            }
            if input == Path::new("-") && (gop.is_some() || frames.is_some() || start.is_some()) {
                bail!("standard input is not a Y4M stream, and clips on standard input must be Y4M");
            }
            clip::refuse_clip_options(gop, frames, start, temporal.as_deref())?;
            let peeked_is_file = peeked.is_file;
            let picture = livc::io::decode_picture_bytes(&peeked.read_all()?).with_context(|| {
                let hint = if input == Path::new("-") {
                    " (a clip on standard input must be Y4M)".to_string()
                } else if !peeked_is_file {
                    " (a clip read as a stream without a clip's name must be Y4M)".to_string()
                } else if !livc::io::is_image_path(&input) {
                    // A clip under an extension livc does not list.
                    format!(
                        " (a clip? pipe it: ffmpeg -i '{}' -f yuv4mpegpipe - | livc encode - -o OUT.livc)",
                        input.display()
                    )
                } else {
                    String::new()
                };
                format!("cannot decode image {}{hint}", input.display())
            })?;
            // Warnings even with --quiet; the other notes only without.
            for note in picture.notes.iter().filter(|n| !common.quiet || n.starts_with("warning")) {
                eprintln!("livc: {}: {note}", input.display());
            }
            let started = Instant::now();
            let progress = !common.quiet && std::io::stderr().is_terminal();
            let (encoded, mode) = if vq {
                if effort != livc::model::refine::DEFAULT_EFFORT {
                    bail!("--effort applies to the scalar model; the VQ mode has one encoder");
                }
                let codec = vq_codec_for(model.as_deref(), None, common.backend)?;
                let codec = match quality {
                    Some(q) => codec.at_quality(q)?,
                    None => codec,
                };
                let (level, k, quarters) = codec.level();
                let scale = quarters as f64 / 4.0;
                let mode = format!("VQ level {level}: codebook of {k}, coded at 1/{scale} size");
                (codec.encode_picture(&picture, tile, progress)?, mode)
            } else {
                let codec = codec_for(model.as_deref(), embedded::default_model, quality, common.backend)?
                    .with_effort(effort)?;
                (codec.encode_picture(&picture, tile, progress)?, format!("effort {effort}"))
            };
            livc::io::write_file(&output, &encoded.bytes, common.force)?;
            if !common.quiet {
                let pixels = (picture.rgb.width * picture.rgb.height) as f64;
                let bpp = encoded.bytes.len() as f64 * 8.0 / pixels;
                let alpha = match encoded.alpha_bytes {
                    0 => String::new(),
                    n => format!(" (alpha plane {n} bytes, {:.4} bpp)", n as f64 * 8.0 / pixels),
                };
                eprintln!(
                    "{}×{} → {} bytes, {bpp:.4} bpp{alpha}, {:.2} s, {mode}",
                    picture.rgb.width,
                    picture.rgb.height,
                    encoded.bytes.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Command::Decode { input, output, model, temporal, common } => {
            let peeked = livc::io::Peeked::open(&input)?;
            let is_clip = peeked.head.starts_with(livc::bitstream::clip::CLIP_MAGIC);
            if !is_clip && !peeked.head.starts_with(livc::bitstream::MAGIC) {
                bail!("{}: {}", input.display(), livc::bitstream::FormatError::not_livc(&peeked.head));
            }
            // photo.livc → photo.livc.png, never the photo it was made from.
            let output = output_path(&input, output, |i| {
                let mut name = i.as_os_str().to_owned();
                name.push(if is_clip { ".y4m" } else { ".png" });
                PathBuf::from(name)
            })?;
            check_output(&input, &output, common.force)?;
            note_software_gpu(&common);
            if is_clip {
                livc::io::video::clip_output_kind(&output)?;
                let backend = common.backend;
                let codec_for = |name: &str, hash: &[u8; 8]| {
                    let codec = Codec::new(package_for(model.as_deref(), name, hash)?, backend)?;
                    codec.check_model(name, hash)?;
                    with_temporal(codec, temporal.as_deref())
                };
                return clip::decode(peeked.into_reader(), &output, codec_for, common.force, common.quiet)
                    .with_context(|| input.display().to_string());
            }
            if temporal.is_some() {
                bail!("--temporal applies to clips; {} is an image", input.display());
            }
            let (_, holds_alpha) = livc::io::output_format(&output)?;
            let file = peeked.read_all()?;
            let header = livc::codec::read_header(&file).with_context(|| input.display().to_string())?;
            if header.alpha && !holds_alpha {
                bail!(
                    "the image has transparency, which {} cannot hold; write .png, .webp, .tif or .pam",
                    output.display()
                );
            }
            let started = Instant::now();
            let progress = !common.quiet && std::io::stderr().is_terminal();
            let picture = if header.kind == Kind::Vq {
                vq_codec_for(model.as_deref(), Some(&header.model_hash), common.backend)?
                    .decode_picture(&file, progress)?
            } else {
                let package = package_for(model.as_deref(), &header.model_name, &header.model_hash)?;
                Codec::new(package, common.backend)?.decode_picture(&file, progress)?
            };
            livc::io::write_picture(&output, &picture.rgb, picture.alpha.as_deref(), common.force)?;
            if !common.quiet {
                let (w, h) = (picture.rgb.width, picture.rgb.height);
                eprintln!("{w}×{h} decoded in {:.2} s", started.elapsed().as_secs_f64());
            }
            Ok(())
        }
        Command::Info { input, json } => {
            let peeked = livc::io::Peeked::open(&input)?;
            if peeked.head.starts_with(livc::bitstream::clip::CLIP_MAGIC) {
                let size = std::fs::metadata(&input).ok().filter(|m| m.is_file()).map(|m| m.len());
                return clip::info(peeked.into_reader(), size, json).with_context(|| input.display().to_string());
            }
            let file = peeked.read_all()?;
            let h = livc::codec::read_header(&file).with_context(|| input.display().to_string())?;
            let bpp = file.len() as f64 * 8.0 / (h.width as f64 * h.height as f64);
            // A VQ file's rate level: its codebook size and coded resolution.
            let level =
                if h.kind == Kind::Vq { livc::model::vq::LEVELS.get(h.quality as usize).copied() } else { None };
            // A VQ file's tiles cut its coded picture.
            let tiles = match level {
                Some(_) => VqCodec::layout(&h).2.len(),
                None => h.tiles().count(),
            };
            // A VQ file names its VQ package; that package names its image model.
            let base = match level {
                Some(_) => embedded::vq_package(&h.model_hash)?.map(|p| (p.info.base_name, p.info.base_hash)),
                None => None,
            };
            let value = serde_json::json!({
                "mode": if h.kind == Kind::Vq { "vq" } else { "scalar" },
                "image_model": base.as_ref().map(|(name, hash)| serde_json::json!({"name": name, "hash": hash})),
                "codebook_size": level.map(|(k, _)| k),
                "coded_scale": level.map(|(_, q)| q as f64 / 4.0),
                "format_version": file[4],
                "width": h.width, "height": h.height,
                // A VQ file's quality byte is its rate level, not a -q.
                "quality": if level.is_some() { None } else { Some(h.quality) },
                "level": level.map(|_| h.quality),
                "alpha": h.alpha,
                "model": h.model_name, "model_hash": hex(&h.model_hash),
                "tile": h.tile, "tiles": tiles,
                "encoded_with": format!("{:?}", h.producer).to_lowercase(),
                "decodable_with": ["cpu", "wgpu"],
                "bytes": file.len(), "bpp": bpp,
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("livc format v{}", file[4]);
                println!("size         {}×{}{}", h.width, h.height, if h.alpha { " with alpha" } else { "" });
                match level {
                    Some((k, q)) => println!(
                        "mode         VQ level {}: codebook of {k}, coded at 1/{} size",
                        h.quality,
                        q as f64 / 4.0
                    ),
                    None => println!("quality      {}", h.quality),
                }
                println!("model        {} ({})", h.model_name, hex(&h.model_hash));
                if let Some((name, hash)) = &base {
                    println!("image model  {name} ({hash})");
                }
                println!("tiles        {tiles} of {}×{}", h.tile, h.tile);
                println!("encoded with {} backend (decodable with any)", format!("{:?}", h.producer).to_lowercase());
                println!("bytes        {} ({bpp:.4} bpp)", file.len());
            }
            Ok(())
        }
        Command::Compare { original, decoded, livc } => {
            let (a, b) = (livc::io::read_image(&original)?, livc::io::read_image(&decoded)?);
            if (a.width, a.height) != (b.width, b.height) {
                bail!("the images differ in size: {}×{} vs {}×{}", a.width, a.height, b.width, b.height);
            }
            let mut line = format!("PSNR {:.2} dB", livc::io::psnr(&a, &b));
            if let Some(path) = livc {
                let bytes = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?.len();
                line = format!("{} bytes, {:.4} bpp, {line}", bytes, bytes as f64 * 8.0 / (a.width * a.height) as f64);
            }
            println!("{line}");
            Ok(())
        }
        Command::Train(a) => {
            let settings = TrainSettings {
                model: ModelConfig {
                    n: a.n,
                    m: a.m,
                    context_hidden: if a.slices.is_empty() { 0 } else { a.context_hidden },
                    slices: a.slices,
                    lambdas: vec![],
                    blocks: None,
                },
                lambda: a.lambda,
                batch: a.batch,
                crop: a.crop,
                learning_rate: a.lr,
                seed: a.seed,
                total_steps: a.steps,
                log_every: a.log_every,
                checkpoint_every: a.checkpoint_every,
                train_dir: a.train_dir,
                val_dir: a.val_dir,
            };
            livc::train::train(&a.run, settings, a.init_from.as_deref(), a.max_minutes, &a.backend.device())
        }
        Command::Export { run, output, quality, name, calibration, force } => {
            check_output(&run, &output, force)?;
            for file in (livc::train::RunPaths { dir: run.clone() }).files() {
                check_output(&file, &output, force)?;
            }
            let device = Backend::Cpu.device();
            let (model, state) = livc::train::load_run_model(&run, &device)?;
            let settings = &state.settings;
            let info = PackageInfo {
                name,
                quality,
                lambda: settings.lambda,
                config: settings.model.clone(),
                int_shifts: vec![],
                int_input_frac: 0,
                int_context_shifts: vec![],
                trained: format!(
                    "{}: {} steps, batch {}×{}², lr {}, {:.0} s",
                    state.trainer.as_deref().unwrap_or("livc train"),
                    state.step,
                    settings.batch,
                    settings.crop,
                    settings.learning_rate,
                    state.wall_seconds
                ),
            };
            let mut images = livc::train::data::load_folder(&calibration, 64)?;
            images.truncate(8);
            let bytes = livc::model::package::export(&model, info, &images, &device)?;
            livc::io::write_file(&output, &bytes, force)?;
            eprintln!("wrote {} ({} bytes)", output.display(), bytes.len());
            Ok(())
        }
        Command::ExportTemporal { run, base, output, name, force } => {
            check_output(&run, &output, force)?;
            check_output(&base, &output, force)?;
            let run_bytes = std::fs::read(&run).with_context(|| format!("cannot read {}", run.display()))?;
            let bytes = livc::model::temporal::export(&run_bytes, &Package::read(&base)?, &name)?;
            livc::io::write_file(&output, &bytes, force)?;
            eprintln!("wrote {} ({} bytes)", output.display(), bytes.len());
            Ok(())
        }
        Command::Bench { dataset, quality, model, backend, effort, json, limit, force } => {
            if let Some(json) = &json {
                check_output(&dataset, json, force)?;
            }
            let codec = codec_for(model.as_deref(), embedded::default_model, quality, backend)?.with_effort(effort)?;
            livc::bench::run(&codec, &dataset, limit, json.as_deref().map(|j| (j, force)))
        }
        Command::EvalVideo { clips, output, frames, gop, qualities, crfs, codecs, backend } => {
            let settings = livc::eval::video::VideoEvalSettings {
                clips,
                frames,
                gop,
                qualities,
                crfs,
                codecs,
                out: output,
                backend,
            };
            livc::eval::video::run_video_eval(&settings)?;
            eprintln!("livc eval-video: wrote {}", settings.out.join("summary.md").display());
            Ok(())
        }
        Command::Eval(a) => {
            let settings = livc::eval::EvalSettings {
                dataset: a.dataset,
                codecs: livc::eval::codecs::CodecKind::parse_list(&a.codecs)?,
                out: a.output,
                jobs: a.jobs,
                limit: a.limit,
                manifest: a.manifest,
                reference: a.reference,
                models: a.model,
                effort: a.effort,
                anchors: a.anchors,
                require_tools: a.require_tools,
                progress: std::io::stderr().is_terminal(),
            };
            let results = livc::eval::run(&settings)?;
            for r in &results {
                for a in &r.averages {
                    println!("{:9} q{:<3} {:.4} bpp  {:.2} dB", r.codec, a.quality, a.bpp, a.psnr);
                }
            }
            eprintln!("livc eval: wrote {}", settings.out.join("summary.md").display());
            Ok(())
        }
    }
}

/// The package a file names (`name`, `hash`): `model` when given, else the
/// embedded one with that hash.
fn package_for(model: Option<&Path>, name: &str, hash: &[u8; 8]) -> Result<Package> {
    match model {
        Some(path) => Package::read(path),
        None => embedded::package_with_hash(name, hash)?.with_context(|| {
            format!(
                "file needs model {name} ({}), which this build does not embed; pass --model FILE \
                 (livc's earlier models: weights/previous/ in its repository)",
                hex(hash)
            )
        }),
    }
}

/// The VQ codec of `model` (a VQ package file) or, without it, the embedded
/// VQ package with hash `hash` (the first one when `hash` is None); its image
/// model is the embedded one it was made for.
fn vq_codec_for(model: Option<&Path>, hash: Option<&[u8; 8]>, backend: Backend) -> Result<VqCodec> {
    let vq = match model {
        Some(p) => VqPackage::from_bytes(&std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?)
            .with_context(|| p.display().to_string())?,
        None => match hash {
            Some(h) => embedded::vq_package(h)?.with_context(|| {
                format!("file needs VQ model {}, which this build does not embed; pass --model FILE", hex(h))
            })?,
            None => embedded::vq_packages()?
                .into_iter()
                .next()
                .context("this build embeds no VQ model; pass --model FILE")?,
        },
    };
    let base = embedded::base_of(&vq)?;
    VqCodec::new(vq, &base, backend)
}

/// Says, before the work starts, that `--backend wgpu` without a hardware
/// GPU runs on a software Vulkan driver (lavapipe): correct, but minutes
/// for an image the CPU backend codes in about a second.
fn note_software_gpu(common: &Common) {
    if common.backend == Backend::Wgpu && !common.quiet && livc::gpu::Gpu::only_software() {
        eprintln!(
            "livc: note: no GPU found, so --backend wgpu runs on a software driver (lavapipe): tens of \
             seconds even for a thumbnail, minutes for a Kodak-sized image, against about a second with \
             --backend cpu"
        );
    }
}

/// The codec of a model file, else of the embedded model `default` picks
/// ([`embedded::default_model`] for images, [`embedded::clip_model`] for
/// clips), at `quality` if given.
fn codec_for(
    model: Option<&Path>,
    default: fn() -> Result<Package>,
    quality: Option<u8>,
    backend: Backend,
) -> Result<Codec> {
    let package = match model {
        Some(p) => Package::read(p)?,
        None => default()?,
    };
    if quality.is_some() && !package.info.config.is_variable_rate() {
        eprintln!(
            "livc: warning: model {} is trained for one rate (its own quality {}); -q is ignored",
            package.info.name, package.info.quality
        );
    }
    let codec = Codec::new(package, backend)?;
    match quality {
        Some(q) => codec.at_quality(q),
        None => Ok(codec),
    }
}

/// `codec` with the temporal prior (P-frames) of the file `path`, else the
/// embedded one trained for its model, when this build has one.
fn with_temporal(codec: Codec, path: Option<&Path>) -> Result<Codec> {
    let temporal = match path {
        Some(p) => Some(
            TemporalPackage::from_bytes(&std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?)
                .with_context(|| p.display().to_string())?,
        ),
        None => embedded::temporal_for(&codec.package)?,
    };
    match temporal {
        Some(temporal) => codec.with_temporal(temporal),
        None => Ok(codec),
    }
}

/// The output for `input`: `-o` as given; otherwise standard output for
/// standard input (refused when it is a terminal), else `default(input)`.
fn output_path(input: &Path, output: Option<PathBuf>, default: impl Fn(&Path) -> PathBuf) -> Result<PathBuf> {
    let output = match output {
        Some(o) => o,
        None if input == Path::new("-") => PathBuf::from("-"),
        // /dev/stdin (a link to a file when standard input is redirected
        // from one), a shell's <(…), a named pipe: no file name to follow.
        None if input.starts_with("/dev")
            || input.starts_with("/proc")
            || std::fs::metadata(input).is_ok_and(|m| !m.is_file()) =>
        {
            bail!(
                "{} is a pipe, a device or under /dev, so no output name follows from it: pass -o FILE (-o - for \
             standard output)",
                input.display()
            )
        }
        None => default(input),
    };
    if output == Path::new("-") && std::io::stdout().is_terminal() {
        bail!("refusing to write binary data to a terminal; redirect standard output or pass -o FILE");
    }
    Ok(output)
}

/// Refuses to overwrite an existing file unless forced, and the input with
/// its own output always (also through another name or a link).
fn check_output(input: &Path, output: &Path, force: bool) -> Result<()> {
    if output == Path::new("-") {
        return Ok(());
    }
    if livc::io::same_file(input, output) {
        bail!("{} is the input; choose another output", output.display());
    }
    if output.is_dir() {
        bail!("{} is a folder; name the output file", output.display());
    }
    if output.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", output.display());
    }
    match output.parent() {
        Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => {
            bail!("cannot write {}: folder {} does not exist", output.display(), folder.display())
        }
        _ => Ok(()),
    }
}
