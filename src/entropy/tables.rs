//! Integer probability tables and how one latent value is coded with them.
//!
//! Tables are built once, in f64 on the CPU, when a model is exported, and
//! stored as integers with its weights. Nothing transcendental runs while
//! decoding, so every machine parses a bitstream the same way.

use super::rans::{LaneDecoder, LaneEncoder, PROB_SCALE, RansError};

/// Smallest and largest Gaussian scale in the scale table and how many levels
/// lie between them (log-spaced). The hyper-synthesis predicts a level index.
pub const SCALE_MIN: f64 = 0.11;
/// The largest Gaussian scale of the scale table (level `SCALE_LEVELS − 1`).
pub const SCALE_MAX: f64 = 256.0;
/// How many log-spaced scale levels the scale table has (level indices
/// 0 ..= 63).
pub const SCALE_LEVELS: usize = 64;
/// Coded range of a table is about ±TAIL_SIGMAS·σ; the rest is escape-coded.
const TAIL_SIGMAS: f64 = 6.0;

/// Scale of level `k` (0-based).
pub fn scale_of_level(k: f64) -> f64 {
    let step = (SCALE_MAX / SCALE_MIN).ln() / (SCALE_LEVELS - 1) as f64;
    (SCALE_MIN.ln() + k * step).exp()
}

/// A discrete distribution over `min ..= min + n - 1` plus an escape symbol
/// (index `n`) for everything outside that range.
#[derive(Clone, Debug, PartialEq)]
pub struct LatentTable {
    /// The value of symbol 0.
    pub min: i32,
    /// Cumulative frequencies, `n + 2` entries from 0 to `PROB_SCALE`.
    pub cdf: Vec<u32>,
}

impl LatentTable {
    /// Quantises `pmf` over `min ..` (the last entry is the escape mass).
    pub fn from_pmf(min: i32, pmf: &[f64]) -> Self {
        Self { min, cdf: quantize_pmf(pmf) }
    }

    /// A table read from a file: `cdf` must run from 0 to `PROB_SCALE`,
    /// strictly increasing (every symbol, the escape included, has a
    /// frequency of at least 1: the coder cannot code a symbol of
    /// frequency 0), and `min` + its regular symbols must stay within i32.
    /// Errors: which of these it breaks.
    pub fn checked(min: i32, cdf: Vec<u32>) -> Result<Self, &'static str> {
        if cdf.len() < 2 || cdf[0] != 0 || *cdf.last().unwrap() != PROB_SCALE {
            return Err("not a CDF from 0 to the probability scale");
        }
        if cdf.windows(2).any(|w| w[1] <= w[0]) {
            return Err("a symbol of frequency 0");
        }
        if min as i64 + (cdf.len() - 2) as i64 > i32::MAX as i64 {
            return Err("values beyond 32 bits");
        }
        Ok(Self { min, cdf })
    }

    fn regular_symbols(&self) -> usize {
        self.cdf.len() - 2
    }

    /// Exact cost in bits of coding `value` with this table, escapes included.
    pub fn cost_bits(&self, value: i32) -> f64 {
        let index = value as i64 - self.min as i64;
        let freq_bits = |i: usize| -((self.cdf[i + 1] - self.cdf[i]) as f64 / PROB_SCALE as f64).log2();
        if index >= 0 && (index as usize) < self.regular_symbols() {
            freq_bits(index as usize)
        } else {
            let bits = 32 - zigzag(value).leading_zeros();
            freq_bits(self.regular_symbols()) + 6.0 + bits as f64
        }
    }

    /// Codes `value` in `lane`: its symbol, or the escape, then the zig-zag
    /// code's bit length (6 raw bits) and its bits, most significant first, in
    /// chunks of up to 16.
    pub fn encode(&self, enc: &mut LaneEncoder, lane: usize, value: i32) {
        let index = value as i64 - self.min as i64;
        if index >= 0 && (index as usize) < self.regular_symbols() {
            enc.put(lane, &self.cdf, index as usize);
            return;
        }
        // Escape, then the zig-zagged value: its bit length (6 bits), then its bits.
        enc.put(lane, &self.cdf, self.regular_symbols());
        let raw = zigzag(value);
        let mut bits = 32 - raw.leading_zeros();
        enc.put_bits(lane, bits, 6);
        while bits > 0 {
            let chunk = bits.min(16);
            bits -= chunk;
            enc.put_bits(lane, (raw >> bits) & ((1 << chunk) - 1), chunk);
        }
    }

    /// Decodes one value coded by [`LatentTable::encode`]. Errors: the lane's
    /// bytes end ([`RansError::Truncated`]), an escape length over 32 bits.
    pub fn decode(&self, dec: &mut LaneDecoder, lane: usize) -> Result<i32, RansError> {
        let index = dec.get(lane, &self.cdf)?;
        if index < self.regular_symbols() {
            return Ok(self.min + index as i32);
        }
        let mut bits = dec.get_bits(lane, 6)?;
        if bits > 32 {
            return Err(RansError::BadFinalState(lane));
        }
        let mut raw: u32 = 0;
        while bits > 0 {
            let chunk = bits.min(16);
            bits -= chunk;
            raw = (raw.checked_shl(chunk).unwrap_or(0)) | dec.get_bits(lane, chunk)?;
        }
        Ok(unzigzag(raw))
    }
}

fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn unzigzag(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

/// Turns probabilities into integer frequencies that sum to `PROB_SCALE`,
/// each at least 1 so that every symbol stays codable.
pub fn quantize_pmf(pmf: &[f64]) -> Vec<u32> {
    assert!(pmf.len() >= 2 && pmf.len() < PROB_SCALE as usize / 2);
    let total: f64 = pmf.iter().map(|p| p.max(0.0)).sum();
    let mut freq: Vec<u32> =
        pmf.iter().map(|&p| ((p.max(0.0) / total) * PROB_SCALE as f64).round().max(1.0) as u32).collect();
    // Give the rounding error to (or take it from) the most probable symbols,
    // where it costs the least.
    let mut order: Vec<usize> = (0..freq.len()).collect();
    order.sort_by(|&a, &b| freq[b].cmp(&freq[a]).then(a.cmp(&b)));
    let mut sum: i64 = freq.iter().map(|&f| f as i64).sum();
    let mut k = 0;
    while sum != PROB_SCALE as i64 {
        let i = order[k % order.len()];
        if sum < PROB_SCALE as i64 {
            freq[i] += (PROB_SCALE as i64 - sum) as u32;
            sum = PROB_SCALE as i64;
        } else if freq[i] > 1 {
            let take = (sum - PROB_SCALE as i64).min(freq[i] as i64 - 1);
            freq[i] -= take as u32;
            sum -= take;
        }
        k += 1;
    }
    let mut cdf = Vec::with_capacity(freq.len() + 1);
    cdf.push(0);
    for f in freq {
        cdf.push(cdf.last().unwrap() + f);
    }
    cdf
}

/// Standard normal CDF, accurate to ~1e-7 relative even far in the tails.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function (Chebyshev fit, fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Discretised Gaussian N(mean, scale) over the integers `min ..= max`
/// (each integer gets the mass of its unit interval) plus the outside mass.
pub fn gaussian_table(mean: f64, scale: f64, min: i32, max: i32) -> LatentTable {
    let mut pmf: Vec<f64> = (min..=max)
        .map(|v| {
            let hi = normal_cdf((v as f64 + 0.5 - mean) / scale);
            let lo = normal_cdf((v as f64 - 0.5 - mean) / scale);
            (hi - lo).max(0.0)
        })
        .collect();
    let inside = normal_cdf((max as f64 + 0.5 - mean) / scale) - normal_cdf((min as f64 - 0.5 - mean) / scale);
    pmf.push((1.0 - inside).max(1e-12));
    LatentTable::from_pmf(min, &pmf)
}

/// The zero-mean tables for the Gaussian conditional, one per scale level.
pub fn scale_tables() -> Vec<LatentTable> {
    (0..SCALE_LEVELS)
        .map(|k| {
            let scale = scale_of_level(k as f64);
            let tail = (TAIL_SIGMAS * scale).ceil().max(1.0) as i32;
            gaussian_table(0.0, scale, -tail, tail)
        })
        .collect()
}

/// Table of one hyper-latent channel with a learned mean and scale.
pub fn channel_table(mean: f64, scale: f64) -> LatentTable {
    let scale = scale.clamp(SCALE_MIN, SCALE_MAX);
    let tail = (TAIL_SIGMAS * scale).ceil().max(1.0);
    let min = (mean - tail).floor().clamp(-4096.0, 4096.0) as i32;
    let max = (mean + tail).ceil().clamp(-4096.0, 4096.0) as i32;
    gaussian_table(mean, scale, min, max.max(min + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841344746).abs() < 1e-7);
        assert!((normal_cdf(-3.0) - 0.001349898).abs() < 1e-9);
        // Relative accuracy in the far tail.
        let tail = normal_cdf(-6.0);
        assert!((tail / 9.865876450e-10 - 1.0).abs() < 1e-5, "{tail}");
    }

    #[test]
    fn quantized_tables_are_valid_cdfs() {
        for t in scale_tables() {
            assert_eq!(t.cdf[0], 0);
            assert_eq!(*t.cdf.last().unwrap(), PROB_SCALE);
            assert!(t.cdf.windows(2).all(|w| w[1] > w[0]));
        }
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, 1, -1, 12345, -12345, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
