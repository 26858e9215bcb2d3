//! The SVD of a wide Jacobian kept in factored form, for solves: `Dᵀ = Q R` (Householder, `Q`
//! never formed) and `R = U_R Σ V_Rᵀ`, so that `D = V_R Σ (Q U_R)ᵀ`.
//!
//! What a rank-deficient adapted field needs at each evaluation is `σ`, the left singular vectors
//! of `D` (`V_R`, for the rank decision's `u_iᵀ∇ₓC` and the projection) and `D_r⁺g =
//! Q U_{R,r} Σ_r⁻¹ V_{R,r}ᵀ g` — one application of `Q` to a vector. The `K × QN` θ-side factor
//! `Q U_R` that [`super::svd::JacobianSvd`] forms costs as much as the factorization itself and is
//! not needed for it. The computation is the same as `JacobianSvd`'s (QR, then the SVD of `R`),
//! so the field is the same to rounding, and `D·D_r⁺g = 𝒫_r g` to `ε·σ_max·|D_r⁺g|`: backward
//! stable. (Forming `D_r⁺g` as `Dᵀ U_r Σ_r⁻² U_rᵀ g` would be cheaper still, but its rounding
//! error `ε·σ_max·|g|/σ_r²` reaches the output: on the M network at init scale 1 it made
//! `|D·D_r⁺g|` 17× `|∇ₓC|`.)

use super::numerical_rank;
use crate::error::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::{
    qr_in_place, qr_in_place_scratch, recommended_block_size,
};
use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
use faer::{Conj, Mat, Par};
use nalgebra::DMatrix;

/// The SVD of `D = dtᵀ` (`dt ∈ R^{K×QN}`, `K ≥ QN`) with `Q` kept as Householder reflectors.
#[derive(Debug, Clone)]
pub struct WideSvd {
    /// `R` in the upper triangle, the Householder vectors below it (`K × QN`).
    qr: Mat<f64>,
    /// The block reflectors' triangular factors (`block × QN`).
    coeff: Mat<f64>,
    /// Singular values of `D`, descending (`QN` of them).
    pub sigma: Vec<f64>,
    /// Left singular vectors of `R` (`QN × QN`), in the order of `sigma`.
    u_r: DMatrix<f64>,
    /// Right singular vectors of `R` = left singular vectors of `D` (`QN × QN`).
    output_vecs: DMatrix<f64>,
    rank: usize,
}

impl WideSvd {
    /// Factors `D = dtᵀ` and decides the rank with relative tolerance `rtol`.
    ///
    /// Errors: [`Error::Invalid`] when `K < QN` (use [`super::svd::JacobianSvd`]); a non-finite
    /// entry ([`Error::NonFinite`]); an SVD that does not converge.
    pub fn new(dt: &DMatrix<f64>, rtol: f64) -> Result<Self> {
        let mut svd = WideSvd::empty();
        svd.refactor(dt, rtol)?;
        Ok(svd)
    }

    /// A factorization of nothing yet (buffers for [`Self::refactor`]).
    pub fn empty() -> Self {
        WideSvd {
            qr: Mat::new(),
            coeff: Mat::new(),
            sigma: vec![],
            u_r: DMatrix::zeros(0, 0),
            output_vecs: DMatrix::zeros(0, 0),
            rank: 0,
        }
    }

    /// Like [`Self::new`], reusing this factorization's buffers (the `K × QN` copy of `Dᵀ` is the
    /// largest allocation of a field evaluation; a fresh one costs page faults each time).
    ///
    /// Errors: as [`Self::new`]; the previous factorization is gone either way.
    pub fn refactor(&mut self, dt: &DMatrix<f64>, rtol: f64) -> Result<()> {
        let (k, qn) = dt.shape();
        self.sigma.clear();
        self.rank = 0;
        if k < qn {
            return Err(Error::invalid(
                "D",
                format!("the wide factorization needs K ≥ QN, got K = {k}, QN = {qn}"),
            ));
        }
        if let Some(i) = dt.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "Jacobian entry {i} is {}",
                dt.as_slice()[i]
            )));
        }
        let par = Par::Seq;
        let bs = recommended_block_size::<f64>(k, qn).max(1);
        if self.qr.shape() != (k, qn) {
            self.qr = Mat::zeros(k, qn);
        }
        self.qr
            .copy_from(faer::MatRef::from_column_major_slice(dt.as_slice(), k, qn));
        if self.coeff.shape() != (bs, qn) {
            self.coeff = Mat::zeros(bs, qn);
        }
        if self.u_r.shape() != (qn, qn) {
            self.u_r = DMatrix::zeros(qn, qn);
            self.output_vecs = DMatrix::zeros(qn, qn);
        }
        let mut sigma = faer::diag::Diag::<f64>::zeros(qn);
        if qn > 0 {
            let req = StackReq::any_of(&[
                qr_in_place_scratch::<f64>(k, qn, bs, par, Default::default()),
                svd_scratch::<f64>(
                    qn,
                    qn,
                    ComputeSvdVectors::Thin,
                    ComputeSvdVectors::Thin,
                    par,
                    Default::default(),
                ),
            ]);
            let mut mem = MemBuffer::new(req);
            qr_in_place(
                self.qr.as_mut(),
                self.coeff.as_mut(),
                par,
                MemStack::new(&mut mem),
                Default::default(),
            );
            let mut r = Mat::<f64>::zeros(qn, qn);
            for j in 0..qn {
                for i in 0..=j {
                    r[(i, j)] = self.qr[(i, j)];
                }
            }
            svd(
                r.as_ref(),
                sigma.as_mut(),
                Some(faer::MatMut::from_column_major_slice_mut(
                    self.u_r.as_mut_slice(),
                    qn,
                    qn,
                )),
                Some(faer::MatMut::from_column_major_slice_mut(
                    self.output_vecs.as_mut_slice(),
                    qn,
                    qn,
                )),
                par,
                MemStack::new(&mut mem),
                Default::default(),
            )
            .map_err(|_| Error::NonFinite("the SVD of the Jacobian did not converge".into()))?;
        }
        self.sigma.extend((0..qn).map(|i| sigma[i]));
        if self.sigma.iter().any(|s| !s.is_finite()) {
            self.sigma.clear();
            return Err(Error::NonFinite(
                "the SVD of the Jacobian did not converge".into(),
            ));
        }
        self.rank = numerical_rank(&self.sigma, rtol);
        Ok(())
    }

    /// Numerical rank: the number of `σ_i > rtol·σ_max`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of exactly positive singular values (the largest rank a solve accepts).
    pub fn positive(&self) -> usize {
        self.sigma.iter().take_while(|&&s| s > 0.0).count()
    }

    /// `u_iᵀ g` for every left singular vector `u_i` of `D` (in the order of `sigma`).
    pub fn output_coordinates(&self, g: &[f64]) -> Vec<f64> {
        self.output_vecs
            .column_iter()
            .map(|c| c.iter().zip(g).map(|(a, b)| a * b).sum())
            .collect()
    }

    /// `Q [y; 0] ∈ R^K` for `y ∈ R^{QN}`.
    fn apply_q(&self, y: &[f64]) -> Vec<f64> {
        let (k, qn) = self.qr.shape();
        let mut x = Mat::<f64>::zeros(k, 1);
        for (i, yi) in y.iter().enumerate().take(qn) {
            x[(i, 0)] = *yi;
        }
        if qn > 0 {
            let mut mem = MemBuffer::new(
                apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
                    k,
                    self.coeff.nrows(),
                    1,
                ),
            );
            apply_block_householder_sequence_on_the_left_in_place_with_conj(
                self.qr.as_ref(),
                self.coeff.as_ref(),
                Conj::No,
                x.as_mut(),
                Par::Seq,
                MemStack::new(&mut mem),
            );
        }
        (0..k).map(|i| x[(i, 0)]).collect()
    }

    /// `D_r⁺ g ∈ R^K`: the `r` largest singular values kept (`r` clamped to [`Self::positive`]).
    pub fn pinv_apply_rank(&self, g: &[f64], r: usize) -> Vec<f64> {
        let r = r.min(self.positive());
        let qn = self.sigma.len();
        let mut y = vec![0.0; qn];
        for i in 0..r {
            let v = self.output_vecs.column(i);
            let c = v.iter().zip(g).map(|(a, b)| a * b).sum::<f64>() / self.sigma[i];
            for (yi, ui) in y.iter_mut().zip(self.u_r.column(i).iter()) {
                *yi += c * ui;
            }
        }
        self.apply_q(&y)
    }

    /// The right singular vector `Q U_R e_i ∈ R^K` of `D` for `σ_i` (`None` past `QN`).
    pub fn theta_vector(&self, i: usize) -> Option<Vec<f64>> {
        (i < self.sigma.len()).then(|| {
            let y: Vec<f64> = self.u_r.column(i).iter().copied().collect();
            self.apply_q(&y)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::svd::JacobianSvd;

    #[test]
    fn the_factored_svd_is_the_thin_one() {
        // A wide D of rank 9 < QN = 14 with spread singular values: the same σ, the same D_r⁺g
        // and θ-side vectors as the thin SVD (to rounding), and D·D_r⁺g = 𝒫_r g.
        let mut rng = crate::rng::Rng::new(11);
        let (k, qn, rank) = (50, 14, 9);
        let a = DMatrix::from_fn(k, rank, |_, _| rng.normal());
        let b = DMatrix::from_fn(rank, qn, |i, _| rng.normal() * 10f64.powi(-(i as i32)));
        let dt = a * b;
        let wide = WideSvd::new(&dt, 1e-10).unwrap();
        let thin = JacobianSvd::new(&dt, 1e-10).unwrap();
        assert_eq!(wide.rank(), rank);
        assert_eq!(wide.rank(), thin.rank());
        let smax = thin.sigma_max();
        for (x, y) in wide.sigma.iter().zip(&thin.sigma) {
            assert!((x - y).abs() <= 1e-13 * smax, "σ {x} vs {y}");
        }
        let g: Vec<f64> = (0..qn).map(|_| rng.normal()).collect();
        let v = wide.pinv_apply_rank(&g, rank);
        let v_ref = thin.pinv_apply_rank(&g, rank);
        let kappa = smax / thin.sigma[rank - 1];
        let err = crate::linalg::max_rel_diff(&v, &v_ref);
        assert!(
            err <= 1e2 * f64::EPSILON * kappa,
            "D_r⁺g: {err:e}, κ_r {kappa:e}"
        );
        let dv = dt.tr_mul(&nalgebra::DVector::from_column_slice(&v));
        let p = thin.project_output_rank(&g, rank);
        let res = dv
            .iter()
            .zip(&p)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let vnorm = crate::linalg::norm(&v);
        assert!(
            res <= 1e2 * f64::EPSILON * smax * vnorm,
            "|D·D_r⁺g − 𝒫g| = {res:e}"
        );
        for i in 0..rank {
            let t = wide.theta_vector(i).unwrap();
            let t_ref: Vec<f64> = thin.theta_vectors().column(i).iter().copied().collect();
            let dot: f64 = t.iter().zip(&t_ref).map(|(a, b)| a * b).sum();
            assert!(
                (dot.abs() - 1.0).abs() <= 1e-10 * kappa,
                "v_{i}: |⟨v, v_ref⟩| = {dot}"
            );
        }
        assert!(WideSvd::new(&dt.transpose(), 1e-10).is_err());
    }
}
