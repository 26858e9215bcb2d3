//! Rank loss, trapping and escape (paper Sections 3–4): the least-squares (DAE) form of the
//! adapted flow (4.5)–(4.11), the classification of a stalled point (Prop 3.1 against Lemma 3.2 /
//! Thm 4.2), the critical submanifold `M_crit = ⋂ g_α⁻¹(0)` (4.13)–(4.14) with its normal bundle,
//! and the escape step (4.15)–(4.17).
//!
//! Rank decisions use the relative tolerance `rank_rtol` on the singular values of `D` (the same
//! one as the flow, [`crate::linalg::svd::JacobianSvd`]); every result carries the tolerance it used.

/// Default of [`EscapeSpec::equilibrium_rtol`]: `|𝒫∇ₓC| ≤ 1e-6·|∇ₓC|` counts as an equilibrium.
pub const DEFAULT_EQUILIBRIUM_RTOL: f64 = 1e-6;
/// Relative floor on the eigenvalues of the NTK `DDᵀ` in [`dae_solve`]: eigenvalues of `DDᵀ`
/// carry an absolute rounding error of a few `ε·λ_max`, so no rank decision below this is real.
pub const NTK_RTOL_FLOOR: f64 = 1e-12;
/// A minimal Rayleigh quotient `λ ≥ −RAYLEIGH_RTOL·max|λ_i|` of the reduced Hessian counts as `≥ 0`.
pub const RAYLEIGH_RTOL: f64 = 1e-10;

mod classify;
mod curvature;
mod dae;
mod escape;
mod rank_formula;
mod slice;
mod submanifold;
mod trap;

pub(crate) use classify::classify;
pub use classify::{diagnose, Diagnosis, PointKind};
pub use curvature::{
    rayleigh, Curvature, CurvatureMethod, Verdict, DEFAULT_KERNEL_RTOL, DENSE_HESSIAN_MAX_K,
};
pub use dae::{dae_solve, DaeSolution};
pub use escape::{
    attempt, constant_rank, hessian_at_rest, set_sentence, Escape, EscapeSpec, EscapeStep,
    HessianReport, NoEscape, CONSTANT_RANK_RADII,
};
pub use rank_formula::{RankCheck, RankFormula};
pub use slice::{cost_slice, normal_tangent_slice, CostSlice};
pub use submanifold::{pivot_columns, CriticalSubmanifold};
pub use trap::{trapping_intervals, TrapInterval, TrapSpec, TrapTracker};
