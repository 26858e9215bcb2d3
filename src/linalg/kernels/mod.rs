//! Dense kernels for the fast paths: strided matrix products (over `matrixmultiply`), the lower
//! triangle of Gram matrices (`gram.rs`), an in-place Cholesky factorization and triangular solves
//! (`cholesky.rs`), and a packed product for targets without a vector kernel ([`packed`]).
//!
//! Everything is column-major `f64`. Matrices are passed as slices with explicit row and column
//! strides, so that transposes and sub-blocks cost nothing. Results do not depend on the number of
//! threads: work is split by output block, and every output entry is computed by the same code
//! with the same order of summation whichever thread computes it (traces rerun bit for bit).
//!
//! On native targets large products are split over [`threads`] threads (`std::thread::scope`); on
//! wasm32 everything runs on the calling thread.

mod cholesky;
mod gram;
pub mod packed;

pub use cholesky::{
    cholesky_lower, cholesky_solve_in_place, trsm_right_lower_t, NotPositiveDefinite,
};
pub use gram::{gram_tile, gram_tile_scaled, syrk_lower, TILE};

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
            0 => machine_threads(),
            n => n,
        }
    }
}

/// The machine's available parallelism, read once: `std::thread::available_parallelism` reads
/// the cgroup quota files on every call (measured: 82,564 calls, 1.2 M syscalls in one 1.2 s run
/// of over-smooth's standard flow, most of its time), and the kernels ask before every product.
#[cfg(not(target_arch = "wasm32"))]
fn machine_threads() -> usize {
    static MACHINE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MACHINE.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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

/// Column block width of [`syrk_lower`] and the recursion floor of [`cholesky_lower`].
const BLOCK: usize = 32;

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

    /// A symmetric positive definite `n × n` matrix (Gram of a random `n × (n + 3)` plus `10⁻³·1`).
    pub(crate) fn spd(n: usize, seed: u64) -> DMatrix<f64> {
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
