//! The network diagram's data: the live weights of one lane, each drawn unit's state (dead or
//! saturated on the training inputs, or named by a rank-drop / blow-up event), and for 2-D inputs
//! every drawn unit's activation over the input plane on a small grid.

use super::{NetworkHeader, HEAT_EVERY_MS};
use crate::math::model::Model;
use crate::math::net::{Activation, Forward, Mlp};
use crate::math::units::{self, UnitRef, UnitState, FLAT_SLOPE};
use crate::run::event::{Event, EventKind};
use crate::run::lanes::Comparison;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// Most units drawn per layer; wider layers show the marked units first, then the lowest
/// indices, and say how many are left out.
pub const MAX_SHOWN_UNITS: usize = 16;
/// Most activation values of all unit heatmaps of one diagram together (`units · grid²`): one
/// forward pass over `grid²` points evaluates every unit, the budget bounds the transfer.
pub const NET_HEAT_VALUES: usize = 16_384;
/// Largest side of a unit's heatmap.
pub const NET_HEAT_MAX: usize = 24;
/// Smallest side of a unit's heatmap; below it the diagram shows no heatmaps.
pub const NET_HEAT_MIN: usize = 6;
/// Which lane's diagram the host sends, and when.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NetworkView {
    lane: Option<usize>,
    due: bool,
    last: Option<f64>,
}

impl NetworkView {
    /// Follows `lane` (`None`: off); the next frame carries its diagram.
    pub(super) fn set(&mut self, lane: Option<usize>) {
        self.lane = lane;
        self.due = lane.is_some();
    }

    /// A new comparison of `lanes` lanes: the next frame carries the diagram (off when the lane
    /// is gone).
    pub(super) fn on_load(&mut self, lanes: usize) {
        if self.lane.is_some_and(|l| l >= lanes) {
            self.lane = None;
        }
        self.due = self.lane.is_some();
    }

    /// While running: due every [`HEAT_EVERY_MS`] of the clock `t`.
    pub(super) fn tick(&mut self, t: f64) {
        if self.lane.is_some() && self.last.is_none_or(|l| t - l >= HEAT_EVERY_MS) {
            self.due = true;
            self.last = Some(t);
        }
    }

    /// Paused: the next frame shows the state it rests in.
    pub(super) fn paused(&mut self) {
        self.due |= self.lane.is_some();
    }

    /// The diagram for this frame, when one is due.
    pub(super) fn take(
        &mut self,
        run: &Comparison,
        bounds: Option<[f64; 4]>,
    ) -> Option<(NetworkHeader, Vec<f64>)> {
        if !std::mem::take(&mut self.due) {
            return None;
        }
        let lane = self.lane?;
        let ses = &run.lanes().get(lane)?.session;
        Some(diagram(
            ses.model(),
            ses.theta(),
            lane,
            ses.events(),
            bounds,
        ))
    }
}

/// One drawn unit of layer `l ≥ 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitInfo {
    /// Layer `l`, 1-based; `L + 1` is the output layer.
    pub layer: usize,
    /// Index in the layer, 0-based.
    pub unit: usize,
    /// Its bias `b_l[i]`.
    pub bias: f64,
    /// `|W_l[i, ·]|`, the norm of its incoming weights.
    pub in_norm: f64,
    /// Fraction of the training samples where the unit passes no gradient (hidden units).
    pub flat_fraction: f64,
    /// `max_j |z_j|` over the training samples.
    pub max_abs_z: f64,
    /// `dead` (ReLU / softplus off on every sample), `saturated` (tanh / sigmoid flat on every
    /// sample), or the kind of the event that named it (`rank_change`, `blow_up`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    /// Why it is marked, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_text: Option<String>,
}

/// The unit that dominates the vanishing singular vector behind a rank drop (`rank_change` with
/// reason `singular`) or a blow-up, with that unit's share of `|v|²` (`math::units::dominant`,
/// recorded in the event).
fn event_unit(e: &Event) -> Option<(UnitRef, Option<f64>)> {
    let sing = match &e.kind {
        EventKind::BlowUp { singularity, .. } => singularity,
        EventKind::RankChange {
            singularity: Some(singularity),
            ..
        } => singularity,
        _ => return None,
    };
    Some((
        UnitRef {
            layer: sing.unit_layer?,
            unit: sing.unit?,
        },
        sing.unit_share,
    ))
}

/// Which units of a layer of `width` to draw: every one up to [`MAX_SHOWN_UNITS`], else the
/// `marked` ones first and then the lowest indices, in ascending order.
fn shown_units(width: usize, marked: &[usize]) -> Vec<usize> {
    if width <= MAX_SHOWN_UNITS {
        return (0..width).collect();
    }
    let mut out: Vec<usize> = marked
        .iter()
        .copied()
        .filter(|&u| u < width)
        .take(MAX_SHOWN_UNITS)
        .collect();
    out.sort_unstable();
    out.dedup();
    let mut next = 0;
    while out.len() < MAX_SHOWN_UNITS {
        if !out.contains(&next) {
            out.push(next);
        }
        next += 1;
    }
    out.sort_unstable();
    out
}

/// Side of each unit's heatmap for `units` drawn units: the largest within [`NET_HEAT_VALUES`]
/// and [`NET_HEAT_MAX`], or 0 below [`NET_HEAT_MIN`].
pub fn heat_side(units: usize) -> usize {
    let side = ((NET_HEAT_VALUES / units.max(1)) as f64).sqrt().floor() as usize;
    let side = side.min(NET_HEAT_MAX);
    if side < NET_HEAT_MIN {
        0
    } else {
        side
    }
}

/// The diagram of `theta` for `lane`: the header and its bulk (the drawn weights of each layer,
/// row by drawn unit, then `grid²` activations of every drawn unit, row by row from the bottom
/// of `bounds`, when the inputs are 2-D).
pub fn diagram(
    model: &Model,
    theta: &[f64],
    lane: usize,
    events: &[Event],
    bounds: Option<[f64; 4]>,
) -> (NetworkHeader, Vec<f64>) {
    let net: &Mlp = &model.net;
    let widths = net.widths().to_vec();
    let layers = widths.len() - 1;
    let act = net.activation();
    let mut fw = Forward::default();
    net.forward_into(theta, &model.data.inputs, &mut fw);
    let states: Vec<UnitState> = units::hidden_states(net, &fw);
    let state = |l: usize, i: usize| {
        states
            .iter()
            .find(|st| st.unit == UnitRef { layer: l, unit: i })
    };
    let mut marks: Vec<Vec<(usize, String, String)>> = vec![vec![]; layers + 1];
    for st in states.iter().filter(|st| st.flat_everywhere) {
        let (kind, what) = match act {
            Activation::Tanh | Activation::Sigmoid => (
                "saturated",
                format!("σ'(z) < {FLAT_SLOPE:.0e} on every sample: saturated"),
            ),
            _ => ("dead", "off on every sample: dead".to_string()),
        };
        marks[st.unit.layer].push((
            st.unit.unit,
            kind.to_string(),
            format!("{what}; its incoming columns of D vanish, so D loses rank"),
        ));
    }
    // Every unit an event named, the latest event's word winning: these dominate a vanishing
    // singular vector of D (the rest-points analysis), whatever their state now.
    for e in events {
        let Some((u, share)) = event_unit(e) else {
            continue;
        };
        let (l, i) = (u.layer, u.unit);
        if l == 0 || l > layers || i >= widths[l] {
            continue;
        }
        marks[l].retain(|m| m.0 != i);
        let share = share.map_or(String::new(), |v| {
            format!(" (it carries {:.0}% of the singular vector)", 100.0 * v)
        });
        marks[l].push((
            i,
            e.name().to_string(),
            format!(
                "named by the {} event at s = {:.4}{share}: {}",
                e.name(),
                e.s,
                e.message
            ),
        ));
    }
    let shown: Vec<Vec<usize>> = (0..=layers)
        .map(|l| {
            let m: Vec<usize> = marks[l].iter().map(|m| m.0).collect();
            shown_units(widths[l], &m)
        })
        .collect();
    let mut bulk = vec![];
    let mut units = vec![];
    for l in 1..=layers {
        let (w_off, b_off) = net.layer_offsets(l);
        let m_prev = widths[l - 1];
        for &i in &shown[l] {
            let row = &theta[w_off + i * m_prev..w_off + (i + 1) * m_prev];
            bulk.extend(shown[l - 1].iter().map(|&j| row[j]));
            let (flat_fraction, max_abs_z) = if let Some(st) = state(l, i) {
                (st.flat_fraction, st.max_abs_z)
            } else {
                (
                    0.0,
                    fw.z[l - 1]
                        .row(i)
                        .iter()
                        .fold(0.0f64, |m, v| m.max(v.abs())),
                )
            };
            let mark = marks[l].iter().find(|m| m.0 == i);
            units.push(UnitInfo {
                layer: l,
                unit: i,
                bias: theta[b_off + i],
                in_norm: row.iter().map(|w| w * w).sum::<f64>().sqrt(),
                flat_fraction,
                max_abs_z,
                mark: mark.map(|m| m.1.clone()),
                mark_text: mark.map(|m| m.2.clone()),
            });
        }
    }
    let grid = match bounds {
        Some(_) if widths[0] == 2 => heat_side(units.len()),
        _ => 0,
    };
    if let (Some([x0, x1, y0, y1]), true) = (bounds, grid > 0) {
        let mut pts = Vec::with_capacity(2 * grid * grid);
        for iy in 0..grid {
            let y = y0 + (iy as f64 + 0.5) * (y1 - y0) / grid as f64;
            for ix in 0..grid {
                pts.push(x0 + (ix as f64 + 0.5) * (x1 - x0) / grid as f64);
                pts.push(y);
            }
        }
        let mut gw = Forward::default();
        net.forward_into(
            theta,
            &DMatrix::from_column_slice(2, grid * grid, &pts),
            &mut gw,
        );
        for u in &units {
            bulk.extend(gw.h[u.layer].row(u.unit).iter());
        }
    }
    (
        NetworkHeader {
            lane,
            widths,
            activation: act.name().into(),
            shown,
            units,
            grid,
            bounds: if grid > 0 { bounds } else { None },
        },
        bulk,
    )
}

impl NetworkHeader {
    /// Numbers its bulk holds: the drawn weights of every layer, then `grid²` per drawn unit.
    pub fn bulk_len(&self) -> usize {
        let weights: usize = self.shown.windows(2).map(|w| w[0].len() * w[1].len()).sum();
        weights + self.units.len() * self.grid * self.grid
    }

    /// Checks that the header is consistent (every drawn unit in range, one `UnitInfo` per drawn
    /// unit of layers `1..`), naming the field.
    ///
    /// Errors: [`crate::Error::Invalid`] naming `network.shown` or `network.units`.
    pub fn check(&self) -> crate::Result<()> {
        if self.shown.len() != self.widths.len() || self.widths.len() < 2 {
            return Err(crate::Error::invalid(
                "network.shown",
                format!(
                    "has {} layers but widths has {}",
                    self.shown.len(),
                    self.widths.len()
                ),
            ));
        }
        for (l, (s, &w)) in self.shown.iter().zip(&self.widths).enumerate() {
            if let Some(&u) = s.iter().find(|&&u| u >= w) {
                return Err(crate::Error::invalid(
                    format!("network.shown[{l}]"),
                    format!("unit {u} is beyond the layer's width {w}"),
                ));
            }
        }
        let want: usize = self.shown[1..].iter().map(Vec::len).sum();
        if self.units.len() != want {
            return Err(crate::Error::invalid(
                "network.units",
                format!("has {} entries for {want} drawn units", self.units.len()),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_layers_show_the_marked_units_first() {
        assert_eq!(shown_units(3, &[]), vec![0, 1, 2]);
        let s = shown_units(40, &[37, 20]);
        assert_eq!(s.len(), MAX_SHOWN_UNITS);
        assert!(s.contains(&37) && s.contains(&20) && s.contains(&0));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_heat_budget_bounds_the_grid() {
        assert_eq!(heat_side(4), NET_HEAT_MAX);
        // 16 384 / 100 = 163.8 values per unit: a 12 × 12 grid.
        assert_eq!(heat_side(100), 12);
        assert_eq!(heat_side(1000), 0);
    }
}
