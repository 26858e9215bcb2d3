//! The figures of the [`Board`]: each turns the history into the plain data a `plot` module draws.

use super::{
    alpha_label, fmt_e, fmt_g, fmt_s, Board, MAX_COLLAPSE_CLASSES, MAX_CURVE_POINTS,
    MAX_REPARAM_PATHS, MAX_TRAIL_POINTS,
};
#[cfg(doc)]
use crate::app::protocol::RunInfo;
use crate::math::model::CostSpec;
use crate::plot::collapse::{ClassCurves, CollapseFigure, CollapsePanel};
use crate::plot::cost::CostFigure;
use crate::plot::heatmap::HeatmapFigure;
use crate::plot::layers::LayersFigure;
use crate::plot::outputs::{OutputsFigure, Trail};
use crate::plot::reparam::{ReparamFigure, ReparamLane};
use crate::plot::singular::SingularFigure;
use crate::plot::slice::SliceFigure;
use crate::plot::spectrum::{SpectrumFigure, SpectrumLane};
use crate::plot::{alpha_color, class_color, decimate, decimate_path, lin_range, Series};
use crate::run::event::EventKind;

/// The data at one stage of the construction, as points in the plane.
type Stage = Vec<(f64, f64)>;

/// An outputs figure in the output-coordinate pair `(a, b)`: the first 16 targets `y_c` as
/// labelled crosses and the axis names.
fn pair_axes(fig: &mut OutputsFigure, targets: &[Vec<f64>], a: usize, b: usize) {
    for (c, y) in targets.iter().enumerate().take(16) {
        fig.targets.push((y[a], y[b], format!(" y{}", c + 1)));
    }
    fig.x_desc = format!("output coordinate {}", a + 1);
    fig.y_desc = format!("output coordinate {}", b + 1);
}

impl Board {
    /// The cost figure: every flow, the theory line and the stopping times.
    pub fn cost_figure(&self) -> CostFigure {
        let mut fig = CostFigure {
            s_max: self.s_axis(),
            ..CostFigure::default()
        };
        let Some(info) = &self.info else { return fig };
        fig.theory = Some((info.c0, info.n));
        if info.cost == CostSpec::Weighted {
            fig.terms = info.theory.clone();
        }
        fig.epsilon = info.epsilon;
        fig.predicted = info.predicted;
        for (i, lane) in self.lanes.iter().enumerate() {
            let mut points = self.series(i, |p| p.cost);
            if let Some(f) = &lane.frame {
                if points.last().is_none_or(|p| p.0 < f.s) {
                    points.push((f.s, f.cost));
                }
                if let Some(m) = f.measured {
                    fig.measured.push((m, i));
                }
            }
            // Escapes from a critical submanifold (Thm 4.2) are jumps in θ: mark them.
            for e in &lane.events {
                if let EventKind::Escape(step) = &e.kind {
                    fig.markers.push((e.s, step.cost_after, "escape".into()));
                    fig.jumps.push((e.s, step.cost_before, step.cost_after));
                }
            }
            fig.curves.push(Series {
                label: self.lane_label(i),
                color: self.lane_color(i),
                points,
            });
        }
        fig
    }

    /// The output figure: the trails of the recorded samples ([`RunInfo::trail`]) per flow in the
    /// chosen pair of coordinates (`Q ≥ 2`), or against `s` (`Q = 1`), each ending at the current
    /// output.
    pub fn outputs_figure(&self) -> OutputsFigure {
        let mut fig = OutputsFigure::default();
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return fig;
        };
        let q = info.q;
        let (a, b) = self.pair;
        let one_d = q == 1;
        let at = |s: f64, o: &[f64], base: usize| {
            if one_d {
                (s, o[base])
            } else {
                (o[base + a], o[base + b])
            }
        };
        for (i, lane) in self.lanes.iter().enumerate() {
            let color = self.lane_color(i);
            fig.legend.push((self.lane_label(i), color));
            let head = lane
                .frame
                .as_ref()
                .filter(|_| lane.outputs.len() == info.qn)
                .map(|f| f.s);
            for (t, &j) in info.trail.iter().enumerate() {
                let mut pts: Vec<(f64, f64)> =
                    lane.trail.iter().map(|(s, o)| at(*s, o, t * q)).collect();
                if let Some(s) = head {
                    if lane.trail.last().is_none_or(|p| p.0 < s) {
                        pts.push(at(s, &lane.outputs, j * q));
                    }
                }
                fig.trails.push(Trail {
                    color,
                    points: decimate_path(&pts, MAX_TRAIL_POINTS),
                });
            }
        }
        if one_d {
            let s_end = self.s().max(info.every_s);
            for &j in &info.trail {
                fig.targets
                    .push((s_end, data.targets[info.labels[j]][0], String::new()));
            }
            fig.x_desc = "s".into();
            fig.y_desc = "output x_j(s); targets ×".into();
        } else {
            pair_axes(&mut fig, &data.targets, a, b);
        }
        fig
    }

    /// The spectrum figure of every flow.
    pub fn spectrum_figure(&self) -> SpectrumFigure {
        let mut fig = SpectrumFigure {
            s_max: self.s_axis(),
            ..SpectrumFigure::default()
        };
        let Some(info) = &self.info else { return fig };
        fig.full_rank = info.k.min(info.qn);
        for i in 0..self.lanes.len() {
            fig.lanes.push(SpectrumLane {
                label: self.lane_label(i),
                color: self.lane_color(i),
                rank: self.series(i, |p| p.rank as f64),
                lambda_min: self.series(i, |p| p.lambda_min),
                rho: self.series(i, |p| p.rho),
            });
        }
        fig
    }

    /// The decision-boundary figure of the focused flow (2-D inputs only; otherwise the points
    /// are absent and the caption says why).
    pub fn boundary_figure(&self) -> HeatmapFigure {
        let mut fig = HeatmapFigure {
            bounds: [-1.0, 1.0, -1.0, 1.0],
            raster: self.raster,
            ..HeatmapFigure::default()
        };
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return fig;
        };
        let Some(bounds) = info.bounds else {
            fig.title = format!(
                "the input plane needs M = 2 inputs; these data have M = {}",
                info.m
            );
            return fig;
        };
        fig.bounds = bounds;
        fig.points = data
            .inputs
            .iter()
            .zip(&info.labels)
            .map(|(x, &c)| (x[0], x[1], c))
            .collect();
        if let Some(h) = &self.heat {
            if h.header.bounds == bounds {
                fig.size = h.header.size;
                fig.cells = HeatmapFigure::colors(&h.values, info.q, &data.targets);
                let s = self.lane_frame(h.header.lane).map_or(0.0, |f| f.s);
                fig.title = format!("{} at s = {s:.2}", self.lane_label(h.header.lane));
            }
        }
        fig
    }

    /// The neural-collapse figure: one panel per flow, the reference rates `e^{−2s/N}` (variance)
    /// and `e^{−s/N}` (distance) on the adapted flow's panel while `rank D = QN` along its orbit
    /// (where they hold; otherwise its caption says so).
    pub fn collapse_figure(&self) -> CollapseFigure {
        let mut fig = CollapseFigure {
            s_max: self.s_axis(),
            ..CollapseFigure::default()
        };
        let Some(info) = &self.info else { return fig };
        let classes = info.classes.min(MAX_COLLAPSE_CLASSES);
        let weighted = info.cost == CostSpec::Weighted;
        for (i, lane) in self.lanes.iter().enumerate() {
            let adapted = info.lanes[i].choice == crate::run::lanes::FlowChoice::Adapted;
            let full = lane.samples.iter().all(|p| p.rank == info.qn);
            let mut panel = CollapsePanel {
                title: match (adapted, full) {
                    // Under the weighted cost each class has its own clock: no common line.
                    (true, true) if weighted => format!(
                        "{} (weighted cost: class j decays like e^(−2s/N_j))",
                        self.lane_label(i)
                    ),
                    (true, true) => format!("{} (grey: e^(−2s/N), e^(−s/N))", self.lane_label(i)),
                    (true, false) => {
                        format!("{} (rank D < QN: no uniform rate)", self.lane_label(i))
                    }
                    _ => self.lane_label(i),
                },
                ..CollapsePanel::default()
            };
            for c in 0..classes {
                panel.classes.push(ClassCurves {
                    label: format!("class {}", c + 1),
                    color: class_color(c),
                    variance: self.series(i, |p| p.class_spread[c].powi(2)),
                    distance: self.series(i, |p| p.class_mean_distance[c]),
                });
            }
            if let (true, true, false, Some(first)) =
                (adapted, full, weighted, lane.samples.first())
            {
                let v0 = first.class_spread[..classes]
                    .iter()
                    .map(|v| v * v)
                    .fold(0.0, f64::max);
                let d0 = first.class_mean_distance[..classes]
                    .iter()
                    .copied()
                    .fold(0.0, f64::max);
                panel.reference = Some((v0, d0, info.n));
            }
            fig.panels.push(panel);
        }
        fig
    }

    /// The singular spectrum of the focused flow: `σ_i/σ_max` for the values the samples carry.
    pub fn singular_figure(&self) -> SingularFigure {
        let mut fig = SingularFigure {
            s_max: self.s_axis(),
            rtol: 1e-10,
            ..SingularFigure::default()
        };
        let Some(info) = &self.info else { return fig };
        fig.rtol = info.rank_rtol;
        fig.full_rank = info.sv_total;
        let i = self.focus.min(self.lanes.len().saturating_sub(1));
        let Some(lane) = self.lanes.get(i) else {
            return fig;
        };
        fig.color = self.lane_color(i);
        let shown = if info.sv == info.sv_total {
            format!("all {}", info.sv)
        } else {
            format!("the {} smallest of {}", info.sv, info.sv_total)
        };
        fig.title = format!("{}: σi(D)/σmax, {shown}", self.lane_label(i));
        let pts = decimate(
            &lane
                .samples
                .iter()
                .enumerate()
                .map(|(k, p)| (p.s, k as f64))
                .collect::<Vec<_>>(),
            // Up to 32 curves: half the points of a single curve each keeps the draw cheap.
            MAX_CURVE_POINTS / 2,
        );
        for k in 0..info.sv {
            fig.sigmas.push(
                pts.iter()
                    .map(|&(s, idx)| {
                        let p = &lane.samples[idx as usize];
                        let v = p
                            .singular_values
                            .as_deref()
                            .and_then(|sv| sv.get(k).copied())
                            .unwrap_or(f64::NAN);
                        (
                            s,
                            if p.sigma_max > 0.0 {
                                v / p.sigma_max
                            } else {
                                0.0
                            },
                        )
                    })
                    .collect(),
            );
        }
        fig.rank = self.series(i, |p| p.rank as f64);
        fig.escapes = lane
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Escape(_)))
            .map(|e| e.s)
            .collect();
        fig
    }

    /// The outputs of every flow against `t = 1 − e^{−s/N}` (the first coordinate of the chosen
    /// pair) with the straight interpolations, and each flow's relative distance from them over
    /// the recorded trail samples. Under the weighted cost each sample is drawn against its own
    /// class clock `t_j = 1 − e^{−2s/N_j}`, where its straight line holds, and the deviation
    /// against the slowest clock.
    pub fn reparam_figure(&self) -> ReparamFigure {
        let mut fig = ReparamFigure::default();
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return fig;
        };
        let (q, a) = (info.q, self.pair.0);
        let drawn: Vec<usize> = (0..info.trail.len())
            .step_by(info.trail.len().div_ceil(MAX_REPARAM_PATHS).max(1))
            .collect();
        let x0 = &data.outputs0;
        for &t in &drawn {
            let j = info.trail[t];
            let y = data.targets[info.labels[j]][a];
            fig.straight.push(((0.0, x0[j * q + a]), (1.0, y)));
        }
        fig.y_desc = format!("output coordinate {}", a + 1);
        for (i, lane) in self.lanes.iter().enumerate() {
            let tt = |s: f64, j: usize| 1.0 - (-s * self.output_rate(j)).exp();
            let paths = drawn
                .iter()
                .map(|&t| {
                    let j = info.trail[t];
                    let pts: Vec<(f64, f64)> = lane
                        .trail
                        .iter()
                        .map(|(s, o)| (tt(*s, j), o[t * q + a]))
                        .collect();
                    decimate_path(&pts, MAX_TRAIL_POINTS)
                })
                .collect();
            let dev: Vec<(f64, f64)> = lane
                .trail
                .iter()
                .map(|(s, o)| (1.0 - (-s * self.slowest_rate()).exp(), self.off_line(*s, o)))
                .collect();
            fig.lanes.push(ReparamLane {
                label: self.lane_label(i),
                color: self.lane_color(i),
                paths,
                deviation: decimate(&dev, MAX_CURVE_POINTS),
            });
        }
        fig
    }

    /// `|x̲_T(s) − ((1−t)x̲_T(0) + t·y̲_T)| / |x̲_T(0) − y̲_T|` over the trail samples `T`, with
    /// each sample's clock `t_j = 1 − e^{−w_j s}` (`w_j = 1/N` for the mean cost, `2/N_ω(j)` for
    /// the weighted one: see [`Board::output_rate`]) and `o` the trail point's outputs.
    pub(super) fn off_line(&self, s: f64, o: &[f64]) -> f64 {
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return f64::NAN;
        };
        let q = info.q;
        let (mut num, mut den) = (0.0, 0.0);
        for (k, &j) in info.trail.iter().enumerate() {
            let t = 1.0 - (-s * self.output_rate(j)).exp();
            let y = &data.targets[info.labels[j]];
            for c in 0..q {
                let x0 = data.outputs0[j * q + c];
                let line = (1.0 - t) * x0 + t * y[c];
                num += (o[k * q + c] - line).powi(2);
                den += (x0 - y[c]).powi(2);
            }
        }
        if den > 0.0 {
            (num / den).sqrt()
        } else {
            0.0
        }
    }

    /// The homotopy family's output trails, one colour per `α` (standard at 0, adapted at 1).
    pub fn homotopy_figure(&self) -> OutputsFigure {
        let mut fig = OutputsFigure::default();
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return fig;
        };
        let q = info.q;
        let (a, b) = self.pair;
        if let Some(fam) = &self.family {
            if let Some(h) = &fam.header {
                for (m, trail) in h.members.iter().zip(&fam.trails) {
                    let color = alpha_color(m.alpha);
                    fig.legend.push((alpha_label(m.alpha), color));
                    for t in 0..h.samples.len() {
                        let pts: Vec<(f64, f64)> = trail
                            .iter()
                            .map(|(s, o)| {
                                if q == 1 {
                                    (*s, o[t])
                                } else {
                                    (o[t * q + a], o[t * q + b])
                                }
                            })
                            .collect();
                        fig.trails.push(Trail {
                            color,
                            points: decimate_path(&pts, MAX_TRAIL_POINTS),
                        });
                    }
                }
            }
        }
        if q == 1 {
            fig.x_desc = "s".into();
            fig.y_desc = "output x_j(s)".into();
        } else {
            pair_axes(&mut fig, &data.targets, a, b);
        }
        fig
    }

    /// The cost slice of the critical panel.
    pub fn slice_figure(&self) -> SliceFigure {
        let Some((r, costs)) = &self.critical else {
            return SliceFigure {
                half: 1.0,
                title: "no rest point inspected yet".into(),
                x_desc: "a (normal)".into(),
                y_desc: "b (tangent)".into(),
                ..SliceFigure::default()
            };
        };
        SliceFigure {
            half: r.slice.half,
            size: r.slice.size,
            costs: costs.clone(),
            center_cost: r.slice.center_cost,
            end: r.escape.as_ref().map(|e| (e.end[0], e.end[1])),
            title: format!(
                "C around θ* ({}, s = {}), C(θ*) = {}",
                self.lane_label(r.lane),
                fmt_g(r.s_star),
                fmt_e(r.cost)
            ),
            x_desc: if r.escape.is_some() {
                "a: along the escape direction (normal)".into()
            } else {
                "a: along a normal of M_crit".into()
            },
            y_desc: "b: along M_crit (tangent)".into(),
        }
    }

    /// Positions of the layer stepper (data stages, then the output layer); 0 without a
    /// construction.
    pub fn layer_positions(&self) -> usize {
        self.construction
            .as_ref()
            .filter(|(r, _)| r.stages > 0)
            .map_or(0, |(r, _)| r.stages + 1)
    }

    /// Sets the layer view's position: `l` shows the data after `l` hidden layers, the last
    /// position the output layer; fractions in between move the collapsing class towards its
    /// collapse point (the animation).
    pub fn set_stage(&mut self, position: f64) {
        self.stage = if position.is_finite() {
            position.max(0.0)
        } else {
            0.0
        };
    }

    /// The stage points of the construction: `stage[l][j]` in the plane (first two layer
    /// coordinates), and the outputs `x_j(θ_c)`.
    fn construction_points(&self) -> Option<(Vec<Stage>, Vec<Vec<f64>>)> {
        let (r, bulk) = self.construction.as_ref()?;
        if r.stages == 0 {
            return None;
        }
        let d = r.layer_dim;
        let stages = (0..r.stages)
            .map(|l| {
                (0..r.n)
                    .map(|j| {
                        let p = &bulk[(l * r.n + j) * d..(l * r.n + j + 1) * d];
                        (p[0], p.get(1).copied().unwrap_or(0.0))
                    })
                    .collect()
            })
            .collect();
        let off = r.stages * r.n * d;
        let outputs = (0..r.n)
            .map(|j| bulk[off + j * r.q..off + (j + 1) * r.q].to_vec())
            .collect();
        Some((stages, outputs))
    }

    /// The layer view at the current position.
    pub fn layers_figure(&self) -> LayersFigure {
        let mut fig = LayersFigure {
            bounds: [-1.0, 1.0, -1.0, 1.0],
            ..LayersFigure::default()
        };
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return fig;
        };
        let Some((r, _)) = &self.construction else {
            fig.title = "no construction yet".into();
            return fig;
        };
        let Some((stages, outputs)) = self.construction_points() else {
            fig.title = "no construction for these data (see the panel)".into();
            return fig;
        };
        let last = r.stages; // the output layer's position
        let pos = self.stage.min(last as f64);
        let l = pos.floor() as usize;
        let tau = pos - l as f64;
        if l >= last {
            let (a, b) = if r.q >= 2 { self.pair } else { (0, 0) };
            let at = |o: &Vec<f64>| {
                (
                    o[a.min(r.q - 1)],
                    if r.q >= 2 { o[b.min(r.q - 1)] } else { 0.0 },
                )
            };
            fig.points = outputs
                .iter()
                .zip(&info.labels)
                .map(|(o, &c)| {
                    let (x, y) = at(o);
                    (x, y, c)
                })
                .collect();
            for (c, y) in data.targets.iter().enumerate().take(16) {
                let (x, yy) = at(y);
                fig.targets.push((x, yy, format!(" y{}", c + 1)));
            }
            let (x0, x1) = lin_range(
                fig.points
                    .iter()
                    .map(|p| p.0)
                    .chain(fig.targets.iter().map(|t| t.0)),
                0.15,
            );
            let (y0, y1) = lin_range(
                fig.points
                    .iter()
                    .map(|p| p.1)
                    .chain(fig.targets.iter().map(|t| t.1)),
                0.15,
            );
            fig.bounds = [x0, x1, y0, y1];
            fig.title = format!(
                "output layer: the {} collapse points land on y1…y{} (C = {})",
                r.cuts.len(),
                r.classes,
                r.cost.map_or("?".into(), fmt_s)
            );
            fig.probe = self.probe_at(last, 0.0);
            fig.x_desc = format!("output coordinate {}", a + 1);
            fig.y_desc = if r.q >= 2 {
                format!("output coordinate {}", b + 1)
            } else {
                String::new()
            };
            return fig;
        }
        let from = &stages[l];
        let to = &stages[(l + 1).min(stages.len() - 1)];
        let t = if l + 1 < stages.len() { tau } else { 0.0 };
        fig.points = from
            .iter()
            .zip(to)
            .zip(&info.labels)
            .map(|((p, q), &c)| (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1), c))
            .collect();
        fig.collapsed = r.cuts[..l]
            .iter()
            .map(|cut| {
                (
                    cut.apex[0],
                    cut.apex.get(1).copied().unwrap_or(0.0),
                    cut.class,
                )
            })
            .collect();
        if r.layer_dim == 2 {
            if let Some(cut) = r.cuts.get(l) {
                fig.cut = Some((cut.normal[0], cut.normal[1], cut.offset, cut.class));
            }
        }
        fig.probe = self.probe_at(l, t);
        let all = stages.iter().flatten();
        let (x0, x1) = lin_range(all.clone().map(|p| p.0), 0.08);
        let (y0, y1) = lin_range(all.map(|p| p.1), 0.08);
        fig.bounds = [x0, x1, y0, y1];
        let plane = if r.layer_dim > 2 {
            format!(" (first 2 of M' = {} coordinates)", r.layer_dim)
        } else {
            String::new()
        };
        fig.title = if l == 0 {
            format!("stage 0: the inputs{plane}")
        } else {
            format!(
                "stage {l}: after hidden layer {l}, class {} is one point{plane}",
                r.cuts[l - 1].class + 1
            )
        };
        fig.x_desc = "layer coordinate 1".into();
        fig.y_desc = "layer coordinate 2".into();
        fig
    }
}
