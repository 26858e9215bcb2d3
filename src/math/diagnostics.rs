//! Per-sample diagnostics: cost, rank and spectrum of `D`, the trapping ratio `ρ`, the projected
//! gradient, neural-collapse statistics, and the a-priori stopping time (2.41).

use crate::error::Result;
use crate::linalg::svd::OutputSpectrum;
use crate::linalg::{self};
use crate::math::flow::Workspace;
use crate::math::model::Model;
use serde::{Deserialize, Serialize};

/// Everything recorded about the state at one `s`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Flow time `s`.
    pub s: f64,
    /// Cost: `C = |x̲ − y̲|²/(2N)`, or the weighted `C_w` when the scenario chooses it.
    pub cost: f64,
    /// Numerical rank of `D` (relative tolerance `rank_rtol` of the trace).
    pub rank: usize,
    /// The rank the flow's field used in the step containing this sample (see
    /// [`crate::math::flow::RankPolicy`]); the numerical rank for flows without rank decisions.
    /// `proj_grad_norm` and `perp_cost` are taken at this rank. (Absent in older traces.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_used: Option<usize>,
    /// Largest singular value of `D`.
    pub sigma_max: f64,
    /// Smallest of the `min(QN, K)` singular values of `D`.
    pub sigma_min: f64,
    /// `λ_min(DDᵀ)` (the NTK): `σ_{QN}²` when `K ≥ QN`, else 0.
    pub lambda_min: f64,
    /// Trapping ratio `ρ = |Dᵀ∇ₓC| / |∇ₓC|` (Prop 3.1); 0 when `∇ₓC = 0`.
    pub rho: f64,
    /// `|∇ₓC|`.
    pub grad_x_norm: f64,
    /// `|𝒫∇ₓC|` at `rank_used`, the part of the output gradient the adapted flow can follow.
    pub proj_grad_norm: f64,
    /// `(N/2)|𝒫^⊥∇ₓC|²`: the cost the adapted flow cannot remove here (Thm 5.1, (5.7)); under
    /// the weighted cost `½(𝒫^⊥∇ₓC)ᵀΩ⁻¹(𝒫^⊥∇ₓC)` (docs/math/weighted-cost.md).
    pub perp_cost: f64,
    /// The within-class variance `V` of the split `C = V + B` (slide 14): `½ Σ_i w_i|x_i − x̄_ω(i)|²`.
    /// (Absent in older traces.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_variance: Option<f64>,
    /// The class-mean mismatch `B` of the split `C = V + B`: `½ Σ_j N_j w_j|x̄_j − y_j|²`.
    /// (Absent in older traces.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_mismatch: Option<f64>,
    /// Per class `c`: RMS distance of the outputs `x_j`, `ω(j) = c`, to their class mean.
    pub class_spread: Vec<f64>,
    /// Per class `c`: distance of the class mean of the outputs to the target `y_c`.
    pub class_mean_distance: Vec<f64>,
    /// `θ(s)`, when the scenario records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theta: Option<Vec<f64>>,
    /// `x̲(s)` (sample-major), when the scenario records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<f64>>,
    /// All singular values of `D`, descending, when the scenario records them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub singular_values: Option<Vec<f64>>,
    /// The `s` at which the spectral fields (`rank`, `sigma_max`, `sigma_min`, `lambda_min`,
    /// `singular_values`, and `proj_grad_norm`, `perp_cost` unless `rank_used = QN`) were
    /// computed, when earlier than `s`: a sample on a time budget (the page) reuses the last
    /// spectrum. Absent: computed at `s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectrum_s: Option<f64>,
}

/// What to store besides the scalar diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Keep {
    /// Store `θ`.
    pub theta: bool,
    /// Store `x̲`.
    pub outputs: bool,
    /// Store the singular values of `D`.
    pub singular_values: bool,
}

/// Computes a [`Sample`] at `θ` (evaluating into `ws`), with `𝒫` at `rank_used` (`None`: the
/// numerical rank).
///
/// Errors: non-finite outputs or a failed SVD.
pub fn sample(
    model: &Model,
    ws: &mut Workspace,
    theta: &[f64],
    s: f64,
    rank_rtol: f64,
    rank_used: Option<usize>,
    keep: Keep,
) -> Result<Sample> {
    ws.evaluate(model, theta)?;
    let grad_x = ws.grad_x().to_vec();
    let gnorm = linalg::norm(&grad_x);
    let rho = if gnorm > 0.0 {
        linalg::norm(&ws.grad_theta()) / gnorm
    } else {
        0.0
    };
    let (class_spread, class_mean_distance) = neural_collapse(model, ws.outputs());
    let outputs = keep.outputs.then(|| ws.outputs().to_vec());
    let cost = ws.cost();
    // CholeskyQR2's first Gram `DDᵀ` by the NTK's structured assembly (M: ~10⁷ instead of
    // ~4·10⁸ multiply-adds), where the spectrum takes that route.
    let svd = if OutputSpectrum::takes_gram(model.k(), model.qn()) {
        let mut gram = Vec::new();
        ws.ntk_lower_into(&mut gram)?;
        OutputSpectrum::with_gram(ws.dt(), &gram, rank_rtol, rank_used)?
    } else {
        OutputSpectrum::with_rank(ws.dt(), rank_rtol, rank_used)?
    };
    let proj = svd.project_output(&grad_x);
    let perp: Vec<f64> = grad_x.iter().zip(&proj).map(|(g, p)| g - p).collect();
    let (variance, mismatch) = model.cost_split(ws.outputs());
    Ok(Sample {
        s,
        cost,
        rank: svd.rank(),
        rank_used: Some(svd.used()),
        sigma_max: svd.sigma_max(),
        sigma_min: svd.sigma_min(),
        lambda_min: svd.lambda_min_ntk(),
        rho,
        grad_x_norm: gnorm,
        proj_grad_norm: linalg::norm(&proj),
        perp_cost: model.cost_of_gradient(&perp),
        cost_variance: Some(variance),
        cost_mismatch: Some(mismatch),
        class_spread,
        class_mean_distance,
        theta: keep.theta.then(|| theta.to_vec()),
        outputs,
        singular_values: keep.singular_values.then(|| svd.sigma.clone()),
        spectrum_s: None,
    })
}

/// A [`Sample`] at `θ` whose spectral fields come from `last`, an earlier sample of the same run
/// (see [`Sample::spectrum_s`]): cost, `ρ` (one backprop), `|∇ₓC|`, the neural-collapse
/// statistics and what to keep are computed here, without forming `D`. Where the field uses rank
/// `QN` (`𝒫 = 1`), `|𝒫∇ₓC| = |∇ₓC|` and `perp_cost = 0` hold here exactly; otherwise they are
/// `last`'s.
///
/// Errors: non-finite outputs.
pub fn sample_reusing(
    model: &Model,
    ws: &mut Workspace,
    theta: &[f64],
    s: f64,
    rank_used: Option<usize>,
    keep: Keep,
    last: &Sample,
) -> Result<Sample> {
    ws.forward(model, theta)?;
    let gnorm = linalg::norm(ws.grad_x());
    let rho = if gnorm > 0.0 {
        linalg::norm(&ws.grad_theta_backprop()?) / gnorm
    } else {
        0.0
    };
    let (class_spread, class_mean_distance) = neural_collapse(model, ws.outputs());
    let (variance, mismatch) = model.cost_split(ws.outputs());
    let used = rank_used.or(last.rank_used);
    let full_output = used == Some(model.qn());
    Ok(Sample {
        s,
        cost: ws.cost(),
        rank_used: used,
        rho,
        grad_x_norm: gnorm,
        proj_grad_norm: if full_output {
            gnorm
        } else {
            last.proj_grad_norm
        },
        perp_cost: if full_output { 0.0 } else { last.perp_cost },
        cost_variance: Some(variance),
        cost_mismatch: Some(mismatch),
        class_spread,
        class_mean_distance,
        theta: keep.theta.then(|| theta.to_vec()),
        outputs: keep.outputs.then(|| ws.outputs().to_vec()),
        singular_values: if keep.singular_values {
            last.singular_values.clone()
        } else {
            None
        },
        spectrum_s: Some(last.spectrum_s.unwrap_or(last.s)),
        rank: last.rank,
        sigma_max: last.sigma_max,
        sigma_min: last.sigma_min,
        lambda_min: last.lambda_min,
    })
}

/// Neural-collapse statistics of stacked outputs: per class the RMS spread around the class mean
/// and the distance of the class mean to its target. Under the full-rank adapted flow both decay
/// exactly like `e^{−s/N}` for the mean cost (every `x_j − y_ω(j)` does), like `e^{−2s/N_c}` in
/// class `c` for the weighted one.
pub fn neural_collapse(model: &Model, outputs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let q = model.q();
    let classes = model.data.classes();
    let mut mean = vec![vec![0.0; q]; classes];
    let mut count = vec![0usize; classes];
    for (j, &c) in model.data.labels.iter().enumerate() {
        count[c] += 1;
        for (m, x) in mean[c].iter_mut().zip(&outputs[j * q..(j + 1) * q]) {
            *m += x;
        }
    }
    for (m, &k) in mean.iter_mut().zip(&count) {
        if k > 0 {
            m.iter_mut().for_each(|v| *v /= k as f64);
        }
    }
    let mut spread = vec![0.0; classes];
    for (j, &c) in model.data.labels.iter().enumerate() {
        spread[c] += outputs[j * q..(j + 1) * q]
            .iter()
            .zip(&mean[c])
            .map(|(x, m)| (x - m) * (x - m))
            .sum::<f64>();
    }
    let spread = spread
        .iter()
        .zip(&count)
        .map(|(s, &k)| if k > 0 { (s / k as f64).sqrt() } else { 0.0 })
        .collect();
    let dist = mean
        .iter()
        .zip(&model.data.targets)
        .zip(&count)
        .map(|((m, y), &k)| {
            if k > 0 {
                m.iter()
                    .zip(y)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            } else {
                0.0
            }
        })
        .collect();
    (spread, dist)
}

/// A-priori stopping time (2.41): `s_ε = (N/2) log(C(0)/ε)`, or 0 when `C(0) ≤ ε`.
pub fn predicted_stopping_time(n: usize, c0: f64, eps: f64) -> f64 {
    if c0 <= eps {
        0.0
    } else {
        0.5 * n as f64 * (c0 / eps).ln()
    }
}

/// Where a run ended, in the terms of the papers (the trace's `final.rest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rest {
    /// `C ≤ GLOBAL_COST_RTOL·|y̲|²/(2N)`: the outputs are at their targets to rounding.
    GlobalMinimum,
    /// At rest with `rank_used = min(K, QN)`: `𝒫∇ₓC = 0` with full column rank (Thm 5.1, under).
    RegularRest,
    /// At rest with `rank_used < min(K, QN)`: a rest point of the DAE (4.5) (Lemma 3.2, Thm 4.2).
    RankLossRest,
    /// The field grew without bound as a singular value of `D` went to 0 (or the state stopped
    /// being finite): the flow has no continuation there.
    BlowUp,
    /// Not at rest: ended by `s_max` (or `C ≤ ε`) while moving.
    Moving,
}

impl Rest {
    /// The snake_case name used in traces.
    pub fn name(self) -> &'static str {
        match self {
            Rest::GlobalMinimum => "global_minimum",
            Rest::RegularRest => "regular_rest",
            Rest::RankLossRest => "rank_loss_rest",
            Rest::BlowUp => "blow_up",
            Rest::Moving => "moving",
        }
    }

    /// Whether the flow is at rest there (a global minimum or one of the two rest classes).
    pub fn at_rest(self) -> bool {
        matches!(
            self,
            Rest::GlobalMinimum | Rest::RegularRest | Rest::RankLossRest
        )
    }
}

/// `C ≤ GLOBAL_COST_RTOL·|y̲|²/(2N)` counts as a global minimum: outputs at their targets to
/// about `1e-12` relative, the level of rounding in a forward pass.
pub const GLOBAL_COST_RTOL: f64 = 1e-24;

/// The rest test at one point, at the rank the field used there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestCheck {
    /// Cost.
    pub cost: f64,
    /// Numerical rank of `D` (`σ_i > rank_rtol·σ_max`).
    pub rank: usize,
    /// The rank the field used (the numerical rank for flows without rank decisions).
    pub rank_used: usize,
    /// `min(K, QN)`.
    pub full: usize,
    /// `|∇ₓC|`.
    pub grad_x_norm: f64,
    /// `|𝒫∇ₓC|/|∇ₓC|` with `𝒫` the projector on the `rank_used` leading left singular vectors
    /// (0 when `∇ₓC = 0`). A rest point needs `≤ REST_RTOL`.
    pub proj_ratio: f64,
    /// `|C − (N/2)|𝒫^⊥∇ₓC|²| / C` (0 when `C = 0`); `= proj_ratio²` up to rounding (Thm 5.1's
    /// identity (5.7) holds exactly at rest).
    pub identity_error: f64,
    /// `σ_i/σ_max` of the singular values inside the band `(rank_rtol, RANK_BAND·rank_rtol]`.
    pub band: Vec<f64>,
    /// The class if the point is at rest ([`Rest::GlobalMinimum`], [`Rest::RegularRest`],
    /// [`Rest::RankLossRest`]), else [`Rest::Moving`].
    pub rest: Rest,
}

/// Tests whether `θ` is a rest point of the flow that used rank `rank_used` (`None`: the
/// numerical rank), from the SVD of the exact `D`.
///
/// Errors: non-finite outputs, a failed SVD, [`crate::error::Error::TooLarge`] beyond the dense
/// limit.
pub fn rest_check(
    model: &Model,
    ws: &mut Workspace,
    theta: &[f64],
    rank_rtol: f64,
    rank_used: Option<usize>,
) -> Result<RestCheck> {
    ws.evaluate(model, theta)?;
    let g = ws.grad_x().to_vec();
    let cost = ws.cost();
    let svd = ws.svd(rank_rtol)?;
    let rank = svd.rank();
    let full = svd.sigma.len();
    let rank_used = rank_used.unwrap_or(rank).min(full);
    let gnorm = linalg::norm(&g);
    let proj = svd.project_output_rank(&g, rank_used);
    let pnorm = linalg::norm(&proj);
    let proj_ratio = if gnorm > 0.0 { pnorm / gnorm } else { 0.0 };
    let perp: Vec<f64> = g.iter().zip(&proj).map(|(a, b)| a - b).collect();
    let n = model.n() as f64;
    let perp_cost = model.cost_of_gradient(&perp);
    let identity_error = if cost > 0.0 {
        (cost - perp_cost).abs() / cost
    } else {
        0.0
    };
    let max = svd.sigma_max();
    let band = svd
        .sigma
        .iter()
        .filter(|&&s| s > rank_rtol * max && s <= linalg::RANK_BAND * rank_rtol * max)
        .map(|s| s / max)
        .collect();
    let y2: f64 = model.y.iter().map(|v| v * v).sum();
    let global = cost <= GLOBAL_COST_RTOL * (y2 / (2.0 * n)).max(1.0);
    let rest = if global || gnorm == 0.0 {
        Rest::GlobalMinimum
    } else if proj_ratio <= crate::math::rank::REST_RTOL {
        if rank_used >= full {
            Rest::RegularRest
        } else {
            Rest::RankLossRest
        }
    } else {
        Rest::Moving
    };
    Ok(RestCheck {
        cost,
        rank,
        rank_used,
        full,
        grad_x_norm: gnorm,
        proj_ratio,
        identity_error,
        band,
        rest,
    })
}

/// The cost along the adapted flow at full rank `QN` as a sum of exponentials,
/// `C(s) = Σ_k a_k e^{−r_k s}`, from the outputs at `s = 0`: one term `(C(0), 2/N)` for the mean
/// cost (Thm 2.1 (2.6)); for the weighted cost one term `(C_j(0), 4/N_j)` per class with samples,
/// `C_j = (1/N_j)Σ_{ω(i)=j}|x_i − y_j|²` (docs/math/weighted-cost.md: each class has its own clock).
/// Exact only while `rank D = QN` along the orbit.
pub fn adapted_cost_terms(model: &Model, outputs: &[f64]) -> Vec<(f64, f64)> {
    use crate::math::model::CostSpec;
    match model.cost_spec() {
        CostSpec::Mean => vec![(model.cost_of_outputs(outputs), 2.0 / model.n() as f64)],
        CostSpec::Weighted => {
            let q = model.q();
            let counts = model.data.class_counts();
            let mut terms = vec![0.0; counts.len()];
            for (i, &c) in model.data.labels.iter().enumerate() {
                let e: f64 = outputs[i * q..(i + 1) * q]
                    .iter()
                    .zip(&model.y[i * q..(i + 1) * q])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                terms[c] += e / counts[c] as f64;
            }
            terms
                .into_iter()
                .zip(&counts)
                .filter(|(_, &k)| k > 0)
                .map(|(a, &k)| (a, 4.0 / k as f64))
                .collect()
        }
    }
}

/// The first `s` with `Σ_k a_k e^{−r_k s} ≤ ε` (all `a_k ≥ 0`, `r_k > 0`): 0 when the sum starts at
/// or below `ε`, else the root of the strictly decreasing convex function, by Newton's method from
/// the lower bound `log(F(0)/ε)/r_max`, where `F ≥ ε`: each tangent of a convex decreasing function
/// meets `ε` before the graph does, so the iterates increase monotonically to the root
/// (docs/math/weighted-cost.md, "The stopping time"). Exact up to rounding; for one term it is
/// `log(a/ε)/r`, (2.41) for the mean cost.
pub fn stopping_time_of_terms(terms: &[(f64, f64)], eps: f64) -> f64 {
    let f = |s: f64| terms.iter().map(|(a, r)| a * (-r * s).exp()).sum::<f64>();
    let df = |s: f64| {
        -terms
            .iter()
            .map(|(a, r)| a * r * (-r * s).exp())
            .sum::<f64>()
    };
    let total = f(0.0);
    if total <= eps || eps.is_nan() || eps <= 0.0 {
        return 0.0;
    }
    let r_max = terms
        .iter()
        .filter(|(a, _)| *a > 0.0)
        .map(|(_, r)| *r)
        .fold(0.0f64, f64::max);
    if r_max <= 0.0 {
        return f64::INFINITY;
    }
    let mut s = (total / eps).ln() / r_max;
    for _ in 0..200 {
        let (v, d) = (f(s), df(s));
        if v - eps <= 4.0 * f64::EPSILON * eps || d >= 0.0 {
            break;
        }
        let next = s - (v - eps) / d;
        if next <= s {
            break;
        }
        s = next;
    }
    s
}
