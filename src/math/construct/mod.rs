//! Zero-cost minimizers of underparametrized ReLU networks built by hand from truncation maps
//! (Chen & Muñoz Ewald; docs/math/constructions.md).
//!
//! For an invertible `W` and a bias `b`, the truncation map `τ_{W,b}(x) = W⁻¹(σ(Wx + b) − b)` keeps
//! the points whose affine image lies in the open positive orthant and collapses the points whose
//! image lies in the closed negative orthant to the apex `p = −W⁻¹b`. A hidden ReLU layer is one
//! in disguise once the next layer absorbs `W⁻¹` and the shift (the cumulative parameters of
//! slide 9). One hidden layer per class collapses every class to a point; the output layer maps
//! the points to the targets, and the cost is zero up to rounding.
//!
//! - [`build`]: the 2024 theorem (slide 15), sequentially linearly separable data, any `L ≥ Q_c`
//!   hidden layers of widths at least `Q_c − 1` ([`check_architecture`]);
//! - [`clustered`]: the 2023 theorem (slides 8–14), clustered data with `M = M_ℓ = Q`, the
//!   family of minimizers `θ(μ)`, `μ ∈ I^Q`, with the metric `d` that classifies new inputs;
//! - [`Construction::classify`]: a new input through the constructed network;
//! - [`delta_p`]: the barycentric deviation `δ_P` of slide 10.
//!
//! Both constructions work in a layer space `R^d` (the first `d` units of the collapse layers;
//! the other units are idle, with zero weights and bias). Everything they build is checked while
//! it is assembled: each layer's orthant conditions on every live point, and the affine
//! independence the output layer needs.

mod clustered;
mod separable;
mod svm;

pub use clustered::{cluster_geometry, clustered, ClusterFamily, ClusterGeometry};

use crate::error::{Error, Result};
use crate::math::model::Model;
use crate::math::net::{Activation, Forward, Mlp};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// One collapse layer: its cut, its cone, and the class it collapses (also what the page's
/// construction panel shows of each layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    /// The class collapsed by this layer (0-based).
    pub class: usize,
    /// Unit normal `n` of the cut in the layer coordinates `R^d`.
    pub normal: Vec<f64>,
    /// Offset `γ`: the cut is `n·x = γ`; the class lies on `n·x < γ`.
    pub offset: f64,
    /// Smallest distance of a live point (the class, the later classes, the earlier apexes) to
    /// the cut.
    pub margin: f64,
    /// Opening `ν` of the cone (rows `n + ν v_i`; condition number `√d/ν`).
    pub lambda: f64,
    /// The apex `p = −W⁻¹b`, on the cut: where the class is collapsed.
    pub apex: Vec<f64>,
    /// The cut in the input space, `a·x = β` with this `a` (length `M`; not normalised, zero
    /// when the class is cut off from the earlier apexes only).
    pub input_normal: Vec<f64>,
    /// `β` of the cut in the input space.
    pub input_offset: f64,
}

/// What the layer coordinates `R^d` of a construction are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coordinates {
    /// The inputs themselves, zero-padded to `R^d` (`d ≥ M`).
    Input,
    /// The positions along the data cuts, `z_ℓ = n_ℓ·x` for the first `Q_c − 1` cuts, zero-padded
    /// (any `d ≥ Q_c − 1`, any `M`).
    Cuts,
}

impl Coordinates {
    /// `input` or `cuts`.
    pub fn name(self) -> &'static str {
        match self {
            Coordinates::Input => "input",
            Coordinates::Cuts => "cuts",
        }
    }
}

/// Which theorem a construction follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theorem {
    /// Chen & Muñoz Ewald 2024 (slide 15): sequentially linearly separable data.
    Separable,
    /// Chen & Muñoz Ewald 2023 (slides 8–14): clustered data, `M = M_ℓ = Q`, the family `θ(μ)`.
    Clustered,
}

impl Theorem {
    /// `separable` or `clustered`.
    pub fn name(self) -> &'static str {
        match self {
            Theorem::Separable => "separable",
            Theorem::Clustered => "clustered",
        }
    }
}

/// A constructed zero-cost minimizer.
#[derive(Debug, Clone)]
pub struct Construction {
    /// `θ` in the standard layout for [`Self::widths`].
    pub theta: Vec<f64>,
    /// The network widths `[M, M_1, …, M_L, Q]`.
    pub widths: Vec<usize>,
    /// Which theorem it follows.
    pub theorem: Theorem,
    /// What the layer coordinates are.
    pub coordinates: Coordinates,
    /// `d`, the dimension of the layer coordinates.
    pub dim: usize,
    /// One cut per collapse layer, in collapse order (the first `Q_c` hidden layers).
    pub cuts: Vec<Cut>,
    /// The data in layer coordinates after each collapse layer (stage 0: the embedded inputs;
    /// stage `ℓ`: after `ℓ` truncations), one point per sample.
    pub stages: Vec<Vec<Vec<f64>>>,
    /// What each hidden layer after the collapse layers does (`L − Q_c` entries).
    pub extra_layers: Vec<String>,
    /// The embedding of the inputs into the layer coordinates (`d × M`).
    pub embed: DMatrix<f64>,
    /// The cumulative parameters `(W^(ℓ), b^(ℓ))` of the collapse layers in layer coordinates.
    pub cones: Vec<(DMatrix<f64>, DVector<f64>)>,
    /// The 2023 family's parameters, for [`Theorem::Clustered`].
    pub family: Option<ClusterFamily>,
}

/// A new input through a constructed network ([`Construction::classify`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The input `x`.
    pub input: Vec<f64>,
    /// The network's output `x^(L+1)(x)`.
    pub output: Vec<f64>,
    /// `|x^(L+1)(x) − y_j|` for every target.
    pub distances: Vec<f64>,
    /// The nearest target `j` (0-based).
    pub class: usize,
    /// `τ^(ℓ)(x)` in layer coordinates for `ℓ = 0..Q_c` (what the layer view shows).
    pub stages: Vec<Vec<f64>>,
    /// For the 2023 family: `d(τ(x), x̄_{0,j}[μ_j]) = |Y(X̄₀^red[μ̲])⁻¹(τ(x) − x̄_{0,j}[μ_j])|`
    /// (slide 13) from the formula, which equals `distances` up to rounding.
    pub metric: Option<Vec<f64>>,
}

/// The widths `[M, d, …(C hidden layers)…, d, Q]` with `d = max(M, C − 1)` that the page suggests
/// for `classes` classes in `R^M` with outputs in `R^Q`: the narrowest `L = C` network whose layer
/// coordinates are the inputs themselves. [`check_architecture`] states what else is allowed.
pub fn required_widths(m: usize, classes: usize, q: usize) -> Vec<usize> {
    let wide = m.max(classes.saturating_sub(1)).max(1);
    let mut w = vec![m];
    w.extend(std::iter::repeat_n(wide, classes));
    w.push(q);
    w
}

/// `K` of [`required_widths`]: `dM + d + (C−1)(d² + d) + Qd + Q` (1.5).
pub fn parameter_count(m: usize, classes: usize, q: usize) -> usize {
    let w = m.max(classes.saturating_sub(1)).max(1);
    w * m + w + (classes - 1) * (w * w + w) + q * w + q
}

/// Checks that `net` can carry the 2024 construction for `classes` classes and returns `d`, the
/// dimension of its layer coordinates (the narrowest of the first `classes` hidden layers).
///
/// The conditions (docs/math/constructions.md, "Layers"): ReLU; `L ≥ Q_c` hidden layers (slide 15:
/// `L ≥ Q`); every hidden width `M_ℓ ≥ max(1, Q_c − 1)`, so that the `Q_c` collapse points stay
/// affinely independent through every layer and the affine output layer can send them to
/// arbitrary targets. The last condition is necessary in the last hidden layer for affinely
/// independent targets (one-hot ones), so for non-increasing widths (slide 15) these are exactly
/// the architectures with a zero-cost minimizer on such targets.
///
/// Errors: `net.activation`, `net.widths` (too few hidden layers, naming a suitable architecture)
/// and `net.widths[ℓ]` (too narrow), each with the reason.
pub fn check_architecture(net: &Mlp, classes: usize) -> Result<usize> {
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
    let (m, q) = (w[0], w[w.len() - 1]);
    let hidden = &w[1..w.len() - 1];
    if hidden.len() < classes {
        return Err(Error::invalid(
            "net.widths",
            format!(
                "the constructive minimizer collapses one class per hidden layer: {classes} classes \
                 need L ≥ {classes} hidden layers (slide 15: L ≥ Q), got {}; e.g. widths {:?}",
                hidden.len(),
                required_widths(m, classes, q)
            ),
        ));
    }
    let need = classes.saturating_sub(1).max(1);
    if let Some(i) = hidden.iter().position(|&h| h < need) {
        return Err(Error::invalid(
            format!("net.widths[{}]", i + 1),
            format!(
                "is {} but every hidden layer needs at least Q_c − 1 = {need} units: the \
                 {classes} collapse points must stay affinely independent for the output layer \
                 to reach arbitrary targets; e.g. widths {:?}",
                hidden[i],
                required_widths(m, classes, q)
            ),
        ));
    }
    Ok(hidden[..classes].iter().copied().min().unwrap_or(need))
}

/// Builds the 2024 zero-cost minimizer (slide 15) for `model`'s data on `model`'s network.
///
/// Finds an order of the classes and a cut for each (sequential linear separability of the data;
/// greedy, which is exact: removing a class only makes the others easier to cut off), then puts
/// the cuts and apexes into the layer coordinates: the inputs themselves when `d ≥ M` and a
/// search over apexes on the cuts succeeds, otherwise the positions along the data cuts, where
/// apexes satisfying (C1)–(C3) always exist (docs/math/constructions.md).
///
/// Errors (each says what to change): the architecture ([`check_architecture`]); a class without
/// points (`data.labels`); data that are not sequentially separable (`data`, naming the step and
/// the classes left); a failed internal check (`Error::State`, a bug).
pub fn build(model: &Model) -> Result<Construction> {
    let data = &model.data;
    let classes = data.classes();
    let d = check_architecture(&model.net, classes)?;
    let counts = data.class_counts();
    if let Some(c) = counts.iter().position(|&k| k == 0) {
        return Err(Error::invalid(
            "data.labels",
            format!("class {c} has no points; every class needs at least one"),
        ));
    }
    let plan = separable::plan(data, d)?;
    assemble(model, plan, Theorem::Separable, None, None)
}

/// The collapse layers in layer coordinates, before they become network weights.
pub(crate) struct Plan {
    /// `d × M`.
    pub embed: DMatrix<f64>,
    pub coordinates: Coordinates,
    pub cuts: Vec<Cut>,
    /// `(W^(ℓ), b^(ℓ))`, `d × d` and `d`.
    pub cones: Vec<(DMatrix<f64>, DVector<f64>)>,
}

/// Turns a plan into network weights on `model.net`: the collapse layers from the cumulative
/// parameters (slide 9), the extra layers, and the output layer (`output`: `(W, b)` acting on the
/// first `d` units of the last hidden layer, or `None` to fit it to the targets by least squares).
/// Checks every orthant condition on the way and records the stages.
///
/// Errors: [`Error::State`] when a check fails (a bug: the plans are built to pass them), or the
/// collapse points are affinely dependent (`net.widths`).
fn assemble(
    model: &Model,
    plan: Plan,
    theorem: Theorem,
    output: Option<(DMatrix<f64>, DVector<f64>)>,
    family: Option<ClusterFamily>,
) -> Result<Construction> {
    let data = &model.data;
    let net = &model.net;
    let widths = net.widths().to_vec();
    let (m, n, classes) = (data.m(), data.n(), data.classes());
    let d = plan.embed.nrows();
    let big_l = widths.len() - 2;
    // Stages: the embedded inputs, then each truncation, checked point by point.
    let mut pts: Vec<DVector<f64>> = (0..n)
        .map(|j| &plan.embed * data.inputs.column(j))
        .collect();
    let mut stages = vec![to_rows(&pts)];
    let mut apexes: Vec<DVector<f64>> = vec![];
    let mut remaining: Vec<usize> = (0..classes).collect();
    for (step, (cut, (w, b))) in plan.cuts.iter().zip(&plan.cones).enumerate() {
        let apex = DVector::from_column_slice(&cut.apex);
        for (p, &c) in pts.iter_mut().zip(&data.labels) {
            if !remaining.contains(&c) {
                continue;
            }
            let z = w * &*p + b;
            if c == cut.class {
                if z.iter().any(|&v| v > 0.0) {
                    return Err(internal(step, "a point of the class is not truncated"));
                }
                *p = apex.clone();
            } else if z.iter().any(|&v| v <= 0.0) {
                return Err(internal(step, "a kept point left the positive orthant"));
            }
        }
        if apexes.iter().any(|p| (w * p + b).iter().any(|&v| v <= 0.0)) {
            return Err(internal(step, "an earlier collapse point is truncated"));
        }
        apexes.push(apex);
        remaining.retain(|&c| c != cut.class);
        stages.push(to_rows(&pts));
    }
    let mut theta = vec![0.0; net.k()];
    // Collapse layers: W_1 = W^(1)E, b_1 = b^(1); W_ℓ = W^(ℓ)(W^(ℓ−1))⁻¹, b_ℓ = b^(ℓ) − W_ℓ b^(ℓ−1).
    for (l, (w, b)) in plan.cones.iter().enumerate() {
        let (weights, bias) = if l == 0 {
            (w * &plan.embed, b.clone())
        } else {
            let (wp, bp) = &plan.cones[l - 1];
            // X = W W_p⁻¹ solves W_pᵀ Xᵀ = Wᵀ.
            let xt = wp
                .transpose()
                .lu()
                .solve(&w.transpose())
                .ok_or_else(|| internal(l, "singular cone matrix"))?;
            let x = xt.transpose();
            let shift = &x * bp;
            (x, b - shift)
        };
        write_layer(net, &mut theta, l + 1, &weights, &bias);
    }
    // Extra layers carry the Q_c collapse points through, keeping them affinely independent.
    let mut fw = Forward::default();
    let reps: Vec<usize> = (0..classes)
        .map(|c| data.labels.iter().position(|&l| l == c).expect("checked"))
        .collect();
    let mut active = d;
    let mut extra_layers = vec![];
    for (l, &width) in widths
        .iter()
        .enumerate()
        .take(big_l + 1)
        .skip(plan.cones.len() + 1)
    {
        net.forward_into(&theta, &data.inputs, &mut fw);
        let h = &fw.h[l - 1];
        let pts: Vec<DVector<f64>> = reps
            .iter()
            .map(|&j| h.view((0, j), (active, 1)).column(0).into_owned())
            .collect();
        let (w, b, now, what) = carry(&pts, width);
        write_layer(net, &mut theta, l, &w, &b);
        extra_layers.push(format!("hidden layer {l}: {what}"));
        active = now;
    }
    // Output layer.
    let (wl, bl) = match output {
        Some(wb) => wb,
        None => {
            net.forward_into(&theta, &data.inputs, &mut fw);
            let hidden = &fw.h[big_l];
            let mut cols = DMatrix::zeros(active + 1, classes);
            for (c, &j) in reps.iter().enumerate() {
                cols.view_mut((0, c), (active, 1))
                    .copy_from(&hidden.view((0, j), (active, 1)));
                cols[(active, c)] = 1.0;
            }
            let pts: Vec<DVector<f64>> = (0..classes)
                .map(|c| cols.view((0, c), (active, 1)).column(0).into_owned())
                .collect();
            let rank = affine_rank(&pts);
            if rank + 1 < classes {
                return Err(Error::invalid(
                    "net.widths",
                    format!(
                        "the {classes} collapse points span only {rank} dimensions in the last \
                         hidden layer; the output layer needs them affinely independent"
                    ),
                ));
            }
            let q = data.q();
            let targets = DMatrix::from_fn(q, classes, |i, c| data.targets[c][i]);
            let svd = cols.svd(true, true);
            let eps = 1e-12 * svd.singular_values.max();
            let pinv = svd.pseudo_inverse(eps).map_err(|e| internal(classes, e))?;
            let out = &targets * pinv;
            (
                out.columns(0, active).into_owned(),
                out.column(active).into_owned(),
            )
        }
    };
    write_layer(net, &mut theta, big_l + 1, &wl, &bl);
    let _ = m;
    Ok(Construction {
        theta,
        widths,
        theorem,
        coordinates: plan.coordinates,
        dim: d,
        cuts: plan.cuts,
        stages,
        extra_layers,
        embed: plan.embed,
        cones: plan.cones,
        family,
    })
}

/// A layer of width `width` that carries the points `pts` (the active units of the previous
/// layer, all `≥ 0`): the identity on them when it is wide enough, otherwise an affine map onto
/// their affine hull shifted into the positive orthant (so ReLU leaves it alone). Returns the
/// weights, the bias, the number of active units after it, and what it does.
fn carry(pts: &[DVector<f64>], width: usize) -> (DMatrix<f64>, DVector<f64>, usize, String) {
    let active = pts.first().map_or(0, |p| p.len());
    if width >= active {
        let mut w = DMatrix::zeros(width, active);
        for i in 0..active {
            w[(i, i)] = 1.0;
        }
        return (
            w,
            DVector::zeros(width),
            active,
            "the identity (ReLU leaves non-negative values alone)".into(),
        );
    }
    let centre = pts.iter().fold(DVector::zeros(active), |acc, p| acc + p) / pts.len() as f64;
    let diffs = DMatrix::from_fn(active, pts.len(), |r, c| pts[c][r] - centre[r]);
    let svd = diffs.svd(true, false);
    let u = svd.u.expect("asked for u");
    let max = svd.singular_values.max();
    let k = svd
        .singular_values
        .iter()
        .filter(|&&s| s > 1e-12 * max.max(1e-300))
        .count()
        .min(width);
    let basis = u.columns(0, k).transpose(); // k × active
    let coords: Vec<DVector<f64>> = pts.iter().map(|p| &basis * (p - &centre)).collect();
    let reach = coords
        .iter()
        .flat_map(|c| c.iter().map(|v| v.abs()))
        .fold(0.0f64, f64::max);
    let shift = 1.0 + 2.0 * reach;
    let mut w = DMatrix::zeros(width, active);
    let mut b = DVector::zeros(width);
    if k == 0 {
        // One collapse point: any positive constant carries it.
        b[0] = 1.0;
        return (w, b, 1, "a positive constant (one collapse point)".into());
    }
    w.view_mut((0, 0), (k, active)).copy_from(&basis);
    let off = &basis * &centre;
    for i in 0..k {
        b[i] = shift - off[i];
    }
    (
        w,
        b,
        k,
        format!("an affine map onto the {k}-dimensional affine hull of the collapse points"),
    )
}

impl Construction {
    /// The construction's network.
    pub fn net(&self) -> Mlp {
        Mlp::new(&self.widths, Activation::Relu).expect("built on a valid network")
    }

    /// Runs a new input `x ∈ R^M` through the network: its output, the distance to every target
    /// and the nearest one, and `τ^(ℓ)(x)` after each collapse layer; for the 2023 family also
    /// the metric `d` of slide 13 from its formula.
    ///
    /// Errors: `x` of the wrong length or not finite (`x`).
    pub fn classify(&self, model: &Model, x: &[f64]) -> Result<Classification> {
        let m = self.embed.ncols();
        if x.len() != m {
            return Err(Error::invalid(
                "x",
                format!("has {} coordinates but the inputs have M = {m}", x.len()),
            ));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                format!("x[{i}]"),
                format!("must be finite, got {}", x[i]),
            ));
        }
        let input = DMatrix::from_column_slice(m, 1, x);
        let output = self.net().forward(&self.theta, &input).as_slice().to_vec();
        let distances: Vec<f64> = model
            .data
            .targets
            .iter()
            .map(|y| dist(&output, y))
            .collect();
        let class = (0..distances.len())
            .min_by(|&a, &b| distances[a].total_cmp(&distances[b]))
            .unwrap_or(0);
        let mut z = &self.embed * DVector::from_column_slice(x);
        let mut stages = vec![z.as_slice().to_vec()];
        for (w, b) in &self.cones {
            let a = (w * &z + b).map(|v| v.max(0.0)) - b;
            z = w.clone().lu().solve(&a).unwrap_or(z);
            stages.push(z.as_slice().to_vec());
        }
        let metric = self.family.as_ref().map(|f| f.metric(&z));
        Ok(Classification {
            input: x.to_vec(),
            output,
            distances,
            class,
            stages,
            metric,
        })
    }
}

/// The barycentric deviation `δ_P = max_{j,i} |(Z̄^red)⁻¹ Δz_{j,i}|` of slide 10 of points `z_i`
/// (one per sample, in `R^Q` with `Q` classes): `Z̄^red` holds the class means as columns and
/// `Δz_{j,i}` is each point's deviation from its class mean. With the inputs it is `δ₀`, the
/// slides' clustering measure; after a full construction it is 0.
///
/// `None` when the points do not have `Q` coordinates or `Z̄^red` is singular (condition number
/// above `1e12`): `δ_P` is not defined then.
pub fn delta_p(points: &[Vec<f64>], labels: &[usize], classes: usize) -> Option<f64> {
    let q = classes;
    if points.is_empty() || points.iter().any(|p| p.len() != q) {
        return None;
    }
    let mut means = DMatrix::zeros(q, q);
    let mut count = vec![0usize; q];
    for (p, &c) in points.iter().zip(labels) {
        count[c] += 1;
        for (r, v) in p.iter().enumerate() {
            means[(r, c)] += v;
        }
    }
    for (c, &k) in count.iter().enumerate() {
        if k == 0 {
            return None;
        }
        let mut col = means.column_mut(c);
        col /= k as f64;
    }
    let sv = means.singular_values();
    let (max, min) = (sv.max(), sv.min());
    if min.is_nan() || min <= 1e-12 * max {
        return None;
    }
    let lu = means.clone().lu();
    let mut worst = 0.0f64;
    for (p, &c) in points.iter().zip(labels) {
        let dz = DVector::from_iterator(q, p.iter().enumerate().map(|(r, v)| v - means[(r, c)]));
        let u = lu.solve(&dz)?;
        worst = worst.max(u.norm());
    }
    Some(worst)
}

/// The cone matrix with rows `n + ν v_i`, `v_i` a regular simplex in `n^⊥` (`|v_i|² = 1 − 1/d`);
/// `n = W⁻¹𝟙`, singular values `√d` and `ν`.
pub(crate) fn cone(normal: &DVector<f64>, nu: f64) -> DMatrix<f64> {
    let d = normal.len();
    if d == 1 {
        return DMatrix::from_element(1, 1, normal[0]);
    }
    // u_i = e_i − 1/d lie in 1^⊥; a Householder reflection H maps 1/√d to n and 1^⊥ to n^⊥.
    let e = DVector::from_element(d, 1.0 / (d as f64).sqrt());
    let diff = &e - normal;
    let h = if diff.norm() < 1e-14 {
        DMatrix::identity(d, d)
    } else {
        let u = &diff / diff.norm();
        DMatrix::identity(d, d) - 2.0 * &u * u.transpose()
    };
    let mut w = DMatrix::zeros(d, d);
    for i in 0..d {
        let mut ui = DVector::from_element(d, -1.0 / d as f64);
        ui[i] += 1.0;
        let vi = &h * ui;
        for k in 0..d {
            w[(i, k)] = normal[k] + nu * vi[k];
        }
    }
    w
}

/// Half the opening the Lemma of docs/math/constructions.md allows for a cone with axis `normal`
/// and apex `apex` on the points `live`: `ν < |s(x)|/(ρ|x − p|)` for every live point, `ρ =
/// √(1 − 1/d)`; capped at 1.
pub(crate) fn opening(normal: &DVector<f64>, apex: &DVector<f64>, live: &[&DVector<f64>]) -> f64 {
    let d = normal.len();
    let rho = if d > 1 {
        (1.0 - 1.0 / d as f64).sqrt()
    } else {
        0.0
    };
    let mut nu = f64::INFINITY;
    for x in live {
        let diff = *x - apex;
        let (side, len) = (normal.dot(&diff).abs(), diff.norm());
        if rho > 0.0 && len > 0.0 {
            nu = nu.min(0.5 * side / (rho * len));
        }
    }
    if nu.is_finite() {
        nu.min(1.0)
    } else {
        1.0
    }
}

/// Dimension of the affine hull of `points` (relative tolerance 1e-9 on the singular values of
/// the differences).
pub(crate) fn affine_rank(points: &[DVector<f64>]) -> usize {
    if points.len() < 2 {
        return 0;
    }
    let d = points[0].len();
    let diffs = DMatrix::from_fn(d, points.len() - 1, |r, c| points[c + 1][r] - points[0][r]);
    let sv = diffs.singular_values();
    let max = sv.max();
    sv.iter().filter(|&&s| s > 1e-9 * max.max(1e-300)).count()
}

/// Writes `w` (`rows × cols`, placed in the top-left corner) and `b` into layer `l` of `θ`; the
/// rest of the layer stays zero (idle units).
fn write_layer(net: &Mlp, theta: &mut [f64], l: usize, w: &DMatrix<f64>, b: &DVector<f64>) {
    let (wo, bo) = net.layer_offsets(l);
    let cols = net.widths()[l - 1];
    for r in 0..w.nrows() {
        for c in 0..w.ncols() {
            theta[wo + r * cols + c] = w[(r, c)];
        }
        theta[bo + r] = b[r];
    }
}

fn to_rows(pts: &[DVector<f64>]) -> Vec<Vec<f64>> {
    pts.iter().map(|p| p.as_slice().to_vec()).collect()
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

fn internal(step: usize, what: impl std::fmt::Display) -> Error {
    Error::State(format!(
        "constructive minimizer, layer {}: {what} (please report this data set)",
        step + 1
    ))
}
