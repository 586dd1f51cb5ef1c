//! The VQ codebook mode (issue 20): round trips at every codebook size, the
//! decoder reproducing the encoder's reconstruction, the index prior, the
//! CPU↔wgpu parse, and bad input, with the embedded VQ package.

mod common;

use common::{gradient, scratch, stderr};
use livc::Backend;
use livc::bitstream::{Kind, Reader};
use livc::codec::{Codec, DEFAULT_TILE, VqCodec};
use livc::io::RgbImage;
use livc::model::embedded;
use livc::model::vq::{CONTEXTS, GROUPS, VqPackage, checkerboard};
use std::process::Command;

fn package() -> VqPackage {
    embedded::vq_packages().unwrap().into_iter().next().expect("this build embeds a VQ package (weights/vq/)")
}

fn codec(backend: Backend) -> Option<VqCodec> {
    let vq = package();
    let base = embedded::base_of(&vq).unwrap();
    match VqCodec::new(vq, &base, backend) {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(backend != Backend::Cpu, "{e:#}");
            assert!(std::env::var("LIVC_REQUIRE_WGPU").map_or(true, |v| v != "1"), "wgpu backend unavailable: {e:#}");
            eprintln!("SKIPPED VQ wgpu test: {e:#}");
            None
        }
    }
}

/// A photo-like test picture: a gradient with some texture.
fn picture(w: usize, h: usize) -> RgbImage {
    gradient(w, h, 7)
}

/// The bundled sample (a 384×256 crop of Kodak's kodim23).
fn sample() -> RgbImage {
    livc::io::read_image(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/sample/kodim23-crop.png")))
        .unwrap()
}

#[test]
fn every_rate_level_round_trips_and_costs_more_bits_than_the_last() {
    let img = sample();
    let (mut last_bits, mut last_psnr) = (0.0, 0.0);
    // -q 0, 20, …, 100: one quality per rate level.
    for (q, expected_level) in [0u8, 20, 40, 60, 80, 100].into_iter().zip(0..) {
        let cpu = codec(Backend::Cpu).unwrap().at_quality(q).unwrap();
        let (level, k, quarters) = cpu.level();
        assert_eq!(level, expected_level);
        assert_eq!(livc::model::vq::LEVELS[level as usize], (k, quarters));
        let encoded = cpu.encode_image_reconstructed(&img, DEFAULT_TILE, false).unwrap();
        let (header, _) = Reader::open(&encoded.bytes).unwrap();
        assert_eq!((header.kind, header.quality, header.width, header.height), (Kind::Vq, level, 384, 256));
        let decoded = cpu.decode_picture(&encoded.bytes, false).unwrap().rgb;
        assert_eq!((decoded.width, decoded.height), (384, 256));
        // Same backend: the decoder shows exactly what the encoder reconstructed.
        assert_eq!(decoded.pixels, encoded.reconstruction.unwrap().pixels, "q{q}");
        // The lanes cost what the tables say, within the lanes' flush bytes.
        assert!(encoded.lane_bits >= encoded.ideal_bits && encoded.lane_bits < encoded.ideal_bits + 3.0 * 8.0 * 8.0);
        // Each level costs more bits than the one below.
        assert!(encoded.ideal_bits > last_bits, "q{q}: {} bits after {last_bits}", encoded.ideal_bits);
        last_bits = encoded.ideal_bits;
        // A recognisable picture: on this photo the lowest level gives
        // about 17.5 dB (measured), and every higher one more.
        let psnr = livc::io::psnr(&img, &decoded);
        assert!(psnr > 16.0 && psnr > last_psnr, "q{q}: PSNR {psnr:.2} after {last_psnr:.2}");
        last_psnr = psnr;
    }
}

#[test]
fn tiles_and_tiny_images_round_trip() {
    let cpu = codec(Backend::Cpu).unwrap().at_quality(100).unwrap();
    // 1×1 (one anchor, no other index), 17×3, and several 64-pixel tiles.
    for (w, h, tile) in [(1, 1, 64), (17, 3, 64), (200, 130, 64)] {
        let img = picture(w, h);
        let encoded = cpu.encode_image_reconstructed(&img, tile, false).unwrap();
        let tiles = cpu.parse(&encoded.bytes).unwrap();
        assert_eq!(tiles.len(), (w.div_ceil(tile as usize)) * (h.div_ceil(tile as usize)));
        let decoded = cpu.decode_picture(&encoded.bytes, false).unwrap().rgb;
        assert_eq!(decoded.pixels, encoded.reconstruction.unwrap().pixels, "{w}×{h}");
    }
}

#[test]
fn the_prior_is_complete_and_its_context_uses_decoded_anchors_only() {
    let vq = package();
    for prior in &vq.priors {
        assert_eq!(prior.tables.len(), 1 + CONTEXTS + GROUPS);
        // Every codeword belongs to one group, and is its member at its rank.
        for k in 0..prior.size {
            assert_eq!(prior.members[prior.group[k] as usize][prior.rank[k] as usize], k as u32);
        }
        // Every table can code each of its symbols.
        assert!(prior.tables.iter().all(|t| t.cdf.windows(2).all(|w| w[1] > w[0])));
        assert_eq!(prior.tables[0].cdf.len(), prior.size + 2);
    }
    // A non-anchor's context reads only anchors: changing a non-anchor
    // never changes another's context.
    let prior = &vq.priors[vq.priors.len() - 1];
    let (h, w) = (5, 6);
    let (anchors, others) = checkerboard(h, w);
    assert_eq!(anchors.len() + others.len(), h * w);
    let mut idx: Vec<u32> = (0..(h * w) as u32).map(|i| (i * 37) % prior.size as u32).collect();
    let before: Vec<usize> = others.iter().map(|&p| prior.context(&idx, (h, w), (p / w, p % w))).collect();
    for &p in &others {
        idx[p] = (idx[p] + 1) % prior.size as u32;
    }
    let after: Vec<usize> = others.iter().map(|&p| prior.context(&idx, (h, w), (p / w, p % w))).collect();
    assert_eq!(before, after);
}

#[test]
fn files_parse_identically_on_cpu_and_wgpu() {
    let Some(gpu) = codec(Backend::Wgpu) else { return };
    let gpu = gpu.at_quality(75).unwrap();
    let cpu = codec(Backend::Cpu).unwrap().at_quality(75).unwrap();
    let img = picture(96, 80);
    for (made_by, file) in [
        ("cpu", cpu.encode_image(&img, 64, false).unwrap().bytes),
        ("wgpu", gpu.encode_image(&img, 64, false).unwrap().bytes),
    ] {
        assert_eq!(cpu.parse(&file).unwrap(), gpu.parse(&file).unwrap(), "file from {made_by}");
        let (a, b) = (cpu.decode_picture(&file, false).unwrap().rgb, gpu.decode_picture(&file, false).unwrap().rgb);
        let diff = a.pixels.iter().zip(&b.pixels).map(|(&x, &y)| x.abs_diff(y)).max().unwrap();
        eprintln!("VQ file from {made_by}: CPU and wgpu decodes differ by at most {diff} levels");
        assert!(diff <= 8, "{diff}");
    }
    // Both encoders write the same bytes (the same indices, the same coder).
    let (a, b) = (cpu.encode_image(&img, 64, false).unwrap().bytes, gpu.encode_image(&img, 64, false).unwrap().bytes);
    assert_eq!(cpu.parse(&a).unwrap(), cpu.parse(&b).unwrap());
}

#[test]
fn bad_files_give_errors_not_panics() {
    let cpu = codec(Backend::Cpu).unwrap().at_quality(50).unwrap();
    let img = picture(70, 50);
    let file = cpu.encode_image(&img, DEFAULT_TILE, false).unwrap().bytes;
    // Every truncation.
    for len in 0..file.len() {
        assert!(cpu.decode_picture(&file[..len], false).is_err(), "length {len}");
    }
    // Every single-byte corruption behind a valid CRC: an error or a picture of the header's size.
    let body = file.len() - 4;
    for at in 0..body {
        let mut bad = file[..body].to_vec();
        bad[at] ^= 0x5a;
        let crc = crc32fast::hash(&bad);
        bad.extend_from_slice(&crc.to_le_bytes());
        if let Ok(p) = cpu.decode_picture(&bad, false) {
            assert!(p.rgb.width * p.rgb.height <= 70 * 50 * 4, "byte {at}");
        }
    }
    // A rate level beyond the package's sizes.
    let level_at = 4 + 1 + 1 + 1 + cpu.package.info.name.len() + 8 + 4 + 4;
    let mut bad = file[..body].to_vec();
    bad[level_at] = 200;
    let crc = crc32fast::hash(&bad);
    bad.extend_from_slice(&crc.to_le_bytes());
    let e = cpu.decode_picture(&bad, false).unwrap_err();
    assert!(format!("{e:#}").contains("rate level"), "{e:#}");
    // The scalar decoder refuses a VQ file, and the VQ decoder a scalar one, by name.
    let scalar = Codec::new(embedded::default_model().unwrap(), Backend::Cpu).unwrap();
    assert!(format!("{:#}", scalar.decode_picture(&file, false).unwrap_err()).contains("VQ"));
    let scalar_file = scalar.encode_image(&img, DEFAULT_TILE, false).unwrap().bytes;
    assert!(format!("{:#}", cpu.decode_picture(&scalar_file, false).unwrap_err()).contains("not a VQ file"));
}

fn livc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_livc")).args(args).output().unwrap()
}

#[test]
fn the_command_line_codes_vq_files_and_decodes_them_without_a_flag() {
    let d = scratch("vq-cli");
    let p = |f: &str| d.join(f).to_string_lossy().into_owned();
    livc::io::write_image(&d.join("photo.png"), &picture(120, 90)).unwrap();
    let o = livc(&["encode", &p("photo.png"), "-o", &p("photo.livc"), "--vq", "-q", "30"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("codebook of"), "{}", stderr(&o));
    let o = livc(&["decode", &p("photo.livc"), "-o", &p("back.png")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(livc::io::read_image(&d.join("back.png")).unwrap().width, 120);
    let o = livc(&["info", &p("photo.livc"), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["mode"], "vq");
    assert_eq!(info["format_version"], 3);
    assert!(info["codebook_size"].as_u64().unwrap() >= 16);
    assert_eq!(info["level"], 1, "-q 30 is level 1");
    assert!(info["quality"].is_null(), "a VQ file has a level, not a -q");
    assert_eq!(info["image_model"]["name"], package().info.base_name, "the image model under the codebook");
    // Tiles cut the coded picture: 120×90 at level 0 is coded at 60×45, one 64-pixel tile.
    let o = livc(&["encode", &p("photo.png"), "-o", &p("t.livc"), "--vq", "-q", "0", "--tile", "64"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = livc(&["info", &p("t.livc"), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((info["tiles"].as_u64(), info["coded_scale"].as_f64()), (Some(1), Some(2.0)));
    // Options the VQ mode does not have: a clear refusal, no output left behind.
    let o = livc(&["encode", &p("photo.png"), "-o", &p("e.livc"), "--vq", "-e", "3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--effort"), "{}", stderr(&o));
    assert!(!d.join("e.livc").exists());
    // A VQ package given where an image model is expected, and the reverse.
    let o = livc(&["encode", &p("photo.png"), "-o", &p("f.livc"), "--vq", "--model", &p("photo.png")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    assert!(!d.join("f.livc").exists());
}
