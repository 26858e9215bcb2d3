//! What the page shows: the history of a comparison as it arrives from the worker, turned into
//! the five figures, hover readouts, and the cost curves as CSV.
//!
//! The page's drawing module keeps one [`Board`], feeds it [`RunInfo`]s and frames (header plus
//! bulk), and asks it to draw a view on a canvas. Everything here is plain data, so the figures
//! and readouts are tested natively against SVG.

use crate::app::inspect::{check_construction_bulk, ConstructionReport, CriticalReport};
use crate::app::protocol::{
    FamilyHeader, FrameHeader, HeatGrid, LaneFrame, RunData, RunInfo, TrailPoints,
};
use crate::app::view::View;
use crate::error::{Error, Result};
use crate::math::critical::PointKind;
use crate::math::diagnostics::Sample;
use crate::plot::collapse::{ClassCurves, CollapseFigure, CollapsePanel};
use crate::plot::cost::CostFigure;
use crate::plot::heatmap::HeatmapFigure;
use crate::plot::layers::LayersFigure;
use crate::plot::outputs::{OutputsFigure, Trail};
use crate::plot::reparam::{ReparamFigure, ReparamLane};
use crate::plot::singular::SingularFigure;
use crate::plot::slice::SliceFigure;
use crate::plot::spectrum::{SpectrumFigure, SpectrumLane};
use crate::plot::{
    alpha_color, class_color, decimate, decimate_path, flow_color, lin_range, Geom, Look, Series,
    PALETTE,
};
use crate::run::event::{Event, EventKind};
use crate::run::session::Status;
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, RGBColor};
use serde::{Deserialize, Serialize};

/// Most points drawn per curve.
pub const MAX_CURVE_POINTS: usize = 400;
/// Most points drawn per output trail.
pub const MAX_TRAIL_POINTS: usize = 120;
/// Most classes drawn on the neural-collapse figure.
pub const MAX_COLLAPSE_CLASSES: usize = 8;

/// Below this, `max_β |V_β|/|V_β(θ₀)|` at a rest point counts as "every field vanishes" (the
/// flows stop at `μ ≤ 1e-9`, which leaves ratios of about 1e-9 … 1e-6).
pub const FIELDS_VANISH: f64 = 1e-5;

/// The data at one stage of the construction, as points in the plane.
type Stage = Vec<(f64, f64)>;

/// Most trail paths per flow drawn against `t` (the deviation uses every recorded sample).
pub const MAX_REPARAM_PATHS: usize = 16;

#[derive(Debug, Clone, Default)]
struct LaneHistory {
    frame: Option<LaneFrame>,
    outputs: Vec<f64>,
    samples: Vec<Sample>,
    trail: Vec<(f64, Vec<f64>)>,
    events: Vec<Event>,
}

#[derive(Debug, Clone, Default)]
struct FamilyHistory {
    header: Option<FamilyHeader>,
    trails: Vec<TrailPoints>,
}

/// The page's picture of one comparison.
#[derive(Debug, Clone, Default)]
pub struct Board {
    info: Option<RunInfo>,
    data: Option<RunData>,
    lanes: Vec<LaneHistory>,
    heat: Option<HeatGrid>,
    pair: (usize, usize),
    focus: usize,
    geoms: [Option<Geom>; 10],
    collapse_geoms: Vec<Geom>,
    critical: Option<(CriticalReport, Vec<f64>)>,
    construction: Option<(ConstructionReport, Vec<f64>)>,
    stage: f64,
    family: Option<FamilyHistory>,
}

/// One number of a panel, with its label and its text as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readout {
    /// Stable key (the page's `data-testid` is `readout-<key>`).
    pub key: String,
    /// What it is.
    pub label: String,
    /// The value as shown.
    pub text: String,
    /// The value itself (NaN when not a number).
    pub value: f64,
}

fn readout(key: &str, label: &str, text: String, value: f64) -> Readout {
    Readout {
        key: key.into(),
        label: label.into(),
        text,
        value,
    }
}

/// The critical-submanifold panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalPanel {
    /// The lane the panel describes.
    pub lane: usize,
    /// Heading.
    pub title: String,
    /// What the point is, in the paper's terms.
    pub verdict: String,
    /// The numbers.
    pub readouts: Vec<Readout>,
    /// What an escape did or would do here.
    pub escape: String,
    /// What the slice shows.
    pub slice: String,
    /// Whether the Escape button applies: the lane is not moving, `∇ₓC ≠ 0`, the Hessian curves
    /// down along a normal, and no escape was attempted from this point yet.
    pub can_escape: bool,
}

/// One row of the constructive panel's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// Which network or flow.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// `C`, as shown (fixed six decimals: the construction's `C` reads as 0).
    pub cost: String,
    /// `C` itself.
    pub cost_value: f64,
    /// `(N/2)|𝒫⊥∇ₓC|²` as shown.
    pub perp: String,
    /// `rank D`.
    pub rank: String,
    /// `rank 𝒫⊥ = QN − rank D`.
    pub perp_rank: String,
    /// `running`, `stationary`, … (`constructed` for the construction).
    pub status: String,
}

/// The constructive-minimizer panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstructPanel {
    /// Whether the loaded network is the constructive architecture.
    pub fits: bool,
    /// The widths the construction needs, as `net=` writes them (hidden layers only).
    pub hidden: String,
    /// Architecture and regime, in words.
    pub architecture: String,
    /// What the comparison shows (Thm 5.1).
    pub verdict: String,
    /// The numbers.
    pub readouts: Vec<Readout>,
    /// The construction and every flow, side by side.
    pub rows: Vec<CompareRow>,
    /// Positions of the layer stepper: `stages` data stages and the output layer.
    pub positions: usize,
    /// The current position (rounded).
    pub position: usize,
    /// What the layer view shows at the current position.
    pub stage: String,
}

/// One member of the homotopy family's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyRow {
    /// `α`.
    pub alpha: f64,
    /// Legend text.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// `s`, as shown.
    pub s: String,
    /// `C`, as shown.
    pub cost: String,
    /// Status name.
    pub status: String,
    /// `max_β |V_β(θ_end)| / |V_β(θ₀)|` at its end point, as shown (empty while it runs).
    pub fields: String,
}

/// The homotopy panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyPanel {
    /// One row per `α`.
    pub rows: Vec<FamilyRow>,
    /// What the end points show.
    pub verdict: String,
}

/// The reparametrization panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReparamPanel {
    /// Per flow: the largest relative distance from the straight interpolation so far.
    pub readouts: Vec<Readout>,
    /// What it shows.
    pub verdict: String,
}

fn fmt_e(v: f64) -> String {
    format!("{v:.4e}")
}

fn fmt_s(v: f64) -> String {
    format!("{v:.2e}")
}

/// Legend text of the homotopy flow `α`.
pub fn alpha_label(alpha: f64) -> String {
    if alpha == 0.0 {
        "α = 0 (standard)".into()
    } else if alpha == 1.0 {
        "α = 1 (adapted)".into()
    } else {
        format!("α = {alpha}")
    }
}

fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn fmt_g(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e4) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

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
    /// An empty board.
    pub fn new() -> Board {
        Board {
            pair: (0, 1),
            ..Board::default()
        }
    }

    /// Starts over with a newly loaded comparison (its info and data bulk).
    ///
    /// Errors: a data bulk that does not match the info.
    pub fn load(&mut self, info: RunInfo, bulk: &[f64]) -> Result<()> {
        let data = info.decode(bulk)?;
        self.lanes = vec![LaneHistory::default(); info.lanes.len()];
        self.heat = None;
        self.critical = None;
        self.construction = None;
        self.family = None;
        // Geometries stay: until redrawn, the canvases still show where the old ones say, and a
        // click or hover right after a load must map through what is on screen.
        if self.focus >= info.lanes.len() {
            self.focus = 0;
        }
        let q = info.q;
        if self.pair.0 >= q || self.pair.1 >= q || self.pair.0 == self.pair.1 {
            self.pair = (0, 1.min(q.saturating_sub(1)));
        }
        self.info = Some(info);
        self.data = Some(data);
        Ok(())
    }

    /// The loaded comparison's info.
    pub fn info(&self) -> Option<&RunInfo> {
        self.info.as_ref()
    }

    /// Adds a frame. Returns `false` (and changes nothing) when the frame belongs to an older
    /// load than the board's.
    ///
    /// Errors: nothing loaded, or a bulk that does not match the header.
    pub fn apply(&mut self, header: &FrameHeader, bulk: &[f64]) -> Result<bool> {
        let info = self
            .info
            .as_ref()
            .ok_or_else(|| Error::State("a frame arrived before any load".into()))?;
        if header.epoch != info.epoch {
            return Ok(false);
        }
        let data = header.decode(info, bulk)?;
        for ((hist, lf), upd) in self.lanes.iter_mut().zip(&header.lanes).zip(data.lanes) {
            hist.frame = Some(lf.clone());
            hist.outputs = upd.outputs;
            hist.samples.extend(upd.samples);
            hist.trail.extend(upd.trail);
            hist.events.extend(lf.events.iter().cloned());
        }
        if let Some(h) = data.heat {
            self.heat = Some(h);
        }
        Ok(true)
    }

    /// Chooses which two output coordinates the output figure shows when `Q > 2`.
    ///
    /// Errors: coordinates out of range or equal (`pair`).
    pub fn set_pair(&mut self, a: usize, b: usize) -> Result<()> {
        if let Some(info) = &self.info {
            if a >= info.q || b >= info.q || (a == b && info.q > 1) {
                return Err(Error::invalid(
                    "pair",
                    format!("needs two different coordinates below Q = {}", info.q),
                ));
            }
        }
        self.pair = (a, b);
        Ok(())
    }

    /// Chooses the flow whose data the boundary and collapse figures show.
    pub fn set_focus(&mut self, lane: usize) {
        self.focus = lane;
    }

    /// The samples of lane `i` received so far.
    pub fn samples(&self, i: usize) -> &[Sample] {
        self.lanes.get(i).map_or(&[], |l| &l.samples)
    }

    /// The latest frame of lane `i`.
    pub fn lane_frame(&self, i: usize) -> Option<&LaneFrame> {
        self.lanes.get(i).and_then(|l| l.frame.as_ref())
    }

    fn lane_color(&self, i: usize) -> RGBColor {
        self.info.as_ref().map_or(PALETTE[0], |info| {
            flow_color(info.lanes[i].choice.color_index())
        })
    }

    fn lane_label(&self, i: usize) -> String {
        self.info
            .as_ref()
            .map_or_else(String::new, |info| info.lanes[i].label.clone())
    }

    /// The furthest `s` any lane has reached.
    pub fn s(&self) -> f64 {
        self.lanes
            .iter()
            .filter_map(|l| l.frame.as_ref().map(|f| f.s))
            .fold(0.0, f64::max)
    }

    /// Right end of the time axes: the predicted stopping time when there is one, else a tenth of
    /// `s_max`, grown as the run passes it, never beyond `s_max`.
    pub fn s_axis(&self) -> f64 {
        let Some(info) = &self.info else { return 1.0 };
        let s = self.s();
        let base = match info.predicted {
            Some(p) if p > 0.0 => p * 1.08,
            _ => info.s_max / 10.0,
        };
        let grow = if s > 0.9 * base { s * 1.25 } else { base };
        grow.max(base).min(info.s_max).max(info.every_s)
    }

    fn series(&self, i: usize, f: impl Fn(&Sample) -> f64) -> Vec<(f64, f64)> {
        let pts: Vec<(f64, f64)> = self.lanes[i].samples.iter().map(|p| (p.s, f(p))).collect();
        decimate(&pts, MAX_CURVE_POINTS)
    }

    /// The cost figure: every flow, the theory line and the stopping times.
    pub fn cost_figure(&self) -> CostFigure {
        let mut fig = CostFigure {
            s_max: self.s_axis(),
            ..CostFigure::default()
        };
        let Some(info) = &self.info else { return fig };
        fig.theory = Some((info.c0, info.n));
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

    /// The output figure: the trails of the recorded samples ([`RunInfo::trail`]) per flow in
    /// the chosen pair of coordinates (`Q ≥ 2`), or against `s` (`Q = 1`), each ending at the
    /// current output.
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
        for (i, lane) in self.lanes.iter().enumerate() {
            let adapted = info.lanes[i].choice == crate::run::lanes::FlowChoice::Adapted;
            let full = lane.samples.iter().all(|p| p.rank == info.qn);
            let mut panel = CollapsePanel {
                title: match (adapted, full) {
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
            if let (true, true, Some(first)) = (adapted, full, lane.samples.first()) {
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
    /// the recorded trail samples.
    pub fn reparam_figure(&self) -> ReparamFigure {
        let mut fig = ReparamFigure::default();
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return fig;
        };
        let (q, a, n) = (info.q, self.pair.0, info.n as f64);
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
            let tt = |s: f64| 1.0 - (-s / n).exp();
            let paths = drawn
                .iter()
                .map(|&t| {
                    let pts: Vec<(f64, f64)> = lane
                        .trail
                        .iter()
                        .map(|(s, o)| (tt(*s), o[t * q + a]))
                        .collect();
                    decimate_path(&pts, MAX_TRAIL_POINTS)
                })
                .collect();
            let dev: Vec<(f64, f64)> = lane
                .trail
                .iter()
                .map(|(s, o)| (tt(*s), self.off_line(*s, o)))
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
    /// `t = 1 − e^{−s/N}` and `o` the trail point's outputs.
    fn off_line(&self, s: f64, o: &[f64]) -> f64 {
        let (Some(info), Some(data)) = (&self.info, &self.data) else {
            return f64::NAN;
        };
        let q = info.q;
        let t = 1.0 - (-s / info.n as f64).exp();
        let (mut num, mut den) = (0.0, 0.0);
        for (k, &j) in info.trail.iter().enumerate() {
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

    /// Takes a critical panel from the worker (`critical` message). Returns `false` (and changes
    /// nothing) when it belongs to an older load.
    ///
    /// Errors: a bulk of the wrong length.
    pub fn apply_critical(&mut self, report: CriticalReport, bulk: &[f64]) -> Result<bool> {
        if self.info.as_ref().is_none_or(|i| i.epoch != report.epoch) {
            return Ok(false);
        }
        let want = report.slice.size * report.slice.size;
        if bulk.len() != want || report.lane >= self.lanes.len() {
            return Err(Error::invalid(
                "bulk",
                format!(
                    "expected {want} costs for lane {}, got {}",
                    report.lane,
                    bulk.len()
                ),
            ));
        }
        self.critical = Some((report, bulk.to_vec()));
        Ok(true)
    }

    /// Takes a construction from the worker (`construction` message); `false` when stale.
    ///
    /// Errors: a bulk of the wrong length.
    pub fn apply_construction(&mut self, report: ConstructionReport, bulk: &[f64]) -> Result<bool> {
        if self.info.as_ref().is_none_or(|i| i.epoch != report.epoch) {
            return Ok(false);
        }
        check_construction_bulk(&report, bulk)?;
        self.construction = Some((report, bulk.to_vec()));
        Ok(true)
    }

    /// Adds a homotopy family message; `false` when stale.
    ///
    /// Errors: a bulk of the wrong length.
    pub fn apply_family(&mut self, header: FamilyHeader, bulk: &[f64]) -> Result<bool> {
        let Some(info) = &self.info else {
            return Ok(false);
        };
        if info.epoch != header.epoch {
            return Ok(false);
        }
        let points = header.decode(info.q, bulk)?;
        let fam = self.family.get_or_insert_with(FamilyHistory::default);
        let same = fam.header.as_ref().is_some_and(|h| {
            h.members.len() == header.members.len()
                && h.members
                    .iter()
                    .zip(&header.members)
                    .all(|(a, b)| a.alpha == b.alpha)
        });
        if !same {
            fam.trails = vec![vec![]; header.members.len()];
        }
        for (t, p) in fam.trails.iter_mut().zip(points) {
            t.extend(p);
        }
        fam.header = Some(header);
        Ok(true)
    }

    /// Forgets the homotopy family (the page turned it off).
    pub fn clear_family(&mut self) {
        self.family = None;
    }

    /// The critical report shown, if any.
    pub fn critical_report(&self) -> Option<&CriticalReport> {
        self.critical.as_ref().map(|(r, _)| r)
    }

    /// The critical panel's text, once a report has arrived.
    pub fn critical_panel(&self) -> Option<CriticalPanel> {
        let (r, costs) = self.critical.as_ref()?;
        let info = self.info.as_ref()?;
        let label = self.lane_label(r.lane);
        let full = r.k.min(r.qn);
        let ratio = if r.grad_x_norm > 0.0 {
            r.proj_grad_norm / r.grad_x_norm
        } else {
            0.0
        };
        let verdict = match r.kind {
            PointKind::RankLossEquilibrium => format!(
                "θ* is a rank-loss equilibrium (Lemma 3.2, Thm 4.2): rank D = {} < QN = {} and \
                 |𝒫∇ₓC| = {} ≤ {:.0e}·|∇ₓC| while ∇ₓC ≠ 0, so the standard and the adapted flow \
                 are both at rest at C = {} > 0. The points where g_α = ∂C/∂θ_α = 0 for {} \
                 independent columns of D form M_crit, of dimension {}; only a jump leaves it: \
                 the escape along its normal bundle (4.15)–(4.17).",
                r.rank,
                r.qn,
                fmt_s(r.proj_grad_norm),
                r.equilibrium_rtol,
                fmt_g(r.cost),
                r.rank,
                if r.normal_rank == r.rank {
                    format!("K − r = {}", r.dimension)
                } else {
                    format!(
                        "K − {} = {} (the normals ∇θ g_α have rank {} < r)",
                        r.normal_rank, r.dimension, r.normal_rank
                    )
                }
            ),
            PointKind::ConstrainedEquilibrium => format!(
                "θ* is an underparametrized rest point (Thm 5.1), not a rank loss: rank D = K = {} \
                 < QN = {} (full column rank), 𝒫∇ₓC ≈ 0, and C = (N/2)|𝒫⊥∇ₓC|² = {} > 0.",
                r.k,
                r.qn,
                fmt_g(r.cost)
            ),
            PointKind::Trapping => format!(
                "θ is in a trapping region (Prop 3.1): rank D = QN = {} but ρ = |Dᵀ∇ₓC|/|∇ₓC| = {} \
                 is small, so the standard flow crawls; the adapted flow moves the outputs at full \
                 speed. Not an equilibrium.",
                r.qn,
                fmt_s(r.rho)
            ),
            PointKind::RankLoss => format!(
                "rank D = {} < min(K, QN) = {full} but |𝒫∇ₓC|/|∇ₓC| = {} is not small: the \
                 adapted flow is the DAE (4.5) and still moves. Not an equilibrium.",
                r.rank,
                fmt_s(ratio)
            ),
            PointKind::Regular => format!(
                "θ is a regular point: rank D = {} = min(K, QN), |𝒫∇ₓC|/|∇ₓC| = {}: no flow is \
                 at rest here.",
                r.rank,
                fmt_s(ratio)
            ),
            PointKind::GlobalMinimum => {
                "∇ₓC = 0: the outputs hit their targets, a global minimum.".into()
            }
        };
        let mut readouts = vec![
            readout(
                "rank",
                "r = rank D",
                format!("{} of QN = {}", r.rank, r.qn),
                r.rank as f64,
            ),
            readout(
                "dimension",
                "dim M_crit = K − r",
                if r.normal_rank == r.rank {
                    format!("{} − {} = {}", r.k, r.rank, r.dimension)
                } else {
                    format!(
                        "{} − {} = {} (the normals have rank {} < r)",
                        r.k, r.normal_rank, r.dimension, r.normal_rank
                    )
                },
                r.dimension as f64,
            ),
            readout("proj", "|𝒫∇ₓC|", fmt_s(r.proj_grad_norm), r.proj_grad_norm),
            readout("grad", "|∇ₓC|", fmt_s(r.grad_x_norm), r.grad_x_norm),
            readout("cost", "C(θ*)", fmt_e(r.cost), r.cost),
        ];
        if let Some(l) = r.rayleigh_min {
            readouts.push(readout(
                "rayleigh",
                "least Rayleigh quotient of H on span{∇θ g_α}",
                format!(
                    "{} ({} negative of {})",
                    fmt_s(l),
                    r.rayleigh_negative,
                    r.normal_rank
                ),
                l,
            ));
        }
        let escape = if let Some(e) = &r.escape {
            format!(
                "Escape at s = {}: C {} → {} (ratio {:.4}) along the normal of least Rayleigh \
                 quotient {}, step {} after {} trial(s); the arrow on the slice runs from θ* \
                 (circle) to θ₀' (triangle) at a = {:.3}.",
                fmt_g(e.s),
                fmt_e(e.cost_before),
                fmt_e(e.cost_after),
                e.cost_after / e.cost_before,
                fmt_s(e.rayleigh),
                fmt_g(e.step),
                e.trials,
                e.end[0]
            )
        } else if let Some(m) = &r.no_escape {
            format!("No escape: {m}")
        } else {
            match r.rayleigh_min {
                Some(l) if l < 0.0 && r.grad_x_norm > 0.0 => format!(
                    "The Hessian has negative curvature {} on the normal bundle: a step along that \
                     normal lowers C at second order (½λt²). Escape takes it.",
                    fmt_s(l)
                ),
                Some(_) => "The Hessian is positive semidefinite on the normal bundle: no normal \
                            perturbation lowers C at second order (M_crit is transversally \
                            minimal here)."
                    .into(),
                None => "D = 0: there is no normal bundle.".into(),
            }
        };
        let (lo, hi) = costs
            .iter()
            .filter(|c| c.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &c| {
                (a.min(c), b.max(c))
            });
        let slice = format!(
            "C(θ* + a·u + b·w) on a {n}×{n} grid, |a|, |b| ≤ {}: u = {}, w = {}. Blue: C < C(θ*) \
             (down to {}), vermillion: C > C(θ*) (up to {}), white: C = C(θ*).",
            fmt_g(r.slice.half),
            r.slice.u,
            r.slice.w,
            fmt_e(lo),
            fmt_e(hi),
            n = r.slice.size
        );
        let moving = self
            .lane_frame(r.lane)
            .is_some_and(|f| f.status == Status::Running && f.s > r.s_star);
        let _ = info;
        Some(CriticalPanel {
            lane: r.lane,
            title: format!("Critical submanifold: {label} at s = {}", fmt_g(r.s_star)),
            verdict,
            readouts,
            escape,
            slice,
            // Only where a normal direction curves down and no attempt has been made here yet:
            // elsewhere the core would answer no_escape, which the panel already says.
            can_escape: r.grad_x_norm > 0.0
                && !moving
                && r.escape.is_none()
                && r.no_escape.is_none()
                && r.rayleigh_min.is_some_and(|l| l < 0.0),
        })
    }

    /// The constructive panel's text, once a construction has arrived.
    pub fn construct_panel(&self) -> Option<ConstructPanel> {
        let (r, _) = self.construction.as_ref()?;
        let info = self.info.as_ref()?;
        let hidden: Vec<String> = r.needed[1..r.needed.len() - 1]
            .iter()
            .map(|w| w.to_string())
            .collect();
        let rel = |k: usize, qn: usize| match k.cmp(&qn) {
            std::cmp::Ordering::Less => "<",
            std::cmp::Ordering::Equal => "=",
            std::cmp::Ordering::Greater => ">",
        };
        let architecture = if r.fits {
            format!(
                "The loaded network is the constructive architecture: ReLU, widths {:?}, K = {} {} \
                 QN = {}.",
                r.needed,
                r.k,
                rel(r.k, r.qn),
                r.qn
            )
        } else {
            format!(
                "The construction needs ReLU and widths {:?} (K = {} {} QN = {}); the loaded \
                 network is {} with widths {:?}, so the flows below move in another parameter \
                 space. Use the constructive architecture to compare them on the same one.",
                r.needed,
                r.k,
                rel(r.k, r.qn),
                r.qn,
                r.activation,
                r.current
            )
        };
        let mut readouts = vec![
            readout("k", "K (constructive network)", r.k.to_string(), r.k as f64),
            readout("qn", "QN", r.qn.to_string(), r.qn as f64),
        ];
        let mut rows = vec![];
        if let Some(c) = r.cost {
            readouts.push(readout("construct-cost", "C(θ_c)", format!("{c:.6}"), c));
            let rank = r.rank.unwrap_or(0);
            readouts.push(readout(
                "construct-rank",
                "rank D[θ_c]",
                format!("{rank} (rank 𝒫⊥ = {})", r.qn - rank.min(r.qn)),
                rank as f64,
            ));
            rows.push(CompareRow {
                label: "constructive θ_c".into(),
                color: "#000000".into(),
                cost: format!("{c:.6}"),
                cost_value: c,
                perp: format!("{c:.6}"),
                rank: rank.to_string(),
                perp_rank: (r.qn - rank.min(r.qn)).to_string(),
                status: "constructed".into(),
            });
        }
        if r.fits {
            for (i, lane) in self.lanes.iter().enumerate() {
                let (Some(f), Some(p)) = (&lane.frame, lane.samples.last()) else {
                    continue;
                };
                rows.push(CompareRow {
                    label: self.lane_label(i),
                    color: info.lanes[i].color.clone(),
                    cost: format!("{:.6}", f.cost),
                    cost_value: f.cost,
                    perp: format!("{:.6}", p.perp_cost),
                    rank: p.rank.to_string(),
                    perp_rank: (info.qn - p.rank.min(info.qn)).to_string(),
                    status: f.status.name().into(),
                });
            }
        }
        let verdict = match (&r.error, r.cost) {
            (Some(e), _) => format!("No construction: {e}"),
            (None, Some(c)) => {
                let floor = rows
                    .iter()
                    .skip(1)
                    .map(|row| row.cost_value)
                    .fold(f64::INFINITY, f64::min);
                let mut v = format!(
                    "θ_c collapses one class per hidden layer and sends the {} collapse points to \
                     y1…y{}: C(θ_c) = {} (rounding), with K = {} {} QN = {}.",
                    r.classes,
                    r.classes,
                    fmt_s(c),
                    r.k,
                    rel(r.k, r.qn),
                    r.qn
                );
                if floor.is_finite() && info.c0 <= 1e-12 {
                    v.push_str(&format!(
                        " The flows start at θ_c itself (this scenario's init is the \
                         construction, C(0) = {}) and stay there: a zero-cost minimizer is a \
                         rest point of every flow. Start them at random (preset \
                         non-approximability) to see them stall above it.",
                        fmt_s(info.c0)
                    ));
                } else if floor.is_finite() && floor <= 1e-9 {
                    v.push_str(&format!(
                        " A flow has reached C = {} here: Thm 5.1 says that underparametrized rest \
                         points generically have C > 0, not that every orbit avoids zero.",
                        fmt_s(floor)
                    ));
                } else if floor.is_finite() {
                    v.push_str(&format!(
                        " The flows from a random θ₀ on the same network stay above it (lowest C \
                         now {floor:.6}): where an underparametrized flow comes to rest, \
                         𝒫∇ₓC = 0 and C = (N/2)|𝒫⊥∇ₓC|² > 0 (Thm 5.1), so zero-cost minimizers \
                         like θ_c are generically not limits of gradient descent."
                    ));
                }
                v
            }
            (None, None) => "No construction.".into(),
        };
        let positions = self.layer_positions();
        let position = (self.stage.round() as usize).min(positions.saturating_sub(1));
        let stage = if positions == 0 {
            String::new()
        } else if position + 1 == positions {
            format!(
                "output layer ({} of {}): x_j = W h_j + b maps each collapse point to its target",
                position + 1,
                positions
            )
        } else if position == 0 {
            format!(
                "stage 0 of {} (the inputs){}",
                r.stages - 1,
                r.cuts.first().map_or(String::new(), |c| format!(
                    "; the dashed cut of layer 1 separates class {}",
                    c.class + 1
                ))
            )
        } else {
            let cut = &r.cuts[position - 1];
            format!(
                "stage {position} of {}: hidden layer {position} collapsed class {} to the apex of \
                 its cut (margin {}, λ = {})",
                r.stages - 1,
                cut.class + 1,
                fmt_g(cut.margin),
                fmt_g(cut.lambda)
            )
        };
        Some(ConstructPanel {
            fits: r.fits,
            hidden: hidden.join(","),
            architecture,
            verdict,
            readouts,
            rows,
            positions,
            position,
            stage,
        })
    }

    /// The homotopy family's table, once the family has reported.
    pub fn family_panel(&self) -> Option<FamilyPanel> {
        let h = self.family.as_ref()?.header.as_ref()?;
        let mut rows = vec![];
        let mut rest_max = 0.0f64;
        let mut rest: Vec<(f64, f64)> = vec![];
        for m in &h.members {
            let rel = m.end_norms.as_ref().map(|e| {
                e.iter()
                    .zip(&h.norms0)
                    .map(|(a, b)| if *b > 0.0 { a / b } else { *a })
                    .fold(0.0f64, f64::max)
            });
            if m.status == Status::Stationary {
                if let Some(v) = rel {
                    rest_max = rest_max.max(v);
                    rest.push((m.alpha, m.cost));
                }
            }
            rows.push(FamilyRow {
                alpha: m.alpha,
                label: alpha_label(m.alpha),
                color: css(alpha_color(m.alpha)),
                s: fmt_g(m.s),
                cost: fmt_e(m.cost),
                status: m.status.name().into(),
                fields: rel.map_or(String::new(), fmt_s),
            });
        }
        let verdict = if rest.is_empty() {
            format!(
                "The family {}. When a member comes to rest, the last column gives max over β of \
                 |V_β|/|V_β(θ₀)| at its rest point: every homotopy field \
                 V_β = −(1−β)Dᵀ∇ₓC − βD⁺∇ₓC vanishes where 𝒫∇ₓC = 0, so all flows share their \
                 equilibria.",
                h.target.map_or_else(
                    || "runs on to its own ends (every lane has ended)".to_string(),
                    |t| format!("follows the lanes (s = {})", fmt_g(t))
                )
            )
        } else {
            let alphas: Vec<String> = rest.iter().map(|(a, _)| format!("{a}")).collect();
            let costs: Vec<String> = rest.iter().map(|(_, c)| format!("{c:.7}")).collect();
            let betas = h
                .members
                .iter()
                .map(|m| format!("{}", m.alpha))
                .collect::<Vec<_>>()
                .join(", ");
            if rest_max <= FIELDS_VANISH {
                format!(
                    "At the rest points of α = {} (C = {}), every homotopy field vanishes: \
                     max over β ∈ {{{betas}}} of |V_β|/|V_β(θ₀)| ≤ {}. V_β = (1−β)V₀ + βV₁ and \
                     V₀ = −Dᵀ𝒫∇ₓC, V₁ = −D⁺𝒫∇ₓC are zero exactly where 𝒫∇ₓC = 0: the \
                     equilibria coincide; only the paths to them differ.",
                    alphas.join(", "),
                    costs.join(", "),
                    fmt_s(rest_max)
                )
            } else {
                format!(
                    "The members α = {} stopped as stationary (C = {}), but there max over \
                     β ∈ {{{betas}}} of |V_β|/|V_β(θ₀)| is {}: not every field is small at these \
                     end points (the stop is on the speed of the outputs, μ; rank changes can \
                     stop a flow short of an equilibrium).",
                    alphas.join(", "),
                    costs.join(", "),
                    fmt_s(rest_max)
                )
            }
        };
        Some(FamilyPanel { rows, verdict })
    }

    /// The reparametrization panel: per flow the largest relative distance of `x̲(t)` from the
    /// straight interpolation over the recorded trail points.
    pub fn reparam_panel(&self) -> Option<ReparamPanel> {
        let info = self.info.as_ref()?;
        let mut readouts = vec![];
        let mut adapted = None;
        for (i, lane) in self.lanes.iter().enumerate() {
            let worst = lane
                .trail
                .iter()
                .map(|(s, o)| self.off_line(*s, o))
                .fold(0.0f64, f64::max);
            let key = info.lanes[i].choice.key();
            readouts.push(readout(
                &format!("offline-{key}"),
                &self.lane_label(i),
                fmt_s(worst),
                worst,
            ));
            if info.lanes[i].choice == crate::run::lanes::FlowChoice::Adapted {
                let full = lane.samples.iter().all(|p| p.rank == info.qn);
                adapted = Some((worst, full));
            }
        }
        let samples = if info.trail.len() == info.n {
            format!("all N = {} samples", info.n)
        } else {
            format!("{} of the N = {} samples", info.trail.len(), info.n)
        };
        let verdict = match adapted {
            Some((w, true)) => format!(
                "With t = 1 − e^(−s/N), the full-rank adapted flow gives x̲(t) = (1−t)x̲(0) + t·y̲: \
                 the straight interpolation. Measured over {samples}: the adapted flow stays \
                 within {} of it (relative to |x̲(0) − y̲|: integration error); the readouts give \
                 every flow's largest distance so far.",
                fmt_s(w)
            ),
            Some((w, false)) => format!(
                "rank D < QN = {} along the adapted orbit: x̲(t) = (1−t)x̲(0) + t·y̲ needs full rank \
                 QN and does not apply here (measured distance {} over {samples}).",
                info.qn,
                fmt_s(w)
            ),
            None => format!(
                "With t = 1 − e^(−s/N), the full-rank adapted flow would run on the straight \
                 interpolation (1−t)x̲(0) + t·y̲; add the adapted flow to compare ({samples})."
            ),
        };
        Some(ReparamPanel { readouts, verdict })
    }

    /// The paper's rank formula beside the measured rank of `D[θ₀]`, in words, when the
    /// scenario has one.
    pub fn rank_formula_text(&self) -> Option<String> {
        let f = self.info.as_ref()?.rank_formula.as_ref()?;
        Some(if f.agrees {
            format!(
                "rank D[θ₀]: measured {} = the paper's {} = {}.",
                f.measured, f.formula, f.paper
            )
        } else {
            format!(
                "rank D[θ₀]: measured {}, the paper's {} gives {}; they differ, and the \
                 measurement stands: {}",
                f.measured,
                f.formula,
                f.paper,
                f.note.as_deref().unwrap_or("no explanation given")
            )
        })
    }

    /// Draws `view` onto `area` and remembers where its plotting area lies (for hover and clicks).
    ///
    /// Errors: a canvas under 32 pixels on a side ([`Error::Invalid`] naming the view),
    /// backend failures ([`Error::Plot`]).
    pub fn draw<DB: DrawingBackend>(
        &mut self,
        view: View,
        area: &DrawingArea<DB, Shift>,
        look: &Look,
    ) -> Result<Geom> {
        let (w, h) = area.dim_in_pixel();
        if w < 32 || h < 32 {
            return Err(Error::invalid(
                view.key(),
                format!("the canvas is too small to draw on ({w}×{h} pixels)"),
            ));
        }
        let geom = match view {
            View::Cost => crate::plot::cost::draw_with(area, &self.cost_figure(), look)?,
            View::Outputs => crate::plot::outputs::draw(area, &self.outputs_figure(), look)?,
            View::Spectrum => crate::plot::spectrum::draw(area, &self.spectrum_figure(), look)?,
            View::Boundary => crate::plot::heatmap::draw(area, &self.boundary_figure(), look)?,
            View::Collapse => {
                let geoms = crate::plot::collapse::draw(area, &self.collapse_figure(), look)?;
                let first = geoms[0];
                self.collapse_geoms = geoms;
                first
            }
            View::Singular => crate::plot::singular::draw(area, &self.singular_figure(), look)?,
            View::Reparam => crate::plot::reparam::draw(area, &self.reparam_figure(), look)?,
            View::Homotopy => crate::plot::outputs::draw(area, &self.homotopy_figure(), look)?,
            View::Critical => crate::plot::slice::draw(area, &self.slice_figure(), look)?,
            View::Construct => crate::plot::layers::draw(area, &self.layers_figure(), look)?,
        };
        self.geoms[view.index()] = Some(geom);
        Ok(geom)
    }

    /// Where `view` was last drawn.
    pub fn geom(&self, view: View) -> Option<Geom> {
        self.geoms[view.index()]
    }

    /// The input-plane point under pixel `(px, py)` of the boundary figure.
    pub fn input_at(&self, px: f64, py: f64) -> Option<(f64, f64)> {
        self.info.as_ref()?.bounds?;
        self.geom(View::Boundary)?.to_data(px, py)
    }

    fn nearest_sample(&self, i: usize, s: f64) -> Option<&Sample> {
        self.lanes[i]
            .samples
            .iter()
            .min_by(|a, b| (a.s - s).abs().total_cmp(&(b.s - s).abs()))
    }

    /// What lies under pixel `(px, py)` of `view`, as one line of text (`None` off the chart).
    pub fn hover(&self, view: View, px: f64, py: f64) -> Option<String> {
        let info = self.info.as_ref()?;
        if view == View::Collapse {
            return self.hover_collapse(px, py);
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
                let s = -(info.n as f64) * (1.0 - x.clamp(0.0, 1.0 - 1e-16)).ln();
                let mut parts = vec![format!("t = {} (s = {})", fmt_g(x), fmt_g(s))];
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
                parts.push(format!(
                    "theory C(0)e^(−2s/N) = {}",
                    fmt_e(info.c0 * (-2.0 * x / info.n as f64).exp())
                ));
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
            View::Collapse => None,
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

    /// The cost curves as CSV: a column `s`, then one cost column per flow; one row per recorded
    /// `s` (lanes share the sample grid; a lane that stopped earlier leaves its cells empty).
    pub fn cost_csv(&self) -> String {
        let mut out = String::from("s");
        for i in 0..self.lanes.len() {
            let col = format!("cost {}", self.lane_label(i));
            out.push(',');
            if col.contains([',', '"']) {
                out.push_str(&format!("\"{}\"", col.replace('"', "\"\"")));
            } else {
                out.push_str(&col);
            }
        }
        out.push('\n');
        let mut all: Vec<f64> = self
            .lanes
            .iter()
            .flat_map(|l| l.samples.iter().map(|p| p.s))
            .collect();
        all.sort_by(f64::total_cmp);
        all.dedup();
        let mut at = vec![0usize; self.lanes.len()];
        for s in all {
            out.push_str(&format!("{s}"));
            for (i, lane) in self.lanes.iter().enumerate() {
                out.push(',');
                if let Some(p) = lane.samples.get(at[i]).filter(|p| p.s == s) {
                    out.push_str(&format!("{}", p.cost));
                    at[i] += 1;
                }
            }
            out.push('\n');
        }
        out
    }
}
