//! The constructive minimizer layer by layer: the data in the plane of a hidden layer, coloured
//! by class, with the classes collapsed so far drawn as one large point each (the apex of their
//! cut) and the next layer's cut `nᵀx = c` dashed; the last stage is the output layer, where the
//! collapse points land on the targets `y_c`. A classified new input is a black cross, truncated
//! layer by layer with the data.

use super::{
    class_color, draw_class_points, draw_targets, err, fit_caption, fit_descs, Geom, Look,
};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Everything the layer view shows at one stage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayersFigure {
    /// Caption: which stage.
    pub title: String,
    /// Horizontal axis text.
    pub x_desc: String,
    /// Vertical axis text.
    pub y_desc: String,
    /// `[x_lo, x_hi, y_lo, y_hi]`, fixed across the hidden stages so that points only move when
    /// the network moves them.
    pub bounds: [f64; 4],
    /// Data points `(x, y, class)`.
    pub points: Vec<(f64, f64, usize)>,
    /// Collapse points of the classes collapsed so far `(x, y, class)`.
    pub collapsed: Vec<(f64, f64, usize)>,
    /// The next cut: normal `(n₁, n₂)` and offset `c` of `nᵀx = c`, and the class it cuts off.
    pub cut: Option<(f64, f64, f64, usize)>,
    /// Targets `y_c` with their labels (output stage).
    pub targets: Vec<(f64, f64, String)>,
    /// A classified new input at this stage (drawn as a cross), if any.
    pub probe: Option<(f64, f64)>,
}

/// The segment of the line `n₁x + n₂y = c` inside `bounds`, if it crosses them.
pub fn line_in_box(n1: f64, n2: f64, c: f64, b: [f64; 4]) -> Option<((f64, f64), (f64, f64))> {
    let [x0, x1, y0, y1] = b;
    let mut pts: Vec<(f64, f64)> = vec![];
    if n2.abs() > 1e-12 {
        for x in [x0, x1] {
            let y = (c - n1 * x) / n2;
            if (y0..=y1).contains(&y) {
                pts.push((x, y));
            }
        }
    }
    if n1.abs() > 1e-12 {
        for y in [y0, y1] {
            let x = (c - n2 * y) / n1;
            if (x0..=x1).contains(&x) {
                pts.push((x, y));
            }
        }
    }
    pts.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12);
    (pts.len() >= 2).then(|| (pts[0], pts[pts.len() - 1]))
}

/// Draws the layer view onto `area`.
///
/// Errors: backend failures, as text.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &LayersFigure,
    look: &Look,
) -> crate::Result<Geom> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let [x0, x1, y0, y1] = fig.bounds;
    let (x0, x1, y0, y1) = if x1 > x0 && y1 > y0 {
        (x0, x1, y0, y1)
    } else {
        (-1.0, 1.0, -1.0, 1.0)
    };
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
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(err)?;
    let geom = Geom::of(chart.plotting_area(), [x0, x1], [y0, y1], false);
    if let Some((n1, n2, c, class)) = fig.cut {
        if let Some((a, b)) = line_in_box(n1, n2, c, [x0, x1, y0, y1]) {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![a, b],
                    look.upx(6.0),
                    look.upx(4.0),
                    class_color(class).stroke_width(look.upx(2.0)),
                ))
                .map_err(err)?;
        }
    }
    draw_class_points(&mut chart, look, &fig.points, 4.0)?;
    chart
        .draw_series(fig.collapsed.iter().map(|&(x, y, c)| {
            EmptyElement::at((x, y))
                + Circle::new((0, 0), look.upx(9.0), class_color(c).filled())
                + Circle::new((0, 0), look.upx(9.0), BLACK.stroke_width(look.upx(2.0)))
        }))
        .map_err(err)?;
    draw_targets(&mut chart, look, &fig.targets)?;
    if let Some((x, y)) = fig.probe {
        if (x0..=x1).contains(&x) && (y0..=y1).contains(&y) {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (x, y),
                    look.upx(7.0),
                    BLACK.stroke_width(look.upx(3.0)),
                )))
                .map_err(err)?;
        }
    }
    area.present().map_err(err)?;
    Ok(geom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_clipped_to_the_box() {
        let (a, b) = line_in_box(1.0, 0.0, 0.5, [0.0, 1.0, 0.0, 2.0]).unwrap();
        assert_eq!((a, b), ((0.5, 0.0), (0.5, 2.0)));
        let (a, b) = line_in_box(1.0, 1.0, 1.0, [0.0, 1.0, 0.0, 1.0]).unwrap();
        assert!((a.0 + a.1 - 1.0).abs() < 1e-12 && (b.0 + b.1 - 1.0).abs() < 1e-12);
        assert!(line_in_box(1.0, 0.0, 5.0, [0.0, 1.0, 0.0, 1.0]).is_none());
    }
}
