//! A packed matrix product with a `4 × 4` register tile in plain Rust, for targets where
//! matrixmultiply has no vector kernel (wasm32: LLVM maps the tile's columns to `f64x2` with
//! `simd128`). Its buffers live in a thread-local and are reused: no allocation per call.

use super::MatRef;
use std::cell::RefCell;

const MR: usize = 4;
const NR: usize = 4;
const KC: usize = 256;
/// Largest block of `B` (entries) read in place rather than packed: beyond it (the 512³
/// calibration, the M scenario) strided reads of four columns cost more than packing.
const B_IN_PLACE: usize = 8192;

thread_local! {
    static BUFS: RefCell<(Vec<f64>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `C ← α·A·B + β·C` (same contract as [`super::gemm`], one thread).
///
/// `A` is packed into `MR`-row panels; a small `B` is read in place through its strides, a
/// scalar per column and step, except for a last partial block of columns, which is copied
/// with zero padding. At the sizes of the small scenarios (layer widths 2–64, `N` = 50–200)
/// packing `B` and zero-filling the buffers cost as much as the product.
pub fn gemm(alpha: f64, a: MatRef, b: MatRef, beta: f64, c: &mut [f64], ldc: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    a.check();
    b.check();
    assert!(
        ldc >= m && (n - 1) * ldc + m <= c.len(),
        "gemm: C too small"
    );
    let scale = |c: &mut [f64], beta: f64| {
        for j in 0..n {
            let col = &mut c[j * ldc..j * ldc + m];
            if beta == 0.0 {
                col.fill(0.0);
            } else {
                col.iter_mut().for_each(|v| *v *= beta);
            }
        }
    };
    if k == 0 || alpha == 0.0 {
        if beta != 1.0 {
            scale(c, beta);
        }
        return;
    }
    if beta != 0.0 && beta != 1.0 {
        scale(c, beta);
    }
    BUFS.with(|bufs| {
        let (ap, bp) = &mut *bufs.borrow_mut();
        let panels = m.div_ceil(MR);
        for p0 in (0..k).step_by(KC) {
            let kb = KC.min(k - p0);
            // β = 0: the first block of k stores instead of accumulating (C is not read).
            let store = p0 == 0 && beta == 0.0;
            let in_place = kb * n <= B_IN_PLACE;
            // A[:, p0..p0+kb] as MR-row panels, each kb × MR row-major (zero-padded).
            if ap.len() < panels * kb * MR {
                ap.resize(panels * kb * MR, 0.0);
            }
            for (pi, panel) in ap[..panels * kb * MR].chunks_exact_mut(kb * MR).enumerate() {
                let i0 = pi * MR;
                let rows = MR.min(m - i0);
                for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                    let base = (i0 * a.rs) + (p0 + p) * a.cs;
                    for (ii, d) in dst.iter_mut().enumerate() {
                        *d = if ii < rows {
                            a.data[base + ii * a.rs]
                        } else {
                            0.0
                        };
                    }
                }
            }
            for j0 in (0..n).step_by(NR) {
                let cols = NR.min(n - j0);
                // B[p0 + p, j0 + jj] = bsrc[p·brs + jj·bcs].
                let (bsrc, brs, bcs): (&[f64], usize, usize) = if cols == NR && in_place {
                    (&b.data[p0 * b.rs + j0 * b.cs..], b.rs, b.cs)
                } else {
                    bp.clear();
                    bp.resize(kb * NR, 0.0);
                    for p in 0..kb {
                        let base = (p0 + p) * b.rs + j0 * b.cs;
                        for jj in 0..cols {
                            bp[p * NR + jj] = b.data[base + jj * b.cs];
                        }
                    }
                    (&bp[..], NR, 1)
                };
                for (pi, panel) in ap[..panels * kb * MR].chunks_exact(kb * MR).enumerate() {
                    let acc = tile(panel, bsrc, brs, bcs, kb);
                    let i0 = pi * MR;
                    let rows = MR.min(m - i0);
                    for (jj, accj) in acc.iter().enumerate().take(cols) {
                        let col = &mut c[(j0 + jj) * ldc + i0..(j0 + jj) * ldc + i0 + rows];
                        if store {
                            for (cv, av) in col.iter_mut().zip(accj) {
                                *cv = alpha * av;
                            }
                        } else {
                            for (cv, av) in col.iter_mut().zip(accj) {
                                *cv += alpha * av;
                            }
                        }
                    }
                }
            }
        }
    });
}

/// `acc[jj][ii] = Σ_p a[p·MR + ii]·b[p·brs + jj·bcs]` over `kb` steps: four accumulator
/// columns of four rows each.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn tile(a: &[f64], b: &[f64], brs: usize, bcs: usize, kb: usize) -> [[f64; MR]; NR] {
    let mut acc = [[0.0f64; MR]; NR];
    for (p, ap) in a.chunks_exact(MR).take(kb).enumerate() {
        for (jj, accj) in acc.iter_mut().enumerate() {
            let bj = b[p * brs + jj * bcs];
            for (x, &ai) in accj.iter_mut().zip(ap) {
                *x += ai * bj;
            }
        }
    }
    acc
}

/// [`tile`] in explicit simd128 (see [`super::gram_tile_scaled`] for why not LLVM's).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn tile(a: &[f64], b: &[f64], brs: usize, bcs: usize, kb: usize) -> [[f64; MR]; NR] {
    use core::arch::wasm32::*;
    assert!(kb > 0 && a.len() >= kb * MR && (kb - 1) * brs + (NR - 1) * bcs < b.len());
    let z = f64x2_splat(0.0);
    let mut c = [z; 2 * NR];
    // SAFETY: the assert bounds a[p·MR + 0..4] and b[p·brs + jj·bcs] for p < kb, jj < 4;
    // v128_load has no alignment requirement.
    unsafe {
        let (mut ap, bb) = (a.as_ptr(), b.as_ptr());
        let (b0, b1, b2, b3) = (bb, bb.add(bcs), bb.add(2 * bcs), bb.add(3 * bcs));
        let mut off = 0;
        for _ in 0..kb {
            let a0 = v128_load(ap as *const v128);
            let a1 = v128_load(ap.add(2) as *const v128);
            for (cj, bj) in c.chunks_exact_mut(2).zip([b0, b1, b2, b3]) {
                let b = f64x2_splat(*bj.add(off));
                cj[0] = f64x2_add(cj[0], f64x2_mul(a0, b));
                cj[1] = f64x2_add(cj[1], f64x2_mul(a1, b));
            }
            ap = ap.add(MR);
            off += brs;
        }
    }
    let mut acc = [[0.0f64; MR]; NR];
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

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn packed_gemm_matches_matrixmultiply() {
        let mut rng = crate::rng::Rng::new(4);
        for (m, k, n) in [(1, 1, 1), (5, 3, 7), (37, 300, 19), (64, 17, 65)] {
            let a = DMatrix::from_fn(k, m, |_, _| rng.normal());
            let b = DMatrix::from_fn(k, n, |_, _| rng.normal());
            let c0 = DMatrix::from_fn(m, n, |_, _| rng.normal());
            let want = a.transpose() * &b * 0.7 + &c0 * 0.3;
            let mut c = c0.as_slice().to_vec();
            gemm(
                0.7,
                MatRef::col_major(a.as_slice(), k, m, k).t(),
                MatRef::col_major(b.as_slice(), k, n, k),
                0.3,
                &mut c,
                m,
            );
            let got = DMatrix::from_column_slice(m, n, &c);
            assert!((got - want).amax() < 1e-12, "{m}×{k}×{n}");
        }
    }
}
