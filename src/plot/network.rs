//! The network diagram: one column per layer (inputs, hidden layers, outputs), one box per drawn
//! unit showing its activation over the input plane, edges coloured by the sign of the weight
//! (blue positive, vermillion negative) and drawn thicker and darker the larger it is within its
//! layer. Marked units (dead, saturated, named by a rank-drop or blow-up event) get a red frame
//! and a word under it.

use super::grid::draw_grid;
use super::{err, fit_caption, text_em, Look, PALETTE};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

/// One drawn unit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetNode {
    /// Layer `l` (0: the inputs).
    pub layer: usize,
    /// Index in its layer.
    pub unit: usize,
    /// `grid²` colours of its activation over the input plane, row by row from the bottom
    /// (empty: drawn as a plain disc).
    pub cells: Vec<RGBColor>,
    /// A short word under a marked unit (`dead`, `saturated`, `rank drop`, `blow-up`).
    pub mark: Option<String>,
}

/// Everything the diagram shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkFigure {
    /// `[M, M_1, …, Q]`.
    pub widths: Vec<usize>,
    /// Per layer, its drawn units from top to bottom.
    pub columns: Vec<Vec<NetNode>>,
    /// Per layer `l ≥ 1` (index `l − 1`): `weights[a][b]` from drawn unit `b` of layer `l − 1`
    /// to drawn unit `a` of layer `l`.
    pub weights: Vec<Vec<Vec<f64>>>,
    /// Side of the activation grids (0: none).
    pub grid: usize,
    /// Caption.
    pub title: String,
    /// Draw the grids as bitmaps (canvas) rather than rectangles (SVG).
    pub raster: bool,
}

/// Where a unit was drawn (pixels of the figure's area).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeBox {
    /// Layer.
    pub layer: usize,
    /// Index in its layer.
    pub unit: usize,
    /// Centre.
    pub x: f64,
    /// Centre.
    pub y: f64,
    /// Half the side of its box.
    pub half: f64,
}

/// Where a layer's column was drawn: the page puts its buttons over it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColumnBox {
    /// Layer.
    pub layer: usize,
    /// Centre line.
    pub x: f64,
    /// Top of the first box.
    pub top: f64,
    /// Bottom of the layer's label.
    pub bottom: f64,
}

/// The diagram's geometry, for hover and the page's buttons.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NetLayout {
    /// Every drawn unit.
    pub nodes: Vec<NodeBox>,
    /// Every column.
    pub columns: Vec<ColumnBox>,
}

impl NetLayout {
    /// The unit whose box contains pixel `(x, y)`, with a little slack.
    pub fn node_at(&self, x: f64, y: f64) -> Option<&NodeBox> {
        self.nodes
            .iter()
            .find(|n| (x - n.x).abs() <= n.half + 2.0 && (y - n.y).abs() <= n.half + 2.0)
    }
}

/// Where every unit goes on a `w × h` area: columns evenly spaced, units evenly spaced down
/// each column; a column too tall for boxes of 28 CSS pixels alternates its units between two
/// staggered sub-columns, so that the boxes can be twice as tall.
pub fn layout(fig: &NetworkFigure, w: f64, h: f64, look: &Look) -> NetLayout {
    let px = |v: f64| look.px(v) as f64;
    let cols = fig.columns.len().max(1);
    let (top, bottom, side) = (px(48.0), px(40.0), px(40.0));
    let gap = (w - 2.0 * side) / (cols.max(2) - 1) as f64;
    let tallest = fig.columns.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let avail = (h - top - bottom).max(px(20.0));
    let row = avail / tallest as f64;
    let stagger = row < px(28.0) && gap > px(90.0);
    let reach = if stagger { 0.9 * row } else { 0.42 * row };
    let half = reach
        .min(gap * if stagger { 0.11 } else { 0.2 })
        .clamp(px(3.0), px(24.0));
    let mut out = NetLayout::default();
    for (l, col) in fig.columns.iter().enumerate() {
        let x = if cols == 1 {
            w / 2.0
        } else {
            side + gap * l as f64
        };
        let shift = if stagger && col.len() * 2 > tallest && col.len() > 1 {
            half + px(3.0)
        } else {
            0.0
        };
        // A column that is not staggered spaces its boxes apart (they are up to 1.8 rows tall).
        let step = if shift > 0.0 {
            row
        } else {
            (avail / col.len().max(1) as f64).min(2.6 * half).max(row)
        };
        let y0 = top + (avail - step * col.len() as f64) / 2.0 + step / 2.0;
        for (k, node) in col.iter().enumerate() {
            out.nodes.push(NodeBox {
                layer: node.layer,
                unit: node.unit,
                x: x + if k % 2 == 0 { -shift } else { shift },
                y: y0 + step * k as f64,
                half,
            });
        }
        out.columns.push(ColumnBox {
            layer: l,
            x,
            top: y0 - half,
            bottom: h - px(4.0),
        });
    }
    out
}

/// Draws the diagram onto `area` and returns where everything went.
///
/// Errors: backend failures.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &NetworkFigure,
    look: &Look,
) -> crate::Result<NetLayout> {
    let look = &look.fit(area);
    area.fill(&WHITE).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    let lay = layout(fig, w as f64, h as f64, look);
    let one = look.px(1.0).max(1) as f64;
    let text = |s: &str, x: f64, y: f64, size: f64, color: RGBColor, v: VPos| {
        area.draw(&Text::new(
            s.to_string(),
            (x.round() as i32, y.round() as i32),
            look.font(size).color(&color).pos(Pos::new(HPos::Center, v)),
        ))
        .map_err(err)
    };
    if !fig.title.is_empty() {
        let (title, font) = fit_caption(look, &fig.title, w, 13.0);
        area.draw(&Text::new(
            title,
            ((w / 2) as i32, look.px(4.0)),
            font.color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(err)?;
    }
    let node = |l: usize, k: usize| -> Option<&NodeBox> {
        let before: usize = fig.columns[..l].iter().map(Vec::len).sum();
        lay.nodes.get(before + k)
    };
    for (li, rows) in fig.weights.iter().enumerate() {
        let l = li + 1;
        let max = rows
            .iter()
            .flatten()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1e-300);
        for (a, row) in rows.iter().enumerate() {
            for (b, &wgt) in row.iter().enumerate() {
                let (Some(to), Some(from)) = (node(l, a), node(l - 1, b)) else {
                    continue;
                };
                let t = (wgt.abs() / max).clamp(0.0, 1.0);
                let color = if wgt >= 0.0 { PALETTE[0] } else { PALETTE[1] };
                let style = color
                    .mix(0.15 + 0.75 * t)
                    .stroke_width(look.upx(0.5 + 3.5 * t));
                area.draw(&PathElement::new(
                    vec![
                        ((from.x + from.half) as i32, from.y as i32),
                        ((to.x - to.half) as i32, to.y as i32),
                    ],
                    style,
                ))
                .map_err(err)?;
            }
        }
    }
    let red = RGBColor(200, 20, 20);
    let frame = RGBColor(120, 120, 120);
    let mut k = 0;
    for col in &fig.columns {
        for n in col {
            let b = lay.nodes[k];
            k += 1;
            let (x0, y0) = ((b.x - b.half).round() as i32, (b.y - b.half).round() as i32);
            let side = (2.0 * b.half).round().max(1.0) as u32;
            let r = b.half.round().max(1.0) as u32;
            if !n.cells.is_empty() && fig.grid > 0 {
                draw_grid(area, (x0, y0, side, side), &n.cells, fig.grid, fig.raster)?;
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + side as i32, y0 + side as i32)],
                    frame.stroke_width(look.upx(1.0)),
                ))
                .map_err(err)?;
            } else {
                let c = (b.x as i32, b.y as i32);
                area.draw(&Circle::new(c, r, RGBColor(235, 235, 235).filled()))
                    .map_err(err)?;
                area.draw(&Circle::new(c, r, frame.stroke_width(look.upx(1.0))))
                    .map_err(err)?;
            }
            if let Some(m) = &n.mark {
                let pad = look.px(3.0);
                area.draw(&Rectangle::new(
                    [
                        (x0 - pad, y0 - pad),
                        (x0 + side as i32 + pad, y0 + side as i32 + pad),
                    ],
                    red.stroke_width(look.upx(2.5)),
                ))
                .map_err(err)?;
                text(m, b.x, b.y + b.half + 4.0 * one, 10.0, red, VPos::Top)?;
            }
        }
    }
    // Column labels as long as the room between columns allows (zoomed CSS pixels); the outer
    // columns also have only twice their distance to the edge.
    let gap = match lay.columns.as_slice() {
        [a, b, ..] => (b.x - a.x) / one - 6.0,
        _ => w as f64 / one,
    };
    let last = fig.widths.len().saturating_sub(1);
    for (l, c) in lay.columns.iter().enumerate() {
        let width = fig.widths.get(l).copied().unwrap_or(0);
        let room = if l == 0 || l == last {
            gap.min(2.0 * c.x.min(w as f64 - c.x) / one)
        } else {
            gap
        };
        let options = match l {
            0 => [format!("inputs ({width})"), format!("in ({width})")],
            l if l == last => [format!("outputs ({width})"), format!("out ({width})")],
            l => [format!("hidden {l} ({width})"), format!("h{l} ({width})")],
        };
        let name = options
            .iter()
            .find(|t| text_em(t) * 12.0 <= room)
            .cloned()
            .unwrap_or_else(|| width.to_string());
        text(&name, c.x, c.bottom, 12.0, BLACK, VPos::Bottom)?;
        let drawn = fig.columns.get(l).map_or(0, Vec::len);
        if width > drawn {
            let long = format!("+{} not drawn", width - drawn);
            let more = if text_em(&long) * 10.0 <= room {
                long
            } else {
                format!("+{}", width - drawn)
            };
            let y = c.bottom - 15.0 * one;
            text(&more, c.x, y, 10.0, RGBColor(90, 90, 90), VPos::Bottom)?;
        }
    }
    area.present().map_err(err)?;
    Ok(lay)
}
