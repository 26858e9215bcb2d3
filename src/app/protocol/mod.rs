//! The page ↔ worker protocol and the [`Host`] that answers it.
//!
//! One message enum per direction. The page sends [`ToWorker`] requests as flat objects
//! `{"id": 7, "type": "load", …}` (`id` echoes in the answer); the worker answers with
//! [`FromWorker`] messages tagged by `type`, the first being an unsolicited
//! [`FromWorker::Ready`] (the handshake). Bulk numbers (outputs, samples, data, heatmap grids) do
//! not go through serde: they travel beside the message as one flat `Float64Array` whose layout
//! the header describes, and [`FrameHeader::decode`] / [`RunInfo::decode`] read it back (the
//! decoders and the sample encoder share one file, `bulk.rs`).
//!
//! The [`Host`] (`host.rs`) owns the comparison and every session. It never looks at a clock of
//! its own (wasm32 has none): the caller passes `now` and a clock closure in milliseconds.
//! `heat.rs` evaluates the decision-boundary grid, `family.rs` runs a homotopy family.

use crate::app::inspect::{self, ClassifyReport, ConstructionReport, CriticalReport};
use crate::error::{Error, Result};
use crate::math::construct::Theorem;
use crate::math::critical::RankCheck;
use crate::math::model::{CostSpec, Regime};
use crate::run::event::Event;
use crate::run::lanes::FlowChoice;
use crate::run::session::Status;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod bulk;
mod family;
mod heat;
mod host;
mod modes;
mod network;
mod tune;

pub use bulk::{
    decode_sample, encode_sample, sample_len, FrameData, HeatGrid, LaneUpdate, ModesData,
    MovingPoint, NetDiagram, RunData, SAMPLE_SCALARS,
};
pub use heat::{heat_size, heat_values, plane_bounds};
pub use host::Host;
pub use modes::{MAX_MODES_QN, MAX_MOVING_QN};
pub use network::{diagram, heat_side, UnitInfo, MAX_SHOWN_UNITS};

/// Protocol version sent in the handshake; bump when a message changes shape.
pub const PROTOCOL_VERSION: u32 = 3;
/// Milliseconds of integration per tick before the worker posts a frame and yields.
pub const DEFAULT_BUDGET_MS: f64 = 30.0;
/// Least time between two heatmap evaluations while running.
pub const HEAT_EVERY_MS: f64 = 150.0;
/// Largest heatmap grid side a page may ask for (about a canvas's device pixels over 2; the
/// worker computes less while running, see [`heat_size`]).
pub const MAX_HEAT_SIZE: usize = 400;
/// With a clock ([`Host::set_clock`]), the spectra of a lane's samples (a dense `D` and its SVD)
/// take at most this share of the lane's stepping time; later samples reuse the last spectrum and
/// say from which `s` (see [`crate::run::session::Session::set_spectrum_budget`]).
pub const SPECTRUM_SHARE: f64 = 0.2;
/// Most samples `j` whose output trails the host records.
pub const MAX_TRAIL_SAMPLES: usize = 64;
/// Most singular values of `D` sent per sample (the smallest ones when there are more: that is
/// where rank drops show).
pub const MAX_SINGULAR_VALUES: usize = 32;
/// Most samples `j` whose output trails a homotopy family records.
pub const MAX_FAMILY_SAMPLES: usize = 8;

/// A request from the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ToWorker {
    /// Builds one lane per flow from the scenario (JSON text), paused at `s = 0`.
    Load {
        /// The scenario as JSON text (parsed with field-named errors).
        scenario: String,
        /// The flows to compare, in legend order.
        flows: Vec<FlowChoice>,
    },
    /// Runs at the current speed until paused or every lane has ended.
    Play {},
    /// Stops after the current tick.
    Pause {},
    /// Advances the shared `s` by one sample spacing, then pauses.
    Step {},
    /// Restarts every lane from `θ₀`.
    Reset {},
    /// Runs at full speed until every lane has ended (at `C ≤ ε` when the scenario sets `ε`),
    /// reporting progress in each frame.
    RunUntil {},
    /// Flow time per second of wall time; `null` runs as fast as the budget allows.
    Speed {
        /// `s` per second, or `null` for as fast as possible.
        #[serde(default)]
        s_per_second: Option<f64>,
    },
    /// Evaluates a lane's network on a `size × size` grid over the input plane with every frame
    /// (at most every [`HEAT_EVERY_MS`] while running); `lane: null` turns it off.
    Heatmap {
        /// Which lane, or `null`.
        #[serde(default)]
        lane: Option<usize>,
        /// Grid side.
        #[serde(default = "default_heat_size")]
        size: usize,
    },
    /// Asks for a lane's trace (JSON) as it stands.
    Trace {
        /// Which lane.
        lane: usize,
    },
    /// Asks for the critical-submanifold panel of a lane (see [`inspect::critical_report`]):
    /// readouts at `θ*` and the cost slice on a `size × size` grid.
    Critical {
        /// Which lane.
        lane: usize,
        /// Grid side of the slice.
        #[serde(default = "default_slice_size")]
        size: usize,
    },
    /// Attempts the escape step (4.15)–(4.17) from a lane's current `θ` (the Escape button):
    /// answered with a frame and the lane's critical panel.
    Escape {
        /// Which lane.
        lane: usize,
    },
    /// Asks for the constructive minimizer of the loaded data (see
    /// [`inspect::construction_report_with`]).
    Construct {
        /// `separable` (2024) or `clustered` (2023); `null`: the 2023 theorem when its
        /// hypotheses hold on the data, else the 2024 one.
        #[serde(default)]
        theorem: Option<Theorem>,
        /// `μ̲` of the 2023 family (one value, or one per class); `null`: the middle of its range.
        #[serde(default)]
        mu: Option<Vec<f64>>,
    },
    /// Runs a new input through the last construction (see [`inspect::classify`]).
    Classify {
        /// The input, `M` numbers.
        x: Vec<f64>,
    },
    /// Runs a homotopy family (one flow per `α`, from the same `θ₀`) alongside the lanes, up to
    /// the furthest lane's `s`; `alphas: null` stops it.
    Family {
        /// The `α` values, or `null`.
        #[serde(default)]
        alphas: Option<Vec<f64>>,
    },
    /// Changes parameters of the running comparison from each lane's current state on, without a
    /// reset (see [`Comparison::tune`](crate::run::lanes::Comparison::tune)); answered with
    /// `tuned` and a frame. Absent keys stay as they are.
    Tune {
        /// Learning rate of the gradient-descent lane.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        h: Option<f64>,
        /// Blend of the homotopy lane.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alpha: Option<f64>,
        /// `ε = stop.cost_below` of every lane; `null` unsets it.
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        epsilon: Option<Option<f64>>,
    },
    /// Sends the eigenmode view with every frame that brings samples: each lane's output error
    /// along the NTK's eigenvectors at `θ₀`, and lane `lane`'s along its current NTK's
    /// (the moving basis); `lane: null` turns it off.
    Eigenmodes {
        /// The lane whose moving basis is followed, or `null`.
        #[serde(default)]
        lane: Option<usize>,
    },
    /// Sends the network diagram of lane `lane` with the frames (at most every
    /// [`HEAT_EVERY_MS`] while running); `lane: null` turns it off.
    Network {
        /// Which lane, or `null`.
        #[serde(default)]
        lane: Option<usize>,
    },
}

/// Reads a key that may be `null` as `Some(None)` (absent keys take the field's default, `None`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

fn default_slice_size() -> usize {
    inspect::DEFAULT_SLICE_SIZE
}

fn default_heat_size() -> usize {
    48
}

/// A parsed request: the id to echo and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Echoed in every answer to this request.
    pub id: u32,
    /// What is asked.
    pub msg: ToWorker,
}

/// A request that could not be parsed: the id when it was readable, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The request id, if readable.
    pub id: Option<u32>,
    /// What was wrong, naming the field.
    pub error: Error,
}

impl Request {
    /// Reads `{"id": n, "type": t, …fields}`.
    ///
    /// Errors name the field: `id`, `type`, or the path inside the message (`flows[1].h`).
    pub fn from_value(v: Value) -> std::result::Result<Request, Refusal> {
        let refuse = |id, field: &str, reason: String| Refusal {
            id,
            error: Error::invalid(field, reason),
        };
        let Value::Object(mut fields) = v else {
            return Err(refuse(
                None,
                "message",
                format!(
                    "must be an object with \"id\" and \"type\", got {}",
                    brief(&v)
                ),
            ));
        };
        let id = match fields.remove("id") {
            Some(Value::Number(n)) => match n.as_u64().and_then(|i| u32::try_from(i).ok()) {
                Some(i) => i,
                None => {
                    return Err(refuse(
                        None,
                        "id",
                        format!("must be an integer in 0..2^32, got {n}"),
                    ))
                }
            },
            Some(other) => {
                return Err(refuse(
                    None,
                    "id",
                    format!("must be a number, got {}", brief(&other)),
                ))
            }
            None => return Err(refuse(None, "id", "is missing".into())),
        };
        let kind = match fields.remove("type") {
            Some(Value::String(k)) => k,
            Some(other) => {
                return Err(refuse(
                    Some(id),
                    "type",
                    format!("must be a string, got {}", brief(&other)),
                ))
            }
            None => return Err(refuse(Some(id), "type", "is missing".into())),
        };
        let mut outer = serde_json::Map::new();
        outer.insert(kind.clone(), Value::Object(fields));
        let mut track = serde_path_to_error::Track::new();
        let de = serde_path_to_error::Deserializer::new(Value::Object(outer), &mut track);
        match ToWorker::deserialize(de) {
            Ok(msg) => Ok(Request { id, msg }),
            Err(e) => {
                let path: Vec<String> = track
                    .path()
                    .iter()
                    .skip(1)
                    .map(|seg| match seg {
                        serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
                        other => format!(".{other}"),
                    })
                    .collect();
                let mut path = path.concat();
                let mut msg = e.to_string();
                // Kind-tagged values inside (flows) carry their inner path in the message.
                if let Some((inner, rest)) = crate::tagged::split_inner_path(&msg) {
                    if !inner.is_empty() {
                        path = format!("{path}.{inner}");
                    }
                    msg = rest.to_string();
                }
                let field = if msg.starts_with("unknown variant") {
                    "type".to_string()
                } else if path.is_empty() {
                    kind
                } else {
                    path.trim_start_matches('.').to_string()
                };
                Err(refuse(Some(id), &field, msg))
            }
        }
    }

    /// The flat object form `{"id", "type", …}` (what the page sends).
    pub fn to_value(&self) -> Value {
        let v = serde_json::to_value(&self.msg).expect("requests serialize");
        let Value::Object(outer) = v else {
            unreachable!("struct variants serialize as maps")
        };
        let (kind, inner) = outer.into_iter().next().expect("one variant");
        let mut flat = serde_json::Map::new();
        flat.insert("id".into(), self.id.into());
        flat.insert("type".into(), Value::String(kind));
        if let Value::Object(f) = inner {
            flat.extend(f);
        }
        Value::Object(flat)
    }
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// A flow of the loaded comparison, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneInfo {
    /// The flow.
    pub choice: FlowChoice,
    /// Legend text.
    pub label: String,
    /// CSS colour `#rrggbb`.
    pub color: String,
}

/// What the page needs to know about a loaded comparison. Bulk: inputs (`N·M`, sample-major),
/// then targets (`C·Q`), then `θ₀`'s outputs `x̲(0)` (`QN`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Increases with every load and reset; frames of older epochs are stale.
    pub epoch: u32,
    /// Scenario title.
    pub name: Option<String>,
    /// Parameter count `K`.
    pub k: usize,
    /// Output dimension `Q`.
    pub q: usize,
    /// Samples `N`.
    pub n: usize,
    /// Input dimension `M`.
    pub m: usize,
    /// Number of targets `C` (classes).
    pub classes: usize,
    /// `QN`.
    pub qn: usize,
    /// `K` against `QN`.
    pub regime: Regime,
    /// `C(0)`, shared by every lane.
    pub c0: f64,
    /// `ε = stop.cost_below`, if set.
    pub epsilon: Option<f64>,
    /// `(N/2) log(C(0)/ε)`, if `ε` is set; under the weighted cost the root of
    /// `Σ_j C_j(0)e^{−4s/N_j} = ε`.
    pub predicted: Option<f64>,
    /// The cost the flows minimize.
    #[serde(default)]
    pub cost: CostSpec,
    /// `C(s) = Σ_k a_k e^{−r_k s}` along the adapted flow while `rank D = QN`: the pairs
    /// `(a_k, r_k)` (one for the mean cost, one per class for the weighted one).
    #[serde(default)]
    pub theory: Vec<(f64, f64)>,
    /// End of the shared interval.
    pub s_max: f64,
    /// Sample spacing.
    pub every_s: f64,
    /// The flows.
    pub lanes: Vec<LaneInfo>,
    /// `ω(j)` for every sample.
    pub labels: Vec<usize>,
    /// Input-plane bounds `[x_lo, x_hi, y_lo, y_hi]` when `M = 2` (heatmap and clicks).
    pub bounds: Option<[f64; 4]>,
    /// The samples `j` whose output trails are recorded (at most [`MAX_TRAIL_SAMPLES`]).
    pub trail: Vec<usize>,
    /// Least `s` between two trail points.
    pub trail_every: f64,
    /// Singular values of `D` carried by each sample: all `min(K, QN)` of them, or the
    /// [`MAX_SINGULAR_VALUES`] smallest.
    pub sv: usize,
    /// `min(K, QN)`.
    pub sv_total: usize,
    /// Relative rank tolerance: `σ_i ≤ rank_rtol·σ_max` counts as zero.
    pub rank_rtol: f64,
    /// The paper's rank formula for `D[θ₀]` beside the measured rank, when the scenario has one.
    pub rank_formula: Option<RankCheck>,
    /// Whether `critical` requests are small enough to answer (`K·QN ≤`
    /// [`inspect::MAX_CRITICAL_WORK`]): the page asks on its own only then.
    pub inspectable: bool,
}

/// One lane's state in a frame. Bulk: outputs `x̲(s)` (`QN`), then `new_samples` encoded samples,
/// then `new_trail` trail points (`s`, then the outputs of the trail samples, `Q` each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneFrame {
    /// Flow time.
    pub s: f64,
    /// Cost.
    pub cost: f64,
    /// `running`, `cost_below`, `stationary`, …
    pub status: Status,
    /// Accepted steps.
    pub steps: u64,
    /// Field evaluations.
    pub evals: u64,
    /// Numerical rank of `D` at the latest sample (`σ_i > rank_rtol·σ_max`).
    pub rank: Option<usize>,
    /// The rank the field uses (flows that decide one; see `math::flow::RankPolicy`).
    #[serde(default)]
    pub rank_used: Option<usize>,
    /// Where the run ended (once it has): `global_minimum`, `regular_rest`, `rank_loss_rest`,
    /// `blow_up` or `moving`.
    #[serde(default)]
    pub rest: Option<crate::math::diagnostics::Rest>,
    /// The end-point sentence with its measurements (once the run has ended).
    #[serde(default)]
    pub end: Option<String>,
    /// Stationarity `μ`.
    pub stationarity: f64,
    /// Steps per second of this lane's own compute time since the load.
    pub steps_per_s: f64,
    /// First `s` with `C ≤ ε`, once reached.
    pub measured: Option<f64>,
    /// How far behind `s` the spectral fields of the latest sample are (rank, `σ`, `𝒫`; 0 when
    /// computed there), under the spectrum budget.
    #[serde(default)]
    pub spectrum_age: f64,
    /// Samples recorded since the previous frame (encoded in the bulk).
    pub new_samples: usize,
    /// Trail points recorded since the previous frame (in the bulk).
    pub new_trail: usize,
    /// Events since the previous frame.
    pub events: Vec<Event>,
}

/// Where a heatmap grid lies. Bulk: `size²` points, row by row from `y_lo` up, each `Q` outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeatHeader {
    /// The lane whose network was evaluated.
    pub lane: usize,
    /// Grid side.
    pub size: usize,
    /// `[x_lo, x_hi, y_lo, y_hi]`.
    pub bounds: [f64; 4],
}

/// The state after a tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameHeader {
    /// The load this frame belongs to.
    pub epoch: u32,
    /// Whether the worker keeps running after this frame.
    pub running: bool,
    /// Progress of a run to `C ≤ ε` in `[0, 1]`, while one is under way or just ended.
    pub progress: Option<f64>,
    /// Why a run stopped, when it stopped in this tick.
    pub stopped: Option<String>,
    /// One entry per lane.
    pub lanes: Vec<LaneFrame>,
    /// A heatmap grid, when one was evaluated for this frame.
    pub heat: Option<HeatHeader>,
    /// The network diagram, when one was computed for this frame (after the heatmap in the bulk).
    #[serde(default)]
    pub network: Option<NetworkHeader>,
}

/// The network diagram of one lane. Bulk: for each layer `l = 1..=L+1` the weights `W_l[a, b]`
/// of its drawn units `a` (rows) from the drawn units `b` of layer `l − 1`; then, when `grid > 0`,
/// `grid²` activations per drawn unit (in `units` order), row by row from `bounds`' bottom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkHeader {
    /// The lane whose `θ` is drawn.
    pub lane: usize,
    /// `[M, M_1, …, M_L, Q]`.
    pub widths: Vec<usize>,
    /// The hidden activation's name.
    pub activation: String,
    /// Per layer (inputs first), the indices of the units drawn (all up to
    /// [`MAX_SHOWN_UNITS`]).
    pub shown: Vec<Vec<usize>>,
    /// Every drawn unit of layers `1..=L+1`, layer by layer.
    pub units: Vec<UnitInfo>,
    /// Side of each unit's activation grid (0: none, the inputs are not 2-D).
    pub grid: usize,
    /// `[x_lo, x_hi, y_lo, y_hi]` of the grids.
    pub bounds: Option<[f64; 4]>,
}

/// The eigenmode view's state. Bulk: per lane `new_points[i]` points of `1 + m` numbers (`s`,
/// then `a_i = ⟨u_i⁰, x̲(s) − y̲⟩` for the `m = modes.len()` modes), then `new_moving` points of
/// `3 + m` numbers (`s`, `|x̲ − y̲|`, `‖K(s) − K₀‖_F/‖K₀‖_F`, then `⟨u_i(s), x̲(s) − y̲⟩`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModesHeader {
    /// The load this belongs to.
    pub epoch: u32,
    /// The lane whose moving basis is followed.
    pub lane: usize,
    /// `QN`.
    pub qn: usize,
    /// `N`.
    pub n: usize,
    /// The modes shown: positions in the descending order of the eigenvalues at `θ₀` (see
    /// [`crate::math::eigenmodes::chosen_modes`]); empty when [`Self::note`] says why.
    pub modes: Vec<usize>,
    /// `λ_i⁰` of those modes.
    pub lambdas: Vec<f64>,
    /// `λ_max(DDᵀ)` at `θ₀`.
    pub lambda_max: f64,
    /// Numerical rank of `D[θ₀]` (relative tolerance `rank_rtol`).
    pub rank0: usize,
    /// The relative rank tolerance.
    pub rank_rtol: f64,
    /// `|x̲(0) − y̲|`.
    pub e0_norm: f64,
    /// Why there are no modes (too large, a failed eigensolve).
    pub note: Option<String>,
    /// Why the moving basis is not computed.
    pub moving_note: Option<String>,
    /// Fixed-basis points per lane in the bulk.
    pub new_points: Vec<usize>,
    /// Moving-basis points in the bulk.
    pub new_moving: usize,
    /// The first message of a new view (the page's history starts over).
    pub fresh: bool,
}

/// An answer from the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The handshake: the worker is initialised and listening.
    Ready {
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// Crate version.
        version: String,
    },
    /// A comparison was built (answer to `load` and `reset`); bulk: see [`RunInfo`].
    Loaded {
        /// Request id.
        id: u32,
        /// The run.
        info: RunInfo,
    },
    /// State after a tick; bulk: see [`LaneFrame`] and [`HeatHeader`].
    Frame {
        /// Id of the request that set the worker going (or asked for the frame).
        id: u32,
        /// The state.
        frame: FrameHeader,
    },
    /// A lane's trace.
    Trace {
        /// Request id.
        id: u32,
        /// Which lane.
        lane: usize,
        /// The trace document (JSON).
        json: String,
    },
    /// A lane's critical-submanifold panel; bulk: the cost slice (see [`inspect::SliceHeader`]).
    Critical {
        /// Request id.
        id: u32,
        /// The readouts.
        report: CriticalReport,
    },
    /// The constructive minimizer of the loaded data; bulk: see [`ConstructionReport`].
    Construction {
        /// Request id.
        id: u32,
        /// The construction.
        report: ConstructionReport,
    },
    /// A new input through the last construction.
    Classified {
        /// Request id.
        id: u32,
        /// The classification.
        report: ClassifyReport,
    },
    /// The homotopy family's progress; bulk: see [`FamilyHeader`].
    Family {
        /// Id of the `family` request.
        id: u32,
        /// The state.
        family: FamilyHeader,
    },
    /// Parameters changed mid-orbit (answer to `tune`): the run's description with the new
    /// labels, `ε` and predicted stopping time; the history stays (same epoch).
    Tuned {
        /// Request id.
        id: u32,
        /// The run, as it is now.
        info: RunInfo,
    },
    /// The eigenmode view; bulk: see [`ModesHeader`].
    Modes {
        /// Id of the `eigenmodes` request.
        id: u32,
        /// The state.
        modes: ModesHeader,
    },
    /// A request was carried out and has nothing else to say.
    Ack {
        /// Request id.
        id: u32,
    },
    /// A request failed; nothing changed.
    Error {
        /// Request id, when readable.
        id: Option<u32>,
        /// The offending field, when one is to blame.
        field: Option<String>,
        /// The whole message, `field: reason`.
        message: String,
    },
}

impl FromWorker {
    /// The error variant for `e`.
    pub fn error(id: Option<u32>, e: &Error) -> FromWorker {
        FromWorker::Error {
            id,
            field: match e {
                Error::Invalid { field, .. } => Some(field.clone()),
                _ => None,
            },
            message: e.to_string(),
        }
    }
}

/// Trail points of one flow: `(s, outputs of the recorded samples)`, oldest first.
pub type TrailPoints = Vec<(f64, Vec<f64>)>;

/// One member of a homotopy family in a [`FamilyHeader`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyMember {
    /// Its `α`.
    pub alpha: f64,
    /// Flow time.
    pub s: f64,
    /// Cost.
    pub cost: f64,
    /// `running`, `stationary`, …
    pub status: Status,
    /// Trail points since the previous family message (in the bulk).
    pub new_trail: usize,
    /// Once it has ended: `|V_β|` at its end point for every `β` of the family
    /// ([`inspect::field_norms`]).
    pub end_norms: Option<Vec<f64>>,
}

/// A homotopy family's state. Bulk: per member, `new_trail` points of `1 + samples·Q` numbers
/// (`s`, then the outputs of the family's samples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyHeader {
    /// The load this belongs to.
    pub epoch: u32,
    /// The samples `j` whose trails are recorded.
    pub samples: Vec<usize>,
    /// `|V_β(θ₀)|` for every `β` of the family, the scale of the end-point norms.
    pub norms0: Vec<f64>,
    /// One entry per `α`.
    pub members: Vec<FamilyMember>,
    /// The `s` the family follows: the furthest lane's while a lane runs; `null` once every lane
    /// has ended, when the members run on to their own ends.
    pub target: Option<f64>,
}

/// A message and the bulk numbers that travel with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The message.
    pub msg: FromWorker,
    /// Bulk numbers (empty for most messages).
    pub bulk: Vec<f64>,
}

impl From<FromWorker> for Reply {
    fn from(msg: FromWorker) -> Reply {
        Reply { msg, bulk: vec![] }
    }
}
