//! The page ↔ worker protocol and the [`Host`] that answers it.
//!
//! One message enum per direction. The page sends [`ToWorker`] requests as flat objects
//! `{"id": 7, "type": "load", …}` (`id` echoes in the answer); the worker answers with
//! [`FromWorker`] messages tagged by `type`, the first being an unsolicited
//! [`FromWorker::Ready`] (the handshake). Bulk numbers (outputs, samples, data, heatmap grids) do
//! not go through serde: they travel beside the message as one flat `Float64Array` whose layout
//! the header describes, and [`FrameHeader::decode`] / [`RunInfo::decode`] read it back, so the
//! encoder and the decoder live in one tested place.
//!
//! The [`Host`] owns the [`Comparison`] and every session. It never looks at a clock of its own
//! (wasm32 has none): the caller passes `now` and a clock closure in milliseconds.

use crate::app::inspect::{self, ConstructionReport, CriticalReport};
use crate::error::{Error, Result};
use crate::math::critical::RankCheck;
use crate::math::diagnostics::Sample;
use crate::math::model::Regime;
use crate::run::event::Event;
use crate::run::lanes::{Comparison, FlowChoice, Lane};
use crate::run::scenario::Scenario;
use crate::run::session::Status;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Protocol version sent in the handshake; bump when a message changes shape.
pub const PROTOCOL_VERSION: u32 = 2;
/// Milliseconds of integration per tick before the worker posts a frame and yields.
pub const DEFAULT_BUDGET_MS: f64 = 30.0;
/// Least time between two heatmap evaluations while running.
pub const HEAT_EVERY_MS: f64 = 150.0;
/// Largest heatmap grid side.
pub const MAX_HEAT_SIZE: usize = 160;
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
    /// [`inspect::construction_report`]).
    Construct {},
    /// Runs a homotopy family (one flow per `α`, from the same `θ₀`) alongside the lanes, up to
    /// the furthest lane's `s`; `alphas: null` stops it.
    Family {
        /// The `α` values, or `null`.
        #[serde(default)]
        alphas: Option<Vec<f64>>,
    },
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
    /// `(N/2) log(C(0)/ε)`, if `ε` is set.
    pub predicted: Option<f64>,
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

/// The data a [`RunInfo`]'s bulk carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    /// Inputs, one `Vec` of length `M` per sample.
    pub inputs: Vec<Vec<f64>>,
    /// Targets `y_c`, one `Vec` of length `Q` per class.
    pub targets: Vec<Vec<f64>>,
    /// Outputs `x̲(0)` at `θ₀` (shared by every lane), sample-major.
    pub outputs0: Vec<f64>,
}

impl RunInfo {
    /// Reads the data from the bulk that came with this header.
    ///
    /// Errors: a bulk of the wrong length (`bulk`).
    pub fn decode(&self, bulk: &[f64]) -> Result<RunData> {
        let want = self.n * self.m + self.classes * self.q + self.qn;
        if bulk.len() != want {
            return Err(Error::invalid(
                "bulk",
                format!(
                    "expected {want} numbers (N·M + C·Q + QN = {}·{} + {}·{} + {}), got {}",
                    self.n,
                    self.m,
                    self.classes,
                    self.q,
                    self.qn,
                    bulk.len()
                ),
            ));
        }
        let (x, rest) = bulk.split_at(self.n * self.m);
        let (y, x0) = rest.split_at(self.classes * self.q);
        Ok(RunData {
            inputs: x.chunks(self.m).map(<[f64]>::to_vec).collect(),
            targets: y.chunks(self.q).map(<[f64]>::to_vec).collect(),
            outputs0: x0.to_vec(),
        })
    }
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
    /// Rank of `D` at the last evaluation (flows that compute it).
    pub rank: Option<usize>,
    /// Stationarity `μ`.
    pub stationarity: f64,
    /// Steps per second of this lane's own compute time since the load.
    pub steps_per_s: f64,
    /// First `s` with `C ≤ ε`, once reached.
    pub measured: Option<f64>,
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
}

/// A decoded lane of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneUpdate {
    /// Current outputs `x̲(s)`.
    pub outputs: Vec<f64>,
    /// New samples.
    /// New samples: the scalars, the class statistics (NaN-padded to `classes`) and the
    /// [`RunInfo::sv`] smallest singular values; no `θ` or outputs.
    pub samples: Vec<Sample>,
    /// New trail points: `s` and the outputs of the trail samples (`Q` each, in
    /// [`RunInfo::trail`] order).
    pub trail: Vec<(f64, Vec<f64>)>,
}

/// A decoded heatmap grid.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatGrid {
    /// Where it lies.
    pub header: HeatHeader,
    /// `size²·Q` outputs, row by row from `y_lo` up.
    pub values: Vec<f64>,
}

/// A frame's bulk, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameData {
    /// One per lane.
    pub lanes: Vec<LaneUpdate>,
    /// The heatmap grid, if any.
    pub heat: Option<HeatGrid>,
}

/// A number of a sample's bulk encoding.
trait Scalar {
    fn to_f64(&self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Scalar for f64 {
    fn to_f64(&self) -> f64 {
        *self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl Scalar for usize {
    fn to_f64(&self) -> f64 {
        *self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as usize
    }
}

/// The scalar fields of [`Sample`] that head its bulk encoding, in order: [`SAMPLE_SCALARS`],
/// the encoder and the decoder all come from this one list.
macro_rules! sample_scalars {
    ($($field:ident),* $(,)?) => {
        /// The scalar fields of a [`Sample`] at the head of its encoding (see [`encode_sample`]).
        pub const SAMPLE_SCALARS: &[&str] = &[$(stringify!($field)),*];

        fn encode_scalars(smp: &Sample, out: &mut Vec<f64>) {
            out.extend_from_slice(&[$(smp.$field.to_f64()),*]);
        }

        /// Reads the scalars from `v`, which holds [`SAMPLE_SCALARS`]`.len()` numbers.
        fn decode_scalars(v: &[f64], smp: &mut Sample) {
            let mut i = 0;
            $(
                smp.$field = Scalar::from_f64(v[i]);
                i += 1;
            )*
            debug_assert_eq!(i, v.len());
        }
    };
}

sample_scalars!(
    s,
    cost,
    rank,
    sigma_max,
    sigma_min,
    lambda_min,
    rho,
    grad_x_norm,
    proj_grad_norm,
    perp_cost,
);

/// Numbers one encoded sample takes with `classes` classes and `sv` singular values.
pub fn sample_len(classes: usize, sv: usize) -> usize {
    SAMPLE_SCALARS.len() + 2 * classes + sv
}

/// Appends a sample: the [`SAMPLE_SCALARS`], then the spreads and the mean distances (padded
/// with NaN to `classes` each, so that every sample has the same length), then the last `sv`
/// singular values (the smallest; NaN when the sample has none). `θ` and the outputs stay out.
pub fn encode_sample(smp: &Sample, classes: usize, sv: usize, out: &mut Vec<f64>) {
    encode_scalars(smp, out);
    let pad = |v: &[f64], len: usize, out: &mut Vec<f64>| {
        out.extend(
            v.iter()
                .copied()
                .chain(std::iter::repeat(f64::NAN))
                .take(len),
        );
    };
    pad(&smp.class_spread, classes, out);
    pad(&smp.class_mean_distance, classes, out);
    let sigma = smp.singular_values.as_deref().unwrap_or(&[]);
    pad(&sigma[sigma.len().saturating_sub(sv)..], sv, out);
}

/// Reads one sample of [`sample_len`]`(classes, sv)` numbers written by [`encode_sample`].
pub fn decode_sample(v: &[f64], classes: usize) -> Sample {
    let (head, rest) = v.split_at(SAMPLE_SCALARS.len());
    let (spread, rest) = rest.split_at(classes);
    let (dist, sigma) = rest.split_at(classes);
    let mut smp = Sample {
        class_spread: spread.to_vec(),
        class_mean_distance: dist.to_vec(),
        singular_values: Some(sigma.to_vec()),
        ..Sample::default()
    };
    decode_scalars(head, &mut smp);
    smp
}

impl FrameHeader {
    /// Reads the bulk that came with this header, given the run it belongs to.
    ///
    /// Errors: a lane count or bulk length that does not match (`frame.lanes`, `bulk`).
    pub fn decode(&self, info: &RunInfo, bulk: &[f64]) -> Result<FrameData> {
        if self.lanes.len() != info.lanes.len() {
            return Err(Error::invalid(
                "frame.lanes",
                format!(
                    "{} lanes in the frame, {} in the run",
                    self.lanes.len(),
                    info.lanes.len()
                ),
            ));
        }
        let per = sample_len(info.classes, info.sv);
        let per_trail = 1 + info.trail.len() * info.q;
        let heat_len = self.heat.as_ref().map_or(0, |h| h.size * h.size * info.q);
        let want: usize = self
            .lanes
            .iter()
            .map(|l| info.qn + l.new_samples * per + l.new_trail * per_trail)
            .sum::<usize>()
            + heat_len;
        if bulk.len() != want {
            return Err(Error::invalid(
                "bulk",
                format!("expected {want} numbers for this frame, got {}", bulk.len()),
            ));
        }
        let mut at = 0;
        let mut lanes = Vec::with_capacity(self.lanes.len());
        for l in &self.lanes {
            let outputs = bulk[at..at + info.qn].to_vec();
            at += info.qn;
            let samples = (0..l.new_samples)
                .map(|_| {
                    let smp = decode_sample(&bulk[at..at + per], info.classes);
                    at += per;
                    smp
                })
                .collect();
            let trail = (0..l.new_trail)
                .map(|_| {
                    let p = (bulk[at], bulk[at + 1..at + per_trail].to_vec());
                    at += per_trail;
                    p
                })
                .collect();
            lanes.push(LaneUpdate {
                outputs,
                samples,
                trail,
            });
        }
        let heat = self.heat.as_ref().map(|h| HeatGrid {
            header: h.clone(),
            values: bulk[at..at + heat_len].to_vec(),
        });
        Ok(FrameData { lanes, heat })
    }
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
    /// The homotopy family's progress; bulk: see [`FamilyHeader`].
    Family {
        /// Id of the `family` request.
        id: u32,
        /// The state.
        family: FamilyHeader,
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

impl FamilyHeader {
    /// Reads the trail points of the bulk: per member, `(s, outputs of the samples)`.
    ///
    /// Errors: a bulk of the wrong length (`bulk`).
    pub fn decode(&self, q: usize, bulk: &[f64]) -> Result<Vec<TrailPoints>> {
        let per = 1 + self.samples.len() * q;
        let want: usize = self.members.iter().map(|m| m.new_trail * per).sum();
        if bulk.len() != want {
            return Err(Error::invalid(
                "bulk",
                format!("expected {want} numbers for the family, got {}", bulk.len()),
            ));
        }
        let mut at = 0;
        Ok(self
            .members
            .iter()
            .map(|m| {
                (0..m.new_trail)
                    .map(|_| {
                        let p = (bulk[at], bulk[at + 1..at + per].to_vec());
                        at += per;
                        p
                    })
                    .collect()
            })
            .collect())
    }
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Paused,
    Playing,
    Stepping(f64),
    Until,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct HeatSpec {
    lane: usize,
    size: usize,
}

/// Input-plane bounds for 2-D inputs: the data's bounding box, padded and made square.
pub fn plane_bounds(inputs: &[Vec<f64>]) -> Option<[f64; 4]> {
    if inputs.first().is_none_or(|x| x.len() != 2) {
        return None;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in inputs {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let (cx, cy) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
    let half = (0.5 * (x1 - x0)).max(0.5 * (y1 - y0)).max(0.5) * 1.2;
    Some([cx - half, cx + half, cy - half, cy + half])
}

/// The network of `theta` on a `size × size` grid of cell centres over `bounds`, row by row from
/// the bottom; `Q` outputs per point.
pub fn heat_values(
    model: &crate::math::model::Model,
    theta: &[f64],
    bounds: [f64; 4],
    size: usize,
) -> Vec<f64> {
    let [x0, x1, y0, y1] = bounds;
    let mut pts = Vec::with_capacity(2 * size * size);
    for iy in 0..size {
        let y = y0 + (iy as f64 + 0.5) * (y1 - y0) / size as f64;
        for ix in 0..size {
            pts.push(x0 + (ix as f64 + 0.5) * (x1 - x0) / size as f64);
            pts.push(y);
        }
    }
    let grid = DMatrix::from_column_slice(2, size * size, &pts);
    model.net.forward(theta, &grid).as_slice().to_vec()
}

/// Output trails of a few samples, recorded after steps at least `every` apart in `s`: the
/// standard flow moves fast early, far faster than the sample grid shows.
#[derive(Debug, Clone, Default)]
struct Trails {
    inputs: DMatrix<f64>,
    every: f64,
    last: Vec<f64>,
    pending: Vec<Vec<f64>>,
    count: Vec<usize>,
}

impl Trails {
    fn record(&mut self, i: usize, lane: &Lane) {
        let ses = &lane.session;
        let out = &mut self.pending[i];
        out.push(ses.s());
        out.extend_from_slice(
            ses.model()
                .net
                .forward(ses.theta(), &self.inputs)
                .as_slice(),
        );
        self.last[i] = ses.s();
        self.count[i] += 1;
    }

    fn after_step(&mut self, i: usize, lane: &Lane) {
        let s = lane.session.s();
        if s - self.last[i] >= self.every || (lane.session.finished() && s > self.last[i]) {
            self.record(i, lane);
        }
    }
}

/// A homotopy family run alongside the lanes (see [`ToWorker::Family`]).
#[derive(Debug)]
struct FamilyRun {
    run: Comparison,
    trail: Trails,
    samples: Vec<usize>,
    alphas: Vec<f64>,
    norms0: Vec<f64>,
    ends: Vec<Option<Vec<f64>>>,
    changed: bool,
}

impl FamilyRun {
    fn new(lanes: &Comparison, alphas: &[f64]) -> Result<FamilyRun> {
        let run = Comparison::family(lanes.base(), alphas)?;
        let first = &run.lanes()[0].session;
        let model = first.model();
        let n = model.n();
        let samples: Vec<usize> = (0..n).step_by(n.div_ceil(MAX_FAMILY_SAMPLES)).collect();
        let rows = model.data.input_rows();
        let cols: Vec<f64> = samples
            .iter()
            .flat_map(|&j| rows[j].iter().copied())
            .collect();
        let members = run.lanes().len();
        let mut trail = Trails {
            inputs: DMatrix::from_column_slice(model.data.m(), samples.len(), &cols),
            every: lanes.every_s() / 8.0,
            last: vec![0.0; members],
            pending: vec![vec![]; members],
            count: vec![0; members],
        };
        for (i, lane) in run.lanes().iter().enumerate() {
            trail.record(i, lane);
        }
        let norms0 =
            inspect::field_norms(model, first.theta(), alphas, first.scenario().rank_rtol)?;
        let mut fam = FamilyRun {
            run,
            trail,
            samples,
            alphas: alphas.to_vec(),
            norms0,
            ends: vec![None; members],
            changed: true,
        };
        fam.update_ends();
        Ok(fam)
    }

    /// Evaluates every homotopy field at the end point of each member that has just ended.
    fn update_ends(&mut self) {
        for (lane, end) in self.run.lanes().iter().zip(self.ends.iter_mut()) {
            if end.is_none() && lane.session.finished() {
                let ses = &lane.session;
                *end = Some(
                    inspect::field_norms(
                        ses.model(),
                        ses.theta(),
                        &self.alphas,
                        ses.scenario().rank_rtol,
                    )
                    .unwrap_or_else(|_| vec![f64::NAN; self.alphas.len()]),
                );
                self.changed = true;
            }
        }
    }

    /// Whether some member is still running below `target`.
    fn behind(&self, target: f64) -> bool {
        self.run
            .lanes()
            .iter()
            .any(|l| !l.session.finished() && l.session.s() < target)
    }
}

/// Owns the sessions and answers the page: the whole worker, minus the message plumbing.
#[derive(Debug)]
pub struct Host {
    run: Option<Comparison>,
    loaded: Option<(Scenario, Vec<FlowChoice>)>,
    info: Option<RunInfo>,
    epoch: u32,
    mode: Mode,
    run_id: u32,
    speed: Option<f64>,
    play_target: f64,
    last_tick: Option<f64>,
    heat: Option<HeatSpec>,
    last_heat: f64,
    heat_due: bool,
    sent_samples: Vec<usize>,
    sent_events: Vec<usize>,
    trail: Trails,
    busy: Vec<(u64, f64)>,
    budget_ms: f64,
    idle: bool,
    family: Option<FamilyRun>,
    family_alphas: Option<Vec<f64>>,
    family_id: u32,
}

impl Default for Host {
    fn default() -> Self {
        Host::new()
    }
}

impl Host {
    /// An empty host: nothing loaded, paused, full speed.
    pub fn new() -> Host {
        Host {
            run: None,
            loaded: None,
            info: None,
            epoch: 0,
            mode: Mode::Paused,
            run_id: 0,
            speed: None,
            play_target: 0.0,
            last_tick: None,
            heat: None,
            last_heat: f64::NEG_INFINITY,
            heat_due: false,
            sent_samples: vec![],
            sent_events: vec![],
            trail: Trails::default(),
            busy: vec![],
            budget_ms: DEFAULT_BUDGET_MS,
            idle: false,
            family: None,
            family_alphas: None,
            family_id: 0,
        }
    }

    /// The handshake message.
    pub fn ready() -> FromWorker {
        FromWorker::Ready {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// Sets the integration budget per tick (milliseconds).
    pub fn set_budget_ms(&mut self, ms: f64) {
        self.budget_ms = ms.max(1.0);
    }

    /// The loaded comparison, if any.
    pub fn comparison(&self) -> Option<&Comparison> {
        self.run.as_ref()
    }

    /// Whether [`Host::tick`] has work to do: the lanes are running, or a homotopy family is
    /// behind the furthest lane.
    pub fn wants_tick(&self) -> bool {
        (self.mode != Mode::Paused && self.run.is_some()) || self.family_behind()
    }

    /// The `s` a homotopy family follows: the furthest lane's while a lane runs, the members'
    /// own ends (infinity) once every lane has ended.
    fn family_target(&self) -> Option<f64> {
        self.run.as_ref().map(|r| {
            if r.finished() {
                f64::INFINITY
            } else {
                r.lanes().iter().map(|l| l.session.s()).fold(0.0, f64::max)
            }
        })
    }

    fn family_behind(&self) -> bool {
        match (&self.family, self.family_target()) {
            (Some(f), Some(t)) => f.behind(t),
            _ => false,
        }
    }

    /// The homotopy family's lanes, if one runs.
    pub fn family(&self) -> Option<&Comparison> {
        self.family.as_ref().map(|f| &f.run)
    }

    /// How long the caller may wait before the next tick: 0 while there is work, a frame's
    /// worth when a speed limit holds the lanes back.
    pub fn idle_ms(&self) -> f64 {
        if self.idle {
            16.0
        } else {
            0.0
        }
    }

    /// Answers one message (as the page sent it). `now` is the caller's clock in milliseconds.
    pub fn handle(&mut self, v: Value, now: f64) -> Vec<Reply> {
        match Request::from_value(v) {
            Ok(req) => self.handle_request(req, now),
            Err(r) => vec![FromWorker::error(r.id, &r.error).into()],
        }
    }

    /// Answers one parsed request.
    pub fn handle_request(&mut self, req: Request, now: f64) -> Vec<Reply> {
        let id = req.id;
        match self.dispatch(req, now) {
            Ok(replies) => replies,
            Err(e) => vec![FromWorker::error(Some(id), &e).into()],
        }
    }

    fn need_run(&self) -> Result<&Comparison> {
        self.run
            .as_ref()
            .ok_or_else(|| Error::State("nothing is loaded yet: send `load` first".into()))
    }

    fn dispatch(&mut self, req: Request, now: f64) -> Result<Vec<Reply>> {
        let id = req.id;
        let ack = || vec![Reply::from(FromWorker::Ack { id })];
        match req.msg {
            ToWorker::Load { scenario, flows } => {
                let sc = Scenario::from_json(&scenario)?;
                self.load(id, sc, flows)
            }
            ToWorker::Reset {} => {
                let (sc, flows) = self.loaded.clone().ok_or_else(|| {
                    Error::State("nothing is loaded yet: send `load` first".into())
                })?;
                self.load(id, sc, flows)
            }
            ToWorker::Play {} => {
                let s = self.need_run()?.s();
                self.mode = Mode::Playing;
                self.run_id = id;
                self.play_target = s;
                self.last_tick = Some(now);
                Ok(ack())
            }
            ToWorker::RunUntil {} => {
                self.need_run()?;
                self.mode = Mode::Until;
                self.run_id = id;
                Ok(ack())
            }
            ToWorker::Step {} => {
                let run = self.need_run()?;
                let target = run.s() + run.every_s();
                self.mode = Mode::Stepping(target);
                self.run_id = id;
                Ok(ack())
            }
            ToWorker::Pause {} => {
                self.need_run()?;
                self.mode = Mode::Paused;
                Ok(vec![self.frame(id, None)])
            }
            ToWorker::Speed { s_per_second } => {
                if let Some(v) = s_per_second {
                    if !(v.is_finite() && v > 0.0) {
                        return Err(Error::invalid(
                            "s_per_second",
                            format!("must be > 0 or null (full speed), got {v}"),
                        ));
                    }
                }
                self.speed = s_per_second;
                Ok(ack())
            }
            ToWorker::Heatmap { lane, size } => {
                if !(4..=MAX_HEAT_SIZE).contains(&size) {
                    return Err(Error::invalid(
                        "size",
                        format!("must be in 4..={MAX_HEAT_SIZE}, got {size}"),
                    ));
                }
                let Some(lane) = lane else {
                    self.heat = None;
                    return Ok(ack());
                };
                let run = self.need_run()?;
                if lane >= run.lanes().len() {
                    return Err(Error::invalid(
                        "lane",
                        format!("is {lane} but there are {} lanes", run.lanes().len()),
                    ));
                }
                self.heat = Some(HeatSpec { lane, size });
                self.heat_due = true;
                if self.mode == Mode::Paused {
                    Ok(vec![self.frame(id, None)])
                } else {
                    Ok(ack())
                }
            }
            ToWorker::Trace { lane } => {
                let l = self.need_lane(lane)?;
                Ok(vec![FromWorker::Trace {
                    id,
                    lane,
                    json: l.session.trace().to_json(),
                }
                .into()])
            }
            ToWorker::Critical { lane, size } => Ok(vec![self.critical(id, lane, size)?]),
            ToWorker::Escape { lane } => {
                self.need_lane(lane)?;
                let run = self.run.as_mut().expect("need_lane checked it");
                run.lanes_mut()[lane].session.escape()?;
                // The jump shows as a straight segment of the output trails.
                self.trail.record(lane, &run.lanes()[lane]);
                let mut out = vec![self.frame(id, None)];
                match self.critical(id, lane, inspect::DEFAULT_SLICE_SIZE) {
                    Ok(r) => out.push(r),
                    Err(e) => out.push(FromWorker::error(Some(id), &e).into()),
                }
                Ok(out)
            }
            ToWorker::Construct {} => {
                let ses = &self.need_run()?.lanes()[0].session;
                let (mut report, bulk) =
                    inspect::construction_report(ses.model(), ses.scenario().rank_rtol);
                report.epoch = self.epoch;
                Ok(vec![Reply {
                    msg: FromWorker::Construction { id, report },
                    bulk,
                }])
            }
            ToWorker::Family { alphas } => match alphas {
                None => {
                    self.family = None;
                    self.family_alphas = None;
                    Ok(ack())
                }
                Some(a) => {
                    let fam = FamilyRun::new(self.need_run()?, &a)?;
                    self.family = Some(fam);
                    self.family_alphas = Some(a);
                    self.family_id = id;
                    Ok(vec![self.family_reply(id)])
                }
            },
        }
    }

    fn need_lane(&self, lane: usize) -> Result<&Lane> {
        let run = self.need_run()?;
        run.lanes().get(lane).ok_or_else(|| {
            Error::invalid(
                "lane",
                format!("is {lane} but there are {} lanes", run.lanes().len()),
            )
        })
    }

    fn critical(&self, id: u32, lane: usize, size: usize) -> Result<Reply> {
        let l = self.need_lane(lane)?;
        let (mut report, bulk) = inspect::critical_report(lane, &l.session, size)?;
        report.epoch = self.epoch;
        Ok(Reply {
            msg: FromWorker::Critical { id, report },
            bulk,
        })
    }

    fn family_reply(&mut self, id: u32) -> Reply {
        let epoch = self.epoch;
        let target = self.family_target().filter(|t| t.is_finite());
        let fam = self.family.as_mut().expect("a family runs");
        fam.changed = false;
        let mut bulk = vec![];
        let mut members = vec![];
        for (i, lane) in fam.run.lanes().iter().enumerate() {
            bulk.append(&mut fam.trail.pending[i]);
            let ses = &lane.session;
            members.push(FamilyMember {
                alpha: match lane.choice {
                    FlowChoice::Homotopy { alpha } => alpha,
                    FlowChoice::Adapted => 1.0,
                    _ => 0.0,
                },
                s: ses.s(),
                cost: ses.cost(),
                status: ses.status(),
                new_trail: std::mem::take(&mut fam.trail.count[i]),
                end_norms: fam.ends[i].clone(),
            });
        }
        Reply {
            msg: FromWorker::Family {
                id,
                family: FamilyHeader {
                    epoch,
                    samples: fam.samples.clone(),
                    norms0: fam.norms0.clone(),
                    members,
                    target,
                },
            },
            bulk,
        }
    }

    fn load(&mut self, id: u32, sc: Scenario, flows: Vec<FlowChoice>) -> Result<Vec<Reply>> {
        // The page shows the singular values of D over s: keep them in every sample (the SVD is
        // computed for each sample anyway). The trace's scenario says so.
        let mut sc = sc;
        sc.record.singular_values = true;
        let run = Comparison::new(&sc, &flows)?;
        self.epoch += 1;
        self.mode = Mode::Paused;
        let lanes = run.lanes().len();
        self.sent_samples = vec![0; lanes];
        self.sent_events = vec![0; lanes];
        self.busy = vec![(0, 0.0); lanes];
        if self.heat.is_some_and(|h| h.lane >= lanes) {
            self.heat = None;
        }
        self.heat_due = self.heat.is_some();
        let first = &run.lanes()[0].session;
        let model = first.model();
        let inputs = model.data.input_rows();
        let n = model.n();
        let trail: Vec<usize> = (0..n).step_by(n.div_ceil(MAX_TRAIL_SAMPLES)).collect();
        let trail_every = if trail.len() * model.q() <= 512 {
            run.every_s() / 16.0
        } else {
            run.every_s() / 2.0
        };
        let cols: Vec<f64> = trail
            .iter()
            .flat_map(|&j| inputs[j].iter().copied())
            .collect();
        self.trail = Trails {
            inputs: DMatrix::from_column_slice(model.data.m(), trail.len(), &cols),
            every: trail_every,
            last: vec![0.0; lanes],
            pending: vec![vec![]; lanes],
            count: vec![0; lanes],
        };
        for (i, lane) in run.lanes().iter().enumerate() {
            self.trail.record(i, lane);
        }
        let sv_total = model.k().min(model.qn());
        let info = RunInfo {
            epoch: self.epoch,
            name: sc.name.clone(),
            k: model.k(),
            q: model.q(),
            n: model.n(),
            m: model.data.m(),
            classes: model.data.classes(),
            qn: model.qn(),
            regime: model.regime(),
            c0: first.initial_cost(),
            epsilon: first.epsilon(),
            predicted: first.predicted_stopping_time(),
            s_max: run.s_max(),
            every_s: run.every_s(),
            lanes: run
                .lanes()
                .iter()
                .map(|l| LaneInfo {
                    choice: l.choice,
                    label: l.choice.label(),
                    color: crate::plot::css(crate::plot::flow_color(l.choice.color_index())),
                })
                .collect(),
            labels: model.data.labels.clone(),
            bounds: plane_bounds(&inputs),
            trail,
            trail_every,
            sv: sv_total.min(MAX_SINGULAR_VALUES),
            sv_total,
            rank_rtol: first.scenario().rank_rtol,
            rank_formula: first.trace().rank_formula,
            inspectable: model.k().saturating_mul(model.qn()) <= inspect::MAX_CRITICAL_WORK,
        };
        let mut bulk: Vec<f64> = inputs.into_iter().flatten().collect();
        bulk.extend(model.data.targets.iter().flatten());
        bulk.extend(model.outputs(first.theta()));
        self.family = match &self.family_alphas {
            // A family that cannot be built is dropped: the page asks again when it wants one.
            Some(a) => FamilyRun::new(&run, a).ok(),
            None => None,
        };
        self.run = Some(run);
        self.loaded = Some((sc, flows));
        self.info = Some(info.clone());
        let mut out = vec![
            Reply {
                msg: FromWorker::Loaded { id, info },
                bulk,
            },
            self.frame(id, None),
        ];
        if self.family.is_some() {
            out.push(self.family_reply(self.family_id));
        }
        Ok(out)
    }

    /// Integrates for up to the budget and returns the messages to post: a frame when the lanes
    /// ran, the family's progress when a homotopy family ran (nothing when all is paused).
    ///
    /// `clock` gives milliseconds; it is read once per step to honour the budget.
    pub fn tick(&mut self, clock: &mut dyn FnMut() -> f64) -> Vec<Reply> {
        if !self.wants_tick() {
            return vec![];
        }
        let now = clock();
        let mut out = vec![];
        let mut lanes_idle = true;
        if self.mode != Mode::Paused && self.run.is_some() {
            // A family catching up gets half of the budget.
            let share = if self.family_behind() { 0.5 } else { 1.0 };
            let (reply, idle) = self.tick_lanes(now, self.budget_ms * share, clock);
            lanes_idle = idle;
            out.push(reply);
        }
        if let Some(r) = self.tick_family(now + self.budget_ms, clock) {
            out.push(r);
        }
        self.idle = lanes_idle && !self.family_behind();
        out
    }

    fn tick_family(&mut self, deadline: f64, clock: &mut dyn FnMut() -> f64) -> Option<Reply> {
        let target = self.family_target()?;
        let fam = self.family.as_mut()?;
        if fam.behind(target) {
            let trails = &mut fam.trail;
            let adv = fam.run.advance(target, deadline, clock, &mut |i, lane| {
                trails.after_step(i, lane)
            });
            if adv.steps.iter().any(|&n| n > 0) {
                fam.changed = true;
            }
        }
        fam.update_ends();
        if !fam.changed {
            return None;
        }
        Some(self.family_reply(self.family_id))
    }

    fn tick_lanes(
        &mut self,
        now: f64,
        budget: f64,
        clock: &mut dyn FnMut() -> f64,
    ) -> (Reply, bool) {
        let (mode, speed) = (self.mode, self.speed);
        let run = self.run.as_mut().expect("tick checked it");
        let s_now = run.s();
        let target = match mode {
            Mode::Paused => unreachable!("tick checked it"),
            Mode::Playing => match speed {
                None => f64::INFINITY,
                Some(v) => {
                    let dt = (now - self.last_tick.unwrap_or(now)).clamp(0.0, 100.0);
                    // Never run ahead of what the lanes can do by more than a quarter second.
                    self.play_target = (self.play_target + v * dt / 1000.0).min(s_now + v * 0.25);
                    self.play_target
                }
            },
            Mode::Stepping(t) => t,
            Mode::Until => f64::INFINITY,
        };
        self.last_tick = Some(now);
        let trails = &mut self.trail;
        let adv = run.advance(target, now + budget, clock, &mut |i, lane| {
            trails.after_step(i, lane)
        });
        let idle = !adv.out_of_time;
        for (b, (n, ms)) in self.busy.iter_mut().zip(adv.steps.iter().zip(&adv.ms)) {
            b.0 += n;
            b.1 += ms;
        }
        let t = now + adv.ms.iter().sum::<f64>();
        let mut stopped = None;
        if run.finished() {
            stopped = Some(
                run.lanes()
                    .iter()
                    .map(|l| format!("{}: {}", l.choice.key(), l.session.status().name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            self.mode = Mode::Paused;
        } else if let Mode::Stepping(target) = mode {
            if run.s() >= target {
                self.mode = Mode::Paused;
                stopped = Some("step".into());
            }
        }
        if self.heat.is_some() && t - self.last_heat >= HEAT_EVERY_MS {
            self.heat_due = true;
        }
        if self.mode == Mode::Paused {
            self.heat_due |= self.heat.is_some();
        }
        let progress =
            (mode == Mode::Until).then(|| run.progress(run.lanes()[0].session.epsilon()));
        let id = self.run_id;
        if self.heat_due {
            self.last_heat = t;
        }
        (self.frame_with(id, stopped, progress), idle)
    }

    fn frame(&mut self, id: u32, stopped: Option<String>) -> Reply {
        self.heat_due |= self.heat.is_some() && self.mode == Mode::Paused;
        self.frame_with(id, stopped, None)
    }

    fn frame_with(&mut self, id: u32, stopped: Option<String>, progress: Option<f64>) -> Reply {
        let info = self.info.as_ref().expect("frames follow a load");
        let (classes, sv) = (info.classes, info.sv);
        let run = self.run.as_mut().expect("frames follow a load");
        let mut bulk = Vec::new();
        let mut lanes = Vec::with_capacity(run.lanes().len());
        for (i, lane) in run.lanes_mut().iter_mut().enumerate() {
            let f = lane.session.frame();
            bulk.extend_from_slice(&f.outputs);
            let samples = &lane.session.samples()[self.sent_samples[i]..];
            for smp in samples {
                encode_sample(smp, classes, sv, &mut bulk);
            }
            let new_samples = samples.len();
            bulk.append(&mut self.trail.pending[i]);
            let new_trail = std::mem::take(&mut self.trail.count[i]);
            self.sent_samples[i] += new_samples;
            // The page shows messages and marks; vectors (θ before an escape, directions) stay in
            // the trace, where they cost nothing per frame.
            let events: Vec<Event> = lane.session.events()[self.sent_events[i]..]
                .iter()
                .map(Event::without_vectors)
                .collect();
            self.sent_events[i] += events.len();
            let (n, ms) = self.busy[i];
            lanes.push(LaneFrame {
                s: f.s,
                cost: f.cost,
                status: f.status,
                steps: f.steps,
                evals: lane.session.stats().evals,
                rank: f.rank,
                stationarity: f.stationarity,
                steps_per_s: if ms > 0.0 {
                    n as f64 * 1000.0 / ms
                } else {
                    0.0
                },
                measured: lane.session.measured_stopping_time(),
                new_samples,
                new_trail,
                events,
            });
        }
        let mut heat = None;
        if self.heat_due {
            self.heat_due = false;
            if let (Some(spec), Some(bounds)) = (self.heat, info.bounds) {
                let ses = &run.lanes()[spec.lane].session;
                bulk.extend(heat_values(ses.model(), ses.theta(), bounds, spec.size));
                heat = Some(HeatHeader {
                    lane: spec.lane,
                    size: spec.size,
                    bounds,
                });
            }
        }
        Reply {
            msg: FromWorker::Frame {
                id,
                frame: FrameHeader {
                    epoch: self.epoch,
                    running: self.mode != Mode::Paused,
                    progress,
                    stopped,
                    lanes,
                    heat,
                },
            },
            bulk,
        }
    }
}
