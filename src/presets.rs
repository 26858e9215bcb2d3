//! Named scenarios that show the paper's phenomena, shared by the CLI (`pullback presets`) and the
//! page's preset menu.

use crate::data::DataSpec;
use crate::flow::FlowSpec;
use crate::integrate::IntegratorSpec;
use crate::net::{Activation, Mlp};
use crate::scenario::{InitSpec, NetSpec, RecordSpec, Scenario, StopSpec};

/// A named scenario with a one-line summary.
#[derive(Debug, Clone)]
pub struct Preset {
    /// Identifier used on the command line and in URLs.
    pub name: &'static str,
    /// One line saying what it shows.
    pub summary: &'static str,
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
    sc
}

/// A two-layer linear network with rank-one `W₁`, `W₂` (Section 2.1.1): the paper bounds
/// `rank D ≤ r₁N + r₂Q`; the trace shows the measured rank.
fn two_layer_linear() -> Scenario {
    let widths = [4, 3, 2];
    let net = Mlp::new(&widths, Activation::Identity).expect("valid widths");
    let mut theta = vec![0.0; net.k()];
    let (u, v) = ([1.0, 2.0, -1.0], [1.0, 0.5, -0.5, 0.25]);
    let (w1, b1) = net.layer_offsets(1);
    for a in 0..3 {
        for b in 0..4 {
            theta[w1 + a * 4 + b] = u[a] * v[b];
        }
    }
    theta[b1..b1 + 3].copy_from_slice(&[0.1, -0.2, 0.3]);
    let (a2, c2) = ([1.0, -1.0], [0.5, 1.0, 2.0]);
    let (w2, _) = net.layer_offsets(2);
    for a in 0..2 {
        for b in 0..3 {
            theta[w2 + a * 3 + b] = a2[a] * c2[b];
        }
    }
    let mut sc = base(
        "two-layer-linear",
        DataSpec::Custom {
            inputs: vec![
                vec![1.0, 0.0, 0.0, 0.5],
                vec![0.0, 1.0, 0.0, -0.5],
                vec![0.0, 0.0, 1.0, 1.0],
            ],
            labels: vec![0, 1, 0],
            targets: None,
        },
        &widths,
        Activation::Identity,
    );
    sc.init = InitSpec::Explicit { theta };
    sc.stop = StopSpec {
        s_max: Some(30.0),
        ..StopSpec::default()
    };
    sc.record.singular_values = true;
    sc
}

/// A shallow ReLU network where two of four inputs switch every hidden unit off ((2.39)).
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
    sc.stop = StopSpec {
        s_max: Some(40.0),
        ..StopSpec::default()
    };
    sc.record.singular_values = true;
    sc
}

/// Every preset, in menu order.
pub fn all() -> Vec<Preset> {
    vec![
        Preset {
            name: "over-smooth",
            summary: "overparametrized tanh net (K=354 > QN=32): adapted cost falls exactly as e^{-2s/N} (Thm 2.1)",
            scenario: over_smooth(),
        },
        Preset {
            name: "under-stationary",
            summary: "underparametrized net (K=15 < QN=120): the adapted flow rests at C = (N/2)|P⊥∇C|² > 0 (Thm 5.1)",
            scenario: under_stationary(),
        },
        Preset {
            name: "borderline",
            summary: "K = QN = 12: over- and underparametrized adapted flows coincide, −D⁻¹∇C (Section 6)",
            scenario: borderline(),
        },
        Preset {
            name: "linear-rank",
            summary: "linear network, N ≤ M independent inputs: rank D = QN (Section 2.1.1)",
            scenario: linear_rank(),
        },
        Preset {
            name: "two-layer-linear",
            summary: "two-layer linear net with rank-one W1, W2: measured rank D against the bound r1 N + r2 Q (Section 2.1.1)",
            scenario: two_layer_linear(),
        },
        Preset {
            name: "shallow-relu-inactive",
            summary: "shallow ReLU net, 2 of 4 inputs fully inactive: measured rank D against JQ of (2.39)",
            scenario: shallow_relu_inactive(),
        },
    ]
}

/// The preset called `name`, if any.
pub fn find(name: &str) -> Option<Preset> {
    all().into_iter().find(|p| p.name == name)
}
