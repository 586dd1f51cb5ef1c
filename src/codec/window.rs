//! The transforms over overlapping windows of the whole image, so that tiles
//! are only the unit of entropy coding and large images have no seams.
//!
//! The analysis runs on windows of [`WINDOW`]×[`WINDOW`] latents (1024×1024
//! pixels) plus [`HALO`] latents of the image around them, and keeps each
//! window's own latents; the synthesis does the same on ŷ and keeps each
//! window's own pixels. Where a halo reaches past the image, the window stops
//! at the image's edge, as whole-image processing does. With a halo at least
//! the convolutions' reach (±2 latents in either transform) this equals
//! whole-image processing except for the state-space blocks, whose scans see
//! [`HALO`] latents (2·HALO positions at 1/8 resolution) beyond the window
//! instead of the whole row; their influence decays along the scan, and
//! `evaluation/seams.sh` measures what is left (README, "Large images").
//!
//! Memory: the whole latent (M×H/16×W/16 floats, 100 MB for M = 96 at
//! 8192×8192) plus one window's activations, whatever the image's size.

use burn::prelude::*;

use crate::io::RgbImage;
use crate::model::conv2d::floats;
use crate::model::{Hyperprior, Y_STRIDE};

/// How the transforms cut an image into windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Window side in latents (×16 pixels).
    pub side: usize,
    /// Latents of context on each side of a window.
    pub halo: usize,
}

impl Windows {
    /// What the codec uses: [`WINDOW`] and [`HALO`].
    pub const DEFAULT: Windows = Windows { side: WINDOW, halo: HALO };
    /// One window over everything (memory grows with the image): the
    /// reference the windows are measured against.
    pub const WHOLE: Windows = Windows { side: usize::MAX, halo: 0 };
}

/// Window side in latents (×16 pixels).
pub const WINDOW: usize = 64;
/// Latents of context on each side of a window.
pub const HALO: usize = 8;

/// C planes of H×W floats, channel-major (the whole image's latent).
#[derive(Clone, Debug)]
pub struct Planes {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Row-major within a plane: element (c, y, x) at `(c·height + y)·width + x`.
    pub data: Vec<f32>,
}

impl Planes {
    /// C planes of `height`×`width` zeros.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Planes {
        Planes { channels, height, width, data: vec![0.0; channels * height * width] }
    }

    /// A `[1, C, h, w]` tensor's planes.
    pub fn from_tensor(t: Tensor<4>) -> Planes {
        let [_, channels, height, width] = t.dims();
        Planes { channels, height, width, data: floats(t) }
    }

    /// The `h`×`w` window at (`y0`, `x0`) as a `[1, C, h, w]` tensor.
    pub fn window(&self, (y0, x0): (usize, usize), (h, w): (usize, usize), device: &Device) -> Tensor<4> {
        let mut out = Vec::with_capacity(self.channels * h * w);
        for c in 0..self.channels {
            for y in y0..y0 + h {
                out.extend_from_slice(&self.data[(c * self.height + y) * self.width + x0..][..w]);
            }
        }
        Tensor::from_data(TensorData::new(out, [1, self.channels, h, w]), device)
    }

    /// Writes the `[1, C, h, w]` tensor `t` (or its part from (`sy`, `sx`) on,
    /// `h`×`w`) at (`y0`, `x0`).
    pub fn paste(&mut self, t: Tensor<4>, (sy, sx): (usize, usize), (y0, x0): (usize, usize), (h, w): (usize, usize)) {
        let [_, c, th, tw] = t.dims();
        debug_assert!(c == self.channels && sy + h <= th && sx + w <= tw);
        let src = floats(t);
        for c in 0..self.channels {
            for y in 0..h {
                let s = (c * th + sy + y) * tw + sx;
                let d = (c * self.height + y0 + y) * self.width + x0;
                self.data[d..d + w].copy_from_slice(&src[s..s + w]);
            }
        }
    }
}

/// The windows of an `h`×`w` grid: per window its core (start, size) and the
/// span with halo (start, size), each as (y, x) pairs.
#[allow(clippy::type_complexity)]
fn windows(
    h: usize,
    w: usize,
    layout: Windows,
) -> Vec<((usize, usize), (usize, usize), (usize, usize), (usize, usize))> {
    let Windows { side, halo } = layout;
    let span = |start: usize, len: usize, total: usize| {
        let a = start.saturating_sub(halo);
        (a, (start + len + halo).min(total) - a)
    };
    let mut out = Vec::new();
    for y0 in (0..h).step_by(side) {
        for x0 in (0..w).step_by(side) {
            let (ch, cw) = (side.min(h - y0), side.min(w - x0));
            let ((hy, hh), (hx, hw)) = (span(y0, ch, h), span(x0, cw, w));
            out.push(((y0, x0), (ch, cw), (hy, hx), (hh, hw)));
        }
    }
    out
}

/// How many windows an image of `width`×`height` pixels is processed in.
pub fn window_count(width: usize, height: usize, layout: Windows) -> usize {
    windows(height.div_ceil(Y_STRIDE), width.div_ceil(Y_STRIDE), layout).len()
}

/// y of the whole image at `quality`: M × ceil(H/16) × ceil(W/16), the image
/// edge-replicated to a multiple of 16 as whole-image analysis would see it.
pub fn analysis(
    net: &Hyperprior,
    m: usize,
    img: &RgbImage,
    quality: u8,
    layout: Windows,
    device: &Device,
    tick: &dyn Fn(),
) -> Planes {
    let (yh, yw) = (img.height.div_ceil(Y_STRIDE), img.width.div_ceil(Y_STRIDE));
    let mut y = Planes::zeros(m, yh, yw);
    for (core, size, halo, span) in windows(yh, yw, layout) {
        let s = Y_STRIDE;
        let x = pixels_tensor(img, (halo.0 * s, halo.1 * s), (span.0 * s, span.1 * s), device);
        let part = net.analysis_at(x, quality);
        y.paste(part, (core.0 - halo.0, core.1 - halo.1), core, size);
        tick();
    }
    y
}

/// The `width`×`height` image that the synthesis makes of ŷ (M × ceil(H/16)
/// × ceil(W/16)) at `quality`, in 8-bit RGB.
pub fn synthesis(
    net: &Hyperprior,
    y_hat: &Planes,
    quality: u8,
    (width, height): (usize, usize),
    layout: Windows,
    device: &Device,
    tick: &dyn Fn(),
) -> RgbImage {
    let mut out = RgbImage { width, height, pixels: vec![0; width * height * 3] };
    let s = Y_STRIDE;
    for (core, size, halo, span) in windows(y_hat.height, y_hat.width, layout) {
        let x_hat = net.synthesis_at(y_hat.window(halo, span, device), quality);
        let [_, _, ph, pw] = x_hat.dims();
        let planar = floats(x_hat);
        let (oy, ox) = ((core.0 - halo.0) * s, (core.1 - halo.1) * s);
        for y in 0..(size.0 * s).min(height - core.0 * s) {
            for x in 0..(size.1 * s).min(width - core.1 * s) {
                let d = ((core.0 * s + y) * width + core.1 * s + x) * 3;
                for c in 0..3 {
                    out.pixels[d + c] =
                        (planar[(c * ph + oy + y) * pw + ox + x] * 255.0).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        tick();
    }
    out
}

/// The `h`×`w` window at (`y0`, `x0`) of the image edge-replicated to any
/// size, as a `[1, 3, h, w]` tensor in [0, 1].
pub fn pixels_tensor(img: &RgbImage, (y0, x0): (usize, usize), (h, w): (usize, usize), device: &Device) -> Tensor<4> {
    let mut planar = vec![0f32; 3 * h * w];
    for y in 0..h {
        let sy = (y0 + y).min(img.height - 1);
        for x in 0..w {
            let p = (sy * img.width + (x0 + x).min(img.width - 1)) * 3;
            for c in 0..3 {
                planar[(c * h + y) * w + x] = img.pixels[p + c] as f32 / 255.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(planar, [1, 3, h, w]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use crate::model::scan::BlockKind;

    /// Without scans (convolutions, GDN, the conv-only blocks), a halo of 3
    /// latents covers the transforms' reach (±2 latents), so windows give
    /// what one pass over the whole image gives; a halo of 1 does not.
    #[test]
    fn windows_with_enough_halo_equal_the_whole_image_without_scans() {
        let device = crate::Backend::Cpu.device();
        let config = ModelConfig { blocks: Some(BlockKind::Conv), ..ModelConfig::plain(8, 12) };
        let net = Hyperprior::new(&config, &device);
        let (w, h) = (37 * 16 - 5, 21 * 16 + 3);
        let img = RgbImage { width: w, height: h, pixels: (0..w * h * 3).map(|i| ((i * 7919) >> 3) as u8).collect() };
        let whole = analysis(&net, 12, &img, 0, Windows::WHOLE, &device, &|| ());
        let diff = |layout: Windows| {
            let y = analysis(&net, 12, &img, 0, layout, &device, &|| ());
            y.data.iter().zip(&whole.data).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max)
        };
        let scale = whole.data.iter().map(|v| v.abs()).fold(0f32, f32::max);
        assert!(diff(Windows { side: 8, halo: 3 }) <= 1e-5 * scale.max(1.0), "analysis");
        assert!(diff(Windows { side: 8, halo: 1 }) > 1e-3 * scale, "a halo of 1 should not be enough");

        let mut y_hat = Planes::zeros(12, 21, 37);
        y_hat.data.iter_mut().enumerate().for_each(|(i, v)| *v = (((i * 2654435761) >> 7) % 41) as f32 - 20.0);
        let whole = synthesis(&net, &y_hat, 0, (w, h), Windows::WHOLE, &device, &|| ());
        let diff = |layout: Windows| {
            let x = synthesis(&net, &y_hat, 0, (w, h), layout, &device, &|| ());
            x.pixels.iter().zip(&whole.pixels).map(|(a, b)| a.abs_diff(*b)).max().unwrap()
        };
        assert!(diff(Windows { side: 8, halo: 3 }) <= 1, "synthesis");
        assert!(diff(Windows { side: 8, halo: 1 }) > 1, "a halo of 1 should not be enough");
    }

    #[test]
    fn windows_cover_the_grid_once_and_halos_stay_inside() {
        for (h, w) in [(1, 1), (64, 64), (65, 130), (200, 7)] {
            let mut seen = vec![0u8; h * w];
            for (core, size, halo, span) in windows(h, w, Windows { side: 64, halo: 8 }) {
                assert!(halo.0 <= core.0 && halo.1 <= core.1);
                assert!(halo.0 + span.0 <= h && halo.1 + span.1 <= w);
                assert!(halo.0 + span.0 >= core.0 + size.0 && halo.1 + span.1 >= core.1 + size.1);
                for y in core.0..core.0 + size.0 {
                    for x in core.1..core.1 + size.1 {
                        seen[y * w + x] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{h}×{w}");
        }
    }
}
