//! Rate-distortion optimised quantisation (RDOQ) of the latent: the
//! encoder's choice, per element, between rounding y − μ to the nearest
//! integer q₀ and the next integer toward zero, q₁ = q₀ − sign(q₀), when the
//! bits that saves under the element's own table are worth more than the
//! squared error it adds. As in the RDOQ of HEVC encoders (Karczewicz et al.
//! 2008; the HM reference encoder), applied here to a learned codec's
//! latent, whose table (the scale level) is known before the element is
//! quantised.
//!
//! q₁ is chosen when (r − q₁)² − (r − q₀)² < κ · (bits(q₀) − bits(q₁)),
//! r = y − μ in quantisation steps, bits from the integer table the element
//! is coded with ([`LatentTable::cost_bits`]). A single κ serves every
//! quality: the variable-rate gains put the latent in comparable units at
//! every λ (a κ scaled by 1/(λ·g⁻¹²), the decoder's gains, measured the same).
//! It was chosen on the first 8 Kodak images and checked on the other 16
//! and on two clips (`RDOQ_KAPPA`'s doc; `evaluation/rdoq_eval.sh`).
//!
//! The decoder is untouched: q is whatever integer the encoder sends. After
//! the encoder's latent search (`--effort` above 1) the latents are rounded
//! to the nearest integer instead: the search already weighed their rate,
//! and RDOQ on top of it measured +0.3 % (effort 2, three Kodak images,
//! in the prototype that chose κ).

use crate::entropy::tables::LatentTable;

/// κ, in squared quantisation steps per bit. On Kodak at -q 0…100 (BD-rate
/// at equal RGB PSNR against nearest rounding, livc-vr5): κ 0.01 −0.9 %,
/// 0.02 −1.2 %, 0.04 −1.1 % on images 1–8; 0.02 gives −1.5 % on images
/// 9–24 and −1.2 % / −3.3 % on the clips carphone and bikes (12 frames,
/// P-frames): `evaluation/rdoq_eval.sh`. A uniform dead zone (every |r|
/// shifted toward zero by δ; a prototype, not kept) gained at most 0.6 %
/// (δ 0.02–0.03) and lost 2.7 % at δ 0.1.
pub const RDOQ_KAPPA: f64 = 0.02;

/// How the coded latents are quantised (for records of the encoder, such as
/// `livc eval`'s, so that results made another way are measured again).
pub fn describe() -> String {
    format!("RDOQ κ {RDOQ_KAPPA}")
}

/// The symbol for the residual `r` = y − μ (quantisation steps) under
/// `table`: the nearest integer, or the next toward zero where the rule of
/// the module doc prefers it.
pub fn quantise(r: f32, table: &LatentTable) -> i32 {
    let nearest = r.round() as i32;
    if nearest == 0 {
        return 0;
    }
    let smaller = nearest - nearest.signum();
    let added_error = ((r - smaller as f32).powi(2) - (r - nearest as f32).powi(2)) as f64;
    let saved_bits = table.cost_bits(nearest) - table.cost_bits(smaller);
    if added_error < RDOQ_KAPPA * saved_bits { smaller } else { nearest }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of σ ≈ 0.3 (zero costs a fraction of a bit, ±1 several) and
    /// one of σ ≈ 8 (neighbouring values cost nearly the same).
    fn table(sigma: f64) -> LatentTable {
        let pmf: Vec<f64> = (-20..=20)
            .map(|v: i32| (-(v as f64).powi(2) / (2.0 * sigma * sigma)).exp())
            .chain(std::iter::once(1e-9))
            .collect();
        let total: f64 = pmf.iter().sum();
        LatentTable::from_pmf(-20, &pmf.iter().map(|p| p / total).collect::<Vec<_>>())
    }

    #[test]
    fn a_residual_just_past_one_half_goes_to_zero_under_a_peaked_table_only() {
        let (peaked, flat) = (table(0.3), table(8.0));
        assert_eq!(quantise(0.55, &peaked), 0);
        assert_eq!(quantise(-0.55, &peaked), 0);
        assert_eq!(quantise(0.55, &flat), 1);
        assert_eq!(quantise(-0.55, &flat), -1);
    }

    #[test]
    fn residuals_near_an_integer_keep_it() {
        let peaked = table(0.3);
        for r in [-3.02f32, -1.0, 0.0, 0.3, 0.98, 2.01, 7.0] {
            assert_eq!(quantise(r, &peaked), r.round() as i32, "r = {r}");
        }
    }

    /// On the sample photo with the embedded model, at three qualities: the
    /// tile coded with RDOQ costs fewer bits, and less in λ·255²·MSE + bits
    /// per pixel (the decoder's real reconstruction), than the same latents
    /// rounded to the nearest integer (a z given to `code_tile`, as after a
    /// search, turns RDOQ off; here it is the z the analysis would give).
    #[test]
    fn rdoq_lowers_the_real_rate_distortion_cost_of_a_tile() {
        use crate::codec::{Codec, CodedTile, Planes};
        let img = crate::io::read_image(std::path::Path::new("datasets/sample/kodim23-crop.png")).unwrap();
        let (w, h) = (img.width, img.height);
        for quality in [0, 30, 90] {
            let codec = Codec::new(crate::model::embedded::default_model().unwrap(), crate::Backend::Cpu)
                .unwrap()
                .at_quality(quality)
                .unwrap();
            let lambda = codec.quality().1;
            let y = codec.analyse(&img, &|| ());
            let y_tile = y.window((0, 0), (y.height, y.width), &codec.device);
            let z = codec.net.hyper_latent(y_tile.clone());
            let cost = |coded: &CodedTile| {
                let mut y_hat = Planes::zeros(y.channels, y.height, y.width);
                y_hat.paste(coded.y_hat.clone(), (0, 0), (0, 0), (y.height, y.width));
                let out = codec.synthesise(&y_hat, quality, (w, h), &|| ());
                // MSE of pixel values in 0..=1, as training's λ·255²·MSE has it.
                let mse = out.pixels.iter().zip(&img.pixels).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>()
                    / img.pixels.len() as f64
                    / (255.0 * 255.0);
                lambda * 255.0 * 255.0 * mse + coded.ideal_bits / (w * h) as f64
            };
            let rounded = codec.code_tile(y_tile.clone(), Some(z)).unwrap();
            let rdoq = codec.code_tile(y_tile, None).unwrap();
            assert!(
                rdoq.ideal_bits < rounded.ideal_bits,
                "q{quality}: {} vs {} bits",
                rdoq.ideal_bits,
                rounded.ideal_bits
            );
            let (with, without) = (cost(&rdoq), cost(&rounded));
            assert!(with < without, "q{quality}: RDOQ cost {with} against rounding {without}");
        }
    }

    #[test]
    fn the_choice_is_nearest_or_one_step_toward_zero() {
        let peaked = table(0.3);
        for i in -400..=400 {
            let r = i as f32 / 50.0;
            let q = quantise(r, &peaked);
            let nearest = r.round() as i32;
            assert!(q == nearest || q == nearest - nearest.signum(), "r = {r}: {q}");
        }
    }
}
