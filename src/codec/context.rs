//! Coding y under a context model ([`crate::model::context`]): per slice,
//! the anchors, then the rest, each pass's tables chosen by the integer level
//! correction from the symbols already parsed. The parse needs no float:
//! the means are computed afterwards from the parsed symbols.

use anyhow::Result;

use super::Codec;
use crate::model::context::{coding_passes, slice_ranges};

impl Codec {
    /// Walks the slices and checkerboard passes in coding order. `pass`
    /// receives one pass's elements (indices into y's `[m][h][w]`) and their
    /// table indices, and returns their symbols; the result is every symbol.
    /// The encoder's `pass` records what it is given and returns the known
    /// symbols, the decoder's parses them.
    pub(super) fn context_passes(
        &self,
        hyper_fixed: &[i32],
        (h, w): (usize, usize),
        mut pass: impl FnMut(&[usize], &[u8]) -> Result<Vec<i32>>,
    ) -> Result<Vec<i32>> {
        let plane = h * w;
        let slices = &self.package.info.config.slices;
        let passes = coding_passes(slices, h, w);
        let mut q = vec![0i32; hyper_fixed.len()];
        for (k, r) in slice_ranges(slices).into_iter().enumerate() {
            let (net, offset) = (&self.package.int_context[k], r.start * plane);
            let hyper = &hyper_fixed[offset..r.end * plane];
            let (earlier, current) = q.split_at_mut(offset);
            let current = &mut current[..r.len() * plane];
            for (second, elements) in passes[2 * k..2 * k + 2].iter().enumerate() {
                // In the second pass `current` holds the anchors (zeros elsewhere).
                let fixed = net.levels(earlier, hyper, (second == 1).then_some(&*current), h, w);
                let levels: Vec<u8> =
                    elements.iter().map(|&e| self.package.int_scale.index(fixed[e - offset])).collect();
                for (&e, v) in elements.iter().zip(pass(elements, &levels)?) {
                    current[e - offset] = v;
                }
            }
        }
        Ok(q)
    }
}
