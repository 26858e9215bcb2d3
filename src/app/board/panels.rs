//! The panels of the [`Board`] beside the figures: the critical submanifold, the construction,
//! the homotopy family and the reparametrization, each as readouts and a verdict in words.

use super::{alpha_label, fmt_e, fmt_g, fmt_s, Board, FIELDS_VANISH};
use crate::math::critical::{CurvatureMethod, PointKind, Verdict};
use crate::math::diagnostics::Rest;
use crate::plot::alpha_color;
use crate::plot::css;
use crate::run::session::Status;
use serde::{Deserialize, Serialize};

/// One number of a panel, with its label and its text as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readout {
    /// Stable key (the page's `data-testid` is `readout-<key>`).
    pub key: String,
    /// What it is.
    pub label: String,
    /// The value as shown.
    pub text: String,
    /// The value itself (NaN when not a number).
    pub value: f64,
}

pub(super) fn readout(key: &str, label: &str, text: String, value: f64) -> Readout {
    Readout {
        key: key.into(),
        label: label.into(),
        text,
        value,
    }
}

/// The critical-submanifold panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalPanel {
    /// The lane the panel describes.
    pub lane: usize,
    /// Heading.
    pub title: String,
    /// What the point is, in the paper's terms.
    pub verdict: String,
    /// The numbers.
    pub readouts: Vec<Readout>,
    /// What an escape did or would do here.
    pub escape: String,
    /// What the slice shows.
    pub slice: String,
    /// Whether the Escape button applies: the lane is not moving, `∇ₓC ≠ 0`, the Hessian curves
    /// down along a normal, and no escape was attempted from this point yet.
    pub can_escape: bool,
}

/// One row of the constructive panel's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// Which network or flow.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// `C`, as shown (fixed six decimals: the construction's `C` reads as 0).
    pub cost: String,
    /// `C` itself.
    pub cost_value: f64,
    /// `(N/2)|𝒫⊥∇ₓC|²` as shown.
    pub perp: String,
    /// `rank D`.
    pub rank: String,
    /// `rank 𝒫⊥ = QN − rank D`.
    pub perp_rank: String,
    /// `running`, `stationary`, … (`constructed` for the construction).
    pub status: String,
}

/// The constructive-minimizer panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstructPanel {
    /// Whether the loaded network is the constructive architecture.
    pub fits: bool,
    /// The widths the construction needs, as `net=` writes them (hidden layers only).
    pub hidden: String,
    /// Architecture and regime, in words.
    pub architecture: String,
    /// What the comparison shows (Thm 5.1).
    pub verdict: String,
    /// The numbers.
    pub readouts: Vec<Readout>,
    /// The construction and every flow, side by side.
    pub rows: Vec<CompareRow>,
    /// Positions of the layer stepper: `stages` data stages and the output layer.
    pub positions: usize,
    /// The current position (rounded).
    pub position: usize,
    /// What the layer view shows at the current position.
    pub stage: String,
}

/// One member of the homotopy family's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyRow {
    /// `α`.
    pub alpha: f64,
    /// Legend text.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// `s`, as shown.
    pub s: String,
    /// `C`, as shown.
    pub cost: String,
    /// Status name.
    pub status: String,
    /// `max_β |V_β(θ_end)| / |V_β(θ₀)|` at its end point, as shown (empty while it runs).
    pub fields: String,
}

/// The homotopy panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyPanel {
    /// One row per `α`.
    pub rows: Vec<FamilyRow>,
    /// What the end points show.
    pub verdict: String,
}

/// The reparametrization panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReparamPanel {
    /// Per flow: the largest relative distance from the straight interpolation so far.
    pub readouts: Vec<Readout>,
    /// What it shows.
    pub verdict: String,
}

impl Board {
    /// The critical panel's text, once a report has arrived.
    pub fn critical_panel(&self) -> Option<CriticalPanel> {
        let (r, costs) = self.critical.as_ref()?;
        let info = self.info.as_ref()?;
        let label = self.lane_label(r.lane);
        let full = r.k.min(r.qn);
        let ratio = if r.grad_x_norm > 0.0 {
            r.proj_grad_norm / r.grad_x_norm
        } else {
            0.0
        };
        let rank_used = r.rank_used.unwrap_or(r.rank);
        let p_used = r.rest.as_ref().map_or(ratio, |c| c.proj_ratio);
        let band = r
            .rest
            .as_ref()
            .filter(|c| !c.band.is_empty())
            .map_or(String::new(), |c| {
                format!(
                    "; σ/σ_max in the band ({:.0e}, {:.0e}]: {}",
                    r.rank_rtol,
                    1e3 * r.rank_rtol,
                    c.band
                        .iter()
                        .map(|b| format!("{b:.1e}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        let ranks = if rank_used == r.rank {
            format!("rank D = {}", r.rank)
        } else {
            format!(
                "the field used rank {rank_used} (numerical rank {}{band})",
                r.rank
            )
        };
        let kernel = r
            .hessian
            .as_ref()
            .and_then(|h| h.kernel_dim)
            .map_or("not computed".to_string(), |d| d.to_string());
        let set = match &r.hessian {
            Some(h) if h.constant_rank => format!(
                "rank D is constant near θ* (Thm 4.2's hypothesis, checked at 16 nearby points): the \
                 equilibria form M_crit of dimension K − r = {} (dim ker H = {kernel})",
                r.dimension
            ),
            Some(_) => format!(
                "rank D is not constant near θ* (Thm 4.2's hypothesis fails): the paper's K − r = {} \
                 does not describe the equilibria here; they lie in a set whose tangent space is in \
                 ker H, of dimension at most dim ker H = {kernel}",
                r.dimension
            ),
            None => String::new(),
        };
        let rest = r.rest.as_ref().map(|c| c.rest);
        let verdict = match rest {
            Some(Rest::RankLossRest) => format!(
                "θ* is a rest point of the DAE (4.5): {ranks} < min(K, QN) = {full}, and \
                 |𝒫∇ₓC|/|∇ₓC| = {} ≤ 1e-8 at that rank while ∇ₓC ≠ 0, so the flows are at rest at \
                 C = {} = (N/2)|𝒫⊥∇ₓC|² > 0 (Lemma 3.2, Thm 4.2). {set}.",
                fmt_s(p_used),
                fmt_g(r.cost)
            ),
            Some(Rest::RegularRest) => format!(
                "θ* is a rest point of Thm 5.1: the field used full rank {rank_used} = K < QN = {}, \
                 𝒫∇ₓC = 0 to {} and C = (N/2)|𝒫⊥∇ₓC|² = {}. No rank loss: there is no critical \
                 submanifold here.",
                r.qn,
                fmt_s(p_used),
                fmt_g(r.cost)
            ),
            Some(Rest::GlobalMinimum) => {
                "C is at the level of rounding: the outputs are at their targets, a global minimum."
                    .into()
            }
            _ => match r.kind {
                PointKind::Trapping => format!(
                    "θ is not at rest: rank D = QN = {} but ρ = |Dᵀ∇ₓC|/|∇ₓC| = {} is small, a \
                     trapping region (Prop 3.1) where the standard flow crawls; the adapted flow \
                     moves the outputs at full speed.",
                    r.qn,
                    fmt_s(r.rho)
                ),
                _ => format!(
                    "θ is not at rest: |𝒫∇ₓC|/|∇ₓC| = {} at rank {rank_used} ({ranks}; a rest needs \
                     ≤ 1e-8), so the flow still lowers C. Second-order statements apply only at \
                     rest points.",
                    fmt_s(p_used)
                ),
            },
        };
        let mut readouts = vec![
            readout(
                "rank",
                "r = rank D",
                if rank_used == r.rank {
                    format!("{} of QN = {}", r.rank, r.qn)
                } else {
                    format!("{} of QN = {} (the field used {rank_used})", r.rank, r.qn)
                },
                r.rank as f64,
            ),
            readout(
                "dimension",
                "K − r (the paper's dim M_crit)",
                if r.normal_rank == r.rank {
                    format!("{} − {} = {}", r.k, r.rank, r.dimension)
                } else {
                    format!(
                        "{} − {} = {} (the normals have rank {} < r)",
                        r.k, r.normal_rank, r.dimension, r.normal_rank
                    )
                },
                r.dimension as f64,
            ),
            readout("proj", "|𝒫∇ₓC|", fmt_s(r.proj_grad_norm), r.proj_grad_norm),
            readout("grad", "|∇ₓC|", fmt_s(r.grad_x_norm), r.grad_x_norm),
            readout("cost", "C(θ*)", fmt_e(r.cost), r.cost),
        ];
        if let Some(h) = &r.hessian {
            readouts.push(readout(
                "hessian",
                "λ_min of the full Hessian",
                format!(
                    "{} ({}, {} negative, max|λ| {})",
                    fmt_s(h.hessian_min_eig),
                    match h.hessian_method {
                        CurvatureMethod::Dense => "dense eigensolve",
                        CurvatureMethod::Lanczos => "Lanczos: K > 2000",
                    },
                    h.negative_dim.map_or("?".into(), |d| d.to_string()),
                    fmt_s(h.hessian_scale)
                ),
                h.hessian_min_eig,
            ));
            readouts.push(readout(
                "kernel",
                "dim ker H",
                format!(
                    "{kernel} (|λ| ≤ {:.0e}·max|λ|), beside K − r = {}",
                    h.kernel_rtol, r.dimension
                ),
                h.kernel_dim.map_or(f64::NAN, |d| d as f64),
            ));
            readouts.push(readout(
                "constant_rank",
                "rank D constant near θ* (Thm 4.2)",
                if h.constant_rank { "yes" } else { "no" }.into(),
                if h.constant_rank { 1.0 } else { 0.0 },
            ));
        }
        if let Some(l) = r.rayleigh_min {
            readouts.push(readout(
                "rayleigh",
                "least Rayleigh quotient on span{∇θ g_α} (4.15)–(4.17)",
                format!(
                    "{} ({} negative of {})",
                    fmt_s(l),
                    r.rayleigh_negative,
                    r.normal_rank
                ),
                l,
            ));
        }
        let escape = if let Some(e) = &r.escape {
            format!(
                "Escape at s = {}: C {} → {} (ratio {:.4}) along the eigenvector of the Hessian's \
                 least eigenvalue (the step's Rayleigh quotient {}), step {} after {} trial(s); the \
                 arrow on the slice runs from θ* (circle) to θ₀' (triangle) at a = {:.3}.",
                fmt_g(e.s),
                fmt_e(e.cost_before),
                fmt_e(e.cost_after),
                e.cost_after / e.cost_before,
                fmt_s(e.rayleigh),
                fmt_g(e.step),
                e.trials,
                e.end[0]
            )
        } else if let Some(m) = &r.no_escape {
            format!("No escape: {m}")
        } else {
            match &r.hessian {
                Some(h) => match h.verdict {
                    Verdict::NegativeCurvature => format!(
                        "The Hessian has λ_min = {} < 0 ({} descent direction(s)): a step along its \
                         eigenvector lowers C by ½λt² at second order{}. Escape takes it.",
                        fmt_s(h.hessian_min_eig),
                        h.negative_dim.map_or("?".into(), |d| d.to_string()),
                        h.normal_rayleigh.map_or(String::new(), |q| format!(
                            " (the paper's normal-bundle superposition reaches {})",
                            fmt_s(q)
                        ))
                    ),
                    Verdict::LocalMinimum => format!(
                        "The Hessian is positive definite (λ_min = {}): a strict local minimum, \
                         no escape.",
                        fmt_s(h.hessian_min_eig)
                    ),
                    Verdict::MorseBottMinimum => format!(
                        "A local minimum, not strict (Morse–Bott): ker H is exactly M_crit's \
                         tangent (dim {kernel} = K − r) and H is positive definite across it; no \
                         direction lowers C."
                    ),
                    _ => format!(
                        "Undecided at second order: the Hessian is positive semidefinite with \
                         λ_min = {}, zero within {:.0e}·max|λ| (dim ker H = {kernel}); higher \
                         orders decide.",
                        fmt_s(h.hessian_min_eig),
                        h.kernel_rtol
                    ),
                },
                None => "Not a rest point: second-order escapes apply only where the flow rests."
                    .into(),
            }
        };
        let (lo, hi) = costs
            .iter()
            .filter(|c| c.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &c| {
                (a.min(c), b.max(c))
            });
        let slice = format!(
            "C(θ* + a·u + b·w) on a {n}×{n} grid, |a|, |b| ≤ {}: u = {}, w = {}. Blue: C < C(θ*) \
             (down to {}), vermillion: C > C(θ*) (up to {}), white: C = C(θ*).",
            fmt_g(r.slice.half),
            r.slice.u,
            r.slice.w,
            fmt_e(lo),
            fmt_e(hi),
            n = r.slice.size
        );
        let moving = self
            .lane_frame(r.lane)
            .is_some_and(|f| f.status == Status::Running && f.s > r.s_star);
        let _ = info;
        let what = match rest {
            Some(Rest::RankLossRest) => "Critical submanifold",
            Some(Rest::RegularRest) => "Rest point (Thm 5.1)",
            Some(Rest::GlobalMinimum) => "Global minimum",
            _ => "Not a rest point",
        };
        Some(CriticalPanel {
            lane: r.lane,
            title: format!("{what}: {label} at s = {}", fmt_g(r.s_star)),
            verdict,
            readouts,
            escape,
            slice,
            // Only at a rest point where the Hessian curves down and no attempt has been made
            // here yet: elsewhere the core would answer no_escape, which the panel already says.
            can_escape: !moving
                && r.escape.is_none()
                && r.no_escape.is_none()
                && r.hessian
                    .as_ref()
                    .is_some_and(|h| h.verdict == Verdict::NegativeCurvature),
        })
    }

    /// The constructive panel's text, once a construction has arrived.
    pub fn construct_panel(&self) -> Option<ConstructPanel> {
        let (r, _) = self.construction.as_ref()?;
        let info = self.info.as_ref()?;
        let hidden: Vec<String> = r.needed[1..r.needed.len() - 1]
            .iter()
            .map(|w| w.to_string())
            .collect();
        let rel = |k: usize, qn: usize| match k.cmp(&qn) {
            std::cmp::Ordering::Less => "<",
            std::cmp::Ordering::Equal => "=",
            std::cmp::Ordering::Greater => ">",
        };
        let architecture = if r.fits {
            format!(
                "The loaded network is the constructive architecture: ReLU, widths {:?}, K = {} {} \
                 QN = {}.",
                r.needed,
                r.k,
                rel(r.k, r.qn),
                r.qn
            )
        } else {
            format!(
                "The construction needs ReLU and widths {:?} (K = {} {} QN = {}); the loaded \
                 network is {} with widths {:?}, so the flows below move in another parameter \
                 space. Use the constructive architecture to compare them on the same one.",
                r.needed,
                r.k,
                rel(r.k, r.qn),
                r.qn,
                r.activation,
                r.current
            )
        };
        let mut readouts = vec![
            readout("k", "K (constructive network)", r.k.to_string(), r.k as f64),
            readout("qn", "QN", r.qn.to_string(), r.qn as f64),
        ];
        let mut rows = vec![];
        if let Some(c) = r.cost {
            readouts.push(readout("construct-cost", "C(θ_c)", format!("{c:.6}"), c));
            let rank = r.rank.unwrap_or(0);
            readouts.push(readout(
                "construct-rank",
                "rank D[θ_c]",
                format!("{rank} (rank 𝒫⊥ = {})", r.qn - rank.min(r.qn)),
                rank as f64,
            ));
            rows.push(CompareRow {
                label: "constructive θ_c".into(),
                color: "#000000".into(),
                cost: format!("{c:.6}"),
                cost_value: c,
                perp: format!("{c:.6}"),
                rank: rank.to_string(),
                perp_rank: (r.qn - rank.min(r.qn)).to_string(),
                status: "constructed".into(),
            });
        }
        if r.fits {
            for (i, lane) in self.lanes.iter().enumerate() {
                let (Some(f), Some(p)) = (&lane.frame, lane.samples.last()) else {
                    continue;
                };
                rows.push(CompareRow {
                    label: self.lane_label(i),
                    color: info.lanes[i].color.clone(),
                    cost: format!("{:.6}", f.cost),
                    cost_value: f.cost,
                    perp: format!("{:.6}", p.perp_cost),
                    rank: p.rank.to_string(),
                    perp_rank: (info.qn - p.rank.min(info.qn)).to_string(),
                    status: f.status.name().into(),
                });
            }
        }
        let verdict = match (&r.error, r.cost) {
            (Some(e), _) => format!("No construction: {e}"),
            (None, Some(c)) => {
                let floor = rows
                    .iter()
                    .skip(1)
                    .map(|row| row.cost_value)
                    .fold(f64::INFINITY, f64::min);
                let mut v = format!(
                    "θ_c collapses one class per hidden layer and sends the {} collapse points to \
                     y1…y{}: C(θ_c) = {} (rounding), with K = {} {} QN = {}.",
                    r.classes,
                    r.classes,
                    fmt_s(c),
                    r.k,
                    rel(r.k, r.qn),
                    r.qn
                );
                if floor.is_finite() && info.c0 <= 1e-12 {
                    v.push_str(&format!(
                        " The flows start at θ_c itself (this scenario's init is the \
                         construction, C(0) = {}) and stay there: a zero-cost minimizer is a \
                         rest point of every flow. Start them at random (preset \
                         non-approximability) to see them stall above it.",
                        fmt_s(info.c0)
                    ));
                } else if floor.is_finite() && floor <= 1e-9 {
                    v.push_str(&format!(
                        " A flow has reached C = {} here: Thm 5.1 says that underparametrized rest \
                         points generically have C > 0, not that every orbit avoids zero.",
                        fmt_s(floor)
                    ));
                } else if floor.is_finite() {
                    v.push_str(&format!(
                        " The flows from a random θ₀ on the same network stay above it (lowest C \
                         now {floor:.6}): where an underparametrized flow comes to rest, \
                         𝒫∇ₓC = 0 and C = (N/2)|𝒫⊥∇ₓC|² > 0 (Thm 5.1), so zero-cost minimizers \
                         like θ_c are generically not limits of gradient descent."
                    ));
                }
                v
            }
            (None, None) => "No construction.".into(),
        };
        let positions = self.layer_positions();
        let position = (self.stage.round() as usize).min(positions.saturating_sub(1));
        let stage = if positions == 0 {
            String::new()
        } else if position + 1 == positions {
            format!(
                "output layer ({} of {}): x_j = W h_j + b maps each collapse point to its target",
                position + 1,
                positions
            )
        } else if position == 0 {
            format!(
                "stage 0 of {} (the inputs){}",
                r.stages - 1,
                r.cuts.first().map_or(String::new(), |c| format!(
                    "; the dashed cut of layer 1 separates class {}",
                    c.class + 1
                ))
            )
        } else {
            let cut = &r.cuts[position - 1];
            format!(
                "stage {position} of {}: hidden layer {position} collapsed class {} to the apex of \
                 its cut (margin {}, λ = {})",
                r.stages - 1,
                cut.class + 1,
                fmt_g(cut.margin),
                fmt_g(cut.lambda)
            )
        };
        Some(ConstructPanel {
            fits: r.fits,
            hidden: hidden.join(","),
            architecture,
            verdict,
            readouts,
            rows,
            positions,
            position,
            stage,
        })
    }

    /// The homotopy family's table, once the family has reported.
    pub fn family_panel(&self) -> Option<FamilyPanel> {
        let h = self.family.as_ref()?.header.as_ref()?;
        let mut rows = vec![];
        let mut rest_max = 0.0f64;
        let mut rest: Vec<(f64, f64)> = vec![];
        for m in &h.members {
            let rel = m.end_norms.as_ref().map(|e| {
                e.iter()
                    .zip(&h.norms0)
                    .map(|(a, b)| if *b > 0.0 { a / b } else { *a })
                    .fold(0.0f64, f64::max)
            });
            if m.status == Status::Stationary {
                if let Some(v) = rel {
                    rest_max = rest_max.max(v);
                    rest.push((m.alpha, m.cost));
                }
            }
            rows.push(FamilyRow {
                alpha: m.alpha,
                label: alpha_label(m.alpha),
                color: css(alpha_color(m.alpha)),
                s: fmt_g(m.s),
                cost: fmt_e(m.cost),
                status: m.status.name().into(),
                fields: rel.map_or(String::new(), fmt_s),
            });
        }
        let verdict = if rest.is_empty() {
            format!(
                "The family {}. When a member comes to rest, the last column gives max over β of \
                 |V_β|/|V_β(θ₀)| at its rest point: every homotopy field \
                 V_β = −(1−β)Dᵀ∇ₓC − βD⁺∇ₓC vanishes where 𝒫∇ₓC = 0, so all flows share their \
                 equilibria.",
                h.target.map_or_else(
                    || "runs on to its own ends (every lane has ended)".to_string(),
                    |t| format!("follows the lanes (s = {})", fmt_g(t))
                )
            )
        } else {
            let alphas: Vec<String> = rest.iter().map(|(a, _)| format!("{a}")).collect();
            let costs: Vec<String> = rest.iter().map(|(_, c)| format!("{c:.7}")).collect();
            let betas = h
                .members
                .iter()
                .map(|m| format!("{}", m.alpha))
                .collect::<Vec<_>>()
                .join(", ");
            if rest_max <= FIELDS_VANISH {
                format!(
                    "At the rest points of α = {} (C = {}), every homotopy field vanishes: \
                     max over β ∈ {{{betas}}} of |V_β|/|V_β(θ₀)| ≤ {}. V_β = (1−β)V₀ + βV₁ and \
                     V₀ = −Dᵀ𝒫∇ₓC, V₁ = −D⁺𝒫∇ₓC are zero exactly where 𝒫∇ₓC = 0: the \
                     equilibria coincide; only the paths to them differ.",
                    alphas.join(", "),
                    costs.join(", "),
                    fmt_s(rest_max)
                )
            } else {
                format!(
                    "The members α = {} stopped as stationary (C = {}), but there max over \
                     β ∈ {{{betas}}} of |V_β|/|V_β(θ₀)| is {}: not every field is small at these \
                     end points (the stop is on the speed of the outputs, μ; rank changes can \
                     stop a flow short of an equilibrium).",
                    alphas.join(", "),
                    costs.join(", "),
                    fmt_s(rest_max)
                )
            }
        };
        Some(FamilyPanel { rows, verdict })
    }

    /// The reparametrization panel: per flow the largest relative distance of `x̲(t)` from the
    /// straight interpolation over the recorded trail points.
    pub fn reparam_panel(&self) -> Option<ReparamPanel> {
        let info = self.info.as_ref()?;
        let mut readouts = vec![];
        let mut adapted = None;
        for (i, lane) in self.lanes.iter().enumerate() {
            let worst = lane
                .trail
                .iter()
                .map(|(s, o)| self.off_line(*s, o))
                .fold(0.0f64, f64::max);
            let key = info.lanes[i].choice.key();
            readouts.push(readout(
                &format!("offline-{key}"),
                &self.lane_label(i),
                fmt_s(worst),
                worst,
            ));
            if info.lanes[i].choice == crate::run::lanes::FlowChoice::Adapted {
                let full = lane.samples.iter().all(|p| p.rank == info.qn);
                adapted = Some((worst, full));
            }
        }
        let samples = if info.trail.len() == info.n {
            format!("all N = {} samples", info.n)
        } else {
            format!("{} of the N = {} samples", info.trail.len(), info.n)
        };
        let verdict = match adapted {
            Some((w, true)) => format!(
                "With t = 1 − e^(−s/N), the full-rank adapted flow gives x̲(t) = (1−t)x̲(0) + t·y̲: \
                 the straight interpolation. Measured over {samples}: the adapted flow stays \
                 within {} of it (relative to |x̲(0) − y̲|: integration error); the readouts give \
                 every flow's largest distance so far.",
                fmt_s(w)
            ),
            Some((w, false)) => format!(
                "rank D < QN = {} along the adapted orbit: x̲(t) = (1−t)x̲(0) + t·y̲ needs full rank \
                 QN and does not apply here (measured distance {} over {samples}).",
                info.qn,
                fmt_s(w)
            ),
            None => format!(
                "With t = 1 − e^(−s/N), the full-rank adapted flow would run on the straight \
                 interpolation (1−t)x̲(0) + t·y̲; add the adapted flow to compare ({samples})."
            ),
        };
        Some(ReparamPanel { readouts, verdict })
    }

    /// The paper's rank formula beside the measured rank of `D[θ₀]`, in words, when the
    /// scenario has one.
    pub fn rank_formula_text(&self) -> Option<String> {
        let f = self.info.as_ref()?.rank_formula.as_ref()?;
        Some(if f.agrees {
            format!(
                "rank D[θ₀]: measured {} = the paper's {} = {}.",
                f.measured, f.formula, f.paper
            )
        } else {
            format!(
                "rank D[θ₀]: measured {}, the paper's {} gives {}; they differ, and the \
                 measurement stands: {}",
                f.measured,
                f.formula,
                f.paper,
                f.note.as_deref().unwrap_or("no explanation given")
            )
        })
    }
}
