//! The cost on a 2-D slice of parameter space through a rest point `θ*`: `C(θ* + a·u + b·w)` with
//! `u` a normal vector of the critical submanifold `M_crit` (the escape direction) and `w` a
//! tangent one. Cells below `C(θ*)` are blue, above it vermillion, white at `C(θ*)`; the escape
//! step is an arrow from `θ*` (open circle) to `θ₀'` (filled triangle).

use super::{err, fit_caption, fit_descs, Geom, Look, PALETTE};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Everything the slice figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SliceFigure {
    /// Half width of the slice along both directions.
    pub half: f64,
    /// Grid side (0: nothing to show yet).
    pub size: usize,
    /// `size²` costs, row by row from `b = −half`, each row from `a = −half` (NaN: not finite).
    pub costs: Vec<f64>,
    /// `C(θ*)`, the white of the colour scale.
    pub center_cost: f64,
    /// Slice coordinates of the escape step's end `θ₀'`, if there was one.
    pub end: Option<(f64, f64)>,
    /// Caption.
    pub title: String,
    /// Horizontal axis text.
    pub x_desc: String,
    /// Vertical axis text.
    pub y_desc: String,
}

/// The colour of `c` against the centre cost `c0`: blue below, vermillion above, white at `c0`.
/// Each side is scaled by its own extreme (`lo < c0 < hi`) through a square root, so that a
/// shallow descent next to a steep ascent stays visible.
pub fn slice_color(c: f64, c0: f64, lo: f64, hi: f64) -> RGBColor {
    if !c.is_finite() {
        return RGBColor(200, 200, 200);
    }
    let (target, t) = if c < c0 {
        (PALETTE[0], if lo < c0 { (c0 - c) / (c0 - lo) } else { 0.0 })
    } else {
        (PALETTE[1], if hi > c0 { (c - c0) / (hi - c0) } else { 0.0 })
    };
    let t = t.clamp(0.0, 1.0).sqrt();
    let mix = |v: u8| (255.0 + (v as f64 - 255.0) * t).round() as u8;
    RGBColor(mix(target.0), mix(target.1), mix(target.2))
}

impl SliceFigure {
    /// The smallest and largest finite cost on the grid.
    pub fn range(&self) -> (f64, f64) {
        self.costs
            .iter()
            .filter(|c| c.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &c| {
                (a.min(c), b.max(c))
            })
    }

    /// The cost at the grid point nearest to `(a, b)`, if inside the slice.
    pub fn cost_at(&self, a: f64, b: f64) -> Option<f64> {
        let n = self.size;
        if n < 2 || self.costs.len() != n * n {
            return None;
        }
        let step = 2.0 * self.half / (n - 1) as f64;
        let i = ((a + self.half) / step).round();
        let j = ((b + self.half) / step).round();
        if i < 0.0 || j < 0.0 || i >= n as f64 || j >= n as f64 {
            return None;
        }
        Some(self.costs[j as usize * n + i as usize])
    }
}

/// Draws the slice figure onto `area`.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &SliceFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let n = fig.size;
    let half = if fig.half > 0.0 { fig.half } else { 1.0 };
    // Cells are centred on the grid points, so the plot reaches half a cell beyond ±half.
    let step = if n >= 2 {
        2.0 * half / (n - 1) as f64
    } else {
        0.0
    };
    let r = half + 0.5 * step;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .x_label_area_size(look.px(40.0))
        .y_label_area_size(look.px(60.0));
    if !fig.title.is_empty() {
        let (title, font) = fit_caption(look, &fig.title, area.dim_in_pixel().0, 13.0);
        builder.caption(title, font);
    }
    let mut chart = builder.build_cartesian_2d(-r..r, -r..r).map_err(err)?;
    let (x_ticks, y_ticks) = look.ticks(chart.plotting_area(), (10, 10));
    let (x_desc, y_desc) = fit_descs(
        look,
        chart.plotting_area(),
        &[fig.x_desc.as_str()],
        &[fig.y_desc.as_str()],
    );
    chart
        .configure_mesh()
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .disable_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(look.font(12.0))
        .axis_desc_style(look.font(13.0))
        .draw()
        .map_err(err)?;
    let geom = Geom::of(chart.plotting_area(), [-r, r], [-r, r], false);
    if n >= 2 && fig.costs.len() == n * n {
        let (lo, hi) = fig.range();
        let c0 = fig.center_cost;
        chart
            .draw_series(fig.costs.iter().enumerate().map(|(k, &c)| {
                let (i, j) = ((k % n) as f64, (k / n) as f64);
                let (a, b) = (-half + i * step, -half + j * step);
                // A hair of overlap keeps white seams from showing between cells.
                Rectangle::new(
                    [
                        (a - 0.5 * step, b + 0.52 * step),
                        (a + 0.52 * step, b - 0.5 * step),
                    ],
                    slice_color(c, c0, lo, hi).filled(),
                )
            }))
            .map_err(err)?;
    }
    let ink = RGBColor(0, 0, 0);
    if let Some((a, b)) = fig.end {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (a, b)],
                ink.stroke_width(look.upx(2.0)),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                (a, b),
                look.upx(7.0),
                ink.filled(),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::once(
            EmptyElement::at((0.0, 0.0))
                + Circle::new((0, 0), look.upx(6.0), WHITE.filled())
                + Circle::new((0, 0), look.upx(6.0), ink.stroke_width(look.upx(2.0))),
        ))
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(geom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_white_at_the_centre_and_saturate_at_the_extremes() {
        assert_eq!(slice_color(0.5, 0.5, 0.4, 0.9), RGBColor(255, 255, 255));
        assert_eq!(slice_color(0.4, 0.5, 0.4, 0.9), PALETTE[0]);
        assert_eq!(slice_color(0.9, 0.5, 0.4, 0.9), PALETTE[1]);
        assert_eq!(
            slice_color(f64::NAN, 0.5, 0.4, 0.9),
            RGBColor(200, 200, 200)
        );
        // A quarter of the way down is half saturated (square root).
        let c = slice_color(0.475, 0.5, 0.4, 0.9);
        assert_eq!(c.2, (255.0 + (178.0 - 255.0) * 0.5f64).round() as u8);
    }

    #[test]
    fn cost_at_reads_the_nearest_grid_point() {
        let fig = SliceFigure {
            half: 1.0,
            size: 3,
            costs: (0..9).map(f64::from).collect(),
            ..SliceFigure::default()
        };
        assert_eq!(fig.cost_at(0.0, 0.0), Some(4.0));
        assert_eq!(fig.cost_at(1.0, -1.0), Some(2.0));
        assert_eq!(fig.cost_at(0.9, 0.9), Some(8.0));
        assert_eq!(fig.cost_at(2.0, 0.0), None);
    }
}
