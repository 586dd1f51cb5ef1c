//! The multi-reference context of the entropy model: y's channels are cut
//! into uneven slices (ELIC), each coded in two checkerboard passes (anchors,
//! where row + column is even, then the rest). Each slice's mean and scale
//! level are the hyperprior's plus a correction from what is already decoded:
//! the earlier slices and, in the second pass, the slice's own anchors.
//!
//! Decoding takes 2 sequential passes per slice (10 for the 5 slices of the
//! default), each a small network over the whole slice, never one per latent.
//!
//! Determinism: the mean correction sees the float reconstruction ŷ (means
//! only move the reconstruction), but the level correction sees only integers
//! — the parsed symbols q = round(y − μ) and the hyperprior's fixed-point
//! level — so that its integer copy ([`super::integer::IntContextNet`]) picks
//! the same table on every machine.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::{conv, conv2d};

/// Largest |q| and |level| the level corrections see; the integer copy
/// clamps alike.
pub const CONTEXT_CLAMP: f32 = 255.0;

/// One slice's correction network: conv 3×3 → ReLU → conv 3×3.
#[derive(Module, Debug)]
pub struct SliceContext {
    /// conv 3×3 from the slice's inputs to the hidden channels.
    pub hidden: Conv2d,
    /// conv 3×3 from the hidden channels to the slice's (zero at the start).
    pub output: Conv2d,
}

impl SliceContext {
    /// The output layer starts at zero: a model started from a plain
    /// hyperprior starts exactly where that hyperprior was.
    pub fn new(cin: usize, cout: usize, hidden: usize, device: &Device) -> Self {
        let mut output = conv(hidden, cout, 3, 1, device);
        output.weight = Param::from_tensor(Tensor::zeros(output.weight.dims(), device));
        output.bias = Some(Param::from_tensor(Tensor::zeros([cout], device)));
        Self { hidden: conv(cin, hidden, 3, 1, device), output }
    }

    /// The correction `[B, cout, h, w]` for inputs `[B, cin, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d::forward(&self.output, burn::tensor::activation::relu(conv2d::forward(&self.hidden, x)))
    }
}

/// 1 at the anchors, 0 elsewhere, `[1, 1, h, w]`.
pub fn checkerboard(h: usize, w: usize, device: &Device) -> Tensor<4> {
    let cells: Vec<f32> = (0..h * w).map(|i| (i / w + i % w).is_multiple_of(2) as u8 as f32).collect();
    Tensor::from_data(TensorData::new(cells, [1, 1, h, w]), device)
}

/// Channel ranges of the slices.
pub fn slice_ranges(slices: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    slices
        .iter()
        .map(|&s| {
            start += s;
            start - s..start
        })
        .collect()
}

/// The bitstream's order of y's elements (indices into `[m][h][w]`), pass by
/// pass: slice by slice, in each the anchors then the rest, each pass
/// channel-major and raster within a channel. Both parsers follow it.
pub fn coding_passes(slices: &[usize], h: usize, w: usize) -> Vec<Vec<usize>> {
    let plane = h * w;
    let mut passes = Vec::with_capacity(2 * slices.len());
    for r in slice_ranges(slices) {
        for parity in 0..2 {
            let positions = (0..plane).filter(move |p| (p / w + p % w) % 2 == parity);
            passes.push(r.clone().flat_map(|c| positions.clone().map(move |p| c * plane + p)).collect());
        }
    }
    passes
}

/// Inputs of slice k's networks, in the trainer's order: earlier slices,
/// the hyperprior's output for the slice, the slice's own anchors (zeros in
/// the first pass).
pub fn context_input(earlier: &[Tensor<4>], hyper: Tensor<4>, anchors: Tensor<4>) -> Tensor<4> {
    let mut parts = earlier.to_vec();
    parts.push(hyper);
    parts.push(anchors);
    Tensor::cat(parts, 1)
}
