//! RD plots with plotters: SVG for papers, PNG for the README. Measured
//! curves are solid with markers, reference curves (published, or earlier runs) dashed.

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

use super::bdrate::RdPoint;

const SIZE: (u32, u32) = (1100, 800);
const MAX_BPP: f64 = 2.0;

/// The curve sorted by rate and cut at `x_max` (interpolating the crossing segment).
fn clip(curve: &[RdPoint], x_max: f64) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = curve.iter().map(|p| (p.bpp, p.quality)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    for (i, &(x, y)) in pts.iter().enumerate() {
        if x <= x_max {
            out.push((x, y));
        } else {
            if i > 0 {
                let (x0, y0) = pts[i - 1];
                out.push((x_max, y0 + (y - y0) * (x_max - x0) / (x - x0)));
            }
            break;
        }
    }
    out
}

const MEASURED_COLORS: [RGBColor; 8] = [
    RGBColor(228, 26, 28),
    RGBColor(55, 126, 184),
    RGBColor(77, 175, 74),
    RGBColor(152, 78, 163),
    RGBColor(255, 127, 0),
    RGBColor(166, 86, 40),
    RGBColor(247, 129, 191),
    RGBColor(0, 160, 160),
];
const REFERENCE_COLORS: [RGBColor; 8] = [
    RGBColor(90, 90, 90),
    RGBColor(140, 140, 220),
    RGBColor(120, 190, 120),
    RGBColor(220, 150, 150),
    RGBColor(190, 160, 80),
    RGBColor(170, 110, 200),
    RGBColor(100, 180, 200),
    RGBColor(200, 120, 60),
];

/// Where a sans-serif TrueType font usually lives (Debian's fonts-dejavu-core first).
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// plotters draws text with a font we hand it; `LIVC_FONT` overrides the search.
pub fn register_font() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let candidates: Vec<String> =
            std::env::var("LIVC_FONT").ok().into_iter().chain(FONT_PATHS.iter().map(|p| p.to_string())).collect();
        let path = candidates.iter().find(|p| Path::new(p).is_file()).ok_or_else(|| {
            "plots need a TrueType font: install fonts-dejavu-core or set LIVC_FONT=/path/to/font.ttf".to_string()
        })?;
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read font {path}: {e}"))?;
        // plotters keeps fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{path} is not a usable TrueType font"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Writes `<stem>.svg` and `<stem>.png`.
pub fn rd_plot(
    stem: &Path,
    title: &str,
    y_label: &str,
    measured: &[(String, Vec<RdPoint>)],
    reference: &[(String, Vec<RdPoint>)],
) -> Result<()> {
    let measured_points: Vec<&RdPoint> = measured.iter().flat_map(|(_, c)| c.iter()).collect();
    if measured_points.is_empty() {
        bail!("nothing to plot for {title}");
    }
    // The window follows the measured curves up to 2 bpp, where the
    // interesting part of image coding lies; everything is clipped to it.
    let x_max = measured_points.iter().map(|p| p.bpp).fold(0.0, f64::max).min(MAX_BPP) * 1.02;
    let visible: Vec<f64> =
        measured.iter().chain(reference).flat_map(|(_, c)| clip(c, x_max)).map(|(_, q)| q).collect();
    let y_min = visible.iter().copied().fold(f64::INFINITY, f64::min);
    let y_max = visible.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((y_max - y_min) * 0.03).max(0.3);
    let (y_lo, y_hi) = (y_min - pad, y_max + pad);

    let svg_path = stem.with_extension("svg");
    let root = SVGBackend::new(&svg_path, SIZE).into_drawing_area();
    draw(&root, title, y_label, (x_max, y_lo, y_hi), measured, reference)?;
    root.present().map_err(|e| anyhow!("cannot write {}: {e}", svg_path.display()))?;
    drop(root);

    let mut buffer = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
        draw(&root, title, y_label, (x_max, y_lo, y_hi), measured, reference)?;
        root.present().map_err(|e| anyhow!("cannot render {title}: {e}"))?;
    }
    let png_path = stem.with_extension("png");
    image::RgbImage::from_raw(SIZE.0, SIZE.1, buffer)
        .context("plot buffer has the wrong size")?
        .save(&png_path)
        .with_context(|| format!("cannot write {}", png_path.display()))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    (x_max, y_lo, y_hi): (f64, f64, f64),
    measured: &[(String, Vec<RdPoint>)],
    reference: &[(String, Vec<RdPoint>)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plotting failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 28))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, y_lo..y_hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("bits per pixel")
        .y_desc(y_label)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(err)?;
    for (i, (name, curve)) in reference.iter().enumerate() {
        let pts = clip(curve, x_max);
        if pts.len() < 2 {
            continue;
        }
        let color = REFERENCE_COLORS[i % REFERENCE_COLORS.len()].to_rgba();
        let style = ShapeStyle { color, filled: false, stroke_width: 2 };
        chart
            .draw_series(DashedLineSeries::new(pts, 8, 6, style))
            .map_err(err)?
            .label(format!("{name} (reference)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    let mut livc_curves = 0;
    for (i, (name, curve)) in measured.iter().enumerate() {
        let pts = clip(curve, x_max);
        // livc is drawn in black, so it stands out; a second livc curve
        // (all-intra beside P-frames, another effort) in grey.
        let color = if name.starts_with("livc") {
            livc_curves += 1;
            if livc_curves == 1 { BLACK.to_rgba() } else { RGBColor(150, 150, 150).to_rgba() }
        } else {
            MEASURED_COLORS[i % MEASURED_COLORS.len()].to_rgba()
        };
        let style = ShapeStyle { color, filled: true, stroke_width: 3 };
        chart
            .draw_series(LineSeries::new(pts.clone(), style))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, style))).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}
