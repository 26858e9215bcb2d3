//! The output layer: every `x_j(s)` as a trail towards its target `y_ω(j)`. Under the full-rank
//! adapted flow the trails are straight segments (Thm 2.1); under the standard flow the NTK
//! `DDᵀ` bends them.

use super::{draw_targets, err, fit_descs, lin_range, Geom, Look};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One sample's path in the output plane, for one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    /// Colour of the flow.
    pub color: RGBColor,
    /// Points in the chosen output coordinates, oldest first; the last is the current position.
    pub points: Vec<(f64, f64)>,
}

/// Everything the output-layer figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutputsFigure {
    /// One trail per (flow, sample).
    pub trails: Vec<Trail>,
    /// Targets `y_c` with their labels, e.g. `y1`.
    pub targets: Vec<(f64, f64, String)>,
    /// Legend: flow label and colour.
    pub legend: Vec<(String, RGBColor)>,
    /// x-axis text, e.g. `x (coordinate 1)`.
    pub x_desc: String,
    /// y-axis text.
    pub y_desc: String,
}

/// Draws the output-layer figure onto `area`.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &OutputsFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let xs = fig
        .trails
        .iter()
        .flat_map(|t| t.points.iter().map(|p| p.0))
        .chain(fig.targets.iter().map(|t| t.0));
    let ys = fig
        .trails
        .iter()
        .flat_map(|t| t.points.iter().map(|p| p.1))
        .chain(fig.targets.iter().map(|t| t.1));
    let (x0, x1) = lin_range(xs, 0.08);
    let (y0, y1) = lin_range(ys, 0.08);
    let mut chart = ChartBuilder::on(area)
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .x_label_area_size(look.px(40.0))
        .y_label_area_size(look.px(56.0))
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
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
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(look.font(12.0))
        .axis_desc_style(look.font(13.0))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    let geom = Geom::of(chart.plotting_area(), [x0, x1], [y0, y1], false);
    let lw = look.upx(1.5);
    for t in &fig.trails {
        chart
            .draw_series(LineSeries::new(
                t.points.iter().copied(),
                t.color.stroke_width(lw),
            ))
            .map_err(err)?;
    }
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(
            fig.trails
                .iter()
                .filter_map(|t| t.points.first())
                .map(|&p| Circle::new(p, look.upx(2.5), grey.stroke_width(look.upx(1.0)))),
        )
        .map_err(err)?;
    chart
        .draw_series(
            fig.trails
                .iter()
                .filter_map(|t| t.points.last().map(|&p| (p, t.color)))
                .map(|(p, c)| Circle::new(p, look.upx(3.5), c.filled())),
        )
        .map_err(err)?;
    draw_targets(&mut chart, look, &fig.targets)?;
    for (label, color) in &fig.legend {
        let c = *color;
        let leg = look.px(16.0);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), u32>>())
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + leg, y)], c.stroke_width(lw)));
    }
    if !fig.legend.is_empty() {
        chart
            .configure_series_labels()
            .legend_area_size(look.upx(30.0))
            .margin(look.upx(10.0))
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(look.font(12.0))
            .draw()
            .map_err(err)?;
    }
    area.present().map_err(err)?;
    Ok(geom)
}
