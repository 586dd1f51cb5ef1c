//! The CPU convolutions of a Kodak image (768×512) with the default model's
//! shapes (N = 64, M = 96): livc's im2col + GEMM path (`model::conv2d`)
//! against burn flex's own `Conv2d::forward`, alternated in one run, best of
//! five each; prints a Markdown table with the ratio per layer and in all.
//! Checks on the way that both give the same output (to float rounding).
//!
//! usage: cargo run --example conv_bench [REPEATS]

use std::time::Instant;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::prelude::*;
use livc::model::conv2d;

fn main() {
    let repeats: usize = std::env::args().nth(1).map_or(5, |r| r.parse().expect("REPEATS: a number"));
    let device = Device::flex();
    // (name, cin, cout, kernel, stride, input height, input width)
    let layers = [
        ("analysis 1", 3, 64, 5, 2, 512, 768),
        ("analysis 2", 64, 64, 5, 2, 256, 384),
        ("analysis 3", 64, 64, 5, 2, 128, 192),
        ("analysis 4", 64, 96, 5, 2, 64, 96),
        ("hyper analysis 1", 96, 64, 3, 1, 32, 48),
        ("hyper analysis 2", 64, 64, 5, 2, 32, 48),
        ("hyper analysis 3", 64, 64, 5, 2, 16, 24),
        ("hyper synthesis 1", 64, 256, 3, 1, 8, 12),
        ("hyper synthesis 2", 64, 256, 3, 1, 16, 24),
        ("hyper synthesis 3", 64, 96, 3, 1, 32, 48),
        ("synthesis 1", 96, 256, 3, 1, 32, 48),
        ("synthesis 2", 64, 256, 3, 1, 64, 96),
        ("synthesis 3", 64, 256, 3, 1, 128, 192),
        ("synthesis 4", 64, 12, 3, 1, 256, 384),
    ];
    println!("| layer | Cin→Cout, k, stride | input | livc ms | flex ms | flex / livc |");
    println!("|---|---|---|---|---|---|");
    let (mut total_livc, mut total_flex) = (0.0, 0.0);
    for (name, cin, cout, k, s, h, w) in layers {
        let layer = Conv2dConfig::new([cin, cout], [k, k])
            .with_stride([s, s])
            .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
            .init(&device);
        let x: Vec<f32> = (0..cin * h * w).map(|i| ((i * 7919 + 11) % 97) as f32 / 48.0 - 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [1, cin, h, w]), &device);
        let time = |f: &dyn Fn() -> Tensor<4>| {
            let start = Instant::now();
            let out = f().into_data(); // waits for the result
            (start.elapsed().as_secs_f64() * 1e3, out)
        };
        let (mut best_livc, mut best_flex) = (f64::MAX, f64::MAX);
        for _ in 0..repeats {
            let (t_livc, a) = time(&|| conv2d::forward(&layer, x.clone()));
            let (t_flex, b) = time(&|| layer.forward(x.clone()));
            let (a, b) = (a.try_to_vec::<f32>().expect("f32"), b.try_to_vec::<f32>().expect("f32"));
            let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-3, "{name}: outputs differ by {worst}");
            best_livc = best_livc.min(t_livc);
            best_flex = best_flex.min(t_flex);
        }
        total_livc += best_livc;
        total_flex += best_flex;
        println!(
            "| {name} | {cin}→{cout}, {k}×{k}, {s} | {w}×{h} | {best_livc:.2} | {best_flex:.2} | {:.2}× |",
            best_flex / best_livc
        );
    }
    println!("| **all** | | | {total_livc:.1} | {total_flex:.1} | **{:.2}×** |", total_flex / total_livc);
}
