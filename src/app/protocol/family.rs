//! A homotopy family run alongside the lanes, and the output trails both record.

use super::MAX_FAMILY_SAMPLES;
use crate::app::inspect;
use crate::error::Result;
use crate::run::lanes::{Comparison, Lane};
use nalgebra::DMatrix;

/// Output trails of a few samples, recorded after steps at least `every` apart in `s`: the
/// standard flow moves fast early, far faster than the sample grid shows.
#[derive(Debug, Clone, Default)]
pub(super) struct Trails {
    pub(super) inputs: DMatrix<f64>,
    pub(super) every: f64,
    pub(super) last: Vec<f64>,
    pub(super) pending: Vec<Vec<f64>>,
    pub(super) count: Vec<usize>,
}

impl Trails {
    pub(super) fn record(&mut self, i: usize, lane: &Lane) {
        let ses = &lane.session;
        let out = &mut self.pending[i];
        out.push(ses.s());
        out.extend_from_slice(
            ses.model()
                .net
                .forward(ses.theta(), &self.inputs)
                .as_slice(),
        );
        self.last[i] = ses.s();
        self.count[i] += 1;
    }

    pub(super) fn after_step(&mut self, i: usize, lane: &Lane) {
        let s = lane.session.s();
        if s - self.last[i] >= self.every || (lane.session.finished() && s > self.last[i]) {
            self.record(i, lane);
        }
    }
}

/// A homotopy family run alongside the lanes (see [`ToWorker::Family`]).
#[derive(Debug)]
pub(super) struct FamilyRun {
    pub(super) run: Comparison,
    pub(super) trail: Trails,
    pub(super) samples: Vec<usize>,
    pub(super) alphas: Vec<f64>,
    pub(super) norms0: Vec<f64>,
    pub(super) ends: Vec<Option<Vec<f64>>>,
    pub(super) changed: bool,
}

impl FamilyRun {
    pub(super) fn new(lanes: &Comparison, alphas: &[f64]) -> Result<FamilyRun> {
        let run = Comparison::family(lanes.base(), alphas)?;
        let first = &run.lanes()[0].session;
        let model = first.model();
        let n = model.n();
        let samples: Vec<usize> = (0..n).step_by(n.div_ceil(MAX_FAMILY_SAMPLES)).collect();
        let rows = model.data.input_rows();
        let cols: Vec<f64> = samples
            .iter()
            .flat_map(|&j| rows[j].iter().copied())
            .collect();
        let members = run.lanes().len();
        let mut trail = Trails {
            inputs: DMatrix::from_column_slice(model.data.m(), samples.len(), &cols),
            every: lanes.every_s() / 8.0,
            last: vec![0.0; members],
            pending: vec![vec![]; members],
            count: vec![0; members],
        };
        for (i, lane) in run.lanes().iter().enumerate() {
            trail.record(i, lane);
        }
        let norms0 =
            inspect::field_norms(model, first.theta(), alphas, first.scenario().rank_rtol)?;
        let mut fam = FamilyRun {
            run,
            trail,
            samples,
            alphas: alphas.to_vec(),
            norms0,
            ends: vec![None; members],
            changed: true,
        };
        fam.update_ends();
        Ok(fam)
    }

    /// Evaluates every homotopy field at the end point of each member that has just ended.
    pub(super) fn update_ends(&mut self) {
        for (lane, end) in self.run.lanes().iter().zip(self.ends.iter_mut()) {
            if end.is_none() && lane.session.finished() {
                let ses = &lane.session;
                *end = Some(
                    inspect::field_norms(
                        ses.model(),
                        ses.theta(),
                        &self.alphas,
                        ses.scenario().rank_rtol,
                    )
                    .unwrap_or_else(|_| vec![f64::NAN; self.alphas.len()]),
                );
                self.changed = true;
            }
        }
    }

    /// Whether some member is still running below `target`.
    pub(super) fn behind(&self, target: f64) -> bool {
        self.run
            .lanes()
            .iter()
            .any(|l| !l.session.finished() && l.session.s() < target)
    }
}
