//! The escape step (4.15)–(4.17) from a rest point, verified by the Hessian.

use super::curvature::{rayleigh, Curvature, CurvatureMethod, Verdict, DEFAULT_KERNEL_RTOL};
use super::{classify, CriticalSubmanifold, PointKind, DEFAULT_EQUILIBRIUM_RTOL};
use crate::error::{Error, Result};
use crate::linalg;
use crate::math::diagnostics::{rest_check, Rest, RestCheck};
use crate::math::flow::Workspace;
use crate::math::hessian::SecondOrder;
use crate::math::model::Model;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// The scenario key `escape`: automatic escape from rank-loss equilibria, and the backtracking
/// parameters of every escape (automatic or requested).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscapeSpec {
    /// Attempt an escape whenever the flow comes to rest (`stationary`) with `∇ₓC ≠ 0`.
    #[serde(default)]
    pub auto: bool,
    /// At most this many automatic escapes per run.
    #[serde(default = "default_max")]
    pub max: u32,
    /// First trial length `|θ₀' − θ*|` of the backtracking.
    #[serde(default = "default_step")]
    pub step: f64,
    /// Factor in `(0, 1)` by which a rejected trial length shrinks.
    #[serde(default = "default_shrink")]
    pub shrink: f64,
    /// Smallest trial length; below it the attempt fails (`no_escape`).
    #[serde(default = "default_min_step")]
    pub min_step: f64,
    /// A trial `t` is accepted when `C(θ* + t v) ≤ C(θ*) − sufficient · ½|λ_min| t²`, a fraction
    /// of the second-order prediction (Armijo's rule at second order; `∇_θC = 0` there).
    #[serde(default = "default_sufficient")]
    pub sufficient: f64,
    /// `|𝒫∇ₓC| ≤ equilibrium_rtol·|∇ₓC|` classifies a rest point as a rank-loss equilibrium.
    #[serde(default = "default_equilibrium_rtol")]
    pub equilibrium_rtol: f64,
    /// Eigenvalues of the Hessian with `|λ| ≤ kernel_rtol·max|λ_i|` count as zero (its kernel, and
    /// the verdict "undecided at second order").
    #[serde(
        default = "default_kernel_rtol",
        skip_serializing_if = "is_default_kernel_rtol"
    )]
    pub kernel_rtol: f64,
}

fn default_kernel_rtol() -> f64 {
    DEFAULT_KERNEL_RTOL
}

// Written only when it differs from the default, so that traces from before it existed read and
// write back unchanged.
fn is_default_kernel_rtol(v: &f64) -> bool {
    *v == DEFAULT_KERNEL_RTOL
}

fn default_max() -> u32 {
    10
}
fn default_step() -> f64 {
    1.0
}
fn default_shrink() -> f64 {
    0.5
}
fn default_min_step() -> f64 {
    1e-8
}
fn default_sufficient() -> f64 {
    0.1
}
fn default_equilibrium_rtol() -> f64 {
    DEFAULT_EQUILIBRIUM_RTOL
}

impl Default for EscapeSpec {
    fn default() -> Self {
        EscapeSpec {
            auto: false,
            max: default_max(),
            step: default_step(),
            shrink: default_shrink(),
            min_step: default_min_step(),
            sufficient: default_sufficient(),
            equilibrium_rtol: default_equilibrium_rtol(),
            kernel_rtol: default_kernel_rtol(),
        }
    }
}

impl EscapeSpec {
    /// Whether this is the default (then the scenario leaves the key out).
    pub fn is_default(&self) -> bool {
        *self == EscapeSpec::default()
    }

    /// Checks every parameter, naming the field (`escape.max`, `escape.shrink`, …).
    pub fn validate(&self) -> Result<()> {
        if self.max > 1000 {
            return Err(Error::invalid(
                "escape.max",
                format!("{} escapes is more than the limit of 1000", self.max),
            ));
        }
        crate::error::positive("escape.step", self.step)?;
        crate::error::positive("escape.min_step", self.min_step)?;
        if self.min_step > self.step {
            return Err(Error::invalid(
                "escape.min_step",
                format!(
                    "{} is larger than escape.step = {}",
                    self.min_step, self.step
                ),
            ));
        }
        crate::error::positive("escape.shrink", self.shrink)?;
        if self.shrink >= 1.0 {
            return Err(Error::invalid(
                "escape.shrink",
                format!("must be in (0, 1), got {}", self.shrink),
            ));
        }
        crate::error::non_negative("escape.sufficient", self.sufficient)?;
        if self.sufficient >= 1.0 {
            return Err(Error::invalid(
                "escape.sufficient",
                format!("must be in [0, 1), got {}", self.sufficient),
            ));
        }
        crate::error::positive("escape.equilibrium_rtol", self.equilibrium_rtol)?;
        crate::error::positive("escape.kernel_rtol", self.kernel_rtol)?;
        if self.kernel_rtol >= 1.0 {
            return Err(Error::invalid(
                "escape.kernel_rtol",
                format!("must be in (0, 1), got {}", self.kernel_rtol),
            ));
        }
        Ok(())
    }
}

/// What the full Hessian says at the rest point: shared by `escape` and `no_escape` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HessianReport {
    /// `λ_min(H)` of the full Hessian `∇²_θC` at `θ*`.
    pub hessian_min_eig: f64,
    /// `max|λ_i|`, the scale of `kernel_rtol`.
    pub hessian_scale: f64,
    /// `dim ker H` (eigenvalues `|λ| ≤ kernel_rtol·max|λ_i|`); absent when `K` is too large for a
    /// dense eigensolve (then `hessian_method` is `lanczos`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_dim: Option<usize>,
    /// Number of eigenvalues below `−kernel_rtol·max|λ_i|`: independent descent directions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_dim: Option<usize>,
    /// The relative kernel tolerance used.
    pub kernel_rtol: f64,
    /// `dense` (`K ≤ 2000`) or `lanczos`.
    pub hessian_method: CurvatureMethod,
    /// Thm 4.2's hypothesis checked at nearby points: `rank D` equal to its value at `θ*` at 16
    /// random points at distances `1e-3` and `1e-5` (relative to `max(1, |θ*|)`).
    pub constant_rank: bool,
    /// What second order says: `negative_curvature`, `undecided`, `local_minimum`, or
    /// `not_at_rest`.
    pub verdict: Verdict,
    /// The least Rayleigh quotient of `H` on the normal bundle `span{∇_θ g_α}`: the paper's
    /// superposition (4.15)–(4.17), beside the Hessian's own least eigenvalue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_rayleigh: Option<f64>,
    /// The rank the flow used at `θ*` (the rest test was taken at it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_used: Option<usize>,
}

/// A successful escape from a rest point `θ*` along the eigenvector of the Hessian's least
/// eigenvalue, with `C(θ₀') < C(θ*)`; the paper's normal-bundle superposition (4.15)–(4.17) is
/// reported beside it (`normal_rayleigh`, `kappa`).
///
/// The payload of a trace's `escape` event: its fields are the event's keys. The vectors may be
/// empty in the events a frame carries to the page (see `Event::without_vectors`), never in a
/// trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscapeStep {
    /// `C(θ*)`.
    pub cost_before: f64,
    /// `C(θ₀')`, always `< cost_before`.
    pub cost_after: f64,
    /// `r = rank D` at `θ*`.
    pub rank: usize,
    /// The chosen columns `α₁..α_r`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alphas: Vec<usize>,
    /// `κ_α` (4.16) of the step's projection on the normal bundle: the superposition
    /// `Σ_α κ_α ∇_θ g_α(θ*)` closest to `θ₀' − θ*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kappa: Vec<f64>,
    /// `(θ₀' − θ*)/|θ₀' − θ*|`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub direction: Vec<f64>,
    /// `θ*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub theta_before: Vec<f64>,
    /// `|θ₀' − θ*|`, the accepted backtracking length.
    pub step: f64,
    /// The Rayleigh quotient `vᵀHv` of the step's direction `v`, from its own Hessian–vector
    /// product: within 0.1% of `hessian_min_eig`.
    pub rayleigh: f64,
    /// The second-order prediction `½ vᵀHv t² + t⟨∇_θC, v⟩` of the change of `C`.
    pub predicted_change: f64,
    /// Trial lengths tried.
    pub trials: u32,
    /// What the point was.
    pub point: PointKind,
    /// `K − r` (normal rank): the dimension of `M_crit` where Thm 4.2's constant-rank hypothesis
    /// holds (see `constant_rank`); otherwise `kernel_dim` bounds the equilibria near `θ*`.
    pub dimension: usize,
    /// The Hessian at `θ*` (absent in traces written before it existed).
    #[serde(flatten)]
    pub hessian: Option<HessianReport>,
}

impl EscapeStep {
    /// `θ₀' = θ* + step · direction`, where the flow resumes: bit for bit the point whose cost
    /// was measured (`direction` carries the sign, so the product is the step's own).
    pub fn theta_after(&self) -> Vec<f64> {
        self.theta_before
            .iter()
            .zip(&self.direction)
            .map(|(a, d)| a + self.step * d)
            .collect()
    }
}

/// A failed escape attempt: the point is not a rest point, or no direction lowers the cost at
/// second order (the Hessian is positive semidefinite: a strict minimum, or undecided).
///
/// The payload of a trace's `no_escape` event: its fields are the event's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoEscape {
    /// `C(θ*)`.
    pub cost: f64,
    /// `r = rank D` at `θ*`.
    pub rank: usize,
    /// What the point was.
    pub point: PointKind,
    /// The minimal Rayleigh quotient on `span{∇_θ g_α}`, if there are normals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rayleigh_min: Option<f64>,
    /// `θ*`, so that the verdict can be checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub theta_before: Vec<f64>,
    /// The Hessian at `θ*` (absent when the point was not at rest, or in older traces).
    #[serde(flatten)]
    pub hessian: Option<HessianReport>,
}

/// The outcome of an escape attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Escape {
    /// The cost fell: the flow resumes at [`EscapeStep::theta_after`].
    Escaped(EscapeStep),
    /// Nothing was changed.
    NoEscape {
        /// Where the attempt was made.
        at: NoEscape,
        /// A plain sentence saying why nothing lowered the cost.
        reason: String,
    },
}

/// Relative distances (to `max(1, |θ*|)`) of the points where Thm 4.2's constant rank is checked.
pub const CONSTANT_RANK_RADII: [f64; 2] = [1e-3, 1e-5];

/// Attempts an escape from the rest point `θ*`, verified by the full Hessian.
///
/// First `θ*` must be a rest point of the flow at `rank_used` (`None`: the numerical rank):
/// `|𝒫∇ₓC| ≤ 1e-8·|∇ₓC|` (or `∇ₓC = 0`, a global minimum). There `∇_θC = 0` and
/// `C(θ* + tv) − C(θ*) = ½t²vᵀHv + O(t³)`, so the step goes along the eigenvector of
/// `λ_min(H)`, the steepest descent at second order ([`Curvature`]: dense for `K ≤ 2000`,
/// Lanczos above). `λ_min(H) ≥ −kernel_rtol·max|λ|` gives [`Escape::NoEscape`] with the verdict
/// `local_minimum` or `undecided` (zero within tolerance), never a faked step. Otherwise trial
/// lengths `t = step, step·shrink, … ≥ min_step` are tried with both signs, and the first with
/// `C ≤ C(θ*) − sufficient·½|λ|t²` is taken. The paper's normal-bundle superposition
/// (4.15)–(4.17) — the least Rayleigh quotient of `H` on `span{∇_θ g_α}` — is reported beside it.
///
/// Errors: non-finite state, failed decompositions, or invalid `spec` (named `escape.*`).
pub fn attempt(
    model: &Model,
    theta: &[f64],
    rank_rtol: f64,
    rank_used: Option<usize>,
    spec: &EscapeSpec,
) -> Result<(CriticalSubmanifold, Escape)> {
    spec.validate()?;
    let cm = CriticalSubmanifold::at(model, theta, rank_rtol)?;
    let kind = classify(
        cm.grad_x_norm,
        cm.proj_grad_norm,
        cm.rank,
        cm.k,
        cm.qn,
        true,
        spec.equilibrium_rtol,
    );
    let no = |reason: String, cm: &CriticalSubmanifold, hessian: Option<HessianReport>| {
        Escape::NoEscape {
            at: NoEscape {
                cost: cm.cost,
                rank: cm.rank,
                point: kind,
                rayleigh_min: cm.min_rayleigh(),
                theta_before: theta.to_vec(),
                hessian,
            },
            reason,
        }
    };
    let rest = rest_check(
        model,
        &mut Workspace::default(),
        theta,
        rank_rtol,
        rank_used,
    )?;
    if rest.rest == Rest::GlobalMinimum {
        let out = no(
            "a global minimum (C at the level of rounding): nothing to escape from".into(),
            &cm,
            None,
        );
        return Ok((cm, out));
    }
    if !rest.rest.at_rest() {
        let out = no(
            format!(
                "not a rest point: |𝒫∇ₓC|/|∇ₓC| = {:.2e} at rank_used = {} (a rest needs ≤ 1e-8), \
                 so ∇_θC ≠ 0 and the flow itself still lowers the cost; second-order escapes \
                 apply only at rest points",
                rest.proj_ratio, rest.rank_used
            ),
            &cm,
            None,
        );
        return Ok((cm, out));
    }
    let so = SecondOrder::new(model, theta)?;
    let (curv, mut report) = analyse(model, theta, &cm, &so, rest.rank_used, spec.kernel_rtol)?;
    let full = cm.k.min(cm.qn);
    let what = if rest.rank_used >= full {
        format!("rank_used = min(K, QN) = {full}: a rest point of Thm 5.1, no critical submanifold")
    } else {
        set_sentence(&cm, &curv, report.constant_rank)
    };
    match report.verdict {
        Verdict::LocalMinimum => {
            let out = no(
                format!(
                    "a strict local minimum: the Hessian is positive definite (λ_min = {:.3e}, \
                     max|λ| = {:.3e}); {what}",
                    curv.min_eig, curv.scale
                ),
                &cm,
                Some(report),
            );
            return Ok((cm, out));
        }
        Verdict::MorseBottMinimum => {
            let out = no(
                format!(
                    "a local minimum, not strict (Morse–Bott): rank D is constant near θ* (Thm 4.2), \
                     the equilibria form M_crit of dimension K − r = {}, ker H has exactly that \
                     dimension (M_crit's tangent space) and H is positive definite across it \
                     (least Rayleigh quotient on the normals {}); no direction lowers the cost",
                    cm.dimension,
                    cm.min_rayleigh()
                        .map_or("n/a".to_string(), |r| format!("{r:.3e}"))
                ),
                &cm,
                Some(report),
            );
            return Ok((cm, out));
        }
        Verdict::Undecided => {
            let out = no(
                format!(
                    "undecided at second order: the Hessian is positive semidefinite with λ_min = \
                     {:.3e}, zero within {:.0e}·max|λ| (dim ker H = {}); {what}",
                    curv.min_eig,
                    curv.kernel_rtol,
                    curv.kernel_dim
                        .map_or("not computed (K > 2000)".to_string(), |d| d.to_string())
                ),
                &cm,
                Some(report),
            );
            return Ok((cm, out));
        }
        _ => {}
    }
    let v = curv.min_vec.clone();
    let lam = rayleigh(&so, &v);
    report.verdict = Verdict::NegativeCurvature;
    let c0 = cm.cost;
    let slope = linalg::dot(so.gradient(), &v);
    let mut t = spec.step;
    let mut trials = 0u32;
    let mut trial = vec![0.0; theta.len()];
    while t >= spec.min_step {
        trials += 1;
        let mut best: Option<(f64, f64)> = None;
        for sign in [1.0, -1.0] {
            for ((o, th), vi) in trial.iter_mut().zip(theta).zip(&v) {
                *o = th + sign * t * vi;
            }
            let c = model.cost(&trial);
            if c.is_finite() && best.is_none_or(|(_, cb)| c < cb) {
                best = Some((sign, c));
            }
        }
        if let Some((sign, c)) = best {
            if c < c0 && c <= c0 - spec.sufficient * 0.5 * lam.abs() * t * t {
                let delta: Vec<f64> = v.iter().map(|vi| sign * t * vi).collect();
                let kappa = cm.kappa_of(&delta);
                let direction: Vec<f64> = v.iter().map(|vi| sign * vi).collect();
                let step = EscapeStep {
                    theta_before: theta.to_vec(),
                    cost_before: c0,
                    cost_after: c,
                    rank: cm.rank,
                    alphas: cm.alphas.clone(),
                    kappa,
                    direction,
                    step: t,
                    rayleigh: lam,
                    predicted_change: 0.5 * lam * t * t + sign * t * slope,
                    trials,
                    point: kind,
                    dimension: cm.dimension,
                    hessian: Some(report),
                };
                return Ok((cm, Escape::Escaped(step)));
            }
        }
        t *= spec.shrink;
    }
    let out = no(
        format!(
            "the Hessian has negative curvature λ_min = {lam:.3e}, but no trial length in \
             [{:.1e}, {:.1e}] lowered the cost enough (higher-order terms dominate)",
            spec.min_step, spec.step
        ),
        &cm,
        Some(report),
    );
    Ok((cm, out))
}

/// The Hessian's verdict at a rest point `θ*` (see [`HessianReport`]): its spectrum, the
/// constant-rank check, and the Morse–Bott case (a kernel that is exactly `M_crit`'s tangent).
fn analyse(
    model: &Model,
    theta: &[f64],
    cm: &CriticalSubmanifold,
    so: &SecondOrder,
    rank_used: usize,
    kernel_rtol: f64,
) -> Result<(Curvature, HessianReport)> {
    let curv = Curvature::at(so, kernel_rtol, model.k() as u64)?;
    let constant_rank = constant_rank(cm, model, theta)?;
    let mut verdict = curv.verdict();
    if verdict == Verdict::Undecided
        && constant_rank
        && curv.kernel_dim == Some(cm.dimension)
        && cm.dimension > 0
    {
        verdict = Verdict::MorseBottMinimum;
    }
    let report = HessianReport {
        hessian_min_eig: curv.min_eig,
        hessian_scale: curv.scale,
        kernel_dim: curv.kernel_dim,
        negative_dim: curv.negative_dim,
        kernel_rtol: curv.kernel_rtol,
        hessian_method: curv.method,
        constant_rank,
        verdict,
        normal_rayleigh: cm.min_rayleigh(),
        rank_used: Some(rank_used),
    };
    Ok((curv, report))
}

/// The Hessian's report at a rest point with the eigenvector of its least eigenvalue.
pub type RestHessian = (HessianReport, Vec<f64>);

/// What the full Hessian says at `θ` if it is a rest point of the flow at `rank_used` (see
/// [`attempt`]), with the eigenvector of `λ_min`; `None` (and the rest test) when it is not at
/// rest or is a global minimum.
///
/// Errors: as [`attempt`].
pub fn hessian_at_rest(
    model: &Model,
    theta: &[f64],
    rank_rtol: f64,
    rank_used: Option<usize>,
    kernel_rtol: f64,
) -> Result<(RestCheck, Option<RestHessian>)> {
    let rest = rest_check(
        model,
        &mut Workspace::default(),
        theta,
        rank_rtol,
        rank_used,
    )?;
    if !rest.rest.at_rest() || rest.rest == Rest::GlobalMinimum {
        return Ok((rest, None));
    }
    let cm = CriticalSubmanifold::at(model, theta, rank_rtol)?;
    let so = SecondOrder::new(model, theta)?;
    let (curv, report) = analyse(model, theta, &cm, &so, rest.rank_used, kernel_rtol)?;
    Ok((rest, Some((report, curv.min_vec))))
}

/// Thm 4.2's hypothesis at `θ*`: `rank D` at 16 seeded random points at the distances
/// [`CONSTANT_RANK_RADII`] equals `rank D[θ*]`.
///
/// Errors: as [`CriticalSubmanifold::ranks_nearby`].
pub fn constant_rank(cm: &CriticalSubmanifold, model: &Model, theta: &[f64]) -> Result<bool> {
    let size = linalg::norm(theta).max(1.0);
    let mut seed = Rng::new(theta.len() as u64).next_u64();
    for r in CONSTANT_RANK_RADII {
        let ranks = cm.ranks_nearby(model, r * size, 8, seed)?;
        if ranks.iter().any(|&x| x != cm.rank) {
            return Ok(false);
        }
        seed = seed.wrapping_add(1);
    }
    Ok(true)
}

/// Which dimension describes the set of equilibria near `θ*`: `K − r` (Thm 4.2) where the
/// constant-rank hypothesis holds, else at most `dim ker H`.
pub fn set_sentence(cm: &CriticalSubmanifold, curv: &Curvature, constant_rank: bool) -> String {
    let kernel = curv
        .kernel_dim
        .map_or("not computed (K > 2000)".to_string(), |d| d.to_string());
    if constant_rank {
        format!(
            "rank D is constant near θ* (Thm 4.2 applies): the equilibria form M_crit of dimension \
             K − r = {} (dim ker H = {kernel})",
            cm.dimension
        )
    } else {
        format!(
            "rank D is not constant near θ* (Thm 4.2's hypothesis fails): the paper's K − r = {} \
             does not describe the equilibria here; they lie in a set whose tangent space is in \
             ker H, of dimension at most dim ker H = {kernel}",
            cm.dimension
        )
    }
}
