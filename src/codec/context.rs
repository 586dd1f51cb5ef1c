//! Coding y under a context model ([`crate::model::context`]): per slice,
//! the anchors, then the rest, each pass's tables chosen by the integer level
//! correction from the symbols already parsed. The parse needs no float:
//! the means are computed afterwards from the parsed symbols.

use anyhow::Result;
use burn::prelude::*;

use super::Codec;
use crate::model::context::{coding_passes, slice_ranges};
use crate::model::conv2d::floats;

impl Codec {
    /// The table indices of one pass's `elements` (indices into y's
    /// `[m][h][w]`): slice `k`'s anchors, or (`second`) the rest, from the
    /// symbols `q` known so far (earlier slices and, in the second pass, the
    /// slice's anchors; zeros elsewhere) and the hyperprior's fixed-point
    /// levels `hyper_fixed`. Integer arithmetic only: the parse's tables.
    fn pass_levels(
        &self,
        (k, second): (usize, bool),
        q: &[i32],
        hyper_fixed: &[i32],
        elements: &[usize],
        (h, w): (usize, usize),
    ) -> Vec<u8> {
        let plane = h * w;
        let r = slice_ranges(&self.package.info.config.slices)[k].clone();
        let offset = r.start * plane;
        let (earlier, current) = q.split_at(offset);
        let current = &current[..r.len() * plane];
        let fixed = self.package.int_context[k].levels(
            earlier,
            &hyper_fixed[offset..r.end * plane],
            second.then_some(current),
            h,
            w,
        );
        elements.iter().map(|&e| self.package.int_scale.index(fixed[e - offset])).collect()
    }

    /// The decoder's walk of the slices and checkerboard passes in coding
    /// order. `pass` receives one pass's elements (indices into y's
    /// `[m][h][w]`) and their table indices, and returns their parsed
    /// symbols; the result is every symbol.
    pub(super) fn context_passes(
        &self,
        hyper_fixed: &[i32],
        (h, w): (usize, usize),
        mut pass: impl FnMut(&[usize], &[u8]) -> Result<Vec<i32>>,
    ) -> Result<Vec<i32>> {
        let passes = coding_passes(&self.package.info.config.slices, h, w);
        let mut q = vec![0i32; hyper_fixed.len()];
        for (i, elements) in passes.iter().enumerate() {
            let levels = self.pass_levels((i / 2, i % 2 == 1), &q, hyper_fixed, elements, (h, w));
            for (&e, v) in elements.iter().zip(pass(elements, &levels)?) {
                q[e] = v;
            }
        }
        Ok(q)
    }

    /// The encoder's walk, the same passes in the same order: each pass's
    /// symbols are chosen from y (`[1, M, h, w]`) and the context model's
    /// mean for that pass (the float network, [`crate::model::Hyperprior::context_mean_passes`],
    /// from `hyper_mean` and the symbols chosen before it), under the
    /// pass's tables ([`Codec::symbol`]: RDOQ, or the nearest integer where
    /// `rdoq` is false). Returns the final mean μ (`[1, M, h, w]`),
    /// every symbol (`[m][h][w]`), and the symbols with their table indices
    /// in coding order.
    pub(super) fn quantise_with_context(
        &self,
        y: &Tensor<4>,
        hyper_mean: Tensor<4>,
        hyper_fixed: &[i32],
        (h, w): (usize, usize),
        rdoq: bool,
    ) -> (Tensor<4>, Vec<i32>, Vec<i32>, Vec<u8>) {
        let plane = h * w;
        let passes = coding_passes(&self.package.info.config.slices, h, w);
        let mut q = vec![0i32; hyper_fixed.len()];
        let (mut symbols, mut levels) = (Vec::with_capacity(q.len()), Vec::with_capacity(q.len()));
        let mut i = 0;
        // context_mean_passes asks for each slice's symbols twice, in coding
        // order: under the anchors' mean, then under the final one.
        let mean = self.net.context_mean_passes(hyper_mean, |r, mu| {
            let (elements, offset) = (&passes[i], r.start * plane);
            let pass_levels = self.pass_levels((i / 2, i % 2 == 1), &q, hyper_fixed, elements, (h, w));
            i += 1;
            let residual = floats(y.clone().narrow(1, r.start, r.len()) - mu);
            for (&e, &level) in elements.iter().zip(&pass_levels) {
                q[e] = self.symbol(residual[e - offset], level, rdoq);
                symbols.push(q[e]);
            }
            levels.extend(pass_levels);
            self.ints_tensor(&q[offset..r.end * plane], [1, r.len(), h, w])
        });
        (mean, q, symbols, levels)
    }
}
