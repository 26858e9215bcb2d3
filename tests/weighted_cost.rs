//! The slides' weighted cost `C_w = Σ_j (1/N_j) Σ_{ω(i)=j} |x_i − y_j|²` (docs/math/weighted-cost.md):
//! its gradient against finite differences, the split `C = V + B` of slide 14 for both costs, the
//! adapted flow's per-class rates `e^{−2s/N_j}` at full rank `QN` and the stopping time as the root
//! of `Σ_j C_j(0)e^{−4s/N_j} = ε`; and `stop.s_max = 0`, which evaluates `θ₀` only.

mod common;
use pullback::math::data::{DataSpec, Dataset};
use pullback::math::diagnostics::{self, Rest};
use pullback::math::flow::Workspace;
use pullback::math::hessian;
use pullback::math::integrate::IntegratorSpec;
use pullback::math::model::{CostSpec, Model};
use pullback::math::net::{Activation, Mlp};
use pullback::rng::Rng;
use pullback::run::scenario::{InitSpec, Scenario};
use pullback::run::session::Session;

/// Unbalanced classes (sizes 2, 5 and 9) in the plane with random targets in `R^q`.
fn unbalanced(q: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let sizes = [2usize, 5, 9];
    let mut inputs = vec![];
    let mut labels = vec![];
    for (c, &k) in sizes.iter().enumerate() {
        for _ in 0..k {
            inputs.push(vec![rng.normal() + c as f64, rng.normal()]);
            labels.push(c);
        }
    }
    let targets: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..q).map(|_| rng.normal()).collect())
        .collect();
    Dataset::custom(&inputs, &labels, Some(&targets)).unwrap()
}

fn model(widths: &[usize], cost: CostSpec, seed: u64) -> (Model, Vec<f64>) {
    let net = Mlp::new(widths, Activation::Tanh).unwrap();
    let data = unbalanced(*widths.last().unwrap(), seed);
    let mut rng = Rng::new(seed + 100);
    let theta: Vec<f64> = (0..net.k()).map(|_| 0.7 * rng.normal()).collect();
    (Model::new(net, data).unwrap().with_cost(cost), theta)
}

#[test]
fn the_weighted_cost_is_the_slides_formula_and_its_gradient_matches_finite_differences() {
    let (m, theta) = model(&[2, 6, 2], CostSpec::Weighted, 3);
    let x = m.outputs(&theta);
    // The slides' formula written out by classes.
    let counts = m.data.class_counts();
    let q = m.q();
    let mut direct = 0.0;
    for (i, &c) in m.data.labels.iter().enumerate() {
        let e: f64 = (0..q)
            .map(|k| (x[i * q + k] - m.data.targets[c][k]).powi(2))
            .sum();
        direct += e / counts[c] as f64;
    }
    let c = m.cost_of_outputs(&x);
    assert!((c - direct).abs() <= 1e-14 * direct, "{c} vs {direct}");

    // ∇ₓC_w by central differences: C_w is quadratic in x̲, so the only error is rounding,
    // about ε_mach·C/h.
    let mut g = vec![];
    m.grad_x_into(&x, &mut g);
    let h = 1e-5;
    for k in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[k] += h;
        xm[k] -= h;
        let fd = (m.cost_of_outputs(&xp) - m.cost_of_outputs(&xm)) / (2.0 * h);
        let tol = 1e-16 * c / h * 100.0 + 1e-12;
        assert!((fd - g[k]).abs() <= tol, "∂C/∂x[{k}]: {fd} vs {}", g[k]);
    }

    // ∇_θC_w = Dᵀ∇ₓC_w from the workspace and from the second-order sweep, against central
    // differences of the forward pass (error h²·C'''/6 plus rounding ε_mach·C/h).
    let mut ws = Workspace::default();
    ws.evaluate(&m, &theta).unwrap();
    assert_eq!(ws.cost(), c);
    let grad = ws.grad_theta();
    let grad2 = hessian::gradient(&m, &theta).unwrap();
    let scale = grad.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let h = 1e-5;
    for k in 0..theta.len() {
        let (mut tp, mut tm) = (theta.clone(), theta.clone());
        tp[k] += h;
        tm[k] -= h;
        let fd = (m.cost(&tp) - m.cost(&tm)) / (2.0 * h);
        assert!(
            (fd - grad[k]).abs() <= 1e-7 * scale.max(c),
            "∂C/∂θ[{k}]: {fd} vs {}",
            grad[k]
        );
        assert!(
            (grad2[k] - grad[k]).abs() <= 1e-12 * scale,
            "backprop vs Dᵀ∇ₓC at {k}"
        );
    }

    // A Hessian-vector product against central differences of the gradient.
    let mut rng = Rng::new(9);
    let v: Vec<f64> = (0..theta.len()).map(|_| rng.normal()).collect();
    let hv = hessian::hvp(&m, &theta, &v).unwrap();
    let at = |t: f64| {
        let th: Vec<f64> = theta.iter().zip(&v).map(|(a, b)| a + t * b).collect();
        hessian::gradient(&m, &th).unwrap()
    };
    let (gp, gm) = (at(1e-5), at(-1e-5));
    let hscale = hv.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    for k in 0..theta.len() {
        let fd = (gp[k] - gm[k]) / 2e-5;
        assert!(
            (fd - hv[k]).abs() <= 1e-6 * hscale,
            "Hv[{k}]: {fd} vs {}",
            hv[k]
        );
    }
}

#[test]
fn the_cost_splits_into_within_class_variance_and_class_mean_mismatch() {
    for cost in [CostSpec::Mean, CostSpec::Weighted] {
        for seed in 1..=5 {
            let (m, theta) = model(&[2, 5, 3], cost, seed);
            let x = m.outputs(&theta);
            let c = m.cost_of_outputs(&x);
            let (v, b) = m.cost_split(&x);
            assert!(v >= 0.0 && b >= 0.0);
            assert!(
                (v + b - c).abs() <= 1e-12 * c,
                "{cost:?} seed {seed}: V + B = {} vs C = {c}",
                v + b
            );
            // The sample carries both terms.
            let mut ws = Workspace::default();
            let smp =
                diagnostics::sample(&m, &mut ws, &theta, 0.0, 1e-10, None, Default::default())
                    .unwrap();
            assert_eq!(smp.cost_variance, Some(v));
            assert_eq!(smp.cost_mismatch, Some(b));
            // Each class's share from the sample's statistics: spread² and dist² (docs).
            let counts = m.data.class_counts();
            let (vs, bs): (f64, f64) = (0..3)
                .map(|j| {
                    let w = match cost {
                        CostSpec::Mean => counts[j] as f64 / (2.0 * m.n() as f64),
                        CostSpec::Weighted => 1.0,
                    };
                    (
                        w * smp.class_spread[j].powi(2),
                        w * smp.class_mean_distance[j].powi(2),
                    )
                })
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            assert!((vs - v).abs() <= 1e-12 * c && (bs - b).abs() <= 1e-12 * c);
        }
    }
    // Balanced classes: C_w = 2Q_c·C exactly (docs/math/weighted-cost.md).
    let data = Dataset::from_spec(
        &DataSpec::Blobs {
            n: 12,
            classes: 3,
            noise: 0.2,
        },
        4,
    )
    .unwrap();
    assert_eq!(data.class_counts(), vec![4, 4, 4]);
    let net = Mlp::new(&[2, 4, 3], Activation::Tanh).unwrap();
    let mean = Model::new(net, data).unwrap();
    let weighted = mean.clone().with_cost(CostSpec::Weighted);
    let theta = vec![0.3; mean.k()];
    let x = mean.outputs(&theta);
    let (c, cw) = (mean.cost_of_outputs(&x), weighted.cost_of_outputs(&x));
    assert!(
        (cw - 6.0 * c).abs() <= 1e-14 * cw,
        "C_w = {cw}, 2Q_c·C = {}",
        6.0 * c
    );
}

/// The adapted flow of an overparametrized tanh net (`K = 354 > QN = 32`) on the unbalanced data.
fn over_scenario(cost: CostSpec) -> Scenario {
    let mut sc = common::preset("over-smooth");
    let data = unbalanced(2, 11);
    sc.data = data.to_spec();
    sc.cost = cost;
    sc.integrator = IntegratorSpec::Rk45 {
        rtol: 1e-11,
        atol: 1e-13,
        h_max: None,
    };
    sc.record.outputs = true;
    sc.stop.cost_below = None;
    // Over [0, 6] the smallest class (N_j = 2) decays by e^{−6}, the largest by e^{−4/3}: the
    // clocks differ clearly while the errors stay far above the integrator's tolerances.
    sc.stop.s_max = Some(6.0);
    sc.record.every_s = Some(0.25);
    sc
}

#[test]
fn under_the_weighted_cost_the_adapted_flow_has_one_clock_per_class() {
    let sc = over_scenario(CostSpec::Weighted);
    let mut session = Session::new(&sc).unwrap();
    session.run();
    let trace = session.trace();
    let qn = trace.q * trace.n;
    assert!(trace.k > qn, "overparametrized");
    assert_eq!(trace.final_state.reason, "s_max");
    let model = session.model();
    let counts = model.data.class_counts();
    let y = &model.y;
    let q = trace.q;
    let x0 = trace.samples[0].outputs.clone().unwrap();
    let mut worst: f64 = 0.0;
    for smp in &trace.samples {
        // Thm 2.1's hypothesis along the orbit: rank D = QN.
        assert_eq!(smp.rank, qn, "rank D must stay QN at s = {}", smp.s);
        let x = smp.outputs.as_ref().unwrap();
        for (i, &c) in model.data.labels.iter().enumerate() {
            // x_i(s) − y_j = e^{−2s/N_j}(x_i(0) − y_j), coordinate by coordinate, relative to
            // the predicted error.
            let decay = (-2.0 * smp.s / counts[c] as f64).exp();
            let r = i * q..(i + 1) * q;
            let pred: Vec<f64> = r.clone().map(|k| decay * (x0[k] - y[k])).collect();
            let len = pred.iter().map(|v| v * v).sum::<f64>().sqrt();
            let dev = r
                .clone()
                .zip(&pred)
                .map(|(k, p)| (x[k] - y[k] - p).powi(2))
                .sum::<f64>()
                .sqrt();
            worst = worst.max(dev / len);
        }
        // C_w(s) = Σ_j C_j(0)e^{−4s/N_j}.
        let terms = diagnostics::adapted_cost_terms(model, &x0);
        let pred: f64 = terms.iter().map(|(a, r)| a * (-r * smp.s).exp()).sum();
        assert!(
            (smp.cost - pred).abs() <= 1e-6 * pred,
            "C_w({}) = {} vs {pred}",
            smp.s,
            smp.cost
        );
    }
    eprintln!("worst relative deviation from e^(-2s/N_j): {worst:.2e}");
    assert!(
        worst <= 1e-6,
        "per-class rates e^(-2s/N_j): worst relative deviation {worst:.2e}"
    );
    // The same outputs under the mean cost move with one clock e^{−s/N}: different orbits.
    let mut mean = Session::new(&over_scenario(CostSpec::Mean)).unwrap();
    mean.run();
    let last = mean.trace().samples.last().unwrap().cost;
    let c0 = mean.initial_cost();
    let pred = c0 * (-2.0 * 6.0 / model.n() as f64).exp();
    assert!((last - pred).abs() <= 1e-6 * pred);

    // The stopping time: the root of Σ_j C_j(0)e^{−4s/N_j} = ε, measured to integrator accuracy.
    let c0 = session.initial_cost();
    let eps = 1e-6 * c0;
    let mut sc = over_scenario(CostSpec::Weighted);
    sc.stop.cost_below = Some(eps);
    sc.stop.s_max = Some(200.0);
    let mut s2 = Session::new(&sc).unwrap();
    s2.run();
    let t = s2.trace();
    assert_eq!(t.final_state.reason, "cost_below");
    let predicted = t.predicted_stopping_time.unwrap();
    let terms = diagnostics::adapted_cost_terms(model, &x0);
    let at: f64 = terms.iter().map(|(a, r)| a * (-r * predicted).exp()).sum();
    assert!(
        (at - eps).abs() <= 1e-12 * eps,
        "F(s_ε) = {at} vs ε = {eps}"
    );
    // The bounds (N_min/4)log(C(0)/ε) ≤ s_ε ≤ (N_max/4)log(C(0)/ε).
    let l = (c0 / eps).ln();
    assert!(0.25 * 2.0 * l <= predicted && predicted <= 0.25 * 9.0 * l);
    let measured = t.measured_stopping_time.unwrap();
    assert!(
        (measured - predicted).abs() <= 1e-6 * predicted,
        "hitting time {measured} vs root {predicted}"
    );
}

#[test]
fn s_max_zero_evaluates_theta0_only() {
    let mut sc = common::preset("over-smooth");
    sc.stop.s_max = Some(0.0);
    sc.stop.cost_below = None;
    let mut session = Session::new(&sc).unwrap();
    assert!(session.finished());
    session.run();
    let t = session.trace();
    assert_eq!(t.samples.len(), 1, "one sample");
    let smp = &t.samples[0];
    assert_eq!(smp.s, 0.0);
    assert_eq!(t.final_state.s, 0.0);
    assert_eq!(t.final_state.reason, "s_max");
    assert_eq!(smp.cost, t.initial_cost);
    assert_eq!(smp.rank, t.q * t.n, "every diagnostic is there: rank");
    assert!(smp.sigma_max > 0.0 && smp.sigma_min > 0.0 && smp.rho > 0.0);
    let (v, b) = (smp.cost_variance.unwrap(), smp.cost_mismatch.unwrap());
    assert!((v + b - smp.cost).abs() <= 1e-12 * smp.cost);
    assert_eq!(t.stats.steps, 0);
    // The end-point test ran at θ₀: rank D = QN makes 𝒫 the identity, so |𝒫∇ₓC|/|∇ₓC| = 1 and
    // the class is `moving`.
    assert_eq!(t.final_state.rest, Some(Rest::Moving));
    assert!((t.final_state.proj_ratio.unwrap() - 1.0).abs() <= 1e-12);
    // record.every_s defaulted to something finite and positive.
    let every = t.scenario.record.every_s.unwrap();
    assert!(every.is_finite() && every > 0.0);
    // The JSON form is accepted, and negative s_max still is not.
    let json = r#"{"data": {"kind": "xor", "n": 8}, "net": {"widths": [2, 3, 2], "activation": "tanh"},
                   "stop": {"s_max": 0}}"#;
    let mut s = Session::from_json(json).unwrap();
    s.run();
    assert_eq!(s.trace().samples.len(), 1);
    let bad = json.replace("\"s_max\": 0", "\"s_max\": -1");
    let e = Scenario::from_json(&bad).unwrap_err().to_string();
    assert!(e.contains("stop.s_max"), "{e}");
    // A constructive θ evaluated without integrating.
    let mut c = common::preset("constructive");
    c.stop.s_max = Some(0.0);
    c.stop.cost_below = None;
    assert_eq!(c.init, InitSpec::Constructive);
    let mut s = Session::new(&c).unwrap();
    s.run();
    let t = s.trace();
    assert_eq!(t.samples.len(), 1);
    assert!(t.samples[0].cost <= 1e-20);
    // θ_c: the outputs are at their targets to rounding, a global minimum.
    assert_eq!(
        t.final_state.rest,
        Some(Rest::GlobalMinimum),
        "{:?}",
        t.final_state.note
    );
}

#[test]
fn the_cost_key_reads_and_writes() {
    let json = r#"{"data": {"kind": "xor", "n": 8}, "net": {"widths": [2, 3, 2], "activation": "tanh"},
                   "cost": {"kind": "weighted"}}"#;
    let sc = Scenario::from_json(json).unwrap();
    assert_eq!(sc.cost, CostSpec::Weighted);
    assert!(sc.to_json().contains("\"weighted\""));
    let mean = Scenario::from_json(&json.replace("weighted", "mean")).unwrap();
    assert_eq!(mean.cost, CostSpec::Mean);
    assert!(
        !mean.to_json().contains("\"cost\""),
        "the default is left out"
    );
    let e = Scenario::from_json(&json.replace("weighted", "median"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cost"), "{e}");
}
