//! What happened during a run, as typed events: one variant per kind, whose fields are the
//! kind-specific keys of the trace's event objects.
//!
//! An event is the JSON object `{"s", "kind", "message", …}`: the variant's name in snake_case
//! under `kind` and its fields beside it (a public format: keys are never renamed, only added,
//! each with a default so that older traces still read). The typed results of the mathematics
//! ([`EscapeStep`], [`NoEscape`], [`TrapInterval`]) are the payloads themselves.

use crate::math::critical::{Escape, EscapeStep, NoEscape, TrapInterval};
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Serialize, Serializer};

/// Something that happened during a run.
///
/// Written as `s`, `kind`, `message`, then the kind's keys in the order of its fields: the order
/// of the traces written before the events were typed, so that old and new traces of the same run
/// are equal byte for byte.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    /// Flow time.
    pub s: f64,
    /// What happened, with its measurements (the `kind` key and the kind-specific keys).
    #[serde(flatten)]
    pub kind: EventKind,
    /// A sentence for people.
    pub message: String,
}

/// The kinds of event, each with the values it records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The cost fell to the scenario's `stop.cost_below`.
    CostBelow {
        /// `C` at the crossing.
        cost: f64,
        /// The threshold `ε` (absent when `C(0)` was already below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epsilon: Option<f64>,
    },
    /// The flow came to rest: `μ ≤ stop.stationary_below`.
    Stationary {
        /// The stationarity `μ` measured.
        stationarity: f64,
        /// `C` there.
        cost: f64,
    },
    /// The run reached `s_max`.
    SMax,
    /// The run hit `stop.max_steps`.
    MaxSteps,
    /// A non-finite value or a failed solve stopped the run.
    NonFinite,
    /// The adaptive step size fell below its floor.
    StepSize,
    /// The numerical rank of `D` changed between two accepted steps.
    RankChange {
        /// The new rank.
        rank: usize,
        /// The rank before.
        previous_rank: usize,
        /// Whether the adapted flow is now the DAE (4.5) (`rank < min(K, QN)`).
        dae: bool,
    },
    /// A stay of the standard flow in a trapping region `ρ < ε` (Prop 3.1), at its exit.
    Trapped(TrapInterval),
    /// An escape step (4.15)–(4.17) moved `θ` off a rank-loss equilibrium.
    Escape(EscapeStep),
    /// An escape attempt changed nothing.
    NoEscape {
        /// The point where no normal direction lowered the cost; `None` when the attempt itself
        /// failed (the message says why).
        #[serde(flatten)]
        at: Option<NoEscape>,
    },
}

impl EventKind {
    /// The `kind` key: `cost_below`, `stationary`, `s_max`, `max_steps`, `non_finite`,
    /// `step_size`, `rank_change`, `trapped`, `escape` or `no_escape`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CostBelow { .. } => "cost_below",
            EventKind::Stationary { .. } => "stationary",
            EventKind::SMax => "s_max",
            EventKind::MaxSteps => "max_steps",
            EventKind::NonFinite => "non_finite",
            EventKind::StepSize => "step_size",
            EventKind::RankChange { .. } => "rank_change",
            EventKind::Trapped(_) => "trapped",
            EventKind::Escape(_) => "escape",
            EventKind::NoEscape { .. } => "no_escape",
        }
    }
}

impl Event {
    /// An event of `kind` at flow time `s`.
    pub fn new(s: f64, kind: EventKind, message: impl Into<String>) -> Self {
        Event {
            s,
            kind,
            message: message.into(),
        }
    }

    /// The event of an escape attempt at flow time `s`: `escape` or `no_escape`.
    pub fn of_escape(s: f64, outcome: &Escape) -> Event {
        match outcome {
            Escape::Escaped(e) => Event::new(
                s,
                EventKind::Escape(e.clone()),
                format!(
                    "escaped along the normal bundle of M_crit (r = {}, dim = {}): C {:.6e} → {:.6e}, \
                     step {:.3e}, min Rayleigh quotient {:.3e}",
                    e.rank, e.dimension, e.cost_before, e.cost_after, e.step, e.rayleigh
                ),
            ),
            Escape::NoEscape { at, reason } => Event::new(
                s,
                EventKind::NoEscape {
                    at: Some(at.clone()),
                },
                reason.clone(),
            ),
        }
    }

    /// The event `trapped` of a stay in a trapping region, at its exit time.
    pub fn trapped(iv: &TrapInterval, qn: usize) -> Event {
        let case = if iv.rank_min >= qn {
            "full rank: a trapping region (Prop 3.1), not an equilibrium"
        } else {
            "rank loss inside: see Lemma 3.2 / Thm 4.2"
        };
        Event::new(
            iv.s_exit,
            EventKind::Trapped(iv.clone()),
            format!(
                "ρ < {:.1e} for s ∈ [{:.4}, {:.4}]: measured {:.4} ≥ Prop 3.1 bound {:.4} \
                 ({:.4} with ε = max ρ = {:.2e}); {case}",
                iv.rho_below,
                iv.s_enter,
                iv.s_exit,
                iv.measured,
                iv.bound,
                iv.bound_rho_max,
                iv.rho_max
            ),
        )
    }

    /// The `kind` key (see [`EventKind::name`]).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The escape step, if this is an `escape` event.
    pub fn escape(&self) -> Option<&EscapeStep> {
        match &self.kind {
            EventKind::Escape(e) => Some(e),
            _ => None,
        }
    }

    /// This event without its vectors (`θ` before an escape, its direction, `α`, `κ`): what the
    /// page receives with every frame, where the vectors would cost transfer and show nothing.
    pub fn without_vectors(&self) -> Event {
        let mut e = self.clone();
        if let EventKind::Escape(step) = &mut e.kind {
            step.theta_before = Vec::new();
            step.direction = Vec::new();
            step.alphas = Vec::new();
            step.kappa = Vec::new();
        }
        e
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let serde_json::Value::Object(fields) =
            serde_json::to_value(&self.kind).map_err(S::Error::custom)?
        else {
            return Err(S::Error::custom("an event kind serializes to an object"));
        };
        let mut map = ser.serialize_map(Some(fields.len() + 2))?;
        map.serialize_entry("s", &self.s)?;
        map.serialize_entry("kind", self.kind.name())?;
        map.serialize_entry("message", &self.message)?;
        for (k, v) in fields.iter().filter(|(k, _)| k.as_str() != "kind") {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
