//! The Gram route of the adapted field where `D` has lost rank: the symmetric eigendecomposition
//! of the structured NTK `DDᵀ = U Λ Uᵀ` (`QN × QN`, while `D` is `QN × K`) gives `σ_i² = λ_i` and
//! the left singular vectors `u_i` of `D`, which is what the rank policy decides on (`σ` and
//! `u_iᵀ∇ₓC`) and what the field projects with: `D_r⁺g = Dᵀ U_r Λ_r⁻¹ U_rᵀ g` (one backprop).
//!
//! **Where it is accurate.** The NTK as assembled and its eigendecomposition are backward stable:
//! each `λ_i` carries an absolute error of about `c·ε·λ_max`, with `c ≤ QN` for the assembly's
//! sums (taken as the bound, [`lambda_error`]). So `σ_i = √λ_i` has relative error
//! `≤ QN·ε·σ_max²/(2σ_i²)`, and a `σ = 0` direction shows as `σ ≲ √(QN·ε)·σ_max` (M: `3e-7`).
//! Rank decisions compare `σ_i` with `rank_rtol·σ_max` and the band's top `RANK_BAND·rank_rtol·σ_max`;
//! they are the SVD's (up to `σ_i` within `1/(2·GRAM_MARGIN)` relative of a threshold) when
//! `rank_rtol ≥ √(GRAM_MARGIN·QN·ε)` ([`rtol_floor`]; `3e-6` at `QN = 400`): then every `σ_i` the
//! policy counts has `λ_i ≥ GRAM_MARGIN·QN·ε·λ_max` (relative error `≤ 0.5%` in `σ_i`), and the
//! rounding of a vanishing one stays below `rank_rtol·σ_max/10`. Below that floor (the default
//! `rank_rtol = 1e-10` included) the Gram cannot tell the band from rounding, and the field falls
//! back to the SVD of `D`.
//!
//! **Accuracy of the field.** The Gram squares the condition number: the field's error is about
//! `ε·κ_r²·|D_r⁺g|` with `κ_r = σ_max/σ_r` of the smallest kept singular value, against `ε·κ_r`
//! for the SVD. The solve is accepted only when the output-space residual `|U_rU_rᵀg − Dv|`,
//! computed through the network, is at most `max(ACCEPT_RESIDUAL, ACCEPT_FLOOR·ε·κ_r²)·|g|`.

use crate::linalg;
use crate::math::fast::{Fallback, SolveInfo, SolvePath, ACCEPT_FLOOR, ACCEPT_RESIDUAL};
use crate::math::net::{Forward, Mlp};
use crate::math::ntk::Derivs;
use nalgebra::DMatrix;

/// Safety factor between the Gram's rounding of `λ` and the smallest `λ` it decides on.
pub const GRAM_MARGIN: f64 = 100.0;

/// Absolute error bound of the NTK's eigenvalues: `QN·ε·λ_max`.
pub fn lambda_error(qn: usize, lambda_max: f64) -> f64 {
    qn as f64 * f64::EPSILON * lambda_max
}

/// The smallest `rank_rtol` for which the Gram route decides ranks: `√(GRAM_MARGIN·QN·ε)`.
pub fn rtol_floor(qn: usize) -> f64 {
    (GRAM_MARGIN * qn as f64 * f64::EPSILON).sqrt()
}

/// The spectrum the Gram route found at the current point, for the rank policy.
#[derive(Debug, Clone, Default)]
pub struct GramSolver {
    ntk: Vec<f64>,
    /// Singular values of `D`, descending (`√λ_i`, negative rounding clamped to 0; `QN` of them).
    pub sigma: Vec<f64>,
    /// `u_iᵀg` in the order of `sigma`.
    pub ug: Vec<f64>,
    vecs: DMatrix<f64>,
    a: Vec<f64>,
    /// `v = D_r⁺g` (`K`).
    pub v: Vec<f64>,
    /// `Dv` (`QN`).
    pub dv: Vec<f64>,
    /// Rank used `r` and the numerical rank of the last solve.
    pub rank: (usize, usize),
}

impl GramSolver {
    /// `v = D_r⁺g` with `r` the numerical rank at `rank_rtol`, or `fixed` (a rank the policy
    /// froze). Needs `derivs` prepared at this point.
    ///
    /// Errors: [`Fallback::GramUnresolved`] when `rank_rtol` is below [`rtol_floor`] or a kept
    /// `λ` is below `GRAM_MARGIN·`[`lambda_error`]; [`Fallback::Residual`] when the output
    /// residual misses the threshold; each with the partial [`SolveInfo`].
    #[allow(clippy::too_many_arguments)]
    pub fn solve(
        &mut self,
        derivs: &mut Derivs,
        net: &Mlp,
        theta: &[f64],
        fw: &Forward,
        g: &[f64],
        rank_rtol: f64,
        fixed: Option<usize>,
    ) -> Result<SolveInfo, (Fallback, SolveInfo)> {
        let qn = g.len();
        let mut info = SolveInfo {
            path: SolvePath::Gram,
            ..SolveInfo::default()
        };
        if rank_rtol < rtol_floor(qn) {
            return Err((Fallback::GramUnresolved, info));
        }
        derivs.ntk_lower(net, theta, fw, &mut self.ntk);
        let full = DMatrix::from_fn(qn, qn, |i, j| {
            let (i, j) = if i >= j { (i, j) } else { (j, i) };
            self.ntk[j * qn + i]
        });
        let eig = full.symmetric_eigen();
        let mut order: Vec<usize> = (0..qn).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let lambda: Vec<f64> = order.iter().map(|&i| eig.eigenvalues[i]).collect();
        let lmax = lambda.first().copied().unwrap_or(0.0);
        if !(lmax > 0.0 && lmax.is_finite()) {
            return Err((Fallback::GramUnresolved, info));
        }
        self.sigma.clear();
        self.sigma.extend(lambda.iter().map(|l| l.max(0.0).sqrt()));
        self.vecs = DMatrix::from_fn(qn, qn, |r, c| eig.eigenvectors[(r, order[c])]);
        self.ug.clear();
        self.ug.extend(
            self.vecs
                .column_iter()
                .map(|u| linalg::dot(u.as_slice(), g)),
        );
        let numerical = linalg::numerical_rank(&self.sigma, rank_rtol);
        let r = fixed.unwrap_or(numerical).min(qn);
        if r > 0 && lambda[r - 1] < GRAM_MARGIN * lambda_error(qn, lmax) {
            return Err((Fallback::GramUnresolved, info));
        }
        info.kappa = if r > 0 { lmax / lambda[r - 1] } else { 1.0 };
        // a = U_r Λ_r⁻¹ U_rᵀ g, v = Dᵀa, and the projection U_rU_rᵀg to check Dv against.
        self.a.clear();
        self.a.resize(qn, 0.0);
        let mut proj = vec![0.0; qn];
        for ((u, ug), l) in self.vecs.column_iter().zip(&self.ug).zip(&lambda).take(r) {
            let c = ug / l;
            for ((a, p), ui) in self.a.iter_mut().zip(proj.iter_mut()).zip(u.iter()) {
                *a += c * ui;
                *p += ug * ui;
            }
        }
        self.v.clear();
        self.v.resize(net.k(), 0.0);
        derivs.vjp(net, theta, fw, &self.a, &mut self.v);
        self.dv.clear();
        self.dv.resize(qn, 0.0);
        derivs.jvp(net, theta, fw, &self.v, &mut self.dv);
        let gnorm = linalg::norm(g);
        let res: f64 = proj
            .iter()
            .zip(&self.dv)
            .map(|(p, d)| (p - d) * (p - d))
            .sum::<f64>()
            .sqrt();
        info.residual = if gnorm > 0.0 { res / gnorm } else { 0.0 };
        self.rank = (r, numerical);
        let threshold = ACCEPT_RESIDUAL.max(ACCEPT_FLOOR * f64::EPSILON * info.kappa);
        if info.residual.is_nan() || info.residual > threshold {
            return Err((Fallback::Residual, info));
        }
        Ok(info)
    }
}
