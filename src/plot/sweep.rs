//! The summary figure of a sweep: one cell per grid point (rows: data, hidden widths and
//! activation; columns: flows), coloured by the median final cost over the seeds on a log scale
//! (blue low, vermillion high), with the median and how the runs ended written inside.

use super::{err, Look, PlotResult, PALETTE};
use crate::run::sweep::Row;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One grid point over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepCell {
    /// Median final cost.
    pub median_cost: f64,
    /// The most frequent way the runs ended (rest class, else the stop reason).
    pub outcome: String,
    /// How many runs ended that way.
    pub count: usize,
    /// Runs in the cell.
    pub runs: usize,
}

/// Everything the summary figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepFigure {
    /// Row labels (`data 0 · 16-16 · tanh`).
    pub rows: Vec<String>,
    /// Column labels (flows).
    pub cols: Vec<String>,
    /// `rows × cols` cells, row by row; `None` where no run has finished.
    pub cells: Vec<Option<SweepCell>>,
    /// Caption.
    pub title: String,
}

impl SweepFigure {
    /// Groups the rows by grid point (everything but the seed), in the order they come.
    pub fn from_rows(rows: &[Row], cells_total: usize) -> SweepFigure {
        let mut fig = SweepFigure::default();
        let row_key = |r: &Row| format!("data {} · {} · {}", r.data, r.widths, r.activation);
        for r in rows {
            let rk = row_key(r);
            if !fig.rows.contains(&rk) {
                fig.rows.push(rk);
            }
            if !fig.cols.contains(&r.flow) {
                fig.cols.push(r.flow.clone());
            }
        }
        for rk in &fig.rows {
            for c in &fig.cols {
                let runs: Vec<&Row> = rows
                    .iter()
                    .filter(|r| &row_key(r) == rk && &r.flow == c)
                    .collect();
                if runs.is_empty() {
                    fig.cells.push(None);
                    continue;
                }
                let mut costs: Vec<f64> = runs.iter().map(|r| r.final_cost).collect();
                costs.sort_by(f64::total_cmp);
                let m = costs.len();
                let median = if m % 2 == 1 {
                    costs[m / 2]
                } else {
                    0.5 * (costs[m / 2 - 1] + costs[m / 2])
                };
                let mut outcomes: Vec<(&str, usize)> = vec![];
                for r in &runs {
                    match outcomes.iter_mut().find(|(o, _)| *o == r.outcome()) {
                        Some(e) => e.1 += 1,
                        None => outcomes.push((r.outcome(), 1)),
                    }
                }
                let (outcome, count) = outcomes
                    .iter()
                    .max_by_key(|(_, n)| *n)
                    .copied()
                    .unwrap_or(("", 0));
                fig.cells.push(Some(SweepCell {
                    median_cost: median,
                    outcome: outcome.into(),
                    count,
                    runs: m,
                }));
            }
        }
        fig.title = format!(
            "median final cost over seeds ({} of {cells_total} runs)",
            rows.len()
        );
        fig
    }
}

/// The colour of `log10 C` between the smallest and largest of the figure: blue to vermillion
/// through white.
fn cost_color(lc: f64, lo: f64, hi: f64) -> RGBColor {
    if !lc.is_finite() {
        return RGBColor(200, 200, 200);
    }
    let t = if hi > lo { (lc - lo) / (hi - lo) } else { 0.5 };
    let (target, u) = if t < 0.5 {
        (PALETTE[0], 1.0 - 2.0 * t)
    } else {
        (PALETTE[1], 2.0 * t - 1.0)
    };
    let mix = |v: u8| (255.0 + (v as f64 - 255.0) * u.clamp(0.0, 1.0) * 0.8).round() as u8;
    RGBColor(mix(target.0), mix(target.1), mix(target.2))
}

/// Draws the summary.
///
/// Errors: backend failures ([`crate::Error::Plot`]).
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &SweepFigure,
    look: &Look,
) -> PlotResult {
    area.fill(&WHITE).map_err(err)?;
    let (nr, nc) = (fig.rows.len().max(1), fig.cols.len().max(1));
    let mut chart = ChartBuilder::on(area)
        .caption(&fig.title, look.font(14.0))
        .margin(look.px(10.0))
        .x_label_area_size(look.px(30.0))
        .y_label_area_size(look.px(170.0))
        .build_cartesian_2d(0.0..nc as f64, 0.0..nr as f64)
        .map_err(err)?;
    let cols = fig.cols.clone();
    let rows = fig.rows.clone();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(nc * 2 + 1)
        .y_labels(nr * 2 + 1)
        .x_label_formatter(&|x| {
            let i = (x - 0.5).round();
            if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                cols.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| {
            let i = (y - 0.5).round();
            if (y - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                rows.get(nr - 1 - i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(look.font(12.0))
        .draw()
        .map_err(err)?;
    let logs: Vec<f64> = fig
        .cells
        .iter()
        .flatten()
        .map(|c| c.median_cost.log10())
        .filter(|v| v.is_finite())
        .collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for (k, cell) in fig.cells.iter().enumerate() {
        let (i, j) = (k / nc, k % nc);
        let y0 = (nr - 1 - i) as f64;
        let x0 = j as f64;
        let color = cell.as_ref().map_or(RGBColor(235, 235, 235), |c| {
            cost_color(c.median_cost.log10(), lo, hi)
        });
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0 + 0.02, y0 + 0.04), (x0 + 0.98, y0 + 0.96)],
                color.filled(),
            )))
            .map_err(err)?;
        let (l1, l2) = match cell {
            Some(c) => (
                format!("C = {:.2e}", c.median_cost),
                format!("{} {}/{}", c.outcome, c.count, c.runs),
            ),
            None => ("not run yet".into(), String::new()),
        };
        let center = Pos::new(HPos::Center, VPos::Center);
        for (text, dy) in [(l1, 0.62), (l2, 0.35)] {
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (x0 + 0.5, y0 + dy),
                    look.font(12.0).color(&BLACK).pos(center),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}
