//! Derivatives of an MLP without the dense Jacobian: vector–Jacobian products `Dᵀu` (one
//! backprop), Jacobian–vector products `Dv` (one forward-mode pass), and the neural tangent
//! kernel `DDᵀ` assembled from small Gram matrices (the "structured" NTK).
//!
//! With backprop signals `g_l[q; a, j] = ∂x_{j,q}/∂z_l[a]` and activations `h_{l−1}[·, j]`,
//! `∂x_{j,q}/∂W_l[a, b] = g_l[q; a, j]·h_{l−1}[b, j]` and `∂x_{j,q}/∂b_l[a] = g_l[q; a, j]`, so
//!
//! `(DDᵀ)_{(j,q),(j',q')} = Σ_l ⟨g_l[q;·,j], g_l[q';·,j']⟩ · (⟨h_{l−1}[·,j], h_{l−1}[·,j']⟩ + 1)`,
//!
//! i.e. `NTK = Σ_l Γ_l ⊙ (K_l ⊗ 1_{Q×Q})` with `Γ_l` the `QN × QN` Gram matrix of the signals and
//! `K_l = H_{l−1}ᵀH_{l−1} + 1`. For the affine output layer `g_{L+1}[q; a, j] = δ_{qa}`, so its
//! term is `δ_{qq'}·K_{L+1}`. Cost `Σ_l (QN)²M_l/2 + N²M_{l−1}/2` multiply-adds (symmetry used)
//! instead of `(QN)²K/2` for `DDᵀ` from the dense `D`, and no `QN × K` matrix in memory.
//!
//! Indices are sample-major as everywhere: row `j·Q + q` of `D` is output `q` of sample `j`.
//! Every buffer lives in [`Derivs`] and is reused across calls of the same shape.

use crate::linalg::kernels::{self, MatRef};
use crate::math::net::{Activation, Forward, Mlp};

/// Reusable buffers for the derivatives at one evaluation point.
#[derive(Debug, Clone, Default)]
pub struct Derivs {
    /// `σ'(z_l)` for hidden layers `l = 1..=L` (index `l − 1`), `M_l × N` column-major.
    dsig: Vec<Vec<f64>>,
    /// Backprop signals `G_l` (`M_l × QN`, column `j·Q + q`) for hidden layers (index `l − 1`).
    signals: Vec<Vec<f64>>,
    signals_ready: bool,
    /// Per-layer `M_l × N` scratch for backprop and forward-mode passes.
    work: Vec<Vec<f64>>,
    /// `N × N` Gram matrix of activations.
    kbuf: Vec<f64>,
    /// Every layer's NTK factor, transposed and padded (see [`Derivs::ntk_lower`]).
    gamma: Vec<f64>,
    /// Every layer's Hadamard weights `K_l + 1`, expanded over the outputs.
    kexp: Vec<f64>,
    /// Sample index of each NTK row (`i / Q`).
    samples: Vec<usize>,
    /// Absolute row sums of the NTK.
    rows: Vec<f64>,
}

/// What the assembly of the NTK learned about it on the way (used for condition estimates).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NtkInfo {
    /// `trace(DDᵀ) = ‖D‖_F²`.
    pub trace: f64,
    /// Largest absolute row sum `‖DDᵀ‖_∞`, an upper bound of `λ_max(DDᵀ)`.
    pub max_row_sum: f64,
}

impl NtkInfo {
    /// An upper bound of `λ_max(DDᵀ) = σ_max(D)²`: `min(trace, ‖·‖_∞)`.
    pub fn lambda_max_bound(&self) -> f64 {
        self.trace.min(self.max_row_sum)
    }
}

/// Largest `QN` whose NTK is assembled by [`kernels::gram_tile_scaled`] tiles rather than from
/// per-layer Gram matrices, on wasm32 with simd128 only: there the tiles took S's assembly
/// (`QN` = 100) from 75 to 65 µs, while M's (`QN` = 400) was 5% slower than through the packed
/// product; natively matrixmultiply's AVX kernels were faster at every size (S 31 vs 49 µs).
pub const TILED_MAX_QN: usize = 256;

fn resize(v: &mut Vec<f64>, n: usize) {
    if v.len() != n {
        v.clear();
        v.resize(n, 0.0);
    }
}

impl Derivs {
    /// Caches `σ'(z_l)` at a new forward pass; must be called before any other method.
    pub fn prepare(&mut self, net: &Mlp, fw: &Forward) {
        let widths = net.widths();
        let hidden = widths.len() - 2;
        let n = fw.h[0].ncols();
        let act = net.activation();
        self.dsig.resize_with(hidden, Vec::new);
        for (l, d) in (1..=hidden).zip(self.dsig.iter_mut()) {
            resize(d, widths[l] * n);
            let z = fw.z[l - 1].as_slice();
            let h = fw.h[l].as_slice();
            // σ' from the cached activation where that is exactly what `Activation::df` computes
            // (tanh: 1 − tanh², sigmoid: s(1 − s)), saving a transcendental per entry.
            match act {
                _ if fw.pattern.is_some() => {
                    for (idx, (o, zi)) in d.iter_mut().zip(z).enumerate() {
                        *o = fw.slope(act, l, idx, *zi);
                    }
                }
                Activation::Tanh => {
                    for (o, hi) in d.iter_mut().zip(h) {
                        *o = 1.0 - hi * hi;
                    }
                }
                Activation::Sigmoid => {
                    for (o, hi) in d.iter_mut().zip(h) {
                        *o = hi * (1.0 - hi);
                    }
                }
                Activation::Identity => d.fill(1.0),
                _ => {
                    for (o, zi) in d.iter_mut().zip(z) {
                        *o = act.df(*zi);
                    }
                }
            }
        }
        self.work.resize_with(widths.len() - 1, Vec::new);
        for (w, m) in self.work.iter_mut().zip(&widths[1..]) {
            resize(w, m * n);
        }
        self.signals_ready = false;
    }

    /// `out = Dᵀ u ∈ R^K` for a cotangent `u ∈ R^{QN}`: one backprop through the network.
    ///
    /// Cost about `2NK` multiply-adds.
    pub fn vjp(&mut self, net: &Mlp, theta: &[f64], fw: &Forward, u: &[f64], out: &mut [f64]) {
        let widths = net.widths();
        let layers = widths.len() - 1;
        let n = fw.h[0].ncols();
        debug_assert_eq!(u.len(), widths[layers] * n);
        debug_assert_eq!(out.len(), net.k());
        for l in (1..=layers).rev() {
            let (m_prev, m_l) = (widths[l - 1], widths[l]);
            let (w_off, b_off) = net.layer_offsets(l);
            let (lo, hi) = self.work.split_at_mut(l - 1);
            let delta: &[f64] = if l == layers { u } else { &hi[0] };
            // ∂/∂W_lᵀ = H_{l−1} δ_lᵀ (M_{l−1} × M_l, which is W_l row-major in θ).
            let h_prev = MatRef::col_major(fw.h[l - 1].as_slice(), m_prev, n, m_prev);
            let dt = MatRef::col_major(delta, m_l, n, m_l).t();
            kernels::gemm(1.0, h_prev, dt, 0.0, &mut out[w_off..], m_prev);
            let gb = &mut out[b_off..b_off + m_l];
            gb.fill(0.0);
            for col in delta.chunks_exact(m_l) {
                for (g, d) in gb.iter_mut().zip(col) {
                    *g += d;
                }
            }
            if l > 1 {
                // δ_{l−1} = σ'(z_{l−1}) ⊙ (W_lᵀ δ_l); W_lᵀ is θ's block read column-major.
                let wt = MatRef::col_major(&theta[w_off..], m_prev, m_l, m_prev);
                let next = &mut lo[l - 2];
                kernels::gemm(
                    1.0,
                    wt,
                    MatRef::col_major(delta, m_l, n, m_l),
                    0.0,
                    next,
                    m_prev,
                );
                for (x, s) in next.iter_mut().zip(&self.dsig[l - 2]) {
                    *x *= s;
                }
            }
        }
    }

    /// `out = D v ∈ R^{QN}` for a tangent `v ∈ R^K`: one forward-mode pass.
    ///
    /// Cost about `2NK` multiply-adds.
    pub fn jvp(&mut self, net: &Mlp, theta: &[f64], fw: &Forward, v: &[f64], out: &mut [f64]) {
        let widths = net.widths();
        let layers = widths.len() - 1;
        let n = fw.h[0].ncols();
        debug_assert_eq!(v.len(), net.k());
        debug_assert_eq!(out.len(), widths[layers] * n);
        for l in 1..=layers {
            let (m_prev, m_l) = (widths[l - 1], widths[l]);
            let (w_off, b_off) = net.layer_offsets(l);
            let (lo, hi) = self.work.split_at_mut(l - 1);
            let zdot: &mut [f64] = if l == layers { out } else { &mut hi[0] };
            // ż_l = V_l h_{l−1} + W_l ḣ_{l−1} + v_b (ḣ_0 = 0).
            let vl = MatRef::col_major(&v[w_off..], m_prev, m_l, m_prev).t();
            let h_prev = MatRef::col_major(fw.h[l - 1].as_slice(), m_prev, n, m_prev);
            kernels::gemm(1.0, vl, h_prev, 0.0, zdot, m_l);
            if l > 1 {
                let wl = MatRef::col_major(&theta[w_off..], m_prev, m_l, m_prev).t();
                let hdot = MatRef::col_major(&lo[l - 2], m_prev, n, m_prev);
                kernels::gemm(1.0, wl, hdot, 1.0, zdot, m_l);
            }
            let vb = &v[b_off..b_off + m_l];
            for col in zdot.chunks_exact_mut(m_l) {
                for (z, b) in col.iter_mut().zip(vb) {
                    *z += b;
                }
            }
            if l < layers {
                for (x, s) in zdot.iter_mut().zip(&self.dsig[l - 1]) {
                    *x *= s;
                }
            }
        }
    }

    /// Computes the backprop signals `G_l` of every hidden layer (`Q` backprops at once).
    ///
    /// Cost `QN·Σ_{l<L} M_l M_{l+1}` multiply-adds.
    pub fn signals(&mut self, net: &Mlp, theta: &[f64], fw: &Forward) {
        if self.signals_ready {
            return;
        }
        let widths = net.widths();
        let hidden = widths.len() - 2;
        let n = fw.h[0].ncols();
        let q = net.output_dim();
        let qn = q * n;
        self.signals.resize_with(hidden, Vec::new);
        if hidden == 0 {
            self.signals_ready = true;
            return;
        }
        // Last hidden layer: G_L[:, (j,q)] = σ'(z_L)[:, j] ⊙ W_{L+1}[q, :].
        let ml = widths[hidden];
        let (w_out, _) = net.layer_offsets(hidden + 1);
        {
            let g = &mut self.signals[hidden - 1];
            resize(g, ml * qn);
            let ds = &self.dsig[hidden - 1];
            for j in 0..n {
                let s = &ds[j * ml..(j + 1) * ml];
                for qi in 0..q {
                    let w = &theta[w_out + qi * ml..w_out + (qi + 1) * ml];
                    let col = &mut g[(j * q + qi) * ml..(j * q + qi + 1) * ml];
                    for ((c, a), b) in col.iter_mut().zip(s).zip(w) {
                        *c = a * b;
                    }
                }
            }
        }
        for l in (1..hidden).rev() {
            let (m_l, m_next) = (widths[l], widths[l + 1]);
            let (w_off, _) = net.layer_offsets(l + 1);
            let (lo, hi) = self.signals.split_at_mut(l);
            let g = &mut lo[l - 1];
            resize(g, m_l * qn);
            let wt = MatRef::col_major(&theta[w_off..], m_l, m_next, m_l);
            kernels::gemm(
                1.0,
                wt,
                MatRef::col_major(&hi[0], m_next, qn, m_next),
                0.0,
                g,
                m_l,
            );
            let ds = &self.dsig[l - 1];
            for j in 0..n {
                let s = &ds[j * m_l..(j + 1) * m_l];
                for qi in 0..q {
                    let col = &mut g[(j * q + qi) * m_l..(j * q + qi + 1) * m_l];
                    for (c, a) in col.iter_mut().zip(s) {
                        *c *= a;
                    }
                }
            }
        }
        self.signals_ready = true;
    }

    /// The diagonal of `DDᵀ` (squared row norms of `D`) into `out` (`QN`), from the signals.
    pub fn ntk_diagonal(&mut self, net: &Mlp, theta: &[f64], fw: &Forward, out: &mut [f64]) {
        self.signals(net, theta, fw);
        let widths = net.widths();
        let layers = widths.len() - 1;
        let n = fw.h[0].ncols();
        let q = net.output_dim();
        let sq = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        for j in 0..n {
            let m_last = widths[layers - 1];
            let hl = &fw.h[layers - 1].as_slice()[j * m_last..(j + 1) * m_last];
            let out_term = sq(hl) + 1.0;
            for qi in 0..q {
                out[j * q + qi] = out_term;
            }
            for l in 1..layers {
                let (m_prev, m_l) = (widths[l - 1], widths[l]);
                let hp = &fw.h[l - 1].as_slice()[j * m_prev..(j + 1) * m_prev];
                let kl = sq(hp) + 1.0;
                let g = &self.signals[l - 1];
                for qi in 0..q {
                    let c = j * q + qi;
                    out[c] += kl * sq(&g[c * m_l..(c + 1) * m_l]);
                }
            }
        }
    }

    /// Assembles the lower triangle of `DDᵀ` (`QN × QN`, column-major) into `ntk`.
    ///
    /// The strict upper triangle is left unspecified. Cost `Σ_l (QN)²M_l/2 + N²M_{l−1}/2`
    /// multiply-adds (see the module docs).
    pub fn ntk_lower(
        &mut self,
        net: &Mlp,
        theta: &[f64],
        fw: &Forward,
        ntk: &mut Vec<f64>,
    ) -> NtkInfo {
        self.signals(net, theta, fw);
        let n = fw.h[0].ncols();
        let q = net.output_dim();
        let qn = q * n;
        resize(ntk, qn * qn);
        if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) && qn <= TILED_MAX_QN {
            self.assemble_tiled(net, fw, ntk);
        } else {
            self.assemble_gemm(net, fw, ntk);
        }
        let mut info = NtkInfo::default();
        let rows = &mut self.rows;
        rows.clear();
        rows.resize(qn, 0.0);
        for jc in 0..qn {
            let col = &ntk[jc * qn + jc..(jc + 1) * qn];
            info.trace += col[0];
            let mut s = col[0].abs();
            for (r, v) in rows[jc + 1..].iter_mut().zip(&col[1..]) {
                s += v.abs();
                *r += v.abs();
            }
            rows[jc] += s;
        }
        info.max_row_sum = rows.iter().copied().fold(0.0, f64::max);
        info
    }

    /// The lower triangle of the NTK in one pass over `4 × 4` tiles of the output, each layer's
    /// term added while the tile is in registers (see [`TILED_MAX_QN`]).
    fn assemble_tiled(&mut self, net: &Mlp, fw: &Forward, ntk: &mut [f64]) {
        let widths = net.widths();
        let layers = widths.len() - 1;
        let n = fw.h[0].ncols();
        let q = net.output_dim();
        let qn = q * n;
        let t = kernels::TILE;
        let qnp = qn.div_ceil(t) * t;
        self.samples.clear();
        self.samples.extend((0..qnp).map(|i| (i / q).min(n - 1)));
        // K_l = H_{l−1}ᵀH_{l−1} (lower triangles), l = 1..=L+1, one N × N block each.
        resize(&mut self.kbuf, layers * n * n);
        for l in 1..=layers {
            let m_prev = widths[l - 1];
            kernels::syrk_lower(
                1.0,
                MatRef::col_major(fw.h[l - 1].as_slice(), m_prev, n, m_prev),
                0.0,
                &mut self.kbuf[(l - 1) * n * n..],
                n,
            );
        }
        // Factors of every term, transposed (row p contiguous over the QN columns) and padded
        // with zero columns to a multiple of the tile: the signals G_l of the hidden layers, then
        // the output layer's, whose signal is g[q'; (j, q)] = δ_{qq'}.
        let rows_total: usize = widths[1..layers].iter().sum::<usize>() + q;
        resize(&mut self.gamma, rows_total * qnp);
        let mut off = 0;
        for (g, &m_l) in self.signals.iter().zip(&widths[1..layers]) {
            let gt = &mut self.gamma[off..off + m_l * qnp];
            for (c, col) in g.chunks_exact(m_l).enumerate() {
                for (p, v) in col.iter().enumerate() {
                    gt[p * qnp + c] = *v;
                }
            }
            off += m_l * qnp;
        }
        for (p, row) in self.gamma[off..].chunks_exact_mut(qnp).enumerate() {
            for (i, x) in row.iter_mut().enumerate() {
                *x = if i < qn && i % q == p { 1.0 } else { 0.0 };
            }
        }
        // One pass over the lower tiles, every layer's term added while the tile is in
        // registers; no QN × QN intermediate.
        // Hadamard weights of the tile column's samples, w[(l·T + jj)·QNp + i] = K_l[i/Q, j/Q] + 1
        // for column j = j0 + jj and i ≥ j0 (the lower part; no tile reads the rest): laid out
        // so that a tile reads them as vectors, and small enough to stay in cache (M's weights
        // for all columns at once took 2 MB and slowed the solve that follows).
        resize(&mut self.kexp, layers * t * qnp);
        for j0 in (0..qn).step_by(t) {
            let mut offs = [0; 4];
            for (jj, o) in offs.iter_mut().enumerate() {
                *o = jj * qnp;
            }
            for l in 0..layers {
                let kl = &self.kbuf[l * n * n..(l + 1) * n * n];
                let wl = &mut self.kexp[l * t * qnp..(l + 1) * t * qnp];
                for (jj, wcol) in wl.chunks_exact_mut(qnp).enumerate() {
                    let kcol = &kl[self.samples[j0 + jj] * n..][..n];
                    for (x, si) in wcol[j0..].iter_mut().zip(&self.samples[j0..]) {
                        *x = kcol[*si] + 1.0;
                    }
                }
            }
            for i0 in (j0..qn).step_by(t) {
                let mut res = [[0.0f64; 4]; 4];
                let mut off = 0;
                for (l, &m_l) in widths[1..layers].iter().chain([&q]).enumerate() {
                    kernels::gram_tile_scaled(
                        &self.gamma[off..off + m_l * qnp],
                        qnp,
                        m_l,
                        (i0, j0),
                        &self.kexp[l * t * qnp..(l + 1) * t * qnp],
                        offs,
                        &mut res,
                    );
                    off += m_l * qnp;
                }
                for (jj, r) in res.iter().enumerate() {
                    let j = j0 + jj;
                    if j >= qn {
                        break;
                    }
                    let lo = i0.max(j);
                    let hi = (i0 + t).min(qn);
                    if lo < hi {
                        ntk[j * qn + lo..j * qn + hi].copy_from_slice(&r[lo - i0..hi - i0]);
                    }
                }
            }
        }
    }

    /// The lower triangle of the NTK from per-layer Gram matrices formed by [`kernels::syrk_lower`],
    /// combined in a second pass.
    fn assemble_gemm(&mut self, net: &Mlp, fw: &Forward, ntk: &mut [f64]) {
        let widths = net.widths();
        let layers = widths.len() - 1;
        let n = fw.h[0].ncols();
        let q = net.output_dim();
        let qn = q * n;
        resize(&mut self.kbuf, n * n);
        // Output layer: δ_{qq'}(⟨h_L[j], h_L[j']⟩ + 1).
        let m_last = widths[layers - 1];
        kernels::syrk_lower(
            1.0,
            MatRef::col_major(fw.h[layers - 1].as_slice(), m_last, n, m_last),
            0.0,
            &mut self.kbuf,
            n,
        );
        for jp in 0..n {
            for qp in 0..q {
                let ip = jp * q + qp;
                let col = &mut ntk[ip * qn..(ip + 1) * qn];
                col[ip..].fill(0.0);
                col[ip] = self.kbuf[jp * n + jp] + 1.0;
                for j in jp + 1..n {
                    col[j * q + qp] = self.kbuf[jp * n + j] + 1.0;
                }
            }
        }
        // Hidden layers: Γ_l ⊙ (K_l ⊗ 1), one contiguous multiply-add per column with K_l's
        // column expanded over q (so that the loop vectorizes).
        if layers > 1 {
            resize(&mut self.gamma, qn * qn);
            resize(&mut self.kexp, qn);
        }
        for l in 1..layers {
            let (m_prev, m_l) = (widths[l - 1], widths[l]);
            kernels::syrk_lower(
                1.0,
                MatRef::col_major(&self.signals[l - 1], m_l, qn, m_l),
                0.0,
                &mut self.gamma,
                qn,
            );
            kernels::syrk_lower(
                1.0,
                MatRef::col_major(fw.h[l - 1].as_slice(), m_prev, n, m_prev),
                0.0,
                &mut self.kbuf,
                n,
            );
            for jp in 0..n {
                let kcol = &self.kbuf[jp * n..(jp + 1) * n];
                let start = jp * q;
                for (j, k) in kcol.iter().enumerate().skip(jp) {
                    self.kexp[j * q..(j + 1) * q].fill(k + 1.0);
                }
                for qp in 0..q {
                    let ip = start + qp;
                    let col = &mut ntk[ip * qn + ip..(ip + 1) * qn];
                    let gcol = &self.gamma[ip * qn + ip..(ip + 1) * qn];
                    for ((c, g), k) in col.iter_mut().zip(gcol).zip(&self.kexp[ip..]) {
                        *c += g * k;
                    }
                }
            }
        }
    }
}

/// Multiply-adds of one structured NTK assembly (`Σ_l (QN)²M_l/2 + N²M_{l−1}/2`, plus the
/// signals `QN·Σ M_l M_{l+1}`) for `widths` and `n` samples.
pub fn ntk_fma(widths: &[usize], n: usize) -> f64 {
    let q = *widths.last().unwrap_or(&1) as f64;
    let n = n as f64;
    let qn = q * n;
    let layers = widths.len() - 1;
    let mut f = 0.0;
    for l in 1..=layers {
        let m_prev = widths[l - 1] as f64;
        f += n * n * m_prev / 2.0;
        if l < layers {
            f += qn * qn * widths[l] as f64 / 2.0;
        }
        if l + 1 < layers {
            f += qn * widths[l] as f64 * widths[l + 1] as f64;
        }
    }
    f
}

/// Multiply-adds of one backprop or forward-mode pass: `2·N·Σ M_l M_{l−1}` (plus biases).
pub fn pass_fma(widths: &[usize], n: usize) -> f64 {
    let w: f64 = widths
        .windows(2)
        .map(|p| (p[0] * p[1]) as f64 + p[1] as f64)
        .sum();
    2.0 * n as f64 * w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use nalgebra::DMatrix;

    fn setup(widths: &[usize], n: usize, act: Activation) -> (Mlp, Vec<f64>, Forward) {
        let net = Mlp::new(widths, act).unwrap();
        let mut rng = Rng::new(7);
        let theta: Vec<f64> = (0..net.k()).map(|_| 0.8 * rng.normal()).collect();
        let x = DMatrix::from_fn(widths[0], n, |_, _| rng.normal());
        let mut fw = Forward::default();
        net.forward_into(&theta, &x, &mut fw);
        (net, theta, fw)
    }

    #[test]
    fn vjp_jvp_and_ntk_match_the_dense_jacobian() {
        for (widths, act) in [
            (vec![3, 5, 4, 2], Activation::Tanh),
            (vec![2, 3], Activation::Relu),
            (vec![2, 7, 1], Activation::Softplus),
            (vec![4, 6, 5, 3, 3], Activation::Sigmoid),
        ] {
            let n = 6;
            let (net, theta, fw) = setup(&widths, n, act);
            let mut dt = DMatrix::zeros(0, 0);
            net.jacobian_t_into(&theta, &fw, &mut dt);
            let d = dt.transpose();
            let qn = d.nrows();
            let mut der = Derivs::default();
            der.prepare(&net, &fw);
            let u: Vec<f64> = (0..qn).map(|i| (i as f64).cos()).collect();
            let mut got = vec![0.0; net.k()];
            der.vjp(&net, &theta, &fw, &u, &mut got);
            let want = &dt * nalgebra::DVector::from_column_slice(&u);
            assert!(crate::linalg::max_rel_diff(&got, want.as_slice()) < 1e-13);
            let v: Vec<f64> = (0..net.k()).map(|i| (i as f64 * 0.3).sin()).collect();
            let mut got = vec![0.0; qn];
            der.jvp(&net, &theta, &fw, &v, &mut got);
            let want = &d * nalgebra::DVector::from_column_slice(&v);
            assert!(crate::linalg::max_rel_diff(&got, want.as_slice()) < 1e-13);
            let mut ntk = vec![];
            let info = der.ntk_lower(&net, &theta, &fw, &mut ntk);
            let want = &d * d.transpose();
            for j in 0..qn {
                for i in j..qn {
                    let e = (ntk[i + j * qn] - want[(i, j)]).abs() / want.amax();
                    assert!(e < 1e-13, "{widths:?} ({i},{j}): {e:.1e}");
                }
            }
            assert!((info.trace - want.trace()).abs() < 1e-12 * want.trace());
            // Both assemblies, whichever the target uses.
            let mut tiled = vec![0.0; qn * qn];
            der.assemble_tiled(&net, &fw, &mut tiled);
            let mut gemm = vec![0.0; qn * qn];
            der.assemble_gemm(&net, &fw, &mut gemm);
            for j in 0..qn {
                for i in j..qn {
                    for got in [tiled[i + j * qn], gemm[i + j * qn]] {
                        let e = (got - want[(i, j)]).abs() / want.amax();
                        assert!(e < 1e-13, "{widths:?} ({i},{j}): {e:.1e}");
                    }
                }
            }
            let mut diag = vec![0.0; qn];
            der.ntk_diagonal(&net, &theta, &fw, &mut diag);
            for (i, g) in diag.iter().enumerate() {
                assert!((g - want[(i, i)]).abs() < 1e-12 * want[(i, i)]);
            }
        }
    }
}
