//! The singular spectrum of `D` over `s` for one flow: every `σ_i/σ_max` on a log scale with the
//! rank threshold `rank_rtol` dashed (values below it count as zero, so a curve that crosses it
//! is a rank drop), `rank D` below, and escapes as dotted vertical lines.

use super::{draw_rank_panel, err, fit_caption, fit_descs, split_lower, Geom, Look};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Everything the singular-spectrum figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SingularFigure {
    /// Caption: which flow, how many values.
    pub title: String,
    /// Colour of the flow.
    pub color: RGBColor,
    /// One curve per index `i`: `(s, σ_i/σ_max)` (zeros drawn at the axis floor).
    pub sigmas: Vec<Vec<(f64, f64)>>,
    /// The rank threshold `σ_i/σ_max ≤ rank_rtol`.
    pub rtol: f64,
    /// `(s, rank D)`.
    pub rank: Vec<(f64, f64)>,
    /// `min(K, QN)`, dashed on the rank panel.
    pub full_rank: usize,
    /// Flow times of escapes.
    pub escapes: Vec<f64>,
    /// Right end of the s axis.
    pub s_max: f64,
}

impl SingularFigure {
    /// The log range of the upper panel: from below the smallest positive ratio (and the
    /// threshold) to just above 1. Exact zeros sit on the floor.
    pub fn y_range(&self) -> (f64, f64) {
        let smallest = self
            .sigmas
            .iter()
            .flatten()
            .map(|p| p.1)
            .filter(|v| v.is_finite() && *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let lo = smallest.min(self.rtol).max(1e-300);
        let lo = if lo.is_finite() { lo / 10.0 } else { 1e-12 };
        // Beyond 40 decades a log axis says nothing more (zeros from rounding sit at ~1e-17).
        (lo.max(1e-40), 3.0)
    }
}

/// Draws the singular-spectrum figure onto `area`; the geometry is the upper (log) panel's.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &SingularFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let s_max = fig
        .rank
        .iter()
        .map(|p| p.0)
        .fold(fig.s_max, f64::max)
        .max(1e-9);
    let (top, bottom) = split_lower(look, area, 0.3);
    let (lo, hi) = fig.y_range();
    let mut builder = ChartBuilder::on(&top);
    builder
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .margin_bottom(look.px(2.0))
        .x_label_area_size(look.px(6.0))
        .y_label_area_size(look.px(64.0));
    if !fig.title.is_empty() {
        let (title, font) = fit_caption(look, &fig.title, top.dim_in_pixel().0, 13.0);
        builder.caption(title, font);
    }
    let mut chart = builder
        .build_cartesian_2d(0.0..s_max, (lo..hi).log_scale())
        .map_err(err)?;
    let (_, y_ticks) = look.ticks(chart.plotting_area(), (10, 8));
    let (_, y_desc) = fit_descs(look, chart.plotting_area(), &[], &["σi / σmax", "σi/σmax"]);
    // s is labelled on the rank panel below, which shares the axis.
    chart
        .configure_mesh()
        .y_desc(y_desc)
        .label_style(look.font(12.0))
        .axis_desc_style(look.font(13.0))
        .x_labels(0)
        .y_labels(y_ticks)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    let geom = Geom::of(chart.plotting_area(), [0.0, s_max], [lo, hi], true);
    let grey = RGBColor(90, 90, 90);
    let (lw, lw1, leg) = (look.upx(1.5), look.upx(1.0), look.px(16.0));
    chart
        .draw_series(DashedLineSeries::new(
            vec![(0.0, fig.rtol), (s_max, fig.rtol)],
            look.upx(6.0),
            look.upx(4.0),
            grey.stroke_width(look.upx(1.0)),
        ))
        .map_err(err)?
        .label(format!("rank threshold {:.0e}", fig.rtol))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + leg, y)], grey.stroke_width(lw1)));
    for (i, curve) in fig.sigmas.iter().enumerate() {
        let pts: Vec<(f64, f64)> = curve
            .iter()
            .filter(|p| !p.1.is_nan())
            .map(|&(s, v)| (s, v.clamp(lo, hi)))
            .collect();
        let c = fig.color;
        let series = chart
            .draw_series(LineSeries::new(pts, c.stroke_width(lw)))
            .map_err(err)?;
        if i == 0 {
            series.label("σi(D) / σmax").legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + leg, y)], c.stroke_width(lw))
            });
        }
    }
    for &s in &fig.escapes {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(s, lo), (s, hi)],
                look.upx(2.0),
                look.upx(3.0),
                BLACK.stroke_width(look.upx(1.0)),
            ))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .legend_area_size(look.upx(30.0))
        .margin(look.upx(10.0))
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(look.font(12.0))
        .draw()
        .map_err(err)?;

    draw_rank_panel(
        &bottom,
        look,
        s_max,
        fig.full_rank,
        &[(&fig.rank, fig.color)],
    )?;
    area.present().map_err(err)?;
    Ok(geom)
}
