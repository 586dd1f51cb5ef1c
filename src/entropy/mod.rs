//! Entropy coding: integer probability tables and the laned rANS coder.

pub mod rans;
pub mod tables;

pub use rans::{LaneDecoder, LaneEncoder, RansError};
pub use tables::{LatentTable, SCALE_LEVELS};

#[cfg(test)]
mod tests {
    use super::tables::{LatentTable, gaussian_table};
    use super::*;
    use proptest::prelude::*;

    fn round_trip(tables: &[LatentTable], values: &[(usize, i32)], lanes: usize) {
        let mut enc = LaneEncoder::new(lanes);
        for &(t, v) in values {
            let lane = enc.begin_symbol();
            tables[t].encode(&mut enc, lane, v);
        }
        let streams = enc.finish();
        let mut dec = LaneDecoder::new(streams.iter().map(|s| s.as_slice()).collect()).unwrap();
        for &(t, v) in values {
            let lane = dec.begin_symbol();
            assert_eq!(tables[t].decode(&mut dec, lane).unwrap(), v);
        }
        dec.finish().unwrap();
    }

    proptest! {
        #[test]
        fn random_distributions_round_trip(
            weights in prop::collection::vec(prop::collection::vec(0.0f64..1.0, 2..300), 1..5),
            picks in prop::collection::vec((any::<usize>(), any::<i32>(), 0u8..10), 0..2000),
            lanes in 1usize..40,
        ) {
            let tables: Vec<LatentTable> = weights.iter().enumerate()
                .map(|(i, w)| LatentTable::from_pmf(i as i32 * 7 - 20, w)).collect();
            // Mostly in-range values, some anywhere in i32 (escapes).
            let values: Vec<(usize, i32)> = picks.iter().map(|&(t, v, kind)| {
                let t = t % tables.len();
                let n = tables[t].cdf.len() as i32 - 2;
                let v = if kind == 0 { v } else { tables[t].min + v.rem_euclid(n) };
                (t, v)
            }).collect();
            round_trip(&tables, &values, lanes);
        }

        #[test]
        fn extreme_probabilities_round_trip(
            spike in 0.999_999f64..1.0,
            values in prop::collection::vec(-3i32..4, 0..3000),
        ) {
            // One symbol takes nearly all the mass; the others get frequency 1.
            let pmf = [(1.0 - spike) / 3.0, spike, (1.0 - spike) / 3.0, (1.0 - spike) / 3.0];
            let table = LatentTable::from_pmf(-1, &pmf);
            let values: Vec<(usize, i32)> = values.into_iter().map(|v| (0, v)).collect();
            round_trip(&[table], &values, 4);
        }
    }

    #[test]
    fn coded_size_is_close_to_table_entropy() {
        let table = gaussian_table(0.0, 3.0, -18, 18);
        let mut state = 12345u64;
        let mut values = Vec::new();
        for _ in 0..200_000 {
            // Cheap deterministic Gaussian-ish samples (sum of uniforms).
            let mut s = 0.0;
            for _ in 0..4 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                s += (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            }
            values.push((s * 3.0 * 1.7320508).round() as i32);
        }
        let ideal: f64 = values.iter().map(|&v| table.cost_bits(v)).sum();
        let mut enc = LaneEncoder::new(4);
        for &v in &values {
            let lane = enc.begin_symbol();
            table.encode(&mut enc, lane, v);
        }
        let bits = enc.finish().iter().map(|s| s.len() * 8).sum::<usize>() as f64;
        let overhead = bits / ideal - 1.0;
        assert!(overhead < 0.001 && overhead > -0.001, "overhead {overhead}");
    }
}
