//! What the page's panels show about a run, computed from the core in the worker:
//!
//! - [`critical_report`]: the critical submanifold at a rest point (Thm 4.2): `r`, `K − r`,
//!   `|𝒫∇ₓC|`, `|∇ₓC|`, the Hessian on the normal bundle, and `C` on the plane through `θ*`
//!   spanned by a normal and a tangent vector of `M_crit`, with the escape step (4.15)–(4.17)
//!   drawn on it when there was one;
//! - [`construction_report`]: the truncation-map minimizer of the loaded data (its cost, its
//!   cuts, the data after each hidden layer), on the loaded network when it is the constructive
//!   architecture and on that architecture otherwise;
//! - [`field_norms`]: `|V_α(θ)|` of the homotopy fields `V_α = −(1−α)Dᵀ∇ₓC − αD⁺∇ₓC` at a point:
//!   at an equilibrium of one they all vanish.
//!
//! Everything here is plain data (serde), so the page only formats it.

use crate::error::{Error, Result};
use crate::linalg;
use crate::math::construct::{
    self, Classification, ClusterGeometry, Construction, Coordinates, Cut, Theorem,
};
use crate::math::critical::{self, CriticalSubmanifold, HessianReport, PointKind};
use crate::math::diagnostics::RestCheck;
use crate::math::flow::{eval_field, FlowSpec, Workspace};
use crate::math::model::Model;
use crate::math::net::{Activation, Mlp};
use crate::run::event::{Event, EventKind};
use crate::run::scenario::Scenario;
use crate::run::session::{Session, Status};
use serde::{Deserialize, Serialize};

/// Largest `K·QN` for which the worker computes a critical submanifold on request: it takes
/// `r ≤ min(K, QN)` exact Hessian columns, an SVD of the `K × r` normals and `n²` costs, and the
/// worker does nothing else meanwhile (measured natively: 0.74 s at K·QN = 354·400, 3.7 s at
/// 354·2000).
pub const MAX_CRITICAL_WORK: usize = 150_000;
/// Largest side of the cost-slice grid.
pub const MAX_SLICE_SIZE: usize = 96;
/// Default side of the cost-slice grid.
pub const DEFAULT_SLICE_SIZE: usize = 41;
/// Half width of the slice as a multiple of the escape step (taken or about to be tried), so
/// that the step's end lies well inside the picture.
pub const SLICE_MARGIN: f64 = 1.6;
/// The constructive network has one hidden layer per class: beyond this many classes the page
/// does not build it.
pub const MAX_CONSTRUCT_CLASSES: usize = 12;
/// Largest `N·C` for which the page builds the construction: the search over class orders fits
/// one L2-SVM cut per try, and the worker does nothing else meanwhile (measured natively: 0.56 s
/// for N = 2000, C = 3; 2.8 s to give up on N = 2000, C = 8).
pub const MAX_CONSTRUCT_WORK: usize = 6000;

/// An escape step as the slice shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscapeMark {
    /// Flow time of the escape.
    pub s: f64,
    /// `C(θ*)`.
    pub cost_before: f64,
    /// `C(θ₀')`.
    pub cost_after: f64,
    /// `|θ₀' − θ*|`.
    pub step: f64,
    /// The Rayleigh quotient `vᵀHv` of the step's direction (the Hessian's least eigenvalue).
    pub rayleigh: f64,
    /// Backtracking lengths tried.
    pub trials: u64,
    /// Slice coordinates `(a, b)` of `θ₀' = θ* + step·direction`.
    pub end: [f64; 2],
}

/// Where the cost slice lies. Bulk: `size²` costs, row by row from the bottom (`b = −half`),
/// each row from `a = −half` to `a = half` (NaN where `C` is not finite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceHeader {
    /// Grid side.
    pub size: usize,
    /// Half width along both directions.
    pub half: f64,
    /// `C(θ*)`, the centre.
    pub center_cost: f64,
    /// What the horizontal direction `u` is.
    pub u: String,
    /// What the vertical direction `w` is.
    pub w: String,
}

/// The critical-submanifold panel of one lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalReport {
    /// The load this belongs to (set by the host).
    pub epoch: u32,
    /// The lane.
    pub lane: usize,
    /// The lane's current `s`.
    pub s: f64,
    /// The lane's status.
    pub status: Status,
    /// `θ*` is the point before the lane's last escape (otherwise its current `θ`).
    pub at_escape: bool,
    /// Flow time of `θ*`.
    pub s_star: f64,
    /// What `θ*` is (Sections 3–5).
    pub kind: PointKind,
    /// `C(θ*)`.
    pub cost: f64,
    /// `r = rank D`.
    pub rank: usize,
    /// `QN`.
    pub qn: usize,
    /// `K`.
    pub k: usize,
    /// Rank of the normals `∇_θ g_α` (`r` when independent).
    pub normal_rank: usize,
    /// `K − normal_rank`: the dimension of `M_crit` (4.14).
    pub dimension: usize,
    /// `|∇ₓC|`.
    pub grad_x_norm: f64,
    /// `|𝒫∇ₓC|`.
    pub proj_grad_norm: f64,
    /// `ρ = |Dᵀ∇ₓC|/|∇ₓC|`.
    pub rho: f64,
    /// `|𝒫∇ₓC| ≤ equilibrium_rtol·|∇ₓC|` counts as an equilibrium.
    pub equilibrium_rtol: f64,
    /// Tolerance of the rank decisions.
    pub rank_rtol: f64,
    /// Least Rayleigh quotient of the Hessian on `span{∇_θ g_α}`.
    pub rayleigh_min: Option<f64>,
    /// How many of those quotients are negative (descent directions out of `M_crit`).
    pub rayleigh_negative: usize,
    /// The chosen columns `α₁..α_r` (positions in `θ`).
    pub alphas: Vec<usize>,
    /// The escape step from `θ*`, when `at_escape`.
    pub escape: Option<EscapeMark>,
    /// Why the last escape attempt at this point failed, if it did.
    pub no_escape: Option<String>,
    /// The cost slice (in the bulk).
    pub slice: SliceHeader,
    /// The rank the field used at `θ*` (the rest test is taken at it).
    #[serde(default)]
    pub rank_used: Option<usize>,
    /// The rest test at `θ*`: class, `|𝒫∇ₓC|/|∇ₓC|` at `rank_used`, the band.
    #[serde(default)]
    pub rest: Option<RestCheck>,
    /// The full Hessian at `θ*` when it is a rest point (not computed elsewhere).
    #[serde(default)]
    pub hessian: Option<HessianReport>,
}

/// The critical submanifold of lane `lane`'s session at `θ*`, with the cost slice on a
/// `size × size` grid (returned as the bulk, see [`SliceHeader`]).
///
/// `θ*` is the current `θ` when the lane is at rest (`stationary`) or never escaped; otherwise
/// the point before its last escape, whose step is then drawn: the slice lies in the plane of the
/// escape direction and a tangent vector of `M_crit`, and the step ends at `(step, 0)`.
/// Without an escape the horizontal direction is the normal of least Rayleigh quotient, the one
/// an escape would take.
///
/// Errors: `size` outside `4..=`[`MAX_SLICE_SIZE`] (`size`), `K·QN` above
/// [`MAX_CRITICAL_WORK`] or no plane to slice (`lane`), and failures of the decompositions.
pub fn critical_report(
    lane: usize,
    ses: &Session,
    size: usize,
) -> Result<(CriticalReport, Vec<f64>)> {
    let at = LaneState {
        model: ses.model(),
        scenario: ses.scenario(),
        theta: ses.theta(),
        s: ses.s(),
        status: ses.status(),
        events: ses.events(),
        rank_used: ses.rank_used(),
    };
    critical_report_at(lane, &at, size)
}

/// Where a lane stands: what [`critical_report_at`] needs of a run, from a live [`Session`] or
/// from a trace (its materialized scenario, final `θ`, `s`, end reason and events).
#[derive(Debug, Clone, Copy)]
pub struct LaneState<'a> {
    /// Network and data.
    pub model: &'a Model,
    /// The materialized scenario (tolerances, escape settings, seed).
    pub scenario: &'a Scenario,
    /// Current `θ`.
    pub theta: &'a [f64],
    /// Current `s`.
    pub s: f64,
    /// Run status.
    pub status: Status,
    /// Events so far.
    pub events: &'a [Event],
    /// The rank the field uses at `θ` (`None` for flows without rank decisions: the rest test
    /// then takes the numerical rank).
    pub rank_used: Option<usize>,
}

/// [`critical_report`] of a lane given by its state.
///
/// Errors: as [`critical_report`].
pub fn critical_report_at(
    lane: usize,
    ses: &LaneState<'_>,
    size: usize,
) -> Result<(CriticalReport, Vec<f64>)> {
    if !(4..=MAX_SLICE_SIZE).contains(&size) {
        return Err(Error::invalid(
            "size",
            format!("must be in 4..={MAX_SLICE_SIZE}, got {size}"),
        ));
    }
    let model = ses.model;
    let (k, qn) = (model.k(), model.qn());
    if k.saturating_mul(qn) > MAX_CRITICAL_WORK {
        return Err(Error::invalid(
            "lane",
            format!(
                "K·QN = {k}·{qn} exceeds {MAX_CRITICAL_WORK}: the critical submanifold needs up to \
                 min(K, QN) exact Hessian columns; use fewer points or a smaller network"
            ),
        ));
    }
    let sc = ses.scenario;
    let rtol = sc.rank_rtol;
    let at_rest = ses.status == Status::Stationary;
    let last_escape = ses
        .events
        .iter()
        .rev()
        .find_map(|e| e.escape().map(|step| (e.s, step)));
    let escape_event = last_escape.filter(|_| !at_rest);
    let (theta_star, s_star, step_dir) = match escape_event {
        Some((s, e)) => (
            e.theta_before.clone(),
            s,
            Some((e.direction.clone(), e.step)),
        ),
        None => (ses.theta.to_vec(), ses.s, None),
    };
    let diag = critical::diagnose(
        model,
        &theta_star,
        rtol,
        sc.escape.equilibrium_rtol,
        sc.trap.map_or(1e-3, |t| t.rho_below),
    )?;
    let rank_used = match escape_event {
        Some((_, e)) => e.hessian.as_ref().and_then(|h| h.rank_used),
        None => ses.rank_used,
    };
    let (rest, hessian) =
        critical::hessian_at_rest(model, &theta_star, rtol, rank_used, sc.escape.kernel_rtol)?;
    let cm = CriticalSubmanifold::at(model, &theta_star, rtol)?;
    let (u, u_name) = match (&step_dir, &hessian) {
        (Some((d, _)), _) => (
            d.clone(),
            "the escape direction (the eigenvector of the Hessian's least eigenvalue)",
        ),
        (None, Some((_, v))) => (
            v.clone(),
            "the eigenvector of the Hessian's least eigenvalue (where an escape would go)",
        ),
        (None, None) => match cm.min_direction() {
            Some(v) => (
                v,
                "the normal of least Rayleigh quotient (θ* is not at rest: no escape applies)",
            ),
            None => (
                cm.normal_unit(0).ok_or_else(|| {
                    Error::invalid(
                        "lane",
                        "D = 0 here: there are no normal vectors to slice along",
                    )
                })?,
                "the normal ∇θ g_α₁",
            ),
        },
    };
    let (w, w_name) = match cm.tangent(sc.seed) {
        Some(t) => (t, "a tangent vector of M_crit"),
        None => (
            cm.normal_unit(1).ok_or_else(|| {
                Error::invalid(
                    "lane",
                    "the normals span R^K and there is no second normal: no plane to slice",
                )
            })?,
            "a second normal (M_crit is a point here)",
        ),
    };
    let half = SLICE_MARGIN * step_dir.as_ref().map_or(sc.escape.step, |(_, t)| *t);
    let slice = critical::cost_slice(model, &theta_star, &u, &w, half, half, size, size)?;
    let escape = match (escape_event, &step_dir) {
        (Some((s, e)), Some((d, t))) => {
            let end: Vec<f64> = theta_star.iter().zip(d).map(|(a, b)| a + t * b).collect();
            let (a, b) = slice.coords(&end);
            Some(EscapeMark {
                s,
                cost_before: e.cost_before,
                cost_after: e.cost_after,
                step: *t,
                rayleigh: e.rayleigh,
                trials: e.trials.into(),
                end: [a, b],
            })
        }
        _ => None,
    };
    let no_escape = if escape_event.is_none() {
        ses.events
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::Escape(_) | EventKind::NoEscape { .. }))
            .filter(|e| matches!(e.kind, EventKind::NoEscape { .. }))
            .map(|e| e.message.clone())
    } else {
        None
    };
    let report = CriticalReport {
        epoch: 0,
        lane,
        s: ses.s,
        status: ses.status,
        at_escape: escape.is_some(),
        s_star,
        kind: diag.kind,
        cost: diag.cost,
        rank: diag.rank,
        qn,
        k,
        normal_rank: cm.normal_rank,
        dimension: cm.dimension,
        grad_x_norm: diag.grad_x_norm,
        proj_grad_norm: diag.proj_grad_norm,
        rho: diag.rho,
        equilibrium_rtol: diag.equilibrium_rtol,
        rank_rtol: rtol,
        rayleigh_min: cm.min_rayleigh(),
        rayleigh_negative: cm.rayleigh.iter().filter(|&&l| l < 0.0).count(),
        alphas: cm.alphas.clone(),
        escape,
        no_escape,
        slice: SliceHeader {
            size,
            half,
            center_cost: slice.center_cost,
            u: u_name.into(),
            w: w_name.into(),
        },
        rank_used: Some(rest.rank_used),
        rest: Some(rest),
        hessian: hessian.map(|(h, _)| h),
    };
    Ok((report, slice.cost))
}

/// `|V_α(θ)|` for each `α`, `V_α = −(1−α)Dᵀ∇ₓC − αD⁺∇ₓC` (`α = 0` the standard field, `α = 1` the
/// adapted one). `V_α = (1−α)V₀ + αV₁` and both vanish exactly where `𝒫∇ₓC = 0` (`Dᵀ∇ₓC =
/// Dᵀ𝒫∇ₓC`), so every homotopy flow has the same equilibria.
///
/// Errors: non-finite state or a failed SVD.
pub fn field_norms(
    model: &Model,
    theta: &[f64],
    alphas: &[f64],
    rank_rtol: f64,
) -> Result<Vec<f64>> {
    let mut ws = Workspace::default();
    ws.evaluate(model, theta)?;
    let mut v = vec![0.0; model.k()];
    alphas
        .iter()
        .map(|&alpha| {
            eval_field(&FlowSpec::Homotopy { alpha }, &mut ws, rank_rtol, &mut v)?;
            Ok(linalg::norm(&v))
        })
        .collect()
}

/// What the constructive panel asks for: which theorem (`None`: the 2023 one when its
/// hypotheses hold on the data, else the 2024 one) and, for the 2023 family, `μ̲` (`None`: the
/// middle of the range).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConstructRequest {
    /// `separable` (2024) or `clustered` (2023).
    #[serde(default)]
    pub theorem: Option<Theorem>,
    /// `μ̲` of the 2023 family: one value for every class, or one per class.
    #[serde(default)]
    pub mu: Option<Vec<f64>>,
}

/// The 2023 family in the constructive panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyReport {
    /// The data's geometry: means, `δ₀`, `I`, the slider's range, `ν`.
    pub geometry: ClusterGeometry,
    /// `μ̲` of the member shown.
    pub mu: Vec<f64>,
    /// `δ_P` after each collapse layer (stage 0: `δ₀`), `None` where undefined.
    pub delta_p: Vec<Option<f64>>,
}

/// The constructive-minimizer panel. Bulk: the stages (`stages · N · layer_dim` numbers, stage by
/// stage, sample-major), then the outputs `x̲(θ_c)` (`N·Q`), when the construction succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstructionReport {
    /// The load this belongs to (set by the host).
    pub epoch: u32,
    /// The widths the construction was built on.
    pub needed: Vec<usize>,
    /// The loaded network's widths.
    pub current: Vec<usize>,
    /// The loaded network's activation.
    pub activation: String,
    /// Whether the construction lives on the loaded network: then it is a point of the very
    /// parameter space the flows move in.
    pub fits: bool,
    /// Why the loaded network cannot carry it, when it cannot.
    pub misfit: Option<String>,
    /// `K` of the construction's network.
    pub k: usize,
    /// `QN`.
    pub qn: usize,
    /// Samples `N`.
    pub n: usize,
    /// Input dimension `M`.
    pub m: usize,
    /// Output dimension `Q`.
    pub q: usize,
    /// Classes `C`.
    pub classes: usize,
    /// `d`, the dimension of the layer coordinates.
    pub layer_dim: usize,
    /// `separable` (2024, slide 15) or `clustered` (2023, slides 8–14).
    pub theorem: Theorem,
    /// `input` or `cuts`: what the layer coordinates are.
    pub coordinates: Coordinates,
    /// Why the 2023 theorem does not apply to these data, when it does not.
    pub clustered_error: Option<String>,
    /// The 2023 family, when that is the construction shown.
    pub family: Option<FamilyReport>,
    /// What each hidden layer after the collapse layers does.
    pub extra_layers: Vec<String>,
    /// `mean` or `weighted`: the cost of the loaded scenario, in which `cost` is measured.
    pub cost_kind: String,
    /// Why there is no construction (not sequentially separable, …), if so.
    pub error: Option<String>,
    /// `C(θ_c)` by a forward pass (zero up to rounding).
    pub cost: Option<f64>,
    /// `rank D[θ_c]`.
    pub rank: Option<usize>,
    /// One cut per collapse layer, in collapse order.
    pub cuts: Vec<Cut>,
    /// Number of stages in the bulk (`C + 1`: the inputs, then after each collapse layer).
    pub stages: usize,
}

/// A construction the host keeps to classify new inputs: its model and its parameters.
#[derive(Debug, Clone)]
pub struct Built {
    /// The construction's network with the loaded data and cost.
    pub model: Model,
    /// The construction.
    pub construction: Construction,
}

/// [`construction_report_with`] with the default request.
pub fn construction_report(model: &Model, rank_rtol: f64) -> (ConstructionReport, Vec<f64>) {
    let (r, bulk, _) = construction_report_with(model, rank_rtol, &ConstructRequest::default());
    (r, bulk)
}

/// Builds the constructive minimizer `request` asks for on `model`'s data: on `model`'s network
/// when it can carry it (see [`construct::check_architecture`], [`construct::clustered`]), on the
/// suggested architecture otherwise. Never fails: what went wrong is in
/// [`ConstructionReport::error`]. Returns the construction too, for [`classify`].
pub fn construction_report_with(
    model: &Model,
    rank_rtol: f64,
    request: &ConstructRequest,
) -> (ConstructionReport, Vec<f64>, Option<Built>) {
    let data = &model.data;
    let (m, n, classes, q) = (data.m(), data.n(), data.classes(), model.q());
    let geometry = construct::cluster_geometry(data);
    let theorem = request.theorem.unwrap_or(if geometry.is_ok() {
        Theorem::Clustered
    } else {
        Theorem::Separable
    });
    let misfit = match theorem {
        Theorem::Separable => construct::check_architecture(&model.net, classes)
            .err()
            .map(|e| e.to_string()),
        Theorem::Clustered => {
            let w = model.net.widths();
            let hidden = &w[1..w.len() - 1];
            let ok = model.net.activation() == Activation::Relu
                && hidden.len() >= q
                && hidden.iter().all(|&h| h == q);
            (!ok).then(|| {
                format!(
                    "the 2023 construction needs ReLU and L ≥ Q = {q} hidden layers of width                      Q (M = M_ℓ = Q, slide 8)"
                )
            })
        }
    };
    // The loaded widths with ReLU when they are allowed (only the activation is wrong), else the
    // suggested ones.
    let relu_widths =
        Mlp::new(model.net.widths(), Activation::Relu).is_ok_and(|net| match theorem {
            Theorem::Separable => construct::check_architecture(&net, classes).is_ok(),
            Theorem::Clustered => {
                let w = net.widths();
                w.len() >= q + 2 && w[1..w.len() - 1].iter().all(|&h| h == q)
            }
        });
    let needed = if relu_widths {
        model.net.widths().to_vec()
    } else {
        match theorem {
            Theorem::Separable => construct::required_widths(m, classes, q),
            Theorem::Clustered => vec![q; q + 2],
        }
    };
    let k = Mlp::new(&needed, Activation::Relu).map_or(0, |net| net.k());
    let mut report = ConstructionReport {
        epoch: 0,
        needed: needed.clone(),
        current: model.net.widths().to_vec(),
        activation: model.net.activation().name().into(),
        fits: misfit.is_none(),
        misfit,
        k,
        qn: model.qn(),
        n,
        m,
        q,
        classes,
        layer_dim: needed.get(1).copied().unwrap_or(m),
        theorem,
        coordinates: Coordinates::Input,
        clustered_error: geometry.as_ref().err().map(|e| e.to_string()),
        family: None,
        extra_layers: vec![],
        cost_kind: model.cost_spec().name().into(),
        error: None,
        cost: None,
        rank: None,
        cuts: vec![],
        stages: 0,
    };
    if n * classes > MAX_CONSTRUCT_WORK {
        report.error = Some(format!(
            "N·C = {n}·{classes} exceeds {MAX_CONSTRUCT_WORK}: the search for a collapse order \
             fits one cut per try; the page builds the construction for fewer points or classes"
        ));
        return (report, vec![], None);
    }
    if classes > MAX_CONSTRUCT_CLASSES {
        report.error = Some(format!(
            "the constructive network has one hidden layer per class; these data have {classes} \
             classes, the page builds it for at most {MAX_CONSTRUCT_CLASSES}"
        ));
        return (report, vec![], None);
    }
    let built = if report.fits {
        Ok(model.clone())
    } else {
        Mlp::new(&needed, Activation::Relu)
            .and_then(|net| Model::new(net, data.clone()))
            .map(|m| m.with_cost(model.cost_spec()))
    };
    let cmodel = match built {
        Ok(cm) => cm,
        Err(e) => {
            report.error = Some(e.to_string());
            return (report, vec![], None);
        }
    };
    let result = match (theorem, &geometry) {
        (Theorem::Separable, _) => construct::build(&cmodel),
        (Theorem::Clustered, Ok(g)) => {
            let mu = request
                .mu
                .clone()
                .unwrap_or_else(|| vec![0.5 * (g.range[0] + g.range[1])]);
            construct::clustered(&cmodel, &mu)
        }
        (Theorem::Clustered, Err(e)) => Err(e.clone()),
    };
    let c = match result {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(e.to_string());
            return (report, vec![], None);
        }
    };
    let outputs = cmodel.outputs(&c.theta);
    report.cost = Some(cmodel.cost_of_outputs(&outputs));
    let mut ws = Workspace::default();
    report.rank = ws
        .evaluate(&cmodel, &c.theta)
        .and_then(|_| ws.svd(rank_rtol).map(|s| s.rank()))
        .ok();
    report.layer_dim = c.dim;
    report.coordinates = c.coordinates;
    report.cuts = c.cuts.clone();
    report.stages = c.stages.len();
    report.extra_layers = c.extra_layers.clone();
    report.family = c.family.as_ref().map(|f| FamilyReport {
        geometry: f.geometry.clone(),
        mu: f.mu.clone(),
        delta_p: f.delta_p.clone(),
    });
    let mut bulk: Vec<f64> = c.stages.iter().flatten().flatten().copied().collect();
    bulk.extend(outputs);
    (
        report,
        bulk,
        Some(Built {
            model: cmodel,
            construction: c,
        }),
    )
}

/// A classified input as the constructive panel shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyReport {
    /// The load this belongs to (set by the host).
    pub epoch: u32,
    /// What the construction does with the input.
    pub result: Classification,
}

/// Classifies `x` with the kept construction (see [`Construction::classify`]).
///
/// Errors: no construction yet (`x`, asking for one first), or a bad `x`.
pub fn classify(built: Option<&Built>, x: &[f64]) -> Result<ClassifyReport> {
    let b = built.ok_or_else(|| {
        Error::invalid(
            "x",
            "there is no construction to classify with yet: open the constructive panel",
        )
    })?;
    Ok(ClassifyReport {
        epoch: 0,
        result: b.construction.classify(&b.model, x)?,
    })
}

/// Checks a construction report for consistency and its bulk's length against it (the page
/// indexes by these numbers).
///
/// Errors: cuts that do not match the stages (`report.cuts`), a wrong length (`bulk`).
pub fn check_construction_bulk(r: &ConstructionReport, bulk: &[f64]) -> Result<()> {
    if r.stages > 0 {
        let dims_ok = r.layer_dim >= 1
            && r.q >= 1
            && r.cuts.len() + 1 == r.stages
            && r.cuts.iter().all(|c| {
                c.normal.len() == r.layer_dim && c.apex.len() == r.layer_dim && c.class < r.classes
            });
        if !dims_ok {
            return Err(Error::invalid(
                "report.cuts",
                format!(
                    "{} cuts for {} stages in R^{}: expected one cut per stage after the first",
                    r.cuts.len(),
                    r.stages,
                    r.layer_dim
                ),
            ));
        }
    }
    let want = if r.stages > 0 {
        r.stages * r.n * r.layer_dim + r.n * r.q
    } else {
        0
    };
    if bulk.len() != want {
        return Err(Error::invalid(
            "bulk",
            format!(
                "expected {want} numbers for the construction, got {}",
                bulk.len()
            ),
        ));
    }
    Ok(())
}
