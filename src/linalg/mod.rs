//! Dense linear algebra under the flows: the rank decision, small vector helpers, SPD solves,
//! the thin SVD of the Jacobian ([`svd`]), its factored form for solves on a wide `D` ([`wide`])
//! and the hand-written kernels of the fast paths ([`kernels`]).

pub mod kernels;
pub mod svd;
pub mod wide;

use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector};

/// Default relative rank tolerance on the singular values of `D`.
pub const DEFAULT_RANK_RTOL: f64 = 1e-10;

/// Factor between the two edges of the hysteresis band of rank decisions along an orbit: a
/// singular value `σ_i ≤ rank_rtol·σ_max` never counts, one above `RANK_BAND·rank_rtol·σ_max`
/// always does, and inside the band it counts as it did at the previous accepted point (see
/// `math::flow::RankPolicy`).
pub const RANK_BAND: f64 = 1e3;

/// Number of `sigma` entries above `rtol · max(sigma)`.
pub fn numerical_rank(sigma: &[f64], rtol: f64) -> usize {
    let max = sigma.iter().copied().fold(0.0, f64::max);
    if max == 0.0 {
        return 0;
    }
    sigma.iter().filter(|&&s| s > rtol * max).count()
}

/// Euclidean norm of a slice.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// Dot product of two slices of equal length.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Largest absolute entry of `a - b`, relative to the largest absolute entry of `b` (or 1).
pub fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let scale = b
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// Solves `A x = b` for symmetric positive definite `A` by Cholesky.
///
/// Errors: [`Error::Singular`] naming `what` when `A` is not numerically positive definite.
pub fn cholesky_solve(a: DMatrix<f64>, b: &DVector<f64>, what: &str) -> Result<DVector<f64>> {
    let chol = nalgebra::Cholesky::new(a).ok_or_else(|| {
        Error::Singular(format!("{what} is not positive definite (Cholesky failed)"))
    })?;
    Ok(chol.solve(b))
}
