//! Traces as the worker would have sent them: the messages and bulk numbers that load a
//! [`Board`] with finished runs, so that `pullback figures` draws every figure of the page from
//! traces with the page's own figure builders and plot code.
//!
//! A [`Replay`] holds the traces of one comparison (same data and network, one flow each). It
//! writes the [`RunInfo`] and one frame carrying every sample, event and output trail
//! ([`Replay::board`]), and answers what the page asks the worker for on demand: the boundary grid
//! of a lane ([`Replay::heat_frame`]), the critical panel at a lane's end point
//! ([`Replay::critical`]), the construction ([`Replay::construction`]) and the homotopy family
//! ([`Replay::family`], its members being the traces of the standard, adapted and homotopy flows).
//!
//! A figure added to the page (a `View` with its arm in `Board::draw`) is drawn from traces as
//! soon as the board has its data: data the board receives in the load or the frames comes from
//! here without change; data the worker computes on request needs a method here, like
//! [`Replay::critical`].

use crate::app::board::Board;
use crate::app::inspect::{self, ConstructionReport, CriticalReport, LaneState};
use crate::app::protocol::{
    encode_sample, heat_values, plane_bounds, FamilyHeader, FamilyMember, FrameHeader, HeatHeader,
    LaneFrame, LaneInfo, RunInfo, MAX_FAMILY_SAMPLES, MAX_SINGULAR_VALUES, MAX_TRAIL_SAMPLES,
};
use crate::error::{Error, Result};
use crate::math::flow::FlowSpec;
use crate::math::integrate::IntegratorSpec;
use crate::math::model::Model;
use crate::run::lanes::FlowChoice;
use crate::run::scenario::{InitSpec, Trace};
use crate::run::session::Status;

/// The flow of a trace as a lane of the page: the standard field with Euler steps is gradient
/// descent.
pub fn choice_of(trace: &Trace) -> FlowChoice {
    match (trace.scenario.flow, trace.scenario.integrator) {
        (FlowSpec::Standard, IntegratorSpec::Euler { h }) => FlowChoice::Gd { h },
        (FlowSpec::Standard, _) => FlowChoice::Standard,
        (FlowSpec::Adapted, _) => FlowChoice::Adapted,
        (FlowSpec::Homotopy { alpha }, _) => FlowChoice::Homotopy { alpha },
    }
}

/// The status a trace's `final.reason` names (`running` for a snapshot).
fn status_of(reason: &str) -> Status {
    serde_json::from_value(serde_json::Value::String(reason.into())).unwrap_or(Status::Running)
}

/// Finished runs of one comparison, ready to be shown on a [`Board`].
#[derive(Debug, Clone)]
pub struct Replay {
    traces: Vec<Trace>,
    model: Model,
    info: RunInfo,
    theta0: Vec<f64>,
}

impl Replay {
    /// Checks that the traces share their data and network and prepares the run's description;
    /// `labels` names the lanes in the legends (one per trace).
    ///
    /// Errors: no trace (`traces`), a trace with other data or another network than the first
    /// (`traces[i]`), labels of the wrong count, and every error of materializing the first
    /// trace's scenario.
    pub fn new(traces: Vec<Trace>, labels: Vec<String>) -> Result<Replay> {
        let Some(first) = traces.first() else {
            return Err(Error::invalid("traces", "give at least one trace"));
        };
        if labels.len() != traces.len() {
            return Err(Error::invalid(
                "labels",
                format!("{} labels for {} traces", labels.len(), traces.len()),
            ));
        }
        for (i, t) in traces.iter().enumerate().skip(1) {
            if t.scenario.data != first.scenario.data || t.scenario.net != first.scenario.net {
                return Err(Error::invalid(
                    format!("traces[{i}]"),
                    "has other data or another network than traces[0]: the figures show the \
                     flows of one comparison (run `figures` once per scenario)",
                ));
            }
        }
        let m = first.scenario.materialize()?;
        let model = m.model;
        let theta0 = match &first.scenario.init {
            InitSpec::Explicit { theta } => theta.clone(),
            _ => m.theta0,
        };
        let inputs = model.data.input_rows();
        let n = model.n();
        let sv_total = model.k().min(model.qn());
        let info = RunInfo {
            epoch: 0,
            name: first.scenario.name.clone(),
            k: model.k(),
            q: model.q(),
            n,
            m: model.data.m(),
            classes: model.data.classes(),
            qn: model.qn(),
            regime: model.regime(),
            c0: first.initial_cost,
            epsilon: first.scenario.stop.cost_below,
            predicted: traces.iter().find_map(|t| t.predicted_stopping_time),
            cost: model.cost_spec(),
            // The theory line of the adapted flow from θ₀, as the page draws it.
            theory: crate::math::diagnostics::adapted_cost_terms(&model, &model.outputs(&theta0)),
            s_max: m.s_max,
            every_s: m.every_s,
            lanes: traces
                .iter()
                .zip(labels)
                .map(|(t, label)| {
                    let choice = choice_of(t);
                    LaneInfo {
                        choice,
                        label,
                        color: crate::plot::css(crate::plot::flow_color(choice.color_index())),
                    }
                })
                .collect(),
            labels: model.data.labels.clone(),
            bounds: plane_bounds(&inputs),
            trail: (0..n).step_by(n.div_ceil(MAX_TRAIL_SAMPLES)).collect(),
            trail_every: m.every_s,
            sv: sv_total.min(MAX_SINGULAR_VALUES),
            sv_total,
            rank_rtol: first.rank_rtol,
            rank_formula: first.rank_formula.clone(),
            inspectable: model.k().saturating_mul(model.qn()) <= inspect::MAX_CRITICAL_WORK,
        };
        Ok(Replay {
            traces,
            model,
            info,
            theta0,
        })
    }

    /// The run's description, as the board gets it.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The traces, in lane order.
    pub fn traces(&self) -> &[Trace] {
        &self.traces
    }

    /// Whether lane `i`'s samples carry the singular values of `D` (`record.singular_values`).
    pub fn has_singular_values(&self, i: usize) -> bool {
        self.traces[i]
            .samples
            .iter()
            .any(|s| s.singular_values.as_ref().is_some_and(|v| !v.is_empty()))
    }

    /// Whether lane `i`'s samples carry the outputs or `θ`, so that its output trails follow
    /// the run (otherwise a trail is the straight segment from `x̲(0)` to the end).
    pub fn has_trails(&self, i: usize) -> bool {
        self.traces[i]
            .samples
            .iter()
            .any(|s| s.outputs.is_some() || s.theta.is_some())
    }

    /// The outputs of the samples `js` at a recorded sample of trace `t` (from its outputs or its
    /// `θ`), `None` when the sample keeps neither.
    fn outputs_at(
        &self,
        sample: &crate::math::diagnostics::Sample,
        js: &[usize],
    ) -> Option<Vec<f64>> {
        let q = self.model.q();
        let all = match (&sample.outputs, &sample.theta) {
            (Some(o), _) => o.clone(),
            (None, Some(th)) => self.model.outputs(th),
            (None, None) => return None,
        };
        Some(
            js.iter()
                .flat_map(|&j| all[j * q..(j + 1) * q].to_vec())
                .collect(),
        )
    }

    /// Trail points `(s, outputs of js)` of trace `t`: every recorded sample that keeps outputs
    /// or `θ`, else `θ₀` and the end point.
    fn trail(&self, t: usize, js: &[usize]) -> Vec<(f64, Vec<f64>)> {
        let tr = &self.traces[t];
        let mut pts: Vec<(f64, Vec<f64>)> = tr
            .samples
            .iter()
            .filter_map(|s| self.outputs_at(s, js).map(|o| (s.s, o)))
            .collect();
        let pick = |theta: &[f64]| {
            let all = self.model.outputs(theta);
            let q = self.model.q();
            js.iter()
                .flat_map(|&j| all[j * q..(j + 1) * q].to_vec())
                .collect::<Vec<f64>>()
        };
        if pts.is_empty() {
            pts.push((0.0, pick(&self.theta0)));
        }
        let end = &tr.final_state;
        if pts.last().is_some_and(|p| p.0 < end.s) {
            pts.push((end.s, pick(&end.theta)));
        }
        pts
    }

    /// The rank the field of lane `t` used at its end point, as the session reports it: `None`
    /// for flows without rank decisions (`α = 0`).
    fn rank_used(&self, t: usize) -> Option<usize> {
        let tr = &self.traces[t];
        tr.scenario
            .flow
            .needs_svd()
            .then_some(tr.final_state.rank_used)
            .flatten()
    }

    fn lane_frame(&self, t: usize, new_samples: usize, new_trail: usize) -> LaneFrame {
        let tr = &self.traces[t];
        let fin = &tr.final_state;
        let status = status_of(&fin.reason);
        LaneFrame {
            s: tr.final_state.s,
            cost: tr.final_state.cost,
            status,
            steps: tr.stats.steps,
            evals: tr.stats.evals,
            rank: tr.samples.last().map(|s| s.rank),
            spectrum_age: tr
                .samples
                .last()
                .and_then(|p| p.spectrum_s.map(|at| p.s - at))
                .unwrap_or(0.0),
            rank_used: self.rank_used(t),
            rest: fin.rest,
            end: (status != Status::Running)
                .then(|| fin.sentence(self.model.k(), self.model.qn(), tr.rank_rtol)),
            stationarity: f64::NAN,
            steps_per_s: 0.0,
            measured: tr.measured_stopping_time,
            new_samples,
            new_trail,
            events: if new_samples > 0 {
                tr.events.clone()
            } else {
                vec![]
            },
        }
    }

    /// A board loaded with the run and one frame holding every sample, event and trail point.
    ///
    /// Errors: none in practice (the bulk is written to match); kept for the board's checks.
    pub fn board(&self) -> Result<Board> {
        let info = &self.info;
        let mut data: Vec<f64> = self.model.data.input_rows().into_iter().flatten().collect();
        data.extend(self.model.data.targets.iter().flatten());
        data.extend(self.model.outputs(&self.theta0));
        let mut board = Board::new();
        board.load(info.clone(), &data)?;
        let mut bulk = vec![];
        let mut lanes = vec![];
        for (t, tr) in self.traces.iter().enumerate() {
            bulk.extend(self.model.outputs(&tr.final_state.theta));
            for smp in &tr.samples {
                encode_sample(smp, info.classes, info.sv, &mut bulk);
            }
            let trail = self.trail(t, &info.trail);
            for (s, o) in &trail {
                bulk.push(*s);
                bulk.extend(o);
            }
            lanes.push(self.lane_frame(t, tr.samples.len(), trail.len()));
        }
        // The network diagram of the first trace at its end point, as the page draws the lane it
        // follows; its bulk comes after the lanes' (no heatmap in this frame).
        let network = self.traces.first().map(|tr| {
            let (h, b) = crate::app::protocol::diagram(
                &self.model,
                &tr.final_state.theta,
                0,
                &tr.events,
                info.bounds,
            );
            bulk.extend(b);
            h
        });
        let header = FrameHeader {
            epoch: info.epoch,
            running: false,
            progress: None,
            stopped: None,
            lanes,
            heat: None,
            network,
        };
        board.apply(&header, &bulk)?;
        Ok(board)
    }

    /// A frame that adds nothing but the boundary grid of lane `lane` at its end point (`size²`
    /// cells); `None` unless the inputs are 2-D.
    pub fn heat_frame(&self, lane: usize, size: usize) -> Option<(FrameHeader, Vec<f64>)> {
        let bounds = self.info.bounds?;
        let tr = self.traces.get(lane)?;
        let mut bulk = vec![];
        let mut lanes = vec![];
        for (t, tr) in self.traces.iter().enumerate() {
            bulk.extend(self.model.outputs(&tr.final_state.theta));
            lanes.push(self.lane_frame(t, 0, 0));
        }
        bulk.extend(heat_values(
            &self.model,
            &tr.final_state.theta,
            bounds,
            size,
        ));
        let header = FrameHeader {
            epoch: self.info.epoch,
            running: false,
            progress: None,
            stopped: None,
            lanes,
            heat: Some(HeatHeader { lane, size, bounds }),
            network: None,
        };
        Some((header, bulk))
    }

    /// The critical panel of lane `lane` at its end point (or before its last escape), with the
    /// cost slice on a `size × size` grid, as the worker computes it.
    ///
    /// Errors: a lane out of range (`lane`) and every error of [`inspect::critical_report_at`].
    pub fn critical(&self, lane: usize, size: usize) -> Result<(CriticalReport, Vec<f64>)> {
        let tr = self.traces.get(lane).ok_or_else(|| {
            Error::invalid(
                "lane",
                format!("is {lane} but there are {} traces", self.traces.len()),
            )
        })?;
        let at = LaneState {
            model: &self.model,
            scenario: &tr.scenario,
            theta: &tr.final_state.theta,
            s: tr.final_state.s,
            status: status_of(&tr.final_state.reason),
            events: &tr.events,
            rank_used: self.rank_used(lane),
        };
        inspect::critical_report_at(lane, &at, size)
    }

    /// The constructive minimizer of the data, as the worker builds it.
    pub fn construction(&self) -> (ConstructionReport, Vec<f64>) {
        inspect::construction_report(&self.model, self.info.rank_rtol)
    }

    /// The homotopy family of the traces whose flow is the standard (`α = 0`), adapted (`α = 1`)
    /// or a homotopy flow, with the output trails of the page's family samples; `None` when
    /// there is no such trace.
    pub fn family(&self) -> Option<(FamilyHeader, Vec<f64>)> {
        let n = self.model.n();
        let samples: Vec<usize> = (0..n).step_by(n.div_ceil(MAX_FAMILY_SAMPLES)).collect();
        let mut members = vec![];
        let mut bulk = vec![];
        for (t, tr) in self.traces.iter().enumerate() {
            let alpha = match choice_of(tr) {
                FlowChoice::Standard => 0.0,
                FlowChoice::Adapted => 1.0,
                FlowChoice::Homotopy { alpha } => alpha,
                FlowChoice::Gd { .. } => continue,
            };
            let trail = self.trail(t, &samples);
            for (s, o) in &trail {
                bulk.push(*s);
                bulk.extend(o);
            }
            members.push(FamilyMember {
                alpha,
                s: tr.final_state.s,
                cost: tr.final_state.cost,
                status: status_of(&tr.final_state.reason),
                new_trail: trail.len(),
                end_norms: None,
            });
        }
        if members.is_empty() {
            return None;
        }
        let header = FamilyHeader {
            epoch: self.info.epoch,
            samples,
            norms0: vec![],
            members,
            target: None,
        };
        Some((header, bulk))
    }
}
