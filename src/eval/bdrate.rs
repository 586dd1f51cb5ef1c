//! Bjøntegaard deltas (VCEG-M33) with piecewise-cubic Hermite (PCHIP)
//! interpolation, as in the `bjontegaard` Python package with
//! `method="pchip"` (scipy's `PchipInterpolator`, integrated exactly).

/// A monotonicity-preserving cubic interpolant through points with strictly
/// increasing x (Fritsch–Carlson slopes, scipy's end conditions).
pub struct Pchip {
    x: Vec<f64>,
    y: Vec<f64>,
    slope: Vec<f64>,
}

impl Pchip {
    /// `None` unless there are at least two points with strictly increasing x.
    pub fn new(x: &[f64], y: &[f64]) -> Option<Pchip> {
        let n = x.len();
        if n < 2
            || y.len() != n
            || x.windows(2).any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater))
            || y.iter().any(|v| !v.is_finite())
        {
            return None;
        }
        let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let m: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
        let mut slope = vec![0.0; n];
        if n == 2 {
            slope = vec![m[0], m[0]];
        } else {
            for k in 1..n - 1 {
                let (m0, m1) = (m[k - 1], m[k]);
                if m0 == 0.0 || m1 == 0.0 || m0.signum() != m1.signum() {
                    continue; // a local extremum stays flat
                }
                let w1 = 2.0 * h[k] + h[k - 1];
                let w2 = h[k] + 2.0 * h[k - 1];
                slope[k] = (w1 + w2) / (w1 / m0 + w2 / m1);
            }
            slope[0] = edge_slope(h[0], h[1], m[0], m[1]);
            slope[n - 1] = edge_slope(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
        }
        Some(Pchip { x: x.to_vec(), y: y.to_vec(), slope })
    }

    fn segment(&self, t: f64) -> usize {
        let last = self.x.len() - 2;
        self.x[1..=last].iter().take_while(|&&xk| xk <= t).count()
    }

    /// Cubic coefficients (c0..c3) of segment k in the local variable t − x[k].
    fn coefficients(&self, k: usize) -> [f64; 4] {
        let h = self.x[k + 1] - self.x[k];
        let m = (self.y[k + 1] - self.y[k]) / h;
        let (d0, d1) = (self.slope[k], self.slope[k + 1]);
        [self.y[k], d0, (3.0 * m - 2.0 * d0 - d1) / h, (d0 + d1 - 2.0 * m) / (h * h)]
    }

    /// The interpolant at `t` (beyond the data range, the first or last cubic
    /// extended).
    pub fn eval(&self, t: f64) -> f64 {
        let k = self.segment(t);
        let c = self.coefficients(k);
        let s = t - self.x[k];
        c[0] + s * (c[1] + s * (c[2] + s * c[3]))
    }

    /// ∫ from a to b (a ≤ b, both inside the data range).
    pub fn integrate(&self, a: f64, b: f64) -> f64 {
        let antiderivative = |k: usize, s: f64| {
            let c = self.coefficients(k);
            s * (c[0] + s * (c[1] / 2.0 + s * (c[2] / 3.0 + s * c[3] / 4.0)))
        };
        let (ka, kb) = (self.segment(a), self.segment(b));
        let mut total = 0.0;
        for k in ka..=kb {
            let lo = if k == ka { a } else { self.x[k] };
            let hi = if k == kb { b } else { self.x[k + 1] };
            total += antiderivative(k, hi - self.x[k]) - antiderivative(k, lo - self.x[k]);
        }
        total
    }
}

fn edge_slope(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if d.signum() != m0.signum() || d == 0.0 {
        0.0
    } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

/// One rate-distortion point: bits per pixel and a quality (PSNR or
/// MS-SSIM in dB, or a SSIMULACRA 2 score: whatever the curve compares).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RdPoint {
    /// Bits per pixel of the whole file.
    pub bpp: f64,
    /// Higher is better; the unit is the curve's.
    pub quality: f64,
}

/// A Bjøntegaard delta and the share of the two curves' joint range it was
/// measured over (the `bjontegaard` package warns below 0.75).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delta {
    /// The delta: percent for [`bd_rate`], dB for [`bd_quality`].
    pub value: f64,
    /// The common x range over the joint one, in 0 ..= 1.
    pub overlap: f64,
}

/// Average difference of two interpolated curves over their common x range.
fn delta(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Option<Delta> {
    let curve = |points: &[(f64, f64)]| {
        let mut p = points.to_vec();
        p.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (x, y): (Vec<f64>, Vec<f64>) = p.into_iter().unzip();
        Pchip::new(&x, &y).map(|f| (f, x[0], x[x.len() - 1]))
    };
    let (fa, a_lo, a_hi) = curve(anchor)?;
    let (ft, t_lo, t_hi) = curve(test)?;
    let (lo, hi) = (a_lo.max(t_lo), a_hi.min(t_hi));
    if hi <= lo {
        return None;
    }
    let overlap = (hi - lo) / (a_hi.max(t_hi) - a_lo.min(t_lo));
    Some(Delta { value: (ft.integrate(lo, hi) - fa.integrate(lo, hi)) / (hi - lo), overlap })
}

/// BD-rate in percent: the average bitrate change of `test` against `anchor`
/// at equal quality (negative = test needs fewer bits). `None` when the
/// curves share no quality range or a curve has fewer than two distinct points.
pub fn bd_rate(anchor: &[RdPoint], test: &[RdPoint]) -> Option<Delta> {
    let flip = |c: &[RdPoint]| c.iter().map(|p| (p.quality, p.bpp.log10())).collect::<Vec<_>>();
    delta(&flip(anchor), &flip(test)).map(|d| Delta { value: (10f64.powf(d.value) - 1.0) * 100.0, ..d })
}

/// BD-PSNR (or BD of any dB quality): the average quality change of `test`
/// against `anchor` at equal bitrate, in dB.
pub fn bd_quality(anchor: &[RdPoint], test: &[RdPoint]) -> Option<Delta> {
    let pts = |c: &[RdPoint]| c.iter().map(|p| (p.bpp.log10(), p.quality)).collect::<Vec<_>>();
    delta(&pts(anchor), &pts(test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pchip_reproduces_a_line_and_integrates_it() {
        let x = [0.0, 1.0, 3.0, 4.0];
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let f = Pchip::new(&x, &y).unwrap();
        for t in [0.0, 0.5, 2.2, 4.0] {
            assert!((f.eval(t) - (2.0 * t + 1.0)).abs() < 1e-12);
        }
        // ∫ 2t+1 from 0.5 to 3.5 = [t² + t] = 15.75 − 0.75
        assert!((f.integrate(0.5, 3.5) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn pchip_is_monotone_between_monotone_points() {
        let x = [0.0, 1.0, 2.0, 5.0, 6.0];
        let y = [0.0, 0.1, 5.0, 5.1, 9.0];
        let f = Pchip::new(&x, &y).unwrap();
        let mut last = f.eval(0.0);
        for i in 1..=600 {
            let v = f.eval(i as f64 / 100.0);
            assert!(v >= last - 1e-12, "not monotone at {}", i);
            last = v;
        }
    }

    #[test]
    fn a_curve_against_itself_is_zero_and_a_scaled_rate_is_exact() {
        let anchor: Vec<RdPoint> = [(0.2, 28.0), (0.4, 31.0), (0.8, 34.5), (1.5, 38.0)]
            .iter()
            .map(|&(bpp, quality)| RdPoint { bpp, quality })
            .collect();
        assert!(bd_rate(&anchor, &anchor).unwrap().value.abs() < 1e-12);
        // The same qualities at 0.8× the bits: BD-rate is exactly −20 %.
        let test: Vec<RdPoint> = anchor.iter().map(|p| RdPoint { bpp: p.bpp * 0.8, ..*p }).collect();
        let d = bd_rate(&anchor, &test).unwrap();
        assert!((d.value + 20.0).abs() < 1e-9, "{d:?}");
        assert_eq!(d.overlap, 1.0);
        // And 1 dB better everywhere is BD-PSNR +1.
        let better: Vec<RdPoint> = anchor.iter().map(|p| RdPoint { quality: p.quality + 1.0, ..*p }).collect();
        assert!((bd_quality(&anchor, &better).unwrap().value - 1.0).abs() < 1e-9);
    }

    #[test]
    fn disjoint_curves_have_no_delta() {
        let a = [RdPoint { bpp: 0.1, quality: 20.0 }, RdPoint { bpp: 0.2, quality: 22.0 }];
        let b = [RdPoint { bpp: 0.5, quality: 30.0 }, RdPoint { bpp: 1.0, quality: 33.0 }];
        assert_eq!(bd_rate(&a, &b), None);
        assert_eq!(bd_rate(&a, &a[..1]), None);
    }
}
