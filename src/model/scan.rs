//! State-space blocks for global context in the transforms: a residual block
//! at 1/8 resolution whose core is a 2-D selective scan (Mamba's
//! input-dependent state-space recurrence, run in four directions as in
//! VMamba's SS2D), next to the convolutions' local detail.
//!
//! Along one row the recurrence is h_t = exp(Δ_t·A)·h_{t−1} + Δ_t·B_t·v_t,
//! y_t = C_t·h_t, with Δ, B, C computed from the input at each position. It is
//! evaluated in Mamba-2's matrix form, all steps at once:
//! y_t = Σ_{s≤t} exp(Σ_{s<r≤t} Δ_r·A) (C_t·B_s) Δ_s v_s — a masked W×W matrix
//! per row and head, cheap at 1/8 resolution (a 1024-pixel tile is 128 wide).
//! `training/train.py` has the same block; tests/parity.rs checks they agree.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::Bool;
use burn::tensor::activation::{silu, softplus};
use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use super::{conv, conv2d};

/// What the residual blocks at 1/8 resolution hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// The selective scan.
    Ssm,
    /// The same block without the scan: the CNN-only ablation.
    Conv,
}

/// Heads (each with its own decay rate A and step Δ per direction) and the
/// state size of B and C.
pub(crate) const HEADS: usize = 4;
pub(crate) const STATE: usize = 16;

/// LayerNorm over the channels of each position.
#[derive(Module, Debug)]
pub struct ChannelNorm {
    /// `[C]`: the scale after normalising.
    pub weight: Param<Tensor<1>>,
    /// `[C]`: the offset after normalising.
    pub bias: Param<Tensor<1>>,
}

impl ChannelNorm {
    fn new(c: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([c], device)),
            bias: Param::from_tensor(Tensor::zeros([c], device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, c, _, _] = x.dims();
        let centred = x.clone() - x.mean_dim(1);
        let var = centred.clone().powi_scalar(2).mean_dim(1);
        centred / (var + 1e-5).sqrt() * self.weight.val().reshape([1, c, 1, 1]) + self.bias.val().reshape([1, c, 1, 1])
    }
}

/// The scan's parameters: the projection to Δ (per direction and head), B
/// and C; the decay rates A = −exp(a_log) and Δ's bias per direction and
/// head; the skip D of each channel.
#[derive(Module, Debug)]
pub struct Scan {
    /// 1×1 conv, C → 4·HEADS + 2·STATE: Δ per direction and head, then B and C.
    pub x_proj: Conv2d,
    /// `[4, HEADS]`: log of −A per direction and head.
    pub a_log: Param<Tensor<2>>,
    /// `[4, HEADS]`: Δ's bias (before softplus) per direction and head.
    pub dt_bias: Param<Tensor<2>>,
    /// `[C]`: the skip D.
    pub skip: Param<Tensor<1>>,
}

impl Scan {
    /// Mamba-2's start: A spread over [1, 16], Δ log-spread over [0.001, 0.1].
    fn new(c: usize, device: &Device) -> Self {
        let spread = |i: usize| i as f32 / (HEADS - 1) as f32;
        let a_log: Vec<f32> = (0..4 * HEADS).map(|i| (1.0 + 15.0 * spread(i % HEADS)).ln()).collect();
        let dt_bias: Vec<f32> = (0..4 * HEADS)
            .map(|i| {
                let dt = (0.001f32.ln() + (0.1f32 / 0.001).ln() * spread(i % HEADS)).exp();
                dt + (-(-dt).exp_m1()).ln() // softplus⁻¹
            })
            .collect();
        Self {
            x_proj: conv(c, 4 * HEADS + 2 * STATE, 1, 1, device),
            a_log: Param::from_tensor(Tensor::from_data(TensorData::new(a_log, [4, HEADS]), device)),
            dt_bias: Param::from_tensor(Tensor::from_data(TensorData::new(dt_bias, [4, HEADS]), device)),
            skip: Param::from_tensor(Tensor::ones([c], device)),
        }
    }

    fn forward(&self, v: Tensor<4>) -> Tensor<4> {
        let [batch, c, h, w] = v.dims();
        let [_, heads] = self.a_log.dims();
        let state = (self.x_proj.weight.dims()[0] - 4 * heads) / 2;
        let p = self.x_proj.forward(v.clone());
        let dt = softplus(p.clone().narrow(1, 0, 4 * heads) + self.dt_bias.val().reshape([1, 4 * heads, 1, 1]), 1.0);
        let b = p.clone().narrow(1, 4 * heads, state);
        let cc = p.narrow(1, 4 * heads + state, state);
        let a = self.a_log.val().exp().neg();
        let scanned = if conv2d::plain_cpu(&v.device()) {
            let shape = Shape { batch, heads, width: c / heads, state, h, w };
            let out = shape.scan_cpu(
                &conv2d::floats(v.clone()),
                &conv2d::floats(dt),
                &conv2d::floats(a),
                &conv2d::floats(b),
                &conv2d::floats(cc),
            );
            Tensor::from_data(TensorData::new(out, [batch, c, h, w]), &v.device())
        } else {
            scan_matrix_form(v.clone(), dt, a, b, cc, heads)
        };
        scanned + v * self.skip.val().reshape([1, c, 1, 1])
    }
}

/// The four directions' scans summed, in Mamba-2's matrix form (burn ops:
/// wgpu, and autodiff for training): v `[B, C, H, W]` (C = heads·P), dt
/// `[B, 4·heads, H, W]` (direction-major), a `[4, heads]`, b and c
/// `[B, S, H, W]`; returns `[B, C, H, W]`.
fn scan_matrix_form(v: Tensor<4>, dt: Tensor<4>, a: Tensor<2>, b: Tensor<4>, cc: Tensor<4>, heads: usize) -> Tensor<4> {
    let [batch, c, h, w] = v.dims();
    let vh = v.reshape([batch, heads, c / heads, h, w]);
    let mut out = vh.zeros_like();
    for d in 0..4 {
        // →, ←, ↓, ↑: columns are rows of the transposed plane.
        let (flip, transpose) = (d % 2 == 1, d >= 2);
        let orient4 = |t: Tensor<4>| {
            let t = if transpose { t.swap_dims(2, 3) } else { t };
            if flip { t.flip([3]) } else { t }
        };
        let orient5 = |t: Tensor<5>| {
            let t = if transpose { t.swap_dims(3, 4) } else { t };
            if flip { t.flip([4]) } else { t }
        };
        let a_d = a.clone().narrow(0, d, 1).reshape([heads]);
        let dt_d = dt.clone().narrow(1, d * heads, heads);
        let y = scan_rows(orient5(vh.clone()), orient4(dt_d), a_d, orient4(b.clone()), orient4(cc.clone()));
        let y = if flip { y.flip([4]) } else { y };
        out = out + if transpose { y.swap_dims(3, 4) } else { y };
    }
    out.reshape([batch, c, h, w])
}

/// The sizes of one scan: `batch` images of `heads`·`width` channels, H×W,
/// with a state of `state` per channel.
#[derive(Clone, Copy)]
struct Shape {
    batch: usize,
    heads: usize,
    width: usize,
    state: usize,
    h: usize,
    w: usize,
}

impl Shape {
    /// The four directions' scans summed, on the CPU (burn's flex backend):
    /// the recurrence itself, h_t = exp(Δ_t·A)·h_{t−1} + Δ_t·B_t·v_t,
    /// y_t = C_t·h_t, one line (row or column, both ways) per task. Layouts
    /// as in [`scan_matrix_form`], flattened row-major; returns y `[B, C, H, W]`.
    ///
    /// O(H·W·P·S) per head and direction where the matrix form is
    /// O(H·W²·(P + S)), with W×W temporaries through burn's one-threaded
    /// element-wise ops: at a Kodak image's 96×64 (P = S = 16) about a
    /// quarter of the operations, on both cores. The sums are the same, in another
    /// order: the two agree to float rounding (tested), and the parse never
    /// sees these floats.
    fn scan_cpu(self, v: &[f32], dt: &[f32], a: &[f32], b: &[f32], c: &[f32]) -> Vec<f32> {
        let Shape { batch, heads, width, h, w, .. } = self;
        let plane = h * w;
        if plane == 0 {
            return Vec::new();
        }
        // Rows (→ and ←), as [B, heads, H, P, W]; columns (↓ and ↑), as [B, heads, W, P, H].
        let mut rows = vec![0f32; batch * heads * h * width * w];
        let mut cols = vec![0f32; batch * heads * w * width * h];
        for (transposed, out, lines, len) in [(false, &mut rows, h, w), (true, &mut cols, w, h)] {
            out.par_chunks_mut(width * len).enumerate().for_each(|(task, y)| {
                let (n, k, line) = (task / (heads * lines), task / lines % heads, task % lines);
                // Element t of this line in an H×W plane.
                let (start, stride) = if transposed { (line, w) } else { (line * w, 1) };
                let at = |t: usize| start + t * stride;
                let d = 2 * transposed as usize; // → or ↓; d + 1 runs the other way
                let line_of = |plane_data: &[f32]| -> Vec<f32> { (0..len).map(|t| plane_data[at(t)]).collect() };
                let x: Vec<f32> =
                    (0..width).flat_map(|q| line_of(&v[((n * heads + k) * width + q) * plane..][..plane])).collect();
                // B and C position-major: the S values of one position together.
                let by_position = |m: &[f32]| -> Vec<f32> {
                    let m = &m[n * self.state * plane..][..self.state * plane];
                    (0..len).flat_map(|t| (0..self.state).map(move |s| m[s * plane + at(t)])).collect()
                };
                let (bs, cs) = (by_position(b), by_position(c));
                for dir in [d, d + 1] {
                    let steps = line_of(&dt[(n * 4 * heads + dir * heads + k) * plane..][..plane]);
                    self.scan_line(a[dir * heads + k], &steps, &x, (&bs, &cs), dir % 2 == 1, y);
                }
            });
        }
        // y = rows + columns, back to [B, C, H, W].
        let mut out = vec![0f32; batch * heads * width * plane];
        out.par_chunks_mut(plane).enumerate().for_each(|(channel, out)| {
            let (nk, q) = (channel / width, channel % width);
            for (yy, out_row) in out.chunks_exact_mut(w).enumerate() {
                let row = &rows[((nk * h + yy) * width + q) * w..][..w];
                for (xx, (o, &r)) in out_row.iter_mut().zip(row).enumerate() {
                    *o = r + cols[((nk * w + xx) * width + q) * h + yy];
                }
            }
        });
        out
    }

    /// One direction of one line, added into y `[P, L]`: Δ (`steps`, L) and x
    /// (`[P, L]`) of the line's positions, B and C `[L, S]`, visited from
    /// the last position to the first when `backwards`.
    fn scan_line(self, a: f32, steps: &[f32], x: &[f32], (bs, cs): (&[f32], &[f32]), backwards: bool, y: &mut [f32]) {
        let (len, s) = (steps.len(), self.state);
        let mut state = vec![0f32; self.width * s];
        for i in 0..len {
            let t = if backwards { len - 1 - i } else { i };
            let (step, b, c) = (steps[t], &bs[t * s..][..s], &cs[t * s..][..s]);
            let decay = (step * a).exp();
            for (q, h) in state.chunks_exact_mut(s).enumerate() {
                let input = step * x[q * len + t];
                let mut sum = 0f32;
                for ((h, &b), &c) in h.iter_mut().zip(b).zip(c) {
                    *h = *h * decay + b * input;
                    sum += c * *h;
                }
                y[q * len + t] += sum;
            }
        }
    }
}

/// The scan along each row: v `[B, K, P, H, W]`, dt `[B, K, H, W]`, a `[K]`,
/// b and c `[B, S, H, W]`; returns `[B, K, P, H, W]`.
fn scan_rows(v: Tensor<5>, dt: Tensor<4>, a: Tensor<1>, b: Tensor<4>, c: Tensor<4>) -> Tensor<5> {
    let [batch, heads, _, h, w] = v.dims();
    let device = v.device();
    let cs = (dt.clone() * a.reshape([1, heads, 1, 1])).cumsum(3);
    let full = [batch, heads, h, w, w];
    let gap = cs.clone().unsqueeze_dim::<5>(4).expand(full) - cs.unsqueeze_dim::<5>(3).expand(full); // [t, s]
    let later: Tensor<5, Bool> = Tensor::<2, Bool>::tril_mask([w, w], 0, &device).reshape([1, 1, 1, w, w]).expand(full);
    let decay = gap.mask_fill(later, f32::NEG_INFINITY).exp();
    // C_t·B_s for every pair of the row: [B, H, t, s].
    let cb = c.permute([0, 2, 3, 1]).matmul(b.permute([0, 2, 1, 3]));
    let mix = decay * cb.unsqueeze_dim::<5>(1).expand(full);
    let xs = (v * dt.unsqueeze_dim::<5>(2)).permute([0, 1, 3, 4, 2]); // [B, K, H, s, P]
    mix.matmul(xs).permute([0, 1, 4, 2, 3])
}

/// norm → 1×1 to (v, gate) → depthwise 3×3, SiLU → scan (absent in the
/// CNN-only variant) → × SiLU(gate) → 1×1, added to the input. The last layer
/// starts at zero: a model started from one without blocks starts where it was.
#[derive(Module, Debug)]
pub struct ScanBlock {
    /// LayerNorm over channels.
    pub norm: ChannelNorm,
    /// 1×1 conv, C → 2C: v and the gate.
    pub in_proj: Conv2d,
    /// Depthwise 3×3 conv on v.
    pub local: Conv2d,
    /// The selective scan; `None` for [`BlockKind::Conv`].
    pub scan: Option<Scan>,
    /// 1×1 conv, C → C, zero at the start.
    pub out_proj: Conv2d,
}

impl ScanBlock {
    /// A block over `c` channels of `kind`; it starts as the identity.
    pub fn new(c: usize, kind: BlockKind, device: &Device) -> Self {
        let mut out_proj = conv(c, c, 1, 1, device);
        out_proj.weight = Param::from_tensor(Tensor::zeros([c, c, 1, 1], device));
        out_proj.bias = Some(Param::from_tensor(Tensor::zeros([c], device)));
        Self {
            norm: ChannelNorm::new(c, device),
            in_proj: conv(c, 2 * c, 1, 1, device),
            local: Conv2dConfig::new([c, c], [3, 3])
                .with_groups(c)
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            scan: (kind == BlockKind::Ssm).then(|| Scan::new(c, device)),
            out_proj,
        }
    }

    /// The block on `[B, C, H, W]`: x + out_proj(…), the same shape.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, c, _, _] = x.dims();
        let h = self.in_proj.forward(self.norm.forward(x.clone()));
        let (v, gate) = (h.clone().narrow(1, 0, c), h.narrow(1, c, c));
        let mut v = silu(self.local.forward(v));
        if let Some(scan) = &self.scan {
            v = scan.forward(v);
        }
        x + self.out_proj.forward(v * silu(gate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU kernel (the recurrence, line by line, both ways along rows and
    /// columns) and the matrix form give the same four-direction scan, on a
    /// batch of 2, H ≠ W, with the heads' decay rates and steps all distinct.
    #[test]
    fn cpu_scan_agrees_with_the_matrix_form() {
        let device = Device::flex();
        let shape = Shape { batch: 2, heads: 3, width: 2, state: 5, h: 4, w: 7 };
        let Shape { batch, heads, width, state, h, w } = shape;
        let rand = |n: usize, lo: f32, hi: f32, seed: usize| -> Vec<f32> {
            (0..n).map(|i| lo + (hi - lo) * (((i * 7919 + seed * 104_729 + 13) % 101) as f32 / 100.0)).collect()
        };
        let v = rand(batch * heads * width * h * w, -1.0, 1.0, 1);
        let dt = rand(batch * 4 * heads * h * w, 0.05, 0.6, 2);
        let a = rand(4 * heads, -2.5, -0.3, 3);
        let (b, c) = (rand(batch * state * h * w, -1.0, 1.5, 4), rand(batch * state * h * w, -1.2, 1.0, 5));
        let t4 = |d: &[f32], ch: usize| Tensor::<4>::from_data(TensorData::new(d.to_vec(), [batch, ch, h, w]), &device);
        let want = conv2d::floats(scan_matrix_form(
            t4(&v, heads * width),
            t4(&dt, 4 * heads),
            Tensor::from_data(TensorData::new(a.clone(), [4, heads]), &device),
            t4(&b, state),
            t4(&c, state),
            heads,
        ));
        let got = shape.scan_cpu(&v, &dt, &a, &b, &c);
        assert_eq!(got.len(), want.len());
        for (i, (g, e)) in got.iter().zip(&want).enumerate() {
            assert!((g - e).abs() < 1e-4 * (1.0 + e.abs()), "element {i}: {g} vs {e}");
        }
        assert!(want.iter().filter(|e| e.abs() > 0.1).count() > want.len() / 2, "a case that tests nothing");
    }

    /// The matrix form equals the recurrence run step by step.
    #[test]
    fn row_scan_matches_the_sequential_recurrence() {
        let device = Device::flex();
        let (batch, heads, p, h, w, s) = (1, 2, 3, 2, 6, 4);
        let rand = |n: usize, lo: f32, hi: f32| -> Vec<f32> {
            (0..n).map(|i| lo + (hi - lo) * (((i * 7919 + 13) % 101) as f32 / 100.0)).collect()
        };
        let v = rand(batch * heads * p * h * w, -1.0, 1.0);
        let dt = rand(batch * heads * h * w, 0.05, 0.6);
        let a = vec![-0.7f32, -2.5];
        let b = rand(batch * s * h * w, -1.0, 1.5);
        let c: Vec<f32> = rand(batch * s * h * w, -1.2, 1.0).into_iter().rev().collect();
        let t5 = |d: &[f32]| Tensor::<5>::from_data(TensorData::new(d.to_vec(), [batch, heads, p, h, w]), &device);
        let t4 = |d: &[f32], ch: usize| Tensor::<4>::from_data(TensorData::new(d.to_vec(), [batch, ch, h, w]), &device);
        let got = scan_rows(
            t5(&v),
            t4(&dt, heads),
            Tensor::from_data(TensorData::new(a.clone(), [heads]), &device),
            t4(&b, s),
            t4(&c, s),
        );
        let got = got.into_data().try_into_vec::<f32>().unwrap();
        for k in 0..heads {
            for row in 0..h {
                for q in 0..p {
                    let mut state = vec![0f32; s];
                    for t in 0..w {
                        let at = |ch: usize| (ch * h + row) * w + t;
                        let step = dt[(k * h + row) * w + t];
                        let x = v[((k * p + q) * h + row) * w + t];
                        for (n, st) in state.iter_mut().enumerate() {
                            *st = *st * (step * a[k]).exp() + step * b[at(n)] * x;
                        }
                        let y: f32 = state.iter().enumerate().map(|(n, st)| c[at(n)] * st).sum();
                        let out = got[((k * p + q) * h + row) * w + t];
                        assert!(
                            (out - y).abs() < 1e-4 * (1.0 + y.abs()) && y.abs() > 0.0,
                            "head {k} row {row} t {t}: {out} vs {y}"
                        );
                    }
                }
            }
        }
    }
}
