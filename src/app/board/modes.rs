//! The eigenmode view of the [`Board`]: the history of the worker's `modes` messages, the figure
//! (one panel per flow in the fixed basis at `θ₀`, one for the moving basis of the followed flow)
//! and the sentence under it that says what is exact and what is linearized
//! (docs/math/eigenmodes.md).

use super::panels::{readout, Readout};
use super::{fmt_e, fmt_g, Board, MAX_CURVE_POINTS};
use crate::app::protocol::{ModesHeader, MovingPoint};
use crate::error::Result;
use crate::math::eigenmodes::{linearized_factor, log_slope, Linearized};
use crate::plot::decimate;
use crate::plot::eigenmodes::{mode_color, EigenmodesFigure, ModeCurve, ModesPanel};
use crate::run::lanes::FlowChoice;
use serde::{Deserialize, Serialize};

/// Modes whose `|a_i(0)|` is below this fraction of `|x̲(0) − y̲|` are left out of the slope
/// readouts: the integration error across `e(0)`, a fraction `r⊥` of `|e|`, bends a mode's fitted
/// slope by about `2r⊥|e|/(|a_i|·Δs)` (docs/math/eigenmodes.md). On `over-smooth` `r⊥ ≈ 3e-8`
/// over `Δs ≈ 155` (tests/eigenmodes.rs): at `|a_i| ≥ 1e-3|e|` that stays below `1e-9`.
pub const SLOPE_FLOOR: f64 = 1e-3;
/// Curves are drawn down to this fraction of `|x̲(0) − y̲|` (below it: rounding noise of modes
/// that start at zero).
pub const DRAW_FLOOR: f64 = 1e-12;

/// What the board keeps of the eigenmode view.
#[derive(Debug, Clone)]
pub(super) struct ModesHistory {
    header: ModesHeader,
    points: Vec<Vec<(f64, Vec<f64>)>>,
    moving: Vec<MovingPoint>,
}

/// The eigenmode view's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModesText {
    /// What is exact and what is linearized, for the run shown.
    pub verdict: String,
    /// Each flow's fitted slopes (`slope-min-<flow>`, `slope-max-<flow>`), `−1/N`, the kernel
    /// drift of the followed flow.
    pub readouts: Vec<Readout>,
}

/// The network linearized at `θ₀` for a flow, when its prediction is drawn (the adapted flow is
/// exact instead; the homotopy's needs `𝒫 ≡ 1`, i.e. full rank at `θ₀`).
fn linearized(choice: FlowChoice, full_rank: bool) -> Option<Linearized> {
    match choice {
        FlowChoice::Standard => Some(Linearized::Standard),
        FlowChoice::Gd { h } => Some(Linearized::Gd { h }),
        FlowChoice::Homotopy { alpha } if full_rank => Some(Linearized::Homotopy { alpha }),
        _ => None,
    }
}

impl Board {
    /// Takes a `modes` message. Returns `false` (and changes nothing) when it belongs to an older
    /// load; a `fresh` header starts the history over.
    ///
    /// Errors: a bulk that does not match the header.
    pub fn apply_modes(&mut self, header: ModesHeader, bulk: &[f64]) -> Result<bool> {
        if self.info.as_ref().is_none_or(|i| i.epoch != header.epoch) {
            return Ok(false);
        }
        let data = header.decode(bulk)?;
        let hist = match self.modes.as_mut() {
            Some(h) if !header.fresh => h,
            _ => self.modes.insert(ModesHistory {
                header: header.clone(),
                points: vec![vec![]; header.new_points.len()],
                moving: vec![],
            }),
        };
        for (p, new) in hist.points.iter_mut().zip(data.points) {
            p.extend(new);
        }
        hist.moving.extend(data.moving);
        hist.header = header;
        Ok(true)
    }

    /// Forgets the eigenmode view (the page turned it off).
    pub fn clear_modes(&mut self) {
        self.modes = None;
    }

    /// `|a_i(0)|` of every shown mode of lane `i` (its first point), and `|e(0)|`.
    fn modes_start(&self, i: usize) -> Option<(&[f64], f64)> {
        let m = self.modes.as_ref()?;
        let first = m.points.get(i)?.first()?;
        Some((&first.1, m.header.e0_norm))
    }

    /// Fitted slopes of `ln|a_i|` over lane `i`'s points for the modes with
    /// `|a_i(0)| ≥ SLOPE_FLOOR·|e(0)|`.
    pub fn mode_slopes(&self, i: usize) -> Vec<f64> {
        let (Some(m), Some((a0, e0))) = (self.modes.as_ref(), self.modes_start(i)) else {
            return vec![];
        };
        let pts = &m.points[i];
        (0..a0.len())
            .filter(|&k| a0[k].abs() >= SLOPE_FLOOR * e0)
            .filter_map(|k| log_slope(&pts.iter().map(|(s, a)| (*s, a[k])).collect::<Vec<_>>()))
            .collect()
    }

    /// The eigenmode figure.
    pub fn eigenmodes_figure(&self) -> EigenmodesFigure {
        let mut fig = EigenmodesFigure {
            s_max: self.s_axis(),
            ..EigenmodesFigure::default()
        };
        let (Some(info), Some(m)) = (&self.info, &self.modes) else {
            fig.note = "the eigenmodes arrive from the worker".into();
            return fig;
        };
        let h = &m.header;
        if let Some(note) = &h.note {
            fig.note = note.clone();
            return fig;
        }
        fig.floor = DRAW_FLOOR * h.e0_norm;
        let count = h.modes.len();
        let n = h.n;
        let s_end = fig.s_max;
        let grid: Vec<f64> = (0..=80).map(|k| s_end * k as f64 / 80.0).collect();
        for (i, pts) in m.points.iter().enumerate() {
            let choice = info.lanes[i].choice;
            let adapted = choice == FlowChoice::Adapted;
            let full = self.lanes[i].samples.iter().all(|p| p.rank == info.qn);
            let lin = linearized(choice, h.rank0 == h.qn);
            let mut panel = ModesPanel {
                title: match (adapted, full, lin.is_some()) {
                    (true, true, _) => format!(
                        "{}: fixed basis at θ0; grey e^(−s/N)|e(0)|",
                        self.lane_label(i)
                    ),
                    (true, false, _) => {
                        format!("{}: fixed basis at θ0 (rank D < QN)", self.lane_label(i))
                    }
                    (_, _, true) => format!(
                        "{}: fixed basis at θ0; dashed: linearized at θ0",
                        self.lane_label(i)
                    ),
                    _ => format!("{}: fixed basis at θ0", self.lane_label(i)),
                },
                ..ModesPanel::default()
            };
            for (k, &lambda) in h.lambdas.iter().enumerate() {
                let series: Vec<(f64, f64)> = pts.iter().map(|(s, a)| (*s, a[k].abs())).collect();
                let a0 = pts.first().map_or(0.0, |p| p.1[k].abs());
                panel.curves.push(ModeCurve {
                    color: mode_color(k, count),
                    points: decimate(&series, MAX_CURVE_POINTS / 2),
                    predicted: lin.map_or(vec![], |l| {
                        grid.iter()
                            .map(|&s| (s, a0 * linearized_factor(l, lambda, n, s).abs()))
                            .collect()
                    }),
                });
            }
            if adapted && full {
                panel.reference = grid
                    .iter()
                    .map(|&s| (s, h.e0_norm * (-s / n as f64).exp()))
                    .collect();
            }
            fig.panels.push(panel);
        }
        if h.moving_note.is_none() && !m.moving.is_empty() {
            let i = h.lane.min(self.lanes.len().saturating_sub(1));
            let mut panel = ModesPanel {
                title: format!(
                    "{}: moving basis u_i(s); grey |e(s)| = (Σ a_i²)^½",
                    self.lane_label(i)
                ),
                ..ModesPanel::default()
            };
            for k in 0..count {
                let series: Vec<(f64, f64)> =
                    m.moving.iter().map(|p| (p.s, p.a[k].abs())).collect();
                panel.curves.push(ModeCurve {
                    color: mode_color(k, count),
                    points: decimate(&series, MAX_CURVE_POINTS / 2),
                    predicted: vec![],
                });
            }
            panel.reference = m.moving.iter().map(|p| (p.s, p.e_norm)).collect();
            fig.panels.push(panel);
        }
        fig
    }

    /// The sentence under the eigenmode figure and its readouts (`None` before the view's first
    /// message).
    pub fn eigenmodes_text(&self) -> Option<ModesText> {
        let info = self.info.as_ref()?;
        let m = self.modes.as_ref()?;
        let h = &m.header;
        if let Some(note) = &h.note {
            return Some(ModesText {
                verdict: note.clone(),
                readouts: vec![],
            });
        }
        let n = h.n as f64;
        let shown = if h.modes.len() == h.qn {
            format!("all QN = {} modes", h.qn)
        } else {
            format!(
                "the {} largest and {} smallest of QN = {} eigenvalues",
                h.modes.len() / 2,
                h.modes.len() - h.modes.len() / 2,
                h.qn
            )
        };
        let mut parts = vec![format!(
            "|a_i(s)| = |⟨u_i, x̲(s) − y̲⟩| along the eigenvectors u_i of the NTK DDᵀ at θ0 ({shown}; \
             colour from the largest eigenvalue, dark, to the smallest, yellow; rank D[θ0] = {} of \
             QN = {}, λmax = {}).",
            h.rank0,
            h.qn,
            fmt_e(h.lambda_max)
        )];
        let mut readouts = vec![readout(
            "minus-one-over-n",
            "−1/N",
            fmt_g(-1.0 / n),
            -1.0 / n,
        )];
        for (i, lane) in info.lanes.iter().enumerate() {
            let label = self.lane_label(i);
            let key = lane.choice.key();
            let slopes = self.mode_slopes(i);
            let (lo, hi) = slopes
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            if !slopes.is_empty() {
                readouts.push(readout(
                    &format!("slope-min-{key}"),
                    &format!("{label}: least fitted slope"),
                    format!("{lo:.7}"),
                    lo,
                ));
                readouts.push(readout(
                    &format!("slope-max-{key}"),
                    &format!("{label}: largest fitted slope"),
                    format!("{hi:.7}"),
                    hi,
                ));
            }
            let measured = if slopes.is_empty() {
                "no slope measured yet".to_string()
            } else {
                format!(
                    "fitted slopes of ln|a_i| over the {} modes with |a_i(0)| ≥ {SLOPE_FLOOR:.0e}·|e(0)|: \
                     {lo:.7} … {hi:.7}",
                    slopes.len()
                )
            };
            let samples = &self.lanes[i].samples;
            let min_rank = samples.iter().map(|p| p.rank).min();
            parts.push(match (lane.choice, min_rank) {
                (FlowChoice::Adapted, Some(r)) if r == info.qn => format!(
                    "{label}: rank D = QN = {} at every recorded sample, so x̲ − y̲ = e^(−s/N)(x̲(0) − y̲) \
                     (Thm 2.1, (2.7)) and every curve falls as e^(−s/N)|a_i(0)| — exact, no \
                     linearization, whatever λ_i; {measured} (−1/N = {}).",
                    info.qn,
                    fmt_g(-1.0 / n)
                ),
                (FlowChoice::Adapted, Some(r)) => format!(
                    "{label}: rank D fell to {r} < QN = {} along the orbit: the adapted flow is the \
                     DAE ∂ₛx̲ = −𝒫∇ₓC and no uniform rate is claimed (modes in range 𝒫 would fall as \
                     e^(−s/N) and the others stay frozen only if 𝒫 were constant); {measured}.",
                    info.qn
                ),
                (FlowChoice::Adapted, None) => format!("{label}: no sample yet."),
                (choice, _) => {
                    let what = match linearized(choice, h.rank0 == h.qn) {
                        Some(Linearized::Standard) => {
                            "the dashed curves e^(−λ_i s/N)|a_i(0)| are the network linearized at θ0 \
                             (D frozen at D[θ0]): a prediction of lazy training, not of this flow, \
                             whose kernel moves"
                        }
                        Some(Linearized::Gd { .. }) => {
                            "the dashed curves (1 − hλ_i/N)^(s/h)|a_i(0)| are gradient descent on \
                             the network linearized at θ0: a prediction, not a statement about \
                             this run"
                        }
                        Some(Linearized::Homotopy { .. }) => {
                            "the dashed curves e^(−((1−α)λ_i + α)s/N)|a_i(0)| are the network \
                             linearized at θ0 with rank D = QN: a prediction, not a statement \
                             about this run"
                        }
                        None => "no linearized prediction is drawn (rank D[θ0] < QN)",
                    };
                    format!("{label}: each mode at its own rate; {what}; {measured}.")
                }
            });
        }
        if let Some(note) = &h.moving_note {
            parts.push(format!("Moving basis: {note}."));
        } else if let Some(last) = m.moving.last() {
            let i = h.lane.min(self.lanes.len().saturating_sub(1));
            parts.push(format!(
                "{}, moving basis u_i(s) (the NTK's eigenvectors at θ(s), every sample spacing): only \
                 Σ a_i² = |x̲ − y̲|² is exact; single curves are not exponentials because the \
                 eigenvectors turn. Kernel drift ‖K(s) − K0‖/‖K0‖ = {} at s = {}.",
                self.lane_label(i),
                fmt_e(last.drift),
                fmt_g(last.s)
            ));
            readouts.push(readout(
                "kernel-drift",
                &format!("{}: ‖K(s) − K0‖/‖K0‖", self.lane_label(i)),
                fmt_e(last.drift),
                last.drift,
            ));
        }
        Some(ModesText {
            verdict: parts.join(" "),
            readouts,
        })
    }

    /// The readout under pixel `(px, py)` of the eigenmode figure: the nearest point's `s` and
    /// every mode's `|a_i|` range there.
    pub(super) fn hover_modes(&self, px: f64, py: f64) -> Option<String> {
        let m = self.modes.as_ref()?;
        let geoms = &self.modes_geoms;
        let (k, (x, _)) = geoms
            .iter()
            .enumerate()
            .find_map(|(k, g)| g.to_data(px, py).map(|p| (k, p)))?;
        let (label, pts): (String, Vec<(f64, &[f64])>) = if k < m.points.len() {
            (
                self.lane_label(k),
                m.points[k].iter().map(|(s, a)| (*s, &a[..])).collect(),
            )
        } else {
            (
                format!("{} (moving basis)", self.lane_label(m.header.lane)),
                m.moving.iter().map(|p| (p.s, &p.a[..])).collect(),
            )
        };
        let (s, a) = pts
            .into_iter()
            .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))?;
        let big = a.first().map_or(f64::NAN, |v| v.abs());
        let small = a.last().map_or(f64::NAN, |v| v.abs());
        Some(format!(
            "s = {} · {label}: |a| of the largest mode {}, of the smallest {}",
            fmt_g(s),
            fmt_e(big),
            fmt_e(small)
        ))
    }
}
