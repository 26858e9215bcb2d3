//! The input plane: the network's prediction as a heatmap (each point coloured by the class whose
//! target `y_c` is nearest to the output, pale where two targets are nearly equally near), with
//! the data points on top.

use super::{class_color, draw_class_points, err, fit_caption, fit_descs, Geom, Look};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Everything the decision-boundary figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeatmapFigure {
    /// `[x_lo, x_hi, y_lo, y_hi]` of the plane.
    pub bounds: [f64; 4],
    /// Grid side (0: no grid yet).
    pub size: usize,
    /// `size²` cell colours, row by row from the bottom.
    pub cells: Vec<RGBColor>,
    /// Data points `(x₁, x₂, class)`.
    pub points: Vec<(f64, f64, usize)>,
    /// Caption (which flow, at which `s`).
    pub title: String,
    /// Draw the grid as one bitmap at the plotting area's pixel size, interpolated between cell
    /// centres (a canvas: one blit), rather than one rectangle per cell (SVG).
    pub raster: bool,
}

/// Mixes `c` towards white by `t ∈ [0, 1]`.
fn pale(c: RGBColor, t: f64) -> RGBColor {
    let m = |v: u8| (v as f64 + (255.0 - v as f64) * t).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// The colour of one output `x ∈ R^Q` given the targets: the nearest target's class colour, paler
/// the closer the runner-up is (`t = d₁/d₂`; a point halfway between two targets is near white).
pub fn prediction_color(x: &[f64], targets: &[Vec<f64>]) -> RGBColor {
    let mut best = (f64::INFINITY, 0usize);
    let mut second = f64::INFINITY;
    for (c, y) in targets.iter().enumerate() {
        let d: f64 = x
            .iter()
            .zip(y)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        if d < best.0 {
            second = best.0;
            best = (d, c);
        } else if d < second {
            second = d;
        }
    }
    if !best.0.is_finite() {
        return RGBColor(255, 255, 255);
    }
    let ratio = if second.is_finite() && second > 0.0 {
        (best.0 / second).clamp(0.0, 1.0)
    } else {
        0.0
    };
    // Certain predictions keep 45% of the colour's strength: the data points must stay visible.
    pale(class_color(best.1), 0.55 + 0.4 * ratio)
}

impl HeatmapFigure {
    /// Colours a grid of network outputs (`size²` points of `Q` values, row by row from the
    /// bottom) by nearest target.
    pub fn colors(values: &[f64], q: usize, targets: &[Vec<f64>]) -> Vec<RGBColor> {
        values
            .chunks(q.max(1))
            .map(|x| prediction_color(x, targets))
            .collect()
    }
}

/// Draws the decision-boundary figure onto `area`.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &HeatmapFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let [x0, x1, y0, y1] = fig.bounds;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .x_label_area_size(look.px(40.0))
        .y_label_area_size(look.px(56.0));
    if !fig.title.is_empty() {
        let (title, font) = fit_caption(look, &fig.title, area.dim_in_pixel().0, 13.0);
        builder.caption(title, font);
    }
    let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
    let (x_ticks, y_ticks) = look.ticks(chart.plotting_area(), (10, 10));
    let (x_desc, y_desc) = fit_descs(
        look,
        chart.plotting_area(),
        &["input 1", "x1"],
        &["input 2", "x2"],
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
    let geom = Geom::of(chart.plotting_area(), [x0, x1], [y0, y1], false);
    let n = fig.size;
    if fig.raster && n > 0 && fig.cells.len() == n * n {
        let plot = chart.plotting_area().strip_coord_spec();
        let (w, h) = plot.dim_in_pixel();
        super::grid::draw_grid(&plot, (0, 0, w, h), &fig.cells, n, true)?;
    } else if n > 0 && fig.cells.len() == n * n {
        let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        chart
            .draw_series(fig.cells.iter().enumerate().map(|(i, c)| {
                let (ix, iy) = ((i % n) as f64, (i / n) as f64);
                // Each cell overlaps its neighbours by a hair so no white seams show between them.
                Rectangle::new(
                    [
                        (x0 + ix * dx, y0 + (iy + 1.0) * dy + dy * 0.02),
                        (x0 + (ix + 1.0) * dx + dx * 0.02, y0 + iy * dy),
                    ],
                    c.filled(),
                )
            }))
            .map_err(err)?;
    }
    draw_class_points(&mut chart, look, &fig.points, 4.5)?;
    area.present().map_err(err)?;
    Ok(geom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_take_the_nearest_target_and_fade_at_the_boundary() {
        let t = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let sure = prediction_color(&[1.0, 0.0], &t);
        let c0 = class_color(0);
        assert_eq!(sure, pale(c0, 0.55));
        let edge = prediction_color(&[0.5, 0.5], &t);
        assert_eq!(edge, pale(c0, 0.95));
        assert_eq!(
            prediction_color(&[0.1, 0.8], &t),
            pale(
                class_color(1),
                0.55 + 0.4 * (0.1f64.powi(2) + 0.2f64.powi(2)).sqrt()
                    / (0.9f64.powi(2) + 0.8f64.powi(2)).sqrt()
            )
        );
    }
}
