//! Live parameters: `α`, `h` and `ε` changed mid-orbit, from the current state on.

use super::*;

impl Session {
    /// Changes parameters mid-orbit, from the current state on (the page's live controls):
    /// `flow` (the homotopy's `α`), `integrator` (a fixed step `h`: gradient descent's learning
    /// rate) and `cost_below` (`ε`; `Some(None)` unsets it). Each changed value is recorded as a
    /// `tune` event; the trace's scenario keeps the values the run started with. A run that
    /// ended at `C ≤ ε` resumes when the new `ε` is below its cost; a running one whose cost is
    /// already below the new `ε` ends there (its first crossing lies before the change and is not
    /// located).
    ///
    /// Errors: a bad `α` (`alpha`), `h` (`integrator.h`) or `ε` (`epsilon`), a change of the
    /// integrator's kind (`integrator`), or a failing evaluation; nothing changes then.
    pub fn tune(
        &mut self,
        flow: Option<FlowSpec>,
        integrator: Option<IntegratorSpec>,
        cost_below: Option<Option<f64>>,
    ) -> Result<()> {
        let old_flow = self.field.spec;
        let old_int = *self.stepper.spec();
        let flow = flow.unwrap_or(old_flow);
        let int = integrator.unwrap_or(old_int);
        flow.validate()?;
        int.validate()?;
        if int.name() != old_int.name() {
            return Err(Error::invalid(
                "integrator",
                format!(
                    "cannot change from {} to {} mid-orbit",
                    old_int.name(),
                    int.name()
                ),
            ));
        }
        if let Some(Some(e)) = cost_below {
            if !(e.is_finite() && e > 0.0) {
                return Err(Error::invalid("epsilon", format!("must be > 0, got {e}")));
            }
        }
        let s = self.stepper.s();
        let mut changes: Vec<(&str, Option<f64>, Option<f64>)> = vec![];
        if flow != old_flow {
            changes.push(("alpha", Some(old_flow.alpha()), Some(flow.alpha())));
        }
        if int != old_int {
            let h = |i: IntegratorSpec| match i {
                IntegratorSpec::Euler { h } | IntegratorSpec::Rk4 { h } => Some(h),
                IntegratorSpec::Rk45 { .. } => None,
            };
            changes.push(("h", h(old_int), h(int)));
        }
        if flow != old_flow || int != old_int {
            let y = self.stepper.y().to_vec();
            self.field.spec = flow;
            if let Err(e) = self.stepper.restart_with(int, s, &y, &mut self.field) {
                self.field.spec = old_flow;
                return Err(e);
            }
        }
        if let Some(eps) = cost_below {
            let previous = self.scenario.stop.cost_below;
            if eps != previous {
                changes.push(("epsilon", previous, eps));
                self.scenario.stop.cost_below = eps;
            }
        }
        for (parameter, previous, value) in changes {
            let show = |v: Option<f64>| v.map_or("none".to_string(), |v| v.to_string());
            self.events.push(Event::new(
                s,
                EventKind::Tune {
                    parameter: parameter.into(),
                    value,
                    previous,
                },
                format!(
                    "{parameter} changed from {} to {} at s = {s:.6}: the orbit after s follows \
                     the new value",
                    show(previous),
                    show(value)
                ),
            ));
        }
        let cost = self.cost();
        match (self.status, self.scenario.stop.cost_below) {
            (Status::CostBelow, eps) if eps.is_none_or(|e| cost > e) && s < self.s_max => {
                self.status = Status::Running;
                self.measured_stop = None;
            }
            (Status::Running, Some(eps)) if cost <= eps => {
                self.finish(
                    Status::CostBelow,
                    Event::new(
                        s,
                        EventKind::CostBelow {
                            cost,
                            epsilon: Some(eps),
                        },
                        format!(
                            "C = {cost:.3e} was already ≤ ε = {eps:.3e} when ε was set at \
                             s = {s:.6}; the first crossing lies before and was not located"
                        ),
                    ),
                );
                self.record_final();
            }
            _ => {}
        }
        Ok(())
    }
}
