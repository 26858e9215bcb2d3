//! The vector fields of MATH.md: standard gradient flow, the adapted flow `−D⁺∇ₓC`, the homotopy
//! between them, and the paper's closed forms kept as independent checks.

use crate::error::{Error, Result};
use crate::linalg::svd::JacobianSvd;
use crate::linalg::wide::WideSvd;
use crate::math::fast::{FastSolver, SolveInfo, SolvePath, Solver};
use crate::math::gram::GramSolver;
use crate::math::model::{Model, DENSE_LIMIT};
use crate::math::net::{Forward, Mlp, Pattern};
use crate::math::ntk::Derivs;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

mod paths;
use paths::{eval_fast, eval_reference};

/// Iteration cap of the matrix-free (conjugate-gradient) solve.
pub const CG_MAX_ITER: u32 = 2000;

/// [`Error::TooLarge`] for a dense Jacobian of `qn × k`, if it exceeds [`DENSE_LIMIT`].
fn check_dense(qn: usize, k: usize, what: &str) -> Result<()> {
    let entries = qn.saturating_mul(k);
    if entries > DENSE_LIMIT {
        return Err(Error::TooLarge(format!(
            "the dense Jacobian D would be QN × K = {qn} × {k} = {entries} entries ({:.1} GB): \
             {what} need it, and the dense path allows {DENSE_LIMIT} entries; use fewer points or \
             a smaller network",
            entries as f64 * 8e-9
        )));
    }
    Ok(())
}

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

/// Reusable buffers for one evaluation point: forward pass, `∇ₓC`, and on demand `Dᵀ`, its SVD
/// and the buffers of the fast paths.
///
/// The dense `Dᵀ` is formed only by [`Workspace::evaluate`] or when a field evaluation needs it
/// (the SVD path and its fallbacks, the underparametrized solve); [`Workspace::forward`] and the
/// structured paths never form it.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    fw: Forward,
    dt: DMatrix<f64>,
    dt_valid: bool,
    net: Option<Mlp>,
    theta: Vec<f64>,
    grad_x: Vec<f64>,
    cost: f64,
    svd: Option<JacobianSvd>,
    wide: Option<WideSvd>,
    wide_valid: bool,
    solver: Solver,
    fast: FastSolver,
    fast_ready: bool,
    gram: GramSolver,
    gram_valid: bool,
    info: SolveInfo,
    scratch: Vec<f64>,
    pattern: Option<Pattern>,
}

/// What the matrix-free products read at the current point: network, prepared derivatives, `θ`,
/// forward pass and `∇ₓC`.
type AtPoint<'a> = (&'a Mlp, &'a mut Derivs, &'a [f64], &'a Forward, &'a [f64]);

impl Workspace {
    /// A workspace whose field evaluations use `solver`.
    pub fn with_solver(solver: Solver) -> Self {
        Workspace {
            solver,
            ..Workspace::default()
        }
    }

    /// Freezes the activation pattern of later evaluations (ReLU, leaky ReLU; see
    /// [`Mlp::forward_frozen_into`]); `None` evaluates the network as it is.
    pub fn set_pattern(&mut self, pattern: Option<Pattern>) {
        self.pattern = pattern;
    }

    /// The frozen activation pattern, if any.
    pub fn pattern(&self) -> Option<&Pattern> {
        self.pattern.as_ref()
    }

    /// The solver of field evaluations.
    pub fn solver(&self) -> Solver {
        self.solver
    }

    /// Chooses the solver of later field evaluations.
    pub fn set_solver(&mut self, solver: Solver) {
        self.solver = solver;
    }

    /// What the last field evaluation did (path, fallback, `κ̂`, residual, work).
    pub fn solve_info(&self) -> SolveInfo {
        self.info
    }

    /// Evaluates outputs, the model's cost, `∇ₓC` ((1.23) for the mean cost) and `Dᵀ` at `θ`.
    ///
    /// Errors: [`Error::NonFinite`] when an output is not finite; [`Error::TooLarge`] when `D`
    /// exceeds [`DENSE_LIMIT`] entries.
    pub fn evaluate(&mut self, model: &Model, theta: &[f64]) -> Result<()> {
        self.forward(model, theta)?;
        self.ensure_jacobian()
    }

    /// Like [`Self::evaluate`] without the Jacobian: outputs, cost and `∇ₓC` only.
    pub fn forward(&mut self, model: &Model, theta: &[f64]) -> Result<()> {
        self.svd = None;
        self.wide_valid = false;
        self.dt_valid = false;
        self.fast_ready = false;
        self.gram_valid = false;
        self.theta.clear();
        self.theta.extend_from_slice(theta);
        if self.net.as_ref() != Some(&model.net) {
            self.net = Some(model.net.clone());
        }
        model.net.forward_frozen_into(
            theta,
            &model.data.inputs,
            self.pattern.as_ref(),
            &mut self.fw,
        );
        let x = self.fw.outputs().as_slice();
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("network output {i} is {}", x[i])));
        }
        model.grad_x_into(x, &mut self.grad_x);
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

    /// Forms `Dᵀ` at the current point if it is not there yet.
    ///
    /// Errors: [`Error::TooLarge`] naming the sizes when `QN·K` exceeds [`DENSE_LIMIT`].
    pub fn ensure_jacobian(&mut self) -> Result<()> {
        if !self.dt_valid {
            let net = self.net.as_ref().ok_or_else(|| {
                Error::State("no evaluation point yet (call forward or evaluate)".into())
            })?;
            check_dense(
                self.grad_x.len(),
                net.k(),
                "the SVD diagnostics (samples: rank, σ, 𝒫∇ₓC), rank-revealing solves and the \
                 critical-point analysis",
            )?;
            net.jacobian_t_into(&self.theta, &self.fw, &mut self.dt);
            self.dt_valid = true;
        }
        Ok(())
    }

    /// Whether `Dᵀ` has been formed at the current point.
    pub fn has_jacobian(&self) -> bool {
        self.dt_valid
    }

    /// The SVD of the current `D`, computed once per evaluation point with tolerance `rtol`.
    ///
    /// Errors: [`Error::State`] when `D` has not been formed at this point (see
    /// [`Self::evaluate`]); a failed SVD.
    pub fn svd(&mut self, rtol: f64) -> Result<&JacobianSvd> {
        if !self.dt_valid {
            return Err(Error::State(
                "the Jacobian D has not been formed at this point (call evaluate)".into(),
            ));
        }
        let stale = self.svd.as_ref().is_none_or(|s| s.rtol() != rtol);
        if stale {
            self.svd = Some(JacobianSvd::new(&self.dt, rtol)?);
        }
        Ok(self.svd.as_ref().expect("just computed"))
    }

    /// The SVD of `D` at the current point if a field evaluation (or [`Self::svd`]) computed
    /// one; `None` after a fast path.
    pub fn computed_svd(&self) -> Option<&JacobianSvd> {
        self.svd.as_ref()
    }

    /// The factored SVD of a wide `D` if a field evaluation at the current point solved with it
    /// (a fast path's fallback where `K ≥ 2QN`, see [`eval_field_capped`]).
    pub fn wide_svd(&self) -> Option<&WideSvd> {
        self.wide.as_ref().filter(|_| self.wide_valid)
    }

    /// The singular values of `D` (descending) and the coordinates `u_iᵀ∇ₓC` if a field
    /// evaluation at the current point took the Gram route ([`crate::math::gram`]).
    pub fn gram_spectrum(&self) -> Option<(&[f64], &[f64])> {
        self.gram_valid
            .then(|| (&self.gram.sigma[..], &self.gram.ug[..]))
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

    /// `Dᵀ ∈ R^{K×QN}` at the current point (after [`Self::evaluate`] or
    /// [`Self::ensure_jacobian`]; see [`Self::has_jacobian`]).
    pub fn dt(&self) -> &DMatrix<f64> {
        &self.dt
    }

    /// `∇_θ C = Dᵀ∇ₓC` (1.21) from the dense `Dᵀ` (after [`Self::evaluate`]).
    pub fn grad_theta(&self) -> Vec<f64> {
        let g = DVector::from_column_slice(&self.grad_x);
        (&self.dt * g).as_slice().to_vec()
    }

    /// `∇_θ C = Dᵀ∇ₓC` by one backprop (after [`Self::forward`]), without forming `D`.
    ///
    /// Errors: [`Error::State`] before the first forward pass.
    pub fn grad_theta_backprop(&mut self) -> Result<Vec<f64>> {
        let (net, derivs, theta, fw, grad_x) = self.matrix_free()?;
        let mut out = vec![0.0; net.k()];
        derivs.vjp(net, theta, fw, grad_x, &mut out);
        Ok(out)
    }

    /// The lower triangle of the NTK `DDᵀ` (`QN × QN`, column-major; the strict upper triangle
    /// unspecified) at the current point into `out`, by the structured assembly (see
    /// [`crate::math::ntk`]), without forming `D`.
    ///
    /// Errors: [`Error::State`] before the first forward pass.
    pub fn ntk_lower_into(&mut self, out: &mut Vec<f64>) -> Result<()> {
        let (net, derivs, theta, fw, _) = self.matrix_free()?;
        derivs.ntk_lower(net, theta, fw, out);
        Ok(())
    }

    /// The derivatives' buffers prepared at the current point (once per point), with what their
    /// products read: network, `θ`, forward pass and `∇ₓC`.
    ///
    /// Errors: [`Error::State`] before the first forward pass.
    fn matrix_free(&mut self) -> Result<AtPoint<'_>> {
        let net = self
            .net
            .as_ref()
            .ok_or_else(|| Error::State("no evaluation point yet (call forward)".into()))?;
        if !self.fast_ready {
            self.fast.prepare(net, &self.fw);
            self.fast_ready = true;
        }
        Ok((
            net,
            &mut self.fast.derivs,
            &self.theta,
            &self.fw,
            &self.grad_x,
        ))
    }

    /// `D v ∈ R^{QN}` for `v ∈ R^K` (the output-layer velocity of `∂ₛθ = v`), from the dense `Dᵀ`.
    pub fn apply_d(&self, v: &[f64]) -> Vec<f64> {
        let v = DVector::from_column_slice(v);
        self.dt.tr_mul(&v).as_slice().to_vec()
    }

    /// `‖D‖_F²`, an upper bound of `σ_max(D)²` that costs no decomposition (dense `Dᵀ`).
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
    /// Rank of `D` the field used, when the flow computed an SVD or certified full rank (see
    /// [`RankPolicy`]).
    pub rank: Option<usize>,
    /// Numerical rank of `D` (`σ_i > rank_rtol·σ_max`), when the flow computed an SVD.
    pub numerical_rank: Option<usize>,
}

/// Which singular values of `D` the `D⁺` part of a field keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankChoice {
    /// Those above `rank_rtol·σ_max` (the numerical rank at this evaluation).
    Numerical,
    /// Every positive one (a step whose accepted start had full rank).
    All,
    /// Exactly the `r` largest positive ones (the rank a [`RankPolicy`] froze for a step).
    Fixed(usize),
}

impl RankChoice {
    /// How many singular values a solve keeps, given the numerical rank and the number of
    /// exactly positive ones (a fixed rank is clamped to the latter).
    pub fn rank(self, numerical: usize, positive: usize) -> usize {
        match self {
            RankChoice::Numerical => numerical,
            RankChoice::All => positive,
            RankChoice::Fixed(c) => c.min(positive),
        }
    }
}

/// Evaluates the vector field of `spec` at the workspace's current point (after
/// [`Workspace::forward`] or [`Workspace::evaluate`]) into `out`, returning what it saw.
///
/// The workspace's [`Solver`] picks the computation; [`Workspace::solve_info`] tells afterwards
/// which path ran and, for a fallback, why.
///
/// Errors: [`Error::NonFinite`] when the SVD fails or the field is not finite;
/// [`Error::TooLarge`] when the path that must run needs a `D` beyond [`DENSE_LIMIT`].
pub fn eval_field(
    spec: &FlowSpec,
    ws: &mut Workspace,
    rank_rtol: f64,
    out: &mut [f64],
) -> Result<FieldStats> {
    eval_field_capped(spec, ws, rank_rtol, RankChoice::Numerical, out)
}

/// Like [`eval_field`], with the singular values of the `D⁺` solve chosen by `choice` (see
/// [`RankPolicy`]): a fixed rank keeps exactly that many, whatever the numerical tolerance says
/// at this evaluation.
///
/// A fixed rank always runs the SVD path: the capped field is defined by singular vectors.
///
/// Errors: as [`eval_field`].
pub fn eval_field_capped(
    spec: &FlowSpec,
    ws: &mut Workspace,
    rank_rtol: f64,
    choice: RankChoice,
    out: &mut [f64],
) -> Result<FieldStats> {
    let alpha = spec.alpha();
    ws.info = SolveInfo::default();
    let stats = if ws.solver == Solver::Svd {
        ws.ensure_jacobian()?;
        ws.info.path = if alpha > 0.0 {
            SolvePath::Svd
        } else {
            SolvePath::Dense
        };
        eval_reference(alpha, ws, rank_rtol, choice, out)?
    } else {
        eval_fast(alpha, ws, rank_rtol, choice, out)?
    };
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!(
            "vector field entry {i} is {}",
            out[i]
        )));
    }
    Ok(stats)
}

/// The closed forms of the paper (kept at this path; they live in `math/closed_form.rs`).
pub use crate::math::closed_form;

crate::tagged::kind_tagged!(FlowSpec);
