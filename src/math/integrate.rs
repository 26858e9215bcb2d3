//! ODE integrators for autonomous systems `y' = f(y)`: explicit Euler (which *is* gradient descent
//! with learning rate `h`), classical RK4, and adaptive Dormand–Prince 5(4) with dense output.
//!
//! Every method offers an interpolant over its last accepted step, so that samples can be taken on
//! a fixed grid in `s` and events (`C ≤ ε`) located inside a step: linear for Euler (the polygon
//! gradient descent walks), cubic Hermite for RK4, and the 4th-order continuous extension of
//! Dormand–Prince (Hairer, Nørsett & Wanner, II.6) for RK45.

use crate::error::{positive, Error, Result};
use serde::{Deserialize, Serialize};

/// An autonomous vector field `f: R^n → R^n`.
pub trait System {
    /// Dimension `n`.
    fn dim(&self) -> usize;
    /// Writes `f(y)` into `dy`. Errors (non-finite values, failed solves) abort or shrink the step.
    fn eval(&mut self, y: &[f64], dy: &mut [f64]) -> Result<()>;
}

/// Which integrator to use, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum IntegratorSpec {
    /// Explicit Euler with step `h`: gradient descent with learning rate `h`.
    Euler {
        /// Step size (learning rate).
        h: f64,
    },
    /// Classical fourth-order Runge–Kutta with fixed step `h`.
    Rk4 {
        /// Step size.
        h: f64,
    },
    /// Adaptive Dormand–Prince 5(4) with error control `atol + rtol·|y|` per component (RMS norm).
    Rk45 {
        /// Relative tolerance.
        #[serde(default = "default_rtol")]
        rtol: f64,
        /// Absolute tolerance.
        #[serde(default = "default_atol")]
        atol: f64,
        /// Optional largest step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        h_max: Option<f64>,
    },
}

fn default_rtol() -> f64 {
    1e-8
}
fn default_atol() -> f64 {
    1e-10
}

impl Default for IntegratorSpec {
    fn default() -> Self {
        IntegratorSpec::Rk45 {
            rtol: default_rtol(),
            atol: default_atol(),
            h_max: None,
        }
    }
}

impl IntegratorSpec {
    /// Checks every parameter, naming the field (`integrator.h`, `integrator.rtol`, …).
    pub fn validate(&self) -> Result<()> {
        match self {
            IntegratorSpec::Euler { h } | IntegratorSpec::Rk4 { h } => {
                positive("integrator.h", *h)?;
            }
            IntegratorSpec::Rk45 { rtol, atol, h_max } => {
                positive("integrator.rtol", *rtol)?;
                positive("integrator.atol", *atol)?;
                if *rtol < 1e-14 {
                    return Err(Error::invalid(
                        "integrator.rtol",
                        format!("{rtol} is below what f64 can deliver; use at least 1e-14"),
                    ));
                }
                if let Some(h) = h_max {
                    positive("integrator.h_max", *h)?;
                }
            }
        }
        Ok(())
    }

    /// Short display name: `euler`, `rk4`, `rk45`.
    pub fn name(&self) -> &'static str {
        match self {
            IntegratorSpec::Euler { .. } => "euler",
            IntegratorSpec::Rk4 { .. } => "rk4",
            IntegratorSpec::Rk45 { .. } => "rk45",
        }
    }
}

/// Counters of work done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Accepted steps.
    pub steps: u64,
    /// Rejected RK45 trial steps.
    pub rejected: u64,
    /// Vector-field evaluations.
    pub evals: u64,
}

// Dormand–Prince 5(4) tableau (nodes c = 0, 1/5, 3/10, 4/5, 8/9, 1, 1; the field is autonomous).
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
        0.0,
        0.0,
    ],
    [
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
        0.0,
    ],
    [
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// Error estimate weights (5th minus 4th order), including the FSAL stage.
const E: [f64; 7] = [
    -71.0 / 57600.0,
    0.0,
    71.0 / 16695.0,
    -71.0 / 1920.0,
    17253.0 / 339200.0,
    -22.0 / 525.0,
    1.0 / 40.0,
];
/// Dense output: `y(s₀ + σh) = y₀ + h Σ_i k_i (P_i · (σ, σ², σ³, σ⁴))`.
const P: [[f64; 4]; 7] = [
    [
        1.0,
        -8048581381.0 / 2820520608.0,
        8663915743.0 / 2820520608.0,
        -12715105075.0 / 11282082432.0,
    ],
    [0.0, 0.0, 0.0, 0.0],
    [
        0.0,
        131558114200.0 / 32700410799.0,
        -68118460800.0 / 10900136933.0,
        87487479700.0 / 32700410799.0,
    ],
    [
        0.0,
        -1754552775.0 / 470086768.0,
        14199869525.0 / 1410260304.0,
        -10690763975.0 / 1880347072.0,
    ],
    [
        0.0,
        127303824393.0 / 49829197408.0,
        -318862633887.0 / 49829197408.0,
        701980252875.0 / 199316789632.0,
    ],
    [
        0.0,
        -282668133.0 / 205662961.0,
        2019193451.0 / 616988883.0,
        -1453857185.0 / 822651844.0,
    ],
    [
        0.0,
        40617522.0 / 29380423.0,
        -110615467.0 / 29380423.0,
        69997945.0 / 29380423.0,
    ],
];

/// Smallest step RK45 may shrink to, relative to `max(1, |s|)`, before it gives up.
const H_MIN_REL: f64 = 1e-13;

/// An integrator in motion: current `(s, y, f(y))` and the interpolant of the last step.
#[derive(Debug, Clone)]
pub struct Stepper {
    spec: IntegratorSpec,
    s: f64,
    y: Vec<f64>,
    f: Vec<f64>,
    h_next: f64,
    prev_s: f64,
    prev_y: Vec<f64>,
    prev_f: Vec<f64>,
    k: Vec<Vec<f64>>,
    tmp: Vec<f64>,
    y_new: Vec<f64>,
    s_origin: f64,
    fixed_count: u64,
    /// Work done so far.
    pub stats: Stats,
}

impl Stepper {
    /// Starts at `(s0, y0)`, evaluating `f(y0)` once.
    ///
    /// Errors: invalid parameters (named), or a failing first evaluation.
    pub fn new(spec: IntegratorSpec, s0: f64, y0: &[f64], sys: &mut dyn System) -> Result<Self> {
        spec.validate()?;
        let n = y0.len();
        let mut f = vec![0.0; n];
        sys.eval(y0, &mut f)?;
        let mut st = Stepper {
            spec,
            s: s0,
            y: y0.to_vec(),
            f,
            h_next: 0.0,
            prev_s: s0,
            prev_y: y0.to_vec(),
            prev_f: vec![0.0; n],
            k: vec![vec![0.0; n]; 7],
            tmp: vec![0.0; n],
            y_new: vec![0.0; n],
            s_origin: s0,
            fixed_count: 0,
            stats: Stats {
                evals: 1,
                ..Stats::default()
            },
        };
        st.prev_f.copy_from_slice(&st.f);
        if let IntegratorSpec::Rk45 { rtol, atol, h_max } = spec {
            st.h_next = st.initial_step(sys, rtol, atol)?;
            if let Some(hm) = h_max {
                st.h_next = st.h_next.min(hm);
            }
            // The trial evaluation moved the system away from y0; evaluate there again so that
            // the last evaluation is always at the current state (callers read its statistics).
            st.stats.evals += 1;
            sys.eval(y0, &mut st.f)?;
        }
        Ok(st)
    }

    /// Current `s`.
    pub fn s(&self) -> f64 {
        self.s
    }

    /// Current state `y(s)`.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    /// `f(y(s))` at the current state.
    pub fn f(&self) -> &[f64] {
        &self.f
    }

    fn h_fixed(&self) -> f64 {
        match self.spec {
            IntegratorSpec::Euler { h } | IntegratorSpec::Rk4 { h } => h,
            IntegratorSpec::Rk45 { .. } => 0.0,
        }
    }

    /// `s` at the start of the last accepted step.
    pub fn prev_s(&self) -> f64 {
        self.prev_s
    }

    /// The integrator's parameters.
    pub fn spec(&self) -> &IntegratorSpec {
        &self.spec
    }

    fn initial_step(&mut self, sys: &mut dyn System, rtol: f64, atol: f64) -> Result<f64> {
        // Hairer, Nørsett & Wanner, "Solving ODEs I", II.4: h from the size of y, f and f'.
        let n = self.y.len().max(1) as f64;
        let rms = |v: &mut dyn Iterator<Item = f64>| (v.map(|a| a * a).sum::<f64>() / n).sqrt();
        let scale: Vec<f64> = self.y.iter().map(|v| atol + rtol * v.abs()).collect();
        let d0 = rms(&mut self.y.iter().zip(&scale).map(|(a, s)| a / s));
        let d1 = rms(&mut self.f.iter().zip(&scale).map(|(a, s)| a / s));
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        };
        for i in 0..self.y.len() {
            self.tmp[i] = self.y[i] + h0 * self.f[i];
        }
        let mut f1 = vec![0.0; self.y.len()];
        self.stats.evals += 1;
        if sys.eval(&self.tmp, &mut f1).is_err() {
            return Ok(h0 * 1e-3);
        }
        let d2 = rms(&mut f1
            .iter()
            .zip(&self.f)
            .zip(&scale)
            .map(|((a, b), s)| (a - b) / s))
            / h0;
        let h1 = if d1.max(d2) <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).powf(0.2)
        };
        Ok((100.0 * h0).min(h1))
    }

    /// Takes one accepted step, never past `s_end` (the last step is shortened to land on it).
    ///
    /// Errors: for Euler and RK4, any failing evaluation (the state is left unchanged); for RK45,
    /// a step that must shrink below `1e-13·max(1, |s|)` to succeed.
    pub fn step(&mut self, sys: &mut dyn System, s_end: f64) -> Result<()> {
        let remaining = s_end - self.s;
        if remaining <= 0.0 {
            return Err(Error::State(format!(
                "cannot step: s = {} is already at the end {s_end}",
                self.s
            )));
        }
        match self.spec {
            IntegratorSpec::Euler { h } => {
                let h = h.min(remaining);
                for i in 0..self.y.len() {
                    self.y_new[i] = self.y[i] + h * self.f[i];
                }
                self.finish_fixed_step(sys, h, s_end)
            }
            IntegratorSpec::Rk4 { h } => {
                let h = h.min(remaining);
                let n = self.y.len();
                // k[0] = f(y) is self.f.
                for (stage, c) in [(1usize, 0.5), (2, 0.5), (3, 1.0)] {
                    let (done, rest) = self.k.split_at_mut(stage);
                    let prev: &[f64] = if stage == 1 {
                        &self.f
                    } else {
                        &done[stage - 1]
                    };
                    for ((t, y), p) in self.tmp.iter_mut().zip(&self.y).zip(prev) {
                        *t = y + c * h * p;
                    }
                    self.stats.evals += 1;
                    sys.eval(&self.tmp, &mut rest[0])?;
                }
                for i in 0..n {
                    self.y_new[i] = self.y[i]
                        + h / 6.0
                            * (self.f[i] + 2.0 * self.k[1][i] + 2.0 * self.k[2][i] + self.k[3][i]);
                }
                self.finish_fixed_step(sys, h, s_end)
            }
            IntegratorSpec::Rk45 { rtol, atol, h_max } => {
                self.step_dopri(sys, s_end, rtol, atol, h_max)
            }
        }
    }

    /// Evaluates `f(y_new)` and commits a fixed step of size `h`, landing on `min(grid, s_end)`.
    fn finish_fixed_step(&mut self, sys: &mut dyn System, h: f64, s_end: f64) -> Result<()> {
        let s_new = self.s_origin + (self.fixed_count + 1) as f64 * self.h_fixed();
        if let Some(i) = self.y_new.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "component {i} of θ became {} after a step of size {h}",
                self.y_new[i]
            )));
        }
        let mut f_new = std::mem::take(&mut self.tmp);
        self.stats.evals += 1;
        let r = sys.eval(&self.y_new, &mut f_new);
        if let Err(e) = r {
            self.tmp = f_new;
            return Err(e);
        }
        self.prev_s = self.s;
        std::mem::swap(&mut self.prev_y, &mut self.y);
        std::mem::swap(&mut self.prev_f, &mut self.f);
        std::mem::swap(&mut self.y, &mut self.y_new);
        self.tmp = std::mem::replace(&mut self.f, f_new);
        self.fixed_count += 1;
        // Grid points as origin + count·h, so that s does not drift over many steps.
        self.s = if s_new >= s_end - 1e-9 * h {
            s_end
        } else {
            s_new
        };
        self.stats.steps += 1;
        Ok(())
    }

    fn step_dopri(
        &mut self,
        sys: &mut dyn System,
        s_end: f64,
        rtol: f64,
        atol: f64,
        h_max: Option<f64>,
    ) -> Result<()> {
        let n = self.y.len();
        loop {
            let remaining = s_end - self.s;
            let mut h = self.h_next.min(remaining);
            if let Some(hm) = h_max {
                h = h.min(hm);
            }
            let last = h >= remaining;
            let h_min = H_MIN_REL * self.s.abs().max(1.0);
            if h < h_min {
                return Err(Error::StepSize(format!(
                    "RK45 needs steps below {h_min:.1e} at s = {}: the vector field is singular or \
                     discontinuous here (for the adapted flow: σ_min(D) at the rank threshold, the \
                     edge of the full-rank region)",
                    self.s
                )));
            }
            self.k[0].copy_from_slice(&self.f);
            let mut failed = false;
            for (stage, a_row) in A.iter().enumerate().skip(1) {
                self.tmp.copy_from_slice(&self.y);
                for (kj, a) in self.k.iter().zip(a_row).take(stage) {
                    if *a != 0.0 {
                        axpy(h * a, kj, &mut self.tmp);
                    }
                }
                if stage == 6 {
                    self.y_new.copy_from_slice(&self.tmp);
                }
                self.stats.evals += 1;
                let (_, rest) = self.k.split_at_mut(stage);
                if sys.eval(&self.tmp, &mut rest[0]).is_err() {
                    failed = true;
                    break;
                }
            }
            if failed {
                self.stats.rejected += 1;
                self.h_next = h * 0.25;
                continue;
            }
            // The error estimate h·Σ E_j k_j, built in `tmp` (free once the stages are done).
            self.tmp.fill(0.0);
            for (kj, e) in self.k.iter().zip(&E) {
                if *e != 0.0 {
                    axpy(h * e, kj, &mut self.tmp);
                }
            }
            let mut err_sq = 0.0;
            for ((e, y0), y1) in self.tmp.iter().zip(&self.y).zip(&self.y_new) {
                let sc = atol + rtol * y0.abs().max(y1.abs());
                err_sq += (e / sc).powi(2);
            }
            let err = (err_sq / n.max(1) as f64).sqrt();
            if !err.is_finite() {
                self.stats.rejected += 1;
                self.h_next = h * 0.25;
                continue;
            }
            let factor = if err == 0.0 {
                5.0
            } else {
                (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
            };
            if err <= 1.0 {
                self.prev_s = self.s;
                std::mem::swap(&mut self.prev_y, &mut self.y);
                std::mem::swap(&mut self.y, &mut self.y_new);
                self.prev_f.copy_from_slice(&self.f);
                self.f.copy_from_slice(&self.k[6]);
                self.s = if last { s_end } else { self.prev_s + h };
                self.h_next = h * factor;
                if let Some(hm) = h_max {
                    self.h_next = self.h_next.min(hm);
                }
                self.stats.steps += 1;
                return Ok(());
            }
            self.stats.rejected += 1;
            self.h_next = h * factor.min(1.0);
        }
    }

    /// Re-evaluates `f` at the current point (the field changed definition there, e.g. a new
    /// frozen activation pattern), keeping the step size and the last step's interpolant.
    ///
    /// Errors: a failing evaluation (the state is unchanged then).
    pub fn refresh(&mut self, sys: &mut dyn System) -> Result<()> {
        let mut f = std::mem::take(&mut self.tmp);
        f.resize(self.y.len(), 0.0);
        self.stats.evals += 1;
        let r = sys.eval(&self.y, &mut f);
        if r.is_ok() {
            std::mem::swap(&mut self.f, &mut f);
        }
        self.tmp = f;
        r
    }

    /// `y(s)` for `s` inside the last accepted step `[prev_s, s]`, from the method's interpolant.
    pub fn dense(&self, s: f64, out: &mut [f64]) {
        let h = self.s - self.prev_s;
        if h <= 0.0 {
            out.copy_from_slice(&self.y);
            return;
        }
        let t = ((s - self.prev_s) / h).clamp(0.0, 1.0);
        match self.spec {
            IntegratorSpec::Euler { .. } => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.prev_y[i] + t * (self.y[i] - self.prev_y[i]);
                }
            }
            IntegratorSpec::Rk4 { .. } => {
                // Cubic Hermite on (y₀, f₀), (y₁, f₁).
                let t2 = t * t;
                let t3 = t2 * t;
                let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
                let h10 = t3 - 2.0 * t2 + t;
                let h01 = -2.0 * t3 + 3.0 * t2;
                let h11 = t3 - t2;
                for (i, o) in out.iter_mut().enumerate() {
                    *o = h00 * self.prev_y[i]
                        + h * h10 * self.prev_f[i]
                        + h01 * self.y[i]
                        + h * h11 * self.f[i];
                }
            }
            IntegratorSpec::Rk45 { .. } => {
                let pw = [t, t * t, t * t * t, t * t * t * t];
                let b: Vec<f64> = P
                    .iter()
                    .map(|p| p.iter().zip(&pw).map(|(a, b)| a * b).sum())
                    .collect();
                out.copy_from_slice(&self.prev_y);
                for (kj, bj) in self.k.iter().zip(&b) {
                    if *bj != 0.0 {
                        axpy(h * bj, kj, out);
                    }
                }
            }
        }
    }

    /// Restarts from a new state (after an externally imposed jump, e.g. an escape step).
    ///
    /// Errors: a failing evaluation at the new state.
    pub fn restart(&mut self, s: f64, y: &[f64], sys: &mut dyn System) -> Result<()> {
        self.restart_with(self.spec, s, y, sys)
    }

    /// Restarts from `(s, y)` with new parameters `spec` (a learning rate changed mid-orbit),
    /// keeping the counters; a fixed step counts its grid `s + k·h` from `s`.
    ///
    /// Errors: invalid parameters (named) or a failing evaluation; nothing changes then.
    pub fn restart_with(
        &mut self,
        spec: IntegratorSpec,
        s: f64,
        y: &[f64],
        sys: &mut dyn System,
    ) -> Result<()> {
        let stats = self.stats;
        let mut fresh = Stepper::new(spec, s, y, sys)?;
        fresh.stats.steps += stats.steps;
        fresh.stats.rejected += stats.rejected;
        fresh.stats.evals += stats.evals;
        *self = fresh;
        Ok(())
    }
}

crate::tagged::kind_tagged!(IntegratorSpec);

/// `y += a·x`.
#[inline]
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Harmonic oscillator y'' = -y as a first-order system.
    struct Osc;
    impl System for Osc {
        fn dim(&self) -> usize {
            2
        }
        fn eval(&mut self, y: &[f64], dy: &mut [f64]) -> Result<()> {
            dy[0] = y[1];
            dy[1] = -y[0];
            Ok(())
        }
    }

    fn error_at(spec: IntegratorSpec, s_end: f64) -> f64 {
        let mut sys = Osc;
        let mut st = Stepper::new(spec, 0.0, &[1.0, 0.0], &mut sys).unwrap();
        while st.s() < s_end {
            st.step(&mut sys, s_end).unwrap();
        }
        ((st.y()[0] - s_end.cos()).powi(2) + (st.y()[1] + s_end.sin()).powi(2)).sqrt()
    }

    #[test]
    fn fixed_step_methods_have_their_order() {
        let e1 = error_at(IntegratorSpec::Euler { h: 1e-3 }, 1.0);
        let e2 = error_at(IntegratorSpec::Euler { h: 5e-4 }, 1.0);
        assert!((e1 / e2 - 2.0).abs() < 0.05, "Euler ratio {}", e1 / e2);
        let r1 = error_at(IntegratorSpec::Rk4 { h: 0.1 }, 1.0);
        let r2 = error_at(IntegratorSpec::Rk4 { h: 0.05 }, 1.0);
        assert!((r1 / r2 - 16.0).abs() < 1.0, "RK4 ratio {}", r1 / r2);
    }

    #[test]
    fn rk45_meets_its_tolerance_and_dense_output_is_accurate() {
        let spec = IntegratorSpec::Rk45 {
            rtol: 1e-10,
            atol: 1e-12,
            h_max: None,
        };
        assert!(error_at(spec, 10.0) < 1e-8);
        let mut sys = Osc;
        let mut st = Stepper::new(spec, 0.0, &[1.0, 0.0], &mut sys).unwrap();
        let mut worst: f64 = 0.0;
        let mut out = [0.0; 2];
        while st.s() < 5.0 {
            st.step(&mut sys, 5.0).unwrap();
            let (a, b) = (st.prev_s(), st.s());
            for i in 1..10 {
                let s = a + (b - a) * i as f64 / 10.0;
                st.dense(s, &mut out);
                worst = worst
                    .max((out[0] - s.cos()).abs())
                    .max((out[1] + s.sin()).abs());
            }
        }
        assert!(worst < 1e-8, "dense output error {worst}");
    }
}
