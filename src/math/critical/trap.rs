//! Trapping regions of the standard flow (Prop 3.1).

use crate::error::Result;
use crate::math::diagnostics::Sample;
use serde::{Deserialize, Serialize};

/// The scenario key `trap`: report trapping regions of the standard flow (Prop 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrapSpec {
    /// `ε` of (3.5): samples with `ρ = |Dᵀ∇ₓC|/|∇ₓC| < ε` are inside the region `U`.
    pub rho_below: f64,
}

impl TrapSpec {
    /// Checks `rho_below ∈ (0, 1]`, naming `trap.rho_below`.
    pub fn validate(&self) -> Result<()> {
        crate::error::positive("trap.rho_below", self.rho_below)?;
        Ok(())
    }
}

/// One stay of the orbit in `U = {ρ < ε}`, measured on the recorded samples, with the lower bound
/// of Prop 3.1 on its duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrapInterval {
    /// First sample inside (`s₀ = inf I`).
    pub s_enter: f64,
    /// Last sample inside.
    pub s_exit: f64,
    /// Measured `|I| = s_exit − s_enter`.
    pub measured: f64,
    /// Prop 3.1 (3.7): `N L_U / (|x̲(s₀) − y̲| ε) ≤ |I|`.
    pub bound: f64,
    /// The same bound with `ε` replaced by the largest `ρ` measured inside (`rho_max`): sharper,
    /// and still a bound, since the proof only needs `ρ ≤ ε` along the orbit.
    pub bound_rho_max: f64,
    /// Arc length `L_U = ∫_I |∂ₛθ| ds = ∫_I ρ|∇ₓC| ds` (standard flow), trapezoidal on the samples.
    pub arc_length: f64,
    /// `|x̲(s₀) − y̲| = N|∇ₓC(s₀)|`.
    pub entry_distance: f64,
    /// `ε`.
    pub rho_below: f64,
    /// Largest `ρ` seen inside.
    pub rho_max: f64,
    /// Smallest `rank D` seen inside (full rank `QN` is the case of Prop 3.1); `rank` in JSON.
    #[serde(rename = "rank")]
    pub rank_min: usize,
    /// Whether the orbit left `U` (false: still inside when the run ended).
    pub left: bool,
}

/// Follows the recorded samples of a standard-flow run and closes a [`TrapInterval`] whenever the
/// orbit leaves `U = {ρ < ε}`.
#[derive(Debug, Clone)]
pub struct TrapTracker {
    eps: f64,
    n: usize,
    open: Option<TrapInterval>,
    last: Option<(f64, f64)>,
}

impl TrapTracker {
    /// Tracks `U = {ρ < eps}` for `n` samples.
    pub fn new(eps: f64, n: usize) -> Self {
        TrapTracker {
            eps,
            n,
            open: None,
            last: None,
        }
    }

    /// Feeds the next recorded sample; returns the interval it closed, if any.
    pub fn feed(&mut self, smp: &Sample) -> Option<TrapInterval> {
        let speed = smp.rho * smp.grad_x_norm;
        let inside = smp.grad_x_norm > 0.0 && smp.rho < self.eps;
        let mut closed = None;
        match (&mut self.open, inside) {
            (Some(iv), true) => {
                if let Some((s0, v0)) = self.last {
                    iv.arc_length += 0.5 * (v0 + speed) * (smp.s - s0);
                }
                iv.s_exit = smp.s;
                iv.rho_max = iv.rho_max.max(smp.rho);
                iv.rank_min = iv.rank_min.min(smp.rank);
            }
            (Some(_), false) => {
                let mut iv = self.open.take().expect("open interval");
                iv.left = true;
                closed = Some(self.finish(iv));
            }
            (None, true) => {
                self.open = Some(TrapInterval {
                    s_enter: smp.s,
                    s_exit: smp.s,
                    measured: 0.0,
                    bound: 0.0,
                    bound_rho_max: 0.0,
                    arc_length: 0.0,
                    entry_distance: self.n as f64 * smp.grad_x_norm,
                    rho_below: self.eps,
                    rho_max: smp.rho,
                    rank_min: smp.rank,
                    left: false,
                });
            }
            (None, false) => {}
        }
        self.last = Some((smp.s, speed));
        closed
    }

    /// Closes an interval still open at the end of a run.
    pub fn close(&mut self) -> Option<TrapInterval> {
        let iv = self.open.take()?;
        Some(self.finish(iv))
    }

    fn finish(&self, mut iv: TrapInterval) -> TrapInterval {
        iv.measured = iv.s_exit - iv.s_enter;
        let bound = |eps: f64| {
            if iv.entry_distance > 0.0 && eps > 0.0 {
                self.n as f64 * iv.arc_length / (iv.entry_distance * eps)
            } else {
                0.0
            }
        };
        iv.bound = bound(self.eps);
        iv.bound_rho_max = bound(iv.rho_max);
        iv
    }
}

/// Every stay in `U = {ρ < eps}` along recorded samples of the standard flow (see [`TrapTracker`]).
pub fn trapping_intervals(samples: &[Sample], n: usize, eps: f64) -> Vec<TrapInterval> {
    let mut tr = TrapTracker::new(eps, n);
    let mut out: Vec<TrapInterval> = samples.iter().filter_map(|s| tr.feed(s)).collect();
    out.extend(tr.close());
    out
}
