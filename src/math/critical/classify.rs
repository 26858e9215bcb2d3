//! What a point is in the terms of Sections 3–4: global minimum, rank-loss equilibrium, trapping
//! region (Prop 3.1), rank loss, constrained equilibrium, regular.

use crate::error::Result;
use crate::linalg;
use crate::math::flow::Workspace;
use crate::math::model::Model;
use serde::{Deserialize, Serialize};

/// What a point is, in the terms of Sections 3–4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    /// `∇ₓC = 0`: the outputs hit their targets.
    GlobalMinimum,
    /// Lemma 3.2 / Thm 4.2: `r = rank D < QN` and `𝒫∇ₓC ≈ 0` while `∇ₓC ≠ 0`. Both the standard
    /// and the adapted flow are at rest; only a jump (the escape step) leaves.
    RankLossEquilibrium,
    /// Prop 3.1: `rank D = QN` but `ρ = |Dᵀ∇ₓC|/|∇ₓC|` below the trapping threshold. The standard
    /// flow crawls; the adapted flow still moves the outputs at full speed.
    Trapping,
    /// `rank D < min(K, QN)` and `𝒫∇ₓC ≠ 0`: the adapted flow is the DAE (4.5) and moves.
    RankLoss,
    /// Underparametrized rest point (Thm 5.1): `rank D = K < QN` (no rank *loss*: `D` has full
    /// column rank) and `𝒫∇ₓC ≈ 0`.
    ConstrainedEquilibrium,
    /// Full rank, `ρ` not small.
    Regular,
}

impl PointKind {
    /// The snake_case name used in events.
    pub fn name(self) -> &'static str {
        match self {
            PointKind::GlobalMinimum => "global_minimum",
            PointKind::RankLossEquilibrium => "rank_loss_equilibrium",
            PointKind::Trapping => "trapping",
            PointKind::RankLoss => "rank_loss",
            PointKind::ConstrainedEquilibrium => "constrained_equilibrium",
            PointKind::Regular => "regular",
        }
    }
}

/// The measurements that tell a trapping region (Prop 3.1) from a rank-loss equilibrium
/// (Lemma 3.2 / Thm 4.2) at one `θ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The verdict.
    pub kind: PointKind,
    /// Cost `C(θ)`.
    pub cost: f64,
    /// `r = rank D` (relative tolerance `rank_rtol` on its singular values).
    pub rank: usize,
    /// `QN`.
    pub qn: usize,
    /// `K`.
    pub k: usize,
    /// Tolerance of the rank decision.
    pub rank_rtol: f64,
    /// `|∇ₓC|`.
    pub grad_x_norm: f64,
    /// `|𝒫∇ₓC|`: zero exactly at equilibria of both flows (4.12).
    pub proj_grad_norm: f64,
    /// `|∇_θC| = |Dᵀ∇ₓC|`.
    pub grad_theta_norm: f64,
    /// `ρ = |Dᵀ∇ₓC|/|∇ₓC|` (Prop 3.1); 0 when `∇ₓC = 0`.
    pub rho: f64,
    /// `λ_min(DDᵀ)` (0 under rank loss).
    pub lambda_min: f64,
    /// `|𝒫∇ₓC| ≤ equilibrium_rtol·|∇ₓC|` counts as an equilibrium.
    pub equilibrium_rtol: f64,
    /// `ρ < trap_rho` with full rank counts as trapping.
    pub trap_rho: f64,
}

/// Classifies `θ` (see [`PointKind`]).
///
/// Errors: non-finite state or a failed SVD.
pub fn diagnose(
    model: &Model,
    theta: &[f64],
    rank_rtol: f64,
    equilibrium_rtol: f64,
    trap_rho: f64,
) -> Result<Diagnosis> {
    let mut ws = Workspace::default();
    ws.evaluate(model, theta)?;
    let gx = ws.grad_x().to_vec();
    let gnorm = linalg::norm(&gx);
    let gtheta = linalg::norm(&ws.grad_theta());
    let cost = ws.cost();
    let svd = ws.svd(rank_rtol)?;
    let proj = linalg::norm(&svd.project_output(&gx));
    let rank = svd.rank();
    let lambda_min = svd.lambda_min_ntk();
    let qn = model.qn();
    let rho = if gnorm > 0.0 { gtheta / gnorm } else { 0.0 };
    let kind = classify(
        gnorm,
        proj,
        rank,
        model.k(),
        qn,
        rho < trap_rho,
        equilibrium_rtol,
    );
    Ok(Diagnosis {
        kind,
        cost,
        rank,
        qn,
        k: model.k(),
        rank_rtol,
        grad_x_norm: gnorm,
        proj_grad_norm: proj,
        grad_theta_norm: gtheta,
        rho,
        lambda_min,
        equilibrium_rtol,
        trap_rho,
    })
}

/// The verdict of [`diagnose`] from its measurements; `small_rho` says whether `ρ` is below the
/// trapping threshold.
pub(crate) fn classify(
    gnorm: f64,
    proj: f64,
    rank: usize,
    k: usize,
    qn: usize,
    small_rho: bool,
    equilibrium_rtol: f64,
) -> PointKind {
    let full = k.min(qn);
    let at_rest = proj <= equilibrium_rtol * gnorm;
    if gnorm == 0.0 {
        PointKind::GlobalMinimum
    } else if rank < full && at_rest {
        PointKind::RankLossEquilibrium
    } else if rank < full {
        PointKind::RankLoss
    } else if rank < qn && at_rest {
        PointKind::ConstrainedEquilibrium
    } else if rank == qn && small_rho {
        PointKind::Trapping
    } else {
        PointKind::Regular
    }
}
