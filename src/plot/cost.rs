//! Cost against flow time on a log scale: one curve per flow, the theory line `C(0)e^{−2s/N}`
//! dashed (under the weighted cost `Σ_j C_j(0)e^{−4s/N_j}`), and markers at the predicted (2.41)
//! and measured stopping times.

use super::{err, fit_descs, log_range, Geom, Look, PlotResult, Series};
use crate::run::event::EventKind;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Everything the cost figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostFigure {
    /// One curve per flow: `(s, C(s))`.
    pub curves: Vec<Series>,
    /// `(C(0), N)`: draws `C(0)e^{−2s/N}` dashed over the x range.
    pub theory: Option<(f64, usize)>,
    /// The weighted cost's theory `Σ_j C_j(0)e^{−4s/N_j}` as pairs `(C_j(0), 4/N_j)`: drawn
    /// instead of [`Self::theory`] when not empty, with its own legend.
    pub terms: Vec<(f64, f64)>,
    /// `ε` drawn as a horizontal dotted line.
    pub epsilon: Option<f64>,
    /// Predicted stopping time `(N/2)log(C(0)/ε)`, drawn as a vertical dashed line.
    pub predicted: Option<f64>,
    /// Measured hitting times `(s, colour index into curves)`, drawn as filled circles at `ε`.
    pub measured: Vec<(f64, usize)>,
    /// Other markers on the curves (e.g. escapes): `(s, C, label)`.
    pub markers: Vec<(f64, f64, String)>,
    /// Jumps of `C` at one `s` (escapes): `(s, C before, C after)`, drawn as a vertical segment.
    pub jumps: Vec<(f64, f64, f64)>,
    /// Right end of the x axis (at least the last point).
    pub s_max: f64,
}

/// Draws the cost figure onto `area` at CSS scale.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, fig: &CostFigure) -> PlotResult {
    draw_with(area, fig, &Look::default()).map(|_| ())
}

/// Draws the cost figure onto `area` with `look`, returning where the plotting area lies.
///
/// Errors: backend failures, as text.
pub fn draw_with<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &CostFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let s_max = fig
        .curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold(fig.s_max, f64::max)
        .max(1e-9);
    let weighted = !fig.terms.is_empty();
    let theory_pts: Vec<(f64, f64)> = match fig.theory {
        _ if weighted => (0..=200)
            .map(|i| {
                let s = s_max * i as f64 / 200.0;
                let c: f64 = fig.terms.iter().map(|(a, r)| a * (-r * s).exp()).sum();
                (s, c)
            })
            .filter(|p| p.1 > 0.0)
            .collect(),
        Some((c0, n)) if c0 > 0.0 && n > 0 => (0..=200)
            .map(|i| {
                let s = s_max * i as f64 / 200.0;
                (s, c0 * (-2.0 * s / n as f64).exp())
            })
            .collect(),
        _ => vec![],
    };
    let (mut lo, mut hi) = log_range(
        fig.curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .chain(fig.epsilon),
    );
    if let Some(e) = fig.epsilon {
        lo = lo.min(e / 2.0);
    }
    // A diverging run (gradient descent with too large a step) would stretch the axis over
    // hundreds of decades: keep at most six above the starting cost and clip the curve there.
    let start = fig.theory.map(|t| t.0).or_else(|| {
        fig.curves
            .iter()
            .find_map(|c| c.points.first().map(|p| p.1))
    });
    if let Some(c0) = start.filter(|c| c.is_finite() && *c > 0.0) {
        hi = hi.min(c0 * 1e6).max(lo * 10.0);
    }
    let mut chart = ChartBuilder::on(area)
        .margin(look.px(10.0))
        .margin_right(look.px(22.0))
        .x_label_area_size(look.px(40.0))
        .y_label_area_size(look.px(64.0))
        .build_cartesian_2d(0.0..s_max, (lo..hi).log_scale())
        .map_err(err)?;
    let (x_ticks, y_ticks) = look.ticks(chart.plotting_area(), (10, 8));
    let compact = look.compact(chart.plotting_area());
    let (x_desc, y_desc) = fit_descs(look, chart.plotting_area(), &["s"], &["cost C", "C"]);
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(look.font(12.0))
        .axis_desc_style(look.font(13.0))
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    let geom = Geom::of(chart.plotting_area(), [0.0, s_max], [lo, hi], true);
    let theory_color = RGBColor(90, 90, 90);
    let (leg, lw1, lw2) = (look.px(16.0), look.upx(1.0), look.upx(2.0));
    if !theory_pts.is_empty() {
        let clipped: Vec<(f64, f64)> = theory_pts.into_iter().filter(|p| p.1 >= lo).collect();
        chart
            .draw_series(DashedLineSeries::new(
                clipped,
                look.upx(6.0),
                look.upx(4.0),
                theory_color.stroke_width(look.upx(1.0)),
            ))
            .map_err(err)?
            .label(if weighted {
                "Σ_j C_j(0)·e^(-4s/N_j)"
            } else {
                "C(0)·e^(-2s/N)"
            })
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + leg, y)], theory_color.stroke_width(lw1))
            });
    }
    if let Some(eps) = fig.epsilon {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, eps), (s_max, eps)],
                look.upx(2.0),
                look.upx(4.0),
                RGBColor(150, 150, 150).stroke_width(lw1),
            ))
            .map_err(err)?;
    }
    if let Some(sp) = fig.predicted {
        if sp <= s_max {
            let c = RGBColor(120, 120, 120);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(sp, lo), (sp, hi)],
                    look.upx(4.0),
                    look.upx(4.0),
                    c.stroke_width(lw1),
                ))
                .map_err(err)?
                .label(if compact {
                    "predicted stop"
                } else if weighted {
                    "predicted stop: Σ_j C_j(0)e^(-4s/N_j) = ε"
                } else {
                    "predicted stop (N/2)log(C0/ε)"
                })
                .legend(move |(x, y)| {
                    PathElement::new(
                        vec![(x + leg / 2, y - leg / 3), (x + leg / 2, y + leg / 3)],
                        c.stroke_width(lw1),
                    )
                });
        }
    }
    for curve in &fig.curves {
        let color = curve.color;
        let pts: Vec<(f64, f64)> = curve
            .points
            .iter()
            .copied()
            .filter(|p| p.1 > 0.0 && !p.1.is_nan())
            .map(|(s, c)| (s, c.clamp(lo, hi)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(lw2)))
            .map_err(err)?
            .label(curve.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + leg, y)], color.stroke_width(lw2))
            });
    }
    if let Some(eps) = fig.epsilon {
        for &(s, idx) in &fig.measured {
            let color = fig.curves.get(idx).map_or(BLACK, |c| c.color);
            chart
                .draw_series(std::iter::once(Circle::new(
                    (s, eps),
                    look.upx(5.0),
                    color.filled(),
                )))
                .map_err(err)?;
        }
    }
    for &(s, before, after) in &fig.jumps {
        if before.is_finite() && after.is_finite() {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(s, before.clamp(lo, hi)), (s, after.clamp(lo, hi))],
                    BLACK.stroke_width(look.upx(2.0)),
                )))
                .map_err(err)?;
        }
    }
    for (s, c, _) in &fig.markers {
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                (*s, c.max(lo)),
                look.upx(6.0),
                BLACK.filled(),
            )))
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
    area.present().map_err(err)?;
    Ok(geom)
}

impl CostFigure {
    /// The figure of one or more traces of the same scenario (one curve each, colours in order).
    pub fn from_traces(traces: &[&crate::run::scenario::Trace]) -> CostFigure {
        let mut fig = CostFigure::default();
        for (i, t) in traces.iter().enumerate() {
            fig.curves.push(Series {
                label: t.flow.clone(),
                color: super::PALETTE[i % super::PALETTE.len()],
                points: t.samples.iter().map(|s| (s.s, s.cost)).collect(),
            });
            fig.s_max = fig.s_max.max(t.final_state.s);
            if let Some(m) = t.measured_stopping_time {
                fig.measured.push((m, i));
            }
            if fig.theory.is_none() {
                fig.theory = Some((t.initial_cost, t.n));
                if t.scenario.cost == crate::math::model::CostSpec::Weighted {
                    fig.terms = weighted_terms(t);
                }
                fig.epsilon = t.scenario.stop.cost_below;
                fig.predicted = t.predicted_stopping_time;
            }
            for e in &t.events {
                if let EventKind::Escape(step) = &e.kind {
                    fig.markers.push((e.s, step.cost_after, "escape".into()));
                    fig.jumps.push((e.s, step.cost_before, step.cost_after));
                }
            }
        }
        fig
    }
}

/// `(C_j(0), 4/N_j)` of a weighted-cost trace, from its first sample's class statistics
/// (`C_j = spread_j² + dist_j²`, docs/math/weighted-cost.md) and the labels of its data.
fn weighted_terms(t: &crate::run::scenario::Trace) -> Vec<(f64, f64)> {
    let crate::math::data::DataSpec::Custom { labels, .. } = &t.scenario.data else {
        return vec![];
    };
    let Some(first) = t.samples.first() else {
        return vec![];
    };
    let mut counts = vec![0usize; first.class_spread.len()];
    for &l in labels {
        if let Some(c) = counts.get_mut(l) {
            *c += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .filter(|(_, &k)| k > 0)
        .map(|(j, &k)| {
            let c = first.class_spread[j].powi(2) + first.class_mean_distance[j].powi(2);
            (c, 4.0 / k as f64)
        })
        .collect()
}
