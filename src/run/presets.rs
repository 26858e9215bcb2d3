//! Named scenarios that show the paper's phenomena, shared by the CLI (`pullback presets`) and the
//! page's preset menu.

use crate::math::critical::{RankFormula, TrapSpec};
use crate::math::data::DataSpec;
use crate::math::flow::FlowSpec;
use crate::math::integrate::IntegratorSpec;
use crate::math::model::CostSpec;
use crate::math::net::{Activation, Mlp};
use crate::run::scenario::{InitSpec, NetSpec, RecordSpec, Scenario, StopSpec};

/// A named scenario with a one-line summary.
#[derive(Debug, Clone)]
pub struct Preset {
    /// Identifier used on the command line and in URLs.
    pub name: &'static str,
    /// One line saying what it shows.
    pub summary: &'static str,
    /// The story in a few words, for the page's preset cards (the summary has the numbers).
    pub story: &'static str,
    /// The scenario.
    pub scenario: Scenario,
}

fn rk45(rtol: f64, atol: f64) -> IntegratorSpec {
    IntegratorSpec::Rk45 {
        rtol,
        atol,
        h_max: None,
    }
}

fn base(name: &str, data: DataSpec, widths: &[usize], activation: Activation) -> Scenario {
    Scenario {
        name: Some(name.into()),
        seed: 1,
        data,
        net: NetSpec {
            widths: widths.to_vec(),
            activation,
        },
        init: InitSpec::Gaussian { scale: 1.0 },
        flow: FlowSpec::Adapted,
        cost: Default::default(),
        integrator: rk45(1e-8, 1e-10),
        stop: StopSpec::default(),
        rank_rtol: crate::linalg::DEFAULT_RANK_RTOL,
        record: RecordSpec::default(),
        escape: Default::default(),
        trap: None,
        rank_formula: None,
    }
}

/// The overparametrized smooth network of Thm 2.1: cost falls exactly like `e^{−2s/N}`.
fn over_smooth() -> Scenario {
    let mut sc = base(
        "over-smooth",
        DataSpec::Moons { n: 16, noise: 0.08 },
        &[2, 16, 16, 2],
        Activation::Tanh,
    );
    sc.stop = StopSpec {
        s_max: Some(160.0),
        cost_below: Some(1e-8),
        ..StopSpec::default()
    };
    sc.record.outputs = true;
    sc
}

/// An underparametrized network (`K < QN`): the adapted (Gauss–Newton) flow comes to rest at
/// `C = (N/2)|𝒫^⊥∇ₓC|² > 0` (Thm 5.1).
fn under_stationary() -> Scenario {
    // Heavily overlapping classes: the best L² fit is a smooth function that finite weights
    // reach, so the orbit keeps rank D = K (with separable data the Gauss–Newton flow drives
    // units into saturation instead, where D loses rank).
    let mut sc = base(
        "under-stationary",
        DataSpec::Blobs {
            n: 40,
            classes: 3,
            noise: 1.0,
        },
        &[2, 2, 3],
        Activation::Tanh,
    );
    sc.seed = 2;
    sc.init = InitSpec::Gaussian { scale: 0.5 };
    sc.integrator = rk45(1e-10, 1e-12);
    sc.stop = StopSpec {
        s_max: Some(4000.0),
        stationary_below: Some(1e-10),
        ..StopSpec::default()
    };
    sc
}

/// `K = QN`: the over- and underparametrized adapted flows are the same field `−D⁻¹∇ₓC` (Section 6).
fn borderline() -> Scenario {
    let mut sc = base(
        "borderline",
        DataSpec::Blobs {
            n: 6,
            classes: 2,
            noise: 0.4,
        },
        &[2, 2, 2],
        Activation::Tanh,
    );
    // Seed 3 keeps D invertible over the run (σ_min/σ_max ≥ 4e-8); other seeds drive a unit
    // into saturation, where the square D turns singular.
    sc.seed = 3;
    sc.stop = StopSpec {
        s_max: Some(60.0),
        cost_below: Some(1e-8),
        ..StopSpec::default()
    };
    sc.record.outputs = true;
    sc
}

/// A linear network `Wx + b` with `N ≤ M` independent inputs: `rank D = QN` (Section 2.1.1).
fn linear_rank() -> Scenario {
    let mut sc = base(
        "linear-rank",
        DataSpec::Clusters {
            n: 4,
            classes: 2,
            dim: 6,
            separation: 3.0,
            noise: 0.5,
        },
        &[6, 2],
        Activation::Identity,
    );
    sc.stop = StopSpec {
        s_max: Some(80.0),
        cost_below: Some(1e-10),
        ..StopSpec::default()
    };
    sc.record.singular_values = true;
    sc.rank_formula = Some(RankFormula {
        formula: "QN (Section 2.1.1, N = 4 ≤ M = 6 independent inputs, Q = 2)".into(),
        paper: 8,
        note: None,
    });
    sc
}

/// A two-layer linear network with rank-one `W₁`, `W₂` (Section 2.1.1). The paper bounds
/// `rank D ≤ r₁N + r₂Q = 7`; the measured rank is 8.
///
/// Why (checked in `tests/critical.rs` over many widths and ranks): the `W₂` and `b₂` blocks span
/// `R^Q ⊗ span{rows of H, 1}` with `H = W₁X + b₁1ᵀ`, of dimension `Q(r₁ + 1)` — the output bias
/// adds the constant direction for every output — and the `W₁`, `b₁` blocks add
/// `range W₂ ⊗ R^N`, of which `range W₂ ⊗ span{H, 1}` is already counted. So with `N ≤ M`
/// independent inputs `rank D = r₂N + (Q − r₂)·min(r₁ + 1, N)`: 8 here. It equals the paper's
/// `r₁N + r₂Q` only in special cases (e.g. `r₁ = r₂ = 1`, `Q = 2`).
fn two_layer_linear() -> Scenario {
    let widths = [5, 4, 3];
    let net = Mlp::new(&widths, Activation::Identity).expect("valid widths");
    let mut theta = vec![0.0; net.k()];
    let (u, v) = ([1.0, 2.0, -1.0, 0.5], [1.0, 0.5, -0.5, 0.25, -1.0]);
    let (w1, b1) = net.layer_offsets(1);
    for a in 0..4 {
        for b in 0..5 {
            theta[w1 + a * 5 + b] = u[a] * v[b];
        }
    }
    theta[b1..b1 + 4].copy_from_slice(&[0.1, -0.2, 0.3, 0.05]);
    let (a2, c2) = ([1.0, -1.0, 0.5], [0.5, 1.0, 2.0, -1.0]);
    let (w2, b2) = net.layer_offsets(2);
    for a in 0..3 {
        for b in 0..4 {
            theta[w2 + a * 4 + b] = a2[a] * c2[b];
        }
    }
    theta[b2..b2 + 3].copy_from_slice(&[0.2, 0.0, -0.1]);
    let mut sc = base(
        "two-layer-linear",
        DataSpec::Custom {
            inputs: vec![
                vec![1.0, 0.0, 0.0, 0.5, 0.0],
                vec![0.0, 1.0, 0.0, -0.5, 0.5],
                vec![0.0, 0.0, 1.0, 1.0, 0.0],
                vec![0.5, 0.0, 0.0, 0.0, 1.0],
            ],
            labels: vec![0, 1, 2, 0],
            targets: None,
        },
        &widths,
        Activation::Identity,
    );
    sc.init = InitSpec::Explicit { theta };
    // The standard flow: it raises the ranks of W₁, W₂ smoothly. The adapted field is singular
    // here (rank D = 8 < QN = 12, and every singular value that leaves 0 enters as 1/σ), so RK45
    // collapses its step at s ≈ 1e-8 with `step_size`.
    sc.flow = FlowSpec::Standard;
    sc.stop = StopSpec {
        s_max: Some(40.0),
        ..StopSpec::default()
    };
    sc.record.singular_values = true;
    sc.rank_formula = Some(RankFormula {
        formula: "r1 N + r2 Q (Section 2.1.1, r1 = r2 = 1, N = 4, Q = 3)".into(),
        paper: 7,
        note: Some(
            "measured r2 N + (Q − r2)(r1 + 1) = 8: the output bias b2 adds the constant \
             direction for every output, so the W2 and b2 blocks span Q(r1 + 1) dimensions, and \
             the W1 block adds r2 (N − r1 − 1) more"
                .into(),
        ),
    });
    sc
}

/// A shallow ReLU network where two of four inputs switch every hidden unit off ((2.39)). The
/// paper gives `rank D = JQ = 4`; the measured rank is `JQ + Q = 6`: the rows of the inactive
/// samples are not zero but `[0 … 0 | 1_Q]` (the output bias still moves their outputs), and
/// they add `Q` dimensions. Inside this activation region `rank D` is constant (Thm 4.2's
/// hypothesis holds); the adapted flow rests where the active samples are fitted and the
/// inactive ones sit at the mean of their targets, `C = 1/8`. There the Hessian on the normal
/// bundle is positive semidefinite (every second derivative through a dead ReLU vanishes), so the
/// automatic escape reports `no_escape`: this submanifold is transversally minimal.
fn shallow_relu_inactive() -> Scenario {
    let widths = [4, 4, 2];
    let net = Mlp::new(&widths, Activation::Relu).expect("valid widths");
    let mut theta = vec![0.0; net.k()];
    let (w1, b1) = net.layer_offsets(1);
    for a in 0..4 {
        theta[w1 + a * 4 + a] = 1.0;
        theta[b1 + a] = 0.5;
    }
    let (w2, _) = net.layer_offsets(2);
    let w2v = [0.7, -0.3, 0.2, 0.5, -0.4, 0.6, 0.3, -0.2];
    theta[w2..w2 + 8].copy_from_slice(&w2v);
    let mut sc = base(
        "shallow-relu-inactive",
        DataSpec::Custom {
            inputs: vec![
                vec![1.0, 0.0, 0.0, 0.0],
                vec![0.0, 1.0, 0.0, 0.0],
                vec![-1.0, -1.0, -1.0, -1.0],
                vec![-2.0, -1.0, -1.5, -1.0],
            ],
            labels: vec![0, 1, 0, 1],
            targets: None,
        },
        &widths,
        Activation::Relu,
    );
    sc.init = InitSpec::Explicit { theta };
    // Once only the slow rate 1/N is left, RK45 steps at its stability limit and the residual
    // hovers at the integrator tolerance: μ levels off near 1e-8 (rtol 1e-8), so rest is 1e-7.
    sc.stop = StopSpec {
        s_max: Some(160.0),
        stationary_below: Some(1e-7),
        ..StopSpec::default()
    };
    sc.record.singular_values = true;
    sc.escape.auto = true;
    sc.rank_formula = Some(RankFormula {
        formula: "J Q (2.39), J = 2 active samples, Q = 2".into(),
        paper: 4,
        note: Some(
            "measured J Q + Q = 6: the rows of the N − J inactive samples are [0 … 0 | 1_Q], not \
             zero — the output bias b2 still moves their outputs — and add Q dimensions"
                .into(),
        ),
    });
    sc
}

/// XOR on the corners of `[−1, 1]²` with targets `x₁x₂` (`N = 4`, `Q = 1`, `QN = 4`) and a
/// `[2, 2, 1]` softplus network (`K = 9`) started at `W₁ = w1` (row-major), `b₁ = (0, 0.2)`,
/// `W₂ = (w2, w2)`, `b₂ = 0.5`, under the standard flow.
fn xor_softplus(name: &str, w1: [f64; 4], w2: f64) -> Scenario {
    let widths = [2, 2, 1];
    let net = Mlp::new(&widths, Activation::Softplus).expect("valid widths");
    let mut theta = vec![0.0; net.k()];
    let (o1, b1) = net.layer_offsets(1);
    theta[o1..o1 + 4].copy_from_slice(&w1);
    theta[b1 + 1] = 0.2;
    let (o2, b2) = net.layer_offsets(2);
    theta[o2] = w2;
    theta[o2 + 1] = w2;
    theta[b2] = 0.5;
    let mut sc = base(
        name,
        DataSpec::Custom {
            // Samples with equal targets are adjacent: with W₁ = 0 the sums Σ_j g_j x_j that
            // drive W₁ then cancel exactly in floating point, so W₁ stays exactly 0.
            inputs: vec![
                vec![1.0, 1.0],
                vec![-1.0, -1.0],
                vec![1.0, -1.0],
                vec![-1.0, 1.0],
            ],
            labels: vec![0, 0, 1, 1],
            targets: Some(vec![vec![1.0], vec![-1.0]]),
        },
        &widths,
        Activation::Softplus,
    );
    sc.init = InitSpec::Explicit { theta };
    sc.flow = FlowSpec::Standard;
    sc
}

/// A smooth network trapped at a rank-loss equilibrium (Lemma 3.2, Thm 4.2) and freed by the
/// normal-bundle escape (4.15)–(4.17).
///
/// With `W₁ = 0` every hidden unit sees the same input, the network is a constant, and the
/// residual of XOR (`x₁x₂`) is orthogonal to the range of `D` = span{1, x₁, x₂}: the subspace
/// `W₁ = 0` is invariant, the standard flow fits the constant and stops at `C = 1/2` with
/// `rank D = 3 < QN = 4`, `𝒫∇ₓC = 0`, `∇ₓC ≠ 0`. The outgoing weights are small, so the Hessian
/// has negative curvature `∝ w₂σ''` on the normal vectors of the first-layer columns, and the
/// escape lowers the cost; the flow then fits XOR. `rank D` is *not* constant near the
/// equilibrium (any `W₁ ≠ 0` gives rank 4): the generic smooth case, outside Thm 4.2's
/// constant-rank hypothesis. The adapted flow is not used here: it is repelled from the invariant
/// subspace by rounding, its field turns singular as `σ₄` crosses the rank threshold, and RK45
/// stops with `step_size` before the equilibrium.
fn softplus_trapped() -> Scenario {
    let mut sc = xor_softplus("softplus-trapped", [0.0; 4], 0.1);
    sc.stop = StopSpec {
        s_max: Some(400.0),
        cost_below: Some(1e-8),
        ..StopSpec::default()
    };
    sc.escape.auto = true;
    sc.escape.max = 3;
    sc.record.singular_values = true;
    sc
}

/// A full-rank trapping region of the standard flow (Prop 3.1): the start of `softplus-trapped`
/// with `W₁` of size `1e-3` instead of 0. `rank D = QN = 4` all along, but the orbit first runs
/// into the neighbourhood of the XOR saddle, where `ρ = |Dᵀ∇ₓC|/|∇ₓC|` drops to `1e-4`, and
/// stays there for a long time before it leaves and fits XOR. The trace's `trapped` event shows
/// the measured time beside the lower bound (3.7). The adapted flow (`--flow adapted`) from the
/// same start reaches `ε` at the predicted `s_ε` instead.
fn standard_trapping() -> Scenario {
    let mut sc = xor_softplus("standard-trapping", [1e-3, 3e-4, -5e-4, 1e-3], 0.1);
    sc.stop = StopSpec {
        s_max: Some(400.0),
        cost_below: Some(1e-8),
        ..StopSpec::default()
    };
    sc.trap = Some(TrapSpec { rho_below: 1e-2 });
    sc.record.every_s = Some(0.1);
    sc
}

fn clusters_relu(name: &str) -> Scenario {
    let mut sc = base(
        name,
        DataSpec::Clusters {
            n: 30,
            classes: 3,
            dim: 2,
            separation: 4.0,
            noise: 0.3,
        },
        &[2, 2, 2, 2, 3],
        Activation::Relu,
    );
    sc.seed = 2;
    sc.record.outputs = true;
    sc
}

/// The truncation-map minimizer: three clusters in the plane, three hidden ReLU layers of width
/// 2, cost zero with K = 27 < QN = 90.
fn constructive() -> Scenario {
    let mut sc = clusters_relu("constructive");
    sc.init = InitSpec::Constructive;
    sc.stop = StopSpec {
        s_max: Some(1.0),
        cost_below: Some(1e-20),
        ..StopSpec::default()
    };
    sc
}

/// Same data and network from a random start: gradient descent stalls at a positive cost
/// (non-approximability).
fn non_approximability() -> Scenario {
    let mut sc = clusters_relu("non-approximability");
    sc.flow = FlowSpec::Standard;
    sc.integrator = IntegratorSpec::Euler { h: 0.5 };
    sc.stop = StopSpec {
        s_max: Some(600.0),
        ..StopSpec::default()
    };
    sc
}

/// Three clusters and the constructive preset's network from a start where gradient descent comes
/// to rest: 2311.07065 Thm 1.5's hypotheses hold at its end point (a rest point of gradient
/// descent with `K < QN`; `rank 𝒫^⊥ = QN − rank D ≥ QN − K`), so `C = (N/2)|𝒫^⊥∇ₓC|²` there,
/// measured; Thm 5.1's `rank D = K` fails, as on every ReLU network (each hidden unit's rescaling
/// symmetry: `rank D ≤ K − 6`). Seeded so that every hidden unit dies: the rest point has
/// `rank D = Q` (the output bias) and `C = (1/2N)Σ|y_ω(i) − ȳ|² = 1/3` exactly (docs:
/// non-approximability.md). The adapted flow from the same `θ₀` keeps moving.
fn non_approximability_rest() -> Scenario {
    let mut sc = clusters_relu("non-approximability-rest");
    sc.seed = 3;
    sc.flow = FlowSpec::Standard;
    sc.integrator = rk45(1e-10, 1e-12);
    sc.stop = StopSpec {
        s_max: Some(200.0),
        ..StopSpec::default()
    };
    sc
}

/// Two tight clusters in the plane around linearly independent means: the setting of the 2023
/// theorem (`M = M_ℓ = Q = 2`), whose zero-cost minimizers form a family `θ(μ)`; the flows start
/// at random on the same network.
fn clustered_family() -> Scenario {
    let mut rng = crate::rng::Rng::new(2023);
    let mut inputs = vec![];
    let mut labels = vec![];
    for (c, (a, b)) in [(2.0, 0.5), (0.5, 2.0)].into_iter().enumerate() {
        for _ in 0..8 {
            // Rounded so that the scenario JSON (and a shared link) stays short.
            let r = |v: f64| (v * 1000.0).round() / 1000.0;
            inputs.push(vec![r(a + 0.1 * rng.normal()), r(b + 0.1 * rng.normal())]);
            labels.push(c);
        }
    }
    let mut sc = base(
        "clustered-family",
        DataSpec::Custom {
            inputs,
            labels,
            targets: None,
        },
        &[2, 2, 2, 2],
        Activation::Relu,
    );
    sc.flow = FlowSpec::Standard;
    sc.stop = StopSpec {
        s_max: Some(200.0),
        ..StopSpec::default()
    };
    sc.record.outputs = true;
    sc
}

/// Unbalanced classes (3, 6 and 12 points) under the slides' weighted cost on an overparametrized
/// net: the adapted flow gives every class its own clock `e^{−2s/N_j}`.
fn weighted_cost() -> Scenario {
    let mut rng = crate::rng::Rng::new(4);
    let mut inputs = vec![];
    let mut labels = vec![];
    for (c, k) in [3usize, 6, 12].into_iter().enumerate() {
        let angle = 2.0 * std::f64::consts::PI * c as f64 / 3.0;
        for _ in 0..k {
            let r = |v: f64| (v * 1000.0).round() / 1000.0;
            inputs.push(vec![
                r(angle.cos() + 0.3 * rng.normal()),
                r(angle.sin() + 0.3 * rng.normal()),
            ]);
            labels.push(c);
        }
    }
    let mut sc = base(
        "weighted-cost",
        DataSpec::Custom {
            inputs,
            labels,
            targets: None,
        },
        &[2, 24, 24, 3],
        Activation::Tanh,
    );
    sc.cost = CostSpec::Weighted;
    sc.stop = StopSpec {
        s_max: Some(80.0),
        cost_below: Some(1e-8),
        ..StopSpec::default()
    };
    sc.record.outputs = true;
    sc
}

/// Every preset, in menu order.
pub fn all() -> Vec<Preset> {
    vec![
        Preset {
            name: "over-smooth",
            summary: "overparametrized tanh net (K=354 > QN=32): adapted cost falls exactly as e^{-2s/N} (Thm 2.1)",
            story: "Every output runs straight to its target",
            scenario: over_smooth(),
        },
        Preset {
            name: "under-stationary",
            summary: "underparametrized net (K=15 < QN=120): the adapted flow rests at C = (N/2)|P⊥∇C|² > 0 (Thm 5.1)",
            story: "K < QN: the adapted flow rests at C > 0",
            scenario: under_stationary(),
        },
        Preset {
            name: "borderline",
            summary: "K = QN = 12: over- and underparametrized adapted flows coincide, −D⁻¹∇C (Section 6)",
            story: "K = QN: both adapted forms coincide",
            scenario: borderline(),
        },
        Preset {
            name: "linear-rank",
            summary: "linear network, N = 4 ≤ M = 6 independent inputs: measured rank D = QN = 8, as Section 2.1.1 says",
            story: "A linear net: rank D as the paper counts it",
            scenario: linear_rank(),
        },
        Preset {
            name: "two-layer-linear",
            summary: "two-layer linear net, rank-one W1, W2 (Section 2.1.1): measured rank D = 8 = r2 N + (Q−r2)(r1+1), above the paper's bound r1 N + r2 Q = 7 (the output bias adds the constant direction)",
            story: "Rank-one layers: rank D beside the paper's bound",
            scenario: two_layer_linear(),
        },
        Preset {
            name: "shallow-relu-inactive",
            summary: "shallow ReLU net, 2 of 4 inputs fully inactive (2.39): measured rank D = JQ + Q = 6, not JQ = 4 (the output bias moves inactive samples); rests at C = 1/8, escape finds no descent (transversally minimal)",
            story: "A rest point that no escape step leaves",
            scenario: shallow_relu_inactive(),
        },
        Preset {
            name: "softplus-trapped",
            summary: "softplus net on XOR with W1 = 0: the standard flow stops at a rank-loss equilibrium (rank D = 3 < QN = 4, C = 1/2); automatic escape along the normal bundle (4.15)-(4.17) frees it",
            story: "The standard flow rests at C = 1/2; escape frees it",
            scenario: softplus_trapped(),
        },
        Preset {
            name: "standard-trapping",
            summary: "XOR with W1 ~ 1e-3: full rank 4 = QN, yet the standard flow is trapped where rho < 1e-2 far longer than the Prop 3.1 bound; the adapted flow is not",
            story: "Full rank, yet the standard flow crawls",
            scenario: standard_trapping(),
        },
        Preset {
            name: "constructive",
            summary: "truncation-map ReLU network (K=27 < QN=90): cost exactly zero, one class collapsed per hidden layer (Chen–Muñoz Ewald)",
            story: "K < QN, yet a hand-built ReLU net fits exactly",
            scenario: constructive(),
        },
        Preset {
            name: "clustered-family",
            summary: "two clusters, M = M_ℓ = Q = 2 (Chen–Muñoz Ewald 2023): a whole family θ(μ) of zero-cost minimizers; move μ, click the input plane to classify by the metric d",
            story: "A family of exact minimizers: move μ, click to classify",
            scenario: clustered_family(),
        },
        Preset {
            name: "weighted-cost",
            summary: "the slides' weighted cost Σ_j (1/N_j)Σ|x_i − y_j|² on classes of 3, 6 and 12 points: the adapted flow gives each class its own clock e^{-2s/N_j}",
            story: "The slides' weighted cost: each class on its own clock",
            scenario: weighted_cost(),
        },
        Preset {
            name: "non-approximability",
            summary: "same data and network from a random start beside the zero-cost minimizer θ_c: gradient descent (h = 0.5) ends at s_max still moving, so no rest-point theorem applies to it; the panel says which hypothesis fails",
            story: "A random start: gradient descent ends at s_max still moving",
            scenario: non_approximability(),
        },
        Preset {
            name: "non-approximability-rest",
            summary: "a start where gradient descent comes to rest (rank_loss_rest, every hidden unit dead): 2311.07065's hypotheses hold there and C = (N/2)|P⊥∇C|² = 1/3 > 0; Thm 5.1's rank D = K fails (ReLU); the adapted flow keeps moving",
            story: "Gradient descent at rest with C > 0, hypotheses checked",
            scenario: non_approximability_rest(),
        },
    ]
}

/// The preset called `name`, if any.
pub fn find(name: &str) -> Option<Preset> {
    all().into_iter().find(|p| p.name == name)
}
