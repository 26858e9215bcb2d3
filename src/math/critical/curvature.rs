//! The full Hessian `H = ∇²_θ C` at a point: its least eigenvalue and eigenvector, its kernel, and
//! what second order says about a rest point.
//!
//! At a rest point `∇_θC = 0`, so `C(θ* + tv) − C(θ*) = ½ t² vᵀHv + O(t³)` for a unit `v`: the cost
//! can be lowered at second order exactly when `λ_min(H) < 0`, fastest along its eigenvector. If
//! `λ_min(H) > 0` the point is a strict local minimum; if `λ_min(H) = 0` within tolerance, second
//! order cannot decide (the kernel directions need higher orders).

use crate::error::{Error, Result};
use crate::math::hessian::SecondOrder;
use crate::rng::Rng;
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};

/// Largest `K` for which the Hessian is formed (`K` Hessian–vector products) and diagonalized
/// densely; above it the least eigenvalue comes from Lanczos iterations on Hessian–vector
/// products, and the kernel's dimension is not computed.
pub const DENSE_HESSIAN_MAX_K: usize = 2000;
/// Default of `escape.kernel_rtol`: eigenvalues `|λ| ≤ kernel_rtol·max|λ_i|` count as zero.
pub const DEFAULT_KERNEL_RTOL: f64 = 1e-8;
/// Lanczos steps for `K > DENSE_HESSIAN_MAX_K` (with full reorthogonalization).
pub const LANCZOS_STEPS: usize = 300;

/// How the spectrum of `H` was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurvatureMethod {
    /// `H` formed from `K` exact Hessian–vector products, symmetrized, fully diagonalized.
    Dense,
    /// Lanczos on exact Hessian–vector products ([`LANCZOS_STEPS`] steps): the least Ritz value
    /// (an upper bound of `λ_min`, converged for the extreme end of the spectrum) and its vector.
    Lanczos,
}

/// What second order says at a rest point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// `λ_min(H) < −kernel_rtol·max|λ|`: a direction of negative curvature lowers the cost.
    NegativeCurvature,
    /// `|λ_min(H)| ≤ kernel_rtol·max|λ|`: `H` is positive semidefinite with a kernel; second
    /// order cannot decide whether the point is a minimum.
    Undecided,
    /// `λ_min(H) > kernel_rtol·max|λ|`: `H` is positive definite, a strict local minimum.
    LocalMinimum,
    /// `H ≥ 0` with a kernel that is exactly the tangent space of a manifold of equilibria: rank
    /// `D` is constant near the point (Thm 4.2), `M_crit` has dimension `K − r = dim ker H`, and
    /// `H` is positive definite across it. By the Morse–Bott lemma a local minimum (not strict:
    /// `C` is constant along `M_crit`).
    MorseBottMinimum,
    /// The point is not a rest point (`∇_θC ≠ 0`): the flow itself still lowers the cost.
    NotAtRest,
}

impl Verdict {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::NegativeCurvature => "negative_curvature",
            Verdict::Undecided => "undecided",
            Verdict::LocalMinimum => "local_minimum",
            Verdict::MorseBottMinimum => "morse_bott_minimum",
            Verdict::NotAtRest => "not_at_rest",
        }
    }
}

/// The spectrum of `H` at a point, as far as escapes need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Curvature {
    /// How it was computed.
    pub method: CurvatureMethod,
    /// `λ_min(H)` (Lanczos: the least Ritz value).
    pub min_eig: f64,
    /// A unit eigenvector of `λ_min` (sign arbitrary).
    pub min_vec: Vec<f64>,
    /// `max|λ_i|` (Lanczos: over the Ritz values), the scale of the kernel tolerance.
    pub scale: f64,
    /// Eigenvalues, ascending (Dense: all `K`; Lanczos: the Ritz values).
    pub eigenvalues: Vec<f64>,
    /// `dim ker H`: eigenvalues with `|λ| ≤ kernel_rtol·scale` (Dense only).
    pub kernel_dim: Option<usize>,
    /// Number of eigenvalues `< −kernel_rtol·scale` (Dense only): independent descent directions.
    pub negative_dim: Option<usize>,
    /// The relative tolerance of the kernel.
    pub kernel_rtol: f64,
}

impl Curvature {
    /// The spectrum of `H` at the point of `so` (see [`CurvatureMethod`] for how), with eigenvalues
    /// `|λ| ≤ kernel_rtol·max|λ|` counted as zero; `seed` starts the Lanczos iteration.
    ///
    /// Errors: `kernel_rtol` not in `(0, 1)` (named `escape.kernel_rtol`); a failed eigensolver.
    pub fn at(so: &SecondOrder, kernel_rtol: f64, seed: u64) -> Result<Self> {
        if !(kernel_rtol > 0.0 && kernel_rtol < 1.0) {
            return Err(Error::invalid(
                "escape.kernel_rtol",
                format!("must be in (0, 1), got {kernel_rtol}"),
            ));
        }
        let k = so.gradient().len();
        if k == 0 {
            return Err(Error::invalid("net", "has no parameters"));
        }
        let (method, eigenvalues, vecs) = if k <= DENSE_HESSIAN_MAX_K {
            let h = so.hessian();
            let h = (&h + h.transpose()) * 0.5;
            let eig = SymmetricEigen::try_new(h, f64::EPSILON, 100_000).ok_or_else(|| {
                Error::NonFinite("the eigensolver of the Hessian did not converge".into())
            })?;
            (CurvatureMethod::Dense, eig.eigenvalues, eig.eigenvectors)
        } else {
            let (vals, vecs) = lanczos(so, k, LANCZOS_STEPS.min(k), seed)?;
            (CurvatureMethod::Lanczos, vals, vecs)
        };
        let mut order: Vec<usize> = (0..eigenvalues.len()).collect();
        order.sort_by(|&a, &b| eigenvalues[a].total_cmp(&eigenvalues[b]));
        let sorted: Vec<f64> = order.iter().map(|&i| eigenvalues[i]).collect();
        let scale = sorted.iter().fold(0.0f64, |m, l| m.max(l.abs()));
        let tol = kernel_rtol * scale;
        let min_vec: Vec<f64> = vecs.column(order[0]).iter().copied().collect();
        let dense = method == CurvatureMethod::Dense;
        Ok(Curvature {
            method,
            min_eig: sorted[0],
            min_vec,
            scale,
            kernel_dim: dense.then(|| sorted.iter().filter(|l| l.abs() <= tol).count()),
            negative_dim: dense.then(|| sorted.iter().filter(|&&l| l < -tol).count()),
            eigenvalues: sorted,
            kernel_rtol,
        })
    }

    /// The verdict of second order at a rest point.
    pub fn verdict(&self) -> Verdict {
        let tol = self.kernel_rtol * self.scale;
        if self.min_eig < -tol {
            Verdict::NegativeCurvature
        } else if self.min_eig <= tol {
            Verdict::Undecided
        } else {
            Verdict::LocalMinimum
        }
    }
}

/// The Rayleigh quotient `vᵀHv / vᵀv` from one exact Hessian–vector product.
pub fn rayleigh(so: &SecondOrder, v: &[f64]) -> f64 {
    let hv = so.hvp(v);
    let num: f64 = v.iter().zip(&hv).map(|(a, b)| a * b).sum();
    let den: f64 = v.iter().map(|a| a * a).sum();
    num / den
}

/// `m` Lanczos steps with full reorthogonalization on `v ↦ Hv`: Ritz values and vectors (`K × m`).
fn lanczos(
    so: &SecondOrder,
    k: usize,
    m: usize,
    seed: u64,
) -> Result<(DVector<f64>, DMatrix<f64>)> {
    let mut rng = Rng::new(seed ^ 0x01A2_C205);
    let mut q = DMatrix::zeros(k, m);
    let mut v = DVector::from_fn(k, |_, _| rng.normal());
    v /= v.norm();
    let (mut alpha, mut beta) = (Vec::with_capacity(m), Vec::with_capacity(m));
    let mut steps = 0;
    for j in 0..m {
        q.set_column(j, &v);
        steps = j + 1;
        let mut w = DVector::from_vec(so.hvp(v.as_slice()));
        let a = w.dot(&v);
        alpha.push(a);
        // Full reorthogonalization (twice): the extreme Ritz pairs stay clean.
        for _ in 0..2 {
            let c = q.columns(0, j + 1).tr_mul(&w);
            w -= q.columns(0, j + 1) * c;
        }
        let b = w.norm();
        if j + 1 == m || b <= 1e-14 * a.abs().max(1.0) {
            break;
        }
        beta.push(b);
        v = w / b;
    }
    let mut t = DMatrix::zeros(steps, steps);
    for i in 0..steps {
        t[(i, i)] = alpha[i];
        if i + 1 < steps {
            t[(i, i + 1)] = beta[i];
            t[(i + 1, i)] = beta[i];
        }
    }
    let eig = SymmetricEigen::try_new(t, f64::EPSILON, 100_000)
        .ok_or_else(|| Error::NonFinite("the Lanczos eigensolver did not converge".into()))?;
    let vecs = q.columns(0, steps) * eig.eigenvectors;
    Ok((eig.eigenvalues, vecs))
}
