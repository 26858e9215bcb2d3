//! What the page shows: the history of a comparison as it arrives from the worker, turned into
//! the five figures, hover readouts, and the cost curves as CSV.
//!
//! The page's drawing module keeps one [`Board`], feeds it [`RunInfo`]s and frames (header plus
//! bulk), and asks it to draw a view on a canvas. Everything here is plain data, so the figures
//! and readouts are tested natively against SVG.

use crate::error::{Error, Result};
use crate::plot::collapse::{ClassCurves, CollapseFigure};
use crate::plot::cost::CostFigure;
use crate::plot::heatmap::HeatmapFigure;
use crate::plot::outputs::{OutputsFigure, Trail};
use crate::plot::spectrum::{SpectrumFigure, SpectrumLane};
use crate::plot::{class_color, decimate, decimate_path, Geom, Look, Series, PALETTE};
use crate::protocol::{FrameHeader, HeatGrid, LaneFrame, RunData, RunInfo, SamplePoint};
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, RGBColor};
use serde::{Deserialize, Serialize};

/// Most points drawn per curve.
pub const MAX_CURVE_POINTS: usize = 400;
/// Most points drawn per output trail.
pub const MAX_TRAIL_POINTS: usize = 120;
/// Most classes drawn on the neural-collapse figure.
pub const MAX_COLLAPSE_CLASSES: usize = 8;

/// The five figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Cost against `s`, log scale.
    Cost,
    /// Output-layer trails.
    Outputs,
    /// `rank D`, `λ_min(DDᵀ)`, `ρ` against `s`.
    Spectrum,
    /// Decision boundary over the input plane.
    Boundary,
    /// Neural collapse against `s`.
    Collapse,
}

impl View {
    /// Every view, in page order.
    pub const ALL: [View; 5] = [
        View::Cost,
        View::Outputs,
        View::Spectrum,
        View::Boundary,
        View::Collapse,
    ];

    /// The name used in URLs and element ids.
    pub fn key(self) -> &'static str {
        match self {
            View::Cost => "cost",
            View::Outputs => "outputs",
            View::Spectrum => "spectrum",
            View::Boundary => "boundary",
            View::Collapse => "collapse",
        }
    }

    /// The view called `key`, if any.
    pub fn from_key(key: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.key() == key)
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Default)]
struct LaneHistory {
    frame: Option<LaneFrame>,
    outputs: Vec<f64>,
    samples: Vec<SamplePoint>,
    trail: Vec<(f64, Vec<f64>)>,
    events: Vec<crate::scenario::Event>,
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
    geoms: [Option<Geom>; 5],
}

fn fmt_e(v: f64) -> String {
    format!("{v:.4e}")
}

fn fmt_g(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e4) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
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
    pub fn samples(&self, i: usize) -> &[SamplePoint] {
        self.lanes.get(i).map_or(&[], |l| &l.samples)
    }

    /// The latest frame of lane `i`.
    pub fn lane_frame(&self, i: usize) -> Option<&LaneFrame> {
        self.lanes.get(i).and_then(|l| l.frame.as_ref())
    }

    fn lane_color(&self, i: usize) -> RGBColor {
        self.info.as_ref().map_or(PALETTE[0], |info| {
            PALETTE[info.lanes[i].choice.color_index() % PALETTE.len()]
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

    fn series(&self, i: usize, f: impl Fn(&SamplePoint) -> f64) -> Vec<(f64, f64)> {
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
            for e in lane.events.iter().filter(|e| e.kind == "escape") {
                let c = e.data.get("cost_after").and_then(|v| v.as_f64());
                fig.markers
                    .push((e.s, c.unwrap_or(f64::NAN), "escape".into()));
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
            for (c, y) in data.targets.iter().enumerate().take(16) {
                fig.targets.push((y[a], y[b], format!(" y{}", c + 1)));
            }
            fig.x_desc = format!("output coordinate {}", a + 1);
            fig.y_desc = format!("output coordinate {}", b + 1);
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

    /// The neural-collapse figure of the focused flow.
    pub fn collapse_figure(&self) -> CollapseFigure {
        let mut fig = CollapseFigure {
            s_max: self.s_axis(),
            ..CollapseFigure::default()
        };
        let Some(info) = &self.info else { return fig };
        let i = self.focus.min(self.lanes.len().saturating_sub(1));
        let Some(lane) = self.lanes.get(i) else {
            return fig;
        };
        fig.title = format!("neural collapse: {}", self.lane_label(i));
        let classes = info.classes.min(MAX_COLLAPSE_CLASSES);
        for c in 0..classes {
            fig.classes.push(ClassCurves {
                label: format!("class {}", c + 1),
                color: class_color(c),
                variance: self.series(i, |p| p.class_spread[c].powi(2)),
                distance: self.series(i, |p| p.class_mean_distance[c]),
            });
        }
        if let Some(first) = lane.samples.first() {
            let v0 = first.class_spread[..classes]
                .iter()
                .map(|v| v * v)
                .fold(0.0, f64::max);
            let d0 = first.class_mean_distance[..classes]
                .iter()
                .copied()
                .fold(0.0, f64::max);
            fig.reference = Some((v0, d0, info.n));
        }
        fig
    }

    /// Draws `view` onto `area` and remembers where its plotting area lies (for hover and clicks).
    ///
    /// Errors: backend failures, as text.
    pub fn draw<DB: DrawingBackend>(
        &mut self,
        view: View,
        area: &DrawingArea<DB, Shift>,
        look: &Look,
    ) -> std::result::Result<Geom, String> {
        let (w, h) = area.dim_in_pixel();
        if w < 32 || h < 32 {
            return Err(format!(
                "{}: the canvas is too small to draw on ({w}×{h} pixels)",
                view.key()
            ));
        }
        let geom = match view {
            View::Cost => crate::plot::cost::draw_with(area, &self.cost_figure(), look)?,
            View::Outputs => crate::plot::outputs::draw(area, &self.outputs_figure(), look)?,
            View::Spectrum => crate::plot::spectrum::draw(area, &self.spectrum_figure(), look)?,
            View::Boundary => crate::plot::heatmap::draw(area, &self.boundary_figure(), look)?,
            View::Collapse => crate::plot::collapse::draw(area, &self.collapse_figure(), look)?,
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

    fn nearest_sample(&self, i: usize, s: f64) -> Option<&SamplePoint> {
        self.lanes[i]
            .samples
            .iter()
            .min_by(|a, b| (a.s - s).abs().total_cmp(&(b.s - s).abs()))
    }

    /// What lies under pixel `(px, py)` of `view`, as one line of text (`None` off the chart).
    pub fn hover(&self, view: View, px: f64, py: f64) -> Option<String> {
        let info = self.info.as_ref()?;
        let geom = self.geom(view)?;
        let (x, y) = geom.to_data(px, py)?;
        match view {
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
            View::Collapse => {
                let i = self.focus.min(self.lanes.len().saturating_sub(1));
                let p = self.nearest_sample(i, x)?;
                let mut parts = vec![format!("s = {}", fmt_g(p.s))];
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
