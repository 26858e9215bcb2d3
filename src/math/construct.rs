//! Constructive zero-cost minimizers of underparametrized ReLU networks via truncation maps
//! (Chen & Muñoz Ewald; MATH.md, "Underparametrized constructive minimizers").
//!
//! For an invertible `W` and a bias `b`, the truncation map `τ_{W,b}(x) = W⁻¹(σ(Wx + b) − b)` is the
//! identity on points whose affine image lies in the positive orthant and collapses points whose
//! image lies in the negative orthant to the single point `−W⁻¹b`. A hidden ReLU layer followed
//! by the next layer's affine map realizes it, since the next layer absorbs `W⁻¹` and `−W⁻¹b`.
//! With `C` classes that are *sequentially separable* — a hyperplane cuts one class from all
//! remaining classes (and the points already collapsed), then the next, and so on — `C` hidden
//! layers collapse the classes one by one, and the output layer maps the `C` collapse points to
//! `y_1..y_C`. The cost is zero up to rounding, with `K ≪ QN` parameters.
//!
//! Each cut `nᵀx = c` (with `|n| = 1`) becomes a cone: rows `w_i = n + λ v_i`, where `v_i` are the
//! vertices of a regular simplex in `n^⊥` (so `W` is invertible for `λ ≠ 0`, with condition
//! number `√M'/λ`), and `b_i = −w_iᵀ p` for an apex `p` on the cut. Then
//! `(Wx + b)_i = nᵀ(x − p) + λ v_iᵀ(x − p)`, and choosing `λ < margin / (|v_i|·|x − p|)` puts every
//! kept point in the positive orthant and every point of the class in the negative one.

use crate::error::{Error, Result};
use crate::math::model::Model;
use crate::math::net::{Activation, Mlp};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// One hidden layer of the construction: the cut, its cone, and the class it collapses (also
/// what the page's construction panel shows of each layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    /// The class collapsed by this layer (0-based).
    pub class: usize,
    /// Unit normal `n` of the cut in the (possibly widened) layer space `R^{M'}`.
    pub normal: Vec<f64>,
    /// Offset `c`: the cut is `nᵀx = c`; the class lies on `nᵀx < c`.
    pub offset: f64,
    /// Smallest distance of any point to the cut (the margin).
    pub margin: f64,
    /// Cone opening `λ` (condition number of `W` is `√M'/λ`).
    pub lambda: f64,
    /// The collapse point `−W⁻¹b`, on the cut.
    pub apex: Vec<f64>,
}

/// A constructed zero-cost minimizer.
#[derive(Debug, Clone)]
pub struct Construction {
    /// `θ` in the standard layout for widths `[M, M', …, M', Q]` (`C` hidden layers).
    pub theta: Vec<f64>,
    /// The network widths the construction needs.
    pub widths: Vec<usize>,
    /// The order in which classes are collapsed, one cut per hidden layer.
    pub cuts: Vec<Cut>,
    /// The data after each stage in layer coordinates `R^{M'}` (stage 0: the inputs; stage `l`:
    /// after `l` truncations), one point per sample.
    pub stages: Vec<Vec<Vec<f64>>>,
}

/// Widths `[M, M', …(C hidden layers)…, M', Q]` with `M' = max(M, C − 1)` the construction needs
/// for `classes` classes in `R^M` with outputs in `R^Q`.
pub fn required_widths(m: usize, classes: usize, q: usize) -> Vec<usize> {
    let wide = m.max(classes.saturating_sub(1)).max(1);
    let mut w = vec![m];
    w.extend(std::iter::repeat_n(wide, classes));
    w.push(q);
    w
}

/// `K` of the construction's network: `M'M + M' + (C−1)(M'² + M') + QM' + Q` (1.5).
pub fn parameter_count(m: usize, classes: usize, q: usize) -> usize {
    let w = m.max(classes.saturating_sub(1)).max(1);
    w * m + w + (classes - 1) * (w * w + w) + q * w + q
}

/// Builds the zero-cost ReLU network for `model`'s data.
///
/// Errors (each says what to change): the network is not ReLU, or its widths are not
/// [`required_widths`] (`net.widths`, naming the widths needed); a class without points; data
/// that are not sequentially separable (naming the step and the classes that remain); collapse
/// points that are not affinely independent.
pub fn build(model: &Model) -> Result<Construction> {
    let data = &model.data;
    let (m, n, classes, q) = (data.m(), data.n(), data.classes(), data.q());
    let need = required_widths(m, classes, q);
    if model.net.activation() != Activation::Relu {
        return Err(Error::invalid(
            "net.activation",
            format!(
                "the constructive minimizer needs relu (truncation maps), got {}",
                model.net.activation().name()
            ),
        ));
    }
    if model.net.widths() != need.as_slice() {
        return Err(Error::invalid(
            "net.widths",
            format!(
                "the constructive minimizer for {classes} classes in R^{m} needs {} hidden layers \
                 of width {}: widths {:?}, got {:?}",
                classes,
                need[1],
                need,
                model.net.widths()
            ),
        ));
    }
    let counts = data.class_counts();
    if let Some(c) = counts.iter().position(|&k| k == 0) {
        return Err(Error::invalid(
            "data.labels",
            format!("class {c} has no points; every class needs at least one"),
        ));
    }
    let wide = need[1];
    // Points in layer coordinates R^{M'}: the inputs, embedded by zero padding when M' > M.
    let pts: Vec<DVector<f64>> = (0..n)
        .map(|j| {
            let mut v = DVector::zeros(wide);
            v.rows_mut(0, m).copy_from(&data.inputs.column(j));
            v
        })
        .collect();
    let scale = pts
        .iter()
        .map(|p| p.norm())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let start = State {
        stages: vec![to_rows(&pts)],
        pts,
        collapsed: vec![],
        remaining: (0..classes).collect(),
        cuts: vec![],
        layers: vec![],
    };
    let mut search = Search {
        labels: &data.labels,
        m,
        scale,
        budget: 2000,
        deepest: None,
        dependent: None,
    };
    let Some(State {
        cuts,
        layers,
        stages,
        ..
    }) = search.run(start)?
    else {
        if let Some((order, rank)) = search.dependent {
            return Err(Error::invalid(
                "net.widths",
                format!(
                    "the {classes} collapse points (order {order:?}) span only {rank} dimensions; \
                     the output layer needs them affinely independent: widen the hidden layers"
                ),
            ));
        }
        let (order, remaining, collapsed) = search.deepest.unwrap_or_default();
        return Err(Error::invalid(
            "data",
            format!(
                "not sequentially separable: no order of the {classes} classes works; the \
                 furthest attempt (collapsing {order:?}) stopped at step {} of {classes}, where \
                 none of the remaining classes {remaining:?} can be cut from the others{} by a \
                 hyperplane",
                order.len() + 1,
                if collapsed == 0 {
                    String::new()
                } else {
                    format!(" and the {collapsed} points collapsed so far")
                }
            ),
        ));
    };
    let net = Mlp::new(&need, Activation::Relu)?;
    let mut theta = vec![0.0; net.k()];
    // Layer 1: W_1 = W^(1) E (E the zero-padding embedding), b_1 = b^(1).
    // Layer l+1 absorbs the inverse of layer l: W_{l+1} = W^(l+1) W^(l)⁻¹,
    // b_{l+1} = b^(l+1) − W^(l+1) W^(l)⁻¹ b^(l).
    for (l, (w, b)) in layers.iter().enumerate() {
        let (weights, bias) = if l == 0 {
            (w.columns(0, m).into_owned(), b.clone())
        } else {
            let (wp, bp) = &layers[l - 1];
            let lu = wp.clone().lu();
            // X = W W_p⁻¹ solves X W_p = W, i.e. W_pᵀ Xᵀ = Wᵀ.
            let xt = wp
                .transpose()
                .lu()
                .solve(&w.transpose())
                .ok_or_else(|| internal(l, "singular cone matrix"))?;
            let x = xt.transpose();
            let shift = lu
                .solve(bp)
                .ok_or_else(|| internal(l, "singular cone matrix"))?;
            (x, b - w * shift)
        };
        write_layer(&net, &mut theta, l + 1, &weights, &bias);
    }
    // Output layer: fit the actual (floating point) last hidden values of each class to its
    // target, so that rounding in the hidden layers does not show in the cost.
    let hidden = hidden_outputs(&net, &theta, &data.inputs);
    let mut reps = DMatrix::zeros(wide + 1, classes);
    for c in 0..classes {
        let j = data.labels.iter().position(|&l| l == c).expect("non-empty");
        reps.view_mut((0, c), (wide, 1))
            .copy_from(&hidden.column(j));
        reps[(wide, c)] = 1.0;
    }
    let targets = DMatrix::from_fn(q, classes, |i, c| data.targets[c][i]);
    let svd = reps.clone().svd(true, true);
    let eps = 1e-12 * svd.singular_values.max();
    let pinv = svd.pseudo_inverse(eps).map_err(|e| internal(classes, e))?;
    let out = &targets * pinv; // q × (wide + 1)
    let wl = out.columns(0, wide).into_owned();
    let bl = out.column(wide).into_owned();
    write_layer(&net, &mut theta, classes + 1, &wl, &bl);
    Ok(Construction {
        theta,
        widths: need,
        cuts,
        stages,
    })
}

/// The data and the layers built so far, one truncation per collapsed class.
#[derive(Clone)]
struct State {
    pts: Vec<DVector<f64>>,
    collapsed: Vec<DVector<f64>>,
    remaining: Vec<usize>,
    cuts: Vec<Cut>,
    layers: Vec<(DMatrix<f64>, DVector<f64>)>,
    stages: Vec<Vec<Vec<f64>>>,
}

/// Depth-first search over class orders, widest margin first, with a budget of cuts tried.
struct Search<'a> {
    labels: &'a [usize],
    m: usize,
    scale: f64,
    budget: usize,
    /// The longest failed order: (order so far, classes left, number of collapse points).
    deepest: Option<(Vec<usize>, Vec<usize>, usize)>,
    /// An order that cut every class but left the collapse points affinely dependent.
    dependent: Option<(Vec<usize>, usize)>,
}

impl Search<'_> {
    fn run(&mut self, st: State) -> Result<Option<State>> {
        if st.remaining.is_empty() {
            let rank = affine_rank(&st.collapsed);
            if rank + 1 == st.collapsed.len() {
                return Ok(Some(st));
            }
            self.dependent = Some((st.cuts.iter().map(|c| c.class).collect(), rank));
            return Ok(None);
        }
        let n = self.labels.len();
        let mut cands = vec![];
        for &c in &st.remaining {
            let inside: Vec<&DVector<f64>> = (0..n)
                .filter(|&j| self.labels[j] == c)
                .map(|j| &st.pts[j])
                .collect();
            let kept: Vec<&DVector<f64>> = (0..n)
                .filter(|&j| self.labels[j] != c && st.remaining.contains(&self.labels[j]))
                .map(|j| &st.pts[j])
                .chain(st.collapsed.iter())
                .collect();
            if let Some(sep) = separate(&inside, &kept, self.scale) {
                cands.push((c, sep));
            }
        }
        if cands.is_empty() {
            let depth = st.cuts.len();
            if self.deepest.as_ref().is_none_or(|d| depth >= d.0.len()) {
                self.deepest = Some((
                    st.cuts.iter().map(|c| c.class).collect(),
                    st.remaining.clone(),
                    st.collapsed.len(),
                ));
            }
            return Ok(None);
        }
        cands.sort_by(|a, b| b.1 .2.total_cmp(&a.1 .2));
        for (class, (normal, offset, margin)) in cands {
            if self.budget == 0 {
                return Ok(None);
            }
            self.budget -= 1;
            let next = self.collapse(&st, class, normal, offset, margin)?;
            if let Some(done) = self.run(next)? {
                return Ok(Some(done));
            }
        }
        Ok(None)
    }

    /// Adds the layer that collapses `class` behind the cut `nᵀx = offset`.
    fn collapse(
        &self,
        st: &State,
        class: usize,
        normal: DVector<f64>,
        offset: f64,
        margin: f64,
    ) -> Result<State> {
        let (n, m, step) = (self.labels.len(), self.m, st.cuts.len());
        let wide = normal.len();
        let mut st = st.clone();
        // Apex: the class centroid projected onto the cut, moved off the data plane when the
        // layer is wider than the input so that the collapse points end up affinely independent.
        let members: Vec<usize> = (0..n).filter(|&j| self.labels[j] == class).collect();
        let mut centroid = DVector::zeros(wide);
        for &j in &members {
            centroid += &st.pts[j];
        }
        centroid /= members.len() as f64;
        let mut apex = &centroid - &normal * (normal.dot(&centroid) - offset);
        if wide > m && step < wide - m {
            apex[m + step] += 0.5 * self.scale;
        }
        // λ from the tightest point: every live point x needs λ|v_i||x − p| < |nᵀ(x − p)|;
        // a factor 1/2 to spare.
        let v_norm = if wide > 1 {
            (1.0 - 1.0 / wide as f64).sqrt()
        } else {
            0.0
        };
        let mut lambda = f64::INFINITY;
        let live = (0..n)
            .filter(|&j| st.remaining.contains(&self.labels[j]))
            .map(|j| &st.pts[j])
            .chain(st.collapsed.iter());
        for x in live {
            let d = x - &apex;
            let (side, len) = (normal.dot(&d).abs(), d.norm());
            if v_norm > 0.0 && len > 0.0 {
                lambda = lambda.min(0.5 * side / (v_norm * len));
            }
        }
        let lambda = if lambda.is_finite() {
            lambda.min(1.0)
        } else {
            1.0
        };
        let w = cone(&normal, lambda);
        let b = -(&w * &apex);
        // Apply the truncation, checking the orthant conditions the cone was built for.
        for j in 0..n {
            if !st.remaining.contains(&self.labels[j]) {
                continue;
            }
            let z = &w * &st.pts[j] + &b;
            if self.labels[j] == class {
                if z.iter().any(|&v| v > 0.0) {
                    return Err(internal(step, "a point of the class is not truncated"));
                }
                st.pts[j] = apex.clone();
            } else if z.iter().any(|&v| v <= 0.0) {
                return Err(internal(step, "a kept point left the positive orthant"));
            }
        }
        if st
            .collapsed
            .iter()
            .any(|p| (&w * p + &b).iter().any(|&v| v <= 0.0))
        {
            return Err(internal(step, "an earlier collapse point is truncated"));
        }
        st.stages.push(to_rows(&st.pts));
        st.collapsed.push(apex.clone());
        st.remaining.retain(|&c| c != class);
        st.cuts.push(Cut {
            class,
            normal: normal.as_slice().to_vec(),
            offset,
            margin,
            lambda,
            apex: apex.as_slice().to_vec(),
        });
        st.layers.push((w, b));
        Ok(st)
    }
}

/// Dimension of the affine hull of `points` (relative tolerance 1e-9).
fn affine_rank(points: &[DVector<f64>]) -> usize {
    if points.len() < 2 {
        return 0;
    }
    let d = points[0].len();
    let diffs = DMatrix::from_fn(d, points.len() - 1, |r, c| points[c + 1][r] - points[0][r]);
    let sv = diffs.singular_values();
    let max = sv.max();
    sv.iter().filter(|&&s| s > 1e-9 * max.max(1e-300)).count()
}

/// Hidden activations of the last hidden layer (`M' × N`).
fn hidden_outputs(net: &Mlp, theta: &[f64], inputs: &DMatrix<f64>) -> DMatrix<f64> {
    let mut fw = crate::math::net::Forward::default();
    net.forward_into(theta, inputs, &mut fw);
    fw.h[net.hidden_layers()].clone()
}

fn write_layer(net: &Mlp, theta: &mut [f64], l: usize, w: &DMatrix<f64>, b: &DVector<f64>) {
    let (wo, bo) = net.layer_offsets(l);
    let cols = w.ncols();
    for r in 0..w.nrows() {
        for c in 0..cols {
            theta[wo + r * cols + c] = w[(r, c)];
        }
        theta[bo + r] = b[r];
    }
}

/// The cone matrix with rows `n + λ v_i`, `v_i` a regular simplex in `n^⊥` (`|v_i|² = 1 − 1/M'`).
fn cone(normal: &DVector<f64>, lambda: f64) -> DMatrix<f64> {
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
    // Row i: (n + λ H u_i)ᵀ.
    let mut w = DMatrix::zeros(d, d);
    for i in 0..d {
        let mut ui = DVector::from_element(d, -1.0 / d as f64);
        ui[i] += 1.0;
        let vi = &h * ui;
        for k in 0..d {
            w[(i, k)] = normal[k] + lambda * vi[k];
        }
    }
    w
}

/// A hyperplane `nᵀx = c` (`|n| = 1`) with `inside` on `nᵀx < c` and `kept` on `nᵀx > c`, by an
/// L2-loss linear SVM (dual coordinate descent, Hsieh et al. 2008), returning the margin
/// `min |nᵀx − c|`; `None` when the sets are not strictly separated.
fn separate(
    inside: &[&DVector<f64>],
    kept: &[&DVector<f64>],
    scale: f64,
) -> Option<(DVector<f64>, f64, f64)> {
    if inside.is_empty() {
        return None;
    }
    let d = inside[0].len();
    if kept.is_empty() {
        // Nothing to keep: any hyperplane beyond the class will do.
        let mut normal = DVector::zeros(d);
        normal[0] = 1.0;
        let top = inside
            .iter()
            .map(|x| x[0])
            .fold(f64::NEG_INFINITY, f64::max);
        let offset = top + 0.5 * scale;
        return Some((normal, offset, 0.5 * scale));
    }
    // Augmented, scaled samples x̃ = (x/scale, 1) with labels y = −1 (inside), +1 (kept).
    let samples: Vec<(DVector<f64>, f64)> = inside
        .iter()
        .map(|x| (augment(x, scale), -1.0))
        .chain(kept.iter().map(|x| (augment(x, scale), 1.0)))
        .collect();
    let cost = 1e6;
    let dii = 0.5 / cost;
    let mut alpha = vec![0.0; samples.len()];
    let mut w = DVector::zeros(d + 1);
    let qii: Vec<f64> = samples
        .iter()
        .map(|(x, _)| x.norm_squared() + dii)
        .collect();
    for _sweep in 0..20_000 {
        let mut max_pg: f64 = 0.0;
        for (i, (x, y)) in samples.iter().enumerate() {
            let g = y * w.dot(x) - 1.0 + dii * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            max_pg = max_pg.max(pg.abs());
            if pg != 0.0 {
                let old = alpha[i];
                alpha[i] = (old - g / qii[i]).max(0.0);
                w.axpy((alpha[i] - old) * y, x, 1.0);
            }
        }
        if max_pg < 1e-10 {
            break;
        }
    }
    let nw = w.rows(0, d).into_owned();
    let len = nw.norm();
    if len < 1e-300 {
        return None;
    }
    let normal = &nw / len;
    // wᵀx/scale + w_b = 0 ⇔ nᵀx = −w_b·scale/|w|.
    let offset = -w[d] * scale / len;
    let mut margin = f64::INFINITY;
    for x in inside {
        let s = offset - normal.dot(x);
        margin = margin.min(s);
    }
    for x in kept {
        let s = normal.dot(x) - offset;
        margin = margin.min(s);
    }
    // Strictly separated with a margin that rounding cannot erase.
    (margin > 1e-9 * scale).then_some((normal, offset, margin))
}

fn augment(x: &DVector<f64>, scale: f64) -> DVector<f64> {
    let mut v = DVector::zeros(x.len() + 1);
    v.rows_mut(0, x.len()).copy_from(&(x / scale));
    v[x.len()] = 1.0;
    v
}

fn to_rows(pts: &[DVector<f64>]) -> Vec<Vec<f64>> {
    pts.iter().map(|p| p.as_slice().to_vec()).collect()
}

fn internal(step: usize, what: impl std::fmt::Display) -> Error {
    Error::State(format!(
        "constructive minimizer, layer {}: {what} (please report this data set)",
        step + 1
    ))
}
