//! The spectrum of `D` over `s`: `λ_min(DDᵀ)` and the trapping ratio `ρ = |Dᵀ∇ₓC|/|∇ₓC|`
//! (Prop 3.1) on a log scale above, `rank D` below, one colour per flow.

use super::{draw_rank_panel, err, fit_descs, log_range, split_lower, Geom, Look};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One flow's spectral history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpectrumLane {
    /// Legend text.
    pub label: String,
    /// Colour of the flow.
    pub color: RGBColor,
    /// `(s, rank D)`.
    pub rank: Vec<(f64, f64)>,
    /// `(s, λ_min(DDᵀ))`.
    pub lambda_min: Vec<(f64, f64)>,
    /// `(s, ρ)`.
    pub rho: Vec<(f64, f64)>,
}

/// Everything the spectrum figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpectrumFigure {
    /// One entry per flow.
    pub lanes: Vec<SpectrumLane>,
    /// Full rank `min(K, QN)`, drawn dashed on the rank panel.
    pub full_rank: usize,
    /// Right end of the s axis.
    pub s_max: f64,
}

/// Draws the spectrum figure onto `area`; the geometry is the upper (log) panel's.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &SpectrumFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let s_max = fig
        .lanes
        .iter()
        .flat_map(|l| l.rank.iter().map(|p| p.0))
        .fold(fig.s_max, f64::max)
        .max(1e-9);
    let (top, bottom) = split_lower(look, area, 0.32);
    let (lo, hi) = log_range(
        fig.lanes
            .iter()
            .flat_map(|l| l.lambda_min.iter().chain(&l.rho).map(|p| p.1)),
    );
    let mut chart = ChartBuilder::on(&top)
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .margin_bottom(look.px(2.0))
        .x_label_area_size(look.px(6.0))
        .y_label_area_size(look.px(64.0))
        .build_cartesian_2d(0.0..s_max, (lo..hi).log_scale())
        .map_err(err)?;
    let (_, y_ticks) = look.ticks(chart.plotting_area(), (10, 8));
    let (_, y_desc) = fit_descs(
        look,
        chart.plotting_area(),
        &[],
        &["λmin(DDᵀ) —, ρ - -", "λmin —, ρ - -", "λmin, ρ"],
    );
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
    let (lw, leg) = (look.upx(2.0), look.px(16.0));
    let positive = |v: &[(f64, f64)]| -> Vec<(f64, f64)> {
        v.iter()
            .copied()
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .map(|(s, y)| (s, y.max(lo)))
            .collect()
    };
    for l in &fig.lanes {
        let c = l.color;
        chart
            .draw_series(LineSeries::new(positive(&l.lambda_min), c.stroke_width(lw)))
            .map_err(err)?
            .label(l.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + leg, y)], c.stroke_width(lw)));
        chart
            .draw_series(DashedLineSeries::new(
                positive(&l.rho),
                look.upx(5.0),
                look.upx(4.0),
                c.stroke_width(look.upx(1.5)),
            ))
            .map_err(err)?;
    }
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

    let curves: Vec<(&[(f64, f64)], RGBColor)> =
        fig.lanes.iter().map(|l| (&l.rank[..], l.color)).collect();
    draw_rank_panel(&bottom, look, s_max, fig.full_rank, &curves)?;
    area.present().map_err(err)?;
    Ok(geom)
}
