//! The 2-D cost slice through a rest point for the page.

use super::*;
use crate::error::{Error, Result};
use crate::linalg;
use crate::math::model::Model;
use serde::{Deserialize, Serialize};

/// `C` on the plane through `θ*` spanned by two directions (e.g. a normal and a tangent vector of
/// `M_crit`): `C(θ* + a·u + b·w)` on a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostSlice {
    /// `θ*`.
    pub center: Vec<f64>,
    /// First direction `u` (unit), the horizontal axis.
    pub u: Vec<f64>,
    /// Second direction `w`: `w` minus its component along `u`, normalized; the vertical axis.
    pub w: Vec<f64>,
    /// Grid coordinates `a_i` along `u`, ascending.
    pub a: Vec<f64>,
    /// Grid coordinates `b_j` along `w`, ascending.
    pub b: Vec<f64>,
    /// `cost[j·a.len() + i] = C(θ* + a_i u + b_j w)` (row `j` is one `b`), non-finite kept as NaN.
    pub cost: Vec<f64>,
    /// `C(θ*)`.
    pub center_cost: f64,
}

impl CostSlice {
    /// `(a, b)` coordinates of the projection of `θ` onto the plane (e.g. the end of an escape step).
    pub fn coords(&self, theta: &[f64]) -> (f64, f64) {
        let d: Vec<f64> = theta.iter().zip(&self.center).map(|(t, c)| t - c).collect();
        (linalg::dot(&d, &self.u), linalg::dot(&d, &self.w))
    }
}

/// Evaluates `C` on an `na × nb` grid over `[−half_a, half_a] × [−half_b, half_b]` in the plane
/// through `center` spanned by `u` and `w` (orthonormalized: `u` first).
///
/// Errors: lengths other than `K` or non-finite input (named `center`, `u`, `w`), `u` zero or `w`
/// parallel to `u` (named `w`), grid sizes below 2 or above 400 (named `na`/`nb`), a non-positive
/// half width (named `half_a`/`half_b`).
#[allow(clippy::too_many_arguments)]
pub fn cost_slice(
    model: &Model,
    center: &[f64],
    u: &[f64],
    w: &[f64],
    half_a: f64,
    half_b: f64,
    na: usize,
    nb: usize,
) -> Result<CostSlice> {
    model.net.check_theta(center, "center")?;
    model.net.check_theta(u, "u")?;
    model.net.check_theta(w, "w")?;
    crate::error::positive("half_a", half_a)?;
    crate::error::positive("half_b", half_b)?;
    for (name, n) in [("na", na), ("nb", nb)] {
        if !(2..=400).contains(&n) {
            return Err(Error::invalid(
                name,
                format!("grid size must be in 2..=400, got {n}"),
            ));
        }
    }
    let un = linalg::norm(u);
    if un == 0.0 {
        return Err(Error::invalid("u", "is the zero vector"));
    }
    let u: Vec<f64> = u.iter().map(|v| v / un).collect();
    let w_in = linalg::norm(w);
    let wu = linalg::dot(w, &u);
    let w: Vec<f64> = w.iter().zip(&u).map(|(a, b)| a - wu * b).collect();
    let wn = linalg::norm(&w);
    if wn == 0.0 || wn <= 1e-12 * w_in {
        return Err(Error::invalid(
            "w",
            "is parallel to u: the slice needs a plane",
        ));
    }
    let w: Vec<f64> = w.iter().map(|v| v / wn).collect();
    let grid = |half: f64, n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| -half + 2.0 * half * i as f64 / (n - 1) as f64)
            .collect()
    };
    let a = grid(half_a, na);
    let b = grid(half_b, nb);
    let mut cost = Vec::with_capacity(na * nb);
    let mut th = vec![0.0; center.len()];
    for &bj in &b {
        for &ai in &a {
            for (i, t) in th.iter_mut().enumerate() {
                *t = center[i] + ai * u[i] + bj * w[i];
            }
            let c = model.cost(&th);
            cost.push(if c.is_finite() { c } else { f64::NAN });
        }
    }
    Ok(CostSlice {
        center: center.to_vec(),
        u,
        w,
        a,
        b,
        cost,
        center_cost: model.cost(center),
    })
}

/// The slice of [`cost_slice`] that the page shows at a rest point: through `theta_star`,
/// spanned by the escape direction and a tangent direction of `M_crit`, `n × n` points, half
/// width `half` along both.
///
/// `normal` defaults to the eigenvector of the Hessian's least eigenvalue (where an escape goes,
/// see [`super::attempt`]); pass an escape event's `direction` to get exactly its plane. The
/// tangent is [`CriticalSubmanifold::tangent`] with `seed`, made orthogonal to `normal` as well.
///
/// Errors: as [`CriticalSubmanifold::at`], [`super::Curvature::at`] and [`cost_slice`]; `normal`
/// of the wrong length (named `normal`); no tangent direction (named `theta_star`).
pub fn normal_tangent_slice(
    model: &Model,
    theta_star: &[f64],
    normal: Option<&[f64]>,
    rank_rtol: f64,
    half: f64,
    n: usize,
    seed: u64,
) -> Result<CostSlice> {
    model.net.check_theta(theta_star, "theta_star")?;
    let cm = CriticalSubmanifold::at(model, theta_star, rank_rtol)?;
    let u = match normal {
        Some(v) => {
            model.net.check_theta(v, "normal")?;
            v.to_vec()
        }
        None => {
            let so = crate::math::hessian::SecondOrder::new(model, theta_star)?;
            super::Curvature::at(&so, super::DEFAULT_KERNEL_RTOL, seed)?.min_vec
        }
    };
    let w = cm.tangent(seed).ok_or_else(|| {
        Error::invalid(
            "theta_star",
            "the normal vectors span R^K here: M_crit is a point, there is no tangent direction",
        )
    })?;
    cost_slice(model, theta_star, &u, &w, half, half, n, n)
}
