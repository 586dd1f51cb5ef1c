//! What the VQ mode's index prior saves (issue 20): on every image of a
//! folder and at every rate level (codebook size K, coded resolution), the file's bytes against the same
//! indices at fixed length (log2 K bits each), the container's share, the
//! codewords used, and encode/decode times (CPU backend, 2 cores here).
//!
//! usage: cargo run --example vq_prior -- IMAGE_FOLDER   (Markdown on stdout)

use anyhow::{Context, Result};
use livc::Backend;
use livc::codec::{DEFAULT_TILE, VqCodec};
use livc::model::embedded;
use std::collections::BTreeSet;
use std::time::Instant;

fn main() -> Result<()> {
    let folder = std::env::args().nth(1).context("usage: vq_prior IMAGE_FOLDER")?;
    let images = livc::eval::dataset_images(std::path::Path::new(&folder), None)?;
    let vq = embedded::vq_packages()?.into_iter().next().context("no embedded VQ package")?;
    let base = embedded::base_of(&vq)?;
    let levels = livc::model::vq::LEVELS;
    println!("VQ package {} on {} images of {folder} (CPU backend)\n", vq.info.name, images.len());
    println!(
        "| level | K | coded at | bpp (file) | bits per index, prior | fixed length | prior saves | container + lane flush | codewords used | encode s | decode s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (level, &(k, quarters)) in levels.iter().enumerate() {
        let q = (level * 20) as u8;
        let codec = VqCodec::new(vq.clone(), &base, Backend::Cpu)?.at_quality(q)?;
        assert_eq!(codec.level(), (level as u8, k, quarters));
        let (mut bytes, mut ideal, mut indices, mut pixels) = (0usize, 0.0, 0usize, 0usize);
        let (mut enc_s, mut dec_s) = (0.0, 0.0);
        let mut used = BTreeSet::new();
        for path in &images {
            let img = livc::io::read_image(path)?;
            let t = Instant::now();
            let e = codec.encode_image(&img, DEFAULT_TILE, false)?;
            enc_s += t.elapsed().as_secs_f64();
            let t = Instant::now();
            codec.decode_picture(&e.bytes, false)?;
            dec_s += t.elapsed().as_secs_f64();
            for tile in codec.parse(&e.bytes)? {
                indices += tile.len();
                used.extend(tile);
            }
            bytes += e.bytes.len();
            ideal += e.ideal_bits;
            pixels += img.width * img.height;
        }
        let n = images.len() as f64;
        let fixed = (k as f64).log2();
        let per_index = ideal / indices as f64;
        println!(
            "| {level} | {k} | 1/{} | {:.4} | {per_index:.2} | {fixed:.0} | {:.1} % | {:.1} % | {} of {k} | {:.2} | {:.2} |",
            quarters as f64 / 4.0,
            bytes as f64 * 8.0 / pixels as f64,
            (1.0 - per_index / fixed) * 100.0,
            (1.0 - ideal / (bytes as f64 * 8.0)) * 100.0,
            used.len(),
            enc_s / n,
            dec_s / n
        );
    }
    println!(
        "\n'prior saves': the ideal bits of the index prior's tables against log2 K bits per index; \
              'container + lane flush': the share of the file that is not coded indices (header, lane tables, \
              each segment's 4-byte rANS flush, CRC)."
    );
    Ok(())
}
