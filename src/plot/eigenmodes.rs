//! The eigenmode view: the output error along the eigenvectors of the NTK, `|a_i(s)|` over `s` on
//! a log scale, one curve per mode and one panel per flow (plus the moving basis of one flow).
//! Colours run from the largest eigenvalue (dark) to the smallest (yellow); dashed curves are a
//! linearized prediction, the grey dashed line a reference rate.

use super::{draw_log_panel_mesh, err, fit_caption, log_range, Geom, Look};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One mode's curve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModeCurve {
    /// Its colour (see [`mode_color`]).
    pub color: RGBColor,
    /// `(s, |a_i(s)|)`.
    pub points: Vec<(f64, f64)>,
    /// `(s, predicted |a_i(s)|)`, drawn dashed (empty: none).
    pub predicted: Vec<(f64, f64)>,
}

/// One panel: a flow in one basis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModesPanel {
    /// Caption.
    pub title: String,
    /// One curve per mode.
    pub curves: Vec<ModeCurve>,
    /// A grey dashed reference `(s, y)` (e.g. `e^{−s/N}` scaled to a curve), or empty.
    pub reference: Vec<(f64, f64)>,
}

/// Everything the eigenmode figure shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EigenmodesFigure {
    /// The panels, in order.
    pub panels: Vec<ModesPanel>,
    /// Right end of the `s` axis.
    pub s_max: f64,
    /// Smallest `|a|` drawn (rounding noise below it).
    pub floor: f64,
    /// What to say when there is nothing to draw.
    pub note: String,
}

/// The colour of mode `rank` of `count` (0: the largest eigenvalue): a dark-blue → green →
/// yellow ramp that stays readable on white and for colour-blind readers.
pub fn mode_color(rank: usize, count: usize) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (40.0, 30.0, 110.0),
        (40.0, 90.0, 160.0),
        (30.0, 150.0, 140.0),
        (110.0, 190.0, 80.0),
        (225.0, 200.0, 30.0),
    ];
    let t = if count > 1 {
        rank as f64 / (count - 1) as f64
    } else {
        0.0
    };
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Draws the eigenmode figure: one panel per entry (side by side, two columns from three on),
/// one shared `y` range. Returns each panel's geometry.
///
/// Errors: backend failures.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &EigenmodesFigure,
    look: &Look,
) -> crate::Result<Vec<Geom>> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let all = || {
        fig.panels
            .iter()
            .flat_map(|p| p.curves.iter())
            .flat_map(|c| c.points.iter())
    };
    let s_max = all().map(|p| p.0).fold(fig.s_max, f64::max).max(1e-9);
    let floor = if fig.floor > 0.0 { fig.floor } else { 0.0 };
    let (lo, hi) = log_range(all().map(|p| p.1.abs()).filter(|&v| v >= floor));
    let lo = lo.max(floor);
    let hi = hi.max(lo * 10.0);
    let count = fig.panels.len().max(1);
    let (rows, cols) = match count {
        1 => (1, 1),
        2 => (1, 2),
        n => (n.div_ceil(2), 2),
    };
    let cells = area.split_evenly((rows, cols));
    let mut geoms = vec![];
    let empty = ModesPanel {
        title: fig.note.clone(),
        ..ModesPanel::default()
    };
    for (k, cell) in cells.iter().enumerate() {
        let panel = match fig.panels.get(k) {
            Some(p) => p,
            None if k == 0 => &empty,
            None => continue,
        };
        let small = count > 1;
        let (title, font) = fit_caption(look, &panel.title, cell.dim_in_pixel().0, 12.0);
        // The caption gets its own strip: the top tick label reaches half a line above the
        // plotting area, where a caption spanning the panel would run into it.
        let (strip, body) = cell.split_vertically(look.px(if small { 24.0 } else { 28.0 }));
        strip
            .draw(&Text::new(
                title,
                ((strip.dim_in_pixel().0 / 2) as i32, look.px(6.0)),
                font.color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(err)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(look.px(if small { 6.0 } else { 10.0 }))
            .margin_right(look.px(22.0))
            .x_label_area_size(look.px(36.0))
            .y_label_area_size(look.px(64.0))
            .build_cartesian_2d(0.0..s_max, (lo..hi).log_scale())
            .map_err(err)?;
        let y_options: &[&str] = if k % cols == 0 {
            &["|a_i(s)|", "|a|"]
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
        let clip = |v: &[(f64, f64)]| -> Vec<(f64, f64)> {
            v.iter()
                .filter(|p| p.1.is_finite() && p.1.abs() >= lo && p.0 <= s_max)
                .map(|&(s, y)| (s, y.abs().min(hi)))
                .collect()
        };
        for c in &panel.curves {
            let pred = clip(&c.predicted);
            if pred.len() > 1 {
                chart
                    .draw_series(DashedLineSeries::new(
                        pred,
                        look.upx(3.0),
                        look.upx(3.0),
                        c.color.mix(0.7).stroke_width(look.upx(1.0)),
                    ))
                    .map_err(err)?;
            }
        }
        for c in &panel.curves {
            chart
                .draw_series(LineSeries::new(
                    clip(&c.points),
                    c.color.stroke_width(look.upx(1.5)),
                ))
                .map_err(err)?;
        }
        let reference = clip(&panel.reference);
        if reference.len() > 1 {
            chart
                .draw_series(DashedLineSeries::new(
                    reference,
                    look.upx(6.0),
                    look.upx(4.0),
                    RGBColor(90, 90, 90).stroke_width(look.upx(2.0)),
                ))
                .map_err(err)?;
        }
    }
    area.present().map_err(err)?;
    Ok(geoms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_runs_from_dark_to_light() {
        let first = mode_color(0, 32);
        let last = mode_color(31, 32);
        let lum = |c: RGBColor| 0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64;
        assert!(lum(first) < lum(last));
        assert_eq!(mode_color(0, 1), first);
    }
}
