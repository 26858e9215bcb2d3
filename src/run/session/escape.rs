//! Escapes from rest points and the critical-submanifold analyses of the current point.

use super::*;

impl Session {
    /// After a `stationary` stop: attempts the escape (4.15)–(4.17) if the scenario asks for it
    /// and the budget `escape.max` allows; returns whether the run goes on.
    pub(super) fn auto_escape(&mut self) -> bool {
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
}
