//! Shared helpers: a tiny model package and synthetic images.
#![allow(dead_code)]

use livc::Backend;
use livc::io::RgbImage;
use livc::model::package::{PackageInfo, export};
use livc::model::{Hyperprior, ModelConfig};
use std::sync::OnceLock;

/// A tiny random-weight model package, exported like a trained one.
pub fn tiny_package_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let device = Backend::Cpu.device();
        let config = ModelConfig { n: 16, m: 24 };
        let net = Hyperprior::new(config, &device);
        let info = PackageInfo {
            name: "tiny-test".into(),
            quality: 1,
            lambda: 0.01,
            config,
            int_shifts: vec![],
            int_input_frac: 0,
            trained: "untrained (tests)".into(),
        };
        export(&net, info, &[gradient(70, 50, 3)], &device).unwrap()
    })
}

/// A smooth colour pattern with some texture.
pub fn gradient(w: usize, h: usize, seed: u32) -> RgbImage {
    let mut pixels = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3u32 {
                let v = (x * 255 / w.max(1)) as u32 * (c + 1)
                    + (y * 200 / h.max(1)) as u32
                    + ((x * 7 + y * 13) as u32 ^ seed) % 17;
                pixels.push((v % 256) as u8);
            }
        }
    }
    RgbImage { width: w, height: h, pixels }
}
