//! The network diagram of the [`Board`]: the latest diagram from the worker as a figure, the
//! readout of the unit under the pointer, and the columns the page puts its buttons on.

use super::{fmt_e, Board};
use crate::app::protocol::NetDiagram;
use crate::plot::network::{ColumnBox, NetNode, NetworkFigure};
use crate::plot::PALETTE;
use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};

/// What the page needs to know about the diagram on screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetSummary {
    /// `[M, M_1, …, Q]` of the diagram drawn.
    pub widths: Vec<usize>,
    /// Hidden units in the network (`Σ M_l`).
    pub hidden_units: usize,
    /// Units drawn (every layer).
    pub drawn: usize,
    /// Marked units drawn.
    pub marked: usize,
    /// The lane whose `θ` it shows.
    pub lane: usize,
    /// The columns where they were last drawn (device pixels).
    pub columns: Vec<ColumnBox>,
}

/// `v` on a diverging scale: white at `center`, blue above, vermillion below, full colour at
/// `center ± scale`.
fn diverging(v: f64, center: f64, scale: f64) -> RGBColor {
    let t = if scale > 0.0 && v.is_finite() {
        ((v - center) / scale).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let c = if t >= 0.0 { PALETTE[0] } else { PALETTE[1] };
    let a = t.abs();
    let m = |x: u8| (255.0 + (x as f64 - 255.0) * a).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Centre and half-range of a unit's colour scale: the activation's own range where it has one
/// (tanh, sigmoid: saturation shows as full colour), else the largest `|v|` of its grid.
fn scale_of(activation: &str, hidden: bool, values: &[f64]) -> (f64, f64) {
    match (hidden, activation) {
        (true, "tanh") => (0.0, 1.0),
        (true, "sigmoid") => (0.5, 0.5),
        _ => (
            0.0,
            values
                .iter()
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, v| m.max(v.abs())),
        ),
    }
}

impl Board {
    /// The diagram last received, if any.
    pub fn network(&self) -> Option<&NetDiagram> {
        self.network.as_ref()
    }

    /// The network diagram of the lane the worker sends.
    pub fn network_figure(&self) -> NetworkFigure {
        let mut fig = NetworkFigure {
            raster: self.raster,
            ..NetworkFigure::default()
        };
        let Some(d) = &self.network else {
            fig.title = "the network arrives from the worker".into();
            return fig;
        };
        let h = &d.header;
        fig.widths = h.widths.clone();
        fig.weights = d.weights.clone();
        fig.grid = h.grid;
        let s = self.lane_frame(h.lane).map_or(0.0, |f| f.s);
        fig.title = format!(
            "{} at s = {s:.2}: {} · edges: blue > 0, vermillion < 0",
            self.lane_label(h.lane),
            h.activation
        );
        let g = h.grid;
        let inputs: Vec<NetNode> = h.shown[0]
            .iter()
            .map(|&u| {
                let cells = match (h.bounds, g > 0 && u < 2) {
                    (Some([x0, x1, y0, y1]), true) => {
                        let (c, r) = if u == 0 {
                            (0.5 * (x0 + x1), 0.5 * (x1 - x0))
                        } else {
                            (0.5 * (y0 + y1), 0.5 * (y1 - y0))
                        };
                        (0..g * g)
                            .map(|k| {
                                let (ix, iy) = ((k % g) as f64 + 0.5, (k / g) as f64 + 0.5);
                                let v = if u == 0 {
                                    x0 + ix * (x1 - x0) / g as f64
                                } else {
                                    y0 + iy * (y1 - y0) / g as f64
                                };
                                diverging(v, c, r)
                            })
                            .collect()
                    }
                    _ => vec![],
                };
                NetNode {
                    layer: 0,
                    unit: u,
                    cells,
                    mark: None,
                }
            })
            .collect();
        fig.columns.push(inputs);
        let last = h.widths.len() - 1;
        let mut k = 0;
        for l in 1..=last {
            let mut col = vec![];
            for _ in &h.shown[l] {
                let u = &h.units[k];
                let values = d.heat.get(k).map_or(&[][..], |v| &v[..]);
                k += 1;
                let (c, r) = scale_of(&h.activation, l < last, values);
                col.push(NetNode {
                    layer: l,
                    unit: u.unit,
                    cells: values.iter().map(|&v| diverging(v, c, r)).collect(),
                    mark: u.mark.as_deref().map(|m| match m {
                        "rank_change" => "rank drop".to_string(),
                        "blow_up" => "blow-up".to_string(),
                        other => other.to_string(),
                    }),
                });
            }
            fig.columns.push(col);
        }
        fig
    }

    /// The diagram's sizes and where its columns were drawn (`None` before any diagram).
    pub fn network_summary(&self) -> Option<NetSummary> {
        let d = self.network.as_ref()?;
        let h = &d.header;
        let last = h.widths.len() - 1;
        Some(NetSummary {
            widths: h.widths.clone(),
            hidden_units: h.widths[1..last].iter().sum(),
            drawn: h.shown.iter().map(Vec::len).sum(),
            marked: h.units.iter().filter(|u| u.mark.is_some()).count(),
            lane: h.lane,
            columns: self
                .net_layout
                .as_ref()
                .map_or(vec![], |l| l.columns.clone()),
        })
    }

    /// The readout of the unit under pixel `(px, py)`: its weights and bias, its state.
    pub(super) fn hover_network(&self, px: f64, py: f64) -> Option<String> {
        let d = self.network.as_ref()?;
        let node = self.net_layout.as_ref()?.node_at(px, py)?;
        let h = &d.header;
        let last = h.widths.len() - 1;
        if node.layer == 0 {
            return Some(format!("input {} of {}", node.unit + 1, h.widths[0]));
        }
        let before: usize = h.shown[1..node.layer].iter().map(Vec::len).sum();
        let row = h.shown[node.layer].iter().position(|&u| u == node.unit)?;
        let u = &h.units[before + row];
        let weights = &d.weights[node.layer - 1][row];
        let from = &h.shown[node.layer - 1];
        let mut w: Vec<String> = weights
            .iter()
            .zip(from)
            .take(8)
            .map(|(v, j)| format!("w{}={:.3}", j + 1, v))
            .collect();
        if weights.len() > 8 || from.len() < h.widths[node.layer - 1] {
            w.push("…".into());
        }
        let what = if node.layer == last {
            format!("output {}", u.unit + 1)
        } else {
            format!("unit {} of hidden layer {}", u.unit + 1, node.layer)
        };
        let mut text = format!(
            "{what}: bias {:.4}, |w_in| = {} ({}), max|z| = {}",
            u.bias,
            fmt_e(u.in_norm),
            w.join(" "),
            fmt_e(u.max_abs_z)
        );
        if node.layer < last {
            text.push_str(&format!(
                ", flat on {:.0}% of the samples",
                100.0 * u.flat_fraction
            ));
        }
        if let Some(m) = &u.mark_text {
            text.push_str(&format!(" — {m}"));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diverging_scale_is_white_at_its_centre() {
        assert_eq!(diverging(0.5, 0.5, 0.5), RGBColor(255, 255, 255));
        assert_eq!(diverging(1.0, 0.0, 1.0), PALETTE[0]);
        assert_eq!(diverging(-3.0, 0.0, 1.0), PALETTE[1]);
    }
}
