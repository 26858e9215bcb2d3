//! Dense kernels for the fast paths: strided matrix products (over `matrixmultiply`), the lower
//! triangle of Gram matrices, an in-place Cholesky factorization and triangular solves.
//!
//! Everything is column-major `f64`. Matrices are passed as slices with explicit row and column
//! strides, so that transposes and sub-blocks cost nothing. Results do not depend on the number of
//! threads: work is split by output block, and every output entry is computed by the same code
//! with the same order of summation whichever thread computes it (traces rerun bit for bit).
//!
//! On native targets large products are split over [`threads`] threads (`std::thread::scope`); on
//! wasm32 everything runs on the calling thread.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many multiply-adds a product stays on one thread: spawning a scoped thread costs
/// tens of µs, and at the M scenario's sizes (a few 1e6) two threads measured slower than one.
pub const PAR_MIN_FMA: usize = 1 << 24;

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the number of threads the kernels may use (native only; clamped to at least 1).
/// `0` restores the default, the machine's available parallelism.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// Number of threads the kernels use: 1 on wasm32, else [`set_threads`]' value or the machine's
/// available parallelism.
pub fn threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        match THREADS.load(Ordering::Relaxed) {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
thread_local! {
    /// How many times the calling thread split work over threads (tests check the branch ran).
    static SPLITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs every job, on up to [`threads`] threads (the calling thread takes the first one).
fn run_jobs<F: FnOnce() + Send>(mut jobs: Vec<F>) {
    #[cfg(not(target_arch = "wasm32"))]
    if jobs.len() > 1 && threads() > 1 {
        #[cfg(test)]
        SPLITS.with(|n| n.set(n.get() + 1));
        let first = jobs.remove(0);
        std::thread::scope(|s| {
            for job in jobs {
                s.spawn(job);
            }
            first();
        });
        return;
    }
    for job in jobs.drain(..) {
        job();
    }
}

/// A read-only strided matrix: entry `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// Backing storage.
    pub data: &'a [f64],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A column-major `rows × cols` matrix with leading dimension `ld` (`≥ rows`).
    pub fn col_major(data: &'a [f64], rows: usize, cols: usize, ld: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            rs: 1,
            cs: ld,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Columns `c0..c0 + n` (no copy).
    pub fn cols(self, c0: usize, n: usize) -> Self {
        debug_assert!(c0 + n <= self.cols);
        let off = if n == 0 { 0 } else { c0 * self.cs };
        MatRef {
            data: &self.data[off.min(self.data.len())..],
            cols: n,
            ..self
        }
    }

    /// Rows `r0..r0 + n` (no copy).
    pub fn rows(self, r0: usize, n: usize) -> Self {
        debug_assert!(r0 + n <= self.rows);
        let off = if n == 0 { 0 } else { r0 * self.rs };
        MatRef {
            data: &self.data[off.min(self.data.len())..],
            rows: n,
            ..self
        }
    }

    fn check(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(last < self.data.len(), "matrix view out of bounds");
        }
    }
}

/// `C ← α·A·B + β·C` for `A` (`m × k`), `B` (`k × n`) and a column-major `C` (`m × n`, leading
/// dimension `ldc`). `β = 0` overwrites `C` without reading it.
///
/// Panics on inconsistent shapes (a programming error, never an input error).
pub fn gemm(alpha: f64, a: MatRef, b: MatRef, beta: f64, c: &mut [f64], ldc: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "gemm: inner dimensions differ");
    a.check();
    b.check();
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        ldc >= m && (n - 1) * ldc + m <= c.len(),
        "gemm: C too small"
    );
    let work = m * n * k.max(1);
    let t = threads();
    if t > 1 && work >= PAR_MIN_FMA && n >= 2 * t {
        // Split the columns of C: each part is a contiguous slice, computed exactly as it would be
        // on one thread.
        let chunk = n.div_ceil(t);
        let mut jobs = Vec::with_capacity(t);
        let mut rest = &mut c[..];
        let mut c0 = 0;
        while c0 < n {
            let w = chunk.min(n - c0);
            let take = if c0 + w == n { rest.len() } else { w * ldc };
            let (mine, tail) = rest.split_at_mut(take);
            rest = tail;
            let bj = b.cols(c0, w);
            jobs.push(move || gemm_serial(alpha, a, bj, beta, mine, ldc));
            c0 += w;
        }
        run_jobs(jobs);
    } else {
        gemm_serial(alpha, a, b, beta, c, ldc);
    }
}

fn gemm_serial(alpha: f64, a: MatRef, b: MatRef, beta: f64, c: &mut [f64], ldc: usize) {
    // matrixmultiply's f64 kernel for wasm32 is scalar (its SIMD kernel is f32 only).
    #[cfg(target_arch = "wasm32")]
    packed::gemm(alpha, a, b, beta, c, ldc);
    #[cfg(not(target_arch = "wasm32"))]
    gemm_matrixmultiply(alpha, a, b, beta, c, ldc);
}

#[cfg(not(target_arch = "wasm32"))]
fn gemm_matrixmultiply(alpha: f64, a: MatRef, b: MatRef, beta: f64, c: &mut [f64], ldc: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for j in 0..n {
            for v in &mut c[j * ldc..j * ldc + m] {
                *v = if beta == 0.0 { 0.0 } else { beta * *v };
            }
        }
        return;
    }
    // SAFETY: `check` above and the C bound guarantee every index matrixmultiply touches lies
    // inside its slice; `c` is a unique borrow, so it aliases neither `a` nor `b`.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            1,
            ldc as isize,
        );
    }
}

/// A packed matrix product with a `4 × 4` register tile in plain Rust, for targets where
/// matrixmultiply has no vector kernel (wasm32: LLVM maps the tile's columns to `f64x2` with
/// `simd128`). Its buffers live in a thread-local and are reused: no allocation per call.
pub mod packed {
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
}

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

/// Column block width of [`syrk_lower`] and the recursion floor of [`cholesky_lower`].
const BLOCK: usize = 32;

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

/// `Σ aᵢbᵢ` with four partial sums (vectorizes; deterministic order).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        s[0] += x[0] * y[0];
        s[1] += x[1] * y[1];
        s[2] += x[2] * y[2];
        s[3] += x[3] * y[3];
    }
    let mut t = (s[0] + s[2]) + (s[1] + s[3]);
    for (x, y) in ra.iter().zip(rb) {
        t += x * y;
    }
    t
}

/// `y = A·x` for the symmetric matrix whose lower triangle is stored column-major in `a`.
pub fn symv_lower(a: &[f64], n: usize, lda: usize, x: &[f64], y: &mut [f64]) {
    y[..n].fill(0.0);
    for j in 0..n {
        let col = &a[j * lda + j..j * lda + n];
        // Diagonal, then the column below it (for y[i>j]) and its transpose (for y[j]).
        let mut acc = col[0] * x[j];
        let xj = x[j];
        for ((yi, aij), xi) in y[j + 1..n].iter_mut().zip(&col[1..]).zip(&x[j + 1..n]) {
            *yi += aij * xj;
            acc += aij * xi;
        }
        y[j] += acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    fn spd(n: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = crate::rng::Rng::new(seed);
        let b = DMatrix::from_fn(n, n + 3, |_, _| rng.normal());
        &b * b.transpose() + DMatrix::identity(n, n) * 1e-3
    }

    #[test]
    fn gemm_with_transposed_views_matches_nalgebra() {
        let mut rng = crate::rng::Rng::new(3);
        let a = DMatrix::from_fn(37, 19, |_, _| rng.normal());
        let b = DMatrix::from_fn(37, 23, |_, _| rng.normal());
        let want = a.transpose() * &b;
        let mut c = vec![0.0; 19 * 23];
        gemm(
            1.0,
            MatRef::col_major(a.as_slice(), 37, 19, 37).t(),
            MatRef::col_major(b.as_slice(), 37, 23, 37),
            0.0,
            &mut c,
            19,
        );
        let got = DMatrix::from_column_slice(19, 23, &c);
        assert!((got - want).amax() < 1e-12);
    }

    #[test]
    fn packed_gemm_matches_matrixmultiply() {
        let mut rng = crate::rng::Rng::new(4);
        for (m, k, n) in [(1, 1, 1), (5, 3, 7), (37, 300, 19), (64, 17, 65)] {
            let a = DMatrix::from_fn(k, m, |_, _| rng.normal());
            let b = DMatrix::from_fn(k, n, |_, _| rng.normal());
            let c0 = DMatrix::from_fn(m, n, |_, _| rng.normal());
            let want = a.transpose() * &b * 0.7 + &c0 * 0.3;
            let mut c = c0.as_slice().to_vec();
            packed::gemm(
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

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        // Sizes just above PAR_MIN_FMA, so that two threads take the parallel branch of each
        // kernel (counted by SPLITS on this thread), and one thread does not.
        let min = PAR_MIN_FMA;
        let (m, n) = (300, 300);
        let k_gemm = min / (m * n) + 1;
        let k_syrk = 2 * min / (n * n) + 1;
        // The recursive Cholesky's first Schur update is a syrk of order n/2 and depth n/2.
        let half = (2.0 * min as f64).cbrt().ceil() as usize + 1;
        let n_chol = 2 * half;
        let mut rng = crate::rng::Rng::new(1);
        let a = DMatrix::from_fn(m, k_gemm, |_, _| rng.normal());
        let b = DMatrix::from_fn(k_gemm, n, |_, _| rng.normal());
        let g = DMatrix::from_fn(k_syrk, n, |_, _| rng.normal());
        let spd_big = spd(n_chol, 9);
        let run = |t: usize| {
            set_threads(t);
            let mut counts = [0; 3];
            let splits = || SPLITS.with(|s| s.get());
            let mut prod = vec![0.0; m * n];
            let before = splits();
            gemm(
                1.0,
                MatRef::col_major(a.as_slice(), m, k_gemm, m),
                MatRef::col_major(b.as_slice(), k_gemm, n, k_gemm),
                0.0,
                &mut prod,
                m,
            );
            counts[0] = splits() - before;
            let mut c = vec![0.0; n * n];
            let before = splits();
            syrk_lower(
                1.0,
                MatRef::col_major(g.as_slice(), k_syrk, n, k_syrk),
                0.0,
                &mut c,
                n,
            );
            counts[1] = splits() - before;
            let mut l = spd_big.clone();
            let before = splits();
            cholesky_lower(l.as_mut_slice(), n_chol, n_chol).unwrap();
            counts[2] = splits() - before;
            (prod, c, l, counts)
        };
        let one = run(1);
        let two = run(2);
        set_threads(0);
        assert_eq!(one.3, [0, 0, 0], "one thread never splits");
        assert!(
            two.3.iter().all(|&c| c > 0),
            "splits with two threads: {:?}",
            two.3
        );
        assert_eq!(one.0, two.0);
        assert_eq!(one.1, two.1);
        assert_eq!(one.2.as_slice(), two.2.as_slice());
    }
}
