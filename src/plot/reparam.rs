//! Outputs against the reparametrized time `t = 1 − e^{−s/N}` (slides): above, one output
//! coordinate of the recorded samples, with the straight interpolation `(1−t)x_j(0) + t·y`
//! dashed in grey; below, the relative distance of `x̲(t)` from that interpolation on a log
//! scale. The full-rank adapted flow runs exactly on the straight lines.

use super::{err, fit_descs, lin_range, log_range, split_lower, Geom, Look};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One flow's curves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReparamLane {
    /// Legend text.
    pub label: String,
    /// Colour of the flow.
    pub color: RGBColor,
    /// One path per recorded sample: `(t, x_j)` in the shown coordinate.
    pub paths: Vec<Vec<(f64, f64)>>,
    /// `(t, |x̲_T(t) − ((1−t)x̲_T(0) + t·y̲_T)| / |x̲_T(0) − y̲_T|)` over the recorded samples `T`.
    pub deviation: Vec<(f64, f64)>,
}

/// Everything the reparametrization figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReparamFigure {
    /// One entry per flow.
    pub lanes: Vec<ReparamLane>,
    /// The straight interpolations `((0, x_j(0)), (1, y_j))` of the recorded samples.
    pub straight: Vec<((f64, f64), (f64, f64))>,
    /// Upper panel's y-axis text.
    pub y_desc: String,
}

/// Draws the reparametrization figure onto `area`; the geometry is the upper panel's.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &ReparamFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let (top, bottom) = split_lower(look, area, 0.38);
    let ys = fig
        .lanes
        .iter()
        .flat_map(|l| l.paths.iter().flatten().map(|p| p.1))
        .chain(fig.straight.iter().flat_map(|(a, b)| [a.1, b.1]));
    let (y0, y1) = lin_range(ys, 0.06);
    let mut chart = ChartBuilder::on(&top)
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .margin_bottom(look.px(2.0))
        .x_label_area_size(look.px(6.0))
        .y_label_area_size(look.px(64.0))
        .build_cartesian_2d(0.0..1.0, y0..y1)
        .map_err(err)?;
    let (_, y_ticks) = look.ticks(chart.plotting_area(), (10, 10));
    let short = fig.y_desc.replace("output coordinate", "output");
    let (_, y_desc) = fit_descs(
        look,
        chart.plotting_area(),
        &[],
        &[fig.y_desc.as_str(), short.as_str()],
    );
    // t is labelled on the panel below, which shares the axis.
    chart
        .configure_mesh()
        .y_desc(y_desc)
        .x_labels(0)
        .y_labels(y_ticks)
        .label_style(look.font(12.0))
        .axis_desc_style(look.font(13.0))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    let geom = Geom::of(chart.plotting_area(), [0.0, 1.0], [y0, y1], false);
    let grey = RGBColor(160, 160, 160);
    for (a, b) in &fig.straight {
        chart
            .draw_series(DashedLineSeries::new(
                vec![*a, *b],
                look.upx(4.0),
                look.upx(3.0),
                grey.stroke_width(look.upx(1.0)),
            ))
            .map_err(err)?;
    }
    let (lw, leg) = (look.upx(1.5), look.px(16.0));
    for l in &fig.lanes {
        let c = l.color;
        for (k, p) in l.paths.iter().enumerate() {
            let s = chart
                .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(lw)))
                .map_err(err)?;
            if k == 0 {
                s.label(l.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + leg, y)], c.stroke_width(lw))
                });
            }
        }
    }
    if !fig.lanes.is_empty() {
        chart
            .configure_series_labels()
            .legend_area_size(look.upx(30.0))
            .margin(look.upx(10.0))
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(look.font(12.0))
            .draw()
            .map_err(err)?;
    }

    let (lo, hi) = log_range(
        fig.lanes
            .iter()
            .flat_map(|l| l.deviation.iter().map(|p| p.1)),
    );
    let mut dev = ChartBuilder::on(&bottom)
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .margin_top(look.px(2.0))
        .x_label_area_size(look.px(40.0))
        .y_label_area_size(look.px(64.0))
        .build_cartesian_2d(0.0..1.0, (lo..hi).log_scale())
        .map_err(err)?;
    let (x_ticks, y_ticks) = look.ticks(dev.plotting_area(), (10, 4));
    let (x_desc, y_desc) = fit_descs(
        look,
        dev.plotting_area(),
        &["t = 1 − e^(−s/N)", "t"],
        &["off the line", "off line"],
    );
    dev.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .label_style(look.font(12.0))
        .axis_desc_style(look.font(13.0))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    for l in &fig.lanes {
        let pts: Vec<(f64, f64)> = l
            .deviation
            .iter()
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .map(|&(t, d)| (t, d.clamp(lo, hi)))
            .collect();
        dev.draw_series(LineSeries::new(pts, l.color.stroke_width(look.upx(2.0))))
            .map_err(err)?;
    }
    area.present().map_err(err)?;
    Ok(geom)
}
