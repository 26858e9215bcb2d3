//! A run in progress: owns `θ`, the integrator and the history; emits samples, events, frames and
//! finally a [`Trace`].

use crate::error::{Error, Result};
use crate::math::critical::{self, CriticalSubmanifold, Diagnosis, Escape, RankCheck, TrapTracker};
use crate::math::diagnostics::{self, Keep, Rest, RestCheck, Sample};
use crate::math::fast::{PathCounts, Solver};
use crate::math::flow::{eval_field_capped, FieldStats, FlowSpec, RankChoice, Workspace};
use crate::math::integrate::{IntegratorSpec, Stepper, System};
use crate::math::model::{CostSpec, Model};
use crate::math::rank::{RankPolicy, RankReason, RankUpdate};
use crate::math::units::UnitRef;
use crate::run::event::{Event, EventKind, RestInfo, Singularity};
use crate::run::scenario::{
    Final, InitSpec, Materialized, Scenario, Trace, DEFAULT_MAX_STEPS, DEFAULT_STATIONARY_BELOW,
    TRACE_FORMAT, TRACE_VERSION,
};
use serde::{Deserialize, Serialize};

mod escape;
mod field;
mod rest;
mod sample;
mod tune;

pub use field::FlowField;
pub use rest::CRAWL_WINDOW;

/// Why a session is not running any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Can still step.
    Running,
    /// Reached `C ≤ ε`.
    CostBelow,
    /// The flow came to rest (`μ ≤ stationary_below`).
    Stationary,
    /// Reached `s_max`.
    SMax,
    /// Hit the step limit.
    MaxSteps,
    /// A non-finite value or failed solve stopped it.
    NonFinite,
    /// The adaptive step size fell below its floor (singular or discontinuous field).
    StepSize,
    /// The field approached a singularity (`stop.at_singularity`): see [`RankReason::Singular`].
    BlowUp,
}

impl Status {
    /// The event kind / reason string.
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::CostBelow => "cost_below",
            Status::Stationary => "stationary",
            Status::SMax => "s_max",
            Status::MaxSteps => "max_steps",
            Status::NonFinite => "non_finite",
            Status::StepSize => "step_size",
            Status::BlowUp => "blow_up",
        }
    }
}

/// What the page draws after a batch of steps: the current state, cheap to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Flow time.
    pub s: f64,
    /// Cost.
    pub cost: f64,
    /// Stacked outputs `x̲(s)`.
    pub outputs: Vec<f64>,
    /// Stationarity `μ` of the last field evaluation.
    pub stationarity: f64,
    /// The rank the field used at the last evaluation, for flows that decide one (see
    /// [`RankPolicy`]).
    pub rank: Option<usize>,
    /// Run status.
    pub status: Status,
    /// Accepted steps so far.
    pub steps: u64,
}

/// A time budget for the spectral part of diagnostic samples (see
/// [`Session::set_spectrum_budget`]).
#[derive(Debug, Clone, Copy)]
pub struct SpectrumBudget {
    /// Largest share of the session's stepping time the spectra may take, in `(0, 1]`.
    pub share: f64,
    /// Milliseconds since an arbitrary origin (monotone): the host's clock (the core has none).
    pub clock: fn() -> f64,
}

/// A run in progress.
#[derive(Debug, Clone)]
pub struct Session {
    scenario: Scenario,
    field: FlowField,
    stepper: Stepper,
    s_max: f64,
    every_s: f64,
    next_record: u64,
    keep: Keep,
    samples: Vec<Sample>,
    events: Vec<Event>,
    status: Status,
    c0: f64,
    sample_ws: Workspace,
    measured_stop: Option<f64>,
    scratch: Vec<f64>,
    /// The rest test at the end point, once the run has ended (or after a stationary stop).
    end: Option<RestCheck>,
    /// Why the end-point test could not run (too large, non-finite), when it could not.
    end_note: Option<String>,
    /// A stationarity stop was refused because the rest test failed; reset when μ rises again.
    refused_rest: bool,
    /// The rank the field used in the step just taken (samples inside it report it).
    step_rank: Option<usize>,
    /// `(s, steps)` at the start of the current window of the stall test.
    crawl_mark: (f64, u64),
    /// The field's rank was below `QN` at some accepted point (Thm 2.1/2.2 do not apply).
    below_qn: bool,
    /// Automatic escapes done so far (at most `escape.max`).
    auto_escapes: u32,
    trap: Option<TrapTracker>,
    rank_check: Option<RankCheck>,
    /// Spectra of samples on a time budget (`None`: every sample computes its own).
    budget: Option<SpectrumBudget>,
    /// Milliseconds spent in steps (samples included) and in spectra, under a budget.
    work_ms: f64,
    spectrum_ms: f64,
    /// The last sample whose spectrum was computed at its own `s`.
    last_spectral: Option<Sample>,
}

impl Session {
    /// Materializes `scenario` and prepares to integrate from `θ₀`.
    ///
    /// Errors: every validation error of [`Scenario::materialize`], or a failing first evaluation.
    pub fn new(scenario: &Scenario) -> Result<Session> {
        Session::with_solver(scenario, Solver::Auto)
    }

    /// Like [`Session::new`], evaluating the field with `solver` (see [`crate::math::fast`]).
    ///
    /// Errors: as [`Session::new`].
    pub fn with_solver(scenario: &Scenario, solver: Solver) -> Result<Session> {
        let Materialized {
            scenario,
            model,
            theta0,
            s_max,
            every_s,
        } = scenario.materialize()?;
        let mut field = FlowField::with_solver(model, scenario.flow, scenario.rank_rtol, solver);
        let stepper = Stepper::new(scenario.integrator, 0.0, &theta0, &mut field)?;
        let c0 = field.last_stats().cost;
        let keep = Keep {
            theta: scenario.record.theta,
            outputs: scenario.record.outputs,
            singular_values: scenario.record.singular_values,
        };
        let k = field.model.k();
        let mut session = Session {
            scenario,
            field,
            stepper,
            s_max,
            every_s,
            next_record: 0,
            keep,
            samples: vec![],
            events: vec![],
            status: Status::Running,
            c0,
            sample_ws: Workspace::default(),
            measured_stop: None,
            scratch: vec![0.0; k],
            end: None,
            end_note: None,
            refused_rest: false,
            step_rank: None,
            crawl_mark: (0.0, 0),
            below_qn: false,
            auto_escapes: 0,
            trap: None,
            rank_check: None,
            budget: None,
            work_ms: 0.0,
            spectrum_ms: 0.0,
            last_spectral: None,
        };
        session.trap = session.new_trap_tracker();
        session.start_rank_policy(0.0)?;
        session.record_until(0.0)?;
        if let (Some(f), Some(first)) = (&session.scenario.rank_formula, session.samples.first()) {
            session.rank_check = Some(f.check(first.rank));
        }
        if let Some(eps) = session.scenario.stop.cost_below {
            if c0 <= eps {
                session.measured_stop = Some(0.0);
                session.finish(
                    Status::CostBelow,
                    Event::new(
                        0.0,
                        EventKind::CostBelow {
                            cost: c0,
                            epsilon: None,
                        },
                        format!("C(0) = {c0:.3e} is already ≤ ε = {eps:.3e}"),
                    ),
                );
            }
        }
        if session.s_max == 0.0 && !session.finished() {
            session.finish(
                Status::SMax,
                Event::new(
                    0.0,
                    EventKind::SMax,
                    "s_max = 0: θ₀ evaluated, no integration".to_string(),
                ),
            );
        }
        Ok(session)
    }

    /// Parses JSON and starts a session (see [`Scenario::from_json`], [`Session::new`]).
    pub fn from_json(text: &str) -> Result<Session> {
        Session::new(&Scenario::from_json(text)?)
    }

    /// The materialized scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Network and data.
    pub fn model(&self) -> &Model {
        &self.field.model
    }

    /// Current `s`.
    pub fn s(&self) -> f64 {
        self.stepper.s()
    }

    /// Current `θ`.
    pub fn theta(&self) -> &[f64] {
        self.stepper.y()
    }

    /// End of the interval.
    pub fn s_max(&self) -> f64 {
        self.s_max
    }

    /// Cost at `s = 0`.
    pub fn initial_cost(&self) -> f64 {
        self.c0
    }

    /// Cost at the current state.
    pub fn cost(&self) -> f64 {
        self.field.last_stats().cost
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Whether the run has ended.
    pub fn finished(&self) -> bool {
        self.status != Status::Running
    }

    /// Samples recorded so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Integrator counters.
    pub fn stats(&self) -> crate::math::integrate::Stats {
        self.stepper.stats
    }

    /// Which solve paths the field evaluations took so far (see [`FlowField::path_counts`]).
    pub fn path_counts(&self) -> PathCounts {
        self.field.path_counts()
    }

    /// The bound vector field (rank policy, path counts).
    pub fn flow_field(&self) -> &FlowField {
        &self.field
    }

    /// The bound vector field, mutable (its workspace holds the last evaluation).
    pub fn flow_field_mut(&mut self) -> &mut FlowField {
        &mut self.field
    }

    /// Field statistics at the current state.
    pub fn field_stats(&self) -> FieldStats {
        self.field.last_stats()
    }

    /// `ε` of the predicted stopping time: `stop.cost_below`.
    pub fn epsilon(&self) -> Option<f64> {
        self.scenario.stop.cost_below
    }

    /// `(N/2) log(C(0)/ε)` (2.41), when `ε` is set and Thm 2.2 applies: the adapted flow with
    /// `rank_used = QN` at every accepted point so far (none for other flows, and none once the
    /// field's rank fell below `QN`). Under the weighted cost the root of
    /// `Σ_j C_j(0)e^{−4s/N_j} = ε` (see [`Session::theory_terms`]).
    pub fn predicted_stopping_time(&self) -> Option<f64> {
        if self.scenario.flow != FlowSpec::Adapted || self.below_qn {
            return None;
        }
        let eps = self.epsilon()?;
        Some(match self.field.model.cost_spec() {
            CostSpec::Mean => {
                diagnostics::predicted_stopping_time(self.field.model.n(), self.c0, eps)
            }
            CostSpec::Weighted => diagnostics::stopping_time_of_terms(&self.theory_terms(), eps),
        })
    }

    /// `C(s) = Σ_k a_k e^{−r_k s}` along the adapted flow while `rank D = QN`, as the pairs
    /// `(a_k, r_k)` from `θ₀` (see [`diagnostics::adapted_cost_terms`]): `(C(0), 2/N)` for the mean
    /// cost, `(C_j(0), 4/N_j)` per class for the weighted one.
    pub fn theory_terms(&self) -> Vec<(f64, f64)> {
        let model = &self.field.model;
        let theta0 = match &self.scenario.init {
            InitSpec::Explicit { theta } => theta.as_slice(),
            // A materialized scenario always holds θ₀; the current θ is the fallback.
            _ => self.stepper.y(),
        };
        diagnostics::adapted_cost_terms(model, &model.outputs(theta0))
    }

    /// First `s` with `C ≤ ε`, when reached.
    pub fn measured_stopping_time(&self) -> Option<f64> {
        self.measured_stop
    }

    fn finish(&mut self, status: Status, event: Event) {
        self.status = status;
        if self.end.is_none() {
            match self.check_rest() {
                Ok(c) => self.end = Some(c),
                Err(e) => self.end_note = Some(format!("the end-point test could not run: {e}")),
            }
        }
        if let Some(iv) = self.trap.as_mut().and_then(TrapTracker::close) {
            self.events.push(Event::trapped(&iv, self.field.model.qn()));
        }
        self.events.push(event);
    }

    /// Prop 3.1 is a statement about the standard flow: only its runs track trapping regions. Its
    /// bound (3.7) uses `|∇ₓC(s)| ≤ |∇ₓC(s₀)|`, true for the mean cost only (under the weighted
    /// one `|∇ₓC_w|` need not decrease): runs with the weighted cost track none.
    fn new_trap_tracker(&self) -> Option<TrapTracker> {
        let spec = self.scenario.trap?;
        (self.scenario.flow == FlowSpec::Standard && self.scenario.cost == CostSpec::Mean)
            .then(|| TrapTracker::new(spec.rho_below, self.field.model.n()))
    }

    /// Takes one integrator step, records samples it passed, and checks every stopping event.
    ///
    /// Returns whether the session is still running. Errors never escape a running session: a
    /// failure ends it with a `non_finite` event.
    pub fn step(&mut self) -> bool {
        let Some(b) = self.budget else {
            return self.step_untimed();
        };
        let t0 = (b.clock)();
        let going = self.step_untimed();
        self.work_ms += (b.clock)() - t0;
        going
    }

    fn step_untimed(&mut self) -> bool {
        if self.finished() {
            return false;
        }
        if let Err(e) = self.stepper.step(&mut self.field, self.s_max) {
            self.fail(e);
            self.record_final();
            return false;
        }
        self.step_rank = self.field.rank_used();
        let y = self.stepper.y().to_vec();
        if self.field.repattern(&y) {
            if let Err(e) = self.stepper.refresh(&mut self.field) {
                self.fail(e);
                self.record_final();
                return false;
            }
        }
        self.field.accept();
        self.note_rank();
        let mut update = self.field.take_update();
        if update.is_none() && self.crawling() {
            update = self.field.crawl();
        }
        if update.as_ref().is_some_and(|(u, _)| u.previous != u.used) {
            // The stored f(y) used the old rank: the next step must start from the new field.
            if let Err(e) = self.stepper.refresh(&mut self.field) {
                self.fail(e);
                self.record_final();
                return false;
            }
        }
        let stats = self.field.last_stats();
        let s = self.stepper.s();
        if let Some(eps) = self.scenario.stop.cost_below {
            if stats.cost <= eps {
                let (s_star, theta) = self.locate_cost_crossing(eps);
                if let Err(e) = self.record_until(s_star) {
                    return self.fail(e);
                }
                self.measured_stop = Some(s_star);
                // Continue from the located point so that the end state is the crossing itself.
                if let Err(e) = self.stepper.restart(s_star, &theta, &mut self.field) {
                    return self.fail(e);
                }
                let c = self.field.last_stats().cost;
                self.finish(
                    Status::CostBelow,
                    Event::new(
                        s_star,
                        EventKind::CostBelow {
                            cost: c,
                            epsilon: Some(eps),
                        },
                        format!("C = {c:.3e} ≤ ε = {eps:.3e} at s = {s_star:.6}"),
                    ),
                );
                self.record_final();
                return false;
            }
        }
        if let Err(e) = self.record_until(s) {
            return self.fail(e);
        }
        if let Some((update, unit)) = update {
            let event = self.rank_event(s, &update, unit);
            if let (
                true,
                EventKind::RankChange {
                    singularity: Some(sing),
                    ..
                },
            ) = (self.scenario.stop.at_singularity, &event.kind)
            {
                let kind = EventKind::BlowUp {
                    rank: update.numerical,
                    rank_used: update.previous,
                    singularity: sing.clone(),
                };
                self.finish(Status::BlowUp, Event::new(s, kind, event.message));
                self.record_final();
                return false;
            }
            self.events.push(event);
        }
        if let Some(going) = self.rest_stop(s, stats) {
            return going;
        }
        if s >= self.s_max {
            self.finish(
                Status::SMax,
                Event::new(
                    s,
                    EventKind::SMax,
                    format!("reached s_max = {}", self.s_max),
                ),
            );
            self.record_final();
            return false;
        }
        let max_steps = self.scenario.stop.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
        if self.stepper.stats.steps >= max_steps {
            self.finish(
                Status::MaxSteps,
                Event::new(
                    s,
                    EventKind::MaxSteps,
                    format!("stopped after {max_steps} steps"),
                ),
            );
            self.record_final();
            return false;
        }
        true
    }

    fn fail(&mut self, e: Error) -> bool {
        let s = self.stepper.s();
        let (status, kind) = match e {
            Error::StepSize(_) => (Status::StepSize, EventKind::StepSize),
            _ => (Status::NonFinite, EventKind::NonFinite),
        };
        self.finish(
            status,
            Event::new(s, kind, format!("stopped at s = {s}: {e}")),
        );
        false
    }

    /// Steps until `s ≥ s_target`, the run ends, or `max_steps` steps were taken; returns the
    /// number of steps taken.
    pub fn advance(&mut self, s_target: f64, max_steps: u64) -> u64 {
        let mut n = 0;
        while n < max_steps && self.s() < s_target && self.step() {
            n += 1;
        }
        n
    }

    /// Runs to the end.
    pub fn run(&mut self) -> &mut Self {
        while self.step() {}
        self
    }

    /// Replaces `θ` at the current `s` (an externally imposed jump such as an escape step), records
    /// `event`, and restarts the integrator there. A finished run (other than `s_max`) resumes.
    ///
    /// Errors: wrong length or non-finite `theta`, or a failing evaluation there.
    pub fn jump(&mut self, theta: &[f64], event: Event) -> Result<()> {
        self.field.model.net.check_theta(theta, "theta")?;
        let s = self.stepper.s();
        self.field.reset_rank_policy();
        self.stepper.restart(s, theta, &mut self.field)?;
        self.events.push(event);
        self.start_rank_policy(s)?;
        if self.status != Status::SMax {
            self.status = Status::Running;
            self.end = None;
            self.end_note = None;
            self.refused_rest = false;
        }
        Ok(())
    }

    /// The current state for drawing.
    pub fn frame(&mut self) -> Frame {
        let stats = self.field.last_stats();
        Frame {
            s: self.s(),
            cost: stats.cost,
            outputs: self.field.model.outputs(self.stepper.y()),
            stationarity: stats.stationarity,
            rank: stats.rank,
            status: self.status,
            steps: self.stepper.stats.steps,
        }
    }

    /// A full diagnostic sample of the current state (SVD included).
    ///
    /// Errors: non-finite state or failed SVD.
    pub fn current_sample(&mut self) -> Result<Sample> {
        let theta = self.stepper.y().to_vec();
        diagnostics::sample(
            &self.field.model,
            &mut self.sample_ws,
            &theta,
            self.stepper.s(),
            self.scenario.rank_rtol,
            self.field.rank_used(),
            Keep {
                theta: true,
                outputs: true,
                singular_values: true,
            },
        )
    }

    /// The rank the field uses now (`None` for flows without rank decisions).
    pub fn rank_used(&self) -> Option<usize> {
        self.field.rank_used()
    }

    /// The run so far as a [`Trace`].
    pub fn trace(&self) -> Trace {
        let model = &self.field.model;
        Trace {
            format: TRACE_FORMAT.into(),
            version: TRACE_VERSION,
            scenario: self.scenario.clone(),
            k: model.k(),
            q: model.q(),
            n: model.n(),
            regime: model.regime(),
            flow: self.scenario.flow.label(),
            rank_rtol: self.scenario.rank_rtol,
            initial_cost: self.c0,
            samples: self.samples.clone(),
            events: self.events.clone(),
            final_state: self.final_state(),
            predicted_stopping_time: self.predicted_stopping_time(),
            measured_stopping_time: self.measured_stop,
            stats: self.stepper.stats,
            rank_formula: self.rank_check.clone(),
        }
    }
}
