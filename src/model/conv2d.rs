//! The transforms' k×k convolutions, one interface for every device:
//! [`forward`] runs a burn [`Conv2d`] on an N×C×H×W tensor.
//!
//! - On burn's CPU backend (flex, without autodiff) a k×k convolution with
//!   groups = 1 runs here as im2col + GEMM (the `gemm` crate, which flex
//!   itself uses), planned for NCHW: each tile of output rows gathers its
//!   patches as a (C·k·k)×(rows·W') matrix straight from the NCHW input and
//!   one GEMM writes the Cout×(rows·W') result straight into the NCHW output.
//!   flex's general path instead converts the input to NHWC on one thread and
//!   copies each tile's result back to NCHW element by element, in an order
//!   that misses the cache on every read; that copy was 13 % of a Kodak
//!   encode + decode (`perf record` on `livc bench`, livc-vr3).
//! - Everywhere else (wgpu, autodiff for training, 1×1 and depthwise
//!   convolutions, which flex already runs without im2col) it is
//!   `Conv2d::forward`.
//!
//! Both compute the same sums in a different order: results agree to float
//! rounding (tested against `Conv2d::forward`). The parse path never sees
//! these floats (it is integer: `integer`), so files decode alike either way.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::Device;
use rayon::prelude::*;

/// Floats of im2col matrix per tile (1 MiB): big enough for an efficient
/// GEMM, small enough to stay in cache, and many tiles per image for both
/// cores.
const TILE_FLOATS: usize = 1 << 18;

/// `layer` applied to `x` (N×Cin×H×W) → N×Cout×H'×W', as `layer.forward(x)`.
pub fn forward(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if !plain_cpu(&x.device()) {
        return layer.forward(x);
    }
    match Geometry::plan(layer, x.dims()) {
        Some(geometry) => geometry.run(layer, x),
        None => layer.forward(x),
    }
}

/// Whether tensors on `device` may take the transforms' own CPU kernels
/// (here and `scan`): burn's flex backend, without autodiff (a tensor that
/// carries a gradient must go through burn's own ops).
pub(super) fn plain_cpu(device: &Device) -> bool {
    *device == Device::flex() && !device.is_autodiff()
}

/// A tensor's elements, row-major.
pub(crate) fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
}

/// A convolution's geometry: each image of the input Cin×H×W, kernel
/// kh×kw, stride (sy, sx), padding top/left (bottom/right implied by the
/// output size oh×ow).
struct Geometry {
    cin: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sy: usize,
    sx: usize,
    top: usize,
    left: usize,
    oh: usize,
    ow: usize,
}

/// The output's base pointer, shared by the tiles, which write disjoint columns.
struct OutPtr(*mut f32);
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl Geometry {
    /// The im2col + GEMM plan for `layer` on an input of `dims`, or None
    /// where flex's own convolution is used (groups or dilation ≠ 1, 1×1
    /// kernels, padding other than explicit, an input smaller than the kernel).
    fn plan(layer: &Conv2d, dims: [usize; 4]) -> Option<Self> {
        let [_, cin_per_group, kh, kw] = layer.weight.dims();
        let [_, cin, h, w] = dims;
        let PaddingConfig2d::Explicit(top, left, bottom, right) = layer.padding else {
            return None;
        };
        if layer.groups != 1 || layer.dilation != [1, 1] || kh * kw == 1 || cin_per_group != cin {
            return None;
        }
        let [sy, sx] = layer.stride;
        // The output size flex computes: ⌊(H + pads − k) / s⌋ + 1.
        let oh = (h + top + bottom).checked_sub(kh)? / sy + 1;
        let ow = (w + left + right).checked_sub(kw)? / sx + 1;
        Some(Self { cin, h, w, kh, kw, sy, sx, top, left, oh, ow })
    }

    /// The convolution of a flex tensor, consuming it (so that its data
    /// can be taken without a copy).
    fn run(&self, layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        let (n, device) = (x.dims()[0], x.device());
        let cout = layer.weight.dims()[0];
        let input = floats(x);
        let weight = floats(layer.weight.val());
        let bias = layer.bias.as_ref().map(|b| floats(b.val()));
        let mut out = vec![0f32; n * cout * self.oh * self.ow];
        let image_len = self.cin * self.h * self.w;
        for (image, output) in input.chunks_exact(image_len).zip(out.chunks_exact_mut(cout * self.oh * self.ow)) {
            self.convolve(image, &weight, bias.as_deref(), cout, output);
        }
        Tensor::from_data(TensorData::new(out, [n, cout, self.oh, self.ow]), &device)
    }

    fn patch_len(&self) -> usize {
        self.cin * self.kh * self.kw
    }

    /// output (Cout×H'×W') = weight (Cout×K, K = Cin·kh·kw) · im2col + bias.
    fn convolve(&self, image: &[f32], weight: &[f32], bias: Option<&[f32]>, cout: usize, output: &mut [f32]) {
        let k = self.patch_len();
        let plane = self.oh * self.ow;
        if let Some(bias) = bias {
            for (row, &b) in output.chunks_exact_mut(plane).zip(bias) {
                row.fill(b);
            }
        }
        let rows_per_tile = (TILE_FLOATS / (k * self.ow)).clamp(1, self.oh);
        let tiles = self.oh.div_ceil(rows_per_tile);
        let planes = self.phases(image);
        let out = OutPtr(output.as_mut_ptr());
        (0..tiles).into_par_iter().for_each_init(Vec::new, |col, tile| {
            let out = &out;
            let rows = tile * rows_per_tile..((tile + 1) * rows_per_tile).min(self.oh);
            let cols = rows.len() * self.ow;
            col.resize(k * cols, 0.0);
            self.im2col(&planes, rows.clone(), col);
            // SAFETY: dst is the Cout×cols block starting at this tile's first
            // output position, row stride H'·W': inside `output` (Cout·H'·W'
            // floats), and no other tile writes those columns. lhs (Cout×K,
            // row stride K) and rhs (K×cols, row stride cols) lie inside
            // `weight` (Cout·K floats) and `col` (K·cols).
            unsafe {
                gemm::gemm(
                    cout,
                    cols,
                    k,
                    out.0.add(rows.start * self.ow),
                    1,
                    plane as isize,
                    bias.is_some(),
                    weight.as_ptr(),
                    1,
                    k as isize,
                    col.as_ptr(),
                    1,
                    cols as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        });
    }

    /// The input split by column phase: plane p holds the columns
    /// x ≡ p (mod sx), so that the strided columns one kernel tap reads are
    /// contiguous, `[sx][Cin][H][⌈W/sx⌉]` (the image itself for stride 1).
    fn phases<'a>(&self, image: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        if self.sx == 1 {
            return image.into();
        }
        let wp = self.w.div_ceil(self.sx);
        let mut planes = vec![0f32; self.sx * self.cin * self.h * wp];
        // Row r of plane p: columns p, p + sx, … of the image's row r (the
        // last one short by one where sx does not divide W − p).
        for (p, plane) in planes.chunks_exact_mut(self.cin * self.h * wp).enumerate() {
            plane.par_chunks_mut(wp).zip(image.par_chunks_exact(self.w)).for_each(|(dst, src)| {
                for (d, &v) in dst.iter_mut().zip(src.iter().skip(p).step_by(self.sx)) {
                    *d = v;
                }
            });
        }
        planes.into()
    }

    /// The patches of output rows `rows` as a K×(rows·W') matrix from the
    /// phase planes: row (c, dy, dx) holds input[c][y·sy + dy − top][x·sx +
    /// dx − left] for every output position (y, x), 0 outside the input.
    fn im2col(&self, planes: &[f32], rows: std::ops::Range<usize>, col: &mut [f32]) {
        let cols = rows.len() * self.ow;
        let (sx, wp) = (self.sx as isize, self.w.div_ceil(self.sx) as isize);
        for (r, line) in col.chunks_exact_mut(cols).enumerate() {
            let (c, dy, dx) = (r / (self.kh * self.kw), r / self.kw % self.kh, r % self.kw);
            // Input column x·sx + d is column x + q of phase p.
            let d = dx as isize - self.left as isize;
            let (p, q) = (d.rem_euclid(sx), d.div_euclid(sx));
            let count = (self.w as isize - p + sx - 1) / sx; // columns x ≡ p: ⌈(W − p)/sx⌉
            // Output columns x with 0 ≤ x + q < count.
            let x_lo = (-q).clamp(0, self.ow as isize) as usize;
            let x_hi = (count - q).clamp(x_lo as isize, self.ow as isize) as usize;
            for (y, seg) in rows.clone().zip(line.chunks_exact_mut(self.ow)) {
                let iy = (y * self.sy + dy).wrapping_sub(self.top);
                if iy >= self.h || x_lo == x_hi {
                    seg.fill(0.0);
                    continue;
                }
                seg[..x_lo].fill(0.0);
                seg[x_hi..].fill(0.0);
                let start = ((p as usize * self.cin + c) * self.h + iy) * wp as usize + (x_lo as isize + q) as usize;
                seg[x_lo..x_hi].copy_from_slice(&planes[start..start + x_hi - x_lo]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;

    /// Every shape the transforms use (k 3 and 5, stride 1 and 2, odd and
    /// even sizes, a batch of 2, sizes smaller than the kernel), with and
    /// without a bias (then the output is the sum alone: no stale memory
    /// read), agrees with flex's own convolution.
    #[test]
    fn agrees_with_burns_convolution() {
        let device = Device::flex();
        let cases = [
            (2, 3, 8, 13, 17, 5, 2, true),
            (1, 5, 7, 6, 9, 3, 1, true),
            (1, 4, 6, 3, 2, 5, 2, true),
            (1, 16, 12, 11, 10, 3, 1, true),
            (1, 2, 3, 1, 1, 3, 1, true),
            (1, 6, 4, 9, 4, 5, 1, true),
            (1, 3, 4, 5, 6, 3, 1, false),
        ];
        for (n, cin, cout, h, w, k, s, bias) in cases {
            let mut layer = Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .init(&device);
            if !bias {
                layer.bias = None;
            }
            let x: Vec<f32> = (0..n * cin * h * w).map(|i| ((i * 7919 + 11) % 97) as f32 / 48.0 - 1.0).collect();
            let x = Tensor::<4>::from_data(TensorData::new(x, [n, cin, h, w]), &device);
            let want = layer.forward(x.clone());
            let plan = Geometry::plan(&layer, x.dims()).expect("the im2col path");
            let got = plan.run(&layer, x.clone());
            assert_eq!(got.dims(), want.dims(), "{:?}", (n, cin, cout, h, w, k, s, bias));
            let (got, want) = (floats(got), floats(want));
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-5, "{:?}: off by {worst}", (n, cin, cout, h, w, k, s, bias));
            assert!(want.iter().any(|v| v.abs() > 0.1), "a case that tests nothing");
        }
    }

    /// A tensor that carries a gradient (training, and the encoder's latent
    /// refinement, which lifts flex tensors with `autodiff()` as here) keeps
    /// it: such tensors take flex's own path, which autodiff differentiates.
    #[test]
    fn autodiff_tensors_keep_their_gradient() {
        let device = Device::flex();
        let layer = Conv2dConfig::new([2, 3], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&device);
        let x = Tensor::<4>::ones([1, 2, 4, 5], &device).autodiff().require_grad();
        let grads = forward(&layer, x.clone()).sum().backward();
        let grad = x.grad(&grads).expect("a gradient for the input");
        assert_eq!(grad.dims(), [1, 2, 4, 5]);
        assert!(floats(grad).iter().any(|g| g.abs() > 1e-6), "a zero gradient");
    }
}
