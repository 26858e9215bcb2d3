//! The 2023 construction (slides 8–14): clustered data in `R^Q`, `Q` classes, `L ≥ Q` hidden
//! layers of width `Q`, and the degenerate family of minimizers `θ(μ)`, `μ ∈ I^Q`
//! (docs/math/constructions.md, 3d).
//!
//! In barycentric coordinates `β = (X̄₀^red)⁻¹x` the class means are the corners `e_j` of the
//! standard simplex and its centre is `c = 𝟙/Q`. Layer `ℓ` is the cone with axis
//! `n_ℓ = (c − e_ℓ)/h` (`h = |c − e_ℓ|`) and opening `ν`, with apex `p_ℓ(μ_ℓ) = e_ℓ + μ_ℓ(c − e_ℓ)`:
//! the weights do not depend on `μ`, the biases do. The output layer
//! `W_{L+1} = Y(X̄₀^red[μ̲])⁻¹(W^(L))⁻¹`, `b_{L+1} = −W_{L+1}b^(L)` makes the network compute
//! `Y(X̄₀^red[μ̲])⁻¹τ(x)` for every input.

use super::{affine_rank, assemble, cone, delta_p, Construction, Coordinates, Cut, Plan, Theorem};
use crate::error::{Error, Result};
use crate::math::data::Dataset;
use crate::math::model::Model;
use crate::math::net::Activation;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Largest condition number of the matrix of class means `X̄₀^red` accepted as invertible.
pub const MAX_MEANS_CONDITION: f64 = 1e8;
/// Fraction of `I` left out at each end of the closed range `[μ_lo, μ_hi]` the opening `ν` is
/// chosen for.
const RANGE_MARGIN: f64 = 0.1;

/// What the 2023 theorem needs to know about the data, and what it allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterGeometry {
    /// The class means `x̄_{0,j}`.
    pub means: Vec<Vec<f64>>,
    /// The centre `x̄` of the simplex they span (their mean).
    pub center: Vec<f64>,
    /// `δ₀ = max_{j,i} |(X̄₀^red)⁻¹Δx_{j,i}|`, the deviation in barycentric coordinates.
    pub delta0: f64,
    /// Whether the slides' hypothesis `δ₀ < 1/4` (slide 8) holds.
    pub slides_hypothesis: bool,
    /// `h = √((Q−1)/Q)`, the distance of a corner to the centre of the standard simplex.
    pub h: f64,
    /// The open interval `I = (δ₀/h, min(1, Q/(Q−1) − δ₀/h))` of admissible `μ_j`.
    pub interval: [f64; 2],
    /// The closed range `[μ_lo, μ_hi] ⊂ I` the opening is chosen for (the slider's range).
    pub range: [f64; 2],
    /// The opening `ν` of every cone (in barycentric coordinates), half the least of the three
    /// bounds of docs/math/constructions.md on `[μ_lo, μ_hi]`, capped at 1.
    pub nu: f64,
    /// Condition number of `X̄₀^red`.
    pub condition: f64,
}

/// The parameters of one member `θ(μ)` of the 2023 family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterFamily {
    /// The data's geometry.
    pub geometry: ClusterGeometry,
    /// `μ̲ ∈ [μ_lo, μ_hi]^Q`.
    pub mu: Vec<f64>,
    /// `δ_P` of the data after each collapse layer (stage 0: `δ₀`); `None` where `Z̄^red` is
    /// singular.
    pub delta_p: Vec<Option<f64>>,
    /// `Y(X̄₀^red[μ̲])⁻¹`, row-major `Q × Q`: the metric `d(x, x′) = |Y(X̄₀^red[μ̲])⁻¹(x − x′)|`.
    pub metric_matrix: Vec<f64>,
    /// The collapse points `x̄_{0,j}[μ_j]`.
    pub points: Vec<Vec<f64>>,
}

impl ClusterFamily {
    /// `d(z, x̄_{0,j}[μ_j])` for every `j` (slide 13), `z = τ(x)`.
    pub fn metric(&self, z: &DVector<f64>) -> Vec<f64> {
        let q = self.points.len();
        let a = DMatrix::from_row_slice(q, q, &self.metric_matrix);
        self.points
            .iter()
            .map(|p| (&a * (z - DVector::from_column_slice(p))).norm())
            .collect()
    }
}

/// Checks the 2023 theorem's hypotheses on `data` and computes `I`, the slider's range and `ν`.
///
/// Errors (`data`, with the reason): `M ≠ Q`, a number of classes other than `Q`, fewer than two
/// classes, an empty class, class means that are linearly dependent (condition number of
/// `X̄₀^red` above [`MAX_MEANS_CONDITION`]), or data that are not clustered enough for the
/// family (`δ₀ ≥ 1/(2h)`, where `I` is empty).
pub fn cluster_geometry(data: &Dataset) -> Result<ClusterGeometry> {
    let (m, q, classes, n) = (data.m(), data.q(), data.classes(), data.n());
    if classes != q || m != q {
        return Err(Error::invalid(
            "data",
            format!(
                "the 2023 construction needs inputs, classes and outputs of one dimension \
                 M = Q_c = Q (slide 8); here M = {m}, Q_c = {classes}, Q = {q}"
            ),
        ));
    }
    if q < 2 {
        return Err(Error::invalid(
            "data",
            "the 2023 construction needs at least two classes",
        ));
    }
    let counts = data.class_counts();
    if let Some(c) = counts.iter().position(|&k| k == 0) {
        return Err(Error::invalid(
            "data.labels",
            format!("class {c} has no points; every class needs at least one"),
        ));
    }
    let mut means = DMatrix::zeros(q, q);
    for j in 0..n {
        let c = data.labels[j];
        let mut col = means.column_mut(c);
        col += data.inputs.column(j) / counts[c] as f64;
    }
    let sv = means.singular_values();
    let condition = sv.max() / sv.min();
    // NaN (a zero singular value) counts as singular too.
    if condition.is_nan() || condition > MAX_MEANS_CONDITION {
        return Err(Error::invalid(
            "data",
            format!(
                "the class means are (nearly) linearly dependent: X̄₀^red has condition number \
                 {condition:.1e} > {MAX_MEANS_CONDITION:.0e}; the 2023 construction needs it \
                 invertible (slide 8)"
            ),
        ));
    }
    let lu = means.clone().lu();
    let mut delta0 = 0.0f64;
    for j in 0..n {
        let c = data.labels[j];
        let dx = data.inputs.column(j) - means.column(c);
        let u = lu.solve(&dx).ok_or_else(|| {
            Error::invalid("data", "the class means are linearly dependent (slide 8)")
        })?;
        delta0 = delta0.max(u.norm());
    }
    let qf = q as f64;
    let h = ((qf - 1.0) / qf).sqrt();
    let t = ((qf - 2.0) / (qf - 1.0)).sqrt();
    let lo = delta0 / h;
    let hi = 1.0f64.min(qf / (qf - 1.0) - delta0 / h);
    if lo >= hi || lo.is_nan() {
        return Err(Error::invalid(
            "data",
            format!(
                "not clustered enough: δ₀ = {delta0:.4} ≥ 1/(2h) = {:.4}, so the interval I of \
                 admissible μ is empty (the slides assume δ₀ < 1/4)",
                0.5 / h
            ),
        ));
    }
    let width = hi - lo;
    let (mu_lo, mu_hi) = (lo + RANGE_MARGIN * width, hi - RANGE_MARGIN * width);
    // The three bounds of docs/math/constructions.md, each from the Lemma with ρ = h.
    let mut bounds = vec![];
    if delta0 > 0.0 {
        bounds.push((mu_lo * h - delta0) / (h * delta0));
    }
    if t + delta0 > 0.0 {
        bounds.push((1.0 / h - mu_hi * h - delta0) / (h * (t + delta0)));
    }
    bounds.push((1.0 - mu_hi) / (h * h * (t + mu_hi * h)));
    let nu = (0.5 * bounds.iter().copied().fold(f64::INFINITY, f64::min)).min(1.0);
    let center: Vec<f64> = (0..q).map(|r| means.row(r).sum() / qf).collect();
    Ok(ClusterGeometry {
        means: (0..q)
            .map(|c| means.column(c).iter().copied().collect())
            .collect(),
        center,
        delta0,
        slides_hypothesis: delta0 < 0.25,
        h,
        interval: [lo, hi],
        range: [mu_lo, mu_hi],
        nu,
        condition,
    })
}

/// The member `θ(μ̲)` of the 2023 family on `model`'s network.
///
/// `mu` holds one `μ_j` per class, or one value for all; each must lie in the closed range
/// [`ClusterGeometry::range`] (inside `I`) for which the opening was chosen (values within
/// `1e-9` of its width outside an end count as that end: decimal rounding).
///
/// Errors: the data ([`cluster_geometry`]); a network that is not ReLU with `L ≥ Q` hidden layers
/// of width `Q` (`net.activation`, `net.widths`); `mu` of the wrong length or outside the range
/// (`mu`, `mu[j]`); a failed internal check (`Error::State`).
pub fn clustered(model: &Model, mu: &[f64]) -> Result<Construction> {
    let data = &model.data;
    let geo = cluster_geometry(data)?;
    let q = data.q();
    let net = &model.net;
    if net.activation() != Activation::Relu {
        return Err(Error::invalid(
            "net.activation",
            format!(
                "the constructive minimizer needs relu (truncation maps), got {}",
                net.activation().name()
            ),
        ));
    }
    let w = net.widths();
    let hidden = &w[1..w.len() - 1];
    if hidden.len() < q || hidden.iter().any(|&h| h != q) {
        let mut want = vec![q; q + 2];
        want[0] = q;
        return Err(Error::invalid(
            "net.widths",
            format!(
                "the 2023 construction needs L ≥ Q = {q} hidden layers, each of width Q \
                 (M = M_ℓ = Q, slide 8), e.g. widths {want:?}; got {w:?}"
            ),
        ));
    }
    let mu: Vec<f64> = match mu.len() {
        1 => vec![mu[0]; q],
        l if l == q => mu.to_vec(),
        l => {
            return Err(Error::invalid(
                "mu",
                format!("needs one value or Q = {q} values, got {l}"),
            ))
        }
    };
    let [lo, hi] = geo.range;
    // A value written in decimal (a slider, a link) may miss an end of the range by rounding:
    // within 1e-9 of its width it counts as that end.
    let slack = 1e-9 * (hi - lo);
    let mu: Vec<f64> = mu
        .iter()
        .map(|&v| {
            if (lo - slack..lo).contains(&v) {
                lo
            } else if (hi..hi + slack).contains(&v) && v != hi {
                hi
            } else {
                v
            }
        })
        .collect();
    for (j, &v) in mu.iter().enumerate() {
        if !(lo..=hi).contains(&v) {
            return Err(Error::invalid(
                format!("mu[{j}]"),
                format!(
                    "is {v} but must lie in [{lo:.4}, {hi:.4}], the closed part of \
                     I = ({:.4}, {:.4}) the cones were opened for",
                    geo.interval[0], geo.interval[1]
                ),
            ));
        }
    }
    let means = DMatrix::from_fn(q, q, |r, c| geo.means[c][r]);
    let means_t_lu = means.transpose().lu();
    let qf = q as f64;
    let h = geo.h;
    let centre_b = DVector::from_element(q, 1.0 / qf);
    let mut cuts = vec![];
    let mut cones = vec![];
    let mut points = vec![];
    for l in 0..q {
        let mut e = DVector::zeros(q);
        e[l] = 1.0;
        let axis = (&centre_b - &e) / h;
        let wb = cone(&axis, geo.nu);
        // In input coordinates W = W_β(X̄₀^red)⁻¹: solve X̄ᵀWᵀ = W_βᵀ.
        let wt = means_t_lu
            .solve(&wb.transpose())
            .ok_or_else(|| Error::State("the class means became singular".into()))?;
        let w_in = wt.transpose();
        let apex_b = &e + (&centre_b - &e) * mu[l];
        let apex = &means * &apex_b;
        let b = -(&wb * &apex_b);
        // The cut n_ℓ·(β − p) = 0 in input coordinates: a = X̄⁻ᵀn_ℓ, normalised.
        let a = means_t_lu
            .solve(&axis)
            .ok_or_else(|| Error::State("the class means became singular".into()))?;
        let unit = &a / a.norm();
        let offset = unit.dot(&apex);
        cuts.push(Cut {
            class: l,
            normal: unit.as_slice().to_vec(),
            offset,
            margin: 0.0,
            lambda: geo.nu,
            apex: apex.as_slice().to_vec(),
            input_normal: unit.as_slice().to_vec(),
            input_offset: offset,
        });
        cones.push((w_in, b));
        points.push(apex);
    }
    if affine_rank(&points) + 1 < q {
        return Err(Error::State(
            "the collapse points x̄_{0,j}[μ_j] are affinely dependent".into(),
        ));
    }
    // Margins: the least distance of a live point to each cut, as in the 2024 construction.
    let n = data.n();
    for (l, cut) in cuts.iter_mut().enumerate() {
        let unit = DVector::from_column_slice(&cut.normal);
        let live = (0..n)
            .filter(|&j| data.labels[j] >= l)
            .map(|j| unit.dot(&data.inputs.column(j)) - cut.offset)
            .chain(points[..l].iter().map(|p| unit.dot(p) - cut.offset));
        cut.margin = live.map(f64::abs).fold(f64::INFINITY, f64::min);
    }
    // Output layer: W = Y(X̄₀^red[μ̲])⁻¹(W^(Q))⁻¹, b = −W b^(Q); Y X_μ⁻¹ by a solve.
    let x_mu = DMatrix::from_fn(q, q, |r, c| points[c][r]);
    let y = DMatrix::from_fn(data.q(), q, |r, c| data.targets[c][r]);
    let metric = x_mu
        .transpose()
        .lu()
        .solve(&y.transpose())
        .ok_or_else(|| Error::State("X̄₀^red[μ] is singular".into()))?
        .transpose();
    let (wq, bq) = &cones[q - 1];
    let w_out = wq
        .transpose()
        .lu()
        .solve(&metric.transpose())
        .ok_or_else(|| Error::State("singular cone matrix".into()))?
        .transpose();
    let b_out = -(&w_out * bq);
    let mut embed = DMatrix::zeros(q, q);
    for i in 0..q {
        embed[(i, i)] = 1.0;
    }
    let plan = Plan {
        embed,
        coordinates: Coordinates::Input,
        cuts,
        cones,
    };
    let mut c = assemble(model, plan, Theorem::Clustered, Some((w_out, b_out)), None)?;
    let delta = c
        .stages
        .iter()
        .map(|s| delta_p(s, &data.labels, q))
        .collect();
    c.family = Some(ClusterFamily {
        geometry: geo,
        mu,
        delta_p: delta,
        metric_matrix: (0..q)
            .flat_map(|r| (0..q).map(move |k| (r, k)))
            .map(|(r, k)| metric[(r, k)])
            .collect(),
        points: points.iter().map(|p| p.as_slice().to_vec()).collect(),
    });
    Ok(c)
}
