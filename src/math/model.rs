//! A network paired with its data and stacked targets: sizes, the regime (`K` against `QN`), the
//! cost (1.7), and the memory limit every path that forms `D` or the NTK checks against.

use crate::error::{Error, Result};
use crate::math::data::Dataset;
use crate::math::net::Mlp;
use serde::{Deserialize, Serialize};

/// Largest number of entries `QN · K` the dense Jacobian path accepts (8 bytes each: 400 MB);
/// the same limit applies to the `QN × QN` NTK of the structured path.
pub const DENSE_LIMIT: usize = 50_000_000;

/// Over-, under- or borderline parametrized: `K` against `QN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// `K > QN`.
    Over,
    /// `K < QN`.
    Under,
    /// `K = QN`.
    Borderline,
}

impl Regime {
    /// The regime of `K` parameters against `QN` outputs.
    pub fn of(k: usize, qn: usize) -> Regime {
        match k.cmp(&qn) {
            std::cmp::Ordering::Greater => Regime::Over,
            std::cmp::Ordering::Less => Regime::Under,
            std::cmp::Ordering::Equal => Regime::Borderline,
        }
    }

    /// `over`, `under` or `borderline`.
    pub fn name(self) -> &'static str {
        match self {
            Regime::Over => "over",
            Regime::Under => "under",
            Regime::Borderline => "borderline",
        }
    }
}

/// A network together with its training data and stacked targets `y̲_ω`.
#[derive(Debug, Clone)]
pub struct Model {
    /// The network.
    pub net: Mlp,
    /// The data.
    pub data: Dataset,
    /// `y̲_ω ∈ R^{QN}`, sample-major.
    pub y: Vec<f64>,
}

impl Model {
    /// Pairs a network with data, checking that `M` and `Q` agree and that `D` or the NTK fits in
    /// memory.
    ///
    /// Errors: `net.widths[0]` / `net.widths[last]` mismatches; [`Error::TooLarge`] with the
    /// sizes when neither the dense Jacobian (`QN·K`) nor, for `K ≥ QN`, the NTK (`(QN)²`) fits
    /// in [`DENSE_LIMIT`] entries. (Paths that need `D` check again and name the sizes.)
    pub fn new(net: Mlp, data: Dataset) -> Result<Self> {
        if net.input_dim() != data.m() {
            return Err(Error::invalid(
                "net.widths[0]",
                format!(
                    "is {} but the data have M = {} input coordinates",
                    net.input_dim(),
                    data.m()
                ),
            ));
        }
        if net.output_dim() != data.q() {
            let last = net.widths().len() - 1;
            return Err(Error::invalid(
                format!("net.widths[{last}]"),
                format!(
                    "is {} but the targets have Q = {} coordinates",
                    net.output_dim(),
                    data.q()
                ),
            ));
        }
        let qn = data.q() * data.n();
        let k = net.k();
        let entries = qn.saturating_mul(k);
        // The structured path needs the QN × QN NTK instead of D (overparametrized only).
        let ntk_fits = k >= qn && qn.saturating_mul(qn) <= DENSE_LIMIT;
        if entries > DENSE_LIMIT && !ntk_fits {
            return Err(Error::TooLarge(format!(
                "the dense Jacobian D would be QN × K = {qn} × {k} = {entries} entries ({:.1} GB) \
                 and the NTK QN × QN = {} entries; each path allows {DENSE_LIMIT} entries: use \
                 fewer points or a smaller network",
                entries as f64 * 8e-9,
                qn.saturating_mul(qn)
            )));
        }
        let y = data.stacked_targets();
        Ok(Model { net, data, y })
    }

    /// Number of samples `N`.
    pub fn n(&self) -> usize {
        self.data.n()
    }

    /// Output dimension `Q`.
    pub fn q(&self) -> usize {
        self.net.output_dim()
    }

    /// `QN`.
    pub fn qn(&self) -> usize {
        self.q() * self.n()
    }

    /// Parameter count `K`.
    pub fn k(&self) -> usize {
        self.net.k()
    }

    /// The regime from `K` and `QN`.
    pub fn regime(&self) -> Regime {
        Regime::of(self.k(), self.qn())
    }

    /// Cost `C = |x̲ − y̲|²/(2N)` (1.7) of given stacked outputs.
    pub fn cost_of_outputs(&self, x: &[f64]) -> f64 {
        let s: f64 = x.iter().zip(&self.y).map(|(a, b)| (a - b) * (a - b)).sum();
        s / (2.0 * self.n() as f64)
    }

    /// Cost at `θ` (allocates a forward pass).
    pub fn cost(&self, theta: &[f64]) -> f64 {
        let out = self.net.forward(theta, &self.data.inputs);
        self.cost_of_outputs(out.as_slice())
    }

    /// Stacked outputs `x̲[θ]` (allocates).
    pub fn outputs(&self, theta: &[f64]) -> Vec<f64> {
        self.net
            .forward(theta, &self.data.inputs)
            .as_slice()
            .to_vec()
    }
}
