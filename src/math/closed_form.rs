//! The closed forms of the paper, written independently of the SVD path so that tests can
//! check that the single `D⁺` solve agrees with each of them where it applies.

use crate::error::{Error, Result};
use crate::linalg;
use nalgebra::{DMatrix, DVector};

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
