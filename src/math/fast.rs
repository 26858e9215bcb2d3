//! Fast solves for the adapted field without the SVD of `D`, with certified fallbacks.
//!
//! - **Overparametrized / borderline** (`K ≥ QN`): `∂ₛθ = −Dᵀ(DDᵀ)⁻¹∇ₓC` by conjugate gradients
//!   on the exact operator `DDᵀ` (a backprop and a forward-mode pass per step), preconditioned with
//!   the Cholesky factor of the structured NTK ([`crate::math::ntk`]). Cholesky on `DDᵀ` squares the
//!   condition number and the NTK as formed carries rounding of relative size `ε·κ(DDᵀ)`, so it
//!   serves only as the preconditioner; the iterate is kept in parameter space (see
//!   [`FastSolver::solve_over`]), which reaches the SVD's own floor `ε·κ(D)`. The solve is accepted
//!   only when the residual `r = ∇ₓC − D v`, recomputed through the network at the end, satisfies
//!   `|r| ≤` [`accept_threshold`]`(κ̂)·|∇ₓC|`. Since `D∂ₛθ = −∇ₓC + r`, `r` is exactly the error of
//!   the output-layer velocity, the quantity Thm 2.1 is about.
//! - **Underparametrized** (`K < QN`): Gauss–Newton `(DᵀD)⁻¹Dᵀ∇ₓC` by Cholesky of `DᵀD`
//!   (`K × K`, from the dense `D`, which is small there), refined with `Dᵀ(∇ₓC − Dv)`.
//! - **Matrix-free** (any size): the same conjugate gradients with the diagonal of `DDᵀ` as the
//!   preconditioner; memory `O(K + N·ΣM_l)`. It converges only for well-conditioned NTKs (the
//!   benchmark's M and L, `κ(DDᵀ) ≈ 1e10`–`1e13`, are not) and makes no rank decision.
//!
//! **Rank decisions.** A fast solve is used only while the orbit's rank policy keeps every
//! singular value (see [`crate::math::flow::RankPolicy`]) and when a condition estimate shows `D`
//! to have full rank `QN` (or `K`) above the hysteresis band:
//! `κ̂ = λ̂_max·‖(DDᵀ)⁻¹‖̂ ≤ min(`[`KAPPA_FAST`]`, 1/(`[`RANK_MARGIN`]`·rank_rtol²))`,
//! where `λ̂_max = min(trace, ‖·‖_∞)` bounds `λ_max` from above and `‖(DDᵀ)⁻¹‖̂` comes from two
//! steps of inverse iteration with the Cholesky factor (a lower bound, accurate to a small factor).
//! Then the SVD path would have found every singular value above the band
//! (`σ_min/σ_max ≥ RANK_BAND·rank_rtol`), where the rank policy keeps them all: the two paths
//! make the same rank decision. Everything else (Cholesky breakdown, a larger `κ̂`, a residual
//! that the iteration cannot bring down, a rank below full) falls back to the rank-revealing SVD of [`crate::linalg`], and
//! [`SolveInfo`] says which path ran and why.

use crate::linalg;
use crate::linalg::kernels::{self, MatRef};
use crate::math::net::{Forward, Mlp};
use crate::math::ntk::{Derivs, NtkInfo};
use serde::{Deserialize, Serialize};

/// Largest estimated `κ(DDᵀ) = κ(D)²` at which the Cholesky path certifies full rank: the NTK
/// as formed carries rounding of about `ε·λ_max`, so below `λ_max/KAPPA_FAST = 1e4·ε·λ_max` its
/// smallest eigenvalue could be an artefact. It also bounds the preconditioner's error
/// (`≈ κ·ε ≤ 1e-2`), so that refinement converges in a few steps.
pub const KAPPA_FAST: f64 = 1e14;
/// Fast paths require `κ̂(DDᵀ) ≤ 1/(RANK_MARGIN·rank_rtol²)`: `σ_min/σ_max ≥ RANK_BAND·rank_rtol`,
/// above the hysteresis band of rank decisions ([`crate::linalg::RANK_BAND`]).
pub const RANK_MARGIN: f64 = crate::linalg::RANK_BAND * crate::linalg::RANK_BAND;
/// Refinement stops once `|r| ≤ REFINE_TARGET·|∇ₓC|` (the SVD path's own residual is
/// `≈ ε·κ(D)·|∇ₓC|`), or when two steps in a row fail to halve it (the rounding floor).
pub const REFINE_TARGET: f64 = 1e-12;
/// At most this many refinement steps (conjugate-gradient steps after the first).
pub const MAX_REFINE: u32 = 12;
/// A fast solve is accepted only with `|r| ≤ ACCEPT_RESIDUAL·|∇ₓC|` (overparametrized), or a
/// last correction `|Dδv| ≤ ACCEPT_RESIDUAL·|∇ₓC|` (underparametrized), or at the rounding floor
/// (see [`accept_threshold`]).
pub const ACCEPT_RESIDUAL: f64 = 1e-10;
/// The rounding floor of any backward-stable solve (the SVD's included) is about `ε·κ(D)`
/// relative; a fast solve is accepted at `max(ACCEPT_RESIDUAL, ACCEPT_FLOOR·ε·√κ̂)`.
pub const ACCEPT_FLOOR: f64 = 100.0;

/// The residual a fast solve must reach, given its estimate `κ̂` of `κ(DDᵀ)` (or `κ(DᵀD)`).
pub fn accept_threshold(kappa: f64) -> f64 {
    ACCEPT_RESIDUAL.max(ACCEPT_FLOOR * f64::EPSILON * kappa.max(1.0).sqrt())
}

/// Default relative residual at which conjugate gradients stop.
pub const CG_RTOL: f64 = 1e-10;

/// How the `D⁺` part of a field is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// Fastest path that is safe: structured NTK + Cholesky (or normal equations below `QN`),
    /// falling back to the SVD; conjugate gradients when the NTK would not fit in memory.
    #[default]
    Auto,
    /// The reference: thin SVD of the dense `D` at every evaluation.
    Svd,
    /// Conjugate gradients on the NTK with Jacobian–vector products (`K ≥ QN` only; `Auto`
    /// otherwise), falling back to the SVD when they do not converge.
    MatrixFree,
}

impl Solver {
    /// `auto`, `svd` or `matrix_free`.
    pub fn name(self) -> &'static str {
        match self {
            Solver::Auto => "auto",
            Solver::Svd => "svd",
            Solver::MatrixFree => "matrix_free",
        }
    }

    /// Parses a [`Solver::name`].
    pub fn parse(s: &str) -> Option<Solver> {
        match s {
            "auto" => Some(Solver::Auto),
            "svd" => Some(Solver::Svd),
            "matrix_free" | "cg" => Some(Solver::MatrixFree),
            _ => None,
        }
    }
}

/// Which computation produced the last field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SolvePath {
    /// No evaluation yet.
    #[default]
    None,
    /// Standard flow: one backprop, no solve.
    Backprop,
    /// Structured NTK + Cholesky + refinement.
    Cholesky,
    /// Underparametrized normal equations `DᵀD` + Cholesky + refinement.
    Normal,
    /// Conjugate gradients with Jacobian–vector products.
    MatrixFree,
    /// Thin SVD of the dense `D` (the reference, or a fallback).
    Svd,
    /// Eigendecomposition of the structured NTK where `D` lost rank ([`crate::math::gram`]).
    Gram,
    /// Standard flow from the dense `D` (the reference solver).
    Dense,
}

/// Why a fast path handed over to the SVD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The rank policy fixed the rank for this step: the field is defined by singular vectors.
    RankLock,
    /// Cholesky met a non-positive pivot.
    NotPositiveDefinite,
    /// `κ̂` above [`KAPPA_FAST`] or the rank margin.
    IllConditioned,
    /// Refinement did not bring the residual below [`ACCEPT_RESIDUAL`].
    Residual,
    /// Conjugate gradients did not converge.
    NoConvergence,
    /// The Gram route cannot resolve the singular values the rank decision needs (`rank_rtol`
    /// below [`crate::math::gram::rtol_floor`], or a kept one at its rounding level).
    GramUnresolved,
}

/// What the last solve did: path, fallback reason, estimates, work.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SolveInfo {
    /// The path that produced the field.
    pub path: SolvePath,
    /// Why a fast path was abandoned for the SVD (when it was).
    pub fallback: Option<Fallback>,
    /// Estimated `κ(DDᵀ)` (`κ(DᵀD)` below `QN`); 0 when not estimated.
    pub kappa: f64,
    /// Relative residual `|∇ₓC − Dv| / |∇ₓC|` (over) or `|Dδv|/|∇ₓC|` of the last correction
    /// (under).
    pub residual: f64,
    /// Refinement steps taken.
    pub refinements: u32,
    /// Conjugate-gradient iterations (matrix-free path).
    pub cg_iterations: u32,
}

/// Tally of [`SolveInfo`]s over many evaluations (for the benchmark and for tests that check
/// which path ran).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PathCounts {
    /// Standard-flow backprops.
    pub backprop: u64,
    /// Structured NTK + Cholesky solves.
    pub cholesky: u64,
    /// Underparametrized normal-equation solves.
    pub normal: u64,
    /// Conjugate-gradient solves.
    pub matrix_free: u64,
    /// SVD solves (reference or fallback).
    pub svd: u64,
    /// Rank-deficient solves by the eigendecomposition of the NTK.
    #[serde(default)]
    pub gram: u64,
    /// Dense standard-flow evaluations (reference solver).
    pub dense: u64,
    /// SVD solves that were fallbacks from a fast path.
    pub fallbacks: u64,
    /// Refinement steps, summed.
    pub refinements: u64,
    /// Conjugate-gradient iterations, summed.
    pub cg_iterations: u64,
    /// Largest `κ̂` seen.
    pub max_kappa: f64,
    /// Largest relative residual of an accepted fast solve.
    pub max_residual: f64,
}

impl PathCounts {
    /// Adds one evaluation.
    pub fn record(&mut self, info: &SolveInfo) {
        match info.path {
            SolvePath::None => {}
            SolvePath::Backprop => self.backprop += 1,
            SolvePath::Cholesky => self.cholesky += 1,
            SolvePath::Normal => self.normal += 1,
            SolvePath::MatrixFree => self.matrix_free += 1,
            SolvePath::Svd => self.svd += 1,
            SolvePath::Gram => self.gram += 1,
            SolvePath::Dense => self.dense += 1,
        }
        if info.fallback.is_some() {
            self.fallbacks += 1;
        } else if matches!(
            info.path,
            SolvePath::Cholesky | SolvePath::Normal | SolvePath::MatrixFree | SolvePath::Gram
        ) {
            self.max_residual = self.max_residual.max(info.residual);
        }
        self.refinements += info.refinements as u64;
        self.cg_iterations += info.cg_iterations as u64;
        self.max_kappa = self.max_kappa.max(info.kappa);
    }
}

/// Buffers of the fast paths, reused between evaluations of the same shape.
#[derive(Debug, Clone, Default)]
pub struct FastSolver {
    /// Derivative passes at the current point.
    pub derivs: Derivs,
    mat: Vec<f64>,
    a: Vec<f64>,
    r: Vec<f64>,
    u: Vec<f64>,
    w: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    t: Vec<f64>,
    q: Vec<f64>,
    cg_rtol: f64,
    cg_max_iter: u32,
}

/// `x ≤ limit`, false for NaN (a NaN estimate or residual never passes a check).
fn at_most(x: f64, limit: f64) -> bool {
    x <= limit
}

fn resize(v: &mut Vec<f64>, n: usize) {
    if v.len() != n {
        v.clear();
        v.resize(n, 0.0);
    }
}

/// The solution of an overparametrized solve: `v = D⁺g = Dᵀ(DDᵀ)⁻¹g` and its image `u = Dv`.
#[derive(Debug)]
pub struct OverSolution<'a> {
    /// `v = D⁺g` (`K`).
    pub v: &'a [f64],
    /// `Dv ≈ g` (`QN`); `g − u` is the residual.
    pub u: &'a [f64],
    /// `trace(DDᵀ) = ‖D‖_F²`.
    pub frobenius_sq: f64,
}

/// Deterministic start vector for inverse iteration (no RNG state, so traces rerun bit for bit).
fn start_vector(x: &mut [f64]) {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    for v in x.iter_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *v = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    }
}

impl FastSolver {
    /// Caches what every path needs at a new point (after the forward pass).
    pub fn prepare(&mut self, net: &Mlp, fw: &Forward) {
        self.derivs.prepare(net, fw);
    }

    /// Estimates `‖A⁻¹‖₂` from the Cholesky factor in `self.mat` (`n × n`) by inverse iteration,
    /// also counting `|a|/|g|` for the solution already found.
    fn inverse_norm_estimate(&mut self, n: usize, from_solution: f64) -> f64 {
        resize(&mut self.x, n);
        start_vector(&mut self.x);
        let mut est = from_solution;
        for _ in 0..2 {
            let nx = linalg::norm(&self.x);
            if nx == 0.0 || !nx.is_finite() {
                break;
            }
            kernels::cholesky_solve_in_place(&self.mat, n, n, &mut self.x);
            let ny = linalg::norm(&self.x);
            if !ny.is_finite() {
                return f64::INFINITY;
            }
            est = est.max(ny / nx);
            for v in &mut self.x {
                *v /= ny;
            }
        }
        est
    }

    /// The largest `κ̂` a fast path may accept for `rank_rtol`.
    pub fn kappa_limit(rank_rtol: f64) -> f64 {
        KAPPA_FAST.min(1.0 / (RANK_MARGIN * rank_rtol * rank_rtol))
    }

    /// Overparametrized / borderline solve: `v = Dᵀ(DDᵀ)⁻¹g` by conjugate gradients on the exact
    /// operator `DDᵀ` (a backprop and a forward-mode pass per step), preconditioned with the
    /// Cholesky factor of the structured NTK.
    ///
    /// The iterate is kept in parameter space, `v = Σ α_k Dᵀp_k`, and its output image
    /// `u = Σ α_k D(Dᵀp_k) = Dv` alongside, so `r = g − u` is the true residual of the returned `v`
    /// to rounding. Refining the dual variable `a` instead and forming `Dᵀa` at the end would cap
    /// the accuracy at `ε·κ(D)²` (a backprop of a cotangent of size `|g|/σ_min²`); this way only
    /// the first step sees such a cotangent and later steps correct its rounding, down to the
    /// SVD's own floor `ε·κ(D)`. With a good preconditioner (`κ(DDᵀ)·ε` small) one or two steps
    /// suffice.
    ///
    /// Errors: the reason to fall back, with the partial [`SolveInfo`].
    pub fn solve_over(
        &mut self,
        net: &Mlp,
        theta: &[f64],
        fw: &Forward,
        g: &[f64],
        rank_rtol: f64,
    ) -> Result<(OverSolution<'_>, SolveInfo), (Fallback, SolveInfo)> {
        let qn = g.len();
        let mut info = SolveInfo {
            path: SolvePath::Cholesky,
            ..SolveInfo::default()
        };
        let ntk: NtkInfo = self.derivs.ntk_lower(net, theta, fw, &mut self.mat);
        if kernels::cholesky_lower(&mut self.mat, qn, qn).is_err() {
            return Err((Fallback::NotPositiveDefinite, info));
        }
        let inv = self.inverse_norm_estimate(qn, 0.0);
        info.kappa = ntk.lambda_max_bound() * inv;
        if !at_most(info.kappa, Self::kappa_limit(rank_rtol)) {
            return Err((Fallback::IllConditioned, info));
        }
        self.pcg(net, theta, fw, g, &mut info, true);
        if !at_most(info.residual, accept_threshold(info.kappa)) {
            return Err((Fallback::Residual, info));
        }
        Ok((
            OverSolution {
                v: &self.w,
                u: &self.u,
                frobenius_sq: ntk.trace,
            },
            info,
        ))
    }

    /// Conjugate gradients for `DDᵀa = g` in the parameter-space form described at
    /// [`Self::solve_over`]: `self.w ← v = Dᵀa`, `self.u ← Dv`; preconditioned with the Cholesky
    /// factor in `self.mat` when `chol`, else with `diag(DDᵀ)⁻¹` held in `self.y`.
    fn pcg(
        &mut self,
        net: &Mlp,
        theta: &[f64],
        fw: &Forward,
        g: &[f64],
        info: &mut SolveInfo,
        chol: bool,
    ) {
        let qn = g.len();
        let k = net.k();
        resize(&mut self.w, k);
        resize(&mut self.u, qn);
        resize(&mut self.r, qn);
        resize(&mut self.x, qn);
        resize(&mut self.a, qn);
        resize(&mut self.t, k);
        resize(&mut self.q, qn);
        self.w.fill(0.0);
        self.u.fill(0.0);
        self.r.copy_from_slice(g);
        let gnorm = linalg::norm(g);
        info.residual = 0.0;
        if gnorm == 0.0 {
            return;
        }
        let (max_iter, target) = if chol {
            (MAX_REFINE + 1, REFINE_TARGET)
        } else {
            (self.cg_max_iter, self.cg_rtol)
        };
        // z = M⁻¹r in self.a, direction p in self.x.
        let precondition = |mat: &[f64], y: &[f64], r: &[f64], z: &mut [f64]| {
            z.copy_from_slice(r);
            if chol {
                kernels::cholesky_solve_in_place(mat, qn, qn, z);
            } else {
                for (zi, m) in z.iter_mut().zip(y) {
                    *zi *= m;
                }
            }
        };
        precondition(&self.mat, &self.y, &self.r, &mut self.a);
        self.x.copy_from_slice(&self.a);
        let mut rz = linalg::dot(&self.r, &self.a);
        let mut best = f64::INFINITY;
        let mut since_best = 0;
        let mut iters = 0u32;
        loop {
            // t = Dᵀp, q = Dt (≈ DDᵀp).
            self.derivs.vjp(net, theta, fw, &self.x, &mut self.t);
            self.derivs.jvp(net, theta, fw, &self.t, &mut self.q);
            iters += 1;
            let pq = linalg::dot(&self.x, &self.q);
            if pq.is_nan() || pq <= 0.0 {
                break;
            }
            let alpha = rz / pq;
            for (w, t) in self.w.iter_mut().zip(&self.t) {
                *w += alpha * t;
            }
            for ((u, r), q) in self.u.iter_mut().zip(self.r.iter_mut()).zip(&self.q) {
                *u += alpha * q;
                *r -= alpha * q;
            }
            let rel = linalg::norm(&self.r) / gnorm;
            info.residual = rel;
            if rel < best * 0.5 {
                best = rel;
                since_best = 0;
            } else {
                since_best += 1;
            }
            // Stop at the target, at the budget, or when the rounding floor is reached.
            if rel <= target || iters >= max_iter || (chol && since_best >= 2) {
                break;
            }
            precondition(&self.mat, &self.y, &self.r, &mut self.a);
            let rz_new = linalg::dot(&self.r, &self.a);
            let beta = rz_new / rz;
            rz = rz_new;
            for (p, z) in self.x.iter_mut().zip(&self.a) {
                *p = z + beta * *p;
            }
        }
        if chol {
            info.refinements = iters.saturating_sub(1);
        } else {
            info.cg_iterations = iters;
        }
        // Below the rounding floor the recurrence residual keeps shrinking while the true one does
        // not: recompute u = Dv once, so that acceptance and the reported residual are honest.
        self.derivs.jvp(net, theta, fw, &self.w, &mut self.u);
        let rn = g
            .iter()
            .zip(&self.u)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        info.residual = rn / gnorm;
    }

    /// Underparametrized Gauss–Newton `v = (DᵀD)⁻¹Dᵀg` from the dense `dt = Dᵀ` (`K × QN`), into
    /// `out` (`K`), by Cholesky of `DᵀD` and refinement with `Dᵀ(g − Dv)`.
    ///
    /// Errors: the reason to fall back, with the partial [`SolveInfo`].
    pub fn solve_under(
        &mut self,
        dt: &[f64],
        k: usize,
        qn: usize,
        g: &[f64],
        rank_rtol: f64,
        out: &mut [f64],
    ) -> Result<SolveInfo, (Fallback, SolveInfo)> {
        let mut info = SolveInfo {
            path: SolvePath::Normal,
            ..SolveInfo::default()
        };
        let d_t = MatRef::col_major(dt, k, qn, k);
        resize(&mut self.mat, k * k);
        // DᵀD = Gram of the rows of Dᵀ... i.e. of the columns of D.
        kernels::syrk_lower(1.0, d_t.t(), 0.0, &mut self.mat, k);
        let mut lmax_rows = vec![0.0; 0];
        std::mem::swap(&mut lmax_rows, &mut self.y);
        resize(&mut lmax_rows, k);
        lmax_rows.fill(0.0);
        let mut trace = 0.0;
        for j in 0..k {
            let col = &self.mat[j * k..(j + 1) * k];
            trace += col[j];
            lmax_rows[j] += col[j].abs();
            for (i, v) in col.iter().enumerate().skip(j + 1) {
                lmax_rows[j] += v.abs();
                lmax_rows[i] += v.abs();
            }
        }
        let lmax = trace.min(lmax_rows.iter().copied().fold(0.0, f64::max));
        self.y = lmax_rows;
        if kernels::cholesky_lower(&mut self.mat, k, k).is_err() {
            return Err((Fallback::NotPositiveDefinite, info));
        }
        resize(&mut self.a, k);
        resize(&mut self.r, qn);
        resize(&mut self.w, k);
        // b = Dᵀg.
        let gv = MatRef::col_major(g, qn, 1, qn);
        kernels::gemm(1.0, d_t, gv, 0.0, &mut self.w, k);
        out.copy_from_slice(&self.w);
        kernels::cholesky_solve_in_place(&self.mat, k, k, out);
        let bnorm = linalg::norm(&self.w);
        let from_solution = if bnorm > 0.0 {
            linalg::norm(out) / bnorm
        } else {
            0.0
        };
        let inv = self.inverse_norm_estimate(k, from_solution);
        info.kappa = lmax * inv;
        let gnorm = linalg::norm(g);
        if !at_most(info.kappa, Self::kappa_limit(rank_rtol)) {
            return Err((Fallback::IllConditioned, info));
        }
        let mut prev = f64::INFINITY;
        resize(&mut self.q, qn);
        loop {
            // r = g − Dv, then the correction δ = (DᵀD)⁻¹Dᵀr.
            self.r.copy_from_slice(g);
            kernels::gemm(
                -1.0,
                d_t.t(),
                MatRef::col_major(out, k, 1, k),
                1.0,
                &mut self.r,
                qn,
            );
            kernels::gemm(
                1.0,
                d_t,
                MatRef::col_major(&self.r, qn, 1, qn),
                0.0,
                &mut self.a,
                k,
            );
            kernels::cholesky_solve_in_place(&self.mat, k, k, &mut self.a);
            for (o, d) in out.iter_mut().zip(&self.a) {
                *o += d;
            }
            info.refinements += 1;
            // The correction where it matters, in output space: |Dδ| (the projection 𝒫g = Dv
            // is well conditioned even where v itself carries the κ² of least squares).
            kernels::gemm(
                1.0,
                d_t.t(),
                MatRef::col_major(&self.a, k, 1, k),
                0.0,
                &mut self.q,
                qn,
            );
            let dn = linalg::norm(&self.q);
            info.residual = if gnorm > 0.0 { dn / gnorm } else { 0.0 };
            if info.residual <= REFINE_TARGET || info.refinements >= MAX_REFINE || dn > 0.5 * prev {
                break;
            }
            prev = dn;
        }
        if !at_most(info.residual, accept_threshold(info.kappa)) {
            return Err((Fallback::Residual, info));
        }
        Ok(info)
    }

    /// Matrix-free solve of `DDᵀa = g`, returning `v = Dᵀa`: Jacobi-preconditioned conjugate
    /// gradients in the parameter-space form of [`Self::solve_over`], stopping at
    /// `|r| ≤ rtol·|g|`, on stagnation, or after `max_iter` iterations. No matrix of size `QN²`
    /// or `QN·K` is formed.
    ///
    /// Errors: [`Fallback::NoConvergence`] with the partial [`SolveInfo`].
    pub fn solve_cg(
        &mut self,
        net: &Mlp,
        theta: &[f64],
        fw: &Forward,
        g: &[f64],
        rtol: f64,
        max_iter: u32,
    ) -> Result<(OverSolution<'_>, SolveInfo), (Fallback, SolveInfo)> {
        let qn = g.len();
        let mut info = SolveInfo {
            path: SolvePath::MatrixFree,
            ..SolveInfo::default()
        };
        resize(&mut self.y, qn);
        self.derivs.ntk_diagonal(net, theta, fw, &mut self.y);
        let trace: f64 = self.y.iter().sum();
        for d in &mut self.y {
            *d = if *d > 0.0 { 1.0 / *d } else { 1.0 };
        }
        self.cg_rtol = rtol;
        self.cg_max_iter = max_iter.max(1);
        self.pcg(net, theta, fw, g, &mut info, false);
        if !at_most(info.residual, rtol.max(ACCEPT_RESIDUAL)) {
            return Err((Fallback::NoConvergence, info));
        }
        Ok((
            OverSolution {
                v: &self.w,
                u: &self.u,
                frobenius_sq: trace,
            },
            info,
        ))
    }
}
