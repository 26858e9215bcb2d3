//! Neural collapse under each flow: per class, the variance of the outputs around their class
//! mean and the distance of the class mean to its target `y_c`, over `s` on a log scale, one
//! panel per flow on a shared axis. Under the full-rank adapted flow every `x_j − y_ω(j)` shrinks
//! like `e^{−s/N}`, so the variances fall like `e^{−2s/N}` and the distances like `e^{−s/N}`:
//! those reference rates are drawn (grey) on the adapted flow's panel.

use super::{draw_log_panel_mesh, err, fit_caption, log_range, Geom, Look};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One class's curves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassCurves {
    /// Legend text, e.g. `class 1`.
    pub label: String,
    /// Colour of the class.
    pub color: RGBColor,
    /// `(s, within-class output variance)`.
    pub variance: Vec<(f64, f64)>,
    /// `(s, |class mean − y_c|)`.
    pub distance: Vec<(f64, f64)>,
}

/// One flow's panel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollapsePanel {
    /// Which flow (caption).
    pub title: String,
    /// One entry per class.
    pub classes: Vec<ClassCurves>,
    /// `(largest initial variance, largest initial distance, N)`: draws `e^{−2s/N}` and
    /// `e^{−s/N}` from them (the adapted flow's panel).
    pub reference: Option<(f64, f64, usize)>,
}

/// Everything the neural-collapse figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollapseFigure {
    /// One panel per flow.
    pub panels: Vec<CollapsePanel>,
    /// Right end of the s axis.
    pub s_max: f64,
}

/// Draws the neural-collapse figure onto `area`: one panel per flow (side by side, two rows from
/// three flows on). Returns each panel's geometry, in order.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &CollapseFigure,
    look: &Look,
) -> crate::Result<Vec<Geom>> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let curves = || {
        fig.panels
            .iter()
            .flat_map(|p| p.classes.iter())
            .flat_map(|c| c.variance.iter().chain(&c.distance))
    };
    let s_max = curves().map(|p| p.0).fold(fig.s_max, f64::max).max(1e-9);
    // One y range for every panel: the flows are compared on one scale.
    let (lo, hi) = log_range(curves().map(|p| p.1));
    let count = fig.panels.len().max(1);
    let (rows, cols) = match count {
        1 => (1, 1),
        2 => (1, 2),
        n => (n.div_ceil(2), 2),
    };
    let cells = area.split_evenly((rows, cols));
    let mut geoms = vec![];
    let empty = CollapsePanel::default();
    for (k, cell) in cells.iter().enumerate() {
        let panel = match fig.panels.get(k) {
            Some(p) => p,
            None if k == 0 => &empty,
            None => continue,
        };
        let small = count > 1;
        let (title, font) = fit_caption(look, &panel.title, cell.dim_in_pixel().0, 13.0);
        let mut chart = ChartBuilder::on(cell)
            .caption(title, font)
            .margin(look.px(if small { 6.0 } else { 10.0 }))
            .margin_right(look.px(22.0))
            .x_label_area_size(look.px(36.0))
            .y_label_area_size(look.px(64.0))
            .build_cartesian_2d(0.0..s_max, (lo..hi).log_scale())
            .map_err(err)?;
        let y_options: &[&str] = if k % cols == 0 {
            &[
                "variance —, |mean − y| - -",
                "var —, |mean − y| - -",
                "var —, dist - -",
            ]
        } else {
            &[]
        };
        geoms.push(draw_log_panel_mesh(
            &mut chart,
            look,
            small,
            y_options,
            (s_max, lo, hi),
        )?);
        let grey = RGBColor(110, 110, 110);
        if let Some((v0, d0, n)) = panel.reference {
            for (y0, rate) in [(v0, 2.0), (d0, 1.0)] {
                if y0 > 0.0 && n > 0 {
                    let pts: Vec<(f64, f64)> = (0..=100)
                        .map(|i| {
                            let s = s_max * i as f64 / 100.0;
                            (s, y0 * (-rate * s / n as f64).exp())
                        })
                        .filter(|p| p.1 >= lo)
                        .collect();
                    chart
                        .draw_series(DashedLineSeries::new(
                            pts,
                            look.upx(2.0),
                            look.upx(3.0),
                            grey.stroke_width(look.upx(1.0)),
                        ))
                        .map_err(err)?;
                }
            }
        }
        let (lw, leg) = (look.upx(2.0), look.px(16.0));
        let positive = |v: &[(f64, f64)]| -> Vec<(f64, f64)> {
            v.iter()
                .copied()
                .filter(|p| p.1.is_finite() && p.1 > 0.0)
                .map(|(s, y)| (s, y.max(lo)))
                .collect()
        };
        for c in &panel.classes {
            let col = c.color;
            let series = chart
                .draw_series(LineSeries::new(positive(&c.variance), col.stroke_width(lw)))
                .map_err(err)?;
            if k == 0 {
                series.label(c.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + leg, y)], col.stroke_width(lw))
                });
            }
            chart
                .draw_series(DashedLineSeries::new(
                    positive(&c.distance),
                    look.upx(5.0),
                    look.upx(4.0),
                    col.stroke_width(lw),
                ))
                .map_err(err)?;
        }
        if k == 0 && !panel.classes.is_empty() {
            chart
                .configure_series_labels()
                .legend_area_size(look.upx(30.0))
                .margin(look.upx(10.0))
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(look.font(11.0))
                .draw()
                .map_err(err)?;
        }
    }
    area.present().map_err(err)?;
    Ok(geoms)
}
