//! What the page shows: the history of a comparison as it arrives from the worker, turned into
//! the five figures, hover readouts, and the cost curves as CSV.
//!
//! The page's drawing module keeps one [`Board`], feeds it [`RunInfo`]s and frames (header plus
//! bulk), and asks it to draw a view on a canvas. Everything here is plain data, so the figures
//! and readouts are tested natively against SVG.
//!
//! This file keeps the history and draws; `figures.rs` builds each figure's data, `panels.rs` the
//! panels beside them (critical submanifold, homotopy family, reparametrization), `construct.rs`
//! the constructive panel and the split of the cost, `hover.rs` the readouts under the pointer.

use crate::app::inspect::{check_construction_bulk, ConstructionReport, CriticalReport};
use crate::app::protocol::{
    FamilyHeader, FrameHeader, HeatGrid, LaneFrame, NetDiagram, RunData, RunInfo, TrailPoints,
};
use crate::app::view::View;
use crate::error::{Error, Result};
use crate::math::construct::Classification;
use crate::math::diagnostics::Sample;
use crate::math::model::CostSpec;
use crate::plot::{decimate, flow_color, Geom, Look, PALETTE};
use crate::run::event::Event;
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, RGBColor};

mod claims;
mod construct;
mod figures;
mod hover;
mod modes;
mod network;
mod panels;

pub use construct::{CompareRow, ConstructPanel, CutRow, MuSlider, SplitPanel, SplitRow};
pub use modes::{ModesText, DRAW_FLOOR, SLOPE_FLOOR};
pub use network::NetSummary;
pub use panels::{CriticalPanel, FamilyPanel, FamilyRow, Readout, ReparamPanel};

/// Most points drawn per curve.
pub const MAX_CURVE_POINTS: usize = 400;
/// Most points drawn per output trail.
pub const MAX_TRAIL_POINTS: usize = 120;
/// Most classes drawn on the neural-collapse figure.
pub const MAX_COLLAPSE_CLASSES: usize = 8;

/// Below this, `max_β |V_β|/|V_β(θ₀)|` at a rest point counts as "every field vanishes" (the
/// flows stop at `μ ≤ 1e-9`, which leaves ratios of about 1e-9 … 1e-6).
pub const FIELDS_VANISH: f64 = 1e-5;

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
    geoms: [Option<Geom>; View::ALL.len()],
    collapse_geoms: Vec<Geom>,
    critical: Option<(CriticalReport, Vec<f64>)>,
    construction: Option<(ConstructionReport, Vec<f64>)>,
    classified: Option<Classification>,
    stage: f64,
    /// Per sample the rate `w_j` of its error under the full-rank adapted flow.
    rates: Vec<f64>,
    family: Option<FamilyHistory>,
    network: Option<NetDiagram>,
    net_layout: Option<crate::plot::network::NetLayout>,
    modes: Option<modes::ModesHistory>,
    modes_geoms: Vec<Geom>,
    raster: bool,
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
        self.critical = None;
        self.construction = None;
        self.classified = None;
        self.family = None;
        self.network = None;
        self.modes = None;
        // Geometries stay: until redrawn, the canvases still show where the old ones say, and a
        // click or hover right after a load must map through what is on screen.
        if self.focus >= info.lanes.len() {
            self.focus = 0;
        }
        let q = info.q;
        if self.pair.0 >= q || self.pair.1 >= q || self.pair.0 == self.pair.1 {
            self.pair = (0, 1.min(q.saturating_sub(1)));
        }
        let n = info.labels.len();
        self.rates = match info.cost {
            CostSpec::Mean => vec![1.0 / n as f64; n],
            CostSpec::Weighted => {
                let mut counts = vec![0usize; info.classes];
                for &l in &info.labels {
                    if let Some(c) = counts.get_mut(l) {
                        *c += 1;
                    }
                }
                info.labels
                    .iter()
                    .map(|&l| 2.0 / counts.get(l).copied().unwrap_or(1).max(1) as f64)
                    .collect()
            }
        };
        self.info = Some(info);
        self.data = Some(data);
        Ok(())
    }

    /// `w_j`, the rate of sample `j`'s error under the full-rank adapted flow:
    /// `x_j(s) − y = e^{−w_j s}(x_j(0) − y)` with `w_j = 1/N` (mean cost) or `2/N_ω(j)` (weighted).
    pub fn output_rate(&self, j: usize) -> f64 {
        self.rates.get(j).copied().unwrap_or(0.0)
    }

    /// The smallest of the rates [`Self::output_rate`] (the clock of the largest class).
    pub fn slowest_rate(&self) -> f64 {
        self.rates.iter().copied().fold(f64::INFINITY, f64::min)
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
        if let Some(d) = data.network {
            self.network = Some(d);
        }
        Ok(true)
    }

    /// Takes the run's description after a `tune` (new labels, `ε`, predicted stopping time),
    /// keeping the history. Returns `false` (and changes nothing) when it belongs to another load.
    ///
    /// Errors: a different number of flows than the loaded run's.
    pub fn retune(&mut self, info: RunInfo) -> Result<bool> {
        let Some(old) = &self.info else {
            return Ok(false);
        };
        if old.epoch != info.epoch {
            return Ok(false);
        }
        if old.lanes.len() != info.lanes.len() {
            return Err(Error::invalid(
                "info.lanes",
                format!(
                    "{} flows after tuning, {} loaded",
                    info.lanes.len(),
                    old.lanes.len()
                ),
            ));
        }
        self.info = Some(info);
        Ok(true)
    }

    /// Side of the decision-boundary grid last received (0 before one).
    pub fn heat_size(&self) -> usize {
        self.heat.as_ref().map_or(0, |h| h.header.size)
    }

    /// Whether figures draw their colour grids as bitmaps (a canvas) or as rectangles (SVG).
    pub fn set_raster(&mut self, raster: bool) {
        self.raster = raster;
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
        self.classified = None;
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
            View::Network => {
                let lay = crate::plot::network::draw(area, &self.network_figure(), look)?;
                self.net_layout = Some(lay);
                Geom {
                    px: [0.0, w as f64],
                    py: [0.0, h as f64],
                    x: [0.0, w as f64],
                    y: [h as f64, 0.0],
                    y_log: false,
                }
            }
            View::Eigenmodes => {
                let geoms = crate::plot::eigenmodes::draw(area, &self.eigenmodes_figure(), look)?;
                let first = geoms[0];
                self.modes_geoms = geoms;
                first
            }
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
