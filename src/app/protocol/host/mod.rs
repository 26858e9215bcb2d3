//! The [`Host`]: owns the comparison and every session, and answers the page's requests.

use super::family::{FamilyRun, Trails};
use super::heat::{heat_size, heat_values, plane_bounds, HeatSpec};
use super::modes::{ModesView, MAX_MODES_QN};
use super::network::NetworkView;
use super::*;
use crate::run::lanes::{Comparison, Lane};
use crate::run::scenario::Scenario;
use nalgebra::DMatrix;

mod load;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Paused,
    Playing,
    Stepping(f64),
    Until,
}

/// Owns the sessions and answers the page: the whole worker, minus the message plumbing.
#[derive(Debug)]
pub struct Host {
    run: Option<Comparison>,
    loaded: Option<(Scenario, Vec<FlowChoice>)>,
    info: Option<RunInfo>,
    epoch: u32,
    mode: Mode,
    run_id: u32,
    speed: Option<f64>,
    play_target: f64,
    last_tick: Option<f64>,
    heat: Option<HeatSpec>,
    last_heat: f64,
    heat_due: bool,
    sent_samples: Vec<usize>,
    sent_events: Vec<usize>,
    trail: Trails,
    busy: Vec<(u64, f64)>,
    budget_ms: f64,
    idle: bool,
    family: Option<FamilyRun>,
    family_alphas: Option<Vec<f64>>,
    family_id: u32,
    /// The last construction, kept to classify new inputs.
    built: Option<inspect::Built>,
    network: NetworkView,
    modes: ModesView,
    clock: Option<fn() -> f64>,
}

/// Most outputs `x̲` kept per lane for the eigenmode view (`QN` per sample): 32 MB.
const MODES_KEEP: f64 = 4e6;

impl Default for Host {
    fn default() -> Self {
        Host::new()
    }
}

impl Host {
    /// An empty host: nothing loaded, paused, full speed.
    pub fn new() -> Host {
        Host {
            run: None,
            loaded: None,
            info: None,
            epoch: 0,
            mode: Mode::Paused,
            run_id: 0,
            speed: None,
            play_target: 0.0,
            last_tick: None,
            heat: None,
            last_heat: f64::NEG_INFINITY,
            heat_due: false,
            sent_samples: vec![],
            sent_events: vec![],
            trail: Trails::default(),
            busy: vec![],
            budget_ms: DEFAULT_BUDGET_MS,
            idle: false,
            family: None,
            family_alphas: None,
            family_id: 0,
            built: None,
            network: NetworkView::default(),
            modes: ModesView::default(),
            clock: None,
        }
    }

    /// Gives the host a clock (milliseconds, monotone): with it the lanes' sample spectra run on
    /// a time budget ([`SPECTRUM_SHARE`]) from the next load on.
    pub fn set_clock(&mut self, clock: fn() -> f64) {
        self.clock = Some(clock);
    }

    /// The handshake message.
    pub fn ready() -> FromWorker {
        FromWorker::Ready {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// Sets the integration budget per tick (milliseconds).
    pub fn set_budget_ms(&mut self, ms: f64) {
        self.budget_ms = ms.max(1.0);
    }

    /// The loaded comparison, if any.
    pub fn comparison(&self) -> Option<&Comparison> {
        self.run.as_ref()
    }

    /// Whether [`Host::tick`] has work to do: the lanes are running, or a homotopy family is
    /// behind the furthest lane.
    pub fn wants_tick(&self) -> bool {
        (self.mode != Mode::Paused && self.run.is_some()) || self.family_behind()
    }

    /// The `s` a homotopy family follows: the furthest lane's while a lane runs, the members'
    /// own ends (infinity) once every lane has ended.
    fn family_target(&self) -> Option<f64> {
        self.run.as_ref().map(|r| {
            if r.finished() {
                f64::INFINITY
            } else {
                r.lanes().iter().map(|l| l.session.s()).fold(0.0, f64::max)
            }
        })
    }

    fn family_behind(&self) -> bool {
        match (&self.family, self.family_target()) {
            (Some(f), Some(t)) => f.behind(t),
            _ => false,
        }
    }

    /// The homotopy family's lanes, if one runs.
    pub fn family(&self) -> Option<&Comparison> {
        self.family.as_ref().map(|f| &f.run)
    }

    /// How long the caller may wait before the next tick: 0 while there is work, a frame's
    /// worth when a speed limit holds the lanes back.
    pub fn idle_ms(&self) -> f64 {
        if self.idle {
            16.0
        } else {
            0.0
        }
    }

    /// Answers one message (as the page sent it). `now` is the caller's clock in milliseconds.
    pub fn handle(&mut self, v: Value, now: f64) -> Vec<Reply> {
        match Request::from_value(v) {
            Ok(req) => self.handle_request(req, now),
            Err(r) => vec![FromWorker::error(r.id, &r.error).into()],
        }
    }

    /// Answers one parsed request.
    pub fn handle_request(&mut self, req: Request, now: f64) -> Vec<Reply> {
        let id = req.id;
        match self.dispatch(req, now) {
            Ok(replies) => replies,
            Err(e) => vec![FromWorker::error(Some(id), &e).into()],
        }
    }

    fn need_run(&self) -> Result<&Comparison> {
        self.run
            .as_ref()
            .ok_or_else(|| Error::State("nothing is loaded yet: send `load` first".into()))
    }

    fn dispatch(&mut self, req: Request, now: f64) -> Result<Vec<Reply>> {
        let id = req.id;
        let ack = || vec![Reply::from(FromWorker::Ack { id })];
        match req.msg {
            ToWorker::Load { scenario, flows } => {
                let sc = Scenario::from_json(&scenario)?;
                self.load(id, sc, flows)
            }
            ToWorker::Reset {} => {
                let (sc, flows) = self.loaded.clone().ok_or_else(|| {
                    Error::State("nothing is loaded yet: send `load` first".into())
                })?;
                self.load(id, sc, flows)
            }
            ToWorker::Play {} => {
                let s = self.need_run()?.s();
                self.mode = Mode::Playing;
                self.run_id = id;
                self.play_target = s;
                self.last_tick = Some(now);
                Ok(ack())
            }
            ToWorker::RunUntil {} => {
                self.need_run()?;
                self.mode = Mode::Until;
                self.run_id = id;
                Ok(ack())
            }
            ToWorker::Step {} => {
                let run = self.need_run()?;
                let target = run.s() + run.every_s();
                self.mode = Mode::Stepping(target);
                self.run_id = id;
                Ok(ack())
            }
            ToWorker::Pause {} => {
                self.need_run()?;
                self.mode = Mode::Paused;
                Ok(vec![self.frame(id, None)])
            }
            ToWorker::Speed { s_per_second } => {
                if let Some(v) = s_per_second {
                    if !(v.is_finite() && v > 0.0) {
                        return Err(Error::invalid(
                            "s_per_second",
                            format!("must be > 0 or null (full speed), got {v}"),
                        ));
                    }
                }
                self.speed = s_per_second;
                Ok(ack())
            }
            ToWorker::Heatmap { lane, size } => {
                if !(4..=MAX_HEAT_SIZE).contains(&size) {
                    return Err(Error::invalid(
                        "size",
                        format!("must be in 4..={MAX_HEAT_SIZE}, got {size}"),
                    ));
                }
                let Some(lane) = lane else {
                    self.heat = None;
                    return Ok(ack());
                };
                let run = self.need_run()?;
                if lane >= run.lanes().len() {
                    return Err(Error::invalid(
                        "lane",
                        format!("is {lane} but there are {} lanes", run.lanes().len()),
                    ));
                }
                self.heat = Some(HeatSpec { lane, size });
                self.heat_due = true;
                if self.mode == Mode::Paused {
                    Ok(vec![self.frame(id, None)])
                } else {
                    Ok(ack())
                }
            }
            ToWorker::Trace { lane } => {
                let l = self.need_lane(lane)?;
                Ok(vec![FromWorker::Trace {
                    id,
                    lane,
                    json: l.session.trace().to_json(),
                }
                .into()])
            }
            ToWorker::Critical { lane, size } => Ok(vec![self.critical(id, lane, size)?]),
            ToWorker::Escape { lane } => {
                self.need_lane(lane)?;
                let run = self.run.as_mut().expect("need_lane checked it");
                run.lanes_mut()[lane].session.escape()?;
                // The jump shows as a straight segment of the output trails.
                self.trail.record(lane, &run.lanes()[lane]);
                let mut out = vec![self.frame(id, None)];
                match self.critical(id, lane, inspect::DEFAULT_SLICE_SIZE) {
                    Ok(r) => out.push(r),
                    Err(e) => out.push(FromWorker::error(Some(id), &e).into()),
                }
                Ok(out)
            }
            ToWorker::Construct { theorem, mu } => {
                let ses = &self.need_run()?.lanes()[0].session;
                let request = inspect::ConstructRequest { theorem, mu };
                let (mut report, bulk, built) = inspect::construction_report_with(
                    ses.model(),
                    ses.scenario().rank_rtol,
                    &request,
                );
                report.epoch = self.epoch;
                self.built = built;
                Ok(vec![Reply {
                    msg: FromWorker::Construction { id, report },
                    bulk,
                }])
            }
            ToWorker::Classify { x } => {
                self.need_run()?;
                let mut report = inspect::classify(self.built.as_ref(), &x)?;
                report.epoch = self.epoch;
                Ok(vec![FromWorker::Classified { id, report }.into()])
            }
            ToWorker::Tune { h, alpha, epsilon } => {
                let run = self.run.as_mut().ok_or_else(|| {
                    Error::State("nothing is loaded yet: send `load` first".into())
                })?;
                let info = self.info.as_mut().expect("a run has its info");
                super::tune::tune(run, info, self.loaded.as_mut(), h, alpha, epsilon)?;
                let info = info.clone();
                Ok(vec![
                    FromWorker::Tuned { id, info }.into(),
                    self.frame(id, None),
                ])
            }
            ToWorker::Eigenmodes { lane } => {
                if let Some(l) = lane {
                    self.need_lane(l)?;
                }
                self.modes.set(self.run.as_ref(), lane, id);
                Ok(match self.modes.reply(self.run.as_ref(), self.epoch) {
                    Some(r) => vec![r],
                    None => ack(),
                })
            }
            ToWorker::Network { lane } => {
                if let Some(l) = lane {
                    self.need_lane(l)?;
                }
                self.network.set(lane);
                if lane.is_some() && self.mode == Mode::Paused {
                    Ok(vec![self.frame(id, None)])
                } else {
                    Ok(ack())
                }
            }
            ToWorker::Family { alphas } => match alphas {
                None => {
                    self.family = None;
                    self.family_alphas = None;
                    Ok(ack())
                }
                Some(a) => {
                    let fam = FamilyRun::new(self.need_run()?, &a)?;
                    self.family = Some(fam);
                    self.family_alphas = Some(a);
                    self.family_id = id;
                    Ok(vec![self.family_reply(id)])
                }
            },
        }
    }

    fn need_lane(&self, lane: usize) -> Result<&Lane> {
        let run = self.need_run()?;
        run.lanes().get(lane).ok_or_else(|| {
            Error::invalid(
                "lane",
                format!("is {lane} but there are {} lanes", run.lanes().len()),
            )
        })
    }

    fn critical(&self, id: u32, lane: usize, size: usize) -> Result<Reply> {
        let l = self.need_lane(lane)?;
        let (mut report, bulk) = inspect::critical_report(lane, &l.session, size)?;
        report.epoch = self.epoch;
        Ok(Reply {
            msg: FromWorker::Critical { id, report },
            bulk,
        })
    }

    fn family_reply(&mut self, id: u32) -> Reply {
        let epoch = self.epoch;
        let target = self.family_target().filter(|t| t.is_finite());
        let fam = self.family.as_mut().expect("a family runs");
        fam.changed = false;
        let mut bulk = vec![];
        let mut members = vec![];
        for (i, lane) in fam.run.lanes().iter().enumerate() {
            bulk.append(&mut fam.trail.pending[i]);
            let ses = &lane.session;
            members.push(FamilyMember {
                alpha: match lane.choice {
                    FlowChoice::Homotopy { alpha } => alpha,
                    FlowChoice::Adapted => 1.0,
                    _ => 0.0,
                },
                s: ses.s(),
                cost: ses.cost(),
                status: ses.status(),
                new_trail: std::mem::take(&mut fam.trail.count[i]),
                end_norms: fam.ends[i].clone(),
            });
        }
        Reply {
            msg: FromWorker::Family {
                id,
                family: FamilyHeader {
                    epoch,
                    samples: fam.samples.clone(),
                    norms0: fam.norms0.clone(),
                    members,
                    target,
                },
            },
            bulk,
        }
    }

    /// Integrates for up to the budget and returns the messages to post: a frame when the lanes
    /// ran, the family's progress when a homotopy family ran (nothing when all is paused).
    ///
    /// `clock` gives milliseconds; it is read once per step to honour the budget.
    pub fn tick(&mut self, clock: &mut dyn FnMut() -> f64) -> Vec<Reply> {
        if !self.wants_tick() {
            return vec![];
        }
        let now = clock();
        let mut out = vec![];
        let mut lanes_idle = true;
        if self.mode != Mode::Paused && self.run.is_some() {
            // A family catching up gets half of the budget.
            let share = if self.family_behind() { 0.5 } else { 1.0 };
            let (reply, idle) = self.tick_lanes(now, self.budget_ms * share, clock);
            lanes_idle = idle;
            out.push(reply);
            if let Some(run) = self.run.as_ref() {
                self.modes.follow(run);
            }
            out.extend(self.modes.reply(self.run.as_ref(), self.epoch));
        }
        if let Some(r) = self.tick_family(now + self.budget_ms, clock) {
            out.push(r);
        }
        self.idle = lanes_idle && !self.family_behind();
        out
    }

    fn tick_family(&mut self, deadline: f64, clock: &mut dyn FnMut() -> f64) -> Option<Reply> {
        let target = self.family_target()?;
        let fam = self.family.as_mut()?;
        if fam.behind(target) {
            let trails = &mut fam.trail;
            let adv = fam.run.advance(target, deadline, clock, &mut |i, lane| {
                trails.after_step(i, lane)
            });
            if adv.steps.iter().any(|&n| n > 0) {
                fam.changed = true;
            }
        }
        fam.update_ends();
        if !fam.changed {
            return None;
        }
        Some(self.family_reply(self.family_id))
    }

    fn tick_lanes(
        &mut self,
        now: f64,
        budget: f64,
        clock: &mut dyn FnMut() -> f64,
    ) -> (Reply, bool) {
        let (mode, speed) = (self.mode, self.speed);
        let run = self.run.as_mut().expect("tick checked it");
        let s_now = run.s();
        let target = match mode {
            Mode::Paused => unreachable!("tick checked it"),
            Mode::Playing => match speed {
                None => f64::INFINITY,
                Some(v) => {
                    let dt = (now - self.last_tick.unwrap_or(now)).clamp(0.0, 100.0);
                    // Never run ahead of what the lanes can do by more than a quarter second.
                    self.play_target = (self.play_target + v * dt / 1000.0).min(s_now + v * 0.25);
                    self.play_target
                }
            },
            Mode::Stepping(t) => t,
            Mode::Until => f64::INFINITY,
        };
        self.last_tick = Some(now);
        let trails = &mut self.trail;
        let adv = run.advance(target, now + budget, clock, &mut |i, lane| {
            trails.after_step(i, lane)
        });
        let idle = !adv.out_of_time;
        for (b, (n, ms)) in self.busy.iter_mut().zip(adv.steps.iter().zip(&adv.ms)) {
            b.0 += n;
            b.1 += ms;
        }
        let t = now + adv.ms.iter().sum::<f64>();
        let mut stopped = None;
        if run.finished() {
            stopped = Some(
                run.lanes()
                    .iter()
                    .map(|l| format!("{}: {}", l.choice.key(), l.session.status().name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            self.mode = Mode::Paused;
        } else if let Mode::Stepping(target) = mode {
            if run.s() >= target {
                self.mode = Mode::Paused;
                stopped = Some("step".into());
            }
        }
        if self.heat.is_some() && t - self.last_heat >= HEAT_EVERY_MS {
            self.heat_due = true;
        }
        self.network.tick(t);
        if self.mode == Mode::Paused {
            self.heat_due |= self.heat.is_some();
            self.network.paused();
        }
        let progress =
            (mode == Mode::Until).then(|| run.progress(run.lanes()[0].session.epsilon()));
        let id = self.run_id;
        if self.heat_due {
            self.last_heat = t;
        }
        (self.frame_with(id, stopped, progress), idle)
    }

    fn frame(&mut self, id: u32, stopped: Option<String>) -> Reply {
        self.heat_due |= self.heat.is_some() && self.mode == Mode::Paused;
        if self.mode == Mode::Paused {
            self.network.paused();
        }
        self.frame_with(id, stopped, None)
    }

    fn frame_with(&mut self, id: u32, stopped: Option<String>, progress: Option<f64>) -> Reply {
        let info = self.info.as_ref().expect("frames follow a load");
        let (classes, sv) = (info.classes, info.sv);
        let run = self.run.as_mut().expect("frames follow a load");
        let mut bulk = Vec::new();
        let mut lanes = Vec::with_capacity(run.lanes().len());
        for (i, lane) in run.lanes_mut().iter_mut().enumerate() {
            let f = lane.session.frame();
            bulk.extend_from_slice(&f.outputs);
            let samples = &lane.session.samples()[self.sent_samples[i]..];
            for smp in samples {
                encode_sample(smp, classes, sv, &mut bulk);
            }
            let new_samples = samples.len();
            bulk.append(&mut self.trail.pending[i]);
            let new_trail = std::mem::take(&mut self.trail.count[i]);
            self.sent_samples[i] += new_samples;
            // The page shows messages and marks; vectors (θ before an escape, directions) stay in
            // the trace, where they cost nothing per frame.
            let events: Vec<Event> = lane.session.events()[self.sent_events[i]..]
                .iter()
                .map(Event::without_vectors)
                .collect();
            self.sent_events[i] += events.len();
            let (n, ms) = self.busy[i];
            lanes.push(LaneFrame {
                s: f.s,
                cost: f.cost,
                status: f.status,
                steps: f.steps,
                evals: lane.session.stats().evals,
                rank: lane.session.samples().last().map(|p| p.rank),
                spectrum_age: lane
                    .session
                    .samples()
                    .last()
                    .and_then(|p| p.spectrum_s.map(|at| p.s - at))
                    .unwrap_or(0.0),
                rank_used: lane.session.rank_used(),
                rest: lane.session.rest(),
                end: lane.session.end_sentence(),
                stationarity: f.stationarity,
                steps_per_s: if ms > 0.0 {
                    n as f64 * 1000.0 / ms
                } else {
                    0.0
                },
                measured: lane.session.measured_stopping_time(),
                new_samples,
                new_trail,
                events,
            });
        }
        let mut heat = None;
        if self.heat_due {
            self.heat_due = false;
            if let (Some(spec), Some(bounds)) = (self.heat, info.bounds) {
                let ses = &run.lanes()[spec.lane].session;
                // Coarse while running, refined once paused.
                let size = heat_size(ses.model(), spec.size, self.mode != Mode::Paused);
                bulk.extend(heat_values(ses.model(), ses.theta(), bounds, size));
                heat = Some(HeatHeader {
                    lane: spec.lane,
                    size,
                    bounds,
                });
            }
        }
        let network = self.network.take(run, info.bounds).map(|(h, b)| {
            bulk.extend(b);
            h
        });
        Reply {
            msg: FromWorker::Frame {
                id,
                frame: FrameHeader {
                    epoch: self.epoch,
                    running: self.mode != Mode::Paused,
                    progress,
                    stopped,
                    lanes,
                    heat,
                    network,
                },
            },
            bulk,
        }
    }
}
