//! Figures, one module per figure, generic over plotters' `DrawingBackend`: the CLI renders them
//! to SVG, the page to a canvas, from the same code.

pub mod collapse;
pub mod cost;
pub mod eigenmodes;
pub mod grid;
pub mod heatmap;
pub mod layers;
pub mod network;
pub mod outputs;
#[cfg(not(target_arch = "wasm32"))]
pub mod raster;
pub mod reparam;
pub mod singular;
pub mod slice;
pub mod spectrum;
pub mod sweep;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontDesc, RGBColor};
use serde::{Deserialize, Serialize};

/// A drawing failure, as text (backends have different error types).
pub type PlotResult = crate::Result<()>;

/// Converts any backend error to [`Error::Plot`](crate::Error::Plot).
pub(crate) fn err<E: std::fmt::Debug>(e: E) -> crate::Error {
    crate::Error::Plot(format!("{e:?}"))
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

/// The colour of a flow: its palette index (`FlowChoice::color_index`) wraps around [`PALETTE`].
pub fn flow_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// A colour as CSS `#rrggbb`.
pub fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

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
        return (8e-4, 1.2);
    }
    // Ends off the powers of ten: a tick label at the very bottom would meet the labels of the
    // axis below it.
    if hi / lo < 10.0 {
        let mid = (hi * lo).sqrt();
        return (mid / 12.0, mid * 12.0);
    }
    // Beyond 60 decades a log axis says nothing more, and drawing its mesh gets slow.
    let lo = lo.max(hi * 1e-60);
    (lo / 2.0, hi * 2.0)
}

/// Colours of the classes `ω = 1, 2, …` (data points, heatmap, neural collapse): distinct from
/// the flow colours of [`PALETTE`] where they meet on one figure.
pub const CLASS_COLORS: [RGBColor; 8] = [
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 114, 178),   // blue
    RGBColor(240, 228, 66),  // yellow
    RGBColor(100, 100, 100), // grey
];

/// The colour of the homotopy flow `α`: the standard flow's colour at `α = 0`, the adapted
/// flow's at `α = 1`, mixed linearly in between.
pub fn alpha_color(alpha: f64) -> RGBColor {
    let a = if alpha.is_finite() {
        alpha.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let (s, d) = (PALETTE[1], PALETTE[0]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * a).round() as u8;
    RGBColor(mix(s.0, d.0), mix(s.1, d.1), mix(s.2, d.2))
}

/// The colour of class `c` (cycling through [`CLASS_COLORS`]).
pub fn class_color(c: usize) -> RGBColor {
    CLASS_COLORS[c % CLASS_COLORS.len()]
}

/// How big to draw, decided in one place for every figure: `scale` (device pixels per CSS pixel)
/// keeps lines and text the same apparent size on any screen, and `zoom` makes text, marks and
/// margins follow the canvas, so that one figure reads well from a 300-pixel cell of an embed to
/// a full-screen frame on a projector. Figures take a [`Look::fit`] of the look they are given and
/// ask it how many ticks their axes can carry ([`Look::ticks`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// Device pixels per CSS pixel.
    pub scale: f64,
    /// Size of text, marks and margins relative to a figure of [`Look::REFERENCE`] CSS pixels.
    pub zoom: f64,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            scale: 1.0,
            zoom: 1.0,
        }
    }
}

impl Look {
    /// The canvas size (CSS pixels) at which `zoom` is 1: the page's figures and the CLI's SVGs.
    pub const REFERENCE: (f64, f64) = (640.0, 400.0);
    /// Sizes (against [`Look::REFERENCE`]) at which figures draw as designed: from an embed's
    /// 640×360 frame to a 1280×720 window's plot.
    pub const NATIVE: (f64, f64) = (0.7, 1.3);
    /// Smallest zoom: 12-pixel labels stay at least 9.6 pixels high.
    pub const MIN_ZOOM: f64 = 0.8;
    /// Largest zoom: text on a full-screen figure stays in proportion to the figure.
    pub const MAX_ZOOM: f64 = 1.5;
    /// Least room (zoomed CSS pixels) per tick label along x: a wide label (`120.0`, `0.125`)
    /// and a gap.
    pub const X_TICK_PX: f64 = 64.0;
    /// Least room (zoomed CSS pixels) per tick label along y: one line of text and a gap.
    pub const Y_TICK_PX: f64 = 30.0;

    /// A look with `scale` clamped to `[0.5, 4]` (NaN gives 1) and zoom 1.
    pub fn scaled(scale: f64) -> Look {
        Look {
            scale: if scale.is_finite() {
                scale.clamp(0.5, 4.0)
            } else {
                1.0
            },
            zoom: 1.0,
        }
    }

    /// The look for a canvas of `width × height` device pixels. `r` is the canvas's size against
    /// [`Look::REFERENCE`] (the smaller of the two ratios); within [`Look::NATIVE`] the figures
    /// draw at their designed sizes (zoom 1), beyond it `zoom` follows the square root of how far
    /// `r` lies outside (text grows and shrinks more slowly than the canvas), clamped to
    /// `[MIN_ZOOM, MAX_ZOOM]`. Depends on the size alone, so fitting twice gives the same look.
    pub fn fit_size(&self, width: u32, height: u32) -> Look {
        let (w, h) = (width as f64 / self.scale, height as f64 / self.scale);
        let r = (w / Self::REFERENCE.0).min(h / Self::REFERENCE.1);
        let (lo, hi) = Self::NATIVE;
        let zoom = if !r.is_finite() || r <= 0.0 {
            1.0
        } else if r < lo {
            (r / lo).sqrt().max(Self::MIN_ZOOM)
        } else if r > hi {
            (r / hi).sqrt().min(Self::MAX_ZOOM)
        } else {
            1.0
        };
        Look {
            scale: self.scale,
            zoom,
        }
    }

    /// [`Look::fit_size`] for the whole of `area`.
    pub fn fit<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Look {
        let (w, h) = area.dim_in_pixel();
        self.fit_size(w, h)
    }

    /// Device pixels per zoomed CSS pixel.
    fn k(&self) -> f64 {
        self.scale * self.zoom
    }

    /// `v` zoomed CSS pixels in device pixels.
    pub fn px(&self, v: f64) -> i32 {
        (v * self.k()).round() as i32
    }

    /// `v` zoomed CSS pixels in device pixels, unsigned (radii, stroke widths), at least 1.
    pub fn upx(&self, v: f64) -> u32 {
        (v * self.k()).round().max(1.0) as u32
    }

    /// The sans-serif font at `size` zoomed CSS pixels.
    pub fn font(&self, size: f64) -> FontDesc<'static> {
        FontDesc::new(
            plotters::style::FontFamily::SansSerif,
            size * self.k(),
            plotters::style::FontStyle::Normal,
        )
    }

    /// How many tick labels the axes of a chart whose plotting area is `plot` can carry without
    /// touching: one per [`Look::X_TICK_PX`] across and [`Look::Y_TICK_PX`] up, at least 2, at most
    /// the figure's own wish `most` (x, y).
    pub fn ticks<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
        &self,
        plot: &DrawingArea<DB, CT>,
        most: (usize, usize),
    ) -> (usize, usize) {
        let (w, h) = plot.dim_in_pixel();
        let fit = |len: u32, per: f64, most: usize| {
            ((len as f64 / self.k() / per).floor() as usize).clamp(2, most.max(2))
        };
        (
            fit(w, Self::X_TICK_PX, most.0),
            fit(h, Self::Y_TICK_PX, most.1),
        )
    }

    /// Whether a plotting area is too small for long legend entries (under 320 × 180 zoomed CSS
    /// pixels): figures then shorten them.
    pub fn compact<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
        &self,
        plot: &DrawingArea<DB, CT>,
    ) -> bool {
        let (w, h) = plot.dim_in_pixel();
        (w as f64) < 320.0 * self.k() || (h as f64) < 180.0 * self.k()
    }
}

/// The advance of `text` in ems of a sans-serif font, from per-character widths a little wider
/// than DejaVu Sans (the widest common default sans-serif): digits 0.64, `.` and `,` 0.32, `-` and
/// space 0.36, narrow letters 0.3, capitals and wide letters 0.8, everything else 0.62. Text judged
/// to fit by this measure fits on screen.
pub fn text_em(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            '0'..='9' => 0.64,
            '.' | ',' | ':' | ';' | '\'' | '|' | '(' | ')' => 0.36,
            '-' | ' ' | '−' => 0.4,
            'i' | 'j' | 'l' | 't' | 'f' | 'r' | 'I' => 0.4,
            'm' | 'w' | 'M' | 'W' | '—' => 1.0,
            c if c.is_uppercase() => 0.8,
            _ => 0.62,
        })
        .sum()
}

/// The first of `options` whose width at `size` zoomed CSS pixels fits `room` device pixels, or
/// an empty text when none does (an axis too short for any description goes without).
pub(crate) fn fit_label<'a>(look: &Look, options: &[&'a str], room: u32, size: f64) -> &'a str {
    let room = room as f64 / look.k();
    options
        .iter()
        .find(|t| text_em(t) * size <= room)
        .copied()
        .unwrap_or("")
}

/// `area` split into an upper chart and a lower panel of `share` of the height, but never less
/// than the lower panel needs for its own axis (100 zoomed CSS pixels, or half the area).
pub(crate) fn split_lower<DB: DrawingBackend>(
    look: &Look,
    area: &DrawingArea<DB, Shift>,
    share: f64,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let h = area.dim_in_pixel().1 as f64;
    let lower = (share * h).max((100.0 * look.k()).min(0.5 * h));
    area.split_vertically((h - lower).round() as u32)
}

/// The axis descriptions (13-pixel text) that fit a chart whose plotting area is `plot`: the
/// first of `x` that fits its width, the first of `y` that fits its height.
pub(crate) fn fit_descs<'a, DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    look: &Look,
    plot: &DrawingArea<DB, CT>,
    x: &[&'a str],
    y: &[&'a str],
) -> (&'a str, &'a str) {
    let (w, h) = plot.dim_in_pixel();
    (fit_label(look, x, w, 13.0), fit_label(look, y, h, 13.0))
}

/// The mesh of one panel of a small multiple over `s` on a log scale (the collapse and eigenmode
/// figures): axis names fitted to the panel (`y_options` in order of preference, none for panels
/// off the first column), fewer minor grid lines on small panels (several redraw while running:
/// that keeps each draw cheap), and the panel's geometry for hover and clicks.
pub(crate) fn draw_log_panel_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, LogCoord<f64>>,
    >,
    look: &Look,
    small: bool,
    y_options: &[&str],
    (s_max, lo, hi): (f64, f64, f64),
) -> crate::Result<Geom> {
    let (x_ticks, y_ticks) =
        look.ticks(chart.plotting_area(), if small { (5, 5) } else { (10, 8) });
    let (x_desc, y_desc) = fit_descs(look, chart.plotting_area(), &["s"], y_options);
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(look.font(11.0))
        .axis_desc_style(look.font(12.0))
        .y_labels(y_ticks)
        .x_labels(x_ticks)
        .max_light_lines(if small { 1 } else { 4 })
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    Ok(Geom::of(
        chart.plotting_area(),
        [0.0, s_max],
        [lo, hi],
        true,
    ))
}

/// A caption that fits `width` device pixels: the text at `size` zoomed CSS pixels, or smaller
/// (down to 9) when it is too long, or cut with an ellipsis when even that is too long.
pub(crate) fn fit_caption(
    look: &Look,
    text: &str,
    width: u32,
    size: f64,
) -> (String, FontDesc<'static>) {
    // Captions are centred between the charts' margins (10 left, 22 right): the room either side
    // of the centre is the narrower half.
    let room = width as f64 / look.k() - 16.0;
    let fitting = room / text_em(text).max(0.5);
    if fitting >= size {
        return (text.to_string(), look.font(size));
    }
    if fitting >= 9.0 {
        return (text.to_string(), look.font(fitting.floor()));
    }
    let mut cut = String::new();
    for c in text.chars() {
        cut.push(c);
        if (text_em(&cut) + 0.62) * 9.0 > room {
            cut.pop();
            break;
        }
    }
    (format!("{}…", cut.trim_end()), look.font(9.0))
}

/// Where a chart's plotting area lies on its canvas and what it shows there, so that a pixel
/// under the mouse maps back to data (hover readouts, clicks on the input plane).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Geom {
    /// Pixel columns `[left, right)` of the plotting area.
    pub px: [f64; 2],
    /// Pixel rows `[top, bottom)` of the plotting area.
    pub py: [f64; 2],
    /// Data range on x (left to right).
    pub x: [f64; 2],
    /// Data range on y (bottom to top).
    pub y: [f64; 2],
    /// Whether y is on a log scale.
    pub y_log: bool,
}

impl Geom {
    /// Reads the plotting area of a chart built on `x` and `y`.
    pub fn of<DB: plotters::prelude::DrawingBackend, CT: plotters::coord::CoordTranslate>(
        area: &plotters::prelude::DrawingArea<DB, CT>,
        x: [f64; 2],
        y: [f64; 2],
        y_log: bool,
    ) -> Geom {
        let (xr, yr) = area.get_pixel_range();
        Geom {
            px: [xr.start as f64, xr.end as f64],
            py: [yr.start as f64, yr.end as f64],
            x,
            y,
            y_log,
        }
    }

    /// The data point under pixel `(px, py)`, or `None` outside the plotting area.
    pub fn to_data(&self, px: f64, py: f64) -> Option<(f64, f64)> {
        if !(self.px[0]..=self.px[1]).contains(&px) || !(self.py[0]..=self.py[1]).contains(&py) {
            return None;
        }
        let fx = (px - self.px[0]) / (self.px[1] - self.px[0]).max(1.0);
        let fy = (self.py[1] - py) / (self.py[1] - self.py[0]).max(1.0);
        let x = self.x[0] + fx * (self.x[1] - self.x[0]);
        let y = if self.y_log {
            let (a, b) = (self.y[0].log10(), self.y[1].log10());
            10f64.powf(a + fy * (b - a))
        } else {
            self.y[0] + fy * (self.y[1] - self.y[0])
        };
        Some((x, y))
    }

    /// The pixel of data point `(x, y)`.
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x[0]) / (self.x[1] - self.x[0]);
        let fy = if self.y_log {
            let (a, b) = (self.y[0].log10(), self.y[1].log10());
            (y.log10() - a) / (b - a)
        } else {
            (y - self.y[0]) / (self.y[1] - self.y[0])
        };
        (
            self.px[0] + fx * (self.px[1] - self.px[0]),
            self.py[1] - fy * (self.py[1] - self.py[0]),
        )
    }
}

/// At most `max` points of `pts`, evenly strided, always keeping the last one: live curves grow
/// without bound, drawing time must not.
pub fn decimate(pts: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if pts.len() <= max || max < 2 {
        return pts.to_vec();
    }
    let stride = pts.len().div_ceil(max - 1);
    let mut out: Vec<(f64, f64)> = pts.iter().step_by(stride).copied().collect();
    if out.last() != pts.last() {
        out.push(*pts.last().expect("non-empty"));
    }
    out
}

/// At most about `max` points of a path, evenly spaced along its length (not its index), always
/// keeping both ends: a trail that moves fast early keeps its early shape.
pub fn decimate_path(pts: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if pts.len() <= max || max < 2 {
        return pts.to_vec();
    }
    let len: f64 = pts
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .sum();
    if len.is_nan() || len <= 0.0 {
        return vec![pts[0], *pts.last().expect("non-empty")];
    }
    let gap = len / (max - 1) as f64;
    let mut out = vec![pts[0]];
    let mut run = 0.0;
    for w in pts.windows(2) {
        run += (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
        if run >= gap {
            out.push(w[1]);
            run = 0.0;
        }
    }
    if out.last() != pts.last() {
        out.push(*pts.last().expect("non-empty"));
    }
    out
}

/// `[lo, hi]` of the finite values, padded by `pad` of the span (a unit span when all equal).
pub(crate) fn lin_range(vals: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let p = pad * (hi - lo);
    (lo - p, hi + p)
}

/// The "rank D over s" panel shared by the spectrum and the singular-value figures: axes, the
/// dashed full rank `min(K, QN)`, and one step curve per `(points, colour)`. Steps, not slopes:
/// the rank is an integer that jumps.
pub(crate) fn draw_rank_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    look: &Look,
    s_max: f64,
    full_rank: usize,
    curves: &[(&[(f64, f64)], RGBColor)],
) -> PlotResult {
    let r_hi = curves
        .iter()
        .flat_map(|(pts, _)| pts.iter().map(|p| p.1))
        .fold(full_rank as f64, f64::max)
        * 1.15
        + 1.0;
    // The axis starts a little below 0, so that the label 0 sits 8 pixels above the axis of s and
    // clears its labels.
    let (top, bottom) = (look.px(2.0), look.px(10.0) + look.px(40.0));
    let plot_h = (area.dim_in_pixel().1 as f64 - (top + bottom) as f64).max(1.0);
    let lift = (look.px(8.0) as f64 / plot_h).min(0.5);
    let r_lo = -r_hi * lift / (1.0 - lift);
    let mut rank = ChartBuilder::on(area)
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .margin_top(look.px(2.0))
        .x_label_area_size(look.px(40.0))
        .y_label_area_size(look.px(64.0))
        .build_cartesian_2d(0.0..s_max, r_lo..r_hi)
        .map_err(err)?;
    let (x_ticks, y_ticks) = look.ticks(rank.plotting_area(), (10, 4));
    let (x_desc, y_desc) = fit_descs(look, rank.plotting_area(), &["s"], &["rank D", "rank"]);
    rank.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .label_style(look.font(12.0))
        .axis_desc_style(look.font(13.0))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    rank.draw_series(DashedLineSeries::new(
        vec![(0.0, full_rank as f64), (s_max, full_rank as f64)],
        look.upx(4.0),
        look.upx(4.0),
        RGBColor(120, 120, 120).stroke_width(look.upx(1.0)),
    ))
    .map_err(err)?;
    for (pts, color) in curves {
        let mut steps = Vec::with_capacity(2 * pts.len());
        for w in pts.windows(2) {
            steps.push(w[0]);
            steps.push((w[1].0, w[0].1));
        }
        if let Some(&last) = pts.last() {
            steps.push(last);
        }
        rank.draw_series(LineSeries::new(steps, color.stroke_width(look.upx(2.0))))
            .map_err(err)?;
    }
    Ok(())
}

/// A chart with `f64` axes, as the figures build them.
pub(crate) type Chart2d<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The targets `y_c` as black crosses with their labels (outputs and layer figures).
pub(crate) fn draw_targets<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    look: &Look,
    targets: &[(f64, f64, String)],
) -> PlotResult {
    for (x, y, label) in targets {
        chart
            .draw_series(std::iter::once(Cross::new(
                (*x, *y),
                look.upx(7.0),
                BLACK.stroke_width(look.upx(2.0)),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*x, *y),
                look.font(13.0).color(&BLACK),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// Data points `(x, y, class)` as discs in their class colour with a dark outline, `radius` in
/// CSS pixels (heatmap and layer figures).
pub(crate) fn draw_class_points<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    look: &Look,
    points: &[(f64, f64, usize)],
    radius: f64,
) -> PlotResult {
    let outline = RGBColor(40, 40, 40);
    chart
        .draw_series(points.iter().map(|&(x, y, c)| {
            EmptyElement::at((x, y))
                + Circle::new((0, 0), look.upx(radius), class_color(c).filled())
                + Circle::new(
                    (0, 0),
                    look.upx(radius),
                    outline.stroke_width(look.upx(1.0)),
                )
        }))
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geom_maps_pixels_and_data_both_ways() {
        let g = Geom {
            px: [50.0, 450.0],
            py: [10.0, 210.0],
            x: [0.0, 100.0],
            y: [1e-6, 1.0],
            y_log: true,
        };
        let (x, y) = g.to_data(250.0, 110.0).unwrap();
        assert!((x - 50.0).abs() < 1e-12);
        assert!((y - 1e-3).abs() < 1e-15);
        let (px, py) = g.to_pixel(25.0, 1e-2);
        assert!((px - 150.0).abs() < 1e-9 && (py - 210.0 + 200.0 * 4.0 / 6.0).abs() < 1e-9);
        assert_eq!(g.to_data(10.0, 100.0), None);
    }

    #[test]
    fn decimate_keeps_the_ends_and_bounds_the_count() {
        let pts: Vec<(f64, f64)> = (0..1001).map(|i| (i as f64, 0.0)).collect();
        let d = decimate(&pts, 100);
        assert!(d.len() <= 101, "{}", d.len());
        assert_eq!(d[0], pts[0]);
        assert_eq!(d.last(), pts.last());
        assert_eq!(decimate(&pts[..5], 100).len(), 5);
    }

    #[test]
    fn path_decimation_follows_arc_length() {
        // 100 points over the first unit of length, 900 over the next: the split of the kept
        // points follows the length, not the index.
        let mut pts: Vec<(f64, f64)> = (0..100).map(|i| (i as f64 / 100.0, 0.0)).collect();
        pts.extend((0..900).map(|i| (1.0, i as f64 / 900.0)));
        let d = decimate_path(&pts, 21);
        assert!(d.len() <= 22, "{}", d.len());
        let early = d.iter().filter(|p| p.1 == 0.0).count();
        assert!(
            (9..=12).contains(&early),
            "{early} of {} on the first leg",
            d.len()
        );
        assert_eq!(d[0], pts[0]);
        assert_eq!(d.last(), pts.last());
    }
}
