//! Exact second derivatives of the cost: the gradient `∇_θC` by back-propagation and
//! Hessian–vector products `H v = ∇²_θC · v` by forward-over-reverse differentiation
//! (Pearlmutter's R-operator), hence exact Hessian columns `H e_α = ∇_θ g_α` (4.13), (4.16).
//!
//! `H = DᵀΩD + Σ_i (∇ₓC)_i ∇²_θ x_i` with `Ω = 1/N` for the mean cost and `diag(2/N_ω(i))` for the
//! weighted one ([`crate::math::model`]). Nothing here differences a gradient: every
//! product is a second-order pass through the network, exact up to rounding for every smooth
//! activation; for ReLU and leaky ReLU it is the almost-everywhere derivative (`σ'' = 0`, and the
//! kink counted as the left side, as in [`crate::math::net::Activation::df`]).
//!
//! Cost of one product: one forward and one backward sweep over the `N` samples with tangents,
//! about three gradient evaluations; a full Hessian takes `K` of them.

use crate::error::{Error, Result};
use crate::math::model::{CostSpec, Model};
use crate::math::net::Forward;
use nalgebra::{DMatrix, DMatrixViewMut};

/// The cost, its gradient and the data for Hessian–vector products at one `θ`.
///
/// Built once per point; [`Self::hvp`] and [`Self::column`] then cost one second-order sweep each.
#[derive(Debug, Clone)]
pub struct SecondOrder<'a> {
    model: &'a Model,
    theta: Vec<f64>,
    fw: Forward,
    /// `δ_l = ∂C/∂z_l` (`M_l × N`) for `l = 1..=L+1` (index `l-1`).
    delta: Vec<DMatrix<f64>>,
    /// `e_l = W_{l+1}ᵀ δ_{l+1}` (`M_l × N`) for hidden `l = 1..=L` (index `l-1`), before `σ'`.
    back: Vec<DMatrix<f64>>,
    grad: Vec<f64>,
    cost: f64,
}

impl<'a> SecondOrder<'a> {
    /// Runs the forward and backward sweeps at `θ`.
    ///
    /// Errors: `theta` of the wrong length or not finite (named `theta`), or a non-finite output
    /// ([`Error::NonFinite`]).
    pub fn new(model: &'a Model, theta: &[f64]) -> Result<Self> {
        model.net.check_theta(theta, "theta")?;
        let net = &model.net;
        let mut fw = Forward::default();
        net.forward_into(theta, &model.data.inputs, &mut fw);
        let x = fw.outputs().as_slice();
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("network output {i} is {}", x[i])));
        }
        let cost = model.cost_of_outputs(x);
        let layers = net.widths().len() - 1;
        let nn = model.n();
        let mut delta: Vec<DMatrix<f64>> = (1..=layers)
            .map(|l| DMatrix::zeros(net.widths()[l], nn))
            .collect();
        // δ_{L+1} = ∇ₓC = Ω(x − y), sample-major like the Q × N output matrix.
        let mut gx = Vec::with_capacity(x.len());
        model.grad_x_into(x, &mut gx);
        delta[layers - 1].copy_from_slice(&gx);
        let mut back: Vec<DMatrix<f64>> = (1..layers)
            .map(|l| DMatrix::zeros(net.widths()[l], nn))
            .collect();
        let act = net.activation();
        for l in (1..layers).rev() {
            let wt = net.weights_t(theta, l + 1);
            back[l - 1].gemm(1.0, &wt, &delta[l], 0.0);
            let (lo, _) = delta.split_at_mut(l);
            for ((d, e), z) in lo[l - 1]
                .iter_mut()
                .zip(back[l - 1].iter())
                .zip(fw.z[l - 1].iter())
            {
                *d = e * act.df(*z);
            }
        }
        let mut grad = vec![0.0; net.k()];
        for l in 1..=layers {
            write_layer_grad(model, l, &fw.h[l - 1], &delta[l - 1], 1.0, &mut grad);
        }
        Ok(SecondOrder {
            model,
            theta: theta.to_vec(),
            fw,
            delta,
            back,
            grad,
            cost,
        })
    }

    /// `θ` of this point.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// Cost `C(θ)`.
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// `∇_θC = Dᵀ∇ₓC` (1.21), by back-propagation.
    pub fn gradient(&self) -> &[f64] {
        &self.grad
    }

    /// `H v` for `v ∈ R^K`, exact (forward-over-reverse).
    ///
    /// Panics only on a `v` of the wrong length, which is a caller bug (callers build `v` from `K`).
    pub fn hvp(&self, v: &[f64]) -> Vec<f64> {
        let model = self.model;
        let net = &model.net;
        assert_eq!(v.len(), net.k(), "hvp: direction must have length K");
        let layers = net.widths().len() - 1;
        let nn = model.n();
        let act = net.activation();
        let theta = &self.theta[..];
        // Tangent forward sweep: ż_l = Ẇ_l h_{l-1} + W_l ḣ_{l-1} + ḃ_l, ḣ_l = σ'(z_l) ż_l.
        let mut zdot: Vec<DMatrix<f64>> = Vec::with_capacity(layers);
        let mut hdot: Vec<DMatrix<f64>> = Vec::with_capacity(layers + 1);
        hdot.push(DMatrix::zeros(net.input_dim(), nn));
        for l in 1..=layers {
            let rows = net.widths()[l];
            let mut zd = DMatrix::zeros(rows, nn);
            zd.gemm_tr(1.0, &net.weights_t(v, l), &self.fw.h[l - 1], 0.0);
            if l > 1 {
                zd.gemm_tr(1.0, &net.weights_t(theta, l), &hdot[l - 1], 1.0);
            }
            let vb = net.bias(v, l);
            for mut col in zd.column_iter_mut() {
                for (zi, bi) in col.iter_mut().zip(vb) {
                    *zi += bi;
                }
            }
            let hd = if l == layers {
                zd.clone()
            } else {
                zd.zip_map(&self.fw.z[l - 1], |d, z| d * act.df(z))
            };
            zdot.push(zd);
            hdot.push(hd);
        }
        // Tangent backward sweep: δ̇_{L+1} = Ωẋ (ẋ/N for the mean cost);
        // δ̇_l = σ''(z_l) ż_l e_l + σ'(z_l) (Ẇ_{l+1}ᵀ δ_{l+1} + W_{l+1}ᵀ δ̇_{l+1}).
        let mut ddot: Vec<DMatrix<f64>> = (1..=layers)
            .map(|l| DMatrix::zeros(net.widths()[l], nn))
            .collect();
        ddot[layers - 1] = match model.cost_spec() {
            CostSpec::Mean => &zdot[layers - 1] / nn as f64,
            CostSpec::Weighted => {
                let mut top = zdot[layers - 1].clone();
                for (mut col, w) in top.column_iter_mut().zip(model.weights()) {
                    col *= *w;
                }
                top
            }
        };
        for l in (1..layers).rev() {
            let mut ed = DMatrix::zeros(net.widths()[l], nn);
            ed.gemm(1.0, &net.weights_t(v, l + 1), &self.delta[l], 0.0);
            ed.gemm(1.0, &net.weights_t(theta, l + 1), &ddot[l], 1.0);
            let z = &self.fw.z[l - 1];
            let e = &self.back[l - 1];
            let zd = &zdot[l - 1];
            let out = &mut ddot[l - 1];
            for i in 0..out.len() {
                out[i] = act.d2f(z[i]) * zd[i] * e[i] + act.df(z[i]) * ed[i];
            }
        }
        // (Hv) for layer l: δ̇_l h_{l-1}ᵀ + δ_l ḣ_{l-1}ᵀ, and Σ_j δ̇_l for the bias.
        let mut out = vec![0.0; net.k()];
        for l in 1..=layers {
            write_layer_grad(model, l, &self.fw.h[l - 1], &ddot[l - 1], 1.0, &mut out);
            if l > 1 {
                add_weight_outer(model, l, &hdot[l - 1], &self.delta[l - 1], &mut out);
            }
        }
        out
    }

    /// Column `α` of the Hessian: `H e_α = ∇_θ(∂C/∂θ_α)`.
    ///
    /// Errors: `alpha ≥ K`, named `alpha`.
    pub fn column(&self, alpha: usize) -> Result<Vec<f64>> {
        let k = self.model.k();
        if alpha >= k {
            return Err(Error::invalid(
                "alpha",
                format!("is {alpha} but θ has K = {k} entries"),
            ));
        }
        let mut e = vec![0.0; k];
        e[alpha] = 1.0;
        Ok(self.hvp(&e))
    }

    /// The full Hessian `∇²_θC ∈ R^{K×K}`, column by column (`K` products; for tests and small nets).
    ///
    /// Not symmetrized: its symmetry is a check on the second-order sweep.
    pub fn hessian(&self) -> DMatrix<f64> {
        let k = self.model.k();
        let mut h = DMatrix::zeros(k, k);
        let mut e = vec![0.0; k];
        for a in 0..k {
            e[a] = 1.0;
            let col = self.hvp(&e);
            h.column_mut(a).copy_from_slice(&col);
            e[a] = 0.0;
        }
        h
    }
}

/// Writes `scale · Σ_j d_j ⊗ h_j` into the `W_l` block of `out` (row-major `W_l`) and
/// `scale · Σ_j d_j` into the `b_l` block, overwriting both.
fn write_layer_grad(
    model: &Model,
    l: usize,
    h_prev: &DMatrix<f64>,
    d: &DMatrix<f64>,
    scale: f64,
    out: &mut [f64],
) {
    let net = &model.net;
    let (w_off, b_off) = net.layer_offsets(l);
    let (rows, cols) = (net.widths()[l - 1], net.widths()[l]);
    {
        // Row-major W_l in θ is column-major W_lᵀ (M_{l-1} × M_l) = h_{l-1} dᵀ.
        let mut gt = DMatrixViewMut::from_slice(&mut out[w_off..w_off + rows * cols], rows, cols);
        gt.gemm(scale, h_prev, &d.transpose(), 0.0);
    }
    for (a, bo) in out[b_off..b_off + cols].iter_mut().enumerate() {
        *bo = scale * d.row(a).sum();
    }
}

/// Adds `Σ_j d_j ⊗ hdot_j` to the `W_l` block of `out`.
fn add_weight_outer(
    model: &Model,
    l: usize,
    hdot: &DMatrix<f64>,
    d: &DMatrix<f64>,
    out: &mut [f64],
) {
    let net = &model.net;
    let (w_off, _) = net.layer_offsets(l);
    let (rows, cols) = (net.widths()[l - 1], net.widths()[l]);
    let mut gt = DMatrixViewMut::from_slice(&mut out[w_off..w_off + rows * cols], rows, cols);
    gt.gemm(1.0, hdot, &d.transpose(), 1.0);
}

/// `∇_θC` at `θ` (allocates a [`SecondOrder`]).
///
/// Errors: as [`SecondOrder::new`].
pub fn gradient(model: &Model, theta: &[f64]) -> Result<Vec<f64>> {
    Ok(SecondOrder::new(model, theta)?.gradient().to_vec())
}

/// `∇²_θC · v` at `θ` (allocates a [`SecondOrder`]).
///
/// Errors: as [`SecondOrder::new`]; `v` of the wrong length, named `v`.
pub fn hvp(model: &Model, theta: &[f64], v: &[f64]) -> Result<Vec<f64>> {
    if v.len() != model.k() {
        return Err(Error::invalid(
            "v",
            format!("has length {} but K = {}", v.len(), model.k()),
        ));
    }
    Ok(SecondOrder::new(model, theta)?.hvp(v))
}
