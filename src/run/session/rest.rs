//! Where a run rests: the rank decisions along the orbit as events, the rest test at the rank the
//! field used, the stall guard, and the end point's class and sentence.

use super::*;

impl Session {
    /// The stationarity test of an accepted step: where `μ ≤ stop.stationary_below` (or `C` is at
    /// the level of rounding) the rest test runs at the rank the field used; at a rest point the
    /// run ends (`Some`, with whether an automatic escape lets it go on), otherwise a
    /// `not_at_rest` event is written once per approach and the run goes on (`None`).
    pub(super) fn rest_stop(&mut self, s: f64, stats: FieldStats) -> Option<bool> {
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
                    return Some(self.auto_escape());
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
                                crate::math::rank::REST_RTOL
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
        None
    }

    /// Decides the rank at the start point (or after a jump) and re-evaluates the field there
    /// when the decision differs from the numerical rank the first evaluation used.
    pub(super) fn start_rank_policy(&mut self, s: f64) -> Result<()> {
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
    pub(super) fn crawling(&mut self) -> bool {
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
    pub(super) fn note_rank(&mut self) {
        let qn = self.field.model.qn();
        let below = match self.field.rank_used() {
            Some(r) => r < qn,
            None => self.field.model.k() < qn,
        };
        self.below_qn |= below;
    }

    /// `C` at the level of rounding: see [`diagnostics::GLOBAL_COST_RTOL`].
    pub(super) fn is_global(&self, cost: f64) -> bool {
        let m = &self.field.model;
        let y2: f64 = m.y.iter().map(|v| v * v).sum();
        cost <= diagnostics::GLOBAL_COST_RTOL * (y2 / (2.0 * m.n() as f64)).max(1.0)
    }

    /// The rest test at the current state, at the rank the field uses (see
    /// [`diagnostics::rest_check`]).
    pub(super) fn check_rest(&mut self) -> Result<RestCheck> {
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
    pub(super) fn rank_event(&self, s: f64, u: &RankUpdate, unit: Option<(UnitRef, f64)>) -> Event {
        let model = &self.field.model;
        let full = model.k().min(model.qn());
        let rtol = self.scenario.rank_rtol;
        let band_text = if u.band.is_empty() {
            String::new()
        } else {
            format!(
                "; σ/σ_max in the band ({rtol:.0e}, {:.0e}]: {}",
                crate::math::rank::RANK_BAND * rtol,
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
                band_edges: Some([rtol, crate::math::rank::RANK_BAND * rtol]),
                singularity,
            },
            message,
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

    pub(super) fn final_state(&self) -> Final {
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
