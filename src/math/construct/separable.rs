//! The 2024 construction (slide 15): the order of the classes and their cuts, then the apexes.
//!
//! 1. The data-level order: at each step a class that a hyperplane cuts off from every class not
//!    yet cut (widest L2-SVM margin first). Greedy is exact: cutting a class off only removes
//!    points the later cuts must respect.
//! 2. In input coordinates (`d ≥ M`, inputs zero-padded): a depth-first search over orders and
//!    apexes, each cut also keeping the earlier apexes on its positive side (C2), the apexes
//!    tried at the projected class centroid (lifted into a spare dimension when there is one)
//!    and far out along the cut in both directions of each axis of the cut.
//! 3. Otherwise, or when the search fails: the cut coordinates `z_ℓ = n_ℓ·x`, where the cuts are
//!    coordinate hyperplanes and the apexes `p_ℓ = (γ_k + T)_{k≠ℓ}, γ_ℓ` satisfy (C1)–(C3) for
//!    any `d ≥ Q_c − 1` (docs/math/constructions.md, "Cut coordinates").

use super::svm::separate;
use super::{affine_rank, cone, opening, Coordinates, Cut, Plan};
use crate::error::{Error, Result};
use crate::math::data::Dataset;
use nalgebra::{DMatrix, DVector};

/// Apex searches tried in input coordinates before the cut coordinates are used.
const BUDGET: usize = 400;

/// One data-level cut: class `class` on `n·x < γ`, every later class on `n·x > γ`.
struct DataCut {
    class: usize,
    normal: DVector<f64>,
    offset: f64,
}

/// The plan of the 2024 construction in layer coordinates of dimension `d ≥ max(1, Q_c − 1)`.
///
/// Errors: data that are not sequentially separable (`data`), naming the step and the classes
/// left.
pub(super) fn plan(data: &Dataset, d: usize) -> Result<Plan> {
    let (m, n, classes) = (data.m(), data.n(), data.classes());
    let inputs: Vec<DVector<f64>> = (0..n).map(|j| data.inputs.column(j).into_owned()).collect();
    let scale = inputs
        .iter()
        .map(|p| p.norm())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let (order, last) = data_order(&inputs, &data.labels, classes, scale)?;
    if d >= m {
        let pts: Vec<DVector<f64>> = inputs.iter().map(|x| pad(x, d)).collect();
        let mut search = Search {
            labels: &data.labels,
            m,
            scale,
            budget: BUDGET,
        };
        let start = State {
            pts,
            apexes: vec![],
            remaining: (0..classes).collect(),
            cuts: vec![],
            cones: vec![],
        };
        if let Some(done) = search.run(start) {
            let mut embed = DMatrix::zeros(d, m);
            for i in 0..m {
                embed[(i, i)] = 1.0;
            }
            return Ok(Plan {
                embed,
                coordinates: Coordinates::Input,
                cuts: done.cuts,
                cones: done.cones,
            });
        }
    }
    cut_coordinates(&inputs, &data.labels, &order, last, d, scale)
}

/// The data-level order and cuts (`Q_c − 1` of them) and the last class.
fn data_order(
    inputs: &[DVector<f64>],
    labels: &[usize],
    classes: usize,
    scale: f64,
) -> Result<(Vec<DataCut>, usize)> {
    let mut remaining: Vec<usize> = (0..classes).collect();
    let mut order = vec![];
    while remaining.len() > 1 {
        let mut best: Option<(usize, DVector<f64>, f64, f64)> = None;
        for &c in &remaining {
            let inside: Vec<&DVector<f64>> = members(inputs, labels, |l| l == c);
            let kept: Vec<&DVector<f64>> =
                members(inputs, labels, |l| l != c && remaining.contains(&l));
            if let Some((normal, offset, margin)) = separate(&inside, &kept, scale) {
                if best.as_ref().is_none_or(|b| margin > b.3) {
                    best = Some((c, normal, offset, margin));
                }
            }
        }
        let Some((class, normal, offset, _)) = best else {
            // Classes are numbered from 1 here, as the page and the README name them (y₁, y₂, …).
            let cut: Vec<usize> = order.iter().map(|c: &DataCut| c.class + 1).collect();
            let remaining: Vec<usize> = remaining.iter().map(|c| c + 1).collect();
            return Err(Error::invalid(
                "data",
                format!(
                    "not sequentially separable: after cutting off classes {cut:?}, step {} of \
                     {classes} finds none of the remaining classes {remaining:?} that a \
                     hyperplane cuts off from the others",
                    order.len() + 1
                ),
            ));
        };
        remaining.retain(|&c| c != class);
        order.push(DataCut {
            class,
            normal,
            offset,
        });
    }
    Ok((order, remaining[0]))
}

fn members<'a>(
    pts: &'a [DVector<f64>],
    labels: &[usize],
    keep: impl Fn(usize) -> bool,
) -> Vec<&'a DVector<f64>> {
    pts.iter()
        .zip(labels)
        .filter(|(_, &l)| keep(l))
        .map(|(p, _)| p)
        .collect()
}

fn pad(x: &DVector<f64>, d: usize) -> DVector<f64> {
    let mut v = DVector::zeros(d);
    v.rows_mut(0, x.len().min(d))
        .copy_from(&x.rows(0, x.len().min(d)));
    v
}

/// The data and the layers built so far in input coordinates.
#[derive(Clone)]
struct State {
    pts: Vec<DVector<f64>>,
    apexes: Vec<DVector<f64>>,
    remaining: Vec<usize>,
    cuts: Vec<Cut>,
    cones: Vec<(DMatrix<f64>, DVector<f64>)>,
}

/// Depth-first search over orders and apexes, with a budget of collapses tried.
struct Search<'a> {
    labels: &'a [usize],
    m: usize,
    scale: f64,
    budget: usize,
}

impl Search<'_> {
    fn run(&mut self, st: State) -> Option<State> {
        if st.remaining.is_empty() {
            let rank = affine_rank(&st.apexes);
            return (rank + 1 == st.apexes.len()).then_some(st);
        }
        let mut cands = vec![];
        for &c in &st.remaining {
            let inside = members(&st.pts, self.labels, |l| l == c);
            let mut kept = members(&st.pts, self.labels, |l| {
                l != c && st.remaining.contains(&l)
            });
            kept.extend(st.apexes.iter());
            if let Some(sep) = separate(&inside, &kept, self.scale) {
                cands.push((c, sep));
            }
        }
        cands.sort_by(|a, b| b.1 .2.total_cmp(&a.1 .2));
        for (class, (normal, offset, _)) in cands {
            for apex in self.apexes_on(&st, class, &normal, offset) {
                if self.budget == 0 {
                    return None;
                }
                self.budget -= 1;
                if let Some(next) = self.collapse(&st, class, &normal, offset, apex) {
                    if let Some(done) = self.run(next) {
                        return Some(done);
                    }
                }
            }
        }
        None
    }

    /// Apexes on the cut `n·x = γ` to try: the projected class centroid (lifted along the cut
    /// into a spare dimension when the layer is wider than the inputs), then points far out
    /// along the cut.
    fn apexes_on(
        &self,
        st: &State,
        class: usize,
        normal: &DVector<f64>,
        offset: f64,
    ) -> Vec<DVector<f64>> {
        let d = normal.len();
        let inside = members(&st.pts, self.labels, |l| l == class);
        let centroid =
            inside.iter().fold(DVector::zeros(d), |acc, p| acc + *p) / inside.len() as f64;
        let foot = &centroid - normal * (normal.dot(&centroid) - offset);
        let along = |k: usize| -> Option<DVector<f64>> {
            let mut e = DVector::zeros(d);
            e[k] = 1.0;
            let u = &e - normal * normal[k];
            let len = u.norm();
            (len > 0.1).then(|| u / len)
        };
        let mut out = vec![];
        let step = st.cuts.len();
        if d > self.m && step < d - self.m {
            if let Some(u) = along(self.m + step) {
                out.push(&foot + u * (0.5 * self.scale));
            }
        }
        out.push(foot.clone());
        for k in 0..d {
            if let Some(u) = along(k) {
                for sign in [1.0, -1.0] {
                    out.push(&foot + &u * (sign * 3.0 * self.scale));
                }
            }
        }
        out
    }

    /// The layer that collapses `class` to `apex` behind the cut `n·x = γ`, if its orthant
    /// conditions hold on every live point.
    fn collapse(
        &self,
        st: &State,
        class: usize,
        normal: &DVector<f64>,
        offset: f64,
        apex: DVector<f64>,
    ) -> Option<State> {
        let n = self.labels.len();
        let live: Vec<&DVector<f64>> = (0..n)
            .filter(|&j| st.remaining.contains(&self.labels[j]))
            .map(|j| &st.pts[j])
            .chain(st.apexes.iter())
            .collect();
        let nu = opening(normal, &apex, &live);
        let w = cone(normal, nu);
        let b = -(&w * &apex);
        let mut next = st.clone();
        let mut margin = f64::INFINITY;
        for j in 0..n {
            if !st.remaining.contains(&self.labels[j]) {
                continue;
            }
            let z = &w * &st.pts[j] + &b;
            margin = margin.min((normal.dot(&st.pts[j]) - offset).abs());
            if self.labels[j] == class {
                if z.iter().any(|&v| v > 0.0) {
                    return None;
                }
                next.pts[j] = apex.clone();
            } else if z.iter().any(|&v| v <= 0.0) {
                return None;
            }
        }
        for p in &st.apexes {
            if (&w * p + &b).iter().any(|&v| v <= 0.0) {
                return None;
            }
            margin = margin.min((normal.dot(p) - offset).abs());
        }
        next.remaining.retain(|&c| c != class);
        next.cuts.push(Cut {
            class,
            normal: normal.as_slice().to_vec(),
            offset,
            margin,
            lambda: nu,
            apex: apex.as_slice().to_vec(),
            input_normal: normal.rows(0, self.m).iter().copied().collect(),
            input_offset: offset,
        });
        next.apexes.push(apex);
        next.cones.push((w, b));
        Some(next)
    }
}

/// The construction in cut coordinates `z = Ex`, `E` holding the data cuts' normals as rows: cut
/// `ℓ < Q_c` is `z_ℓ = γ_ℓ` with apex `p_ℓ`, `p_ℓ[ℓ] = γ_ℓ` and `p_ℓ[k] = γ_k + T` for the other
/// `k < Q_c − 1`; the last class is cut off from the apexes by `Σ_k z_k = c` (or `z_1 = c` for
/// two classes). `T` is chosen so that the apexes lie beyond the last class.
fn cut_coordinates(
    inputs: &[DVector<f64>],
    labels: &[usize],
    order: &[DataCut],
    last: usize,
    d: usize,
    scale: f64,
) -> Result<Plan> {
    let m = inputs.first().map_or(0, |x| x.len());
    let q = order.len() + 1;
    let mut embed = DMatrix::zeros(d, m);
    for (k, c) in order.iter().enumerate() {
        embed.row_mut(k).copy_from(&c.normal.transpose());
    }
    let z: Vec<DVector<f64>> = inputs.iter().map(|x| &embed * x).collect();
    let gamma: Vec<f64> = order.iter().map(|c| c.offset).collect();
    // R: how far any point lies from any cut, in cut coordinates.
    let reach = z
        .iter()
        .flat_map(|p| gamma.iter().enumerate().map(move |(k, g)| (p[k] - g).abs()))
        .fold(0.0f64, f64::max)
        .max(1e-9 * scale);
    let t = if q >= 3 {
        reach * (1.0 + (q - 1) as f64 / (q - 2) as f64)
    } else {
        reach
    };
    let mut cuts = vec![];
    let mut cones = vec![];
    let mut apexes: Vec<DVector<f64>> = vec![];
    let mut remaining: Vec<usize> = order.iter().map(|c| c.class).chain([last]).collect();
    let mut step_cut = |class: usize,
                        normal: DVector<f64>,
                        offset: f64,
                        apex: DVector<f64>,
                        input_normal: DVector<f64>,
                        apexes: &mut Vec<DVector<f64>>,
                        remaining: &mut Vec<usize>| {
        let live: Vec<&DVector<f64>> = z
            .iter()
            .zip(labels)
            .filter(|(_, l)| remaining.contains(l))
            .map(|(p, _)| p)
            .chain(apexes.iter())
            .collect();
        let margin = live
            .iter()
            .map(|p| (normal.dot(p) - offset).abs())
            .fold(f64::INFINITY, f64::min);
        let nu = opening(&normal, &apex, &live);
        let w = cone(&normal, nu);
        let b = -(&w * &apex);
        cuts.push(Cut {
            class,
            normal: normal.as_slice().to_vec(),
            offset,
            margin,
            lambda: nu,
            apex: apex.as_slice().to_vec(),
            input_normal: input_normal.as_slice().to_vec(),
            input_offset: offset,
        });
        cones.push((w, b));
        apexes.push(apex);
        remaining.retain(|&c| c != class);
    };
    for (l, c) in order.iter().enumerate() {
        let mut normal = DVector::zeros(d);
        normal[l] = 1.0;
        let mut apex = DVector::zeros(d);
        for k in 0..q - 1 {
            apex[k] = if k == l { gamma[k] } else { gamma[k] + t };
        }
        step_cut(
            c.class,
            normal,
            c.offset,
            apex,
            c.normal.clone(),
            &mut apexes,
            &mut remaining,
        );
    }
    // The last class: cut off from the apexes only.
    let own: Vec<&DVector<f64>> = z
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l == last)
        .map(|(p, _)| p)
        .collect();
    let centroid = own.iter().fold(DVector::zeros(d), |acc, p| acc + *p) / own.len() as f64;
    let (normal, offset, input_normal) = if q == 1 {
        let mut e = DVector::zeros(d);
        e[0] = 1.0;
        (e, 1.0, DVector::zeros(m))
    } else if q == 2 {
        // z_1 > γ_1 on the class, z_1 = γ_1 at the apex: the cut −z_1 = −(γ_1 + m'/2).
        let gap = own
            .iter()
            .map(|p| p[0] - gamma[0])
            .fold(f64::INFINITY, f64::min);
        let mut e = DVector::zeros(d);
        e[0] = -1.0;
        (e, -(gamma[0] + 0.5 * gap), -order[0].normal.clone())
    } else {
        // f = Σ_k z_k: at most F on the class, Σγ + (q−2)T > F at every apex.
        let root = ((q - 1) as f64).sqrt();
        let f_class = own
            .iter()
            .map(|p| p.rows(0, q - 1).sum())
            .fold(f64::NEG_INFINITY, f64::max);
        let f_apex = gamma.iter().sum::<f64>() + (q - 2) as f64 * t;
        let mut u = DVector::zeros(d);
        u.rows_mut(0, q - 1).fill(1.0 / root);
        let a = order
            .iter()
            .fold(DVector::zeros(m), |acc, c| acc + &c.normal)
            / root;
        (u, 0.5 * (f_class + f_apex) / root, a)
    };
    let apex = &centroid - &normal * (normal.dot(&centroid) - offset);
    step_cut(
        last,
        normal,
        offset,
        apex,
        input_normal,
        &mut apexes,
        &mut remaining,
    );
    Ok(Plan {
        embed,
        coordinates: Coordinates::Cuts,
        cuts,
        cones,
    })
}
