//! Which unit of the network a parameter belongs to, which unit dominates a direction in `θ`
//! (a vanishing singular vector of `D`), and which hidden units are saturated or dead.
//!
//! A hidden unit `i` of layer `l` owns its incoming weights (row `i` of `W_l`) and its bias
//! `b_l[i]`: when the unit saturates (tanh, sigmoid) or dies (ReLU, softplus far below zero),
//! `σ'(z) → 0` on every sample and exactly those columns of `D` vanish. Output units own their
//! row of `W_{L+1}` and their bias likewise.

use crate::math::net::{Activation, Forward, Mlp};
use serde::{Deserialize, Serialize};

/// A unit of the network: layer `l = 1..=L+1` (`L+1` is the output layer) and index `i` in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRef {
    /// Layer `l`, 1-based; `L + 1` is the output layer.
    pub layer: usize,
    /// Unit index in the layer, 0-based.
    pub unit: usize,
}

impl UnitRef {
    /// "unit 2 of hidden layer 1" / "output 1" (1-based in the text, as the page shows them).
    pub fn describe(&self, net: &Mlp) -> String {
        if self.layer > net.hidden_layers() {
            format!("output unit {}", self.unit + 1)
        } else {
            format!("unit {} of hidden layer {}", self.unit + 1, self.layer)
        }
    }
}

/// The unit that owns parameter `index` of `θ` (a weight of row `i` of `W_l`, or `b_l[i]`).
///
/// Panics if `index ≥ K` (callers index into a vector of length `K`).
pub fn owner(net: &Mlp, index: usize) -> UnitRef {
    assert!(
        index < net.k(),
        "parameter {index} is beyond K = {}",
        net.k()
    );
    let widths = net.widths();
    for l in 1..widths.len() {
        let (w, b) = net.layer_offsets(l);
        let end = b + widths[l];
        if index < end {
            let unit = if index < b {
                (index - w) / widths[l - 1]
            } else {
                index - b
            };
            return UnitRef { layer: l, unit };
        }
    }
    unreachable!("index < K lies in some layer")
}

/// The unit carrying the largest share of `|v|²` for `v ∈ R^K`, and that share in `[0, 1]`.
///
/// Returns `None` for a zero vector or a length other than `K`.
pub fn dominant(net: &Mlp, v: &[f64]) -> Option<(UnitRef, f64)> {
    if v.len() != net.k() {
        return None;
    }
    let total: f64 = v.iter().map(|x| x * x).sum();
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let widths = net.widths();
    let mut best: Option<(UnitRef, f64)> = None;
    for l in 1..widths.len() {
        let (w, b) = net.layer_offsets(l);
        for i in 0..widths[l] {
            let row = &v[w + i * widths[l - 1]..w + (i + 1) * widths[l - 1]];
            let mass: f64 = row.iter().map(|x| x * x).sum::<f64>() + v[b + i] * v[b + i];
            if best.is_none_or(|(_, m)| mass > m) {
                best = Some((UnitRef { layer: l, unit: i }, mass));
            }
        }
    }
    best.map(|(u, m)| (u, m / total))
}

/// `σ'(z)` below this on a sample counts as saturated (tanh, sigmoid) or off (softplus).
pub const FLAT_SLOPE: f64 = 1e-6;

/// What a hidden unit does over the training inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitState {
    /// The unit.
    pub unit: UnitRef,
    /// Fraction of samples where `σ'(z) < FLAT_SLOPE` (ReLU: `z ≤ 0`): the unit passes no
    /// gradient there.
    pub flat_fraction: f64,
    /// `σ'(z)` small on every sample: a dead ReLU / softplus unit, or a saturated tanh / sigmoid
    /// unit. Its incoming weights' columns of `D` vanish, so `D` loses rank.
    pub flat_everywhere: bool,
    /// `max_j |z_j|`, the largest pre-activation magnitude over the samples.
    pub max_abs_z: f64,
}

/// The state of every hidden unit at the forward pass `fw` (see [`UnitState`]).
pub fn hidden_states(net: &Mlp, fw: &Forward) -> Vec<UnitState> {
    let act = net.activation();
    let mut out = Vec::new();
    for l in 1..=net.hidden_layers() {
        let z = &fw.z[l - 1];
        for i in 0..z.nrows() {
            let row = z.row(i);
            let n = row.len().max(1);
            let flat = row
                .iter()
                .filter(|&&zj| match act {
                    Activation::Relu => zj <= 0.0,
                    Activation::Identity | Activation::LeakyRelu => false,
                    _ => act.df(zj).abs() < FLAT_SLOPE,
                })
                .count();
            out.push(UnitState {
                unit: UnitRef { layer: l, unit: i },
                flat_fraction: flat as f64 / n as f64,
                flat_everywhere: flat == row.len() && !row.is_empty(),
                max_abs_z: row.iter().fold(0.0f64, |m, v| m.max(v.abs())),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_walks_the_layout() {
        // 2-3-1: W1 (3×2) at 0..6, b1 at 6..9, W2 (1×3) at 9..12, b2 at 12.
        let net = Mlp::new(&[2, 3, 1], Activation::Tanh).unwrap();
        let expect = [
            (1, 0),
            (1, 0),
            (1, 1),
            (1, 1),
            (1, 2),
            (1, 2),
            (1, 0),
            (1, 1),
            (1, 2),
            (2, 0),
            (2, 0),
            (2, 0),
            (2, 0),
        ];
        for (idx, (l, i)) in expect.iter().enumerate() {
            assert_eq!(
                owner(&net, idx),
                UnitRef {
                    layer: *l,
                    unit: *i
                },
                "index {idx}"
            );
        }
        let mut v = vec![0.0; 13];
        v[4] = 3.0;
        v[8] = 4.0;
        v[0] = 1.0;
        let (u, share) = dominant(&net, &v).unwrap();
        assert_eq!(u, UnitRef { layer: 1, unit: 2 });
        assert!((share - 25.0 / 26.0).abs() < 1e-15);
    }
}
