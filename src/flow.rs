//! The vector fields of MATH.md: standard gradient flow, the adapted flow `−D⁺∇ₓC`, the homotopy
//! between them, and the paper's closed forms kept as independent checks.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::{self, JacobianSvd};
use crate::net::{Forward, Mlp};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Largest number of entries `QN · K` the dense Jacobian path accepts (8 bytes each: 400 MB).
pub const DENSE_LIMIT: usize = 50_000_000;

/// Which flow a session integrates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum FlowSpec {
    /// `∂ₛθ = −∇_θ C = −Dᵀ∇ₓC` (1.9), (1.22).
    Standard,
    /// `∂ₛθ = −D⁺∇ₓC`: Thm 2.1 (over), Thm 5.1 (under), Section 6 (borderline), (4.5) with rank loss.
    #[default]
    Adapted,
    /// `∂ₛθ = −((1−α)·1 + α Pen[D]Pen[D]ᵀ)∇_θ C = −(1−α)Dᵀ∇ₓC − α D⁺∇ₓC`, `α ∈ [0, 1]`.
    Homotopy {
        /// Blend `α`: 0 is the standard flow, 1 the adapted one.
        alpha: f64,
    },
}

impl FlowSpec {
    /// The blend `α` this flow corresponds to (standard 0, adapted 1).
    pub fn alpha(&self) -> f64 {
        match self {
            FlowSpec::Standard => 0.0,
            FlowSpec::Adapted => 1.0,
            FlowSpec::Homotopy { alpha } => *alpha,
        }
    }

    /// Short display name.
    pub fn label(&self) -> String {
        match self {
            FlowSpec::Standard => "standard".into(),
            FlowSpec::Adapted => "adapted".into(),
            FlowSpec::Homotopy { alpha } => format!("homotopy α={alpha}"),
        }
    }

    /// Whether the field needs the SVD of `D` (every flow with `α > 0`).
    pub fn needs_svd(&self) -> bool {
        self.alpha() > 0.0
    }

    /// Checks `α ∈ [0, 1]`, naming `flow.alpha`.
    pub fn validate(&self) -> Result<()> {
        if let FlowSpec::Homotopy { alpha } = self {
            if !alpha.is_finite() || !(0.0..=1.0).contains(alpha) {
                return Err(Error::invalid(
                    "flow.alpha",
                    format!("must be in [0, 1], got {alpha}"),
                ));
            }
        }
        Ok(())
    }
}

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
    /// Pairs a network with data, checking that `M` and `Q` agree and that `D` fits in memory.
    ///
    /// Errors: `net.widths[0]` / `net.widths[last]` mismatches; [`Error::TooLarge`] with the
    /// sizes when the dense Jacobian would exceed [`DENSE_LIMIT`] entries.
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
        let entries = qn.saturating_mul(net.k());
        if entries > DENSE_LIMIT {
            return Err(Error::TooLarge(format!(
                "the dense Jacobian D would be QN × K = {qn} × {} = {entries} entries ({:.1} GB); \
                 the dense path allows {DENSE_LIMIT} entries: use fewer points or a smaller network",
                net.k(),
                entries as f64 * 8e-9
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

/// Reusable buffers for one evaluation point: forward pass, `Dᵀ`, `∇ₓC`, and (on demand) the SVD.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    fw: Forward,
    dt: DMatrix<f64>,
    grad_x: Vec<f64>,
    cost: f64,
    svd: Option<JacobianSvd>,
}

impl Workspace {
    /// Evaluates outputs, cost, `∇ₓC = (x̲ − y̲)/N` (1.23) and `Dᵀ` at `θ`.
    ///
    /// Errors: [`Error::NonFinite`] when an output is not finite.
    pub fn evaluate(&mut self, model: &Model, theta: &[f64]) -> Result<()> {
        self.forward(model, theta)?;
        model.net.jacobian_t_into(theta, &self.fw, &mut self.dt);
        Ok(())
    }

    /// Like [`Self::evaluate`] without the Jacobian: outputs, cost and `∇ₓC` only.
    pub fn forward(&mut self, model: &Model, theta: &[f64]) -> Result<()> {
        self.svd = None;
        model
            .net
            .forward_into(theta, &model.data.inputs, &mut self.fw);
        let x = self.fw.outputs().as_slice();
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("network output {i} is {}", x[i])));
        }
        let n = model.n() as f64;
        self.grad_x.clear();
        self.grad_x
            .extend(x.iter().zip(&model.y).map(|(a, b)| (a - b) / n));
        self.cost = model.cost_of_outputs(x);
        if !self.cost.is_finite() {
            // Finite but huge outputs (a diverging gradient descent) overflow the squared sum.
            return Err(Error::NonFinite(format!(
                "the cost overflowed (largest |output| {:.3e})",
                x.iter().fold(0.0f64, |m, v| m.max(v.abs()))
            )));
        }
        Ok(())
    }

    /// The SVD of the current `D`, computed once per evaluation point with tolerance `rtol`.
    pub fn svd(&mut self, rtol: f64) -> Result<&JacobianSvd> {
        let stale = self.svd.as_ref().is_none_or(|s| s.rtol() != rtol);
        if stale {
            self.svd = Some(JacobianSvd::new(&self.dt, rtol)?);
        }
        Ok(self.svd.as_ref().expect("just computed"))
    }

    /// Cost at the current point.
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// `∇ₓC` at the current point.
    pub fn grad_x(&self) -> &[f64] {
        &self.grad_x
    }

    /// Stacked outputs `x̲` at the current point.
    pub fn outputs(&self) -> &[f64] {
        self.fw.outputs().as_slice()
    }

    /// The cached forward pass.
    pub fn forward_pass(&self) -> &Forward {
        &self.fw
    }

    /// `Dᵀ ∈ R^{K×QN}` at the current point.
    pub fn dt(&self) -> &DMatrix<f64> {
        &self.dt
    }

    /// `∇_θ C = Dᵀ∇ₓC` (1.21).
    pub fn grad_theta(&self) -> Vec<f64> {
        let g = DVector::from_column_slice(&self.grad_x);
        (&self.dt * g).as_slice().to_vec()
    }

    /// `D v ∈ R^{QN}` for `v ∈ R^K` (the output-layer velocity of `∂ₛθ = v`).
    pub fn apply_d(&self, v: &[f64]) -> Vec<f64> {
        let v = DVector::from_column_slice(v);
        self.dt.tr_mul(&v).as_slice().to_vec()
    }

    /// `‖D‖_F²`, an upper bound of `σ_max(D)²` that costs no decomposition.
    pub fn frobenius_sq(&self) -> f64 {
        self.dt.iter().map(|v| v * v).sum()
    }
}

/// What one evaluation of a vector field saw (used for events and readouts).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FieldStats {
    /// Cost at the evaluation point.
    pub cost: f64,
    /// `|∇ₓC|`.
    pub grad_x_norm: f64,
    /// `|∂ₛx̲| = |D ∂ₛθ|`, the output-layer speed.
    pub output_speed: f64,
    /// Dimensionless stationarity `μ = |∂ₛx̲| / (((1−α)‖D‖_F² + α)|∇ₓC|) ∈ [0, 1]`; 0 at an
    /// equilibrium of the flow (and at a global minimum, where `∇ₓC = 0`).
    pub stationarity: f64,
    /// Rank of `D` the field used, when the flow computed an SVD (see [`RankLock`]).
    pub rank: Option<usize>,
    /// Numerical rank of `D` (`σ_i > rank_rtol·σ_max`), when the flow computed an SVD.
    pub numerical_rank: Option<usize>,
}

/// Rank decisions with hysteresis for the adapted field along an orbit.
///
/// With a plain threshold, an orbit that reaches `σ_min(D) = rank_rtol·σ_max` (the edge of the
/// full-rank region, where the adapted field `−D⁺∇ₓC` blows up like `1/σ_min`) chatters: trial
/// stages on one side include the tiny singular value, on the other side drop it, and the
/// integrator's step collapses. Once the rank has dropped at an accepted step, the lock keeps the
/// lower rank — the DAE form (4.5) on the lower-rank range, which is smooth there — until the
/// singular value has recovered to [`RankLock::RECOVER`] times the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RankLock {
    cap: Option<usize>,
}

impl RankLock {
    /// Factor over `rank_rtol·σ_max` a dropped singular value must regain to count again.
    pub const RECOVER: f64 = 1e3;

    /// The current cap on the rank (None: no rank loss seen).
    pub fn cap(&self) -> Option<usize> {
        self.cap
    }

    /// Updates the lock from the singular values at an accepted point.
    pub fn update(&mut self, sigma: &[f64], rtol: f64) {
        let full = sigma.len();
        let max = sigma.first().copied().unwrap_or(0.0);
        let numerical = linalg::numerical_rank(sigma, rtol);
        self.cap = match self.cap {
            None if numerical < full => Some(numerical),
            None => None,
            Some(c) if numerical < c => Some(numerical),
            Some(c) => {
                let recovered = sigma
                    .iter()
                    .filter(|&&s| s > Self::RECOVER * rtol * max)
                    .count();
                if recovered >= full {
                    None
                } else {
                    Some(c.max(recovered))
                }
            }
        };
    }

    /// Forgets the history (after a jump of `θ`).
    pub fn reset(&mut self) {
        self.cap = None;
    }
}

/// Evaluates the vector field of `spec` at the workspace's current point (after
/// [`Workspace::evaluate`]) into `out`, returning what it saw.
///
/// Errors: [`Error::NonFinite`] when the SVD fails or the field is not finite.
pub fn eval_field(
    spec: &FlowSpec,
    ws: &mut Workspace,
    rank_rtol: f64,
    out: &mut [f64],
) -> Result<FieldStats> {
    eval_field_capped(spec, ws, rank_rtol, None, out)
}

/// Like [`eval_field`], with the rank of the `D⁺` solve capped at `rank_cap` (see [`RankLock`]).
///
/// Errors: as [`eval_field`].
pub fn eval_field_capped(
    spec: &FlowSpec,
    ws: &mut Workspace,
    rank_rtol: f64,
    rank_cap: Option<usize>,
    out: &mut [f64],
) -> Result<FieldStats> {
    let alpha = spec.alpha();
    out.fill(0.0);
    let mut rank = None;
    let mut numerical_rank = None;
    if alpha < 1.0 {
        let g = ws.grad_theta();
        for (o, gi) in out.iter_mut().zip(&g) {
            *o -= (1.0 - alpha) * gi;
        }
    }
    if alpha > 0.0 {
        let grad_x = ws.grad_x.clone();
        let svd = ws.svd(rank_rtol)?;
        let r = rank_cap.map_or(svd.rank(), |c| c.min(svd.rank()));
        rank = Some(r);
        numerical_rank = Some(svd.rank());
        let v = svd.pinv_apply_rank(&grad_x, r);
        for (o, vi) in out.iter_mut().zip(&v) {
            *o -= alpha * vi;
        }
    }
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!(
            "vector field entry {i} is {}",
            out[i]
        )));
    }
    let speed = linalg::norm(&ws.apply_d(out));
    let gnorm = linalg::norm(&ws.grad_x);
    let scale = (1.0 - alpha) * ws.frobenius_sq() + alpha;
    let stationarity = if gnorm == 0.0 || scale == 0.0 {
        0.0
    } else {
        speed / (scale * gnorm)
    };
    Ok(FieldStats {
        cost: ws.cost,
        grad_x_norm: gnorm,
        output_speed: speed,
        stationarity,
        rank,
        numerical_rank,
    })
}

/// The closed forms of the paper, written independently of the SVD path so that tests can
/// check that the single `D⁺` solve agrees with each of them where it applies.
pub mod closed_form {
    use super::*;

    /// Thm 2.1 / (1.30): `Pen[D] Pen[D]ᵀ ∇_θC` with `Pen[D] = Dᵀ(DDᵀ)⁻¹`, by Cholesky of `DDᵀ`.
    ///
    /// The adapted field is the negative of this. Errors: [`Error::Singular`] if `DDᵀ` is not
    /// positive definite (rank loss, or `K < QN`).
    pub fn overparametrized(d: &DMatrix<f64>, grad_theta: &[f64]) -> Result<Vec<f64>> {
        let ntk = d * d.transpose();
        let g = DVector::from_column_slice(grad_theta);
        // Pen[D]ᵀ ∇θC = (DDᵀ)⁻¹ D ∇θC, then Pen[D] a = Dᵀ (DDᵀ)⁻¹ a.
        let a = linalg::cholesky_solve(ntk.clone(), &(d * &g), "the NTK DDᵀ")?;
        let b = linalg::cholesky_solve(ntk, &a, "the NTK DDᵀ")?;
        Ok((d.transpose() * b).as_slice().to_vec())
    }

    /// Thm 5.1 / (1.34): `(DᵀD)⁻¹∇_θC` by Cholesky of `DᵀD`.
    ///
    /// Errors: [`Error::Singular`] if `DᵀD` is not positive definite (`K > QN` or rank loss).
    pub fn underparametrized(d: &DMatrix<f64>, grad_theta: &[f64]) -> Result<Vec<f64>> {
        let gram = d.transpose() * d;
        let g = DVector::from_column_slice(grad_theta);
        Ok(linalg::cholesky_solve(gram, &g, "DᵀD")?.as_slice().to_vec())
    }

    /// Section 6 / (6.1): `D⁻¹D⁻ᵀ∇_θC` for square `D`, by two LU solves.
    ///
    /// Errors: [`Error::Invalid`] if `D` is not square, [`Error::Singular`] if it is singular.
    pub fn borderline(d: &DMatrix<f64>, grad_theta: &[f64]) -> Result<Vec<f64>> {
        if !d.is_square() {
            return Err(Error::invalid(
                "D",
                format!("must be square for the borderline form, is {:?}", d.shape()),
            ));
        }
        let g = DVector::from_column_slice(grad_theta);
        let singular = || Error::Singular("D is singular (LU solve failed)".into());
        let w = d.transpose().lu().solve(&g).ok_or_else(singular)?;
        let v = d.clone().lu().solve(&w).ok_or_else(singular)?;
        Ok(v.as_slice().to_vec())
    }
}

crate::tagged::kind_tagged!(FlowSpec);
