//! Gram matrices `AᵀA`: `4 × 4` tiles read straight from row-major factors (in explicit simd128
//! on wasm32), and the lower triangle of a whole Gram matrix by column blocks over [`gemm`].

#[cfg(doc)]
use super::gemm;
use super::{gemm_serial, run_jobs, threads, MatRef, BLOCK, PAR_MIN_FMA};

/// Rows and columns of a [`gram_tile`].
pub const TILE: usize = 4;

/// Adds to `res` the `4 × 4` block of the Gram matrix of the columns of the row-major `k × ld`
/// matrix `a`, scaled entrywise:
/// `res[jj][ii] += w[offs[jj] + i0 + ii] · Σ_p a[p·ld + i0 + ii]·a[p·ld + j0 + jj]`.
///
/// Rows of `a` are contiguous, so both operands load as vectors and nothing is packed: for the
/// NTK's thin factors (`k` = a layer width) packing and the per-call costs of [`gemm`] were as
/// large as the product itself (on wasm32 especially), and the scaling is the NTK's Hadamard
/// product with `K_l`, done while the block is in registers.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
pub fn gram_tile_scaled(
    a: &[f64],
    ld: usize,
    k: usize,
    (i0, j0): (usize, usize),
    w: &[f64],
    offs: [usize; TILE],
    res: &mut [[f64; TILE]; TILE],
) {
    let mut acc = [[0.0f64; TILE]; TILE];
    for row in a.chunks_exact(ld).take(k) {
        let ai: &[f64; TILE] = row[i0..i0 + TILE].try_into().unwrap();
        let bj: &[f64; TILE] = row[j0..j0 + TILE].try_into().unwrap();
        for (accj, &b) in acc.iter_mut().zip(bj) {
            for (x, &a) in accj.iter_mut().zip(ai) {
                *x += a * b;
            }
        }
    }
    for ((r, a), o) in res.iter_mut().zip(&acc).zip(offs) {
        for ((x, g), s) in r.iter_mut().zip(a).zip(&w[o + i0..o + i0 + TILE]) {
            *x += g * s;
        }
    }
}

/// [`gram_tile_scaled`] in explicit simd128: LLVM's vectorization of the portable loop kept the
/// accumulators in a layout that needed shuffles at every step (slower than the packed product).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
pub fn gram_tile_scaled(
    a: &[f64],
    ld: usize,
    k: usize,
    (i0, j0): (usize, usize),
    w: &[f64],
    offs: [usize; TILE],
    res: &mut [[f64; TILE]; TILE],
) {
    use core::arch::wasm32::*;
    assert!(offs.iter().all(|o| o + i0 + TILE <= w.len()));
    let c = simd::gram(a, ld, k, i0, j0);
    // SAFETY: the assert bounds offs[jj] + i0 + 0..4; `res` rows are 4 entries; v128_load and
    // v128_store have no alignment requirement.
    unsafe {
        for ((r, cj), o) in res.iter_mut().zip(c.chunks_exact(2)).zip(offs) {
            let s = w.as_ptr().add(o + i0);
            let r = r.as_mut_ptr();
            let r0 = v128_load(r as *const v128);
            let r1 = v128_load(r.add(2) as *const v128);
            let s0 = v128_load(s as *const v128);
            let s1 = v128_load(s.add(2) as *const v128);
            v128_store(r as *mut v128, f64x2_add(r0, f64x2_mul(cj[0], s0)));
            v128_store(r.add(2) as *mut v128, f64x2_add(r1, f64x2_mul(cj[1], s1)));
        }
    }
}

/// `acc[jj][ii] = Σ_p a[p·ld + i0 + ii]·a[p·ld + j0 + jj]` (the unscaled [`gram_tile_scaled`]).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
pub fn gram_tile(a: &[f64], ld: usize, k: usize, i0: usize, j0: usize) -> [[f64; TILE]; TILE] {
    let mut acc = [[0.0f64; TILE]; TILE];
    for row in a.chunks_exact(ld).take(k) {
        let ai: &[f64; TILE] = row[i0..i0 + TILE].try_into().unwrap();
        let bj: &[f64; TILE] = row[j0..j0 + TILE].try_into().unwrap();
        for (accj, &b) in acc.iter_mut().zip(bj) {
            for (x, &a) in accj.iter_mut().zip(ai) {
                *x += a * b;
            }
        }
    }
    acc
}

/// `acc[jj][ii] = Σ_p a[p·ld + i0 + ii]·a[p·ld + j0 + jj]` (the unscaled [`gram_tile_scaled`]).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
pub fn gram_tile(a: &[f64], ld: usize, k: usize, i0: usize, j0: usize) -> [[f64; TILE]; TILE] {
    use core::arch::wasm32::*;
    let c = simd::gram(a, ld, k, i0, j0);
    let mut acc = [[0.0f64; TILE]; TILE];
    for (accj, cj) in acc.iter_mut().zip(c.chunks_exact(2)) {
        *accj = [
            f64x2_extract_lane::<0>(cj[0]),
            f64x2_extract_lane::<1>(cj[0]),
            f64x2_extract_lane::<0>(cj[1]),
            f64x2_extract_lane::<1>(cj[1]),
        ];
    }
    acc
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::TILE;
    use core::arch::wasm32::*;

    /// The Gram tile of [`super::gram_tile`] as 8 vectors: column `jj` in `[2jj]`, `[2jj + 1]`.
    #[inline(always)]
    pub fn gram(a: &[f64], ld: usize, k: usize, i0: usize, j0: usize) -> [v128; 2 * TILE] {
        assert!(i0.max(j0) + TILE <= ld && (k == 0 || (k - 1) * ld + i0.max(j0) + TILE <= a.len()));
        let z = f64x2_splat(0.0);
        let mut c = [z; 2 * TILE];
        // SAFETY: the assert bounds every index p·ld + {i0, j0} + 0..4 with p < k inside `a`;
        // v128_load has no alignment requirement.
        unsafe {
            let mut row = a.as_ptr();
            for _ in 0..k {
                let a0 = v128_load(row.add(i0) as *const v128);
                let a1 = v128_load(row.add(i0 + 2) as *const v128);
                for (jj, cj) in c.chunks_exact_mut(2).enumerate() {
                    let b = f64x2_splat(*row.add(j0 + jj));
                    cj[0] = f64x2_add(cj[0], f64x2_mul(a0, b));
                    cj[1] = f64x2_add(cj[1], f64x2_mul(a1, b));
                }
                row = row.add(ld);
            }
        }
        c
    }
}

/// Lower triangle of `C ← α·AᵀA + β·C` for `A` (`k × n`, any strides) and a column-major `C`
/// (`n × n`, leading dimension `ldc`): the Gram matrix of the columns of `A`.
///
/// Entries strictly above the diagonal of each `64 × 64` diagonal block are overwritten with
/// garbage; the rest of the upper triangle is not touched. Symmetry halves the work.
pub fn syrk_lower(alpha: f64, a: MatRef, beta: f64, c: &mut [f64], ldc: usize) {
    let n = a.cols;
    if n == 0 {
        return;
    }
    assert!(
        ldc >= n && (n - 1) * ldc + n <= c.len(),
        "syrk: C too small"
    );
    let blocks = || (0..n).step_by(BLOCK).map(|j0| (j0, BLOCK.min(n - j0)));
    let work = n * n * a.rows.max(1) / 2;
    let t = threads();
    // Each column block writes rows j0..n of its own columns: disjoint slices of C.
    let one = |c: &mut [f64], j0: usize, w: usize, base: usize| {
        let rows = n - j0;
        let ai = a.cols(j0, rows).t();
        let bj = a.cols(j0, w);
        let off = j0 * ldc + j0 - base;
        gemm_serial(alpha, ai, bj, beta, &mut c[off..], ldc);
    };
    if t > 1 && work >= PAR_MIN_FMA && n > BLOCK {
        // Balance by work (block j costs ∝ rows below it): contiguous runs of blocks per thread.
        let cost: Vec<usize> = blocks().map(|(j0, w)| (n - j0) * w).collect();
        let total: usize = cost.iter().sum();
        let mut parts: Vec<Vec<(usize, usize)>> = vec![vec![]];
        let mut acc = 0;
        for (blk, cst) in blocks().zip(&cost) {
            if acc >= total * parts.len() / t
                && parts.len() < t
                && !parts.last().unwrap().is_empty()
            {
                parts.push(vec![]);
            }
            parts.last_mut().unwrap().push(blk);
            acc += cst;
        }
        let mut jobs = Vec::with_capacity(parts.len());
        let mut rest = &mut c[..];
        let mut consumed = 0;
        let nparts = parts.len();
        for (pi, part) in parts.into_iter().enumerate() {
            let start = part[0].0;
            let end = if pi + 1 == nparts {
                consumed + rest.len()
            } else {
                let (j0, w) = *part.last().unwrap();
                (j0 + w) * ldc
            };
            let (mine, tail) = rest.split_at_mut(end - consumed);
            rest = tail;
            let base = consumed;
            consumed = end;
            debug_assert!(start * ldc >= base);
            jobs.push(move || {
                for (j0, w) in part {
                    one(mine, j0, w, base);
                }
            });
        }
        run_jobs(jobs);
    } else {
        for (j0, w) in blocks() {
            one(c, j0, w, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn syrk_fills_the_lower_triangle_of_the_gram_matrix() {
        for n in [1, 5, 64, 65, 150] {
            let mut rng = crate::rng::Rng::new(n as u64);
            let a = DMatrix::from_fn(7, n, |_, _| rng.normal());
            let want = a.transpose() * &a;
            let mut c = vec![0.0; n * n];
            syrk_lower(
                1.0,
                MatRef::col_major(a.as_slice(), 7, n, 7),
                0.0,
                &mut c,
                n,
            );
            for j in 0..n {
                for i in j..n {
                    assert!(
                        (c[i + j * n] - want[(i, j)]).abs() < 1e-12,
                        "n={n} ({i},{j})"
                    );
                }
            }
        }
    }
}
