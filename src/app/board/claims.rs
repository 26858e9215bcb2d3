//! What the constructive panel may claim about each flow's end point: its rest class (the lane's
//! `rest`, [`crate::run::scenario::Final::rest`]) with the hypotheses of 2311.07065 Thm 1.5 and of
//! Thm 5.1 of 2311.15487 checked at that point, and which one fails where they do not (the table
//! of docs/math/non-approximability.md, "What the playground may claim").

use super::{fmt_g, fmt_s, Board};
use crate::app::inspect::ConstructionReport;
use crate::math::diagnostics::Rest;
use crate::math::model::CostSpec;

/// Hidden units whose rescaling leaves every output unchanged, when the activation is positively
/// homogeneous (`σ(az) = aσ(z)` for `a > 0`: ReLU, leaky ReLU, identity): scaling a unit's
/// incoming weights and bias by `a` and its outgoing weights by `1/a` moves `θ` but no output, so
/// the derivative `v_u` lies in `ker D`. So `rank D < K` everywhere (where `v_u = 0`, the unit's
/// incoming columns of `D` vanish instead), and where every hidden bias is non-zero the `v_u`
/// are independent (the bias coordinate is each one's own): `rank D ≤ K − H`. `None` for other
/// activations.
pub(super) fn rescaling_units(activation: &str, widths: &[usize]) -> Option<usize> {
    matches!(activation, "relu" | "leaky_relu" | "identity")
        .then(|| widths[1..widths.len().saturating_sub(1)].iter().sum())
}

impl Board {
    /// `rank D[θ_c]` against `K`: Thm 5.1's hypothesis at the constructed minimizer, and why it
    /// fails on a ReLU network.
    pub(super) fn theta_c_rank_sentence(r: &ConstructionReport) -> String {
        let Some(rank) = r.rank else {
            return String::new();
        };
        if rank >= r.k {
            return format!(" rank D[θ_c] = K = {}.", r.k);
        }
        let why = rescaling_units("relu", &r.needed).map_or(String::new(), |h| {
            format!(
                " (on a ReLU network rank D < K everywhere: rescaling a hidden unit moves no \
                 output; with all {h} hidden biases ≠ 0, rank D ≤ K − {h} = {})",
                r.k.saturating_sub(h)
            )
        });
        format!(
            " rank D[θ_c] = {rank} < K = {}: Thm 5.1's hypothesis rank D = K fails there{why}; \
             rank 𝒫⊥ = QN − {rank} = {} ≥ QN − K = {}.",
            r.k,
            r.qn.saturating_sub(rank),
            r.qn.saturating_sub(r.k)
        )
    }

    /// Per flow, once it has ended: its rest class and what the papers say there, with the
    /// hypotheses checked at the rank the field used (`K < QN` is the panel's setting).
    pub(super) fn rest_sentence(&self, i: usize, r: &ConstructionReport) -> Option<String> {
        let info = self.info.as_ref()?;
        let f = self.lanes[i].frame.as_ref()?;
        let p = self.lanes[i].samples.last()?;
        let (k, qn) = (info.k, info.qn);
        let label = self.lane_label(i);
        let perp = if info.cost == CostSpec::Weighted {
            "½(𝒫⊥∇ₓC)ᵀΩ⁻¹(𝒫⊥∇ₓC)"
        } else {
            "(N/2)|𝒫⊥∇ₓC|²"
        };
        let Some(rest) = f.rest else {
            return Some(format!(
                "{label} is still running (s = {}): its end point is classified when it ends.",
                fmt_g(f.s)
            ));
        };
        let used = p.rank_used.or(f.rank_used).unwrap_or(p.rank);
        let ratio = if p.grad_x_norm > 0.0 {
            p.proj_grad_norm / p.grad_x_norm
        } else {
            0.0
        };
        let identity = if p.cost > 0.0 {
            (p.cost - p.perp_cost).abs() / p.cost
        } else {
            0.0
        };
        let test = format!("|𝒫∇ₓC|/|∇ₓC| = {ratio:.1e} at rank_used = {used}");
        let thm15 = format!(
            "2311.07065 Thm 1.5's hypotheses hold here (a rest point — 𝒫∇ₓC = 0, the same for \
             every flow — with K = {k} < QN = {qn}; rank 𝒫⊥ = QN − {used} = {} ≥ QN − K = {}), \
             and C = {perp} = {} to {:.0e}",
            qn.saturating_sub(used),
            qn.saturating_sub(k),
            fmt_s(p.perp_cost),
            identity.max(1e-16)
        );
        let positive = if p.cost > 0.0 {
            format!(
                "; C = {} > 0 here, the generic case (Remark 5.2)",
                fmt_s(p.cost)
            )
        } else {
            String::new()
        };
        Some(match rest {
            Rest::RegularRest => format!(
                "{label} is at rest (regular_rest: {test} = K): Thm 5.1's hypothesis rank D = K \
                 holds, so rank 𝒫⊥ = QN − K exactly; {thm15}{positive}."
            ),
            Rest::RankLossRest => {
                let why = rescaling_units(&r.activation, &r.current).map_or(String::new(), |h| {
                    format!(
                        ", as everywhere on a {} network (rescaling a hidden unit moves no \
                         output; with all {h} hidden biases ≠ 0, rank D ≤ K − {h} = {})",
                        r.activation,
                        k.saturating_sub(h)
                    )
                });
                format!(
                    "{label} is at rest (rank_loss_rest: {test} < K = {k}): {thm15}{positive}. \
                     Thm 5.1's hypothesis rank D = K fails here{why}."
                )
            }
            Rest::GlobalMinimum => format!(
                "{label} reached a global minimum (global_minimum: C = {}): no non-approximability \
                 statement is about this run.",
                fmt_s(p.cost)
            ),
            Rest::BlowUp => format!(
                "{label} ended at a singularity of the field (blow_up, {}, s = {}, {test} of K = \
                 {k}): not a rest point, so no rest-point identity applies.",
                f.status.name(),
                fmt_g(f.s)
            ),
            Rest::Moving => format!(
                "{label} is not at rest (moving: ended by {} at s = {}, {test} of K = {k}; a rest \
                 needs ≤ 1e-8): the hypothesis of 2311.07065 Thm 1.5 (a rest point) fails, so its \
                 identity does not apply; C − {perp} = {} is the part of the cost it still moves \
                 along.",
                f.status.name(),
                fmt_g(f.s),
                fmt_s(p.cost - p.perp_cost)
            ),
        })
    }
}
