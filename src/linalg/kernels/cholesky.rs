//! The Cholesky factorization `A = L·Lᵀ` of a symmetric positive definite matrix (recursive over
//! [`gemm`], tiled below a floor), the triangular solve of its off-diagonal block, and
//! the solve with the factor.

use super::{dot, gemm, gram_tile, syrk_lower, MatRef, BLOCK, TILE};

/// Why a Cholesky factorization stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NotPositiveDefinite {
    /// Index of the first pivot that was not positive (or not finite).
    pub pivot: usize,
}

/// In-place Cholesky factorization `A = L·Lᵀ` of the lower triangle of a column-major `n × n`
/// matrix (leading dimension `lda`); the strict upper triangle is neither read nor kept.
///
/// Recursive (Gustavson): the two half-size factorizations recurse, the off-diagonal block is a
/// triangular solve and the Schur complement a Gram update, so nearly all the work runs in
/// [`gemm`]. Errors: the first pivot `≤ 0` or not finite (the matrix is not numerically positive
/// definite); `A` is then partly overwritten.
pub fn cholesky_lower(a: &mut [f64], n: usize, lda: usize) -> Result<(), NotPositiveDefinite> {
    chol_rec(a, n, lda, 0)
}

fn chol_rec(a: &mut [f64], n: usize, lda: usize, offset: usize) -> Result<(), NotPositiveDefinite> {
    if n <= CHOL_TILED {
        return chol_tiled(a, n, lda, offset);
    }
    if n <= BLOCK {
        return chol_unblocked(a, n, lda, offset);
    }
    let n1 = n / 2;
    let n2 = n - n1;
    chol_rec(a, n1, lda, offset)?;
    // A21 ← A21·L11⁻ᵀ, then A22 ← A22 − A21·A21ᵀ (lower).
    {
        let (left, right) = a.split_at_mut(n1 * lda);
        // left holds columns 0..n1: L11 (rows 0..n1) and A21 (rows n1..n).
        trsm_right_lower_t(left, n1, n2, lda);
        let a21 = MatRef::col_major(&left[n1..], n2, n1, lda);
        syrk_lower(-1.0, a21.t(), 1.0, &mut right[n1..], lda);
    }
    chol_rec(&mut a[n1 * lda + n1..], n2, lda, offset + n1)
}

/// Largest order factored by [`chol_tiled`] directly: below it the recursion's small products
/// and triangular solves cost more in per-call overhead than the tiles do in arithmetic (S's
/// 100 × 100 factor on wasm32: 50 → 23 µs; natively about equal).
const CHOL_TILED: usize = 128;

/// Left-looking Cholesky by panels of [`TILE`] columns: each panel's update from the columns
/// left of it is a column of [`gram_tile`]s read straight from the factor (column `p` of `L` is
/// contiguous, so no packing), then the panel is factored unblocked.
fn chol_tiled(
    a: &mut [f64],
    n: usize,
    lda: usize,
    offset: usize,
) -> Result<(), NotPositiveDefinite> {
    for j0 in (0..n).step_by(TILE) {
        let w = TILE.min(n - j0);
        if j0 > 0 {
            // A[j0.., j0..j0+w] −= L[j0.., ..j0]·L[j0..j0+w, ..j0]ᵀ.
            let mut i0 = j0;
            while i0 + TILE <= n && w == TILE {
                let acc = gram_tile(a, lda, j0, i0, j0);
                for (jj, accj) in acc.iter().enumerate() {
                    let col = &mut a[(j0 + jj) * lda + i0..(j0 + jj) * lda + i0 + TILE];
                    for (x, v) in col.iter_mut().zip(accj) {
                        *x -= v;
                    }
                }
                i0 += TILE;
            }
            for j in j0..j0 + w {
                for i in i0.max(j)..n {
                    let mut s = 0.0;
                    for p in 0..j0 {
                        s += a[p * lda + i] * a[p * lda + j];
                    }
                    a[j * lda + i] -= s;
                }
            }
        }
        // The panel itself, columns j0..j0+w against each other.
        for j in j0..j0 + w {
            for p in j0..j {
                let ljp = a[p * lda + j];
                let (src, dst) = a.split_at_mut(j * lda);
                let colp = &src[p * lda + j..p * lda + n];
                for (x, y) in dst[j..n].iter_mut().zip(colp) {
                    *x -= ljp * y;
                }
            }
            let d = a[j * lda + j];
            if d.is_nan() || d <= 0.0 || !d.is_finite() {
                return Err(NotPositiveDefinite { pivot: offset + j });
            }
            let d = d.sqrt();
            a[j * lda + j] = d;
            let inv = 1.0 / d;
            for x in &mut a[j * lda + j + 1..j * lda + n] {
                *x *= inv;
            }
        }
    }
    Ok(())
}

fn chol_unblocked(
    a: &mut [f64],
    n: usize,
    lda: usize,
    offset: usize,
) -> Result<(), NotPositiveDefinite> {
    for j in 0..n {
        // Left-looking: column j minus the contributions of columns 0..j.
        for p in 0..j {
            let ljp = a[p * lda + j];
            if ljp != 0.0 {
                let (src, dst) = a.split_at_mut(j * lda);
                let colp = &src[p * lda + j..p * lda + n];
                let colj = &mut dst[j..n];
                for (x, y) in colj.iter_mut().zip(colp) {
                    *x -= ljp * y;
                }
            }
        }
        let d = a[j * lda + j];
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return Err(NotPositiveDefinite { pivot: offset + j });
        }
        let d = d.sqrt();
        a[j * lda + j] = d;
        let inv = 1.0 / d;
        for x in &mut a[j * lda + j + 1..j * lda + n] {
            *x *= inv;
        }
    }
    Ok(())
}

/// Solves `X·Lᵀ = B` in place, `L` the lower `n1 × n1` block at the top of `left` and `B` the
/// `m × n1` block below it (rows `n1..n1 + m` of the same columns, leading dimension `lda`; the
/// strict upper triangle of `L` is not read). Recursive halving puts nearly all the work in
/// [`gemm`]. Panics when `left` is too small (a programming error); a zero pivot gives
/// infinities, so callers pass factors whose pivots [`cholesky_lower`] checked.
pub fn trsm_right_lower_t(left: &mut [f64], n1: usize, m: usize, lda: usize) {
    if n1 > 0 {
        assert!(
            lda >= n1 + m && (n1 - 1) * lda + n1 + m <= left.len(),
            "trsm: matrix too small"
        );
    }
    trsm_rec(left, 0, n1, n1, m, lda);
}

/// Columns `c0..c0 + w` of `X` (rows `r0..r0 + m`), using `L[c0.., c0..]`.
fn trsm_rec(a: &mut [f64], c0: usize, w: usize, r0: usize, m: usize, lda: usize) {
    if m == 0 {
        return;
    }
    if w <= 16 {
        for j in c0..c0 + w {
            // X[:, j] = (B[:, j] − Σ_{p<j} X[:, p]·L[j, p]) / L[j, j], for p from c0 (earlier
            // columns were folded in by the gemm of the caller).
            for p in c0..j {
                let ljp = a[p * lda + j];
                if ljp != 0.0 {
                    let (src, dst) = a.split_at_mut(j * lda);
                    let xp = &src[p * lda + r0..p * lda + r0 + m];
                    let xj = &mut dst[r0..r0 + m];
                    for (x, y) in xj.iter_mut().zip(xp) {
                        *x -= ljp * y;
                    }
                }
            }
            let inv = 1.0 / a[j * lda + j];
            for x in &mut a[j * lda + r0..j * lda + r0 + m] {
                *x *= inv;
            }
        }
        return;
    }
    let w1 = w / 2;
    let w2 = w - w1;
    trsm_rec(a, c0, w1, r0, m, lda);
    // X2 ← B2 − X1·L21ᵀ with L21 = L[c0+w1.., c0..c0+w1].
    {
        let (left, right) = a.split_at_mut((c0 + w1) * lda);
        let x1 = MatRef::col_major(&left[c0 * lda + r0..], m, w1, lda);
        let l21 = MatRef::col_major(&left[c0 * lda + c0 + w1..], w2, w1, lda);
        gemm(-1.0, x1, l21.t(), 1.0, &mut right[r0..], lda);
    }
    trsm_rec(a, c0 + w1, w2, r0, m, lda);
}

/// Solves `L·Lᵀ x = b` in place with the factor of [`cholesky_lower`] (`n × n`, leading
/// dimension `ldl`).
pub fn cholesky_solve_in_place(l: &[f64], n: usize, ldl: usize, b: &mut [f64]) {
    debug_assert!(b.len() >= n);
    // L y = b: column-oriented, contiguous axpys.
    for j in 0..n {
        let col = &l[j * ldl..j * ldl + n];
        let yj = b[j] / col[j];
        b[j] = yj;
        if yj != 0.0 {
            for (x, c) in b[j + 1..n].iter_mut().zip(&col[j + 1..]) {
                *x -= yj * c;
            }
        }
    }
    // Lᵀ x = y: contiguous dot products.
    for j in (0..n).rev() {
        let col = &l[j * ldl..j * ldl + n];
        let s: f64 = dot(&col[j + 1..], &b[j + 1..n]);
        b[j] = (b[j] - s) / col[j];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::kernels::symv_lower;
    use crate::linalg::kernels::tests::spd;
    use nalgebra::DMatrix;

    #[test]
    fn trsm_solves_x_lt_equals_b() {
        // L (rows 0..n) stacked above B (rows n..n + m) in one column-major buffer; L well
        // conditioned, sizes across the recursion floor.
        for (m, n) in [(7, 3), (50, 17), (130, 64), (33, 100)] {
            let ld = n + m;
            let mut a = vec![f64::NAN; ld * n]; // L's strict upper triangle is never read
            for j in 0..n {
                for i in j..n {
                    a[j * ld + i] = if i == j {
                        2.0 + (i % 3) as f64
                    } else {
                        ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5
                    };
                }
                for r in 0..m {
                    a[j * ld + n + r] = ((r + j * m) * 13 % 17) as f64 - 8.0;
                }
            }
            let b = a.clone();
            trsm_right_lower_t(&mut a, n, m, ld);
            // (X·Lᵀ)[r, c] = Σ_{p ≤ c} X[r, p]·L[c, p] must give B back.
            for c in 0..n {
                for r in 0..m {
                    let v: f64 = (0..=c).map(|p| a[p * ld + n + r] * a[p * ld + c]).sum();
                    let want = b[c * ld + n + r];
                    assert!(
                        (v - want).abs() <= 1e-12 * 8.0 * n as f64,
                        "{m}×{n} at ({r}, {c})"
                    );
                }
            }
        }
    }

    #[test]
    fn cholesky_reproduces_the_matrix_and_solves() {
        for n in [1, 3, 31, 32, 33, 100, 257] {
            let a = spd(n, n as u64);
            let mut l = a.clone();
            cholesky_lower(l.as_mut_slice(), n, n).unwrap();
            let lo = l.lower_triangle();
            let err = (&lo * lo.transpose() - &a).amax() / a.amax();
            assert!(err < 1e-13, "n={n}: |LLᵀ − A| = {err:.1e}");
            // The tiled factorization (wasm32's base case) on every target.
            let mut lt = a.clone();
            chol_tiled(lt.as_mut_slice(), n, n, 0).unwrap();
            let lt = lt.lower_triangle();
            let err = (&lt * lt.transpose() - &a).amax() / a.amax();
            assert!(err < 1e-13, "n={n}: tiled |LLᵀ − A| = {err:.1e}");
            let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let mut b = (&a * nalgebra::DVector::from_column_slice(&x))
                .as_slice()
                .to_vec();
            cholesky_solve_in_place(l.as_slice(), n, n, &mut b);
            let e = b
                .iter()
                .zip(&x)
                .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
            assert!(e < 1e-8, "n={n}: solve error {e:.1e}");
            let mut y = vec![0.0; n];
            symv_lower(a.as_slice(), n, n, &x, &mut y);
            let want = &a * nalgebra::DVector::from_column_slice(&x);
            assert!((nalgebra::DVector::from_column_slice(&y) - want).amax() < 1e-10);
        }
    }

    #[test]
    fn cholesky_reports_the_failing_pivot() {
        let mut a = DMatrix::from_row_slice(3, 3, &[4.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let e = cholesky_lower(a.as_mut_slice(), 3, 3).unwrap_err();
        assert_eq!(e.pivot, 1);
    }
}
