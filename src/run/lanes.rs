//! Several flows from the same `θ₀` on the same data, advanced in lockstep on one time axis `s`.
//!
//! The page compares any subset of gradient descent (Euler with learning rate `h`), the standard
//! flow (RK45), the adapted flow and the homotopy `α`. Each is a [`Lane`]: its own [`Session`] on
//! a copy of one materialized scenario, so data and `θ₀` are identical bit for bit. Lanes advance
//! round-robin, always stepping the one furthest behind, so that at any moment they are within one
//! integrator step of each other on the shared axis.

use crate::error::{Error, Result};
use crate::math::flow::FlowSpec;
use crate::math::integrate::IntegratorSpec;
use crate::run::scenario::Scenario;
use crate::run::session::Session;
use serde::{Deserialize, Serialize};

/// Which flows a comparison may hold (at most one lane of each kind).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum FlowChoice {
    /// `∂ₛθ = −D⁺∇ₓC` with the scenario's integrator.
    Adapted,
    /// `∂ₛθ = −Dᵀ∇ₓC` with RK45 (the scenario's tolerances when it uses RK45).
    Standard,
    /// Gradient descent: the standard field with explicit Euler, learning rate `h` (`s = steps·h`).
    Gd {
        /// Learning rate (Euler step in `s`).
        h: f64,
    },
    /// `−(1−α)Dᵀ∇ₓC − αD⁺∇ₓC` with the scenario's integrator.
    Homotopy {
        /// Blend `α ∈ [0, 1]`.
        alpha: f64,
    },
}

/// Default learning rate of the gradient-descent lane.
pub const DEFAULT_GD_H: f64 = 0.05;
/// Most members of a homotopy family ([`Comparison::family`]).
pub const MAX_FAMILY: usize = 8;

impl FlowChoice {
    /// The kind as written in URLs: `adapted`, `standard`, `gd`, `homotopy`.
    pub fn key(&self) -> &'static str {
        match self {
            FlowChoice::Adapted => "adapted",
            FlowChoice::Standard => "standard",
            FlowChoice::Gd { .. } => "gd",
            FlowChoice::Homotopy { .. } => "homotopy",
        }
    }

    /// Legend text, e.g. `gradient descent h=0.05`.
    pub fn label(&self) -> String {
        match self {
            FlowChoice::Adapted => "adapted".into(),
            FlowChoice::Standard => "standard (RK45)".into(),
            FlowChoice::Gd { h } => format!("gradient descent h={h}"),
            FlowChoice::Homotopy { alpha } => format!("homotopy α={alpha}"),
        }
    }

    /// Index of the flow's colour in the page's palette: the colour of a flow is fixed by its kind
    /// on every figure (the colours themselves are the plots' business).
    pub fn color_index(&self) -> usize {
        match self {
            FlowChoice::Adapted => 0,
            FlowChoice::Standard => 1,
            FlowChoice::Gd { .. } => 2,
            FlowChoice::Homotopy { .. } => 3,
        }
    }

    /// The flow as the command line writes it: `adapted`, `standard`, `gd:H`, `homotopy:A`.
    pub fn name(&self) -> String {
        match self {
            FlowChoice::Adapted => "adapted".into(),
            FlowChoice::Standard => "standard".into(),
            FlowChoice::Gd { h } => format!("gd:{h}"),
            FlowChoice::Homotopy { alpha } => format!("homotopy:{alpha}"),
        }
    }

    /// Reads a [`FlowChoice::name`]; `gd` alone has the page's learning rate [`DEFAULT_GD_H`],
    /// `homotopy` alone `α = 0.5`.
    ///
    /// Errors: an unknown flow or a value that is not a number or out of range, naming `field`.
    pub fn parse(text: &str, field: &str) -> Result<FlowChoice> {
        let (kind, value) = match text.split_once(':') {
            Some((k, v)) => (k, Some(v)),
            None => (text, None),
        };
        let number = |v: Option<&str>, default: f64| -> Result<f64> {
            v.map_or(Ok(default), |v| {
                v.parse::<f64>()
                    .map_err(|_| Error::invalid(field, format!("`{text}`: `{v}` is not a number")))
            })
        };
        let choice = match (kind, value) {
            ("adapted", None) => FlowChoice::Adapted,
            ("standard", None) => FlowChoice::Standard,
            ("gd", v) => FlowChoice::Gd {
                h: number(v, DEFAULT_GD_H)?,
            },
            ("homotopy", v) => FlowChoice::Homotopy {
                alpha: number(v, 0.5)?,
            },
            _ => {
                return Err(Error::invalid(
                    field,
                    format!("`{text}` is not adapted, standard, gd:H or homotopy:ALPHA"),
                ))
            }
        };
        choice
            .validate()
            .map_err(|e| Error::invalid(field, format!("`{text}`: {e}")))?;
        Ok(choice)
    }

    /// Checks `h > 0` and `α ∈ [0, 1]`, naming the field (`h`, `alpha`).
    pub fn validate(&self) -> Result<()> {
        match *self {
            FlowChoice::Gd { h } => {
                if !(h.is_finite() && h > 0.0) {
                    return Err(Error::invalid("h", format!("must be > 0, got {h}")));
                }
            }
            FlowChoice::Homotopy { alpha } => {
                if !(alpha.is_finite() && (0.0..=1.0).contains(&alpha)) {
                    return Err(Error::invalid(
                        "alpha",
                        format!("must be in [0, 1], got {alpha}"),
                    ));
                }
            }
            FlowChoice::Adapted | FlowChoice::Standard => {}
        }
        Ok(())
    }

    /// The scenario of this lane: `base` with its flow and integrator replaced.
    pub fn apply(&self, base: &Scenario) -> Scenario {
        let mut sc = base.clone();
        let rk45 = match base.integrator {
            r @ IntegratorSpec::Rk45 { .. } => r,
            _ => IntegratorSpec::default(),
        };
        match *self {
            FlowChoice::Adapted => sc.flow = FlowSpec::Adapted,
            FlowChoice::Standard => {
                sc.flow = FlowSpec::Standard;
                sc.integrator = rk45;
            }
            FlowChoice::Gd { h } => {
                sc.flow = FlowSpec::Standard;
                sc.integrator = IntegratorSpec::Euler { h };
            }
            FlowChoice::Homotopy { alpha } => sc.flow = FlowSpec::Homotopy { alpha },
        }
        sc
    }
}

/// One flow of a comparison.
#[derive(Debug, Clone)]
pub struct Lane {
    /// Which flow.
    pub choice: FlowChoice,
    /// Its run.
    pub session: Session,
}

/// What one call of [`Comparison::advance`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Advance {
    /// Steps taken per lane.
    pub steps: Vec<u64>,
    /// Milliseconds spent in each lane's steps.
    pub ms: Vec<f64>,
    /// Whether the deadline cut the work short (otherwise every lane reached the target or ended).
    pub out_of_time: bool,
}

/// Flows side by side from one `θ₀`, on one time axis.
#[derive(Debug, Clone)]
pub struct Comparison {
    lanes: Vec<Lane>,
    base: Scenario,
}

impl Comparison {
    /// Materializes `scenario` once and starts one session per choice on copies of it.
    ///
    /// Errors: no flows or a flow twice (`flows`), a bad `h` / `alpha`, and every error of
    /// [`Scenario::materialize`] and [`Session::new`].
    pub fn new(scenario: &Scenario, choices: &[FlowChoice]) -> Result<Comparison> {
        if choices.is_empty() {
            return Err(Error::invalid("flows", "choose at least one flow"));
        }
        for (i, c) in choices.iter().enumerate() {
            c.validate()?;
            if choices[..i].iter().any(|d| d.key() == c.key()) {
                return Err(Error::invalid(
                    "flows",
                    format!("{} appears twice; each flow can be shown once", c.key()),
                ));
            }
        }
        let base = scenario.materialize()?.scenario;
        let lanes = choices
            .iter()
            .map(|c| {
                Ok(Lane {
                    choice: *c,
                    session: Session::new(&c.apply(&base))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Comparison { lanes, base })
    }

    /// A homotopy family: one lane of `−(1−α)Dᵀ∇ₓC − αD⁺∇ₓC` per `α`, all from the same `θ₀` (the
    /// page draws how the trajectories deform between the standard flow, `α = 0`, and the adapted
    /// one, `α = 1`).
    ///
    /// Errors: no `α`, more than [`MAX_FAMILY`], an `α` outside `[0, 1]` or twice (`alphas`), and
    /// every error of [`Scenario::materialize`] and [`Session::new`].
    pub fn family(scenario: &Scenario, alphas: &[f64]) -> Result<Comparison> {
        if alphas.is_empty() || alphas.len() > MAX_FAMILY {
            return Err(Error::invalid(
                "alphas",
                format!("give 1 to {MAX_FAMILY} values of α, got {}", alphas.len()),
            ));
        }
        for (i, &a) in alphas.iter().enumerate() {
            if !(a.is_finite() && (0.0..=1.0).contains(&a)) {
                return Err(Error::invalid(
                    format!("alphas[{i}]"),
                    format!("must be in [0, 1], got {a}"),
                ));
            }
            if alphas[..i].contains(&a) {
                return Err(Error::invalid(
                    format!("alphas[{i}]"),
                    format!("α = {a} appears twice"),
                ));
            }
        }
        let base = scenario.materialize()?.scenario;
        let lanes = alphas
            .iter()
            .map(|&alpha| {
                let choice = FlowChoice::Homotopy { alpha };
                Ok(Lane {
                    choice,
                    session: Session::new(&choice.apply(&base))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Comparison { lanes, base })
    }

    /// The materialized scenario every lane starts from.
    pub fn base(&self) -> &Scenario {
        &self.base
    }

    /// The lanes, in the order they were chosen.
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// Mutable access to the lanes.
    pub fn lanes_mut(&mut self) -> &mut [Lane] {
        &mut self.lanes
    }

    /// Whether every lane has ended.
    pub fn finished(&self) -> bool {
        self.lanes.iter().all(|l| l.session.finished())
    }

    /// The shared time: the smallest `s` of the lanes still running (the largest `s` when all ended).
    pub fn s(&self) -> f64 {
        let running = self
            .lanes
            .iter()
            .filter(|l| !l.session.finished())
            .map(|l| l.session.s())
            .fold(f64::INFINITY, f64::min);
        if running.is_finite() {
            running
        } else {
            self.lanes.iter().map(|l| l.session.s()).fold(0.0, f64::max)
        }
    }

    /// Sample spacing shared by every lane.
    pub fn every_s(&self) -> f64 {
        self.base.record.every_s.unwrap_or(1.0)
    }

    /// End of the shared interval.
    pub fn s_max(&self) -> f64 {
        self.base.stop.s_max.unwrap_or(f64::INFINITY)
    }

    /// Steps the lane furthest behind, over and over, until every running lane has reached
    /// `s_target` or `clock()` passes `deadline`.
    ///
    /// `clock` is injected (milliseconds, any origin) because wasm32 has no `std::time`; it is
    /// read once per step, which also times each lane's own work. `on_step(i, lane)` runs after
    /// every step of lane `i`.
    pub fn advance(
        &mut self,
        s_target: f64,
        deadline: f64,
        clock: &mut dyn FnMut() -> f64,
        on_step: &mut dyn FnMut(usize, &Lane),
    ) -> Advance {
        let mut adv = Advance {
            steps: vec![0; self.lanes.len()],
            ms: vec![0.0; self.lanes.len()],
            out_of_time: false,
        };
        let mut t = clock();
        loop {
            let behind = self
                .lanes
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.session.finished() && l.session.s() < s_target)
                .min_by(|a, b| a.1.session.s().total_cmp(&b.1.session.s()))
                .map(|(i, _)| i);
            let Some(i) = behind else { break };
            self.lanes[i].session.step();
            on_step(i, &self.lanes[i]);
            let t2 = clock();
            adv.steps[i] += 1;
            adv.ms[i] += t2 - t;
            t = t2;
            if t >= deadline {
                adv.out_of_time = true;
                break;
            }
        }
        adv
    }

    /// Changes the comparison's parameters mid-orbit, from each lane's current state on: the
    /// learning rate `h` of the gradient-descent lane, the blend `α` of the homotopy lane, and
    /// `ε = stop.cost_below` of every lane (`Some(None)` unsets it). Each lane records what
    /// changed as `tune` events (see [`Session::tune`]); `h` or `α` without their flow among the
    /// lanes changes nothing.
    ///
    /// Errors: `h ≤ 0` (`h`), `α ∉ [0, 1]` (`alpha`), `ε ≤ 0` (`epsilon`), checked before
    /// anything changes; a failing evaluation of a lane.
    pub fn tune(
        &mut self,
        h: Option<f64>,
        alpha: Option<f64>,
        epsilon: Option<Option<f64>>,
    ) -> Result<()> {
        if let Some(h) = h {
            FlowChoice::Gd { h }.validate()?;
        }
        if let Some(alpha) = alpha {
            FlowChoice::Homotopy { alpha }.validate()?;
        }
        if let Some(Some(e)) = epsilon {
            if !(e.is_finite() && e > 0.0) {
                return Err(Error::invalid("epsilon", format!("must be > 0, got {e}")));
            }
        }
        for lane in &mut self.lanes {
            let (flow, integrator) = match (lane.choice, h, alpha) {
                (FlowChoice::Gd { .. }, Some(h), _) => {
                    lane.choice = FlowChoice::Gd { h };
                    (None, Some(IntegratorSpec::Euler { h }))
                }
                (FlowChoice::Homotopy { .. }, _, Some(alpha)) => {
                    lane.choice = FlowChoice::Homotopy { alpha };
                    (Some(FlowSpec::Homotopy { alpha }), None)
                }
                _ => (None, None),
            };
            lane.session.tune(flow, integrator, epsilon)?;
        }
        if let Some(e) = epsilon {
            self.base.stop.cost_below = e;
        }
        Ok(())
    }

    /// How far a run to `C ≤ ε` has come, in `[0, 1]`: per lane the larger of `s/s_max` and
    /// `log(C(0)/C) / log(C(0)/ε)` (1 once ended), and the smallest over lanes.
    pub fn progress(&self, eps: Option<f64>) -> f64 {
        let s_max = self.s_max();
        self.lanes
            .iter()
            .map(|l| session_progress(&l.session, eps, s_max))
            .fold(1.0, f64::min)
    }
}

/// How far one session has come towards its end, in `[0, 1]`: the larger of `s/s_max` and
/// `log(C(0)/C) / log(C(0)/ε)`, 1 once ended (what [`Comparison::progress`] takes per lane, and
/// the command line's progress bar).
pub fn session_progress(ses: &Session, eps: Option<f64>, s_max: f64) -> f64 {
    if ses.finished() {
        return 1.0;
    }
    // s_max = 0 evaluates θ₀ only: such a lane is finished before it could divide by zero.
    let by_s = if s_max.is_finite() && s_max > 0.0 {
        ses.s() / s_max
    } else {
        0.0
    };
    let by_cost = match eps {
        Some(e) if ses.initial_cost() > e && ses.cost() > 0.0 => {
            (ses.initial_cost() / ses.cost()).ln() / (ses.initial_cost() / e).ln()
        }
        _ => 0.0,
    };
    by_s.max(by_cost).clamp(0.0, 1.0)
}

crate::tagged::kind_tagged!(FlowChoice);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::presets;

    fn over() -> Scenario {
        presets::find("over-smooth").unwrap().scenario
    }

    #[test]
    fn lanes_start_from_the_same_theta_and_stay_in_lockstep() {
        let choices = [
            FlowChoice::Adapted,
            FlowChoice::Standard,
            FlowChoice::Gd { h: 0.05 },
            FlowChoice::Homotopy { alpha: 0.5 },
        ];
        let mut cmp = Comparison::new(&over(), &choices).unwrap();
        let t0 = cmp.lanes()[0].session.theta().to_vec();
        for l in cmp.lanes() {
            assert_eq!(l.session.theta(), &t0[..], "{}", l.choice.label());
            assert_eq!(
                l.session.initial_cost(),
                cmp.lanes()[0].session.initial_cost()
            );
        }
        let mut ticks = 0.0;
        let mut clock = || {
            ticks += 1.0;
            ticks
        };
        let adv = cmp.advance(4.0, f64::INFINITY, &mut clock, &mut |_, _| {});
        assert!(adv.steps.iter().all(|&t| t > 0), "{adv:?}");
        assert!(!adv.out_of_time);
        // Every lane passed s = 4 and overshot by at most its own last step; gd's step is h.
        for l in cmp.lanes() {
            assert!(
                l.session.s() >= 4.0,
                "{} at {}",
                l.choice.key(),
                l.session.s()
            );
        }
        let gd = &cmp.lanes()[2].session;
        assert!((gd.s() - 4.0).abs() < 0.05 + 1e-9, "gd at s = {}", gd.s());
        assert_eq!(gd.stats().steps, 80);
    }

    #[test]
    fn the_deadline_bounds_the_work() {
        let mut cmp = Comparison::new(&over(), &[FlowChoice::Adapted]).unwrap();
        let mut ticks = 0.0;
        let mut clock = || {
            ticks += 1.0;
            ticks
        };
        // The clock reads 1 before the first step and one more after each.
        let adv = cmp.advance(f64::INFINITY, 4.0, &mut clock, &mut |_, _| {});
        assert_eq!(adv.steps, vec![3]);
        assert_eq!(adv.ms, vec![3.0]);
        assert!(adv.out_of_time);
    }

    #[test]
    fn bad_choices_name_the_field() {
        let e = Comparison::new(&over(), &[]).unwrap_err();
        assert_eq!(e.to_string(), "flows: choose at least one flow");
        let e = Comparison::new(&over(), &[FlowChoice::Adapted, FlowChoice::Adapted]).unwrap_err();
        assert!(
            e.to_string().starts_with("flows: adapted appears twice"),
            "{e}"
        );
        let e = Comparison::new(&over(), &[FlowChoice::Gd { h: f64::NAN }]).unwrap_err();
        assert!(e.to_string().starts_with("h: must be > 0"), "{e}");
        let e = Comparison::new(&over(), &[FlowChoice::Homotopy { alpha: 2.0 }]).unwrap_err();
        assert!(e.to_string().starts_with("alpha: must be in [0, 1]"), "{e}");
    }

    #[test]
    fn flow_names_read_back() {
        for c in [
            FlowChoice::Adapted,
            FlowChoice::Standard,
            FlowChoice::Gd { h: 0.02 },
            FlowChoice::Homotopy { alpha: 0.25 },
        ] {
            assert_eq!(FlowChoice::parse(&c.name(), "flows").unwrap(), c);
        }
        assert_eq!(
            FlowChoice::parse("gd", "f").unwrap(),
            FlowChoice::Gd { h: DEFAULT_GD_H }
        );
        let e = FlowChoice::parse("homotopy:2", "flows[1]").unwrap_err();
        assert!(e.to_string().starts_with("flows[1]: `homotopy:2`"), "{e}");
        let e = FlowChoice::parse("sideways", "flows[0]").unwrap_err();
        assert!(
            e.to_string().starts_with("flows[0]: `sideways` is not"),
            "{e}"
        );
        let e = FlowChoice::parse("gd:fast", "flows[0]").unwrap_err();
        assert!(e.to_string().contains("`fast` is not a number"), "{e}");
    }

    #[test]
    fn progress_counts_log_cost_towards_epsilon() {
        let mut cmp = Comparison::new(&over(), &[FlowChoice::Adapted]).unwrap();
        assert!(cmp.progress(Some(1e-8)) < 1e-9);
        let mut c = || 0.0;
        cmp.advance(40.0, f64::INFINITY, &mut c, &mut |_, _| {});
        let ses = &cmp.lanes()[0].session;
        let expect = (ses.initial_cost() / ses.cost()).ln() / (ses.initial_cost() / 1e-8).ln();
        assert!((cmp.progress(Some(1e-8)) - expect).abs() < 1e-12);
        // The adapted cost is e^{−2s/N}C(0): progress ≈ s / s_ε.
        let s_eps = 8.0 * (ses.initial_cost() / 1e-8).ln();
        assert!(
            (expect - ses.s() / s_eps).abs() < 1e-5,
            "{expect} vs {}",
            ses.s() / s_eps
        );
    }
}
