//! The constructive panel of the [`Board`] (the 2024 and 2023 constructions of Chen & Muñoz
//! Ewald beside the flows), the classification of a clicked input, and the split `C = V + B`
//! (slide 14) of every flow's cost.

use super::panels::readout;
use super::{fmt_g, fmt_s, Board, Readout};
use crate::app::inspect::{ClassifyReport, ConstructionReport};
use crate::error::Result;
use crate::math::construct::{Coordinates, Theorem};
use crate::math::model::CostSpec;
use serde::{Deserialize, Serialize};

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
    /// `(N/2)|𝒫⊥∇ₓC|²` (weighted cost: `½(𝒫⊥∇ₓC)ᵀΩ⁻¹(𝒫⊥∇ₓC)`) as shown.
    pub perp: String,
    /// `rank D`.
    pub rank: String,
    /// `rank 𝒫⊥ = QN − rank D`.
    pub perp_rank: String,
    /// `running`, `stationary`, … (`constructed` for the construction).
    pub status: String,
}

/// One collapse layer in the panel's table: the numbers that describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutRow {
    /// Hidden layer (1-based).
    pub layer: usize,
    /// The class it collapses (1-based, as on the page).
    pub class: usize,
    /// The cut in the input space, `a·x = β`, as shown.
    pub cut: String,
    /// The opening `ν`, as shown.
    pub nu: String,
    /// The apex in layer coordinates, as shown.
    pub apex: String,
    /// The margin, as shown.
    pub margin: String,
}

/// The 2023 family's slider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MuSlider {
    /// Lower end `μ_lo` of the closed range inside `I`.
    pub lo: f64,
    /// Upper end `μ_hi`.
    pub hi: f64,
    /// The value shown (the mean of `μ̲`; the slider sets every `μ_j` to it).
    pub value: f64,
    /// `μ̲` and `I`, in words.
    pub text: String,
}

/// The constructive-minimizer panel's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstructPanel {
    /// Whether the construction lives on the loaded network.
    pub fits: bool,
    /// The hidden widths of the network the construction was built on, as `net=` writes them
    /// (for the button that loads it).
    pub hidden: String,
    /// Architecture and regime, in words.
    pub architecture: String,
    /// `separable` (2024) or `clustered` (2023).
    pub theorem: String,
    /// Whether the 2023 theorem's hypotheses hold on the data (the page offers it then).
    pub clustered_available: bool,
    /// Which theorem, and its hypotheses as checked on these data.
    pub hypotheses: String,
    /// What the comparison shows.
    pub verdict: String,
    /// The numbers.
    pub readouts: Vec<Readout>,
    /// The construction and every flow, side by side.
    pub rows: Vec<CompareRow>,
    /// One row per collapse layer: the numbers that describe the minimizer.
    pub cuts: Vec<CutRow>,
    /// What the rows count, in words (slide 15's `Q(M + 2)`).
    pub numbers: String,
    /// The 2023 family's slider, when the family is shown.
    pub mu: Option<MuSlider>,
    /// The classification of the clicked input, or how to get one.
    pub probe: String,
    /// Positions of the layer stepper: `stages` data stages and the output layer.
    pub positions: usize,
    /// The current position (rounded).
    pub position: usize,
    /// What the layer view shows at the current position.
    pub stage: String,
}

/// One flow's split of its cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitRow {
    /// Legend text.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// `C`, as shown.
    pub cost: String,
    /// The within-class variance `V`, as shown.
    pub variance: String,
    /// The class-mean mismatch `B`, as shown.
    pub mismatch: String,
    /// `|V + B − C|/C`, as shown.
    pub check: String,
}

/// The split `C = V + B` under the neural-collapse figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitPanel {
    /// One row per flow, at its latest sample.
    pub rows: Vec<SplitRow>,
    /// What the two terms are for the chosen cost.
    pub verdict: String,
}

fn vec_text(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| fmt_g(*x)).collect();
    format!("({})", parts.join(", "))
}

impl Board {
    /// Takes a `classified` message's report; `false` when it belongs to an older load.
    ///
    /// Errors: none today (the report is plain data); kept fallible like the other `apply_*`.
    pub fn apply_classification(&mut self, report: ClassifyReport) -> Result<bool> {
        if self.info.as_ref().is_none_or(|i| i.epoch != report.epoch) {
            return Ok(false);
        }
        self.classified = Some(report.result);
        Ok(true)
    }

    /// The input `x ∈ R^M` under pixel `(px, py)` of the layer view, when it shows the inputs
    /// themselves (stage 0, layer coordinates = input coordinates): its first two coordinates
    /// from the pixel, the others (when `M > 2`) from the mean of the data.
    pub fn probe_input(&self, px: f64, py: f64) -> Option<Vec<f64>> {
        let (r, _) = self.construction.as_ref()?;
        if r.stages == 0 || r.coordinates != Coordinates::Input || self.stage.round() != 0.0 {
            return None;
        }
        let (a, b) = self
            .geom(crate::app::view::View::Construct)?
            .to_data(px, py)?;
        let data = self.data.as_ref()?;
        let m = r.m;
        let n = data.inputs.len().max(1) as f64;
        let mut x: Vec<f64> = (0..m)
            .map(|k| data.inputs.iter().map(|p| p[k]).sum::<f64>() / n)
            .collect();
        x[0] = a;
        if m > 1 {
            x[1] = b;
        }
        Some(x)
    }

    /// The clicked input's position in the layer view at stage `l` (or its output at the output
    /// stage), when one was classified.
    pub(super) fn probe_at(&self, l: usize, tau: f64) -> Option<(f64, f64)> {
        let c = self.classified.as_ref()?;
        let (r, _) = self.construction.as_ref()?;
        if l >= r.stages {
            let (a, b) = self.pair;
            let o = &c.output;
            return Some((
                o[a.min(o.len() - 1)],
                if o.len() >= 2 {
                    o[b.min(o.len() - 1)]
                } else {
                    0.0
                },
            ));
        }
        let at = |k: usize| {
            let p = &c.stages[k.min(c.stages.len() - 1)];
            (p[0], p.get(1).copied().unwrap_or(0.0))
        };
        let (p, q) = (at(l), at(l + 1));
        let t = if l + 1 < r.stages { tau } else { 0.0 };
        Some((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)))
    }

    fn theorem_text(&self, r: &ConstructionReport) -> String {
        let hidden = &r.needed[1..r.needed.len() - 1];
        match (r.theorem, &r.family) {
            (Theorem::Clustered, Some(f)) => {
                let g = &f.geometry;
                let hyp = if g.slides_hypothesis {
                    format!(
                        "δ₀ = {} < 1/4 (the slides' hypothesis, slide 8)",
                        fmt_g(g.delta0)
                    )
                } else {
                    format!(
                        "δ₀ = {} ≥ 1/4: the slides' hypothesis (slide 8) fails, but δ₀ < 1/(2h) = \
                         {}, which is all the project's construction needs",
                        fmt_g(g.delta0),
                        fmt_g(0.5 / g.h)
                    )
                };
                format!(
                    "Chen–Muñoz Ewald 2023 (slides 8–14), checked here: M = M_ℓ = Q = {}, L = {} ≥ \
                     Q hidden layers, ReLU; the class means are linearly independent (condition \
                     number of X̄₀^red {}); {hyp}. The minimizers form a degenerate family θ(μ̲), \
                     μ̲ ∈ I^Q with I = ({}, {}): the hidden weights stay, the biases and the output \
                     layer move, and C stays 0.",
                    r.q,
                    hidden.len(),
                    fmt_s(g.condition),
                    fmt_g(g.interval[0]),
                    fmt_g(g.interval[1])
                )
            }
            _ => {
                let order: Vec<String> = r.cuts.iter().map(|c| (c.class + 1).to_string()).collect();
                let coords = match r.coordinates {
                    Coordinates::Input => format!(
                        "the inputs themselves{}",
                        if r.layer_dim > r.m {
                            format!(" (zero-padded to R^{})", r.layer_dim)
                        } else {
                            String::new()
                        }
                    ),
                    Coordinates::Cuts => format!(
                        "the positions along the {} data cuts, z_ℓ = a_ℓ·x (R^{})",
                        r.classes.saturating_sub(1),
                        r.layer_dim
                    ),
                };
                format!(
                    "Chen–Muñoz Ewald 2024 (slide 15), checked here: the data are sequentially \
                     linearly separable (collapse order {}); L = {} ≥ Q_c = {} hidden layers of \
                     widths {:?}, each ≥ Q_c − 1 = {}; ReLU. Layer coordinates: {coords}.{}",
                    order.join(" → "),
                    hidden.len(),
                    r.classes,
                    hidden,
                    r.classes.saturating_sub(1).max(1),
                    match &r.clustered_error {
                        Some(e) => format!(" (The 2023 theorem does not apply: {e}.)"),
                        None => String::new(),
                    }
                )
            }
        }
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
                "The construction lives on the loaded network: ReLU, widths {:?}, K = {} {} \
                 QN = {}.",
                r.needed,
                r.k,
                rel(r.k, r.qn),
                r.qn
            )
        } else {
            format!(
                "The loaded network ({} with widths {:?}) cannot carry it: {}. It is built on \
                 ReLU widths {:?} (K = {} {} QN = {}), so the flows below move in another \
                 parameter space; use that architecture to compare them on the same one.",
                r.activation,
                r.current,
                r.misfit.as_deref().unwrap_or("another architecture"),
                r.needed,
                r.k,
                rel(r.k, r.qn),
                r.qn
            )
        };
        let perp_name = if info.cost == CostSpec::Weighted {
            "C_w"
        } else {
            "C"
        };
        let mut readouts = vec![
            readout(
                "k",
                "K (construction's network)",
                r.k.to_string(),
                r.k as f64,
            ),
            readout("qn", "QN", r.qn.to_string(), r.qn as f64),
        ];
        let mut rows = vec![];
        if let Some(c) = r.cost {
            readouts.push(readout(
                "construct-cost",
                &format!("{perp_name}(θ_c) ({} cost)", r.cost_kind),
                format!("{c:.6}"),
                c,
            ));
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
        let position = {
            let positions = self.layer_positions();
            (self.stage.round() as usize).min(positions.saturating_sub(1))
        };
        if let Some(f) = &r.family {
            let g = &f.geometry;
            readouts.push(readout(
                "delta0",
                "δ₀ (barycentric deviation of the data)",
                format!(
                    "{} ({} 1/4)",
                    fmt_g(g.delta0),
                    if g.slides_hypothesis { "<" } else { "≥" }
                ),
                g.delta0,
            ));
            let stage = position.min(f.delta_p.len().saturating_sub(1));
            readouts.push(readout(
                "delta-p",
                &format!("δ_P after {stage} collapse layer(s)"),
                f.delta_p
                    .get(stage)
                    .copied()
                    .flatten()
                    .map_or("undefined (Z̄^red singular)".into(), fmt_g),
                f.delta_p.get(stage).copied().flatten().unwrap_or(f64::NAN),
            ));
            readouts.push(readout("nu", "ν (opening, barycentric)", fmt_g(g.nu), g.nu));
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
                    rank: p.rank_used.unwrap_or(p.rank).to_string(),
                    perp_rank: (info.qn - p.rank_used.unwrap_or(p.rank).min(info.qn)).to_string(),
                    status: match f.rest {
                        Some(rest) => format!("{} ({})", f.status.name(), rest.name()),
                        None => f.status.name().into(),
                    },
                });
            }
        }
        let verdict = match (&r.error, r.cost) {
            (Some(e), _) => format!("No construction: {e}"),
            (None, Some(c)) => {
                let mut v = format!(
                    "θ_c collapses one class per hidden layer and sends the {} collapse points to \
                     y1…y{}: {perp_name}(θ_c) = {} by a forward pass (rounding), with K = {} {} QN \
                     = {}: a global minimizer, and a rest point of every flow (∇ₓC = 0).",
                    r.classes,
                    r.classes,
                    fmt_s(c),
                    r.k,
                    rel(r.k, r.qn),
                    r.qn
                );
                v.push_str(&Board::theta_c_rank_sentence(r));
                if r.fits && info.c0 <= 1e-12 {
                    v.push_str(&format!(
                        " The flows start at θ_c itself (this scenario's init is the \
                         construction, C(0) = {}) and stay there. Start them at random (preset \
                         non-approximability) to compare.",
                        fmt_s(info.c0)
                    ));
                } else if r.fits {
                    let sentences: Vec<String> = (0..self.lanes.len())
                        .filter_map(|i| self.rest_sentence(i, r))
                        .collect();
                    if !sentences.is_empty() {
                        v.push(' ');
                        v.push_str(&sentences.join(" "));
                        v.push_str(
                            " 2311.07065 (Cor 1.6): generically, gradient descent does not \
                             converge to zero-cost minimizers like θ_c — a statement about \
                             generic data, not about this run.",
                        );
                    }
                }
                v
            }
            (None, None) => "No construction.".into(),
        };
        let positions = self.layer_positions();
        let stage = if positions == 0 {
            String::new()
        } else if position + 1 == positions {
            let extra = if r.extra_layers.is_empty() {
                String::new()
            } else {
                format!(" (after {})", r.extra_layers.join("; "))
            };
            format!(
                "output layer ({} of {}): x_j = W h_j + b maps each collapse point to its \
                 target{extra}",
                position + 1,
                positions
            )
        } else if position == 0 {
            format!(
                "stage 0 of {} (the inputs in layer coordinates){}",
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
                 its cut (margin {}, ν = {})",
                r.stages - 1,
                cut.class + 1,
                fmt_g(cut.margin),
                fmt_g(cut.lambda)
            )
        };
        let cuts: Vec<CutRow> = r
            .cuts
            .iter()
            .enumerate()
            .map(|(l, c)| {
                let a: Vec<f64> = c.input_normal.clone();
                CutRow {
                    layer: l + 1,
                    class: c.class + 1,
                    cut: if a.iter().all(|v| *v == 0.0) {
                        "none (cut off from the apexes only)".into()
                    } else {
                        format!("{}·x = {}", vec_text(&a), fmt_g(c.input_offset))
                    },
                    nu: fmt_g(c.lambda),
                    apex: vec_text(&c.apex),
                    margin: fmt_g(c.margin),
                }
            })
            .collect();
        let numbers = if r.cuts.is_empty() {
            String::new()
        } else {
            match r.theorem {
                Theorem::Clustered => format!(
                    "Each row: the cut a·x = β (M + 1 = {} numbers) and ν; the weights of all {} \
                     layers come from the class means and one ν, the biases from μ̲ (slide 11 \
                     counts Q³ + Q² = {} weights).",
                    r.m + 1,
                    r.classes,
                    r.q.pow(3) + r.q.pow(2)
                ),
                Theorem::Separable => format!(
                    "Each row: the cut a·x = β in the input space (M + 1 = {} numbers) and the \
                     opening ν — M + 2 numbers per class, Q_c(M + 2) = {} in all (slide 15's \
                     count); the apexes, placed on the cuts by the construction, are listed \
                     beside them in layer coordinates.",
                    r.m + 1,
                    r.classes * (r.m + 2)
                ),
            }
        };
        let mu = r.family.as_ref().map(|f| {
            let g = &f.geometry;
            MuSlider {
                lo: g.range[0],
                hi: g.range[1],
                value: f.mu.iter().sum::<f64>() / f.mu.len().max(1) as f64,
                text: format!(
                    "μ̲ = {} ∈ [{}, {}]^Q ⊂ I^Q",
                    vec_text(&f.mu),
                    fmt_g(g.range[0]),
                    fmt_g(g.range[1])
                ),
            }
        });
        let probe = match &self.classified {
            Some(c) => {
                let d: Vec<String> = c
                    .distances
                    .iter()
                    .enumerate()
                    .map(|(j, v)| format!("|x^(L+1) − y{}| = {}", j + 1, fmt_g(*v)))
                    .collect();
                let metric = c.metric.as_ref().map_or(String::new(), |m| {
                    format!(
                        " The metric of slide 13 gives d(τ(x), x̄_{{0,{}}}[μ]) = {} (equal to the \
                         distance above: the output layer is Y(X̄₀^red[μ̲])⁻¹).",
                        c.class + 1,
                        fmt_g(m[c.class])
                    )
                });
                format!(
                    "x = {} ↦ output {}: matched to y{}, d = {} ({}).{metric}",
                    vec_text(&c.input),
                    vec_text(&c.output),
                    c.class + 1,
                    fmt_g(c.distances[c.class]),
                    d.join(", ")
                )
            }
            None if r.coordinates == Coordinates::Input && r.stages > 0 => {
                "Click the input plane (stage 0) to classify a new input: the target its output \
                 is nearest to, and the distance d."
                    .into()
            }
            None => String::new(),
        };
        Some(ConstructPanel {
            fits: r.fits,
            hidden: hidden.join(","),
            architecture,
            theorem: r.theorem.name().into(),
            clustered_available: r.clustered_error.is_none(),
            hypotheses: if r.error.is_some() {
                String::new()
            } else {
                self.theorem_text(r)
            },
            verdict,
            readouts,
            rows,
            cuts,
            numbers,
            mu,
            probe,
            positions,
            position,
            stage,
        })
    }

    /// The split of every flow's cost at its latest sample (slide 14), once samples arrived.
    pub fn split_panel(&self) -> Option<SplitPanel> {
        let info = self.info.as_ref()?;
        let mut rows = vec![];
        for (i, lane) in self.lanes.iter().enumerate() {
            let Some(p) = lane.samples.last() else {
                continue;
            };
            let (Some(v), Some(b)) = (p.cost_variance, p.cost_mismatch) else {
                continue;
            };
            let check = if p.cost > 0.0 {
                (v + b - p.cost).abs() / p.cost
            } else {
                0.0
            };
            rows.push(SplitRow {
                label: self.lane_label(i),
                color: info.lanes[i].color.clone(),
                cost: fmt_s(p.cost),
                variance: fmt_s(v),
                mismatch: fmt_s(b),
                check: fmt_s(check),
            });
        }
        let verdict = match info.cost {
            CostSpec::Weighted => {
                "Weighted cost C_w = Σ_j (1/N_j) Σ_i |x_i − y_j|² (slide 4) = V + B: \
                 V = Σ_j (1/N_j) Σ_i |x_i − x̄_j|², the within-class variance, which the hidden \
                 layers of the constructions remove, plus B = Σ_j |x̄_j − y_j|², the class-mean \
                 mismatch, which the output layer removes (slide 14)."
                    .to_string()
            }
            CostSpec::Mean => {
                "Mean cost C = |x̲ − y̲|²/(2N) = V + B: V = (1/2N) Σ_i |x_i − x̄_ω(i)|², \
                 the within-class variance, plus B = Σ_j (N_j/2N) |x̄_j − y_j|², the class-mean \
                 mismatch (slide 14's split with the paper's weights)."
                    .to_string()
            }
        };
        Some(SplitPanel { rows, verdict })
    }
}
