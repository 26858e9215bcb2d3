//! The decision-boundary heatmap: the network evaluated on a square grid over the input plane.

use nalgebra::DMatrix;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct HeatSpec {
    pub(super) lane: usize,
    pub(super) size: usize,
}

/// Input-plane bounds for 2-D inputs: the data's bounding box, padded and made square.
pub fn plane_bounds(inputs: &[Vec<f64>]) -> Option<[f64; 4]> {
    if inputs.first().is_none_or(|x| x.len() != 2) {
        return None;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in inputs {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let (cx, cy) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
    let half = (0.5 * (x1 - x0)).max(0.5 * (y1 - y0)).max(0.5) * 1.2;
    Some([cx - half, cx + half, cy - half, cy + half])
}

/// The network of `theta` on a `size × size` grid of cell centres over `bounds`, row by row from
/// the bottom; `Q` outputs per point.
pub fn heat_values(
    model: &crate::math::model::Model,
    theta: &[f64],
    bounds: [f64; 4],
    size: usize,
) -> Vec<f64> {
    let [x0, x1, y0, y1] = bounds;
    let mut pts = Vec::with_capacity(2 * size * size);
    for iy in 0..size {
        let y = y0 + (iy as f64 + 0.5) * (y1 - y0) / size as f64;
        for ix in 0..size {
            pts.push(x0 + (ix as f64 + 0.5) * (x1 - x0) / size as f64);
            pts.push(y);
        }
    }
    let grid = DMatrix::from_column_slice(2, size * size, &pts);
    model.net.forward(theta, &grid).as_slice().to_vec()
}

/// Multiply-adds of one grid point's forward pass while the lanes run: the grid then refreshes
/// every [`super::HEAT_EVERY_MS`] beside the integration and must stay a few milliseconds.
pub const HEAT_RUN_WORK: f64 = 4e6;
/// Multiply-adds of the whole grid once the run pauses (computed once: the refined picture).
pub const HEAT_REST_WORK: f64 = 4e7;

/// The grid side to evaluate for a request of `requested`: as asked while the work
/// `side² · Σ M_l M_{l−1}` stays within [`HEAT_RUN_WORK`] (running) or [`HEAT_REST_WORK`]
/// (paused), never below 16 (or `requested` when smaller).
pub fn heat_size(model: &crate::math::model::Model, requested: usize, running: bool) -> usize {
    let per_point: usize = model.net.widths().windows(2).map(|w| w[0] * w[1]).sum();
    let work = if running {
        HEAT_RUN_WORK
    } else {
        HEAT_REST_WORK
    };
    let side = (work / per_point.max(1) as f64).sqrt().floor() as usize;
    side.max(16).min(requested)
}
