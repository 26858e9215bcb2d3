//! Hover readouts: what the page shows under the pointer on each figure.

use super::{fmt_e, fmt_g, Board, MAX_COLLAPSE_CLASSES};
use crate::app::view::View;
use crate::math::diagnostics::Sample;
use crate::math::model::CostSpec;

impl Board {
    fn nearest_sample(&self, i: usize, s: f64) -> Option<&Sample> {
        self.lanes[i]
            .samples
            .iter()
            .min_by(|a, b| (a.s - s).abs().total_cmp(&(b.s - s).abs()))
    }

    /// What lies under pixel `(px, py)` of `view`, as one line of text (`None` off the chart).
    pub fn hover(&self, view: View, px: f64, py: f64) -> Option<String> {
        let info = self.info.as_ref()?;
        match view {
            View::Collapse => return self.hover_collapse(px, py),
            View::Network => return self.hover_network(px, py),
            View::Eigenmodes => return self.hover_modes(px, py),
            _ => {}
        }
        let geom = self.geom(view)?;
        let (x, y) = geom.to_data(px, py)?;
        match view {
            View::Singular => {
                let i = self.focus.min(self.lanes.len().saturating_sub(1));
                let p = self.nearest_sample(i, x)?;
                let smallest = p
                    .singular_values
                    .iter()
                    .flatten()
                    .rev()
                    .find(|v| !v.is_nan())
                    .map_or(f64::NAN, |v| v / p.sigma_max);
                Some(format!(
                    "s = {} · {}: rank D = {}, σmax = {}, smallest σ/σmax = {}",
                    fmt_g(p.s),
                    self.lane_label(i),
                    p.rank,
                    fmt_e(p.sigma_max),
                    fmt_e(smallest)
                ))
            }
            View::Reparam => {
                // Under the weighted cost the classes run on their own clocks: the deviation is
                // read at the slowest one's s.
                let s = -(1.0 - x.clamp(0.0, 1.0 - 1e-16)).ln() / self.slowest_rate();
                let clock = if info.cost == CostSpec::Weighted {
                    " of the largest class"
                } else {
                    ""
                };
                let mut parts = vec![format!("t = {} (s = {}{clock})", fmt_g(x), fmt_g(s))];
                for (i, lane) in self.lanes.iter().enumerate() {
                    if let Some((ps, o)) = lane
                        .trail
                        .iter()
                        .min_by(|a, b| (a.0 - s).abs().total_cmp(&(b.0 - s).abs()))
                    {
                        parts.push(format!(
                            "{}: off the line {}",
                            self.lane_label(i),
                            fmt_e(self.off_line(*ps, o))
                        ));
                    }
                }
                Some(parts.join(" · "))
            }
            View::Critical => {
                let fig = self.slice_figure();
                let c = fig.cost_at(x, y)?;
                Some(format!(
                    "a = {}, b = {}: C = {}, C − C(θ*) = {}",
                    fmt_g(x),
                    fmt_g(y),
                    fmt_e(c),
                    fmt_e(c - fig.center_cost)
                ))
            }
            View::Construct | View::Homotopy => {
                let (fig_pts, what) = if view == View::Construct {
                    (self.layers_figure().points, "point")
                } else {
                    (vec![], "")
                };
                for (j, p) in fig_pts.iter().enumerate() {
                    let (qx, qy) = geom.to_pixel(p.0, p.1);
                    if (qx - px).hypot(qy - py) < 8.0 {
                        return Some(format!(
                            "{what} {}: ({}, {}), class {}",
                            j + 1,
                            fmt_g(p.0),
                            fmt_g(p.1),
                            p.2 + 1
                        ));
                    }
                }
                Some(format!("({}, {})", fmt_g(x), fmt_g(y)))
            }
            View::Cost => {
                let mut parts = vec![format!("s = {}", fmt_g(x))];
                for i in 0..self.lanes.len() {
                    if let Some(p) = self.nearest_sample(i, x) {
                        parts.push(format!("{}: C = {}", self.lane_label(i), fmt_e(p.cost)));
                    }
                }
                if info.cost == CostSpec::Weighted {
                    let c: f64 = info.theory.iter().map(|(a, r)| a * (-r * x).exp()).sum();
                    parts.push(format!("theory Σ_j C_j(0)e^(−4s/N_j) = {}", fmt_e(c)));
                } else {
                    parts.push(format!(
                        "theory C(0)e^(−2s/N) = {}",
                        fmt_e(info.c0 * (-2.0 * x / info.n as f64).exp())
                    ));
                }
                Some(parts.join(" · "))
            }
            View::Spectrum => {
                let mut parts = vec![format!("s = {}", fmt_g(x))];
                for i in 0..self.lanes.len() {
                    if let Some(p) = self.nearest_sample(i, x) {
                        parts.push(format!(
                            "{}: rank D = {}, λmin = {}, ρ = {}",
                            self.lane_label(i),
                            p.rank,
                            fmt_e(p.lambda_min),
                            fmt_e(p.rho)
                        ));
                    }
                }
                Some(parts.join(" · "))
            }
            View::Collapse | View::Network | View::Eigenmodes => None,
            View::Outputs => {
                let q = info.q;
                let (a, b) = self.pair;
                let mut best: Option<(f64, String)> = None;
                for (i, lane) in self.lanes.iter().enumerate() {
                    if lane.outputs.is_empty() {
                        continue;
                    }
                    let s = lane.frame.as_ref().map_or(0.0, |f| f.s);
                    for j in 0..info.n {
                        let (u, v) = if q == 1 {
                            (s, lane.outputs[j])
                        } else {
                            (lane.outputs[j * q + a], lane.outputs[j * q + b])
                        };
                        let (qx, qy) = geom.to_pixel(u, v);
                        let d = (qx - px).hypot(qy - py);
                        if d < 12.0 && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
                            let c = info.labels[j];
                            let coords: Vec<String> = lane.outputs[j * q..(j + 1) * q]
                                .iter()
                                .map(|v| fmt_g(*v))
                                .collect();
                            best = Some((
                                d,
                                format!(
                                    "{}: x{}(s = {}) = ({}), class {}",
                                    self.lane_label(i),
                                    j + 1,
                                    fmt_g(s),
                                    coords.join(", "),
                                    c + 1
                                ),
                            ));
                        }
                    }
                }
                Some(best.map_or_else(|| format!("({}, {})", fmt_g(x), fmt_g(y)), |(_, text)| text))
            }
            View::Boundary => {
                let data = self.data.as_ref()?;
                info.bounds?;
                for (j, p) in data.inputs.iter().enumerate() {
                    let (qx, qy) = geom.to_pixel(p[0], p[1]);
                    if (qx - px).hypot(qy - py) < 8.0 {
                        return Some(format!(
                            "point {}: ({}, {}), class {}",
                            j + 1,
                            fmt_g(p[0]),
                            fmt_g(p[1]),
                            info.labels[j] + 1
                        ));
                    }
                }
                let mut text = format!("input ({}, {})", fmt_g(x), fmt_g(y));
                if let Some(h) = &self.heat {
                    let [x0, x1, y0, y1] = h.header.bounds;
                    let n = h.header.size;
                    let ix = (((x - x0) / (x1 - x0)) * n as f64).floor() as usize;
                    let iy = (((y - y0) / (y1 - y0)) * n as f64).floor() as usize;
                    if ix < n && iy < n {
                        let at = (iy * n + ix) * info.q;
                        let out = &h.values[at..at + info.q];
                        let c = data
                            .targets
                            .iter()
                            .enumerate()
                            .map(|(c, t)| {
                                (
                                    c,
                                    t.iter()
                                        .zip(out)
                                        .map(|(a, b)| (a - b) * (a - b))
                                        .sum::<f64>(),
                                )
                            })
                            .min_by(|a, b| a.1.total_cmp(&b.1))
                            .map_or(0, |(c, _)| c);
                        let vals: Vec<String> = out.iter().map(|v| fmt_g(*v)).collect();
                        text.push_str(&format!(
                            " → output ({}), nearest target y{}",
                            vals.join(", "),
                            c + 1
                        ));
                    }
                }
                Some(text)
            }
        }
    }

    fn hover_collapse(&self, px: f64, py: f64) -> Option<String> {
        let info = self.info.as_ref()?;
        let (i, x) = self
            .collapse_geoms
            .iter()
            .enumerate()
            .find_map(|(i, g)| g.to_data(px, py).map(|(x, _)| (i, x)))?;
        let p = self.nearest_sample(i, x)?;
        let mut parts = vec![format!("{}, s = {}", self.lane_label(i), fmt_g(p.s))];
        for c in 0..info.classes.min(MAX_COLLAPSE_CLASSES) {
            parts.push(format!(
                "class {}: var = {}, |mean − y| = {}",
                c + 1,
                fmt_e(p.class_spread[c].powi(2)),
                fmt_e(p.class_mean_distance[c])
            ));
        }
        Some(parts.join(" · "))
    }
}
