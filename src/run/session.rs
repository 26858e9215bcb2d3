//! A run in progress: owns `θ`, the integrator and the history; emits samples, events, frames and
//! finally a [`Trace`].

use crate::error::{Error, Result};
use crate::math::critical::{self, CriticalSubmanifold, Diagnosis, Escape, RankCheck, TrapTracker};
use crate::math::diagnostics::{self, Keep, Rest, RestCheck, Sample};
use crate::math::fast::{PathCounts, Solver};
use crate::math::flow::{
    eval_field_capped, FieldStats, FlowSpec, RankChoice, RankPolicy, RankReason, RankUpdate,
    Workspace,
};
use crate::math::integrate::{Stepper, System};
use crate::math::model::Model;
use crate::math::units::UnitRef;
use crate::run::event::{Event, EventKind, RestInfo, Singularity};
use crate::run::scenario::{
    Final, Materialized, Scenario, Trace, DEFAULT_MAX_STEPS, DEFAULT_STATIONARY_BELOW,
    TRACE_FORMAT, TRACE_VERSION,
};
use serde::{Deserialize, Serialize};

/// The flow's vector field bound to its model, as an integrable [`System`].
#[derive(Debug, Clone)]
pub struct FlowField {
    /// Network and data.
    pub model: Model,
    /// Which flow.
    pub spec: FlowSpec,
    /// Rank tolerance of the `D⁺` solve.
    pub rank_rtol: f64,
    ws: Workspace,
    last: FieldStats,
    policy: RankPolicy,
    update: Option<(RankUpdate, Option<(UnitRef, f64)>)>,
    counts: PathCounts,
}

impl FlowField {
    /// Binds `spec` to `model`.
    pub fn new(model: Model, spec: FlowSpec, rank_rtol: f64) -> Self {
        FlowField {
            model,
            spec,
            rank_rtol,
            ws: Workspace::default(),
            last: FieldStats::default(),
            policy: RankPolicy::default(),
            update: None,
            counts: PathCounts::default(),
        }
    }

    /// What the most recent evaluation saw. Every integrator's last evaluation in an accepted step
    /// is at the step's end point, so after a step this describes the current state.
    pub fn last_stats(&self) -> FieldStats {
        self.last
    }

    /// Binds `spec` to `model`, evaluating the `D⁺` part with `solver`.
    pub fn with_solver(model: Model, spec: FlowSpec, rank_rtol: f64, solver: Solver) -> Self {
        let mut f = FlowField::new(model, spec, rank_rtol);
        f.ws.set_solver(solver);
        f
    }

    /// For a piecewise-linear activation: freezes the activation pattern of the point `y` (the
    /// signs of its pre-activations) for the next step, so that the field is smooth over the
    /// whole step. Returns whether the pattern changed (the field at `y` must then be evaluated
    /// again, see [`Stepper::refresh`]).
    pub fn repattern(&mut self, y: &[f64]) -> bool {
        if !self.model.net.activation().is_piecewise_linear() {
            return false;
        }
        let mut fw = crate::math::net::Forward::default();
        self.model
            .net
            .forward_into(y, &self.model.data.inputs, &mut fw);
        let p = fw.sign_pattern();
        if self.ws.pattern() == Some(&p) {
            return false;
        }
        self.ws.set_pattern(Some(p));
        true
    }

    /// Decides the rank at an accepted state (the most recent evaluation must be there); the
    /// change, if any, is kept for [`Self::take_update`].
    ///
    /// Only an SVD computed by that evaluation feeds the decision. A fast solve runs only while
    /// the field uses every singular value, after certifying `σ_min/σ_max` above the band with a
    /// condition estimate (see [`crate::math::fast`]): the rank stays full then.
    pub fn accept(&mut self) {
        self.update = None;
        if !self.spec.needs_svd() {
            return;
        }
        if let Some(svd) = self.ws.computed_svd() {
            let ug = svd.output_coordinates(self.ws.grad_x());
            if let Some(u) = self.policy.update(&svd.sigma, &ug, self.rank_rtol) {
                let unit = u.singular.and_then(|(i, _, _)| {
                    let v: Vec<f64> = svd.theta_vectors().column(i).iter().copied().collect();
                    crate::math::units::dominant(&self.model.net, &v)
                });
                self.update = Some((u, unit));
            }
        } else if self.last.rank.is_some() {
            let full = self.model.k().min(self.model.qn());
            if let Some(prev) = self.policy.certify_full() {
                self.update = Some((
                    RankUpdate {
                        previous: prev,
                        used: full,
                        numerical: full,
                        reason: RankReason::Recovered,
                        band: vec![],
                        singular: None,
                        stalled: false,
                    },
                    None,
                ));
            }
        }
    }

    /// After a stall (see [`RankPolicy::crawl`]): the SVD at the current point decides whether a
    /// small singular value carrying most of the field is the cause; returns the drop with the
    /// unit that dominates its singular vector.
    pub fn crawl(&mut self) -> Option<(RankUpdate, Option<(UnitRef, f64)>)> {
        if !self.spec.needs_svd() || self.ws.ensure_jacobian().is_err() {
            return None;
        }
        let g = self.ws.grad_x().to_vec();
        let svd = self.ws.svd(self.rank_rtol).ok()?;
        let ug = svd.output_coordinates(&g);
        let u = self.policy.crawl(&svd.sigma, &ug, self.rank_rtol)?;
        let unit = u.singular.and_then(|(i, _, _)| {
            let v: Vec<f64> = svd.theta_vectors().column(i).iter().copied().collect();
            crate::math::units::dominant(&self.model.net, &v)
        });
        Some((u, unit))
    }

    /// The rank change decided by the last [`Self::accept`], with the unit that dominates a
    /// dropped singular vector, taken (a second call returns `None`).
    pub fn take_update(&mut self) -> Option<(RankUpdate, Option<(UnitRef, f64)>)> {
        self.update.take()
    }

    /// The rank the field uses for the current step; `None` for flows without rank decisions
    /// (standard, gradient descent) or before the first accepted point.
    pub fn rank_used(&self) -> Option<usize> {
        (self.spec.needs_svd() && self.policy.started()).then(|| {
            self.policy
                .cap()
                .unwrap_or(self.model.k().min(self.model.qn()))
        })
    }

    /// Which solve paths the evaluations so far took (and how often they fell back to the SVD).
    pub fn path_counts(&self) -> PathCounts {
        self.counts
    }

    /// The rank policy (hysteresis of rank decisions along the orbit).
    pub fn rank_policy(&self) -> RankPolicy {
        self.policy
    }

    /// Forgets the rank history (after an imposed jump of `θ`).
    pub fn reset_rank_policy(&mut self) {
        self.policy.reset();
    }

    /// The workspace of the most recent evaluation.
    pub fn workspace(&mut self) -> &mut Workspace {
        &mut self.ws
    }
}

impl System for FlowField {
    fn dim(&self) -> usize {
        self.model.k()
    }

    fn eval(&mut self, y: &[f64], dy: &mut [f64]) -> Result<()> {
        // The Jacobian is formed inside the field evaluation only if its path needs it.
        self.ws.forward(&self.model, y)?;
        let choice = if !self.policy.started() {
            RankChoice::Numerical
        } else {
            self.policy.cap().map_or(RankChoice::All, RankChoice::Fixed)
        };
        let stats = eval_field_capped(&self.spec, &mut self.ws, self.rank_rtol, choice, dy);
        self.counts.record(&self.ws.solve_info());
        self.last = stats?;
        Ok(())
    }
}

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
    /// field's rank fell below `QN`).
    pub fn predicted_stopping_time(&self) -> Option<f64> {
        if self.scenario.flow != FlowSpec::Adapted || self.below_qn {
            return None;
        }
        self.epsilon()
            .map(|eps| diagnostics::predicted_stopping_time(self.field.model.n(), self.c0, eps))
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

    /// Prop 3.1 is a statement about the standard flow: only its runs track trapping regions.
    fn new_trap_tracker(&self) -> Option<TrapTracker> {
        let spec = self.scenario.trap?;
        (self.scenario.flow == FlowSpec::Standard)
            .then(|| TrapTracker::new(spec.rho_below, self.field.model.n()))
    }

    fn push_sample_at(&mut self, s: f64, theta: &[f64]) -> Result<()> {
        let smp = diagnostics::sample(
            &self.field.model,
            &mut self.sample_ws,
            theta,
            s,
            self.scenario.rank_rtol,
            self.step_rank,
            self.keep,
        )?;
        if !self.finished() {
            if let Some(iv) = self.trap.as_mut().and_then(|t| t.feed(&smp)) {
                self.events.push(Event::trapped(&iv, self.field.model.qn()));
            }
        }
        self.samples.push(smp);
        Ok(())
    }

    /// Records every grid sample `k·every_s ≤ s_upto` not yet recorded, from the dense output.
    fn record_until(&mut self, s_upto: f64) -> Result<()> {
        loop {
            let s_rec = self.next_record as f64 * self.every_s;
            if s_rec > s_upto * (1.0 + 1e-12) || s_rec > self.s_max * (1.0 + 1e-12) {
                return Ok(());
            }
            let mut theta = std::mem::take(&mut self.scratch);
            if self.stepper.s() == s_rec || self.stepper.stats.steps == 0 {
                theta.copy_from_slice(self.stepper.y());
            } else {
                self.stepper.dense(s_rec, &mut theta);
            }
            let r = self.push_sample_at(s_rec, &theta);
            self.scratch = theta;
            r?;
            self.next_record += 1;
        }
    }

    /// Records the current state as a sample if the last sample is not already at this `s`.
    fn record_final(&mut self) {
        let s = self.stepper.s();
        if self.samples.last().is_some_and(|p| p.s >= s) {
            return;
        }
        let theta = self.stepper.y().to_vec();
        // A failure here (e.g. non-finite state) leaves the trace without a final sample: the
        // event already says why.
        let _ = self.push_sample_at(s, &theta);
    }

    /// Locates `s* ∈ [prev_s, s]` with `C(θ(s*)) = ε` on the dense output (Illinois method).
    fn locate_cost_crossing(&mut self, eps: f64) -> (f64, Vec<f64>) {
        let model = &self.field.model;
        let mut theta = vec![0.0; model.k()];
        let cost_at = |s: f64, stepper: &Stepper, theta: &mut Vec<f64>| -> f64 {
            stepper.dense(s, theta);
            model.cost(theta)
        };
        let (mut a, mut b) = (self.stepper.prev_s(), self.stepper.s());
        let mut fa = cost_at(a, &self.stepper, &mut theta) - eps;
        let mut fb = cost_at(b, &self.stepper, &mut theta) - eps;
        if fa <= 0.0 {
            b = a;
            fb = fa;
        }
        let mut side = 0i8;
        for _ in 0..200 {
            if fb > 0.0 || (b - a).abs() <= 1e-14 * b.abs().max(1.0) {
                break;
            }
            let c = if fa.is_finite() && fb.is_finite() && fa != fb {
                (a * fb - b * fa) / (fb - fa)
            } else {
                0.5 * (a + b)
            };
            let c = if c > a && c < b { c } else { 0.5 * (a + b) };
            let fc = cost_at(c, &self.stepper, &mut theta) - eps;
            if fc > 0.0 {
                a = c;
                fa = fc;
                if side == -1 {
                    fb *= 0.5;
                }
                side = -1;
            } else {
                b = c;
                fb = fc;
                if side == 1 {
                    fa *= 0.5;
                }
                side = 1;
            }
        }
        self.stepper.dense(b, &mut theta);
        (b, theta)
    }

    /// Takes one integrator step, records samples it passed, and checks every stopping event.
    ///
    /// Returns whether the session is still running. Errors never escape a running session: a
    /// failure ends it with a `non_finite` event.
    pub fn step(&mut self) -> bool {
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
        let stat_tol = self
            .scenario
            .stop
            .stationary_below
            .unwrap_or(DEFAULT_STATIONARY_BELOW);
        if stats.stationarity <= stat_tol || self.is_global(stats.cost) {
            match self.check_rest() {
                Ok(check) if check.rest.at_rest() => {
                    let msg = rest_sentence(&check, stats.stationarity, stat_tol);
                    let rest = RestInfo::from(&check);
                    let kind = if check.rest == Rest::GlobalMinimum {
                        EventKind::GlobalMinimum {
                            cost: check.cost,
                            rest,
                        }
                    } else {
                        EventKind::Stationary {
                            stationarity: stats.stationarity,
                            cost: stats.cost,
                            rest: Some(rest),
                        }
                    };
                    self.finish(Status::Stationary, Event::new(s, kind, msg));
                    self.end = Some(check);
                    self.record_final();
                    return self.auto_escape();
                }
                Ok(check) => {
                    if !self.refused_rest {
                        self.refused_rest = true;
                        self.events.push(Event::new(
                            s,
                            EventKind::NotAtRest {
                                stationarity: stats.stationarity,
                                proj_ratio: Some(check.proj_ratio),
                                rank: Some(check.rank),
                                rank_used: Some(check.rank_used),
                            },
                            format!(
                                "μ = {:.2e} ≤ {stat_tol:.0e}, but |𝒫∇ₓC|/|∇ₓC| = {:.2e} at \
                                     rank_used = {} (numerical rank {}): not a rest point (a rest \
                                     needs ≤ {:.0e}); the flow goes on",
                                stats.stationarity,
                                check.proj_ratio,
                                check.rank_used,
                                check.rank,
                                crate::math::flow::REST_RTOL
                            ),
                        ));
                    }
                }
                Err(e) => {
                    if !self.refused_rest {
                        self.refused_rest = true;
                        self.events.push(Event::new(
                            s,
                            EventKind::NotAtRest {
                                stationarity: stats.stationarity,
                                proj_ratio: None,
                                rank: None,
                                rank_used: None,
                            },
                            format!(
                                "μ = {:.2e} ≤ {stat_tol:.0e}, but the rest test could not run \
                                 ({e}); the flow goes on",
                                stats.stationarity
                            ),
                        ));
                    }
                }
            }
        } else if stats.stationarity > 10.0 * stat_tol {
            self.refused_rest = false;
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

    /// After a `stationary` stop: attempts the escape (4.15)–(4.17) if the scenario asks for it
    /// and the budget `escape.max` allows; returns whether the run goes on.
    fn auto_escape(&mut self) -> bool {
        let spec = self.scenario.escape;
        if !spec.auto || self.auto_escapes >= spec.max || self.field.last_stats().grad_x_norm == 0.0
        {
            return false;
        }
        self.auto_escapes += 1;
        match self.escape() {
            Ok(Escape::Escaped(_)) => !self.finished(),
            Ok(Escape::NoEscape { .. }) => false,
            Err(e) => {
                let s = self.stepper.s();
                self.events.push(Event::new(
                    s,
                    EventKind::NoEscape { at: None },
                    format!("the escape attempt failed: {e}"),
                ));
                false
            }
        }
    }

    /// Attempts one escape from the current `θ` (the page's Escape button), verified by the full
    /// Hessian (see [`critical::attempt`]); the rest test is taken at the rank the field used.
    ///
    /// On success `θ` jumps to `θ₀'` with an `escape` event and the run resumes (a run that ended
    /// at `s_max` stays ended); otherwise a `no_escape` event records why (not at rest, a strict
    /// minimum, undecided at second order) and nothing changes. Backtracking parameters come from
    /// the scenario's `escape`.
    ///
    /// Errors: non-finite state or failed decompositions; the session is unchanged then.
    pub fn escape(&mut self) -> Result<Escape> {
        let theta = self.stepper.y().to_vec();
        let s = self.stepper.s();
        let (_, outcome) = critical::attempt(
            &self.field.model,
            &theta,
            self.scenario.rank_rtol,
            self.field.rank_used(),
            &self.scenario.escape,
        )?;
        let event = Event::of_escape(s, &outcome);
        match &outcome {
            Escape::Escaped(step) => {
                if let Some(iv) = self.trap.as_mut().and_then(TrapTracker::close) {
                    self.events.push(Event::trapped(&iv, self.field.model.qn()));
                }
                self.jump(&step.theta_after(), event)?;
                self.trap = self.new_trap_tracker();
            }
            Escape::NoEscape { .. } => self.events.push(event),
        }
        Ok(outcome)
    }

    /// Automatic escapes done so far.
    pub fn auto_escapes(&self) -> u32 {
        self.auto_escapes
    }

    /// Classifies the current `θ`: rank-loss equilibrium, trapping, … (see [`critical::diagnose`]);
    /// thresholds from the scenario's `escape.equilibrium_rtol` and `trap.rho_below` (default 1e-3).
    ///
    /// Errors: non-finite state or a failed SVD.
    pub fn diagnose(&self) -> Result<Diagnosis> {
        critical::diagnose(
            &self.field.model,
            self.stepper.y(),
            self.scenario.rank_rtol,
            self.scenario.escape.equilibrium_rtol,
            self.scenario.trap.map_or(1e-3, |t| t.rho_below),
        )
    }

    /// The critical submanifold through the current `θ`: chosen columns, `g_α`, normal vectors,
    /// dimension `K − r`, the Hessian on the normal bundle (for readouts and the cost slice).
    ///
    /// Errors: non-finite state or failed decompositions.
    pub fn critical_submanifold(&self) -> Result<CriticalSubmanifold> {
        CriticalSubmanifold::at(&self.field.model, self.stepper.y(), self.scenario.rank_rtol)
    }

    /// The least-squares (DAE) form (4.5)–(4.6) at the current `θ`: `Ψ`, `∂ₛθ = DᵀΨ` and the
    /// output velocity `DDᵀΨ = −𝒫∇ₓC`, from the NTK (see [`critical::dae_solve`]).
    ///
    /// Errors: non-finite state or a failed eigensolver.
    pub fn dae(&self) -> Result<critical::DaeSolution> {
        let mut ws = Workspace::default();
        ws.evaluate(&self.field.model, self.stepper.y())?;
        critical::dae_solve(ws.dt(), ws.grad_x(), self.scenario.rank_rtol)
    }

    /// `C` on the plane through `theta_star` (default: the current `θ`) spanned by `normal`
    /// (default: the normal direction of least Rayleigh quotient, the escape direction) and a
    /// tangent vector of `M_crit` (seeded), on an `n × n` grid of half width `half` — the page's
    /// slice heatmap. Draw an escape step with [`critical::CostSlice::coords`] of its
    /// `theta_before + step·direction`.
    ///
    /// Errors: see [`critical::normal_tangent_slice`].
    pub fn cost_slice(
        &self,
        theta_star: Option<&[f64]>,
        normal: Option<&[f64]>,
        half: f64,
        n: usize,
    ) -> Result<critical::CostSlice> {
        critical::normal_tangent_slice(
            &self.field.model,
            theta_star.unwrap_or(self.stepper.y()),
            normal,
            self.scenario.rank_rtol,
            half,
            n,
            self.scenario.seed,
        )
    }

    /// Decides the rank at the start point (or after a jump) and re-evaluates the field there
    /// when the decision differs from the numerical rank the first evaluation used.
    fn start_rank_policy(&mut self, s: f64) -> Result<()> {
        let y = self.stepper.y().to_vec();
        if self.field.repattern(&y) {
            self.stepper.refresh(&mut self.field)?;
        }
        let first = self.field.last_stats().rank;
        self.field.accept();
        self.note_rank();
        self.step_rank = self.field.rank_used();
        if let Some((update, unit)) = self.field.take_update() {
            if first != Some(update.used) {
                let theta = self.stepper.y().to_vec();
                self.stepper.restart(s, &theta, &mut self.field)?;
            }
            let event = self.rank_event(s, &update, unit);
            self.events.push(event);
        }
        Ok(())
    }

    /// Whether the integration has stalled: at the pace of the last [`CRAWL_WINDOW`] accepted
    /// steps, `s_max` would need more steps than the budget `stop.max_steps` has left.
    fn crawling(&mut self) -> bool {
        let steps = self.stepper.stats.steps;
        if steps == 0 || !steps.is_multiple_of(CRAWL_WINDOW) {
            return false;
        }
        let s = self.stepper.s();
        let (s0, n0) = std::mem::replace(&mut self.crawl_mark, (s, steps));
        let ds = s - s0;
        let max_steps = self.scenario.stop.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
        let left = max_steps.saturating_sub(steps) as f64;
        n0 < steps && ds > 0.0 && (self.s_max - s) / ds * (steps - n0) as f64 > left
    }

    /// Records whether the field's rank is below `QN` at the accepted point (Thm 2.1's hypothesis).
    fn note_rank(&mut self) {
        let qn = self.field.model.qn();
        let below = match self.field.rank_used() {
            Some(r) => r < qn,
            None => self.field.model.k() < qn,
        };
        self.below_qn |= below;
    }

    /// `C` at the level of rounding: see [`diagnostics::GLOBAL_COST_RTOL`].
    fn is_global(&self, cost: f64) -> bool {
        let m = &self.field.model;
        let y2: f64 = m.y.iter().map(|v| v * v).sum();
        cost <= diagnostics::GLOBAL_COST_RTOL * (y2 / (2.0 * m.n() as f64)).max(1.0)
    }

    /// The rest test at the current state, at the rank the field uses (see
    /// [`diagnostics::rest_check`]).
    fn check_rest(&mut self) -> Result<RestCheck> {
        let theta = self.stepper.y().to_vec();
        diagnostics::rest_check(
            &self.field.model,
            &mut self.sample_ws,
            &theta,
            self.scenario.rank_rtol,
            self.field.rank_used(),
        )
    }

    /// The `rank_change` event of a rank decision, with the band and, for an approach to a
    /// singularity, the unit that dominates the vanishing singular vector.
    fn rank_event(&self, s: f64, u: &RankUpdate, unit: Option<(UnitRef, f64)>) -> Event {
        let model = &self.field.model;
        let full = model.k().min(model.qn());
        let rtol = self.scenario.rank_rtol;
        let band_text = if u.band.is_empty() {
            String::new()
        } else {
            format!(
                "; σ/σ_max in the band ({rtol:.0e}, {:.0e}]: {}",
                crate::math::flow::RANK_BAND * rtol,
                u.band
                    .iter()
                    .map(|b| format!("{b:.1e}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let dae = if u.used < full {
            format!(
                "the field is the DAE (4.5) at rank {} < min(K, QN) = {full}",
                u.used
            )
        } else {
            format!("the field uses full rank {full}")
        };
        let message = match (u.reason, u.singular) {
            (RankReason::Singular, Some((i, share, ratio))) => {
                let who = unit.map_or(String::new(), |(w, sh)| {
                    format!(
                        "; {} carries {:.0}% of that singular vector",
                        w.describe(&model.net),
                        100.0 * sh
                    )
                });
                let stall = if u.stalled {
                    " (the integration stalled: at its pace s_max needs more steps than \
                     stop.max_steps leaves)"
                } else {
                    ""
                };
                format!(
                    "approach to a singularity at s = {s:.6}{stall}: σ_{}/σ_max = {ratio:.2e} \
                     carries {:.0}% of |∂ₛθ|², which grows like 1/σ as σ → 0{who}; {}{band_text}",
                    i + 1,
                    100.0 * share,
                    if self.scenario.stop.at_singularity {
                        "the run stops (stop.at_singularity)".to_string()
                    } else {
                        format!("dropping it: {dae}")
                    }
                )
            }
            (RankReason::BelowNoise, _) => format!(
                "the integration stalled at s = {s:.6}: σ_{} of D is kept but its component of \
                 ∇ₓC is below the rounding floor of the solve, so the field along it is rounding \
                 noise (∝ 1/σ²); dropping it changes the field by less than its error: {dae}\
                 {band_text}",
                u.previous
            ),
            _ if u.previous == u.used => format!(
                "rank_used = {} (numerical rank {}): {dae}{band_text}",
                u.used, u.numerical
            ),
            _ => format!(
                "rank_used {} → {} ({}; numerical rank {}): {dae}{band_text}",
                u.previous,
                u.used,
                u.reason.name().replace('_', " "),
                u.numerical
            ),
        };
        let singularity = u
            .singular
            .map(|(index, field_share, sigma_ratio)| Singularity {
                index,
                sigma_ratio,
                field_share,
                stalled: u.stalled,
                unit_layer: unit.map(|(w, _)| w.layer),
                unit: unit.map(|(w, _)| w.unit),
                unit_share: unit.map(|(_, sh)| sh),
                unit_text: unit.map(|(w, _)| w.describe(&model.net)),
            });
        Event::new(
            s,
            EventKind::RankChange {
                rank: u.numerical,
                previous_rank: u.previous,
                dae: u.used < full,
                rank_used: Some(u.used),
                reason: Some(u.reason),
                band: u.band.clone(),
                band_edges: Some([rtol, crate::math::flow::RANK_BAND * rtol]),
                singularity,
            },
            message,
        )
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

    /// The rest class of the end point, once the run has ended (see [`Rest`]).
    pub fn rest(&self) -> Option<Rest> {
        if !self.finished() {
            return None;
        }
        let at_rest = self
            .end
            .as_ref()
            .filter(|c| c.rest.at_rest())
            .map(|c| c.rest);
        Some(match (at_rest, self.status) {
            (Some(r), _) => r,
            (None, Status::BlowUp | Status::NonFinite) => Rest::BlowUp,
            (None, _) if self.end.is_none() => return None,
            (None, _) => Rest::Moving,
        })
    }

    /// The end-point test, once the run has ended (absent when it could not run).
    pub fn end_check(&self) -> Option<&RestCheck> {
        self.end.as_ref()
    }

    /// The end-point sentence (see [`Final::sentence`]), once the run has ended.
    pub fn end_sentence(&self) -> Option<String> {
        let m = &self.field.model;
        self.finished().then(|| {
            self.final_state()
                .sentence(m.k(), m.qn(), self.scenario.rank_rtol)
        })
    }

    /// The rank the field uses now (`None` for flows without rank decisions).
    pub fn rank_used(&self) -> Option<usize> {
        self.field.rank_used()
    }

    fn final_state(&self) -> Final {
        let end = self.end.as_ref().filter(|_| self.finished());
        Final {
            s: self.s(),
            cost: self.cost(),
            theta: self.theta().to_vec(),
            reason: self.status.name().into(),
            rank: end.map(|c| c.rank),
            rank_used: end.map(|c| c.rank_used),
            rest: self.rest(),
            proj_ratio: end.map(|c| c.proj_ratio),
            identity_error: end.map(|c| c.identity_error),
            band: end.map(|c| c.band.clone()).unwrap_or_default(),
            note: self.end_note.clone().filter(|_| self.finished()),
        }
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

/// Accepted steps per window of the stall test (see `Session::crawling`).
pub const CRAWL_WINDOW: u64 = 500;

/// The sentence of the event that ends a run at a rest point.
fn rest_sentence(c: &RestCheck, mu: f64, tol: f64) -> String {
    match c.rest {
        Rest::GlobalMinimum => format!(
            "a global minimum: C = {:.3e}, the outputs are at their targets to rounding",
            c.cost
        ),
        Rest::RegularRest => format!(
            "at rest (Thm 5.1): μ = {mu:.2e} ≤ {tol:.0e}; |𝒫∇ₓC|/|∇ₓC| = {:.1e} at full \
                 rank_used = {}, C = {:.6e} = (N/2)|𝒫^⊥∇ₓC|² to {:.0e}",
            c.proj_ratio,
            c.rank_used,
            c.cost,
            c.identity_error.max(1e-16)
        ),
        _ => format!(
            "a rest point of the DAE (4.5) at rank_used = {} < min(K, QN) = {} (numerical \
                 rank {}): μ = {mu:.2e} ≤ {tol:.0e}; |𝒫∇ₓC|/|∇ₓC| = {:.1e}, C = {:.6e} = \
                 (N/2)|𝒫^⊥∇ₓC|² to {:.0e}",
            c.rank_used,
            c.full,
            c.rank,
            c.proj_ratio,
            c.cost,
            c.identity_error.max(1e-16)
        ),
    }
}
