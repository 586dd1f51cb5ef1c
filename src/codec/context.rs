//! Coding y under a context model ([`crate::model::context`]): per slice,
//! the anchors, then the rest, each pass's tables chosen by the integer level
//! correction from the symbols already parsed. The parse needs no float:
//! the means are computed afterwards from the parsed symbols.

use anyhow::Result;

use super::Codec;
use crate::model::context::slice_ranges;

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
        let mut q = vec![0i32; hyper_fixed.len()];
        let (anchors, others): (Vec<usize>, Vec<usize>) = (0..plane).partition(|p| (p / w + p % w) % 2 == 0);
        for (k, r) in slice_ranges(&self.package.info.config.slices).into_iter().enumerate() {
            let net = &self.package.int_context[k];
            let hyper = &hyper_fixed[r.start * plane..r.end * plane];
            let (earlier, current) = q.split_at_mut(r.start * plane);
            let current = &mut current[..r.len() * plane];
            for positions in [&anchors, &others] {
                // In the second pass `current` holds the anchors (zeros elsewhere).
                let fixed = net.levels(earlier, hyper, (positions == &others).then_some(&*current), h, w);
                let local: Vec<usize> =
                    (0..r.len()).flat_map(|c| positions.iter().map(move |&p| c * plane + p)).collect();
                let levels: Vec<u8> = local.iter().map(|&i| self.package.int_scale.index(fixed[i])).collect();
                let elements: Vec<usize> = local.iter().map(|&i| r.start * plane + i).collect();
                for (&i, v) in local.iter().zip(pass(&elements, &levels)?) {
                    current[i] = v;
                }
            }
        }
        Ok(q)
    }
}
