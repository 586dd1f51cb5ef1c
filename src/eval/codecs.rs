//! The codecs the evaluation sweeps: livc in-process, the classical ones
//! through their Debian command-line tools. Every external tool runs single-
//! threaded (`--jobs` parallelises over images instead), and every colour
//! conversion a codec needs is part of that codec: metrics always compare the
//! decoded RGB with the original.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::Backend;
use crate::codec::{Codec, DEFAULT_TILE, VqCodec};
use crate::io::{RgbImage, read_image, write_image};
use crate::model::embedded;
use crate::model::package::{Package, hex};
use crate::model::rate::MAX_QUALITY;
use crate::model::refine;
use crate::model::vq::VqPackage;

/// One codec configuration the evaluation knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CodecKind {
    /// livc's scalar model (the embedded one or `--model` files), in-process.
    Livc,
    /// JPEG 4:4:4 (libjpeg-turbo's cjpeg/djpeg).
    Jpeg444,
    /// JPEG 4:2:0 (libjpeg-turbo's cjpeg/djpeg).
    Jpeg420,
    /// WebP (cwebp -m 6).
    Webp,
    /// AVIF 4:4:4 (libaom through avifenc, speed 4).
    Avif,
    /// JPEG XL (cjxl -e 7).
    Jxl,
    /// HEVC intra 4:4:4 (x265 through ffmpeg).
    X265_444,
    /// HEVC intra 4:2:0 (x265 through ffmpeg).
    X265_420,
    /// livc's VQ codebook mode ([`crate::codec::VqCodec`]).
    LivcVq,
    /// The low-rate anchors of the VQ mode (issue 20): AVIF at its lowest
    /// qualities, and AVIF and JPEG on the image downscaled 2× or 4×
    /// (Lanczos 3), upscaled back the same way after decoding.
    AvifLow,
    /// AVIF 4:4:4 on a 2× downscale.
    Avif2x,
    /// AVIF 4:4:4 on a 4× downscale.
    Avif4x,
    /// JPEG 4:2:0 on a 2× downscale.
    Jpeg2x,
    /// JPEG 4:2:0 on a 4× downscale.
    Jpeg4x,
}

/// The livc models a sweep runs: the embedded default, or package files.
pub struct LivcModels {
    packages: Vec<Package>,
    /// Encoder effort ([`Codec::with_effort`]).
    effort: u8,
}

impl LivcModels {
    /// The embedded default model ([`embedded::default_model`]).
    pub fn embedded() -> Result<Self> {
        Ok(Self { packages: vec![embedded::default_model()?], effort: refine::DEFAULT_EFFORT })
    }

    /// One variable-rate model, or per-rate models of distinct qualities.
    pub fn files(paths: &[PathBuf]) -> Result<Self> {
        let mut packages = Vec::new();
        for path in paths {
            let package = Package::read(path)?;
            if package.info.config.is_variable_rate() && paths.len() > 1 {
                bail!("{} is a variable-rate model: it makes a curve on its own", path.display());
            }
            if packages.iter().any(|p: &Package| p.info.quality == package.info.quality) {
                bail!("two models for quality {} (the curve needs one per quality)", package.info.quality);
            }
            packages.push(package);
        }
        packages.sort_by_key(|p| p.info.quality);
        Ok(Self { packages, effort: refine::DEFAULT_EFFORT })
    }

    /// Encodes at `effort` (1..=9).
    pub fn with_effort(mut self, effort: u8) -> Result<Self> {
        self.effort = refine::checked(effort)?;
        Ok(self)
    }

    /// Every quality of a variable-rate model in steps of 20, else each
    /// per-rate model's own.
    fn qualities(&self) -> Vec<i32> {
        if self.packages.iter().any(|p| p.info.config.is_variable_rate()) {
            return (0..=MAX_QUALITY as i32).step_by(20).collect();
        }
        let mut q: Vec<i32> = self.packages.iter().map(|p| p.info.quality as i32).collect();
        q.sort();
        q.dedup();
        q
    }

    /// The models' names: the curve's name in `curves.json`.
    pub fn name(&self) -> String {
        let name = self.packages.iter().map(|p| p.info.name.as_str()).collect::<Vec<_>>().join("+");
        if self.effort == refine::DEFAULT_EFFORT { name } else { format!("{name}-e{}", self.effort) }
    }

    /// Names and hashes, and the quantiser (effort 1) or the search above
    /// it: new weights, a new quantiser or a new search invalidate cached rows.
    fn version(&self) -> String {
        let models: Vec<String> = self.packages.iter().map(|p| format!("{} {}", p.info.name, hex(&p.hash))).collect();
        let version = format!("livc {} ({})", env!("CARGO_PKG_VERSION"), models.join(", "));
        if self.effort == refine::DEFAULT_EFFORT {
            format!("{version}, {}", crate::codec::rdoq::describe())
        } else {
            format!("{version}, effort {} (search: {})", self.effort, refine::search())
        }
    }

    fn run(&self, original: &RgbImage, q: i32) -> Result<Trial> {
        let q = u8::try_from(q).context("livc quality out of range")?;
        let package = self
            .packages
            .iter()
            .find(|p| p.info.config.is_variable_rate() || p.info.quality == q)
            .with_context(|| format!("no livc model for quality {q}"))?;
        let codec = Codec::new(package.clone(), Backend::Cpu)?.at_quality(q)?.with_effort(self.effort)?;
        let start = Instant::now();
        let encoded = codec.encode_image(original, DEFAULT_TILE, false)?;
        let encode_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let decoded = codec.decode_image(&encoded.bytes, false)?;
        let decode_s = start.elapsed().as_secs_f64();
        Ok(Trial { bytes: encoded.bytes.len(), decoded, encode_s, decode_s })
    }
}

impl LivcModels {
    /// The embedded VQ package and the image model it was made for.
    fn vq(&self) -> Result<(VqPackage, Package)> {
        let vq = embedded::vq_packages()?.into_iter().next().context("this build embeds no VQ model")?;
        let base = embedded::base_of(&vq)?;
        Ok((vq, base))
    }

    fn vq_version(&self) -> String {
        match self.vq() {
            Ok((vq, base)) => format!(
                "livc {} ({} {} on {} {})",
                env!("CARGO_PKG_VERSION"),
                vq.info.name,
                hex(&vq.hash),
                base.info.name,
                hex(&base.hash)
            ),
            Err(e) => format!("{e:#}"),
        }
    }

    fn run_vq(&self, original: &RgbImage, q: i32) -> Result<Trial> {
        let q = u8::try_from(q).context("livc quality out of range")?;
        let (vq, base) = self.vq()?;
        let codec = VqCodec::new(vq, &base, Backend::Cpu)?.at_quality(q)?;
        let start = Instant::now();
        let encoded = codec.encode_image(original, DEFAULT_TILE, false)?;
        let encode_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let decoded = codec.decode_picture(&encoded.bytes, false)?.rgb;
        let decode_s = start.elapsed().as_secs_f64();
        Ok(Trial { bytes: encoded.bytes.len(), decoded, encode_s, decode_s })
    }
}

/// Result of coding one image at one quality.
pub struct Trial {
    /// Size of the coded file.
    pub bytes: usize,
    pub decoded: RgbImage,
    /// Wall-clock seconds to encode (external tools: including process start).
    pub encode_s: f64,
    /// Wall-clock seconds to decode, likewise.
    pub decode_s: f64,
}

impl CodecKind {
    /// The codecs `--codecs all` sweeps: livc and the classical ones (not the
    /// low-rate set, [`CodecKind::LOW_RATE`]).
    pub const ALL: [CodecKind; 8] = [
        CodecKind::Livc,
        CodecKind::Jpeg444,
        CodecKind::Jpeg420,
        CodecKind::Webp,
        CodecKind::Avif,
        CodecKind::Jxl,
        CodecKind::X265_444,
        CodecKind::X265_420,
    ];

    /// The codec's name in `--codecs`, file and folder names (e.g. `jpeg-444`).
    pub fn name(self) -> &'static str {
        match self {
            CodecKind::Livc => "livc",
            CodecKind::Jpeg444 => "jpeg-444",
            CodecKind::Jpeg420 => "jpeg-420",
            CodecKind::Webp => "webp",
            CodecKind::Avif => "avif",
            CodecKind::Jxl => "jxl",
            CodecKind::X265_444 => "x265-444",
            CodecKind::X265_420 => "x265-420",
            CodecKind::LivcVq => "livc-vq",
            CodecKind::AvifLow => "avif-low",
            CodecKind::Avif2x => "avif-2x",
            CodecKind::Avif4x => "avif-4x",
            CodecKind::Jpeg2x => "jpeg-2x",
            CodecKind::Jpeg4x => "jpeg-4x",
        }
    }

    /// The codec's name for tables and plots, with its tool and settings.
    pub fn label(self) -> &'static str {
        match self {
            CodecKind::Livc => "livc (this repo)",
            CodecKind::Jpeg444 => "JPEG 4:4:4 (libjpeg-turbo)",
            CodecKind::Jpeg420 => "JPEG 4:2:0 (libjpeg-turbo)",
            CodecKind::Webp => "WebP (cwebp -m 6)",
            CodecKind::Avif => "AVIF 4:4:4 (libaom, speed 4)",
            CodecKind::Jxl => "JPEG XL (cjxl -e 7)",
            CodecKind::X265_444 => "HEVC intra 4:4:4 (x265)",
            CodecKind::X265_420 => "HEVC intra 4:2:0 (x265)",
            CodecKind::LivcVq => "livc VQ mode (this repo)",
            CodecKind::AvifLow => "AVIF 4:4:4, lowest qualities",
            CodecKind::Avif2x => "AVIF 4:4:4 on a 2× downscale (Lanczos up)",
            CodecKind::Avif4x => "AVIF 4:4:4 on a 4× downscale (Lanczos up)",
            CodecKind::Jpeg2x => "JPEG 4:2:0 on a 2× downscale (Lanczos up)",
            CodecKind::Jpeg4x => "JPEG 4:2:0 on a 4× downscale (Lanczos up)",
        }
    }

    /// The VQ mode and its low-rate anchors (`--codecs low-rate`, with livc's
    /// scalar model at its lowest qualities).
    pub const LOW_RATE: [CodecKind; 6] = [
        CodecKind::LivcVq,
        CodecKind::AvifLow,
        CodecKind::Avif2x,
        CodecKind::Avif4x,
        CodecKind::Jpeg2x,
        CodecKind::Jpeg4x,
    ];

    /// The codec whose tool codes a low-rate anchor, and the factor it
    /// downscales by first (1: none).
    fn base(self) -> (CodecKind, usize) {
        match self {
            CodecKind::AvifLow => (CodecKind::Avif, 1),
            CodecKind::Avif2x => (CodecKind::Avif, 2),
            CodecKind::Avif4x => (CodecKind::Avif, 4),
            CodecKind::Jpeg2x => (CodecKind::Jpeg420, 2),
            CodecKind::Jpeg4x => (CodecKind::Jpeg420, 4),
            other => (other, 1),
        }
    }

    /// Parses a `--codecs` entry; `jpeg` and `x265` name both subsamplings.
    pub fn parse_list(list: &str) -> Result<Vec<CodecKind>> {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let kinds: Vec<CodecKind> = match item {
                "all" => CodecKind::ALL.to_vec(),
                "jpeg" => vec![CodecKind::Jpeg444, CodecKind::Jpeg420],
                "x265" => vec![CodecKind::X265_444, CodecKind::X265_420],
                "low-rate" => [CodecKind::Livc].into_iter().chain(CodecKind::LOW_RATE).collect(),
                other => match CodecKind::ALL.iter().chain(&CodecKind::LOW_RATE).find(|k| k.name() == other) {
                    Some(k) => vec![*k],
                    None => bail!(
                        "unknown codec '{other}' (known: all, jpeg, x265, low-rate, {}, {})",
                        CodecKind::ALL.map(|k| k.name()).join(", "),
                        CodecKind::LOW_RATE.map(|k| k.name()).join(", ")
                    ),
                },
            };
            for k in kinds {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        if out.is_empty() {
            bail!("no codec given");
        }
        Ok(out)
    }

    /// The quality sweep, from the smallest files to the largest, chosen to
    /// span roughly 0.1–2 bpp on Kodak.
    pub fn qualities(self, livc: &LivcModels) -> Vec<i32> {
        match self {
            CodecKind::Livc => livc.qualities(),
            CodecKind::Jpeg444 | CodecKind::Jpeg420 => vec![5, 10, 20, 30, 50, 70, 85, 95],
            CodecKind::Webp => vec![2, 10, 30, 50, 70, 85, 95],
            // avifenc's quantizer: lower is better.
            CodecKind::Avif => vec![56, 48, 40, 32, 24, 16],
            CodecKind::Jxl => vec![10, 30, 50, 70, 85, 95],
            // CRF: lower is better.
            CodecKind::X265_444 | CodecKind::X265_420 => vec![42, 37, 32, 27, 22, 17],
            // One quality per rate level (six: -q 0, 20, …, 100).
            CodecKind::LivcVq => vec![0, 20, 40, 60, 80, 100],
            CodecKind::AvifLow => vec![63, 62, 60, 58, 56],
            CodecKind::Avif2x => vec![63, 60, 56, 50, 44],
            CodecKind::Avif4x => vec![63, 56, 48, 40, 32],
            CodecKind::Jpeg2x => vec![2, 5, 10, 20, 35],
            CodecKind::Jpeg4x => vec![5, 10, 25, 50, 75],
        }
    }

    /// External programs this codec needs.
    pub fn tools(self) -> &'static [&'static str] {
        match self.base().0 {
            CodecKind::Livc | CodecKind::LivcVq => &[],
            CodecKind::AvifLow | CodecKind::Avif2x | CodecKind::Avif4x | CodecKind::Jpeg2x | CodecKind::Jpeg4x => {
                unreachable!("a low-rate anchor runs its base codec")
            }

            CodecKind::Jpeg444 | CodecKind::Jpeg420 => &["cjpeg", "djpeg"],
            CodecKind::Webp => &["cwebp", "dwebp"],
            CodecKind::Avif => &["avifenc", "avifdec"],
            CodecKind::Jxl => &["cjxl", "djxl"],
            CodecKind::X265_444 | CodecKind::X265_420 => &["ffmpeg"],
        }
    }

    /// The Debian package that provides the tools, for error messages.
    pub fn package(self) -> &'static str {
        match self.base().0 {
            CodecKind::Livc | CodecKind::LivcVq => "",
            CodecKind::AvifLow | CodecKind::Avif2x | CodecKind::Avif4x | CodecKind::Jpeg2x | CodecKind::Jpeg4x => {
                unreachable!("a low-rate anchor runs its base codec")
            }

            CodecKind::Jpeg444 | CodecKind::Jpeg420 => "libjpeg-turbo-progs",
            CodecKind::Webp => "webp",
            CodecKind::Avif => "libavif-bin",
            CodecKind::Jxl => "libjxl-tools",
            CodecKind::X265_444 | CodecKind::X265_420 => "ffmpeg",
        }
    }

    /// The first missing tool, if any.
    pub fn missing_tool(self) -> Option<&'static str> {
        self.tools().iter().copied().find(|t| find_in_path(t).is_none())
    }

    /// The tool's version line, recorded with the results.
    pub fn version(self, livc: &LivcModels) -> String {
        let (tool, arg) = match self.base().0 {
            CodecKind::Livc => return livc.version(),
            CodecKind::LivcVq => return livc.vq_version(),
            CodecKind::AvifLow | CodecKind::Avif2x | CodecKind::Avif4x | CodecKind::Jpeg2x | CodecKind::Jpeg4x => {
                unreachable!("a low-rate anchor runs its base codec")
            }

            CodecKind::Jpeg444 | CodecKind::Jpeg420 => ("cjpeg", "-version"),
            CodecKind::Webp => ("cwebp", "-version"),
            CodecKind::Avif => ("avifenc", "--version"),
            CodecKind::Jxl => ("cjxl", "--version"),
            CodecKind::X265_444 | CodecKind::X265_420 => ("ffmpeg", "-version"),
        };
        tool_version(tool, arg)
    }

    /// The commands run for quality `Q`, as recorded in the results.
    pub fn command_template(self) -> Vec<String> {
        let q = "{Q}";
        let (base, scale) = self.base();
        let mut commands: Vec<String> = base
            .commands(Path::new("IN.png"), Path::new("IN.ppm"), Path::new("OUT"), Path::new("DEC"), q)
            .into_iter()
            .map(|args| args.join(" "))
            .collect();
        if scale > 1 {
            commands.insert(
                0,
                format!("(IN: the image downscaled {scale}× with Lanczos 3; DEC upscaled back the same way)"),
            );
        }
        if self == CodecKind::X265_420 {
            commands.push("(x265 codes 4:2:0 at even sizes only: odd images are edge-padded to even first, the decoded image cropped)".into());
        }
        commands
    }

    /// (encode, decode) argument lists; the first element is the program.
    fn commands(self, png: &Path, ppm: &Path, coded: &Path, decoded: &Path, q: &str) -> Vec<Vec<String>> {
        let s = |p: &Path| p.display().to_string();
        let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<String>>();
        match self {
            CodecKind::Livc => vec![v(&["livc encode (in-process)", "-q", q]), v(&["livc decode (in-process)"])],
            CodecKind::LivcVq => {
                vec![v(&["livc encode --vq (in-process)", "-q", q]), v(&["livc decode (in-process)"])]
            }
            CodecKind::AvifLow | CodecKind::Avif2x | CodecKind::Avif4x | CodecKind::Jpeg2x | CodecKind::Jpeg4x => {
                unreachable!("a low-rate anchor runs its base codec")
            }

            CodecKind::Jpeg444 | CodecKind::Jpeg420 => {
                let mut enc = v(&["cjpeg", "-quality", q, "-optimize"]);
                if self == CodecKind::Jpeg444 {
                    enc.extend(v(&["-sample", "1x1"]));
                }
                enc.extend(["-outfile".into(), s(coded), s(ppm)]);
                vec![enc, vec!["djpeg".into(), "-ppm".into(), "-outfile".into(), s(decoded), s(coded)]]
            }
            CodecKind::Webp => vec![
                vec![
                    "cwebp".into(),
                    "-quiet".into(),
                    "-m".into(),
                    "6".into(),
                    "-q".into(),
                    q.into(),
                    s(png),
                    "-o".into(),
                    s(coded),
                ],
                vec!["dwebp".into(), "-quiet".into(), s(coded), "-ppm".into(), "-o".into(), s(decoded)],
            ],
            CodecKind::Avif => vec![
                vec![
                    "avifenc".into(),
                    "-c".into(),
                    "aom".into(),
                    "-s".into(),
                    "4".into(),
                    "-j".into(),
                    "1".into(),
                    "-y".into(),
                    "444".into(),
                    "-d".into(),
                    "8".into(),
                    "--min".into(),
                    q.into(),
                    "--max".into(),
                    q.into(),
                    s(png),
                    s(coded),
                ],
                vec!["avifdec".into(), "-j".into(), "1".into(), "-d".into(), "8".into(), s(coded), s(decoded)],
            ],
            CodecKind::Jxl => vec![
                vec![
                    "cjxl".into(),
                    s(png),
                    s(coded),
                    "-e".into(),
                    "7".into(),
                    "-q".into(),
                    q.into(),
                    "--num_threads=0".into(),
                    "--quiet".into(),
                ],
                vec!["djxl".into(), s(coded), s(decoded), "--num_threads=0".into(), "--quiet".into()],
            ],
            CodecKind::X265_444 | CodecKind::X265_420 => {
                // Full-range BT.601 YCbCr, as BPG does; the raw HEVC stream (no container,
                // and info=0 drops the 2 kB SEI in which x265 writes its settings).
                let pix = if self == CodecKind::X265_444 { "yuv444p" } else { "yuv420p" };
                // Quiet, overwriting, single-threaded ffmpeg reading `input`.
                let ffmpeg = |input: &Path, rest: Vec<String>| {
                    let mut args = v(&["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
                    args.extend(v(&["-threads", "1", "-i"]));
                    args.push(s(input));
                    args.extend(rest);
                    args
                };
                vec![
                    ffmpeg(
                        png,
                        vec![
                            "-vf".into(),
                            format!(
                                "scale=out_color_matrix=bt601:out_range=full:flags=accurate_rnd+full_chroma_int,format={pix}"
                            ),
                            "-color_range".into(),
                            "pc".into(),
                            "-c:v".into(),
                            "libx265".into(),
                            "-preset".into(),
                            "slow".into(),
                            "-tune".into(),
                            "psnr".into(),
                            "-x265-params".into(),
                            format!("crf={q}:pools=1:frame-threads=1:log-level=error:info=0"),
                            "-frames:v".into(),
                            "1".into(),
                            "-f".into(),
                            "hevc".into(),
                            s(coded),
                        ],
                    ),
                    ffmpeg(
                        coded,
                        vec![
                            "-vf".into(),
                            "scale=in_color_matrix=bt601:in_range=full:flags=accurate_rnd+full_chroma_int,format=rgb24"
                                .into(),
                            "-frames:v".into(),
                            "1".into(),
                            "-f".into(),
                            "image2".into(),
                            "-c:v".into(),
                            "ppm".into(),
                            s(decoded),
                        ],
                    ),
                ]
            }
        }
    }

    /// Codes `original` (read from `source`) at quality `q`, using `work` as
    /// scratch space.
    pub fn run(self, livc: &LivcModels, source: &Path, original: &RgbImage, q: i32, work: &Path) -> Result<Trial> {
        match self.base() {
            (CodecKind::Livc, _) => return livc.run(original, q),
            (CodecKind::LivcVq, _) => return livc.run_vq(original, q),
            (base, 1) if base != self => return base.run(livc, source, original, q, work),
            (base, scale) if scale > 1 => {
                std::fs::create_dir_all(work)?;
                let small = crate::io::resize_lanczos(
                    original,
                    original.width.div_ceil(scale),
                    original.height.div_ceil(scale),
                );
                let path = work.join("small.png");
                write_image(&path, &small)?;
                let mut trial = base.run(livc, &path, &small, q, work)?;
                trial.decoded = crate::io::resize_lanczos(&trial.decoded, original.width, original.height);
                return Ok(trial);
            }
            _ => {}
        }
        std::fs::create_dir_all(work)?;
        // cjpeg reads PPM, the others PNG; write them when the source is not one.
        let ext = source.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let odd = original.width % 2 == 1 || original.height % 2 == 1;
        let padded = self == CodecKind::X265_420 && odd;
        let png = if ext == "png" && !padded { source.to_path_buf() } else { work.join("source.png") };
        let ppm = work.join("source.ppm");
        if matches!(self, CodecKind::Jpeg444 | CodecKind::Jpeg420) {
            write_ppm(&ppm, original)?;
        } else if padded {
            write_image(&png, &pad_to_even(original))?;
        } else if png != source {
            write_image(&png, original)?;
        }
        let coded = work.join(match self {
            CodecKind::Jpeg444 | CodecKind::Jpeg420 => "coded.jpg",
            CodecKind::Webp => "coded.webp",
            CodecKind::Avif => "coded.avif",
            CodecKind::Jxl => "coded.jxl",
            _ => "coded.hevc",
        });
        let decoded = work.join(if self == CodecKind::Avif { "decoded.png" } else { "decoded.ppm" });
        let commands = self.commands(&png, &ppm, &coded, &decoded, &q.to_string());
        let encode_s = run_tool(&commands[0])?;
        let bytes = std::fs::metadata(&coded).with_context(|| format!("{} wrote no output", commands[0][0]))?.len();
        let decode_s = run_tool(&commands[1])?;
        let mut decoded_image = read_image(&decoded)?;
        // A picture smaller than the padded one is left for the size check below.
        if padded && decoded_image.width >= original.width && decoded_image.height >= original.height {
            decoded_image = decoded_image.crop(0, 0, original.width, original.height);
        }
        if (decoded_image.width, decoded_image.height) != (original.width, original.height) {
            bail!(
                "{} decoded a {}×{} image from a {}×{} original",
                self.name(),
                decoded_image.width,
                decoded_image.height,
                original.width,
                original.height
            );
        }
        Ok(Trial { bytes: bytes as usize, decoded: decoded_image, encode_s, decode_s })
    }
}

/// Runs a tool, returns its wall time; a failure carries the tool's stderr.
fn run_tool(args: &[String]) -> Result<f64> {
    let start = Instant::now();
    let output = Command::new(&args[0]).args(&args[1..]).output().with_context(|| format!("cannot run {}", args[0]))?;
    let seconds = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("{} failed ({}): {}", args.join(" "), output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(seconds)
}

/// Repeats the last column and row to make both sides even.
fn pad_to_even(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width.next_multiple_of(2), img.height.next_multiple_of(2));
    let mut pixels = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        let row = y.min(img.height - 1) * img.width;
        for x in 0..w {
            let i = (row + x.min(img.width - 1)) * 3;
            pixels.extend_from_slice(&img.pixels[i..i + 3]);
        }
    }
    RgbImage { width: w, height: h, pixels }
}

/// Binary PPM (P6), the input cjpeg reads.
fn write_ppm(path: &Path, img: &RgbImage) -> Result<()> {
    let mut bytes = format!("P6\n{} {}\n255\n", img.width, img.height).into_bytes();
    bytes.extend_from_slice(&img.pixels);
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The first file named `tool` in a folder of `PATH`, if any.
pub fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|p| p.is_file())
}

/// The first non-empty line `tool arg` prints (stdout or stderr), such as
/// `ffmpeg -version`'s; "not installed" when the tool cannot be run.
pub(crate) fn tool_version(tool: &str, arg: &str) -> String {
    match Command::new(tool).arg(arg).output() {
        Ok(o) => {
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
        }
        Err(_) => "not installed".into(),
    }
}
