//! What happened during a run, as typed events: one variant per kind, whose fields are the
//! kind-specific keys of the trace's event objects.
//!
//! An event is the JSON object `{"s", "kind", "message", …}`: the variant's name in snake_case
//! under `kind` and its fields beside it (a public format: keys are never renamed, only added,
//! each with a default so that older traces still read). The typed results of the mathematics
//! ([`EscapeStep`], [`NoEscape`], [`TrapInterval`]) are the payloads themselves.

use crate::math::critical::{Escape, EscapeStep, NoEscape, TrapInterval};
use crate::math::diagnostics::{Rest, RestCheck};
use crate::math::rank::RankReason;
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
    /// The flow came to rest: `μ ≤ stop.stationary_below`, and the rest test holds at the rank
    /// the field used (`regular_rest` or `rank_loss_rest`).
    Stationary {
        /// The stationarity `μ` measured.
        stationarity: f64,
        /// `C` there.
        cost: f64,
        /// The rest test (absent in traces written before it existed).
        #[serde(flatten)]
        rest: Option<RestInfo>,
    },
    /// The outputs reached their targets to rounding: `C ≤ 1e-24·|y̲|²/(2N)`.
    GlobalMinimum {
        /// `C` there.
        cost: f64,
        /// The rest test.
        #[serde(flatten)]
        rest: RestInfo,
    },
    /// `μ ≤ stop.stationary_below`, but the rest test failed at the rank the field used: the
    /// flow goes on (reported once per approach).
    NotAtRest {
        /// The stationarity `μ` measured.
        stationarity: f64,
        /// `|𝒫∇ₓC|/|∇ₓC|` at `rank_used`, when the test could run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proj_ratio: Option<f64>,
        /// Numerical rank of `D`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rank: Option<usize>,
        /// The rank the field used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rank_used: Option<usize>,
    },
    /// The field approached a singularity and the run ended there (`stop.at_singularity`).
    BlowUp {
        /// Numerical rank of `D` there.
        rank: usize,
        /// The rank the field used up to there.
        rank_used: usize,
        /// The vanishing singular value and the unit behind it.
        #[serde(flatten)]
        singularity: Singularity,
    },
    /// The run reached `s_max`.
    SMax,
    /// The run hit `stop.max_steps`.
    MaxSteps,
    /// A non-finite value or a failed solve stopped the run.
    NonFinite,
    /// The adaptive step size fell below its floor.
    StepSize,
    /// The rank the field uses changed at an accepted step (see `math::flow::RankPolicy`).
    RankChange {
        /// The numerical rank of `D` there (`σ_i > rank_rtol·σ_max`). (Traces written before
        /// `rank_used` existed put the field's rank here.)
        rank: usize,
        /// The rank the field used before.
        previous_rank: usize,
        /// Whether the adapted flow is now the DAE (4.5) (`rank_used < min(K, QN)`).
        dae: bool,
        /// The rank the field uses from here on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rank_used: Option<usize>,
        /// Why: `below_tolerance`, `recovered` or `singular`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<RankReason>,
        /// `σ_i/σ_max` inside the band `(rank_rtol, 1e3·rank_rtol]`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        band: Vec<f64>,
        /// The band's edges `[rank_rtol, 1e3·rank_rtol]` (relative to `σ_max`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        band_edges: Option<[f64; 2]>,
        /// For `reason: singular`: the vanishing singular value and the unit behind it.
        #[serde(flatten)]
        singularity: Option<Singularity>,
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
    /// A parameter of the run changed mid-orbit (the page's live controls): the orbit before `s`
    /// used `previous`, the orbit after it uses `value`. The trace's scenario holds the values
    /// the run started with, so rerunning it reproduces the orbit up to the first `tune` event.
    Tune {
        /// `h` (the learning rate of gradient descent), `alpha` (the homotopy's blend) or
        /// `epsilon` (`stop.cost_below`).
        parameter: String,
        /// The new value (`null`: `ε` unset).
        value: Option<f64>,
        /// The value before.
        previous: Option<f64>,
    },
}

/// The rest test of an end point, as the keys of `stationary` and `global_minimum` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestInfo {
    /// The class: `global_minimum`, `regular_rest` or `rank_loss_rest`.
    pub rest: Rest,
    /// Numerical rank of `D`.
    pub rank: usize,
    /// The rank the field used; the test is taken at this rank.
    pub rank_used: usize,
    /// `|𝒫∇ₓC|/|∇ₓC|` at `rank_used` (`≤ 1e-8` at rest).
    pub proj_ratio: f64,
    /// `|C − (N/2)|𝒫^⊥∇ₓC|²|/C` at `rank_used`.
    pub identity_error: f64,
}

impl From<&RestCheck> for RestInfo {
    fn from(c: &RestCheck) -> Self {
        RestInfo {
            rest: c.rest,
            rank: c.rank,
            rank_used: c.rank_used,
            proj_ratio: c.proj_ratio,
            identity_error: c.identity_error,
        }
    }
}

/// The approach to a singularity: which singular value of `D` vanishes, how much of the field it
/// carries, and the unit that dominates its singular vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Singularity {
    /// Index `r` (0-based) of the singular value, descending order.
    pub index: usize,
    /// `σ_r/σ_max`.
    pub sigma_ratio: f64,
    /// Share `c_r²/Σc_i²` of `|∂ₛθ|²` it carries (`c_i = u_iᵀ∇ₓC/σ_i`).
    pub field_share: f64,
    /// Whether the integration had stalled (steps too small for `s_max` within `max_steps`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stalled: bool,
    /// Layer `l` (1-based; `L + 1` is the output layer) of the dominant unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_layer: Option<usize>,
    /// Index (0-based) of the dominant unit in its layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<usize>,
    /// Share of the singular vector's `|v|²` on that unit's incoming weights and bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_share: Option<f64>,
    /// "unit 2 of hidden layer 1", for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_text: Option<String>,
}

impl EventKind {
    /// The `kind` key: `cost_below`, `stationary`, `s_max`, `max_steps`, `non_finite`,
    /// `step_size`, `rank_change`, `trapped`, `escape`, `no_escape` or `tune`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CostBelow { .. } => "cost_below",
            EventKind::Stationary { .. } => "stationary",
            EventKind::GlobalMinimum { .. } => "global_minimum",
            EventKind::NotAtRest { .. } => "not_at_rest",
            EventKind::BlowUp { .. } => "blow_up",
            EventKind::SMax => "s_max",
            EventKind::MaxSteps => "max_steps",
            EventKind::NonFinite => "non_finite",
            EventKind::StepSize => "step_size",
            EventKind::RankChange { .. } => "rank_change",
            EventKind::Trapped(_) => "trapped",
            EventKind::Escape(_) => "escape",
            EventKind::NoEscape { .. } => "no_escape",
            EventKind::Tune { .. } => "tune",
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
            Escape::Escaped(e) => {
                let how = match &e.hessian {
                    Some(h) => format!(
                        "along the eigenvector of the Hessian's least eigenvalue λ_min = {:.3e} \
                         ({}; the step's Rayleigh quotient {:.3e}; the paper's normal-bundle \
                         superposition (4.15)–(4.17) reaches {}); dim ker H = {}, K − r = {}, \
                         rank D {} near θ*",
                        h.hessian_min_eig,
                        match h.hessian_method {
                            crate::math::critical::CurvatureMethod::Dense => "dense eigensolve",
                            crate::math::critical::CurvatureMethod::Lanczos => "Lanczos, K > 2000",
                        },
                        e.rayleigh,
                        h.normal_rayleigh
                            .map_or("nothing (no normals)".into(), |r| format!("{r:.3e}")),
                        h.kernel_dim
                            .map_or("not computed".into(), |d| d.to_string()),
                        e.dimension,
                        if h.constant_rank {
                            "constant (Thm 4.2 applies)"
                        } else {
                            "not constant (Thm 4.2's hypothesis fails)"
                        }
                    ),
                    None => format!(
                        "along the normal bundle of M_crit (r = {}, dim = {}), min Rayleigh \
                         quotient {:.3e}",
                        e.rank, e.dimension, e.rayleigh
                    ),
                };
                Event::new(
                    s,
                    EventKind::Escape(e.clone()),
                    format!(
                        "escaped {how}: C {:.6e} → {:.6e}, step {:.3e}",
                        e.cost_before, e.cost_after, e.step
                    ),
                )
            }
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
        match &mut e.kind {
            EventKind::Escape(step) => {
                step.theta_before = Vec::new();
                step.direction = Vec::new();
                step.alphas = Vec::new();
                step.kappa = Vec::new();
            }
            EventKind::NoEscape { at: Some(at) } => at.theta_before = Vec::new(),
            _ => {}
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
