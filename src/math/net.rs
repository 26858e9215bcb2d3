//! Fully connected networks: parameter layout, forward pass, the exact Jacobian `D[θ]`.
//!
//! Conventions (MATH.md, (1.3)–(1.8)): hidden layers `x^(l) = σ(W_l x^(l-1) + b_l)`, an affine
//! output layer `x^(L+1) = W_{L+1} x^(L) + b_{L+1}`. `θ` lists layer by layer (`l = 1..L+1`)
//! the entries of `W_l` row-major, then `b_l`. Stacked outputs are sample-major: entry `j·Q + q`
//! of `x̲` is output coordinate `q` of sample `j`. Inside, batches are nalgebra matrices with one
//! column per sample, so a `Q × N` output matrix in column-major storage *is* `x̲`.

use crate::error::{Error, Result};
use crate::linalg::kernels::{self, MatRef};
use nalgebra::{DMatrix, DMatrixView};
use serde::{Deserialize, Serialize};

/// Activation function `σ` of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `σ(z) = z` (a linear network).
    Identity,
    /// `σ(z) = max(z, 0)`; derivatives are the almost-everywhere ones (`σ'(0) = 0`).
    Relu,
    /// `σ(z) = z` for `z > 0`, `0.01 z` otherwise.
    LeakyRelu,
    /// `σ(z) = log(1 + e^z)`.
    Softplus,
    /// `σ(z) = tanh z`.
    Tanh,
    /// `σ(z) = 1 / (1 + e^{-z})`.
    Sigmoid,
}

/// Slope of [`Activation::LeakyRelu`] for negative arguments.
pub const LEAKY_SLOPE: f64 = 0.01;

impl Activation {
    /// Every activation, in menu order.
    pub const ALL: [Activation; 6] = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Softplus,
        Activation::Tanh,
        Activation::Sigmoid,
    ];

    /// The snake_case name used in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Softplus => "softplus",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// Whether `σ` is `C²` (the Hessian is then exact everywhere, not only almost everywhere).
    pub fn is_smooth(self) -> bool {
        !matches!(self, Activation::Relu | Activation::LeakyRelu)
    }

    /// `σ(z)`.
    #[inline]
    pub fn f(self, z: f64) -> f64 {
        match self {
            Activation::Identity => z,
            Activation::Relu => z.max(0.0),
            Activation::LeakyRelu => {
                if z > 0.0 {
                    z
                } else {
                    LEAKY_SLOPE * z
                }
            }
            // Stable for large |z|: log(1+e^z) = max(z,0) + log1p(e^{-|z|}).
            Activation::Softplus => z.max(0.0) + (-z.abs()).exp().ln_1p(),
            Activation::Tanh => tanh(z),
            Activation::Sigmoid => sigmoid(z),
        }
    }

    /// Whether `σ` is piecewise linear (ReLU, leaky ReLU): its derivative jumps at 0, and the
    /// adapted field with it.
    pub fn is_piecewise_linear(self) -> bool {
        matches!(self, Activation::Relu | Activation::LeakyRelu)
    }

    /// The slope of the branch `positive` of a piecewise-linear `σ` (1, or 0 / `LEAKY_SLOPE`);
    /// for other activations 1 (they have no frozen pattern).
    #[inline]
    pub fn branch_slope(self, positive: bool) -> f64 {
        match (self, positive) {
            (_, true) => 1.0,
            (Activation::Relu, false) => 0.0,
            (Activation::LeakyRelu, false) => LEAKY_SLOPE,
            _ => 1.0,
        }
    }

    /// `σ'(z)`.
    #[inline]
    pub fn df(self, z: f64) -> f64 {
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu => {
                if z > 0.0 {
                    1.0
                } else {
                    LEAKY_SLOPE
                }
            }
            Activation::Softplus => sigmoid(z),
            Activation::Tanh => {
                let t = tanh(z);
                1.0 - t * t
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
        }
    }

    /// `σ''(z)` (zero almost everywhere for the piecewise linear ones).
    #[inline]
    pub fn d2f(self, z: f64) -> f64 {
        match self {
            Activation::Identity | Activation::Relu | Activation::LeakyRelu => 0.0,
            Activation::Softplus => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
            Activation::Tanh => {
                let t = tanh(z);
                -2.0 * t * (1.0 - t * t)
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s) * (1.0 - 2.0 * s)
            }
        }
    }
}

impl Activation {
    /// `h = σ(z)` elementwise over equal-length slices (the forward pass's hot loop).
    pub fn apply(self, z: &[f64], h: &mut [f64]) {
        debug_assert_eq!(z.len(), h.len());
        match self {
            Activation::Tanh => tanh_slice(z, h),
            act => {
                for (hi, zi) in h.iter_mut().zip(z) {
                    *hi = act.f(*zi);
                }
            }
        }
    }
}

/// `tanh` to within 2 ulp of the correctly rounded value (tested against std over `[-30, 30]`),
/// written without branches so that loops over it vectorize: std's `tanh` (libm's `expm1`
/// underneath) cost ~10 ns per unit and dominated the forward pass. Cephes' rational
/// approximation below `|x| = 0.625`; above, `e^{2|x|} = 2^n(q + p)/(q − p)` (Cody–Waite
/// reduction, Cephes' Padé form of `exp`) folded into `1 − tanh|x| = 2(q − p)/(2^n(q + p) + q − p)`,
/// so that either branch costs one division. NaN stays NaN, `±0` and `±∞` give `±0` and `±1`.
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    // Cephes (S. L. Moshier), tanh.c and exp.c, double precision.
    const TP: [f64; 3] = [-0.9643991794250523, -99.28772310019185, -1614.6876844170845];
    const TQ: [f64; 3] = [112.81167849163293, 2235.4883906010045, 4844.063053251255];
    const P: [f64; 3] = [0.00012617719307481058, 0.030299440770744195, 1.0];
    const Q: [f64; 4] = [
        3.0019850513866446e-6,
        0.002524483403496841,
        0.22726554820815503,
        2.0,
    ];
    const C1: f64 = 0.693145751953125;
    const C2: f64 = 1.4286068203094173e-6;
    // Adding 1.5·2^52 rounds to an integer that then sits in the low mantissa bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    // Not `min`: on wasm32 that is a call to fmin (f64.min propagates NaN, Rust's min does not),
    // which also stops the loop from vectorizing. NaN is handled at the end.
    let a = x.abs();
    let a = if a < 22.0 { a } else { 22.0 };
    let s = x * x;
    let num_s = x * s * ((TP[0] * s + TP[1]) * s + TP[2]);
    let den_s = ((s + TQ[0]) * s + TQ[1]) * s + TQ[2];
    let y = 2.0 * a;
    let t = y * std::f64::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = y - n * C1 - n * C2;
    let rr = r * r;
    let p = r * ((P[0] * rr + P[1]) * rr + P[2]);
    let q = ((Q[0] * rr + Q[1]) * rr + Q[2]) * rr + Q[3];
    let pow = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    let small = a < 0.625;
    let ratio = if small { num_s } else { 2.0 * (q - p) }
        / if small {
            den_s
        } else {
            pow * (q + p) + (q - p)
        };
    let v = if small {
        x + ratio
    } else {
        (1.0 - ratio).copysign(x)
    };
    // NaN stays NaN, and ±0 keeps its sign (x + ratio would turn −0 into +0).
    if x.is_nan() || x == 0.0 {
        x
    } else {
        v
    }
}

fn tanh_slice(z: &[f64], h: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        unsafe { tanh_slice_avx2(z, h) };
        return;
    }
    for (hi, zi) in h.iter_mut().zip(z) {
        *hi = tanh(*zi);
    }
}

/// The same loop compiled for AVX2 (four lanes instead of two). Rust never contracts `a·b + c`
/// into an FMA, so both versions compute bit-identical values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tanh_slice_avx2(z: &[f64], h: &mut [f64]) {
    for (hi, zi) in h.iter_mut().zip(z) {
        *hi = tanh(*zi);
    }
}

#[inline]
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// A fully connected network `R^M → R^Q` with `L = widths.len() - 2` hidden layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    widths: Vec<usize>,
    activation: Activation,
    /// Offset of `W_l` in `θ` for `l = 1..=L+1` (index `l-1`); `b_l` follows `W_l`.
    offsets: Vec<usize>,
    k: usize,
}

/// Cached forward pass over a batch: pre-activations and activations of every layer.
#[derive(Debug, Clone, Default)]
pub struct Forward {
    /// `z[l-1]`: pre-activations `W_l h + b_l` of layer `l = 1..=L+1`, `M_l × N`.
    pub z: Vec<DMatrix<f64>>,
    /// `h[l]`: activations of layer `l = 0..=L+1`; `h[0]` the inputs, `h[L+1] = z[L]` the outputs.
    pub h: Vec<DMatrix<f64>>,
    /// A frozen activation pattern (ReLU, leaky ReLU): per hidden layer, whether each entry of
    /// `z` (column-major, `M_l × N`) takes the positive branch. When set, the pass used it
    /// instead of the signs of `z` (see [`Mlp::forward_frozen_into`]).
    pub pattern: Option<Vec<Vec<bool>>>,
}

/// Per hidden layer, whether each pre-activation takes the positive branch (`z > 0`), the pattern
/// of a piecewise-linear activation (see [`Mlp::forward_frozen_into`]).
pub type Pattern = Vec<Vec<bool>>;

impl Forward {
    /// The activation pattern the signs of `z` give (`z > 0` per hidden entry).
    pub fn sign_pattern(&self) -> Pattern {
        let hidden = self.z.len().saturating_sub(1);
        self.z[..hidden]
            .iter()
            .map(|z| z.iter().map(|&v| v > 0.0).collect())
            .collect()
    }

    /// `σ'` of hidden layer `l` (1-based) at entry `idx`: from the frozen pattern when the pass
    /// had one, else `act.df(z)`.
    #[inline]
    pub fn slope(&self, act: Activation, l: usize, idx: usize, z: f64) -> f64 {
        match &self.pattern {
            Some(p) => act.branch_slope(p[l - 1][idx]),
            None => act.df(z),
        }
    }

    /// The outputs `Q × N` (column-major, hence sample-major as a flat slice: that is `x̲`).
    pub fn outputs(&self) -> &DMatrix<f64> {
        self.h.last().expect("forward pass has an output layer")
    }
}

impl Mlp {
    /// Builds a network from `widths = [M, M_1, …, M_L, Q]` and an activation.
    ///
    /// Errors: fewer than two widths, or a zero width, named as `net.widths`.
    pub fn new(widths: &[usize], activation: Activation) -> Result<Self> {
        if widths.len() < 2 {
            return Err(Error::invalid(
                "net.widths",
                format!(
                    "needs at least [M, Q] (input and output width), got {} entries",
                    widths.len()
                ),
            ));
        }
        if let Some(i) = widths.iter().position(|&w| w == 0) {
            return Err(Error::invalid(
                format!("net.widths[{i}]"),
                "every width must be at least 1",
            ));
        }
        let mut offsets = Vec::with_capacity(widths.len() - 1);
        let mut k: usize = 0;
        for l in 1..widths.len() {
            offsets.push(k);
            let layer = widths[l]
                .checked_mul(widths[l - 1])
                .and_then(|w| w.checked_add(widths[l]))
                .ok_or_else(|| Error::invalid("net.widths", "parameter count overflows"))?;
            k = k
                .checked_add(layer)
                .ok_or_else(|| Error::invalid("net.widths", "parameter count overflows"))?;
        }
        Ok(Mlp {
            widths: widths.to_vec(),
            activation,
            offsets,
            k,
        })
    }

    /// Parameter count `K = Σ_{l=1}^{L+1} (M_l M_{l-1} + M_l)` (1.5) for `widths`.
    pub fn param_count(widths: &[usize]) -> usize {
        widths.windows(2).map(|w| w[1] * w[0] + w[1]).sum()
    }

    /// `[M, M_1, …, Q]`.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// The hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Number of parameters `K`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Input dimension `M`.
    pub fn input_dim(&self) -> usize {
        self.widths[0]
    }

    /// Output dimension `Q`.
    pub fn output_dim(&self) -> usize {
        *self.widths.last().expect("at least two widths")
    }

    /// Number of hidden layers `L`.
    pub fn hidden_layers(&self) -> usize {
        self.widths.len() - 2
    }

    /// Offsets of `W_l` and `b_l` in `θ` for layer `l = 1..=L+1`.
    pub fn layer_offsets(&self, l: usize) -> (usize, usize) {
        let w = self.offsets[l - 1];
        (w, w + self.widths[l] * self.widths[l - 1])
    }

    /// `W_l` as the column-major view of `W_lᵀ` (`M_{l-1} × M_l`), which is how a row-major
    /// `W_l` sits in `θ`.
    pub fn weights_t<'a>(&self, theta: &'a [f64], l: usize) -> DMatrixView<'a, f64> {
        let (w, _) = self.layer_offsets(l);
        let (rows, cols) = (self.widths[l - 1], self.widths[l]);
        DMatrixView::from_slice(&theta[w..w + rows * cols], rows, cols)
    }

    /// `b_l`.
    pub fn bias<'a>(&self, theta: &'a [f64], l: usize) -> &'a [f64] {
        let (_, b) = self.layer_offsets(l);
        &theta[b..b + self.widths[l]]
    }

    /// Checks that `theta` has length `K`, naming `field` otherwise.
    pub fn check_theta(&self, theta: &[f64], field: &str) -> Result<()> {
        if theta.len() != self.k {
            return Err(Error::invalid(
                field,
                format!(
                    "has length {} but the network {:?} has K = {} parameters",
                    theta.len(),
                    self.widths,
                    self.k
                ),
            ));
        }
        if let Some(i) = theta.iter().position(|t| !t.is_finite()) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("must be finite, got {}", theta[i]),
            ));
        }
        Ok(())
    }

    /// Forward pass of all columns of `inputs` (`M × N`), caching every layer in `fw`.
    ///
    /// Buffers in `fw` are reused when their shapes already fit, so repeated calls do not allocate.
    pub fn forward_into(&self, theta: &[f64], inputs: &DMatrix<f64>, fw: &mut Forward) {
        self.forward_frozen_into(theta, inputs, None, fw);
    }

    /// Like [`Self::forward_into`], with a piecewise-linear activation evaluated on the branches
    /// of `pattern` instead of the signs of `z` (`σ(z) = slope·z` with the pattern's slope), so
    /// that the network is one polynomial in `θ` over a whole integrator step. `None`, or an
    /// activation that is not piecewise linear, is the ordinary pass.
    pub fn forward_frozen_into(
        &self,
        theta: &[f64],
        inputs: &DMatrix<f64>,
        pattern: Option<&Pattern>,
        fw: &mut Forward,
    ) {
        let pattern = pattern.filter(|_| self.activation.is_piecewise_linear());
        fw.pattern = pattern.cloned();
        debug_assert_eq!(inputs.nrows(), self.input_dim());
        debug_assert_eq!(theta.len(), self.k);
        let n = inputs.ncols();
        let layers = self.widths.len() - 1;
        fw.z.resize_with(layers, || DMatrix::zeros(0, 0));
        fw.h.resize_with(layers + 1, || DMatrix::zeros(0, 0));
        if fw.h[0].shape() != inputs.shape() {
            fw.h[0] = inputs.clone();
        } else {
            fw.h[0].copy_from(inputs);
        }
        for l in 1..=layers {
            let rows = self.widths[l];
            if fw.z[l - 1].shape() != (rows, n) {
                fw.z[l - 1] = DMatrix::zeros(rows, n);
            }
            let b = self.bias(theta, l);
            let (h_prev, rest) = fw.h.split_at_mut(l);
            let z = &mut fw.z[l - 1];
            // z = W_l h: nalgebra's gemm_tr takes a dot-product path; the strided product packs.
            let (w_off, _) = self.layer_offsets(l);
            let m_prev = self.widths[l - 1];
            kernels::gemm(
                1.0,
                MatRef::col_major(&theta[w_off..], m_prev, rows, m_prev).t(),
                MatRef::col_major(h_prev[l - 1].as_slice(), m_prev, n, m_prev),
                0.0,
                z.as_mut_slice(),
                rows,
            );
            for mut col in z.column_iter_mut() {
                for (zi, bi) in col.iter_mut().zip(b) {
                    *zi += bi;
                }
            }
            let h = &mut rest[0];
            if h.shape() != (rows, n) {
                *h = DMatrix::zeros(rows, n);
            }
            if l == layers {
                h.copy_from(z);
            } else if let Some(p) = pattern {
                let act = self.activation;
                for ((hi, zi), &pos) in h.iter_mut().zip(z.iter()).zip(&p[l - 1]) {
                    *hi = act.branch_slope(pos) * zi;
                }
            } else {
                self.activation.apply(z.as_slice(), h.as_mut_slice());
            }
        }
    }

    /// Outputs `Q × N` for the columns of `inputs` (`M × N`); allocates, for one-off use.
    pub fn forward(&self, theta: &[f64], inputs: &DMatrix<f64>) -> DMatrix<f64> {
        let mut fw = Forward::default();
        self.forward_into(theta, inputs, &mut fw);
        fw.h.pop().expect("output layer")
    }

    /// The transposed Jacobian `Dᵀ ∈ R^{K×QN}` from a cached forward pass, written into `dt`.
    ///
    /// Column `j·Q + q` of `Dᵀ` is `∇_θ x_{j,q}`, computed exactly by back-propagating the unit
    /// vector `e_q` through the network (for ReLU-type activations with the a.e. derivative).
    /// We store `Dᵀ` because each of its columns is contiguous in column-major storage.
    pub fn jacobian_t_into(&self, theta: &[f64], fw: &Forward, dt: &mut DMatrix<f64>) {
        let n = fw.h[0].ncols();
        let q_dim = self.output_dim();
        let layers = self.widths.len() - 1;
        if dt.shape() != (self.k, q_dim * n) {
            *dt = DMatrix::zeros(self.k, q_dim * n);
        }
        // g[l-1] (M_l × N): ∂x_{·,q}/∂z_l for the current output coordinate q, all samples.
        let mut g: Vec<DMatrix<f64>> = (1..=layers)
            .map(|l| DMatrix::zeros(self.widths[l], n))
            .collect();
        for q in 0..q_dim {
            // Output layer: ∂x_q/∂z_{L+1} = e_q for every sample.
            g[layers - 1].fill(0.0);
            g[layers - 1].row_mut(q).fill(1.0);
            for l in (1..layers).rev() {
                // g_l = σ'(z_l) ⊙ (W_{l+1}ᵀ g_{l+1}); W_{l+1}ᵀ is the stored view.
                let wt = self.weights_t(theta, l + 1);
                let (lo, hi) = g.split_at_mut(l);
                lo[l - 1].gemm(1.0, &wt, &hi[0], 0.0);
                let act = self.activation;
                for (idx, (gi, zi)) in lo[l - 1].iter_mut().zip(fw.z[l - 1].iter()).enumerate() {
                    *gi *= fw.slope(act, l, idx, *zi);
                }
            }
            for j in 0..n {
                let mut col = dt.column_mut(j * q_dim + q);
                let col = col.as_mut_slice();
                for l in 1..=layers {
                    let (w_off, b_off) = self.layer_offsets(l);
                    let m_prev = self.widths[l - 1];
                    let h_prev = fw.h[l - 1].column(j);
                    let gl = g[l - 1].column(j);
                    for (a, &ga) in gl.iter().enumerate() {
                        let row = &mut col[w_off + a * m_prev..w_off + (a + 1) * m_prev];
                        for (r, &hb) in row.iter_mut().zip(h_prev.iter()) {
                            *r = ga * hb;
                        }
                        col[b_off + a] = ga;
                    }
                }
            }
        }
    }

    /// The Jacobian `D[θ] ∈ R^{QN×K}` (1.20) at the columns of `inputs`; allocates.
    pub fn jacobian(&self, theta: &[f64], inputs: &DMatrix<f64>) -> DMatrix<f64> {
        let mut fw = Forward::default();
        self.forward_into(theta, inputs, &mut fw);
        let mut dt = DMatrix::zeros(0, 0);
        self.jacobian_t_into(theta, &fw, &mut dt);
        dt.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_count_matches_formula() {
        let net = Mlp::new(&[2, 16, 16, 2], Activation::Tanh).unwrap();
        assert_eq!(net.k(), 354);
        assert_eq!(Mlp::param_count(&[2, 64, 64, 2]), 4482);
        assert!(Mlp::new(&[2], Activation::Tanh).is_err());
        assert!(Mlp::new(&[2, 0, 1], Activation::Tanh).is_err());
    }

    #[test]
    fn tanh_is_within_two_ulp_of_std() {
        let mut rng = crate::rng::Rng::new(11);
        let mut worst: f64 = 0.0;
        let xs: Vec<f64> = (0..400_000)
            .map(|i| rng.normal() * if i % 2 == 0 { 1.0 } else { 12.0 })
            .chain([
                0.0,
                -0.0,
                0.625,
                -0.625,
                1e-300,
                19.1,
                22.0,
                40.0,
                f64::INFINITY,
            ])
            .collect();
        let mut h = vec![0.0; xs.len()];
        Activation::Tanh.apply(&xs, &mut h);
        for (x, hx) in xs.iter().zip(&h) {
            let want = x.tanh();
            assert_eq!(
                hx.to_bits(),
                tanh(*x).to_bits(),
                "slice and scalar differ at {x}"
            );
            if want != 0.0 {
                worst = worst.max(((hx - want) / want).abs());
            } else {
                assert_eq!(hx.to_bits(), want.to_bits(), "tanh({x})");
            }
        }
        assert!(
            worst <= 2.0 * f64::EPSILON,
            "worst relative error {worst:.2e}"
        );
        assert!(tanh(f64::NAN).is_nan());
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
    }

    #[test]
    fn forward_of_a_linear_layer_is_w_x_plus_b() {
        // W = [[1,2],[3,4],[5,6]] row-major, b = [1,1,1]; x = (1, -1).
        let net = Mlp::new(&[2, 3], Activation::Identity).unwrap();
        let theta = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 1.0, 1.0];
        let x = DMatrix::from_column_slice(2, 1, &[1.0, -1.0]);
        let y = net.forward(&theta, &x);
        assert_eq!(y.as_slice(), &[0.0, 0.0, 0.0]);
    }
}
