//! Side-by-side crops at about one bpp (issue 20): for each named image of a
//! folder, livc VQ and each low-rate anchor at the quality whose bpp is
//! nearest the target, 256×256 from the centre of each, in one PNG per image
//! (left to right: original, then the codecs in the order the Markdown
//! caption gives, with their bpp).
//!
//! usage: cargo run --example vq_crops -- IMAGE_FOLDER OUT_DIR BPP NAME...

use anyhow::{Context, Result};
use livc::eval::codecs::{CodecKind, LivcModels};
use livc::io::RgbImage;
use std::fmt::Write;
use std::path::{Path, PathBuf};

const SIDE: usize = 256;

fn crop(img: &RgbImage) -> RgbImage {
    let (x0, y0) = ((img.width - SIDE.min(img.width)) / 2, (img.height - SIDE.min(img.height)) / 2);
    img.crop(x0, y0, SIDE.min(img.width), SIDE.min(img.height))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, folder, out, target, names @ ..] = args.as_slice() else {
        anyhow::bail!("usage: vq_crops IMAGE_FOLDER OUT_DIR BPP NAME...")
    };
    let target: f64 = target.parse()?;
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let livc = LivcModels::embedded()?;
    let codecs = CodecKind::LOW_RATE;
    let mut md =
        format!("Centre 256×256 crops at the quality nearest {target} bpp (made by `evaluation/vq_rd.sh`).\n\n");
    for name in names {
        let source = livc::eval::dataset_images(Path::new(folder), None)?
            .into_iter()
            .find(|p| p.file_stem().is_some_and(|s| s == name.as_str()))
            .with_context(|| format!("no image {name} in {folder}"))?;
        let original = livc::io::read_image(&source)?;
        let pixels = (original.width * original.height) as f64;
        let mut panels = vec![crop(&original)];
        write!(md, "**{name}** (left to right): original")?;
        for codec in codecs {
            let work = out.join("work").join(codec.name());
            let mut best: Option<(f64, livc::eval::codecs::Trial, i32)> = None;
            for q in codec.qualities(&livc) {
                let trial = codec.run(&livc, &source, &original, q, &work)?;
                let bpp = trial.bytes as f64 * 8.0 / pixels;
                if best.as_ref().is_none_or(|(b, _, _)| (bpp - target).abs() < (b - target).abs()) {
                    best = Some((bpp, trial, q));
                }
            }
            let (bpp, trial, q) = best.unwrap();
            panels.push(crop(&trial.decoded));
            write!(md, ", {} q{q} at {bpp:.4} bpp", codec.label())?;
        }
        writeln!(md, ".\n\n![{name}]({name}.png)\n")?;
        let mut sheet =
            RgbImage { width: SIDE * panels.len(), height: SIDE, pixels: vec![255; SIDE * panels.len() * SIDE * 3] };
        for (i, p) in panels.iter().enumerate() {
            for y in 0..p.height {
                let d = (y * sheet.width + i * SIDE) * 3;
                sheet.pixels[d..d + p.width * 3].copy_from_slice(&p.pixels[y * p.width * 3..(y + 1) * p.width * 3]);
            }
        }
        livc::io::write_image(&out.join(format!("{name}.png")), &sheet)?;
        std::fs::remove_dir_all(out.join("work")).ok();
    }
    std::fs::write(out.join("README.md"), md)?;
    Ok(())
}
