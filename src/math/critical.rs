//! Rank loss, trapping and escape (paper Sections 3–4): the least-squares (DAE) form of the
//! adapted flow (4.5)–(4.11), the classification of a stalled point (Prop 3.1 against Lemma 3.2 /
//! Thm 4.2), the critical submanifold `M_crit = ⋂ g_α⁻¹(0)` (4.13)–(4.14) with its normal bundle,
//! and the escape step (4.15)–(4.17).
//!
//! Rank decisions use the relative tolerance `rank_rtol` on the singular values of `D` (the same
//! one as the flow, [`crate::linalg::svd::JacobianSvd`]); every result carries the tolerance it used.

use crate::error::{Error, Result};
use crate::linalg;
use crate::linalg::svd::JacobianSvd;
use crate::math::diagnostics::Sample;
use crate::math::flow::Workspace;
use crate::math::hessian::SecondOrder;
use crate::math::model::Model;
use crate::rng::Rng;
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};

/// Default of [`EscapeSpec::equilibrium_rtol`]: `|𝒫∇ₓC| ≤ 1e-6·|∇ₓC|` counts as an equilibrium.
pub const DEFAULT_EQUILIBRIUM_RTOL: f64 = 1e-6;
/// Relative floor on the eigenvalues of the NTK `DDᵀ` in [`dae_solve`]: eigenvalues of `DDᵀ`
/// carry an absolute rounding error of a few `ε·λ_max`, so no rank decision below this is real.
pub const NTK_RTOL_FLOOR: f64 = 1e-12;
/// A minimal Rayleigh quotient `λ ≥ −RAYLEIGH_RTOL·max|λ_i|` of the reduced Hessian counts as `≥ 0`.
pub const RAYLEIGH_RTOL: f64 = 1e-10;

// ---------------------------------------------------------------------------------------------
// The DAE form (4.5)–(4.11)

/// The least-squares (DAE) form of the adapted flow at one point: `∂ₛθ = DᵀΨ` with
/// `Ψ = argmin |DDᵀΨ + ∇ₓC|²` (4.5)–(4.6), the minimum-norm minimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaeSolution {
    /// `Ψ ∈ R^{QN}` (minimum norm: no component in `ker DDᵀ`).
    pub psi: Vec<f64>,
    /// `∂ₛθ = DᵀΨ ∈ R^K` (4.5); equals `−D⁺∇ₓC`.
    pub velocity: Vec<f64>,
    /// `∂ₛx̲ = DDᵀΨ ∈ R^{QN}`; equals `−𝒫∇ₓC` (4.7), (4.11).
    pub output_velocity: Vec<f64>,
    /// `|DDᵀΨ + ∇ₓC| = |𝒫^⊥∇ₓC|`, the least-squares residual of (4.6).
    pub residual: f64,
    /// Number of eigenvalues of `DDᵀ` above the tolerance: `rank 𝒫`.
    pub rank: usize,
    /// The relative tolerance used on the eigenvalues of `DDᵀ`: `max(rank_rtol², NTK_RTOL_FLOOR)`.
    pub ntk_rtol: f64,
}

/// Solves (4.6) `DDᵀΨ = −∇ₓC` in the least-squares sense, from `Dᵀ` (`K × QN`).
///
/// Deliberately independent of the integrator's path (one SVD of `D`): it forms the NTK `DDᵀ`,
/// diagonalizes it (4.1), and keeps eigenvalues `λ_i > ntk_rtol·λ_max` with
/// `ntk_rtol = max(rank_rtol², NTK_RTOL_FLOOR)` — `λ = σ²`, so this is the same rank decision as
/// `σ_i > rank_rtol·σ_max` whenever no `σ_i/σ_max` lies between `rank_rtol` and `1e-6`. Squaring
/// the condition number is why the flow itself never goes through `DDᵀ`.
///
/// Errors: mismatched `grad_x` (named `grad_x`), non-finite entries, or an eigensolver failure.
pub fn dae_solve(dt: &DMatrix<f64>, grad_x: &[f64], rank_rtol: f64) -> Result<DaeSolution> {
    let qn = dt.ncols();
    if grad_x.len() != qn {
        return Err(Error::invalid(
            "grad_x",
            format!("has length {} but D has QN = {qn} rows", grad_x.len()),
        ));
    }
    if let Some(i) = dt.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!(
            "Jacobian entry {i} is not finite"
        )));
    }
    let ntk = dt.tr_mul(dt);
    let eig = SymmetricEigen::try_new(ntk, f64::EPSILON, 100_000)
        .ok_or_else(|| Error::NonFinite("the eigensolver of DDᵀ did not converge".into()))?;
    let lmax = eig.eigenvalues.iter().copied().fold(0.0, f64::max);
    let ntk_rtol = (rank_rtol * rank_rtol).max(NTK_RTOL_FLOOR);
    let g = DVector::from_column_slice(grad_x);
    let mut psi = DVector::zeros(qn);
    let mut rank = 0;
    for (i, &lam) in eig.eigenvalues.iter().enumerate() {
        if lmax > 0.0 && lam > ntk_rtol * lmax {
            rank += 1;
            let u = eig.eigenvectors.column(i);
            psi.axpy(-u.dot(&g) / lam, &u, 1.0);
        }
    }
    let velocity = dt * &psi;
    let output_velocity = dt.tr_mul(&velocity);
    let residual = (&output_velocity + &g).norm();
    Ok(DaeSolution {
        psi: psi.as_slice().to_vec(),
        velocity: velocity.as_slice().to_vec(),
        output_velocity: output_velocity.as_slice().to_vec(),
        residual,
        rank,
        ntk_rtol,
    })
}

// ---------------------------------------------------------------------------------------------
// Classification of a point

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
fn classify(
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

// ---------------------------------------------------------------------------------------------
// Column choice

/// Chooses `count` columns of `d` (`m × n`) by Householder QR with column pivoting on the largest
/// remaining column norm (Businger–Golub), returning their indices in pivot order and `|R_ii|`.
///
/// `|R_ii|` is the distance of the `i`-th chosen column from the span of the earlier ones, so the
/// choice is as well conditioned as a greedy choice can be. `count` is capped at `min(m, n)`.
pub fn pivot_columns(d: &DMatrix<f64>, count: usize) -> (Vec<usize>, Vec<f64>) {
    let (m, n) = d.shape();
    let count = count.min(m).min(n);
    let mut a = d.clone();
    let mut perm: Vec<usize> = (0..n).collect();
    let mut rdiag = Vec::with_capacity(count);
    for i in 0..count {
        // Exact remaining norms each step: cheap at these sizes, and no downdating drift.
        let (mut best, mut best_norm) = (i, -1.0);
        for j in i..n {
            let nj = a.view((i, j), (m - i, 1)).norm_squared();
            if nj > best_norm {
                best = j;
                best_norm = nj;
            }
        }
        a.swap_columns(i, best);
        perm.swap(i, best);
        let mut v: DVector<f64> = a.view((i, i), (m - i, 1)).column(0).into_owned();
        let alpha = v.norm();
        rdiag.push(alpha);
        if alpha == 0.0 {
            continue;
        }
        let sign = if v[0] >= 0.0 { 1.0 } else { -1.0 };
        v[0] += sign * alpha;
        let vn = v.norm();
        v /= vn;
        let mut block = a.view_mut((i, i), (m - i, n - i));
        let w = block.tr_mul(&v);
        block.ger(-2.0, &v, &w, 1.0);
    }
    perm.truncate(count);
    (perm, rdiag)
}

// ---------------------------------------------------------------------------------------------
// The critical submanifold

/// The critical submanifold through a point (4.13)–(4.14), with its normal bundle and the Hessian
/// reduced to it.
///
/// `g_α = ∂C/∂θ_α = ⟨V_α, ∇ₓC⟩` for `r = rank D` columns `V_α` of `D` chosen by pivoted QR; the
/// normal vectors are `∇_θ g_α = H e_α`, exact Hessian columns. Computed at any point; meaningful
/// at an equilibrium, where every `g_α = 0`.
#[derive(Debug, Clone)]
pub struct CriticalSubmanifold {
    /// The point `θ*`.
    pub theta: Vec<f64>,
    /// `C(θ*)`.
    pub cost: f64,
    /// `r = rank D = rank 𝒫`.
    pub rank: usize,
    /// `K`.
    pub k: usize,
    /// `QN`.
    pub qn: usize,
    /// Tolerance of every rank decision here.
    pub rank_rtol: f64,
    /// The chosen column indices `α₁..α_r` (positions in `θ`), in pivot order.
    pub alphas: Vec<usize>,
    /// `|R_ii|` of the pivoted QR: how independent the chosen columns are.
    pub pivots: Vec<f64>,
    /// `σ_min/σ_max` of the chosen columns `D[:, α]`: `> rank_rtol` means they are independent.
    pub columns_conditioning: f64,
    /// `g_α(θ*)` (4.13).
    pub g: Vec<f64>,
    /// `|∇ₓC|`.
    pub grad_x_norm: f64,
    /// `|𝒫∇ₓC|`.
    pub proj_grad_norm: f64,
    /// `|∇_θC|`.
    pub grad_theta_norm: f64,
    /// `∇_θ g_α(θ*)` as the columns of a `K × r` matrix.
    pub normals: DMatrix<f64>,
    /// Singular values of `normals`, descending.
    pub normal_sigma: Vec<f64>,
    /// Numerical rank of `normals` (tolerance `rank_rtol`); `r` when the normals are independent.
    pub normal_rank: usize,
    /// `K − normal_rank`: the dimension of `M_crit` where it is a submanifold (4.14).
    pub dimension: usize,
    /// Eigenvalues, ascending, of the Hessian reduced to `span{∇_θ g_α}` (Rayleigh quotients).
    pub rayleigh: Vec<f64>,
    /// Orthonormal basis of `span{∇_θ g_α}` (`K × normal_rank`).
    basis: DMatrix<f64>,
    /// Eigenvectors of the reduced Hessian, coordinates in `basis`, in the order of `rayleigh`.
    reduced_vecs: DMatrix<f64>,
    /// Pseudo-inverse factors of `normals`: `κ = V Σ⁻¹ Uᵀ v` (first `normal_rank` columns).
    normals_v: DMatrix<f64>,
}

impl CriticalSubmanifold {
    /// Computes the submanifold data at `θ*`.
    ///
    /// Errors: non-finite state, a failed SVD or eigensolver.
    pub fn at(model: &Model, theta: &[f64], rank_rtol: f64) -> Result<Self> {
        let mut ws = Workspace::default();
        ws.evaluate(model, theta)?;
        let gx = ws.grad_x().to_vec();
        let svd = JacobianSvd::new(ws.dt(), rank_rtol)?;
        let rank = svd.rank();
        let proj_grad_norm = linalg::norm(&svd.project_output(&gx));
        let d = ws.dt().transpose();
        let (alphas, pivots) = pivot_columns(&d, rank);
        let sub = DMatrix::from_fn(d.nrows(), alphas.len(), |i, j| d[(i, alphas[j])]);
        let columns_conditioning = if alphas.is_empty() {
            1.0
        } else {
            let s = sub.singular_values();
            let mx = s.max();
            if mx > 0.0 {
                s.min() / mx
            } else {
                0.0
            }
        };
        let so = SecondOrder::new(model, theta)?;
        let grad = so.gradient();
        let g: Vec<f64> = alphas.iter().map(|&a| grad[a]).collect();
        let k = model.k();
        let r = alphas.len();
        let mut normals = DMatrix::zeros(k, r);
        for (j, &a) in alphas.iter().enumerate() {
            normals.column_mut(j).copy_from_slice(&so.column(a)?);
        }
        let (basis, normal_sigma, _, normals_v) = if r == 0 {
            (DMatrix::zeros(k, 0), vec![], 0, DMatrix::zeros(0, 0))
        } else {
            let nsvd = normals
                .clone()
                .try_svd(true, true, f64::EPSILON, 100_000)
                .ok_or_else(|| Error::NonFinite("the SVD of the normal vectors failed".into()))?;
            let u = nsvd.u.expect("requested U");
            let vt = nsvd.v_t.expect("requested Vᵀ");
            let mut order: Vec<usize> = (0..nsvd.singular_values.len()).collect();
            order.sort_by(|&a, &b| nsvd.singular_values[b].total_cmp(&nsvd.singular_values[a]));
            let sigma: Vec<f64> = order.iter().map(|&i| nsvd.singular_values[i]).collect();
            let nr = linalg::numerical_rank(&sigma, rank_rtol);
            let basis = DMatrix::from_fn(k, nr, |i, j| u[(i, order[j])]);
            // Columns of V scaled by 1/σ: κ = (V Σ⁻¹)(Uᵀ v).
            let vs = DMatrix::from_fn(r, nr, |i, j| vt[(order[j], i)] / sigma[j]);
            (basis, sigma, nr, vs)
        };
        let nr = basis.ncols();
        let mut hb = DMatrix::zeros(k, nr);
        for j in 0..nr {
            let col: Vec<f64> = basis.column(j).iter().copied().collect();
            hb.column_mut(j).copy_from_slice(&so.hvp(&col));
        }
        let reduced = basis.tr_mul(&hb);
        let reduced = (&reduced + reduced.transpose()) * 0.5;
        let (rayleigh, reduced_vecs) = if nr == 0 {
            (vec![], DMatrix::zeros(0, 0))
        } else {
            let eig = SymmetricEigen::try_new(reduced, f64::EPSILON, 100_000).ok_or_else(|| {
                Error::NonFinite("the eigensolver of the reduced Hessian failed".into())
            })?;
            let mut order: Vec<usize> = (0..nr).collect();
            order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
            let vals = order.iter().map(|&i| eig.eigenvalues[i]).collect();
            let vecs = DMatrix::from_fn(nr, nr, |i, j| eig.eigenvectors[(i, order[j])]);
            (vals, vecs)
        };
        Ok(CriticalSubmanifold {
            theta: theta.to_vec(),
            cost: so.cost(),
            rank,
            k,
            qn: model.qn(),
            rank_rtol,
            alphas,
            pivots,
            columns_conditioning,
            g,
            grad_x_norm: linalg::norm(&gx),
            proj_grad_norm,
            grad_theta_norm: linalg::norm(grad),
            normal_sigma,
            normal_rank: nr,
            dimension: k - nr,
            normals,
            rayleigh,
            basis,
            reduced_vecs,
            normals_v,
        })
    }

    /// `g_α(θ) = ∂C/∂θ_α` at another `θ`, for the same `α₁..α_r`.
    ///
    /// Errors: as [`SecondOrder::new`].
    pub fn g_at(&self, model: &Model, theta: &[f64]) -> Result<Vec<f64>> {
        let grad = crate::math::hessian::gradient(model, theta)?;
        Ok(self.alphas.iter().map(|&a| grad[a]).collect())
    }

    /// Unit normal vector `∇_θ g_α / |∇_θ g_α|` for the `i`-th chosen column (`None` if zero or
    /// out of range).
    pub fn normal_unit(&self, i: usize) -> Option<Vec<f64>> {
        if i >= self.normals.ncols() {
            return None;
        }
        let c = self.normals.column(i);
        let n = c.norm();
        (n > 0.0).then(|| c.iter().map(|v| v / n).collect())
    }

    /// A unit vector tangent to `M_crit` at `θ*`: a seeded random direction with its component in
    /// `span{∇_θ g_α}` removed (twice, for orthogonality to rounding).
    ///
    /// `None` when the normals span all of `R^K`.
    pub fn tangent(&self, seed: u64) -> Option<Vec<f64>> {
        if self.normal_rank >= self.k {
            return None;
        }
        let mut rng = Rng::new(seed ^ 0x7A46_E417);
        let mut t = DVector::from_fn(self.k, |_, _| rng.normal());
        for _ in 0..2 {
            let c = self.basis.tr_mul(&t);
            t -= &self.basis * c;
        }
        let n = t.norm();
        (n > 0.0).then(|| t.iter().map(|v| v / n).collect())
    }

    /// The smallest Rayleigh quotient `min vᵀHv/vᵀv` over `v ∈ span{∇_θ g_α}` (`None` if `r = 0`).
    pub fn min_rayleigh(&self) -> Option<f64> {
        self.rayleigh.first().copied()
    }

    /// The unit vector of `span{∇_θ g_α}` that attains [`Self::min_rayleigh`] (sign arbitrary).
    ///
    /// This is the generalized eigenproblem `NᵀHN κ = λ NᵀN κ` (`N` the normals) solved through an
    /// orthonormal basis of the span, which avoids forming `(NᵀN)⁻¹`.
    pub fn min_direction(&self) -> Option<Vec<f64>> {
        if self.normal_rank == 0 {
            return None;
        }
        let y = self.reduced_vecs.column(0);
        let v = &self.basis * y;
        Some(v.as_slice().to_vec())
    }

    /// Coefficients `κ` with `Σ_α κ_α ∇_θ g_α` closest to `v` (minimum norm): the `κ_α` of (4.16).
    pub fn kappa_of(&self, v: &[f64]) -> Vec<f64> {
        let r = self.normals.ncols();
        if self.normal_rank == 0 {
            return vec![0.0; r];
        }
        let c = self.basis.tr_mul(&DVector::from_column_slice(v));
        (&self.normals_v * c).as_slice().to_vec()
    }

    /// Ranks of `D` at `samples` random points at distance `radius` from `θ*` (seeded): whether
    /// `rank D` is constant near `θ*`, the hypothesis of Thm 4.2.
    ///
    /// Errors: as [`Workspace::evaluate`] and the SVD.
    pub fn ranks_nearby(
        &self,
        model: &Model,
        radius: f64,
        samples: usize,
        seed: u64,
    ) -> Result<Vec<usize>> {
        let mut rng = Rng::new(seed ^ 0x0AEA_7B1E);
        let mut ws = Workspace::default();
        let mut out = Vec::with_capacity(samples);
        for _ in 0..samples {
            let mut d: Vec<f64> = (0..self.k).map(|_| rng.normal()).collect();
            let n = linalg::norm(&d);
            let theta: Vec<f64> = self
                .theta
                .iter()
                .zip(d.iter_mut())
                .map(|(t, di)| t + radius * *di / n)
                .collect();
            ws.evaluate(model, &theta)?;
            out.push(ws.svd(self.rank_rtol)?.rank());
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Escape (4.15)–(4.17)

/// The scenario key `escape`: automatic escape from rank-loss equilibria, and the backtracking
/// parameters of every escape (automatic or requested).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscapeSpec {
    /// Attempt an escape whenever the flow comes to rest (`stationary`) with `∇ₓC ≠ 0`.
    #[serde(default)]
    pub auto: bool,
    /// At most this many automatic escapes per run.
    #[serde(default = "default_max")]
    pub max: u32,
    /// First trial length `|θ₀' − θ*|` of the backtracking.
    #[serde(default = "default_step")]
    pub step: f64,
    /// Factor in `(0, 1)` by which a rejected trial length shrinks.
    #[serde(default = "default_shrink")]
    pub shrink: f64,
    /// Smallest trial length; below it the attempt fails (`no_escape`).
    #[serde(default = "default_min_step")]
    pub min_step: f64,
    /// A trial `t` is accepted when `C(θ* + t v) ≤ C(θ*) − sufficient · ½|λ_min| t²`, a fraction
    /// of the second-order prediction (Armijo's rule at second order; `∇_θC = 0` there).
    #[serde(default = "default_sufficient")]
    pub sufficient: f64,
    /// `|𝒫∇ₓC| ≤ equilibrium_rtol·|∇ₓC|` classifies a rest point as a rank-loss equilibrium.
    #[serde(default = "default_equilibrium_rtol")]
    pub equilibrium_rtol: f64,
}

fn default_max() -> u32 {
    10
}
fn default_step() -> f64 {
    1.0
}
fn default_shrink() -> f64 {
    0.5
}
fn default_min_step() -> f64 {
    1e-8
}
fn default_sufficient() -> f64 {
    0.1
}
fn default_equilibrium_rtol() -> f64 {
    DEFAULT_EQUILIBRIUM_RTOL
}

impl Default for EscapeSpec {
    fn default() -> Self {
        EscapeSpec {
            auto: false,
            max: default_max(),
            step: default_step(),
            shrink: default_shrink(),
            min_step: default_min_step(),
            sufficient: default_sufficient(),
            equilibrium_rtol: default_equilibrium_rtol(),
        }
    }
}

impl EscapeSpec {
    /// Whether this is the default (then the scenario leaves the key out).
    pub fn is_default(&self) -> bool {
        *self == EscapeSpec::default()
    }

    /// Checks every parameter, naming the field (`escape.max`, `escape.shrink`, …).
    pub fn validate(&self) -> Result<()> {
        if self.max > 1000 {
            return Err(Error::invalid(
                "escape.max",
                format!("{} escapes is more than the limit of 1000", self.max),
            ));
        }
        crate::error::positive("escape.step", self.step)?;
        crate::error::positive("escape.min_step", self.min_step)?;
        if self.min_step > self.step {
            return Err(Error::invalid(
                "escape.min_step",
                format!(
                    "{} is larger than escape.step = {}",
                    self.min_step, self.step
                ),
            ));
        }
        crate::error::positive("escape.shrink", self.shrink)?;
        if self.shrink >= 1.0 {
            return Err(Error::invalid(
                "escape.shrink",
                format!("must be in (0, 1), got {}", self.shrink),
            ));
        }
        crate::error::non_negative("escape.sufficient", self.sufficient)?;
        if self.sufficient >= 1.0 {
            return Err(Error::invalid(
                "escape.sufficient",
                format!("must be in [0, 1), got {}", self.sufficient),
            ));
        }
        crate::error::positive("escape.equilibrium_rtol", self.equilibrium_rtol)?;
        Ok(())
    }
}

/// A successful escape: `θ₀' = θ* + Σ_α κ_α ∇_θ g_α(θ*)` with `C(θ₀') < C(θ*)` (4.15)–(4.17).
///
/// The payload of a trace's `escape` event: its fields are the event's keys. The vectors may be
/// empty in the events a frame carries to the page (see `Event::without_vectors`), never in a
/// trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscapeStep {
    /// `C(θ*)`.
    pub cost_before: f64,
    /// `C(θ₀')`, always `< cost_before`.
    pub cost_after: f64,
    /// `r = rank D` at `θ*`.
    pub rank: usize,
    /// The chosen columns `α₁..α_r`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alphas: Vec<usize>,
    /// `κ_α` (4.16): `θ₀' − θ* = Σ_α κ_α ∇_θ g_α(θ*)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kappa: Vec<f64>,
    /// `(θ₀' − θ*)/|θ₀' − θ*|`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub direction: Vec<f64>,
    /// `θ*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub theta_before: Vec<f64>,
    /// `|θ₀' − θ*|`, the accepted backtracking length.
    pub step: f64,
    /// The minimal Rayleigh quotient `vᵀHv/vᵀv` on `span{∇_θ g_α}` (`< 0`).
    pub rayleigh: f64,
    /// The second-order prediction `½ λ_min t²` of the change of `C` (plus `t⟨∇_θC, v⟩`).
    pub predicted_change: f64,
    /// Trial lengths tried.
    pub trials: u32,
    /// What the point was.
    pub point: PointKind,
    /// `K − r` (normal rank), the dimension of `M_crit`.
    pub dimension: usize,
}

impl EscapeStep {
    /// `θ₀' = θ* + step · direction`, where the flow resumes: bit for bit the point whose cost
    /// was measured (`direction` carries the sign, so the product is the step's own).
    pub fn theta_after(&self) -> Vec<f64> {
        self.theta_before
            .iter()
            .zip(&self.direction)
            .map(|(a, d)| a + self.step * d)
            .collect()
    }
}

/// A failed escape attempt: no normal direction lowers the cost.
///
/// The payload of a trace's `no_escape` event: its fields are the event's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoEscape {
    /// `C(θ*)`.
    pub cost: f64,
    /// `r = rank D` at `θ*`.
    pub rank: usize,
    /// What the point was.
    pub point: PointKind,
    /// The minimal Rayleigh quotient on `span{∇_θ g_α}`, if there are normals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rayleigh_min: Option<f64>,
}

/// The outcome of an escape attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Escape {
    /// The cost fell: the flow resumes at [`EscapeStep::theta_after`].
    Escaped(EscapeStep),
    /// Nothing was changed.
    NoEscape {
        /// Where the attempt was made.
        at: NoEscape,
        /// A plain sentence saying why nothing lowered the cost.
        reason: String,
    },
}

/// Attempts the escape step (4.15)–(4.17) at `θ*`.
///
/// The direction is the unit `v ∈ span{∇_θ g_α}` of least Rayleigh quotient `λ = vᵀHv`: at an
/// equilibrium `∇_θC = 0`, so `C(θ* + tv) − C(θ*) = ½λt² + O(t³)` whatever the sign of `t`, and
/// only `λ < 0` can lower the cost. If `λ ≥ −RAYLEIGH_RTOL·max|λ_i|` no normal perturbation lowers
/// the cost at second order: the result is [`Escape::NoEscape`], never a faked step. Otherwise
/// trial lengths `t = step, step·shrink, … ≥ min_step` are tried, each with both signs (the
/// sign of `κ` goes with the third-order term), and the first with
/// `C ≤ C(θ*) − sufficient·½|λ|t²` is taken.
///
/// Errors: non-finite state, failed decompositions, or invalid `spec` (named `escape.*`).
pub fn attempt(
    model: &Model,
    theta: &[f64],
    rank_rtol: f64,
    spec: &EscapeSpec,
) -> Result<(CriticalSubmanifold, Escape)> {
    spec.validate()?;
    let cm = CriticalSubmanifold::at(model, theta, rank_rtol)?;
    // A rest point at full rank QN is a trapping region whatever ρ is (Prop 3.1, Lemma 3.2).
    let kind = classify(
        cm.grad_x_norm,
        cm.proj_grad_norm,
        cm.rank,
        cm.k,
        cm.qn,
        true,
        spec.equilibrium_rtol,
    );
    let fail = |reason: String, cm: &CriticalSubmanifold| Escape::NoEscape {
        at: NoEscape {
            cost: cm.cost,
            rank: cm.rank,
            point: kind,
            rayleigh_min: cm.min_rayleigh(),
        },
        reason,
    };
    if kind == PointKind::GlobalMinimum {
        let out = fail(
            "∇ₓC = 0: a global minimum, nothing to escape from".into(),
            &cm,
        );
        return Ok((cm, out));
    }
    let (Some(lam), Some(v)) = (cm.min_rayleigh(), cm.min_direction()) else {
        let out = fail(
            "D = 0 (rank 0): there are no columns V_α and no normal bundle".into(),
            &cm,
        );
        return Ok((cm, out));
    };
    let scale = cm.rayleigh.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    if lam >= -RAYLEIGH_RTOL * scale {
        let what = if cm.dimension == 0 {
            "the normals span R^K: a local minimum at second order"
        } else {
            "M_crit is transversally minimal here"
        };
        let out = fail(
            format!(
                "no normal perturbation lowers the cost: the Hessian on span{{∇g_α}} is positive \
                 semidefinite (min Rayleigh quotient {lam:.3e}); {what}"
            ),
            &cm,
        );
        return Ok((cm, out));
    }
    let c0 = cm.cost;
    let grad = crate::math::hessian::gradient(model, theta)?;
    let slope = linalg::dot(&grad, &v);
    let mut t = spec.step;
    let mut trials = 0u32;
    let mut trial = vec![0.0; theta.len()];
    while t >= spec.min_step {
        trials += 1;
        let mut best: Option<(f64, f64)> = None;
        for sign in [1.0, -1.0] {
            for ((o, th), vi) in trial.iter_mut().zip(theta).zip(&v) {
                *o = th + sign * t * vi;
            }
            let c = model.cost(&trial);
            if c.is_finite() && best.is_none_or(|(_, cb)| c < cb) {
                best = Some((sign, c));
            }
        }
        if let Some((sign, c)) = best {
            if c < c0 && c <= c0 - spec.sufficient * 0.5 * lam.abs() * t * t {
                let delta: Vec<f64> = v.iter().map(|vi| sign * t * vi).collect();
                let kappa = cm.kappa_of(&delta);
                let direction: Vec<f64> = v.iter().map(|vi| sign * vi).collect();
                let step = EscapeStep {
                    theta_before: theta.to_vec(),
                    cost_before: c0,
                    cost_after: c,
                    rank: cm.rank,
                    alphas: cm.alphas.clone(),
                    kappa,
                    direction,
                    step: t,
                    rayleigh: lam,
                    predicted_change: 0.5 * lam * t * t + sign * t * slope,
                    trials,
                    point: kind,
                    dimension: cm.dimension,
                };
                return Ok((cm, Escape::Escaped(step)));
            }
        }
        t *= spec.shrink;
    }
    let out = fail(
        format!(
            "the Hessian has negative curvature {lam:.3e} on span{{∇g_α}}, but no trial length in \
             [{:.1e}, {:.1e}] lowered the cost enough (higher-order terms dominate)",
            spec.min_step, spec.step
        ),
        &cm,
    );
    Ok((cm, out))
}

// ---------------------------------------------------------------------------------------------
// The 2-D cost slice for the page

/// `C` on the plane through `θ*` spanned by two directions (e.g. a normal and a tangent vector of
/// `M_crit`): `C(θ* + a·u + b·w)` on a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostSlice {
    /// `θ*`.
    pub center: Vec<f64>,
    /// First direction `u` (unit), the horizontal axis.
    pub u: Vec<f64>,
    /// Second direction `w`: `w` minus its component along `u`, normalized; the vertical axis.
    pub w: Vec<f64>,
    /// Grid coordinates `a_i` along `u`, ascending.
    pub a: Vec<f64>,
    /// Grid coordinates `b_j` along `w`, ascending.
    pub b: Vec<f64>,
    /// `cost[j·a.len() + i] = C(θ* + a_i u + b_j w)` (row `j` is one `b`), non-finite kept as NaN.
    pub cost: Vec<f64>,
    /// `C(θ*)`.
    pub center_cost: f64,
}

impl CostSlice {
    /// `(a, b)` coordinates of the projection of `θ` onto the plane (e.g. the end of an escape step).
    pub fn coords(&self, theta: &[f64]) -> (f64, f64) {
        let d: Vec<f64> = theta.iter().zip(&self.center).map(|(t, c)| t - c).collect();
        (linalg::dot(&d, &self.u), linalg::dot(&d, &self.w))
    }
}

/// Evaluates `C` on an `na × nb` grid over `[−half_a, half_a] × [−half_b, half_b]` in the plane
/// through `center` spanned by `u` and `w` (orthonormalized: `u` first).
///
/// Errors: lengths other than `K` or non-finite input (named `center`, `u`, `w`), `u` zero or `w`
/// parallel to `u` (named `w`), grid sizes below 2 or above 400 (named `na`/`nb`), a non-positive
/// half width (named `half_a`/`half_b`).
#[allow(clippy::too_many_arguments)]
pub fn cost_slice(
    model: &Model,
    center: &[f64],
    u: &[f64],
    w: &[f64],
    half_a: f64,
    half_b: f64,
    na: usize,
    nb: usize,
) -> Result<CostSlice> {
    model.net.check_theta(center, "center")?;
    model.net.check_theta(u, "u")?;
    model.net.check_theta(w, "w")?;
    crate::error::positive("half_a", half_a)?;
    crate::error::positive("half_b", half_b)?;
    for (name, n) in [("na", na), ("nb", nb)] {
        if !(2..=400).contains(&n) {
            return Err(Error::invalid(
                name,
                format!("grid size must be in 2..=400, got {n}"),
            ));
        }
    }
    let un = linalg::norm(u);
    if un == 0.0 {
        return Err(Error::invalid("u", "is the zero vector"));
    }
    let u: Vec<f64> = u.iter().map(|v| v / un).collect();
    let w_in = linalg::norm(w);
    let wu = linalg::dot(w, &u);
    let w: Vec<f64> = w.iter().zip(&u).map(|(a, b)| a - wu * b).collect();
    let wn = linalg::norm(&w);
    if wn == 0.0 || wn <= 1e-12 * w_in {
        return Err(Error::invalid(
            "w",
            "is parallel to u: the slice needs a plane",
        ));
    }
    let w: Vec<f64> = w.iter().map(|v| v / wn).collect();
    let grid = |half: f64, n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| -half + 2.0 * half * i as f64 / (n - 1) as f64)
            .collect()
    };
    let a = grid(half_a, na);
    let b = grid(half_b, nb);
    let mut cost = Vec::with_capacity(na * nb);
    let mut th = vec![0.0; center.len()];
    for &bj in &b {
        for &ai in &a {
            for (i, t) in th.iter_mut().enumerate() {
                *t = center[i] + ai * u[i] + bj * w[i];
            }
            let c = model.cost(&th);
            cost.push(if c.is_finite() { c } else { f64::NAN });
        }
    }
    Ok(CostSlice {
        center: center.to_vec(),
        u,
        w,
        a,
        b,
        cost,
        center_cost: model.cost(center),
    })
}

// ---------------------------------------------------------------------------------------------
// Trapping regions (Prop 3.1)

/// The scenario key `trap`: report trapping regions of the standard flow (Prop 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrapSpec {
    /// `ε` of (3.5): samples with `ρ = |Dᵀ∇ₓC|/|∇ₓC| < ε` are inside the region `U`.
    pub rho_below: f64,
}

impl TrapSpec {
    /// Checks `rho_below ∈ (0, 1]`, naming `trap.rho_below`.
    pub fn validate(&self) -> Result<()> {
        crate::error::positive("trap.rho_below", self.rho_below)?;
        Ok(())
    }
}

/// One stay of the orbit in `U = {ρ < ε}`, measured on the recorded samples, with the lower bound
/// of Prop 3.1 on its duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrapInterval {
    /// First sample inside (`s₀ = inf I`).
    pub s_enter: f64,
    /// Last sample inside.
    pub s_exit: f64,
    /// Measured `|I| = s_exit − s_enter`.
    pub measured: f64,
    /// Prop 3.1 (3.7): `N L_U / (|x̲(s₀) − y̲| ε) ≤ |I|`.
    pub bound: f64,
    /// The same bound with `ε` replaced by the largest `ρ` measured inside (`rho_max`): sharper,
    /// and still a bound, since the proof only needs `ρ ≤ ε` along the orbit.
    pub bound_rho_max: f64,
    /// Arc length `L_U = ∫_I |∂ₛθ| ds = ∫_I ρ|∇ₓC| ds` (standard flow), trapezoidal on the samples.
    pub arc_length: f64,
    /// `|x̲(s₀) − y̲| = N|∇ₓC(s₀)|`.
    pub entry_distance: f64,
    /// `ε`.
    pub rho_below: f64,
    /// Largest `ρ` seen inside.
    pub rho_max: f64,
    /// Smallest `rank D` seen inside (full rank `QN` is the case of Prop 3.1); `rank` in JSON.
    #[serde(rename = "rank")]
    pub rank_min: usize,
    /// Whether the orbit left `U` (false: still inside when the run ended).
    pub left: bool,
}

/// Follows the recorded samples of a standard-flow run and closes a [`TrapInterval`] whenever the
/// orbit leaves `U = {ρ < ε}`.
#[derive(Debug, Clone)]
pub struct TrapTracker {
    eps: f64,
    n: usize,
    open: Option<TrapInterval>,
    last: Option<(f64, f64)>,
}

impl TrapTracker {
    /// Tracks `U = {ρ < eps}` for `n` samples.
    pub fn new(eps: f64, n: usize) -> Self {
        TrapTracker {
            eps,
            n,
            open: None,
            last: None,
        }
    }

    /// Feeds the next recorded sample; returns the interval it closed, if any.
    pub fn feed(&mut self, smp: &Sample) -> Option<TrapInterval> {
        let speed = smp.rho * smp.grad_x_norm;
        let inside = smp.grad_x_norm > 0.0 && smp.rho < self.eps;
        let mut closed = None;
        match (&mut self.open, inside) {
            (Some(iv), true) => {
                if let Some((s0, v0)) = self.last {
                    iv.arc_length += 0.5 * (v0 + speed) * (smp.s - s0);
                }
                iv.s_exit = smp.s;
                iv.rho_max = iv.rho_max.max(smp.rho);
                iv.rank_min = iv.rank_min.min(smp.rank);
            }
            (Some(_), false) => {
                let mut iv = self.open.take().expect("open interval");
                iv.left = true;
                closed = Some(self.finish(iv));
            }
            (None, true) => {
                self.open = Some(TrapInterval {
                    s_enter: smp.s,
                    s_exit: smp.s,
                    measured: 0.0,
                    bound: 0.0,
                    bound_rho_max: 0.0,
                    arc_length: 0.0,
                    entry_distance: self.n as f64 * smp.grad_x_norm,
                    rho_below: self.eps,
                    rho_max: smp.rho,
                    rank_min: smp.rank,
                    left: false,
                });
            }
            (None, false) => {}
        }
        self.last = Some((smp.s, speed));
        closed
    }

    /// Closes an interval still open at the end of a run.
    pub fn close(&mut self) -> Option<TrapInterval> {
        let iv = self.open.take()?;
        Some(self.finish(iv))
    }

    fn finish(&self, mut iv: TrapInterval) -> TrapInterval {
        iv.measured = iv.s_exit - iv.s_enter;
        let bound = |eps: f64| {
            if iv.entry_distance > 0.0 && eps > 0.0 {
                self.n as f64 * iv.arc_length / (iv.entry_distance * eps)
            } else {
                0.0
            }
        };
        iv.bound = bound(self.eps);
        iv.bound_rho_max = bound(iv.rho_max);
        iv
    }
}

/// Every stay in `U = {ρ < eps}` along recorded samples of the standard flow (see [`TrapTracker`]).
pub fn trapping_intervals(samples: &[Sample], n: usize, eps: f64) -> Vec<TrapInterval> {
    let mut tr = TrapTracker::new(eps, n);
    let mut out: Vec<TrapInterval> = samples.iter().filter_map(|s| tr.feed(s)).collect();
    out.extend(tr.close());
    out
}

// ---------------------------------------------------------------------------------------------
// Rank formulas of Section 2.1

/// The scenario key `rank_formula`: the rank of `D[θ₀]` that a formula of the paper (Section 2.1)
/// predicts, to be shown beside the measured rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankFormula {
    /// The formula as the paper states it, e.g. `JQ (2.39)`.
    pub formula: String,
    /// Its value for this scenario.
    pub paper: usize,
    /// Why a measurement may differ (shown when it does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The trace key `rank_formula`: the paper's value next to the measured `rank D[θ₀]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankCheck {
    /// The formula, as in the scenario.
    pub formula: String,
    /// Its value.
    pub paper: usize,
    /// `rank D[θ₀]` with the trace's `rank_rtol`.
    pub measured: usize,
    /// `measured == paper`.
    pub agrees: bool,
    /// The scenario's explanation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RankFormula {
    /// Compares with a measured rank.
    pub fn check(&self, measured: usize) -> RankCheck {
        RankCheck {
            formula: self.formula.clone(),
            paper: self.paper,
            measured,
            agrees: measured == self.paper,
            note: self.note.clone(),
        }
    }
}

/// The slice of [`cost_slice`] that the page shows at an equilibrium: through `theta_star`,
/// spanned by a normal direction of `M_crit` and a tangent one, `n × n` points, half width `half`
/// along both.
///
/// `normal` defaults to the direction of least Rayleigh quotient on `span{∇_θ g_α}` (the escape
/// direction), or the first normal vector if the normals vanish; pass an escape event's
/// `direction` to get exactly its plane. The tangent is [`CriticalSubmanifold::tangent`] with
/// `seed`, made orthogonal to `normal` as well.
///
/// Errors: as [`CriticalSubmanifold::at`] and [`cost_slice`]; `normal` of the wrong length (named
/// `normal`); no normal or no tangent direction at all (named `theta_star`).
pub fn normal_tangent_slice(
    model: &Model,
    theta_star: &[f64],
    normal: Option<&[f64]>,
    rank_rtol: f64,
    half: f64,
    n: usize,
    seed: u64,
) -> Result<CostSlice> {
    model.net.check_theta(theta_star, "theta_star")?;
    let cm = CriticalSubmanifold::at(model, theta_star, rank_rtol)?;
    let u = match normal {
        Some(v) => {
            model.net.check_theta(v, "normal")?;
            v.to_vec()
        }
        None => cm
            .min_direction()
            .or_else(|| cm.normal_unit(0))
            .ok_or_else(|| {
                Error::invalid(
                    "theta_star",
                    "D = 0 here: there are no normal vectors to slice along",
                )
            })?,
    };
    let w = cm.tangent(seed).ok_or_else(|| {
        Error::invalid(
            "theta_star",
            "the normal vectors span R^K here: M_crit is a point, there is no tangent direction",
        )
    })?;
    cost_slice(model, theta_star, &u, &w, half, half, n, n)
}
