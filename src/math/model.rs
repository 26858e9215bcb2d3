//! A network paired with its data and stacked targets: sizes, the regime (`K` against `QN`), the
//! cost — the paper's mean cost (1.7) or the slides' weighted cost (docs/math/weighted-cost.md) —
//! its gradient `∇ₓC`, and the memory limit every path that forms `D` or the NTK checks against.
//!
//! Both costs are `C = ½ Σ_i w_i |x_i − y_ω(i)|²` with a positive weight per sample, `w_i = 1/N`
//! (mean) or `w_i = 2/N_ω(i)` (weighted), so `∇ₓC = Ω(x̲ − y̲)` with `Ω = diag(w_i·1_Q)`. Every path
//! that needs the cost or `∇ₓC` (the workspace's forward pass, the fast paths, the SVD path, the
//! Hessian, the diagnostics, the constructions' checks) takes them from here.

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

/// Which cost the flows minimize (the scenario's `cost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostSpec {
    /// The paper's `C = |x̲ − y̲|²/(2N)` (1.7).
    #[default]
    Mean,
    /// The slides' `C_w = Σ_j (1/N_j) Σ_{ω(i)=j} |x_i − y_j|²` (slide 4), every class weighed
    /// equally whatever its size.
    Weighted,
}

impl CostSpec {
    /// `mean` or `weighted`.
    pub fn name(self) -> &'static str {
        match self {
            CostSpec::Mean => "mean",
            CostSpec::Weighted => "weighted",
        }
    }

    /// Whether this is the default (mean) cost: scenarios leave it out then.
    pub fn is_mean(&self) -> bool {
        *self == CostSpec::Mean
    }

    /// The cost named `mean` or `weighted`; `None` for any other name.
    pub fn from_name(name: &str) -> Option<CostSpec> {
        match name {
            "mean" => Some(CostSpec::Mean),
            "weighted" => Some(CostSpec::Weighted),
            _ => None,
        }
    }
}

crate::tagged::kind_tagged!(CostSpec);

/// A network together with its training data, stacked targets `y̲_ω` and cost.
#[derive(Debug, Clone)]
pub struct Model {
    /// The network.
    pub net: Mlp,
    /// The data.
    pub data: Dataset,
    /// `y̲_ω ∈ R^{QN}`, sample-major.
    pub y: Vec<f64>,
    cost: CostSpec,
    /// `w_i = ∂²C/∂x_{i,q}²`, one per sample.
    weights: Vec<f64>,
}

/// The per-sample weights `w_i` of `cost` on `data`: `1/N`, or `2/N_ω(i)`.
fn weights_of(cost: CostSpec, data: &Dataset) -> Vec<f64> {
    let n = data.n();
    match cost {
        CostSpec::Mean => vec![1.0 / n as f64; n],
        CostSpec::Weighted => {
            let counts = data.class_counts();
            data.labels
                .iter()
                .map(|&l| 2.0 / counts[l] as f64)
                .collect()
        }
    }
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
        let weights = weights_of(CostSpec::Mean, &data);
        Ok(Model {
            net,
            data,
            y,
            cost: CostSpec::Mean,
            weights,
        })
    }

    /// The same model with the cost `cost`.
    pub fn with_cost(mut self, cost: CostSpec) -> Self {
        self.weights = weights_of(cost, &self.data);
        self.cost = cost;
        self
    }

    /// The cost this model minimizes.
    pub fn cost_spec(&self) -> CostSpec {
        self.cost
    }

    /// `w_i`, the weight of sample `i` in `C = ½ Σ_i w_i |x_i − y_ω(i)|²` (`1/N` or `2/N_ω(i)`).
    pub fn weights(&self) -> &[f64] {
        &self.weights
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

    /// The cost of given stacked outputs: `|x̲ − y̲|²/(2N)` (1.7) or `Σ_j (1/N_j) Σ_{ω(i)=j}
    /// |x_i − y_j|²`.
    pub fn cost_of_outputs(&self, x: &[f64]) -> f64 {
        match self.cost {
            CostSpec::Mean => {
                let s: f64 = x.iter().zip(&self.y).map(|(a, b)| (a - b) * (a - b)).sum();
                s / (2.0 * self.n() as f64)
            }
            CostSpec::Weighted => {
                let q = self.q();
                self.weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let e: f64 = x[i * q..(i + 1) * q]
                            .iter()
                            .zip(&self.y[i * q..(i + 1) * q])
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum();
                        0.5 * w * e
                    })
                    .sum()
            }
        }
    }

    /// Writes `∇ₓC = Ω(x̲ − y̲)` of stacked outputs `x` into `out` (resized to `QN`): `(x̲ − y̲)/N`
    /// (1.23) for the mean cost, `(2/N_ω(i))(x_i − y_ω(i))` for the weighted one.
    pub fn grad_x_into(&self, x: &[f64], out: &mut Vec<f64>) {
        out.clear();
        match self.cost {
            CostSpec::Mean => {
                let n = self.n() as f64;
                out.extend(x.iter().zip(&self.y).map(|(a, b)| (a - b) / n));
            }
            CostSpec::Weighted => {
                let q = self.q();
                out.extend(
                    x.iter()
                        .zip(&self.y)
                        .enumerate()
                        .map(|(k, (a, b))| (a - b) * self.weights[k / q]),
                );
            }
        }
    }

    /// `½ gᵀΩ⁻¹g` for an output-space vector `g`: the cost whose gradient is `g`. With
    /// `g = 𝒫^⊥∇ₓC` this is `(N/2)|𝒫^⊥∇ₓC|²` for the mean cost, the cost the adapted flow
    /// cannot remove (Thm 5.1 (5.7)), and `Σ_i (N_ω(i)/4)|(𝒫^⊥∇ₓC)_i|²` for the weighted one.
    pub fn cost_of_gradient(&self, g: &[f64]) -> f64 {
        match self.cost {
            CostSpec::Mean => 0.5 * self.n() as f64 * g.iter().map(|v| v * v).sum::<f64>(),
            CostSpec::Weighted => {
                let q = self.q();
                g.iter()
                    .enumerate()
                    .map(|(k, v)| 0.5 * v * v / self.weights[k / q])
                    .sum()
            }
        }
    }

    /// The split of slide 14, `C = V + B` (exact up to rounding): `V`, the within-class variance
    /// `½ Σ_i w_i |x_i − x̄_ω(i)|²`, and `B`, the class-mean mismatch `½ Σ_j N_j w_j |x̄_j − y_j|²`
    /// (`x̄_j` the mean output of class `j`). Classes without samples contribute nothing.
    pub fn cost_split(&self, x: &[f64]) -> (f64, f64) {
        let (q, classes) = (self.q(), self.data.classes());
        let mut mean = vec![0.0; classes * q];
        let mut count = vec![0usize; classes];
        for (i, &c) in self.data.labels.iter().enumerate() {
            count[c] += 1;
            for (m, v) in mean[c * q..(c + 1) * q]
                .iter_mut()
                .zip(&x[i * q..(i + 1) * q])
            {
                *m += v;
            }
        }
        for (c, &k) in count.iter().enumerate() {
            if k > 0 {
                mean[c * q..(c + 1) * q]
                    .iter_mut()
                    .for_each(|v| *v /= k as f64);
            }
        }
        let mut variance = 0.0;
        let mut class_weight = vec![0.0; classes];
        for (i, &c) in self.data.labels.iter().enumerate() {
            let d: f64 = x[i * q..(i + 1) * q]
                .iter()
                .zip(&mean[c * q..(c + 1) * q])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            variance += 0.5 * self.weights[i] * d;
            class_weight[c] += 0.5 * self.weights[i];
        }
        let mismatch = (0..classes)
            .filter(|&c| count[c] > 0)
            .map(|c| {
                let d: f64 = mean[c * q..(c + 1) * q]
                    .iter()
                    .zip(&self.data.targets[c])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                class_weight[c] * d
            })
            .sum();
        (variance, mismatch)
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
