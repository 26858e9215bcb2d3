//! Rank decisions along an orbit: which singular values of `D` the adapted field keeps at each
//! accepted point, with a hysteresis band, and when a vanishing one means the approach to a
//! singularity (see docs/math/rest-points.md).

use crate::linalg;
use serde::{Deserialize, Serialize};

pub use crate::linalg::RANK_BAND;

/// A kept singular value is dropped as the approach to a singularity at
/// `σ ≤ SINGULAR_BAND·rank_rtol·σ_max` (the whole band): where it carries most of the field,
/// the field grows like `1/σ` and no explicit integrator can follow it further down.
pub const SINGULAR_BAND: f64 = 1e3;

/// Why the rank the field uses changed at an accepted point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankReason {
    /// A singular value fell to `rank_rtol·σ_max` or below: it no longer counts numerically.
    BelowTolerance,
    /// A dropped singular value rose above the band (`RANK_BAND·rank_rtol·σ_max`).
    Recovered,
    /// The smallest kept singular value is inside the band and carries most of the field
    /// (`|uᵣᵀ∇ₓC|/σᵣ` dominates `|∂ₛθ|`): the field grows like `1/σᵣ` as `σᵣ → 0`, the approach
    /// to a singularity of the adapted flow (a unit saturating or dying).
    Singular,
    /// A stalled integration: the smallest kept singular value is so small that its component
    /// of the field is below the rounding floor of the solve, `|u_rᵀ∇ₓC| ≤ NOISE·ε·(σ_max/σ_r)·
    /// |∇ₓC|` — the field along it is rounding noise of size `∝ 1/σ_r²`, which stalls the
    /// integrator. Dropping it changes the field by less than its own error.
    BelowNoise,
}

impl RankReason {
    /// The snake_case name used in events.
    pub fn name(self) -> &'static str {
        match self {
            RankReason::BelowTolerance => "below_tolerance",
            RankReason::Recovered => "recovered",
            RankReason::Singular => "singular",
            RankReason::BelowNoise => "below_noise",
        }
    }
}

/// A change of the rank the field uses, decided at an accepted point.
#[derive(Debug, Clone, PartialEq)]
pub struct RankUpdate {
    /// Rank used before.
    pub previous: usize,
    /// Rank used from this point on.
    pub used: usize,
    /// Numerical rank `#{σ_i > rank_rtol·σ_max}` here.
    pub numerical: usize,
    /// Why (the reason of the last change when several happened at once).
    pub reason: RankReason,
    /// `σ_i/σ_max` of the singular values inside the band `(rank_rtol, RANK_BAND·rank_rtol]`.
    pub band: Vec<f64>,
    /// For [`RankReason::Singular`]: the share `c_r²/Σc_i²` of `|∂ₛθ|²` that the dropped
    /// direction carried (`c_i = u_iᵀ∇ₓC/σ_i`), and its index `r` (0-based) and `σ_r/σ_max`.
    pub singular: Option<(usize, f64, f64)>,
    /// Whether the drop was decided by a stalled integration ([`RankPolicy::crawl`]).
    pub stalled: bool,
}

/// Rank decisions along an orbit: one rank, used by the field at every stage of a step and
/// reported as `rank_used` by samples, events and the end-point diagnosis.
///
/// The numerical rank counts `σ_i > rank_rtol·σ_max`. Deciding the field's rank by that
/// threshold alone makes the field discontinuous where an orbit reaches it (trial stages on one
/// side see the tiny singular value and a field `∝ 1/σ`, on the other side they do not), and
/// RK45's step collapses there. So the rank is decided only at accepted points and frozen for the
/// whole next step, with a band of hysteresis `(rank_rtol, RANK_BAND·rank_rtol]·σ_max`:
/// - below the band a singular value never counts; above it, it always does;
/// - inside the band it counts as it did at the previous accepted point, except that the smallest
///   kept one is dropped when it falls (smaller relative to `σ_max` than at the previous
///   accepted point) while it carries most of the field (`c_r² ≥ Σ_{i<r} c_i²`,
///   `c_i = u_iᵀ∇ₓC/σ_i`) with `|u_rᵀ∇ₓC| > REST_RTOL·|∇ₓC|`: that is the approach to a
///   singularity, where `|∂ₛθ| ∝ 1/σ_r` grows without bound;
/// - a dropped one recovers above the band (after a singular drop, only if it would not carry
///   most of the field at once).
///
/// At a singularity the session ends the run with `blow_up` (`stop.at_singularity`, the
/// default: the flow's solution ceases to exist there) or continues on the DAE (4.5) at the
/// lower rank and says so in a `rank_change` event.
///
/// `rank_used ≤ rank` always; they differ only while a dropped singular value lies in the band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankPolicy {
    used: Option<usize>,
    started: bool,
    /// `σ_i/σ_max` at the previous accepted point, for the trend of the smallest kept one.
    last_ratio: [f64; 4],
    last_len: usize,
    /// A direction was dropped as the approach to a singularity (only when the run continues on
    /// the DAE): from then on a dropped direction recovers only if it would not carry most of the
    /// field at once, which would restart the blow-up it left.
    after_singular: bool,
}

impl Default for RankPolicy {
    fn default() -> Self {
        RankPolicy {
            used: None,
            started: false,
            last_ratio: [f64::INFINITY; 4],
            last_len: 0,
            after_singular: false,
        }
    }
}

impl RankPolicy {
    /// The rank the field uses, `None` while it uses every positive singular value (no rank
    /// decision below `min(K, QN)` has been taken).
    pub fn cap(&self) -> Option<usize> {
        self.used
    }

    /// Whether the policy has seen its first accepted point.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Decides the rank at an accepted point from the singular values `sigma` (descending, all
    /// `min(K, QN)` of them) and the coordinates `ug[i] = u_iᵀ∇ₓC` of the output gradient.
    /// Returns the change, if the rank used changed.
    pub fn update(&mut self, sigma: &[f64], ug: &[f64], rtol: f64) -> Option<RankUpdate> {
        let full = sigma.len();
        let max = sigma.first().copied().unwrap_or(0.0);
        let numerical = linalg::numerical_rank(sigma, rtol);
        let previous = if self.started {
            self.used.unwrap_or(full)
        } else {
            numerical
        };
        let top = RANK_BAND * rtol * max;
        let singular_top = SINGULAR_BAND * rtol * max;
        let gnorm = ug.iter().map(|u| u * u).sum::<f64>().sqrt();
        // Whether the direction i would carry most of the field of rank i + 1, with a component
        // of ∇ₓC that is not negligible: the field grows like 1/σ_i there.
        let dominates = |i: usize| -> Option<f64> {
            if ug.len() <= i
                || sigma[i] <= 0.0
                || ug[i].abs() <= REST_RTOL * gnorm
                || ug[i].abs() <= noise_floor(max, sigma[i], gnorm)
            {
                return None;
            }
            let c = |j: usize| ug[j] / sigma[j];
            let total: f64 = (0..=i).map(|j| c(j) * c(j)).sum();
            let last = c(i) * c(i);
            (total > 0.0 && last >= 0.5 * total).then_some(last / total)
        };
        let mut r = previous.min(numerical);
        let mut reason = RankReason::BelowTolerance;
        // A dropped direction recovers above the band; after a singular drop, only if it would
        // not carry most of the field at once (counting it would restart the blow-up it left).
        while r < numerical && sigma[r] > top && !(self.after_singular && dominates(r).is_some()) {
            r += 1;
            reason = RankReason::Recovered;
        }
        // σ_i/σ_max at the previous accepted point (the four smallest are kept): a blow-up is
        // a σ that falls; one that is small but rising leaves the singular set.
        let previous_ratio = |i: usize| -> f64 {
            let back = full
                .checked_sub(i + 1)
                .filter(|b| *b < 4 && self.last_len == full);
            back.map_or(f64::INFINITY, |b| self.last_ratio[b])
        };
        let mut singular = None;
        while r > 0 && sigma[r - 1] <= singular_top && sigma[r - 1] / max < previous_ratio(r - 1) {
            let Some(share) = dominates(r - 1) else { break };
            singular = Some((r - 1, share, sigma[r - 1] / max));
            r -= 1;
            reason = RankReason::Singular;
            self.after_singular = true;
        }
        for b in 0..4 {
            self.last_ratio[b] = if b < full && max > 0.0 {
                sigma[full - 1 - b] / max
            } else {
                f64::INFINITY
            };
        }
        self.last_len = full;
        let was_started = self.started;
        self.started = true;
        self.used = (r < full).then_some(r);
        if was_started && r == previous {
            return None;
        }
        if !was_started && r == full {
            return None;
        }
        let band = sigma
            .iter()
            .filter(|&&s| s > rtol * max && s <= top)
            .map(|s| s / max)
            .collect();
        Some(RankUpdate {
            previous,
            used: r,
            numerical,
            reason,
            band,
            singular,
            stalled: false,
        })
    }

    /// The decision of a stalled integration (the steps are so small that `s_max` cannot be
    /// reached within the step budget), about the smallest kept singular value if it is at most
    /// `CRAWL_BAND·σ_max`: if its coefficient is below the rounding floor ([`noise_floor`]) the
    /// field along it is noise and it is dropped ([`RankReason::BelowNoise`]); if it carries most
    /// of the field it is the approach to a singularity — a slow one, which the integrator follows
    /// at ever smaller steps ([`RankReason::Singular`]). Returns the drop, or `None` when neither
    /// holds (the stall has another cause).
    pub fn crawl(&mut self, sigma: &[f64], ug: &[f64], rtol: f64) -> Option<RankUpdate> {
        let full = sigma.len();
        let max = sigma.first().copied().unwrap_or(0.0);
        let r = self.used.unwrap_or(full).min(full);
        if r == 0 || max <= 0.0 || ug.len() < r || sigma[r - 1] > CRAWL_BAND * max {
            return None;
        }
        let gnorm = ug.iter().map(|u| u * u).sum::<f64>().sqrt();
        let c = |j: usize| ug[j] / sigma[j];
        let total: f64 = (0..r).map(|j| c(j) * c(j)).sum();
        let last = c(r - 1) * c(r - 1);
        let noise = ug[r - 1].abs() <= noise_floor(max, sigma[r - 1], gnorm);
        if !(noise || total > 0.0 && last >= 0.5 * total) {
            return None;
        }
        self.used = Some(r - 1);
        let numerical = linalg::numerical_rank(sigma, rtol);
        let share = if total > 0.0 { last / total } else { 0.0 };
        let (reason, singular) = if noise {
            (RankReason::BelowNoise, None)
        } else {
            self.after_singular = true;
            (
                RankReason::Singular,
                Some((r - 1, share, sigma[r - 1] / max)),
            )
        };
        Some(RankUpdate {
            previous: r,
            used: r - 1,
            numerical,
            reason,
            band: sigma
                .iter()
                .filter(|&&x| x > rtol * max && x <= RANK_BAND * rtol * max)
                .map(|x| x / max)
                .collect(),
            singular,
            stalled: true,
        })
    }

    /// Marks the field as certified full rank at an accepted point (a fast path showed
    /// `σ_min/σ_max` above the band): no rank decision below `min(K, QN)`.
    pub fn certify_full(&mut self) -> Option<usize> {
        self.started = true;
        self.used.take()
    }

    /// Forgets the history (after a jump of `θ`).
    pub fn reset(&mut self) {
        *self = RankPolicy::default();
    }
}

/// A stalled integration attributes the stall to the smallest kept singular value if it is at
/// most `CRAWL_BAND·σ_max` and carries most of the field (see [`RankPolicy::crawl`]).
pub const CRAWL_BAND: f64 = 1e-4;

/// Safety factor of the rounding floor of a field coefficient: `u_iᵀ∇ₓC` computed from an SVD
/// of `D` carries an error of about `ε·(σ_max/σ_i)·|∇ₓC|` (the perturbation of `u_i` over its gap);
/// below `NOISE` times that, the coefficient is not known, not even its sign.
pub const NOISE: f64 = 100.0;

/// The rounding floor of `|u_iᵀ∇ₓC|` for a singular value `σ_i` (see [`NOISE`]).
pub fn noise_floor(sigma_max: f64, sigma_i: f64, gnorm: f64) -> f64 {
    NOISE * f64::EPSILON * (sigma_max / sigma_i) * gnorm
}

/// `|𝒫∇ₓC| ≤ REST_RTOL·|∇ₓC|` at the rank used is a rest point of the (DAE) flow; the identity
/// `C = (N/2)|𝒫^⊥∇ₓC|²` then holds to `REST_RTOL²` relative.
pub const REST_RTOL: f64 = 1e-8;
