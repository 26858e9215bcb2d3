//! Rank-revealing solves with the Jacobian: `D⁺ g`, the output projector `𝒫`, singular values.
//!
//! One thin SVD of `D` serves every regime of the adapted flow (MATH.md, "Key fact"): singular
//! values `σ_i > rtol · σ_max` count towards the numerical rank, the rest are treated as zero.
//! We never form `(DDᵀ)⁻¹` or `(DᵀD)⁻¹` here; the closed forms of the paper live in
//! [`crate::math::flow::closed_form`] as independent checks.

use super::numerical_rank;
use crate::error::{Error, Result};
use nalgebra::DMatrix;

/// Thin SVD of a Jacobian `D ∈ R^{QN×K}`, given through its transpose, with a rank decision.
#[derive(Debug, Clone)]
pub struct JacobianSvd {
    /// Singular values of `D`, descending (`min(QN, K)` of them).
    pub sigma: Vec<f64>,
    /// Right singular vectors of `D` (in `R^K`) as columns, in the order of `sigma`.
    theta_vecs: DMatrix<f64>,
    /// Left singular vectors of `D` (in `R^{QN}`) as columns, in the order of `sigma`.
    output_vecs: DMatrix<f64>,
    rank: usize,
    rtol: f64,
}

impl JacobianSvd {
    /// Decomposes `D = dtᵀ` (`dt ∈ R^{K×QN}`) and decides the rank with relative tolerance `rtol`.
    ///
    /// Errors: a non-finite entry ([`Error::NonFinite`]) or an SVD that fails to converge.
    pub fn new(dt: &DMatrix<f64>, rtol: f64) -> Result<Self> {
        if let Some(i) = dt.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "Jacobian entry {i} is {}",
                dt.as_slice()[i]
            )));
        }
        let (k, qn) = dt.shape();
        let p = k.min(qn);
        if p == 0 {
            return Ok(JacobianSvd {
                sigma: vec![],
                theta_vecs: DMatrix::zeros(k, 0),
                output_vecs: DMatrix::zeros(qn, 0),
                rank: 0,
                rtol,
            });
        }
        // faer factors a strongly rectangular matrix by QR first, then the SVD of the small
        // triangular factor (bidiagonalization, divide and conquer); both steps backward stable.
        let (sigma, u, v) = thin_svd(dt, true, true)?;
        let theta_vecs = u.expect("requested U");
        let output_vecs = v.expect("requested V");
        let rank = numerical_rank(&sigma, rtol);
        Ok(JacobianSvd {
            sigma,
            theta_vecs,
            output_vecs,
            rank,
            rtol,
        })
    }

    /// Numerical rank: the number of `σ_i > rtol · σ_max`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The relative tolerance the rank was decided with.
    pub fn rtol(&self) -> f64 {
        self.rtol
    }

    /// `σ_max(D)` (0 for an empty matrix).
    pub fn sigma_max(&self) -> f64 {
        self.sigma.first().copied().unwrap_or(0.0)
    }

    /// Smallest of the `min(QN, K)` singular values.
    pub fn sigma_min(&self) -> f64 {
        self.sigma.last().copied().unwrap_or(0.0)
    }

    /// `λ_min(DDᵀ)`: `σ_{QN}²` when `K ≥ QN`, else 0 (then `DDᵀ` has rank at most `K < QN`).
    pub fn lambda_min_ntk(&self) -> f64 {
        let qn = self.output_vecs.nrows();
        if self.sigma.len() == qn {
            self.sigma_min().powi(2)
        } else {
            0.0
        }
    }

    /// `D⁺ g ∈ R^K` for `g ∈ R^{QN}`: the minimum-norm least-squares solution of `D v = g`.
    pub fn pinv_apply(&self, g: &[f64]) -> Vec<f64> {
        self.pinv_apply_rank(g, self.rank)
    }

    /// Number of singular values that are exactly positive: the largest `r` that
    /// [`Self::pinv_apply_rank`] and [`Self::project_output_rank`] accept.
    pub fn positive(&self) -> usize {
        self.sigma.iter().take_while(|&&s| s > 0.0).count()
    }

    /// `u_iᵀ g` for every left singular vector `u_i` (in the order of `sigma`): the coordinates
    /// of `g ∈ R^{QN}` along the singular directions, which rank decisions weigh.
    pub fn output_coordinates(&self, g: &[f64]) -> Vec<f64> {
        (0..self.sigma.len())
            .map(|i| {
                self.output_vecs
                    .column(i)
                    .iter()
                    .zip(g)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    }

    /// `D_r⁺ g`: like [`Self::pinv_apply`] with exactly the `r` largest singular values kept.
    ///
    /// The caller decides `r` (a rank policy may keep a singular value below the numerical
    /// tolerance for the length of a step); it is clamped only to [`Self::positive`].
    pub fn pinv_apply_rank(&self, g: &[f64], r: usize) -> Vec<f64> {
        let r = r.min(self.positive());
        let mut coef = vec![0.0; r];
        for (i, c) in coef.iter_mut().enumerate() {
            let dot: f64 = self
                .output_vecs
                .column(i)
                .iter()
                .zip(g)
                .map(|(a, b)| a * b)
                .sum();
            *c = dot / self.sigma[i];
        }
        let mut v = vec![0.0; self.theta_vecs.nrows()];
        for (i, c) in coef.iter().enumerate() {
            for (vi, ui) in v.iter_mut().zip(self.theta_vecs.column(i).iter()) {
                *vi += c * ui;
            }
        }
        v
    }

    /// `𝒫 g`: orthogonal projection of `g ∈ R^{QN}` onto `range D` (the numerical one).
    pub fn project_output(&self, g: &[f64]) -> Vec<f64> {
        self.project_output_rank(g, self.rank)
    }

    /// `𝒫_r g`: projection onto the span of the `r` leading left singular vectors (`r` clamped
    /// to the number of singular values).
    pub fn project_output_rank(&self, g: &[f64], r: usize) -> Vec<f64> {
        project_onto(&self.output_vecs.columns(0, r.min(self.sigma.len())), g)
    }

    /// The projector `𝒫 ∈ R^{QN×QN}` onto `range D` (1.36), formed explicitly (for tests and plots).
    pub fn output_projector(&self) -> DMatrix<f64> {
        let v = self.output_vecs.columns(0, self.rank);
        v * v.transpose()
    }

    /// The projector `P = Pen[D] D ∈ R^{K×K}` onto `range Dᵀ` (1.29), formed explicitly.
    pub fn theta_projector(&self) -> DMatrix<f64> {
        let u = self.theta_vecs.columns(0, self.rank);
        u * u.transpose()
    }

    /// `Pen[D] = D⁺ ∈ R^{K×QN}`, formed explicitly (for tests).
    pub fn pinv(&self) -> DMatrix<f64> {
        let r = self.rank;
        let mut m = DMatrix::zeros(self.theta_vecs.nrows(), self.output_vecs.nrows());
        for i in 0..r {
            let u = self.theta_vecs.column(i);
            let v = self.output_vecs.column(i);
            m.ger(1.0 / self.sigma[i], &u, &v, 1.0);
        }
        m
    }

    /// Right singular vectors of `D` (columns, in `R^K`), in the order of [`Self::sigma`].
    pub fn theta_vectors(&self) -> &DMatrix<f64> {
        &self.theta_vecs
    }

    /// Left singular vectors of `D` (columns, in `R^{QN}`), in the order of [`Self::sigma`].
    pub fn output_vectors(&self) -> &DMatrix<f64> {
        &self.output_vecs
    }
}

/// The output side of the SVD of `D` only: singular values, the rank decision and `𝒫`. What a
/// diagnostic sample needs, at a fraction of [`JacobianSvd::new`]'s cost on a wide `D`.
#[derive(Debug, Clone)]
pub struct OutputSpectrum {
    /// Singular values of `D`, descending (`min(QN, K)` of them).
    pub sigma: Vec<f64>,
    /// Left singular vectors (in `R^{QN}`, columns in the order of `sigma`) when `𝒫` projects on
    /// fewer than `QN` of them; `None` when it is the identity.
    output_vecs: Option<DMatrix<f64>>,
    qn: usize,
    rank: usize,
    used: usize,
}

impl OutputSpectrum {
    /// Singular values and `𝒫` of `D = dtᵀ` with relative rank tolerance `rtol`.
    ///
    /// The θ-side singular vectors (`K × min(QN, K)`, what makes [`JacobianSvd::new`] costly on a
    /// wide `D`) are never formed. For `K ≥ 2QN` (the overparametrized case that dominates sample
    /// time) CholeskyQR2 gives `Dᵀ = QR` first where it is safe, and the SVD of the small `R`
    /// follows, its right singular vectors only when `𝒫` is not the identity; otherwise one SVD of
    /// `Dᵀ` with its left singular vectors (`𝒫` needs them alone).
    ///
    /// Errors: as [`JacobianSvd::new`].
    pub fn new(dt: &DMatrix<f64>, rtol: f64) -> Result<Self> {
        Self::with_rank(dt, rtol, None)
    }

    /// Like [`Self::new`], with `𝒫` the projector on the `rank_used` leading left singular
    /// vectors (the rank a flow used; `None`: the numerical rank), clamped to `min(QN, K)`.
    ///
    /// Errors: as [`JacobianSvd::new`].
    pub fn with_rank(dt: &DMatrix<f64>, rtol: f64, rank_used: Option<usize>) -> Result<Self> {
        Self::compute(dt, None, rtol, rank_used)
    }

    /// Like [`Self::with_rank`], given the lower triangle of `DDᵀ` (`QN × QN`, column-major, the
    /// strict upper triangle unread) formed some other way — the NTK's structured assembly, two
    /// orders of magnitude cheaper than `dtᵀdt` — as CholeskyQR2's first Gram matrix. The result
    /// is `D`'s own: `R` comes from `Q₁ = dt·L₁⁻ᵀ` with the formed `dt`, and the second pass
    /// corrects any `L₁` that leaves `Q₁` within `0.1` of orthonormal; else the SVD of `dt`.
    /// `gram` is used only where [`Self::takes_gram`].
    ///
    /// Errors: as [`JacobianSvd::new`].
    pub fn with_gram(
        dt: &DMatrix<f64>,
        gram: &[f64],
        rtol: f64,
        rank_used: Option<usize>,
    ) -> Result<Self> {
        Self::compute(dt, Some(gram), rtol, rank_used)
    }

    /// Whether a `K × QN` `dt` takes CholeskyQR2 first (and [`Self::with_gram`] its Gram).
    pub fn takes_gram(k: usize, qn: usize) -> bool {
        qn > 0 && k >= QR_FIRST * qn
    }

    fn compute(
        dt: &DMatrix<f64>,
        gram: Option<&[f64]>,
        rtol: f64,
        rank_used: Option<usize>,
    ) -> Result<Self> {
        if let Some(i) = dt.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "Jacobian entry {i} is {}",
                dt.as_slice()[i]
            )));
        }
        let (k, qn) = dt.shape();
        let p = k.min(qn);
        // For K ≥ 2QN CholeskyQR2 gives Dᵀ = QR with the kernels' speed (two threads natively)
        // where D is far enough from rank loss; D's singular values and left singular vectors are
        // R's values and right vectors, the vectors only when 𝒫 is not the identity.
        if Self::takes_gram(k, qn) {
            if let Some(r) = cholesky_qr2_r(dt, gram.filter(|g| g.len() >= qn * qn)) {
                let (sigma, _, _) = thin_svd(&r, false, false)?;
                let rank = numerical_rank(&sigma, rtol);
                let used = rank_used.unwrap_or(rank).min(p);
                let output_vecs = if used < qn {
                    thin_svd(&r, false, true)?.2
                } else {
                    None
                };
                return Ok(OutputSpectrum {
                    sigma,
                    output_vecs,
                    qn,
                    rank,
                    used,
                });
            }
        }
        let (sigma, _, v) = thin_svd(dt, false, true)?;
        let v = v.expect("requested V");
        let rank = numerical_rank(&sigma, rtol);
        let used = rank_used.unwrap_or(rank).min(p);
        let output_vecs = if used < qn { Some(v) } else { None };
        Ok(OutputSpectrum {
            sigma,
            output_vecs,
            qn,
            rank,
            used,
        })
    }

    /// Numerical rank of `D`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The rank `𝒫` projects with (see [`Self::with_rank`]).
    pub fn used(&self) -> usize {
        self.used
    }

    /// `σ_max(D)` (0 for an empty matrix).
    pub fn sigma_max(&self) -> f64 {
        self.sigma.first().copied().unwrap_or(0.0)
    }

    /// Smallest of the `min(QN, K)` singular values.
    pub fn sigma_min(&self) -> f64 {
        self.sigma.last().copied().unwrap_or(0.0)
    }

    /// `λ_min(DDᵀ)`: `σ_{QN}²` when `K ≥ QN`, else 0.
    pub fn lambda_min_ntk(&self) -> f64 {
        if self.sigma.len() == self.qn {
            self.sigma_min().powi(2)
        } else {
            0.0
        }
    }

    /// `𝒫 g`: orthogonal projection of `g ∈ R^{QN}` onto the span of the [`Self::used`] leading
    /// left singular vectors (the numerical `range D` unless a rank was given).
    pub fn project_output(&self, g: &[f64]) -> Vec<f64> {
        match &self.output_vecs {
            Some(u) if self.used < self.qn => project_onto(&u.columns(0, self.used), g),
            _ => g.to_vec(),
        }
    }
}

/// The triangular factor `R` of a tall `A = QR` (`K × n`, `K ≥ n`) by CholeskyQR2 — two
/// Cholesky-based passes whose work is all in the Gram, triangular-solve and product kernels
/// (M scenario, `4482 × 400`: about 3× faster than nalgebra's Householder QR) — or `None` where
/// it is not safe. Backward stable like Householder when the first pass leaves `Q₁` close to
/// orthonormal (Yamamoto et al. 2015): that is checked, `|Q₁ᵀQ₁ − I|_max ≤ 0.1`, which holds for
/// `κ(A) ≲ 2·10⁷`; a failed Cholesky or a larger deviation returns `None` and the caller uses
/// Householder. The rows of `R` may differ in sign from Householder's; singular values and
/// right singular vectors of `R` are those of `A` either way. `first`: the lower triangle of a
/// Gram matrix `AᵀA` formed elsewhere (the NTK's structured assembly), used for the first pass in
/// place of the `K·n²/2` Gram kernel; the check above applies to it the same way.
fn cholesky_qr2_r(a: &DMatrix<f64>, first: Option<&[f64]>) -> Option<DMatrix<f64>> {
    use crate::linalg::kernels::{cholesky_lower, syrk_lower, trsm_right_lower_t, MatRef};
    let (k, n) = a.shape();
    let gram = |q: MatRef| {
        let mut g = vec![0.0; n * n];
        syrk_lower(1.0, q, 0.0, &mut g, n);
        g
    };
    let mut l1 = match first {
        Some(g) => g[..n * n].to_vec(),
        None => gram(MatRef::col_major(a.as_slice(), k, n, k)),
    };
    cholesky_lower(&mut l1, n, n).ok()?;
    // The triangular solve works on L₁ stacked above A in one buffer (the layout the Cholesky
    // kernel solves its own panels in): Q₁ = A·L₁⁻ᵀ replaces A there.
    let ld = n + k;
    let mut stacked = vec![0.0; ld * n];
    for j in 0..n {
        stacked[j * ld + j..j * ld + n].copy_from_slice(&l1[j * n + j..j * n + n]);
        stacked[j * ld + n..(j + 1) * ld].copy_from_slice(&a.as_slice()[j * k..(j + 1) * k]);
    }
    trsm_right_lower_t(&mut stacked, n, k, ld);
    let q = MatRef::col_major(&stacked[n..], k, n, ld);
    let mut l2 = gram(q);
    let off = (0..n)
        .flat_map(|j| (j..n).map(move |i| (i, j)))
        .map(|(i, j)| (l2[j * n + i] - if i == j { 1.0 } else { 0.0 }).abs())
        // f64::max would drop a NaN: count it as infinitely far from orthonormal.
        .map(|d| if d.is_nan() { f64::INFINITY } else { d })
        .fold(0.0, f64::max);
    if off > 0.1 {
        return None;
    }
    cholesky_lower(&mut l2, n, n).ok()?;
    // A = Q₂ L₂ᵀ L₁ᵀ: R = (L₁L₂)ᵀ, both factors lower triangular.
    let lower = |v: &[f64]| DMatrix::from_fn(n, n, |i, j| if i >= j { v[j * n + i] } else { 0.0 });
    Some((lower(&l1) * lower(&l2)).transpose())
}

/// `Σ_i u_i (u_iᵀ g)` over the (orthonormal) columns `u_i` of `u`.
fn project_onto(u: &nalgebra::DMatrixView<f64>, g: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; g.len()];
    for col in u.column_iter() {
        let dot: f64 = col.iter().zip(g).map(|(a, b)| a * b).sum();
        for (o, c) in out.iter_mut().zip(col.iter()) {
            *o += dot * c;
        }
    }
    out
}

/// [`OutputSpectrum`] tries CholeskyQR2 first when `K` is at least this many times `QN`.
const QR_FIRST: usize = 2;

fn not_converged() -> Error {
    Error::NonFinite("the SVD of the Jacobian did not converge".into())
}

/// Thin SVD of `a` (`m × n`) by faer: singular values (descending) and, on request, the
/// `min(m, n)` left (`U`, `m × p`) and right (`V`, `n × p`) singular vectors, `a = U Σ Vᵀ`.
///
/// faer factors `a = QR` first when one side is more than 11/6 times the other, then
/// bidiagonalizes (blocked) and solves the bidiagonal SVD by divide and conquer: backward stable,
/// and on the M network's `4482 × 400` `Dᵀ` 6× faster than nalgebra's unblocked SVD.
///
/// Errors: an SVD that does not converge.
#[allow(clippy::type_complexity)]
fn thin_svd(
    a: &DMatrix<f64>,
    want_u: bool,
    want_v: bool,
) -> Result<(Vec<f64>, Option<DMatrix<f64>>, Option<DMatrix<f64>>)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
    let (m, n) = a.shape();
    let p = m.min(n);
    let mut sigma = faer::diag::Diag::<f64>::zeros(p);
    let mut u = want_u.then(|| DMatrix::<f64>::zeros(m, p));
    let mut v = want_v.then(|| DMatrix::<f64>::zeros(n, p));
    if p == 0 {
        return Ok((vec![], u, v));
    }
    let which = |w: bool| {
        if w {
            ComputeSvdVectors::Thin
        } else {
            ComputeSvdVectors::No
        }
    };
    let par = faer::Par::Seq;
    let req = svd_scratch::<f64>(m, n, which(want_u), which(want_v), par, Default::default());
    let mut mem = MemBuffer::new(req);
    svd(
        faer::MatRef::from_column_major_slice(a.as_slice(), m, n),
        sigma.as_mut(),
        u.as_mut()
            .map(|u| faer::MatMut::from_column_major_slice_mut(u.as_mut_slice(), m, p)),
        v.as_mut()
            .map(|v| faer::MatMut::from_column_major_slice_mut(v.as_mut_slice(), n, p)),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| not_converged())?;
    let sigma: Vec<f64> = (0..p).map(|i| sigma[i]).collect();
    if sigma.iter().any(|s| !s.is_finite()) {
        return Err(not_converged());
    }
    Ok((sigma, u, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{max_rel_diff, norm};

    #[test]
    fn pinv_of_a_rank_deficient_matrix_is_minimum_norm() {
        // D = [[1, 0, 0], [0, 0, 0]]: rank 1; D⁺ g = (g₁, 0, 0).
        let d = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let svd = JacobianSvd::new(&d.transpose(), 1e-10).unwrap();
        assert_eq!(svd.rank(), 1);
        let v = svd.pinv_apply(&[2.0, 5.0]);
        assert!(max_rel_diff(&v, &[2.0, 0.0, 0.0]) < 1e-14);
        let p = svd.project_output(&[2.0, 5.0]);
        assert!(max_rel_diff(&p, &[2.0, 0.0]) < 1e-14);
        assert_eq!(svd.lambda_min_ntk(), 0.0);
    }

    #[test]
    fn cholesky_qr2_matches_householder_or_declines() {
        // Tall A with singular values spread over κ; up to κ = 1e6 CholeskyQR2 runs and gives
        // Householder's singular values to rounding; at κ = 1e12 its first pass fails or its Q₁
        // is far from orthonormal and it declines.
        let mut rng = crate::rng::Rng::new(9);
        for (k, n, kappa, runs) in [
            (300, 40, 1e0_f64, true),
            (300, 40, 1e3, true),
            (500, 70, 1e6, true),
            (300, 40, 1e12, false),
        ] {
            let u = DMatrix::from_fn(k, n, |_, _| rng.normal()).qr().q();
            let v = DMatrix::from_fn(n, n, |_, _| rng.normal()).qr().q();
            let s = DMatrix::from_fn(n, n, |i, j| {
                if i == j {
                    kappa.powf(-(i as f64) / (n - 1) as f64)
                } else {
                    0.0
                }
            });
            let a = &u * s * v.transpose();
            // The first Gram given instead of formed: AᵀA with a relative perturbation of 1e-15
            // per entry (an assembly's rounding, as the NTK's), which the second pass removes.
            let mut given = (a.transpose() * &a).as_slice().to_vec();
            for (i, g) in given.iter_mut().enumerate() {
                *g *= 1.0 + 1e-15 * (((i * 37) % 11) as f64 - 5.0) / 5.0;
            }
            for first in [None, Some(&given[..])] {
                let got = cholesky_qr2_r(&a, first);
                assert_eq!(got.is_some(), runs, "{k}×{n}, κ {kappa:e}");
                let Some(r) = got else { continue };
                // R is upper triangular and RᵀR = AᵀA to rounding.
                for j in 0..n {
                    for i in j + 1..n {
                        assert_eq!(r[(i, j)], 0.0);
                    }
                }
                let mut sv: Vec<f64> = r.singular_values().iter().copied().collect();
                let mut hv: Vec<f64> = a
                    .clone()
                    .qr()
                    .r()
                    .singular_values()
                    .iter()
                    .copied()
                    .collect();
                sv.sort_by(|x, y| y.total_cmp(x));
                hv.sort_by(|x, y| y.total_cmp(x));
                for (x, y) in sv.iter().zip(&hv) {
                    assert!(
                        (x - y).abs() <= 1e-13 * hv[0],
                        "κ {kappa:e}, given Gram {}: σ {x} vs {y}",
                        first.is_some()
                    );
                }
            }
        }
    }

    #[test]
    fn output_spectrum_agrees_with_the_full_svd() {
        // Wide D (the fast path, full rank and rank-deficient) and the shapes that delegate.
        let mut rng = crate::rng::Rng::new(5);
        for (k, qn, rank) in [(90, 20, 20), (90, 20, 13), (30, 20, 20), (9, 40, 9)] {
            let a = DMatrix::from_fn(k, rank, |_, _| rng.normal());
            let b = DMatrix::from_fn(rank, qn, |i, _| rng.normal() * 10f64.powi(-(i as i32) / 3));
            let dt = a * b;
            let full = JacobianSvd::new(&dt, 1e-10).unwrap();
            let out = OutputSpectrum::new(&dt, 1e-10).unwrap();
            assert_eq!(out.rank(), full.rank(), "{k}×{qn}");
            assert_eq!(out.rank(), rank, "{k}×{qn}");
            assert_eq!(out.sigma.len(), full.sigma.len());
            for (x, y) in out.sigma.iter().zip(&full.sigma) {
                assert!(
                    (x - y).abs() <= 1e-13 * full.sigma_max(),
                    "{k}×{qn}: σ {x} vs {y}"
                );
            }
            let (l1, l2) = (out.lambda_min_ntk(), full.lambda_min_ntk());
            assert!(
                (l1 - l2).abs() <= 1e-12 * full.sigma_max().powi(2),
                "λ_min {l1} vs {l2}"
            );
            let g: Vec<f64> = (0..qn).map(|_| rng.normal()).collect();
            let (p1, p2) = (out.project_output(&g), full.project_output(&g));
            let err = p1
                .iter()
                .zip(&p2)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(err <= 1e-12 * norm(&g), "{k}×{qn}: |𝒫g − 𝒫g| = {err:e}");
        }
    }

    #[test]
    fn qr_first_svd_agrees_with_the_direct_one() {
        let mut rng = crate::rng::Rng::new(21);
        for (k, qn, rank) in [
            (60, 12, 12),
            (60, 12, 7),
            (9, 40, 9),
            (9, 40, 4),
            (20, 15, 15),
        ] {
            // A matrix of given rank with spread singular values.
            let a = DMatrix::from_fn(k, rank, |_, _| rng.normal());
            let b = DMatrix::from_fn(rank, qn, |i, _| rng.normal() * 10f64.powi(-(i as i32) / 2));
            let dt = a * b;
            let fast = JacobianSvd::new(&dt, 1e-10).unwrap();
            let direct = dt.clone().svd(true, true);
            let mut sv: Vec<f64> = direct.singular_values.iter().copied().collect();
            sv.sort_by(|x, y| y.total_cmp(x));
            let smax = sv[0];
            for (x, y) in fast.sigma.iter().zip(&sv) {
                assert!((x - y).abs() <= 1e-13 * smax, "{k}×{qn}: σ {x} vs {y}");
            }
            assert_eq!(fast.rank(), rank, "{k}×{qn}");
            // Factors: Dᵀ = U Σ Vᵀ over the numerical rank, orthonormal columns.
            let r = fast.rank();
            let u = fast.theta_vectors().columns(0, r);
            let v = fast.output_vectors().columns(0, r);
            let s = DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(&fast.sigma[..r]));
            assert!((u * s * v.transpose() - &dt).amax() <= 1e-12 * smax);
            assert!((u.transpose() * u - DMatrix::identity(r, r)).amax() <= 1e-12);
            assert!((v.transpose() * v - DMatrix::identity(r, r)).amax() <= 1e-12);
        }
    }

    #[test]
    fn non_finite_jacobian_is_an_error() {
        let d = DMatrix::from_row_slice(1, 2, &[1.0, f64::NAN]);
        assert!(matches!(
            JacobianSvd::new(&d, 1e-10),
            Err(Error::NonFinite(_))
        ));
    }
}
