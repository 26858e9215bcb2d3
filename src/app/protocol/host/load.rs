//! Loading a scenario into the host: the comparison, its sessions' recording and budgets, and
//! the `loaded` message with the run's info and the data.

use super::*;

impl Host {
    pub(super) fn load(
        &mut self,
        id: u32,
        sc: Scenario,
        flows: Vec<FlowChoice>,
    ) -> Result<Vec<Reply>> {
        // The page shows the singular values of D over s: keep them in every sample (the SVD is
        // computed for each sample anyway). The trace's scenario says so.
        let mut sc = sc;
        sc.record.singular_values = true;
        let mut run = Comparison::new(&sc, &flows)?;
        // The eigenmode view projects every sample's outputs: keep them where they fit.
        let qn = run.lanes()[0].session.model().qn();
        let samples = run.s_max() / run.every_s() + 2.0;
        if !sc.record.outputs && qn <= MAX_MODES_QN && qn as f64 * samples <= MODES_KEEP {
            sc.record.outputs = true;
            return self.load(id, sc, flows);
        }
        if let Some(clock) = self.clock {
            for lane in run.lanes_mut() {
                lane.session
                    .set_spectrum_budget(Some(crate::run::session::SpectrumBudget {
                        share: SPECTRUM_SHARE,
                        clock,
                    }));
            }
        }
        self.epoch += 1;
        self.built = None;
        self.mode = Mode::Paused;
        let lanes = run.lanes().len();
        self.sent_samples = vec![0; lanes];
        self.sent_events = vec![0; lanes];
        self.busy = vec![(0, 0.0); lanes];
        if self.heat.is_some_and(|h| h.lane >= lanes) {
            self.heat = None;
        }
        self.heat_due = self.heat.is_some();
        self.network.on_load(lanes);
        let first = &run.lanes()[0].session;
        let model = first.model();
        let inputs = model.data.input_rows();
        let n = model.n();
        let trail: Vec<usize> = (0..n).step_by(n.div_ceil(MAX_TRAIL_SAMPLES)).collect();
        let trail_every = if trail.len() * model.q() <= 512 {
            run.every_s() / 16.0
        } else {
            run.every_s() / 2.0
        };
        let cols: Vec<f64> = trail
            .iter()
            .flat_map(|&j| inputs[j].iter().copied())
            .collect();
        self.trail = Trails {
            inputs: DMatrix::from_column_slice(model.data.m(), trail.len(), &cols),
            every: trail_every,
            last: vec![0.0; lanes],
            pending: vec![vec![]; lanes],
            count: vec![0; lanes],
        };
        for (i, lane) in run.lanes().iter().enumerate() {
            self.trail.record(i, lane);
        }
        let sv_total = model.k().min(model.qn());
        let info = RunInfo {
            epoch: self.epoch,
            name: sc.name.clone(),
            k: model.k(),
            q: model.q(),
            n: model.n(),
            m: model.data.m(),
            classes: model.data.classes(),
            qn: model.qn(),
            regime: model.regime(),
            c0: first.initial_cost(),
            epsilon: first.epsilon(),
            predicted: first.predicted_stopping_time(),
            cost: model.cost_spec(),
            theory: first.theory_terms(),
            s_max: run.s_max(),
            every_s: run.every_s(),
            lanes: run
                .lanes()
                .iter()
                .map(|l| LaneInfo {
                    choice: l.choice,
                    label: l.choice.label(),
                    color: crate::plot::css(crate::plot::flow_color(l.choice.color_index())),
                })
                .collect(),
            labels: model.data.labels.clone(),
            bounds: plane_bounds(&inputs),
            trail,
            trail_every,
            sv: sv_total.min(MAX_SINGULAR_VALUES),
            sv_total,
            rank_rtol: first.scenario().rank_rtol,
            rank_formula: first.trace().rank_formula,
            inspectable: model.k().saturating_mul(model.qn()) <= inspect::MAX_CRITICAL_WORK,
        };
        let mut bulk: Vec<f64> = inputs.into_iter().flatten().collect();
        bulk.extend(model.data.targets.iter().flatten());
        bulk.extend(model.outputs(first.theta()));
        self.family = match &self.family_alphas {
            // A family that cannot be built is dropped: the page asks again when it wants one.
            Some(a) => FamilyRun::new(&run, a).ok(),
            None => None,
        };
        self.modes.reload(&run);
        self.run = Some(run);
        self.loaded = Some((sc, flows));
        self.info = Some(info.clone());
        let mut out = vec![
            Reply {
                msg: FromWorker::Loaded { id, info },
                bulk,
            },
            self.frame(id, None),
        ];
        if self.family.is_some() {
            out.push(self.family_reply(self.family_id));
        }
        out.extend(self.modes.reply(self.run.as_ref(), self.epoch));
        Ok(out)
    }
}
