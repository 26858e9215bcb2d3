//! The least-squares (DAE) form of the adapted flow (4.5)–(4.11).

use super::*;
use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};

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
