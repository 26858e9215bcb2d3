//! Samples on the grid of `s`: the diagnostics of each, the spectra on a time budget on the
//! page, the final sample, and the located crossing of `C = ε`.

use super::*;

impl Session {
    /// Puts the spectral part of later samples (rank, `σ`, `λ_min`, `𝒫` — a dense `D` and its SVD,
    /// which on a large network cost many field evaluations) on a time budget: a sample computes
    /// its spectrum only while the spectra so far took at most `share` of the session's stepping
    /// time, else it reuses the last one and says from which `s` ([`Sample::spectrum_s`]). The
    /// first sample and the end point's always compute theirs. `None` (the default, the CLI's):
    /// every sample computes its own, and traces rerun bit for bit.
    pub fn set_spectrum_budget(&mut self, budget: Option<SpectrumBudget>) {
        self.budget = budget;
    }

    pub(super) fn push_sample_at(&mut self, s: f64, theta: &[f64]) -> Result<()> {
        self.push_sample(s, theta, false)
    }

    pub(super) fn push_sample(&mut self, s: f64, theta: &[f64], force: bool) -> Result<()> {
        let due = match (&self.budget, &self.last_spectral) {
            (Some(b), Some(_)) => force || self.spectrum_ms <= b.share * self.work_ms,
            _ => true,
        };
        let smp = match (&self.last_spectral, due) {
            (Some(last), false) => diagnostics::sample_reusing(
                &self.field.model,
                &mut self.sample_ws,
                theta,
                s,
                self.step_rank,
                self.keep,
                last,
            )?,
            _ => {
                let t0 = self.budget.map(|b| (b.clock)());
                let smp = diagnostics::sample(
                    &self.field.model,
                    &mut self.sample_ws,
                    theta,
                    s,
                    self.scenario.rank_rtol,
                    self.step_rank,
                    self.keep,
                )?;
                if let (Some(b), Some(t0)) = (self.budget, t0) {
                    self.spectrum_ms += (b.clock)() - t0;
                }
                if self.budget.is_some() {
                    self.last_spectral = Some(smp.clone());
                }
                smp
            }
        };
        if !self.finished() {
            if let Some(iv) = self.trap.as_mut().and_then(|t| t.feed(&smp)) {
                self.events.push(Event::trapped(&iv, self.field.model.qn()));
            }
        }
        self.samples.push(smp);
        Ok(())
    }

    /// Records every grid sample `k·every_s ≤ s_upto` not yet recorded, from the dense output.
    pub(super) fn record_until(&mut self, s_upto: f64) -> Result<()> {
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
    pub(super) fn record_final(&mut self) {
        let s = self.stepper.s();
        let mut stale = None;
        if let Some(last) = self.samples.last() {
            if last.s >= s && last.spectrum_s.is_none() {
                return;
            }
            if last.s >= s {
                // The grid's sample at the end reused an older spectrum (the page's budget): the
                // end point's own replaces it, so the final rank and σ are measured there.
                stale = self.samples.pop();
            }
        }
        let theta = self.stepper.y().to_vec();
        // A failure here (e.g. non-finite state) leaves the trace without a fresh final sample:
        // the event already says why, and a replaced sample comes back.
        if self.push_sample(s, &theta, true).is_err() {
            self.samples.extend(stale);
        }
    }

    /// Locates `s* ∈ [prev_s, s]` with `C(θ(s*)) = ε` on the dense output (Illinois method).
    pub(super) fn locate_cost_crossing(&mut self, eps: f64) -> (f64, Vec<f64>) {
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
}
