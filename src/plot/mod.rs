//! Figures, one module per figure, generic over plotters' `DrawingBackend`: the CLI renders them
//! to SVG, the page to a canvas, from the same code.

pub mod cost;

use plotters::style::RGBColor;

/// A drawing failure, as text (backends have different error types).
pub type PlotResult = std::result::Result<(), String>;

/// Converts any backend error to text.
pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("plot: {e:?}")
}

/// A colour-blind-safe palette (Okabe–Ito), in the order flows are assigned colours.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue: adapted
    RGBColor(213, 94, 0),    // vermillion: standard
    RGBColor(0, 158, 115),   // bluish green: gradient descent
    RGBColor(204, 121, 167), // reddish purple: homotopy
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(240, 228, 66),  // yellow
    RGBColor(0, 0, 0),       // black
];

/// A named polyline.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Points `(x, y)`.
    pub points: Vec<(f64, f64)>,
}

/// `[lo, hi]` of the positive finite values of `ys`, padded by a factor on a log scale.
pub(crate) fn log_range(ys: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for y in ys.filter(|y| y.is_finite() && *y > 0.0) {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if !lo.is_finite() || hi <= 0.0 {
        return (1e-3, 1.0);
    }
    if hi / lo < 10.0 {
        let mid = (hi * lo).sqrt();
        return (mid / 10.0, mid * 10.0);
    }
    (lo / 2.0, hi * 2.0)
}
