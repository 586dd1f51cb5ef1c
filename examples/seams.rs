//! What the windowed transforms cost on large images (issue 18): for each
//! image, the default windows against whole-image processing and against
//! windows without halo (independent tiles, livc's behaviour before).
//!
//! `cargo run --example seams -- [-q Q] IMAGE...` (evaluation/seams.sh runs it
//! on CLIC). Prints, per image and window layout: bpp, RGB PSNR, the seam
//! ratio at the 1024-pixel window borders (`eval::metrics::seam_ratio`), and
//! the largest difference from whole-image processing.

use livc::codec::{Codec, DEFAULT_TILE, Windows};
use livc::eval::metrics::{psnr_rgb, seam_ratio};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let quality = match args.iter().position(|a| a == "-q") {
        Some(i) => {
            let q = args[i + 1].parse()?;
            args.drain(i..i + 2);
            q
        }
        None => 0,
    };
    let package = livc::model::embedded::default_model()?;
    let period = livc::codec::window::WINDOW * livc::model::Y_STRIDE;
    println!("| image | layout | bpp | PSNR dB | seam ratio | max |Δ| vs whole | pixels differing |");
    println!("|---|---|---|---|---|---|---|");
    for path in &args {
        let img = livc::io::read_image(std::path::Path::new(path))?;
        let name =
            std::path::Path::new(path).file_stem().unwrap().to_string_lossy().chars().take(12).collect::<String>();
        let mut whole = None;
        let layouts = [
            ("whole image", Windows::WHOLE),
            ("default windows", Windows::DEFAULT),
            ("halo 4", Windows { halo: 4, ..Windows::DEFAULT }),
            ("halo 16", Windows { halo: 16, ..Windows::DEFAULT }),
            ("no halo (tiles)", Windows { halo: 0, ..Windows::DEFAULT }),
        ];
        for (label, layout) in layouts {
            let codec = Codec::new(package.clone(), livc::Backend::Cpu)?.at_quality(quality)?.with_windows(layout);
            let encoded = codec.encode_image_reconstructed(&img, DEFAULT_TILE, false)?;
            let rec = encoded.reconstruction.unwrap();
            let bpp = encoded.bytes.len() as f64 * 8.0 / (img.width * img.height) as f64;
            let seams = seam_ratio(&img, &rec, period).map_or("–".into(), |r| format!("{r:.2}"));
            let whole_rec: &livc::io::RgbImage = whole.get_or_insert(rec.clone());
            let diff = rec.pixels.iter().zip(&whole_rec.pixels).map(|(&a, &b)| a.abs_diff(b));
            let (max, differing) = diff.fold((0, 0usize), |(m, n), d| (m.max(d), n + (d > 0) as usize));
            println!(
                "| {name} | {label} | {bpp:.4} | {:.3} | {seams} | {max} | {:.2} % |",
                psnr_rgb(&img, &rec),
                100.0 * differing as f64 / rec.pixels.len() as f64
            );
        }
    }
    Ok(())
}
