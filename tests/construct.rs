//! Constructive zero-cost minimizers (truncation maps): cost zero to rounding on clustered data,
//! on every sequentially separable set (the ten points of issue 12 and rotated copies, a seeded
//! family of nested sets) and every architecture the 2024 theorem allows (`L ≥ Q_c`, widths at
//! least `Q_c − 1`, non-increasing or not); the 2023 family `θ(μ)` with its metric and `δ_P`; a
//! clear error on data that are not sequentially separable.

use pullback::math::construct::{self, parameter_count, required_widths};
use pullback::math::data::{DataSpec, Dataset};
use pullback::math::model::CostSpec;
use pullback::math::model::Model;
use pullback::math::net::{Activation, Mlp};
use pullback::rng::Rng;
use pullback::run::scenario::{InitSpec, NetSpec, Scenario};
use pullback::run::session::Session;

fn clustered(classes: usize, dim: usize, seed: u64) -> Dataset {
    let spec = DataSpec::Clusters {
        n: 12 * classes,
        classes,
        dim,
        separation: 4.0,
        noise: 0.3,
    };
    Dataset::from_spec(&spec, seed).unwrap()
}

#[test]
fn constructive_cost_is_zero_to_rounding() {
    for (q, m) in [(2, 2), (3, 2), (3, 3), (4, 3), (5, 4)] {
        for seed in 1..=5 {
            let data = clustered(q, m, seed);
            let widths = required_widths(m, q, q);
            assert_eq!(widths.len(), q + 2, "Q hidden layers");
            let net = Mlp::new(&widths, Activation::Relu).unwrap();
            assert_eq!(
                net.k(),
                parameter_count(m, q, q),
                "K formula, (Q, M) = ({q}, {m})"
            );
            let model = Model::new(net, data).unwrap();
            assert!(
                model.k() < model.qn(),
                "the construction is underparametrized"
            );
            let c = construct::build(&model)
                .unwrap_or_else(|e| panic!("(Q, M) = ({q}, {m}), seed {seed}: {e}"));
            // Recompute the cost by the forward pass from the returned θ.
            let cost = model.cost(&c.theta);
            assert!(
                cost <= 1e-20,
                "(Q, M) = ({q}, {m}), seed {seed}: cost {cost:.3e}"
            );
            // Q + 1 stages; after stage l, the first l classes of the order sit on one point each.
            assert_eq!(c.stages.len(), q + 1);
            for (l, cut) in c.cuts.iter().enumerate() {
                let stage = &c.stages[l + 1];
                let members: Vec<&Vec<f64>> = (0..model.n())
                    .filter(|&j| model.data.labels[j] == cut.class)
                    .map(|j| &stage[j])
                    .collect();
                assert!(
                    members.iter().all(|p| *p == members[0]),
                    "class not collapsed"
                );
                assert!(cut.margin > 0.0 && cut.lambda > 0.0);
            }
        }
    }
}

#[test]
fn xor_is_not_sequentially_separable() {
    let data = Dataset::from_spec(&DataSpec::Xor { n: 40, noise: 0.0 }, 3).unwrap();
    let net = Mlp::new(&required_widths(2, 2, 2), Activation::Relu).unwrap();
    let model = Model::new(net, data).unwrap();
    let e = construct::build(&model).unwrap_err().to_string();
    assert!(e.contains("not sequentially separable"), "{e}");
    assert!(e.contains("step 1 of 2"), "{e}");
}

fn scenario(widths: Vec<usize>, activation: Activation) -> Scenario {
    Scenario {
        name: None,
        seed: 4,
        data: DataSpec::Clusters {
            n: 30,
            classes: 3,
            dim: 2,
            separation: 4.0,
            noise: 0.3,
        },
        net: NetSpec { widths, activation },
        init: InitSpec::Constructive,
        flow: Default::default(),
        cost: Default::default(),
        integrator: Default::default(),
        stop: Default::default(),
        rank_rtol: 1e-10,
        record: Default::default(),
        escape: Default::default(),
        trap: None,
        rank_formula: None,
    }
}

#[test]
fn constructive_init_through_the_scenario() {
    let sc = scenario(vec![2, 2, 2, 2, 3], Activation::Relu);
    let s = Session::new(&sc).unwrap();
    assert!(s.initial_cost() <= 1e-20, "C = {}", s.initial_cost());
    // JSON spelling.
    let json = sc.to_json();
    assert!(json.contains(r#""kind": "constructive""#), "{json}");
    let wrong = scenario(vec![2, 4, 3], Activation::Relu);
    let e = Session::new(&wrong).unwrap_err().to_string();
    assert!(
        e.starts_with("net.widths") && e.contains("[2, 2, 2, 2, 3]"),
        "{e}"
    );
    // More layers than classes, of other widths: allowed by the 2024 theorem.
    let more = scenario(vec![2, 4, 3, 2, 2, 3], Activation::Relu);
    let s = Session::new(&more).unwrap();
    assert!(s.initial_cost() <= 1e-20, "C = {}", s.initial_cost());
    let tanh = scenario(vec![2, 2, 2, 2, 3], Activation::Tanh);
    assert!(Session::new(&tanh)
        .unwrap_err()
        .to_string()
        .starts_with("net.activation"));
    let mut xor = scenario(vec![2, 2, 2, 2], Activation::Relu);
    xor.data = DataSpec::Xor { n: 20, noise: 0.0 };
    let e = Session::new(&xor).unwrap_err().to_string();
    assert!(
        e.starts_with("init:") && e.contains("not sequentially separable"),
        "{e}"
    );
}

#[test]
fn narrow_inputs_are_widened_for_many_classes() {
    // M = 2 < Q − 1 = 3: hidden width 3 lifts the collapse points off the data plane.
    let data = clustered(4, 2, 7);
    let widths = required_widths(2, 4, 4);
    assert_eq!(widths, vec![2, 3, 3, 3, 3, 4]);
    let model = Model::new(Mlp::new(&widths, Activation::Relu).unwrap(), data).unwrap();
    let c = construct::build(&model).unwrap();
    assert!(model.cost(&c.theta) <= 1e-20);
}

/// Cost of `θ` by a forward pass under both costs (the construction must not depend on which).
fn costs(model: &Model, theta: &[f64]) -> (f64, f64) {
    let w = model.clone().with_cost(CostSpec::Weighted);
    (model.cost(theta), w.cost(theta))
}

/// The ten points of issue 12: class A near (0, 0), class B near (0, 2), class C at (±1, 3),
/// rotated by `angle` about the origin. Sequentially separable: C by y = 2.5, then A by y = 1; not
/// constructible with every apex at its projected class centroid.
fn ten_points(angle: f64) -> Dataset {
    let pts = [
        ((-0.2, 0.0), 0),
        ((0.2, 0.0), 0),
        ((0.0, -0.2), 0),
        ((0.0, 0.2), 0),
        ((-0.2, 2.0), 1),
        ((0.2, 2.0), 1),
        ((0.0, 1.8), 1),
        ((0.0, 2.2), 1),
        ((-1.0, 3.0), 2),
        ((1.0, 3.0), 2),
    ];
    let (c, s) = (angle.cos(), angle.sin());
    let inputs: Vec<Vec<f64>> = pts
        .iter()
        .map(|((x, y), _)| vec![c * x - s * y, s * x + c * y])
        .collect();
    let labels: Vec<usize> = pts.iter().map(|p| p.1).collect();
    Dataset::custom(&inputs, &labels, None).unwrap()
}

fn check_zero(model: &Model, what: &str) -> construct::Construction {
    let c = construct::build(model).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (mean, weighted) = costs(model, &c.theta);
    assert!(
        mean <= 1e-20 && weighted <= 1e-20,
        "{what}: C = {mean:.3e}, C_w = {weighted:.3e}"
    );
    assert_eq!(
        c.cuts.len(),
        model.data.classes(),
        "{what}: one cut per class"
    );
    assert_eq!(c.stages.len(), model.data.classes() + 1);
    // After stage l, the first l classes of the order sit on one point each.
    for (l, cut) in c.cuts.iter().enumerate() {
        let stage = &c.stages[l + 1];
        let first = model
            .data
            .labels
            .iter()
            .position(|&k| k == cut.class)
            .unwrap();
        for j in 0..model.n() {
            if model.data.labels[j] == cut.class {
                assert_eq!(
                    stage[j], stage[first],
                    "{what}: class {} not collapsed",
                    cut.class
                );
            }
        }
        assert!(cut.margin > 0.0 && cut.lambda > 0.0, "{what}: cut {l}");
    }
    c
}

#[test]
fn the_ten_points_of_issue_12_and_rotated_copies_are_constructed() {
    for (k, angle) in [0.0, 0.3, 1.0, 2.0, 3.5, 5.0].into_iter().enumerate() {
        let data = ten_points(angle);
        for widths in [
            vec![2, 2, 2, 2, 3],       // L = Q, d = M
            vec![2, 3, 3, 3, 3],       // a spare dimension
            vec![2, 2, 2, 2, 2, 3],    // L = Q + 1 (refused before issue 12)
            vec![2, 4, 3, 2, 2, 2, 3], // non-increasing, L = Q + 2
            vec![2, 2, 3, 5, 3],       // increasing after the first layer
        ] {
            let net = Mlp::new(&widths, Activation::Relu).unwrap();
            let model = Model::new(net, data.clone()).unwrap();
            let c = check_zero(&model, &format!("rotation {k}, widths {widths:?}"));
            assert_eq!(c.extra_layers.len(), widths.len() - 2 - 3);
            // The order: C, then A, then B (B lies between the others).
            let order: Vec<usize> = c.cuts.iter().map(|c| c.class).collect();
            assert_eq!(*order.last().unwrap(), 1, "B is cut last: {order:?}");
        }
    }
}

/// `classes` nested classes in `R^m`: random cuts `n_ℓ·x = γ_ℓ`, each point in the first class
/// whose cut it lies below by more than a margin, the last class above all of them; points within
/// the margin of a cut they meet are dropped. Sequentially separable by construction.
fn nested(m: usize, classes: usize, n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    loop {
        let cuts: Vec<(Vec<f64>, f64)> = (0..classes - 1)
            .map(|_| {
                let v: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
                let len = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                (v.iter().map(|a| a / len).collect(), 0.6 * rng.normal())
            })
            .collect();
        let mut inputs = vec![];
        let mut labels = vec![];
        while inputs.len() < n {
            let x: Vec<f64> = (0..m).map(|_| 2.0 * rng.normal()).collect();
            let mut class = classes - 1;
            let mut ok = true;
            for (l, (nv, g)) in cuts.iter().enumerate() {
                let s: f64 = nv.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>() - g;
                if s.abs() < 0.05 {
                    ok = false;
                    break;
                }
                if s < 0.0 {
                    class = l;
                    break;
                }
            }
            if ok {
                inputs.push(x);
                labels.push(class);
            }
        }
        let mut seen = vec![false; classes];
        labels.iter().for_each(|&l| seen[l] = true);
        if seen.iter().all(|&s| s) {
            return Dataset::custom(&inputs, &labels, None).unwrap();
        }
    }
}

#[test]
fn every_sequentially_separable_set_of_a_seeded_family_is_constructed() {
    // (M, Q_c, hidden widths): d = M, d > M, d < M (cut coordinates), L > Q_c, non-increasing.
    let cases: [(usize, usize, &[usize]); 8] = [
        (2, 2, &[2, 2]),
        (2, 3, &[2, 2, 2]),
        (2, 3, &[3, 3, 3, 2]),
        (3, 3, &[3, 3, 3]),
        (3, 4, &[3, 3, 3, 3, 3]),
        (4, 3, &[2, 2, 2]),
        (5, 4, &[6, 4, 3, 3, 3]),
        (2, 4, &[4, 4, 3, 3]),
    ];
    for (m, q, hidden) in cases {
        for seed in 1..=4 {
            let data = nested(m, q, 12 * q, seed * 31 + m as u64);
            let mut widths = vec![m];
            widths.extend_from_slice(hidden);
            widths.push(q);
            let net = Mlp::new(&widths, Activation::Relu).unwrap();
            let model = Model::new(net, data).unwrap();
            check_zero(
                &model,
                &format!("M = {m}, Q = {q}, widths {widths:?}, seed {seed}"),
            );
        }
    }
}

#[test]
fn architectures_outside_the_theorem_are_refused_with_the_reason() {
    let data = ten_points(0.0);
    let model = |w: &[usize]| Model::new(Mlp::new(w, Activation::Relu).unwrap(), data.clone());
    // Too few hidden layers.
    let e = construct::build(&model(&[2, 3, 3, 3]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("net.widths") && e.contains("L ≥ 3"), "{e}");
    // A hidden layer narrower than Q_c − 1 = 2.
    let e = construct::build(&model(&[2, 2, 2, 1, 3]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("net.widths[3]") && e.contains("Q_c − 1 = 2"),
        "{e}"
    );
}

/// Two clusters in the plane around (2, 0.5) and (0.5, 2): `M = Q = 2`, `δ₀ < 1/4`.
fn two_clusters(seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let means = [(2.0, 0.5), (0.5, 2.0)];
    let mut inputs = vec![];
    let mut labels = vec![];
    for (c, (a, b)) in means.iter().enumerate() {
        for _ in 0..8 {
            inputs.push(vec![a + 0.08 * rng.normal(), b + 0.08 * rng.normal()]);
            labels.push(c);
        }
    }
    Dataset::custom(&inputs, &labels, None).unwrap()
}

/// Three clusters in R³ around the columns of a fixed invertible matrix.
fn three_clusters(seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let means = [[2.0, 0.3, 0.1], [0.2, 1.5, 0.4], [0.3, 0.2, 2.5]];
    let mut inputs = vec![];
    let mut labels = vec![];
    for (c, mu) in means.iter().enumerate() {
        for _ in 0..6 {
            inputs.push(mu.iter().map(|v| v + 0.06 * rng.normal()).collect());
            labels.push(c);
        }
    }
    Dataset::custom(&inputs, &labels, None).unwrap()
}

#[test]
fn the_2023_family_has_zero_cost_for_every_mu_and_the_metric_classifies() {
    for (data, widths) in [
        (two_clusters(3), vec![2, 2, 2, 2]),
        (two_clusters(4), vec![2, 2, 2, 2, 2]),
        (three_clusters(5), vec![3, 3, 3, 3, 3]),
    ] {
        let net = Mlp::new(&widths, Activation::Relu).unwrap();
        let model = Model::new(net.clone(), data.clone()).unwrap();
        let geo = construct::cluster_geometry(&data).unwrap();
        assert!(geo.slides_hypothesis, "δ₀ = {}", geo.delta0);
        let [lo, hi] = geo.range;
        assert!(geo.interval[0] < lo && hi < geo.interval[1]);
        let q = data.q();
        let mut hidden_weights: Option<Vec<f64>> = None;
        let mut biases = vec![];
        for k in 0..5 {
            let mu = lo + (hi - lo) * k as f64 / 4.0;
            // Per-class μ differ: μ̲ moves inside I^Q, not only on its diagonal.
            let mus: Vec<f64> = (0..q)
                .map(|j| (mu + 0.1 * (hi - lo) * j as f64).min(hi))
                .collect();
            let c = construct::clustered(&model, &mus).unwrap();
            let (mean, weighted) = costs(&model, &c.theta);
            assert!(
                mean <= 1e-20 && weighted <= 1e-20,
                "μ = {mus:?}: C = {mean:.3e}"
            );
            // The hidden weights do not depend on μ; the biases do.
            let mut ws = vec![];
            let mut bs = vec![];
            for (l, &width) in widths.iter().enumerate().take(widths.len() - 1).skip(1) {
                let (wo, bo) = net.layer_offsets(l);
                ws.extend_from_slice(&c.theta[wo..bo]);
                bs.extend_from_slice(&c.theta[bo..bo + width]);
            }
            match &hidden_weights {
                None => hidden_weights = Some(ws),
                Some(first) => {
                    let dev = first
                        .iter()
                        .zip(&ws)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                    assert!(dev <= 1e-12, "hidden weights moved with μ by {dev:.2e}");
                }
            }
            biases.push(bs);
            // δ_P: δ₀ at stage 0, 0 after the last collapse layer.
            let fam = c.family.as_ref().unwrap();
            assert!((fam.delta_p[0].unwrap() - geo.delta0).abs() <= 1e-12);
            assert!(fam.delta_p.last().unwrap().unwrap() <= 1e-12);
            // Every training input is matched to its own target at distance 0, and the metric
            // d(τ(x), x̄_j[μ_j]) equals |x^(L+1)(x) − y_j| (slide 13).
            for j in (0..data.n()).step_by(3) {
                let x: Vec<f64> = data.inputs.column(j).iter().copied().collect();
                let r = c.classify(&model, &x).unwrap();
                assert_eq!(r.class, data.labels[j]);
                assert!(r.distances[r.class] <= 1e-10);
            }
            let mut rng = Rng::new(k as u64);
            for _ in 0..10 {
                let x: Vec<f64> = (0..q).map(|_| 1.5 * rng.normal() + 1.0).collect();
                let r = c.classify(&model, &x).unwrap();
                let metric = r.metric.unwrap();
                for (a, b) in metric.iter().zip(&r.distances) {
                    assert!(
                        (a - b).abs() <= 1e-9 * (1.0 + b),
                        "d = {a} vs |x − y| = {b}"
                    );
                }
            }
        }
        assert!(biases[0] != biases[4], "the biases move with μ");
    }
    // Outside the range, and data that are not clustered enough.
    let model = Model::new(
        Mlp::new(&[2, 2, 2, 2], Activation::Relu).unwrap(),
        two_clusters(3),
    )
    .unwrap();
    let geo = construct::cluster_geometry(&model.data).unwrap();
    let e = construct::clustered(&model, &[geo.range[1] + 0.01])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("mu[0]"), "{e}");
    let wide = Model::new(
        Mlp::new(&[2, 2, 2, 2], Activation::Relu).unwrap(),
        Dataset::custom(
            &[
                vec![4.0, 0.0],
                vec![0.0, 2.0],
                vec![0.0, 0.0],
                vec![0.0, 2.0],
            ],
            &[0, 1, 0, 1],
            None,
        )
        .unwrap(),
    )
    .unwrap();
    // δ₀ = |(2, 0)/2| = 1 ≥ 1/(2h) = 1/√2: I is empty.
    let e = construct::clustered(&wide, &[0.5]).unwrap_err().to_string();
    assert!(e.starts_with("data") && e.contains("δ₀ = 1.0000"), "{e}");
}
