//! The critical submanifold `M_crit = ⋂ g_α⁻¹(0)` (4.13)–(4.14): the chosen columns of `D`, the
//! normal bundle `∇_θ g_α`, the Hessian reduced to it, tangent vectors.

use crate::error::{Error, Result};
use crate::linalg;
use crate::linalg::svd::JacobianSvd;
use crate::math::flow::Workspace;
use crate::math::hessian::SecondOrder;
use crate::math::model::Model;
use crate::rng::Rng;
use nalgebra::{DMatrix, DVector, SymmetricEigen};

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
