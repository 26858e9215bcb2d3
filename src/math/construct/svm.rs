//! The cuts of the 2024 construction: a separating hyperplane of maximal (L2-SVM) margin.

use nalgebra::DVector;

/// A hyperplane `nᵀx = c` (`|n| = 1`) with `inside` on `nᵀx < c` and `kept` on `nᵀx > c`, by an
/// L2-loss linear SVM (dual coordinate descent, Hsieh et al. 2008), returning the margin
/// `min |nᵀx − c|`; `None` when the sets are not strictly separated.
pub(super) fn separate(
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
