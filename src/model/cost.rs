//! Multiply-accumulates per image pixel of encoding and decoding, counted
//! from the layer shapes (convolutions, GDN's 1×1 mixing, the context passes,
//! the selective scan's row matrices). Elementwise work is left out.

use super::ModelConfig;
use super::context::slice_ranges;
use super::scan::{BlockKind, HEADS, STATE};

/// Multiply-accumulates per image pixel of encoding and of decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Macs {
    /// Analysis, scan block, hyper-analysis, both hyper-synthesis branches and
    /// the context passes.
    pub encode: f64,
    /// Both hyper-synthesis branches, the context passes, scan block and synthesis.
    pub decode: f64,
}

/// A k×k convolution from `cin` to `cout` channels whose output has 1/`stride`
/// of the image's side, per image pixel.
fn conv(cin: usize, cout: usize, k: usize, stride: usize) -> f64 {
    (cin * cout * k * k) as f64 / (stride * stride) as f64
}

impl ModelConfig {
    /// MACs per pixel for an image (or tile) `width` pixels wide: the scan's
    /// rows are as long as the plane at 1/8 of it.
    pub fn macs_per_pixel(&self, width: usize) -> Macs {
        let (n, m) = (self.n, self.m);
        let gdn = |stride| conv(n, n, 1, stride);
        let analysis =
            conv(3, n, 5, 2) + conv(n, n, 5, 4) + conv(n, n, 5, 8) + conv(n, m, 5, 16) + gdn(2) + gdn(4) + gdn(8);
        let synthesis = conv(m, 4 * n, 3, 16)
            + conv(n, 4 * n, 3, 8)
            + conv(n, 4 * n, 3, 4)
            + conv(n, 12, 3, 2)
            + gdn(8)
            + gdn(4)
            + gdn(2);
        let hyper_analysis = conv(m, n, 3, 16) + conv(n, n, 5, 32) + conv(n, n, 5, 64);
        // Two branches (means, scale levels): up, up, conv.
        let hyper_synthesis = 2.0 * (conv(n, 4 * n, 3, 64) + conv(n, 4 * n, 3, 32) + conv(n, m, 3, 16));
        // Per slice, two passes each of the mean and the level networks.
        let context: f64 = slice_ranges(&self.slices)
            .into_iter()
            .map(|r| {
                4.0 * (conv(r.start + 2 * r.len(), self.context_hidden, 3, 16)
                    + conv(self.context_hidden, r.len(), 3, 16))
            })
            .sum();
        let block = match self.blocks {
            None => 0.0,
            Some(kind) => {
                let projections = conv(n, 2 * n, 1, 8) + conv(n, n, 1, 8) + n as f64 * 9.0 / 64.0;
                let scan = match kind {
                    // Δ, B, C projection; per direction C·B and the mix over a row of W/8.
                    BlockKind::Ssm => {
                        conv(n, 4 * HEADS + 2 * STATE, 1, 8) + 4.0 * (width.div_ceil(8) * (STATE + n)) as f64 / 64.0
                    }
                    BlockKind::Conv => 0.0,
                };
                projections + scan
            }
        };
        Macs {
            encode: analysis + block + hyper_analysis + hyper_synthesis + context,
            decode: hyper_synthesis + context + block + synthesis,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_layer_shapes() {
        // The plain model's decoder by hand: hyper branches + synthesis.
        let plain = ModelConfig::plain(64, 96).macs_per_pixel(768);
        let hyper = 2.0 * (64.0 * 256.0 * 9.0 / 4096.0 + 64.0 * 256.0 * 9.0 / 1024.0 + 64.0 * 96.0 * 9.0 / 256.0);
        let synthesis = 96.0 * 256.0 * 9.0 / 256.0
            + 64.0 * 256.0 * 9.0 * (1.0 / 64.0 + 1.0 / 16.0)
            + 64.0 * 12.0 * 9.0 / 4.0
            + 64.0 * 64.0 * (1.0 / 64.0 + 1.0 / 16.0 + 1.0 / 4.0);
        assert!((plain.decode - (hyper + synthesis)).abs() < 1e-6, "{} vs {}", plain.decode, hyper + synthesis);
        // The scan grows with the row length; the CNN-only block does not.
        let mut ssm = ModelConfig::plain(64, 96);
        ssm.blocks = Some(BlockKind::Ssm);
        let mut cnn = ssm.clone();
        cnn.blocks = Some(BlockKind::Conv);
        assert!(ssm.macs_per_pixel(1024).decode > ssm.macs_per_pixel(512).decode);
        assert_eq!(cnn.macs_per_pixel(1024), cnn.macs_per_pixel(512));
        assert!(ssm.macs_per_pixel(768).encode > cnn.macs_per_pixel(768).encode);
    }
}
