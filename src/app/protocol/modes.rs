//! The eigenmode view in the worker: the NTK's eigenvectors at `θ₀`, every lane's output error
//! projected on them at each recorded sample, and one lane's error in the eigenvectors of its
//! current NTK (the moving basis) as it runs.

use super::{FromWorker, ModesHeader, Reply};
use crate::math::eigenmodes::{chosen_modes, NtkModes};
use crate::run::lanes::Comparison;
use crate::run::scenario::InitSpec;

/// Largest `QN` for the eigenmode view: one `QN × QN` symmetric eigensolve at `θ₀` when the view
/// opens or the run loads, and the outputs `x̲` kept in every sample (`QN` numbers each).
pub const MAX_MODES_QN: usize = 512;
/// Largest `QN` for the moving basis, one eigensolve per sample spacing of the followed lane.
pub const MAX_MOVING_QN: usize = 128;

/// Whether the host runs the eigenmode view, for which lane, and for which request.
#[derive(Debug, Clone, Default)]
pub(super) struct ModesView {
    run: Option<ModesRun>,
    lane: Option<usize>,
    id: u32,
}

impl ModesView {
    /// Turns the view on for `lane` (decomposing the NTK at `θ₀` of `run`) or off (`None`).
    pub(super) fn set(&mut self, run: Option<&Comparison>, lane: Option<usize>, id: u32) {
        self.lane = lane;
        self.id = id;
        self.run = lane.zip(run).map(|(l, r)| ModesRun::new(r, l));
    }

    /// A new comparison: the view starts over on it (its `θ₀` is new).
    pub(super) fn reload(&mut self, run: &Comparison) {
        let lanes = run.lanes().len();
        self.run = self.lane.map(|l| ModesRun::new(run, l.min(lanes - 1)));
    }

    /// After a tick: the followed lane's moving basis (see [`ModesRun::follow`]).
    pub(super) fn follow(&mut self, run: &Comparison) {
        if let Some(m) = self.run.as_mut() {
            m.follow(run);
        }
    }

    /// The next `modes` message, when there is something new.
    pub(super) fn reply(&mut self, run: Option<&Comparison>, epoch: u32) -> Option<Reply> {
        let (modes, bulk) = self.run.as_mut()?.reply(run?, epoch)?;
        Some(Reply {
            msg: FromWorker::Modes { id: self.id, modes },
            bulk,
        })
    }
}

/// What the worker keeps for the eigenmode view.
#[derive(Debug, Clone)]
pub(super) struct ModesRun {
    /// The lane whose moving basis is followed.
    lane: usize,
    basis: Option<NtkModes>,
    modes: Vec<usize>,
    rank0: usize,
    e0_norm: f64,
    note: Option<String>,
    moving_note: Option<String>,
    sent: Vec<usize>,
    next_moving: f64,
    moving: Vec<f64>,
    moving_count: usize,
    header_sent: bool,
}

impl ModesRun {
    /// Decomposes the NTK at the comparison's `θ₀` (or notes why not) and follows `lane`.
    pub(super) fn new(run: &Comparison, lane: usize) -> ModesRun {
        let ses = &run.lanes()[0].session;
        let model = ses.model();
        let qn = model.qn();
        let mut me = ModesRun {
            lane,
            basis: None,
            modes: vec![],
            rank0: 0,
            e0_norm: 0.0,
            note: None,
            moving_note: None,
            sent: vec![0; run.lanes().len()],
            next_moving: 0.0,
            moving: vec![],
            moving_count: 0,
            header_sent: false,
        };
        if qn > MAX_MODES_QN {
            me.note = Some(format!(
                "QN = {qn} is too large for the eigenmode view here (at most {MAX_MODES_QN}: one \
                 QN × QN eigensolve, and the outputs kept at every sample): use fewer points"
            ));
            return me;
        }
        // The comparison's base scenario is materialized: its `init` is θ₀ itself.
        let theta0 = match &run.base().init {
            InitSpec::Explicit { theta } => theta.clone(),
            _ => ses.theta().to_vec(),
        };
        match NtkModes::at(model, &theta0) {
            Ok(b) => {
                me.modes = chosen_modes(qn);
                me.rank0 = b.rank(ses.scenario().rank_rtol);
                let e0: Vec<f64> = b.outputs.iter().zip(&model.y).map(|(x, y)| x - y).collect();
                me.e0_norm = crate::linalg::norm(&e0);
                me.basis = Some(b);
            }
            Err(e) => me.note = Some(format!("the NTK at θ₀ could not be decomposed: {e}")),
        }
        if qn > MAX_MOVING_QN {
            me.moving_note = Some(format!(
                "QN = {qn}: the moving basis (one eigensolve per sample spacing) is computed up to \
                 QN = {MAX_MOVING_QN}"
            ));
        }
        me
    }

    /// After the lanes advanced: the followed lane's error in its current NTK's eigenvectors,
    /// once per sample spacing of `s` (at the tick's end, outside the lanes' timed steps).
    pub(super) fn follow(&mut self, run: &Comparison) {
        if self.moving_note.is_some() || self.basis.is_none() {
            return;
        }
        let Some(lane) = run.lanes().get(self.lane) else {
            return;
        };
        let ses = &lane.session;
        if ses.s() < self.next_moving {
            return;
        }
        let model = ses.model();
        match NtkModes::at(model, ses.theta()) {
            Ok(m) => {
                let e: Vec<f64> = m.outputs.iter().zip(&model.y).map(|(x, y)| x - y).collect();
                let k0 = &self.basis.as_ref().expect("checked above").ntk;
                self.moving.push(ses.s());
                self.moving.push(crate::linalg::norm(&e));
                self.moving.push(m.drift_from(k0));
                self.moving.extend(m.project(&self.modes, &e));
                self.moving_count += 1;
                self.next_moving = ses.s() + run.every_s();
            }
            Err(e) => {
                self.moving_note = Some(format!("the moving basis stopped at s = {}: {e}", ses.s()))
            }
        }
    }

    /// The next message, or `None` when nothing is new. Bulk: per lane `new_points[i]` points of
    /// `1 + m` numbers (`s`, then `a_i = ⟨u_i⁰, e(s)⟩` of the `m` modes) from its recorded samples,
    /// then `new_moving` points of `3 + m` (`s`, `|e|`, the kernel drift, the moving `a_i`).
    pub(super) fn reply(
        &mut self,
        run: &Comparison,
        epoch: u32,
    ) -> Option<(ModesHeader, Vec<f64>)> {
        let mut bulk = vec![];
        let mut new_points = vec![0; run.lanes().len()];
        if let Some(b) = &self.basis {
            for (i, lane) in run.lanes().iter().enumerate() {
                let y = &lane.session.model().y;
                for smp in &lane.session.samples()[self.sent[i]..] {
                    let Some(x) = &smp.outputs else { continue };
                    let e: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
                    bulk.push(smp.s);
                    bulk.extend(b.project(&self.modes, &e));
                    new_points[i] += 1;
                }
                self.sent[i] = lane.session.samples().len();
            }
        }
        let new_moving = std::mem::take(&mut self.moving_count);
        bulk.append(&mut self.moving);
        if self.header_sent && new_moving == 0 && new_points.iter().all(|&n| n == 0) {
            return None;
        }
        let fresh = !self.header_sent;
        self.header_sent = true;
        let ses = &run.lanes()[0].session;
        let lambdas = self.basis.as_ref().map_or(vec![], |b| {
            self.modes.iter().map(|&i| b.lambdas[i]).collect()
        });
        Some((
            ModesHeader {
                epoch,
                lane: self.lane,
                qn: ses.model().qn(),
                n: ses.model().n(),
                modes: self.modes.clone(),
                lambdas,
                lambda_max: self.basis.as_ref().map_or(0.0, |b| b.lambdas[0]),
                rank0: self.rank0,
                rank_rtol: ses.scenario().rank_rtol,
                e0_norm: self.e0_norm,
                note: self.note.clone(),
                moving_note: self.moving_note.clone(),
                new_points,
                new_moving,
                fresh,
            },
            bulk,
        ))
    }
}
