//! Interleaved rANS with K independent lanes.
//!
//! One integer algorithm, chosen so that it ports unchanged to WGSL (which has
//! no 64-bit integers): a u32 state kept in `[RANS_L, RANS_L << 8)`, byte-wise
//! renormalisation and 16-bit probabilities. Every product stays below 2^32:
//! while encoding, `x < (RANS_L >> 16 << 8) * freq = 2^15 * freq`, so
//! `(x / freq) << 16 < 2^31`; while decoding, `freq * (x >> 16) < 2^16 * 2^16`
//! with `freq <= 2^16 - 1`.
//!
//! Symbol `i` of a stream goes to lane `i % K`. Each lane owns a byte stream;
//! lanes can be decoded in parallel (one GPU invocation per lane) and the
//! layout depends only on K, never on the hardware.

use thiserror::Error;

/// Probabilities are integers out of `2^PROB_BITS`.
pub const PROB_BITS: u32 = 16;
/// `2^PROB_BITS`: the total of every table's frequencies.
pub const PROB_SCALE: u32 = 1 << PROB_BITS;
/// Lower bound of the normalised state interval.
const RANS_L: u32 = 1 << 23;

/// Why a lane's bytes could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RansError {
    /// Lane `.0` ran out of bytes (or is shorter than its 4-byte state).
    #[error("entropy-coded data ends early (lane {0})")]
    Truncated(usize),
    /// Lane `.0`'s state is not one an encoder leaves: below 2^23 at the
    /// start, not 2^23 at the end (also an escape length over 32 bits).
    #[error("entropy-coded data is corrupt (lane {0} did not return to its initial state)")]
    BadFinalState(usize),
    /// Lane `.0` has `.1` bytes left after its last symbol.
    #[error("entropy-coded data is corrupt (lane {0} has {1} unread bytes)")]
    TrailingBytes(usize, usize),
}

/// One coding step: the symbol's interval `[start, start + freq)` out of `PROB_SCALE`.
#[derive(Clone, Copy, Debug)]
struct Interval {
    start: u32,
    freq: u32,
}

/// Collects symbols in forward order and encodes each lane backwards on `finish`
/// (rANS is last-in first-out, the decoder reads forwards).
pub struct LaneEncoder {
    lanes: Vec<Vec<Interval>>,
    next_symbol: usize,
}

impl LaneEncoder {
    /// An encoder over `lane_count` lanes (at least 1; panics on 0).
    pub fn new(lane_count: usize) -> Self {
        assert!(lane_count >= 1);
        Self { lanes: vec![Vec::new(); lane_count], next_symbol: 0 }
    }

    /// Lane of the next symbol; escapes and raw bits of a symbol stay in its lane.
    pub fn begin_symbol(&mut self) -> usize {
        let lane = self.next_symbol % self.lanes.len();
        self.next_symbol += 1;
        lane
    }

    /// Codes `index` with a cumulative table (`cdf[0] = 0`, `cdf[last] = PROB_SCALE`, strictly increasing).
    pub fn put(&mut self, lane: usize, cdf: &[u32], index: usize) {
        let start = cdf[index];
        let freq = cdf[index + 1] - start;
        debug_assert!(freq > 0 && freq < PROB_SCALE);
        self.lanes[lane].push(Interval { start, freq });
    }

    /// Codes the low `bits` bits of `value` with a uniform distribution (`bits <= 16`).
    pub fn put_bits(&mut self, lane: usize, value: u32, bits: u32) {
        debug_assert!((1..=16).contains(&bits) && value < (1 << bits));
        let freq = 1 << (PROB_BITS - bits);
        self.lanes[lane].push(Interval { start: value * freq, freq });
    }

    /// Encodes every lane; returns one byte stream per lane.
    pub fn finish(self) -> Vec<Vec<u8>> {
        self.lanes.iter().map(|steps| encode_lane(steps)).collect()
    }
}

fn encode_lane(steps: &[Interval]) -> Vec<u8> {
    let mut out = Vec::with_capacity(steps.len() / 2 + 4);
    let mut x = RANS_L;
    for s in steps.iter().rev() {
        let x_max = ((RANS_L >> PROB_BITS) << 8) * s.freq;
        while x >= x_max {
            out.push(x as u8);
            x >>= 8;
        }
        x = ((x / s.freq) << PROB_BITS) + (x % s.freq) + s.start;
    }
    out.extend_from_slice(&x.to_le_bytes());
    out.reverse();
    out
}

/// Decodes lanes produced by [`LaneEncoder`] in the same symbol order.
pub struct LaneDecoder<'a> {
    lanes: Vec<LaneState<'a>>,
    next_symbol: usize,
}

struct LaneState<'a> {
    state: u32,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> LaneDecoder<'a> {
    /// A decoder over the lanes' bytes, each starting with its state (4 bytes,
    /// big-endian). Errors: a lane under 4 bytes, a state below 2^23. Panics
    /// without lanes.
    pub fn new(lane_bytes: Vec<&'a [u8]>) -> Result<Self, RansError> {
        let mut lanes = Vec::with_capacity(lane_bytes.len());
        for (i, bytes) in lane_bytes.into_iter().enumerate() {
            if bytes.len() < 4 {
                return Err(RansError::Truncated(i));
            }
            let state = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if state < RANS_L {
                return Err(RansError::BadFinalState(i));
            }
            lanes.push(LaneState { state, bytes, pos: 4 });
        }
        assert!(!lanes.is_empty(), "at least one lane");
        Ok(Self { lanes, next_symbol: 0 })
    }

    /// Lane of the next symbol, as [`LaneEncoder::begin_symbol`] gave it.
    pub fn begin_symbol(&mut self) -> usize {
        let lane = self.next_symbol % self.lanes.len();
        self.next_symbol += 1;
        lane
    }

    /// Decodes one index coded with `cdf` (see [`LaneEncoder::put`]).
    pub fn get(&mut self, lane: usize, cdf: &[u32]) -> Result<usize, RansError> {
        let slot = self.lanes[lane].state & (PROB_SCALE - 1);
        // Largest index with cdf[index] <= slot; cdf[0] = 0 so it exists.
        let index = cdf.partition_point(|&c| c <= slot) - 1;
        let (start, freq) = (cdf[index], cdf[index + 1] - cdf[index]);
        self.advance(lane, start, freq, slot)?;
        Ok(index)
    }

    /// Decodes `bits` uniformly coded bits (see [`LaneEncoder::put_bits`]).
    pub fn get_bits(&mut self, lane: usize, bits: u32) -> Result<u32, RansError> {
        let slot = self.lanes[lane].state & (PROB_SCALE - 1);
        let freq = 1 << (PROB_BITS - bits);
        let value = slot >> (PROB_BITS - bits);
        self.advance(lane, value * freq, freq, slot)?;
        Ok(value)
    }

    fn advance(&mut self, lane: usize, start: u32, freq: u32, slot: u32) -> Result<(), RansError> {
        let l = &mut self.lanes[lane];
        l.state = freq * (l.state >> PROB_BITS) + slot - start;
        while l.state < RANS_L {
            let byte = *l.bytes.get(l.pos).ok_or(RansError::Truncated(lane))?;
            l.state = (l.state << 8) | byte as u32;
            l.pos += 1;
        }
        Ok(())
    }

    /// Checks that every lane consumed all its bytes and returned to the
    /// encoder's initial state: a cheap integrity check on the payload.
    pub fn finish(self) -> Result<(), RansError> {
        for (i, l) in self.lanes.iter().enumerate() {
            if l.state != RANS_L {
                return Err(RansError::BadFinalState(i));
            }
            if l.pos != l.bytes.len() {
                return Err(RansError::TrailingBytes(i, l.bytes.len() - l.pos));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform_cdf(n: u32) -> Vec<u32> {
        (0..=n).map(|i| i * PROB_SCALE / n).collect()
    }

    #[test]
    fn empty_stream_round_trips() {
        let lanes = LaneEncoder::new(3).finish();
        assert!(lanes.iter().all(|l| l.len() == 4));
        let dec = LaneDecoder::new(lanes.iter().map(|l| l.as_slice()).collect()).unwrap();
        dec.finish().unwrap();
    }

    #[test]
    fn uniform_symbols_cost_their_entropy() {
        let cdf = uniform_cdf(256);
        let mut enc = LaneEncoder::new(1);
        for i in 0..100_000u32 {
            let lane = enc.begin_symbol();
            enc.put(lane, &cdf, (i.wrapping_mul(2654435761) >> 24) as usize);
        }
        let bytes = enc.finish();
        // 8 bits per symbol, plus the 4-byte flush.
        assert!(bytes[0].len() <= 100_000 + 8, "{}", bytes[0].len());
    }

    #[test]
    fn truncated_lane_is_an_error() {
        let cdf = uniform_cdf(256);
        let mut enc = LaneEncoder::new(1);
        for i in 0..1000 {
            let lane = enc.begin_symbol();
            enc.put(lane, &cdf, i % 256);
        }
        let bytes = enc.finish();
        let cut = &bytes[0][..bytes[0].len() / 2];
        let mut dec = LaneDecoder::new(vec![cut]).unwrap();
        let mut result = Ok(0);
        for _ in 0..1000 {
            let lane = dec.begin_symbol();
            result = dec.get(lane, &cdf);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(RansError::Truncated(0)));
    }
}
