//! The public formats: [`Scenario`] (what to run) and [`Trace`] (what happened), with validation
//! that names the offending field.
//!
//! Both are JSON documents; the key names are a public contract (URLs, scripts and saved traces
//! depend on them). New keys may be added; existing ones keep their meaning.

use crate::error::{non_negative, positive, Error, Result};
use crate::linalg::DEFAULT_RANK_RTOL;
use crate::math::critical::{EscapeSpec, RankCheck, RankFormula, TrapSpec};
use crate::math::data::{DataSpec, Dataset};
use crate::math::diagnostics::{Rest, Sample};
use crate::math::flow::FlowSpec;
use crate::math::integrate::{IntegratorSpec, Stats};
use crate::math::model::{CostSpec, Model, Regime};
use crate::math::net::{Activation, Mlp};
use crate::rng::Rng;
use crate::run::event::Event;
use serde::{Deserialize, Serialize};

/// Largest seed accepted: `2^53`, so that JavaScript numbers hold every seed exactly.
pub const MAX_SEED: u64 = 1 << 53;
/// Largest width of a layer.
pub const MAX_WIDTH: usize = 4096;
/// Largest number of layers (`widths.len()`).
pub const MAX_LAYERS: usize = 64;
/// Largest number of recorded samples per run.
pub const MAX_SAMPLES: f64 = 100_000.0;

/// The network of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSpec {
    /// `[M, M_1, …, M_L, Q]`.
    pub widths: Vec<usize>,
    /// Hidden-layer activation.
    pub activation: Activation,
}

/// How `θ₀` is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum InitSpec {
    /// Weights and biases of layer `l` i.i.d. `N(0, scale²/M_{l-1})` (fan-in scaling), from the seed.
    Gaussian {
        /// Multiplies the fan-in standard deviation `1/√M_{l-1}`.
        #[serde(default = "one")]
        scale: f64,
    },
    /// An explicit parameter vector in the layout of MATH.md (length `K`).
    Explicit {
        /// `θ₀`.
        theta: Vec<f64>,
    },
    /// The zero-cost truncation-map minimizer of [`crate::math::construct`] (ReLU, widths
    /// [`crate::math::construct::required_widths`], sequentially separable data).
    Constructive,
}

fn one() -> f64 {
    1.0
}

impl Default for InitSpec {
    fn default() -> Self {
        InitSpec::Gaussian { scale: 1.0 }
    }
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {
    /// End of the time interval; defaults to `10·N`. `0` evaluates `θ₀` only: the trace holds
    /// the initial sample with every diagnostic and the run ends at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_max: Option<f64>,
    /// Stop at the first `s` with `C ≤ cost_below` (located inside the step); also the `ε` of the
    /// predicted stopping time (2.41).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_below: Option<f64>,
    /// Stop when the stationarity `μ` (see [`crate::math::flow::FieldStats`]) falls to this; default `1e-9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stationary_below: Option<f64>,
    /// Stop after this many accepted steps; default `2·10⁵`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// End the run with `blow_up` when the adapted field approaches a singularity (a singular
    /// value of `D` that carries most of the field falls to `SINGULAR_BAND·rank_rtol·σ_max`):
    /// there the flow's solution ceases to exist. Default `true`; `false` continues on the DAE
    /// (4.5) at the lower rank instead (Pullback's continuation, not the paper's flow).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub at_singularity: bool,
}

fn yes() -> bool {
    true
}

fn is_yes(v: &bool) -> bool {
    *v
}

impl Default for StopSpec {
    fn default() -> Self {
        StopSpec {
            s_max: None,
            cost_below: None,
            stationary_below: None,
            max_steps: None,
            at_singularity: true,
        }
    }
}

/// Default stationarity threshold of [`StopSpec::stationary_below`].
pub const DEFAULT_STATIONARY_BELOW: f64 = 1e-9;
/// Default step limit of [`StopSpec::max_steps`].
pub const DEFAULT_MAX_STEPS: u64 = 200_000;

/// What a trace keeps.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Sample spacing in `s`; defaults to `s_max / 200` (1 when `s_max = 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_s: Option<f64>,
    /// Keep `θ` in every sample.
    #[serde(default)]
    pub theta: bool,
    /// Keep the stacked outputs `x̲` in every sample.
    #[serde(default)]
    pub outputs: bool,
    /// Keep all singular values of `D` in every sample.
    #[serde(default)]
    pub singular_values: bool,
}

/// A complete description of one run: data, network, initialisation, flow, integrator, stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Optional title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seed of every random choice (dataset, `θ₀`); at most `2^53`.
    #[serde(default)]
    pub seed: u64,
    /// The data.
    pub data: DataSpec,
    /// The network.
    pub net: NetSpec,
    /// `θ₀`.
    #[serde(default)]
    pub init: InitSpec,
    /// The flow; default adapted.
    #[serde(default)]
    pub flow: FlowSpec,
    /// The cost every flow minimizes: `{"kind": "mean"}` (default, the paper's `|x̲ − y̲|²/(2N)`)
    /// or `{"kind": "weighted"}` (the slides' `Σ_j (1/N_j) Σ_{ω(i)=j} |x_i − y_j|²`).
    #[serde(default, skip_serializing_if = "CostSpec::is_mean")]
    pub cost: CostSpec,
    /// The integrator; default RK45 with `rtol 1e-8`, `atol 1e-10`.
    #[serde(default)]
    pub integrator: IntegratorSpec,
    /// When to stop.
    #[serde(default)]
    pub stop: StopSpec,
    /// Relative rank tolerance on the singular values of `D`; default `1e-10`.
    #[serde(default = "default_rank_rtol")]
    pub rank_rtol: f64,
    /// What to record.
    #[serde(default)]
    pub record: RecordSpec,
    /// Escape from rank-loss equilibria (4.15)–(4.17): automatic or on request; default off.
    #[serde(default, skip_serializing_if = "EscapeSpec::is_default")]
    pub escape: EscapeSpec,
    /// Report trapping regions of the standard flow (Prop 3.1); default off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap: Option<TrapSpec>,
    /// The paper's rank formula for `D[θ₀]` (Section 2.1), compared with the measured rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_formula: Option<RankFormula>,
}

fn default_rank_rtol() -> f64 {
    DEFAULT_RANK_RTOL
}

/// A scenario after materialization: explicit data and `θ₀`, every default filled in.
#[derive(Debug, Clone)]
pub struct Materialized {
    /// The scenario with `data` as `custom`, `init` as `explicit`, defaults written out.
    pub scenario: Scenario,
    /// Network and data.
    pub model: Model,
    /// `θ₀`.
    pub theta0: Vec<f64>,
    /// `s_max`.
    pub s_max: f64,
    /// Sample spacing.
    pub every_s: f64,
}

impl Scenario {
    /// Parses a scenario from JSON and validates it.
    ///
    /// Errors: [`Error::Parse`] with the path of the offending key for malformed JSON, unknown
    /// keys or wrong types; [`Error::Invalid`] naming the field for out-of-range values.
    pub fn from_json(text: &str) -> Result<Scenario> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let sc: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let mut path = e.path().to_string();
            let mut msg = e.into_inner().to_string();
            if let Some((inner, rest)) = crate::tagged::split_inner_path(&msg) {
                if !inner.is_empty() {
                    path = format!("{path}.{inner}");
                }
                msg = rest.to_string();
            }
            if path == "." || path == "?" || path.is_empty() {
                Error::Parse {
                    context: "scenario".into(),
                    message: msg,
                }
            } else {
                Error::Invalid {
                    field: path,
                    reason: msg,
                }
            }
        })?;
        sc.validate()?;
        Ok(sc)
    }

    /// Serializes to pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("scenarios always serialize")
    }

    /// Checks every value that can be checked without generating the data.
    pub fn validate(&self) -> Result<()> {
        if self.seed > MAX_SEED {
            return Err(Error::invalid(
                "seed",
                format!("must be at most 2^53 = {MAX_SEED} (so JavaScript can hold it exactly)"),
            ));
        }
        let w = &self.net.widths;
        if w.len() > MAX_LAYERS {
            return Err(Error::invalid(
                "net.widths",
                format!("has {} layers; at most {MAX_LAYERS} are allowed", w.len()),
            ));
        }
        if let Some(i) = w.iter().position(|&v| v > MAX_WIDTH) {
            return Err(Error::invalid(
                format!("net.widths[{i}]"),
                format!("{} is wider than the limit {MAX_WIDTH}", w[i]),
            ));
        }
        Mlp::new(w, self.net.activation)?;
        match &self.init {
            InitSpec::Gaussian { scale } => {
                non_negative("init.scale", *scale)?;
            }
            InitSpec::Explicit { theta } => {
                if let Some(i) = theta.iter().position(|t| !t.is_finite()) {
                    return Err(Error::invalid(
                        format!("init.theta[{i}]"),
                        format!("must be finite, got {}", theta[i]),
                    ));
                }
            }
            InitSpec::Constructive => {}
        }
        self.flow.validate()?;
        self.integrator.validate()?;
        if let Some(s) = self.stop.s_max {
            non_negative("stop.s_max", s)?;
            if s > 1e12 {
                return Err(Error::invalid("stop.s_max", format!("{s} exceeds 1e12")));
            }
        }
        if let Some(c) = self.stop.cost_below {
            positive("stop.cost_below", c)?;
        }
        if let Some(c) = self.stop.stationary_below {
            non_negative("stop.stationary_below", c)?;
        }
        if self.stop.max_steps == Some(0) {
            return Err(Error::invalid("stop.max_steps", "must be at least 1"));
        }
        positive("rank_rtol", self.rank_rtol)?;
        if self.rank_rtol >= 1.0 {
            return Err(Error::invalid(
                "rank_rtol",
                format!("must be below 1, got {}", self.rank_rtol),
            ));
        }
        if let Some(e) = self.record.every_s {
            positive("record.every_s", e)?;
        }
        self.escape.validate()?;
        if let Some(t) = &self.trap {
            t.validate()?;
        }
        Ok(())
    }

    /// Generates the data and `θ₀` and fills in every default.
    ///
    /// Errors: everything [`Self::validate`] reports, plus mismatches between the network and
    /// the data (`net.widths[0]` vs `M`, last width vs `Q`), `init.theta` of the wrong length,
    /// a problem too large for the dense path, and too many samples (`record.every_s`).
    pub fn materialize(&self) -> Result<Materialized> {
        self.validate()?;
        let data = Dataset::from_spec(&self.data, self.seed)?;
        let net = Mlp::new(&self.net.widths, self.net.activation)?;
        let model = Model::new(net, data)?.with_cost(self.cost);
        let theta0 = match &self.init {
            InitSpec::Gaussian { scale } => gaussian_init(&model.net, *scale, self.seed),
            InitSpec::Explicit { theta } => {
                model.net.check_theta(theta, "init.theta")?;
                theta.clone()
            }
            InitSpec::Constructive => {
                crate::math::construct::build(&model)
                    .map_err(|e| match e {
                        Error::Invalid { field, reason } if field == "data" => {
                            Error::invalid("init", format!("constructive: the data are {reason}"))
                        }
                        other => other,
                    })?
                    .theta
            }
        };
        let s_max = self.stop.s_max.unwrap_or(10.0 * model.n() as f64);
        // s_max = 0 records the initial sample only; any positive spacing does.
        let every_s = self
            .record
            .every_s
            .unwrap_or(if s_max > 0.0 { s_max / 200.0 } else { 1.0 });
        if s_max / every_s > MAX_SAMPLES {
            return Err(Error::invalid(
                "record.every_s",
                format!(
                    "{every_s} would record {:.0} samples over s_max = {s_max}; at most {MAX_SAMPLES} are allowed",
                    s_max / every_s
                ),
            ));
        }
        let mut scenario = self.clone();
        scenario.data = model.data.to_spec();
        scenario.init = InitSpec::Explicit {
            theta: theta0.clone(),
        };
        scenario.stop.s_max = Some(s_max);
        scenario.record.every_s = Some(every_s);
        Ok(Materialized {
            scenario,
            model,
            theta0,
            s_max,
            every_s,
        })
    }
}

/// `θ₀` with weights and biases of layer `l` i.i.d. `N(0, scale²/M_{l-1})`.
pub fn gaussian_init(net: &Mlp, scale: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed ^ 0x1417_5EED);
    let mut theta = vec![0.0; net.k()];
    for l in 1..net.widths().len() {
        let (w, _) = net.layer_offsets(l);
        let fan_in = net.widths()[l - 1];
        let count = net.widths()[l] * fan_in + net.widths()[l];
        let sd = scale / (fan_in as f64).sqrt();
        for t in &mut theta[w..w + count] {
            *t = sd * rng.normal();
        }
    }
    theta
}

/// The end state of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Final {
    /// Flow time reached.
    pub s: f64,
    /// Cost there.
    pub cost: f64,
    /// `θ` there.
    pub theta: Vec<f64>,
    /// Why the run ended (the kind of the last event), or `running` for a snapshot.
    pub reason: String,
    /// Numerical rank of `D` at the end point (`σ_i > rank_rtol·σ_max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// The rank the field used at the end point (the numerical rank for flows without rank
    /// decisions); the rest test is taken at this rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_used: Option<usize>,
    /// Where the run ended: `global_minimum`, `regular_rest`, `rank_loss_rest`, `blow_up` or
    /// `moving` (absent for a snapshot of a running session, or when the test could not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest: Option<Rest>,
    /// `|𝒫∇ₓC|/|∇ₓC|` at `rank_used` (a rest point needs `≤ 1e-8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proj_ratio: Option<f64>,
    /// `|C − (N/2)|𝒫^⊥∇ₓC|²|/C` at `rank_used`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_error: Option<f64>,
    /// `σ_i/σ_max` inside the band `(rank_rtol, 1e3·rank_rtol]` at the end point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub band: Vec<f64>,
    /// Why the end-point test could not run, when it could not (sizes, non-finite state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Final {
    /// One sentence about where the run ended: the rest class with the measurements it rests on
    /// (`k`, `qn`: sizes; `rank_rtol`: the band's lower edge). The CLI's summary and the page's
    /// end-point line.
    pub fn sentence(&self, k: usize, qn: usize, rank_rtol: f64) -> String {
        let full = k.min(qn);
        let band = if self.band.is_empty() {
            String::new()
        } else {
            let b: Vec<String> = self.band.iter().map(|v| format!("{v:.1e}")).collect();
            format!(
                "; σ/σ_max in the band ({rank_rtol:.0e}, {:.0e}]: {}",
                crate::linalg::RANK_BAND * rank_rtol,
                b.join(", ")
            )
        };
        let (Some(rest), Some(r), Some(u), Some(p)) =
            (self.rest, self.rank, self.rank_used, self.proj_ratio)
        else {
            return match &self.note {
                Some(n) => format!("end point: not classified ({n})"),
                None => "end point: not classified".into(),
            };
        };
        let test = format!(
            "|𝒫∇ₓC|/|∇ₓC| = {p:.1e} at rank_used = {u} (numerical rank {r}, min(K, QN) = \
             {full}){band}"
        );
        match rest {
            Rest::GlobalMinimum => format!("end point: global_minimum (C = {:.3e})", self.cost),
            Rest::RegularRest | Rest::RankLossRest => format!(
                "end point: {} ({test}; C = (N/2)|𝒫^⊥∇ₓC|² to {:.0e})",
                rest.name(),
                self.identity_error.unwrap_or(0.0).max(1e-16)
            ),
            Rest::BlowUp => format!("end point: blow_up ({test})"),
            // A run the user stopped (ε reached, s_max) is still moving: say what stopped it,
            // so that "moving" never reads as a failure to converge.
            Rest::Moving => format!(
                "end point: moving, stopped by {} at C = {:.3e}, not at rest ({test}; a rest \
                 needs ≤ 1e-8)",
                self.reason, self.cost
            ),
        }
    }
}

/// Identifies a trace document.
pub const TRACE_FORMAT: &str = "pullback-trace";
/// Version of the trace format.
pub const TRACE_VERSION: u32 = 1;

/// A run as data: the exact scenario, the recorded samples, events and the end state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Always `pullback-trace`.
    pub format: String,
    /// Format version (currently 1).
    pub version: u32,
    /// The scenario exactly as run (materialized: rerunning it reproduces this trace bit for bit).
    pub scenario: Scenario,
    /// Parameter count `K`.
    #[serde(rename = "K")]
    pub k: usize,
    /// Output dimension `Q`.
    #[serde(rename = "Q")]
    pub q: usize,
    /// Number of samples `N`.
    #[serde(rename = "N")]
    pub n: usize,
    /// `over`, `under` or `borderline`.
    pub regime: Regime,
    /// Display name of the flow.
    pub flow: String,
    /// Relative rank tolerance used for every rank in the trace.
    pub rank_rtol: f64,
    /// Cost at `s = 0`.
    pub initial_cost: f64,
    /// Recorded samples, increasing in `s`.
    pub samples: Vec<Sample>,
    /// Events in order.
    pub events: Vec<Event>,
    /// End state.
    #[serde(rename = "final")]
    pub final_state: Final,
    /// `(N/2) log(C(0)/ε)` (2.41) with `ε = stop.cost_below`; under the weighted cost the root of
    /// `Σ_j C_j(0)e^{−4s/N_j} = ε` (docs/math/weighted-cost.md). Exact for the adapted flow while
    /// `rank D = QN` along the orbit.
    pub predicted_stopping_time: Option<f64>,
    /// First `s` with `C ≤ ε`, located to integrator accuracy, if reached.
    pub measured_stopping_time: Option<f64>,
    /// Work done.
    pub stats: Stats,
    /// The paper's rank formula for `D[θ₀]` beside the measured rank, when the scenario has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_formula: Option<RankCheck>,
}

impl Trace {
    /// Parses a trace from JSON.
    ///
    /// Errors: [`Error::Parse`] / [`Error::Invalid`] with the key path, or a wrong `format`.
    pub fn from_json(text: &str) -> Result<Trace> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let t: Trace = serde_path_to_error::deserialize(de).map_err(|e| Error::Parse {
            context: format!("trace at {}", e.path()),
            message: e.into_inner().to_string(),
        })?;
        if t.format != TRACE_FORMAT {
            return Err(Error::invalid(
                "format",
                format!("expected \"{TRACE_FORMAT}\", got \"{}\"", t.format),
            ));
        }
        Ok(t)
    }

    /// Serializes to JSON (compact).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("traces always serialize")
    }
}

crate::tagged::kind_tagged!(InitSpec);
