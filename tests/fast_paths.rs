//! The fast paths of issue 6 against the reference SVD path: the structured NTK equals `DDᵀ` from
//! the dense Jacobian, backprop/forward-mode products equal `Dᵀu`/`Dv`, the Cholesky and
//! normal-equation solves agree with `D⁺∇ₓC` where they run, and they hand over to the SVD where
//! they must (rank loss, a larger rank tolerance, a rank fixed by the rank policy).

mod common;
use nalgebra::{DMatrix, DVector};
use pullback::error::Error;
use pullback::linalg::{max_rel_diff, norm};
use pullback::math::data::Dataset;
use pullback::math::fast::{Fallback, SolvePath, Solver};
use pullback::math::flow::{
    eval_field, eval_field_capped, FieldStats, FlowSpec, RankChoice, Workspace,
};
use pullback::math::model::Model;
use pullback::math::net::{Activation, Forward, Mlp};
use pullback::math::ntk::Derivs;
use pullback::rng::Rng;
use pullback::run::scenario::Scenario;
use pullback::run::session::Session;

const RTOL: f64 = 1e-10;

fn random_model(widths: &[usize], n: usize, act: Activation, seed: u64) -> (Model, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let m = widths[0];
    let q = *widths.last().unwrap();
    let inputs: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..m).map(|_| rng.normal()).collect())
        .collect();
    let labels: Vec<usize> = (0..n).map(|j| j % q).collect();
    let data = Dataset::custom(&inputs, &labels, None).unwrap();
    let net = Mlp::new(widths, act).unwrap();
    let theta: Vec<f64> = (0..net.k()).map(|_| 0.9 * rng.normal()).collect();
    (Model::new(net, data).unwrap(), theta)
}

fn scenario_model(json: &str) -> (Model, Vec<f64>) {
    let m = Scenario::from_json(json).unwrap().materialize().unwrap();
    (m.model, m.theta0)
}

/// S of the benchmark: 2-16-16-2 tanh on 50 moons, where `κ(DDᵀ) ≈ 7e13` at `θ₀`.
const S: &str = r#"{"seed": 1, "data": {"kind": "moons", "n": 50, "noise": 0.1},
    "net": {"widths": [2, 16, 16, 2], "activation": "tanh"}}"#;

/// The field of `spec` at `θ` with `solver`, its statistics and what the solve did.
fn field(
    model: &Model,
    theta: &[f64],
    spec: FlowSpec,
    solver: Solver,
    rtol: f64,
) -> (Vec<f64>, FieldStats, pullback::math::fast::SolveInfo) {
    let mut ws = Workspace::with_solver(solver);
    ws.forward(model, theta).unwrap();
    let mut v = vec![0.0; model.k()];
    let st = eval_field(&spec, &mut ws, rtol, &mut v).unwrap();
    (v, st, ws.solve_info())
}

/// `|∇ₓC + D v| / |∇ₓC|` from the dense Jacobian: the output-velocity error of the field `v`.
fn output_residual(model: &Model, theta: &[f64], v: &[f64]) -> f64 {
    let mut ws = Workspace::default();
    ws.evaluate(model, theta).unwrap();
    let dv = ws.apply_d(v);
    let g = ws.grad_x();
    let r: Vec<f64> = g.iter().zip(&dv).map(|(a, b)| a + b).collect();
    norm(&r) / norm(g)
}

#[test]
fn structured_ntk_and_products_equal_the_dense_jacobian() {
    let cases: Vec<(Vec<usize>, usize, Activation)> = vec![
        (vec![2, 16, 16, 2], 50, Activation::Tanh),
        (vec![3, 8, 5, 3], 7, Activation::Relu),
        (vec![4, 6, 1], 9, Activation::Softplus),
        (vec![2, 5, 4, 3, 2], 6, Activation::Sigmoid),
        (vec![3, 4], 5, Activation::Identity),
        (vec![2, 7, 7, 2], 11, Activation::LeakyRelu),
    ];
    for (i, (widths, n, act)) in cases.into_iter().enumerate() {
        let (model, theta) = random_model(&widths, n, act, 100 + i as u64);
        let net = &model.net;
        let mut fw = Forward::default();
        net.forward_into(&theta, &model.data.inputs, &mut fw);
        let d = net.jacobian(&theta, &model.data.inputs);
        let want = &d * d.transpose();
        let qn = d.nrows();
        let mut der = Derivs::default();
        der.prepare(net, &fw);
        let mut ntk = vec![];
        der.ntk_lower(net, &theta, &fw, &mut ntk);
        let scale = want.amax();
        let mut worst: f64 = 0.0;
        for j in 0..qn {
            for r in j..qn {
                worst = worst.max((ntk[r + j * qn] - want[(r, j)]).abs() / scale);
            }
        }
        assert!(
            worst <= 1e-12,
            "{widths:?} {act:?}: structured NTK vs DDᵀ {worst:.1e}"
        );
        let mut rng = Rng::new(9);
        let u: Vec<f64> = (0..qn).map(|_| rng.normal()).collect();
        let v: Vec<f64> = (0..net.k()).map(|_| rng.normal()).collect();
        let mut got = vec![0.0; net.k()];
        der.vjp(net, &theta, &fw, &u, &mut got);
        let dtu = d.transpose() * DVector::from_column_slice(&u);
        assert!(
            max_rel_diff(&got, dtu.as_slice()) <= 1e-12,
            "{widths:?}: Dᵀu"
        );
        let mut got = vec![0.0; qn];
        der.jvp(net, &theta, &fw, &v, &mut got);
        let dv = &d * DVector::from_column_slice(&v);
        assert!(max_rel_diff(&got, dv.as_slice()) <= 1e-12, "{widths:?}: Dv");
    }
}

#[test]
fn fast_fields_agree_with_the_svd_at_well_conditioned_points() {
    // |δv|/|v| ≲ κ(D)·(|r_fast| + |r_svd|)/|∇ₓC|: with κ(D) ≤ 1e4 and residuals ≤ 1e-13 the
    // fields agree to 1e-9 relative (measured: ≤ 2e-12).
    let mut checked = [0usize; 3];
    for seed in 0..40 {
        for (slot, widths, n) in [
            (0usize, vec![3, 10, 8, 2], 6usize), // over: K = 138 > QN = 12
            (1, vec![2, 3, 2], 12),              // under: K = 17 < QN = 24
            (2, vec![2, 2, 2], 6),               // borderline: K = QN = 12
        ] {
            let (model, theta) = random_model(&widths, n, Activation::Tanh, seed);
            let (v_ref, st_ref, _) = field(&model, &theta, FlowSpec::Adapted, Solver::Svd, RTOL);
            let svd_kappa = {
                let mut ws = Workspace::default();
                ws.evaluate(&model, &theta).unwrap();
                let s = ws.svd(RTOL).unwrap();
                s.sigma_max() / s.sigma_min()
            };
            if svd_kappa > 1e4 {
                continue;
            }
            for spec in [
                FlowSpec::Adapted,
                FlowSpec::Standard,
                FlowSpec::Homotopy { alpha: 0.3 },
            ] {
                let (v, st, info) = field(&model, &theta, spec, Solver::Auto, RTOL);
                let (v_ref, st_ref) = if spec == FlowSpec::Adapted {
                    (v_ref.clone(), st_ref)
                } else {
                    let (a, b, _) = field(&model, &theta, spec, Solver::Svd, RTOL);
                    (a, b)
                };
                assert!(info.fallback.is_none(), "seed {seed} {widths:?}: {info:?}");
                let err = max_rel_diff(&v, &v_ref);
                assert!(
                    err <= 1e-9,
                    "seed {seed} {widths:?} {}: fast vs SVD field {err:.1e} ({info:?})",
                    spec.label()
                );
                let mu = (st.stationarity - st_ref.stationarity).abs() / st_ref.stationarity;
                assert!(mu <= 1e-9, "seed {seed} {widths:?}: μ differs by {mu:.1e}");
                assert_eq!(st.rank, st_ref.rank, "seed {seed} {widths:?}: rank");
                if spec == FlowSpec::Adapted {
                    let want = if model.k() >= model.qn() {
                        SolvePath::Cholesky
                    } else {
                        SolvePath::Normal
                    };
                    assert_eq!(info.path, want);
                }
            }
            checked[slot] += 1;
        }
    }
    assert!(
        checked.iter().all(|&c| c >= 5),
        "too few well-conditioned random points: {checked:?}"
    );
}

#[test]
fn at_an_ill_conditioned_point_the_fast_path_reaches_the_svd_floor() {
    // κ(DDᵀ) ≈ 7e13 (σ_min/σ_max ≈ 1.3e-7): plain refinement of (DDᵀ)a = ∇ₓC would stall at
    // ε·κ(D)²; the parameter-space iteration reaches the SVD's own floor ε·κ(D).
    let (model, theta) = scenario_model(S);
    let (v, st, info) = field(&model, &theta, FlowSpec::Adapted, Solver::Auto, RTOL);
    let (v_ref, st_ref, _) = field(&model, &theta, FlowSpec::Adapted, Solver::Svd, RTOL);
    assert_eq!(info.path, SolvePath::Cholesky, "{info:?}");
    assert!(info.kappa > 1e13, "κ̂ = {:.1e}", info.kappa);
    let r_fast = output_residual(&model, &theta, &v);
    let r_svd = output_residual(&model, &theta, &v_ref);
    assert!(
        r_fast <= 1e-12 && r_svd <= 1e-12,
        "|∇ₓC + Dv|/|∇ₓC|: fast {r_fast:.1e}, SVD {r_svd:.1e}"
    );
    // The field itself: κ(D) ≈ 8e6 amplifies residuals of 1e-13 to ~1e-10 (measured 1.2e-10).
    let err = max_rel_diff(&v, &v_ref);
    assert!(err <= 1e-8, "fast vs SVD field {err:.1e}");
    assert_eq!(st.rank, Some(model.qn()));
    assert_eq!(st.rank, st_ref.rank);
    // The residual the solver reports is the measured one (to rounding).
    assert!(
        (info.residual - r_fast).abs() <= 1e-13,
        "{info:?} vs {r_fast:.2e}"
    );
}

#[test]
fn fallbacks_trigger_where_they_must_and_then_equal_the_svd_exactly() {
    let same = |model: &Model, theta: &[f64], rtol: f64, want: &[Fallback]| {
        let (v, st, info) = field(model, theta, FlowSpec::Adapted, Solver::Auto, rtol);
        let (v_ref, st_ref, _) = field(model, theta, FlowSpec::Adapted, Solver::Svd, rtol);
        assert_eq!(info.path, SolvePath::Svd, "{info:?}");
        assert!(
            want.contains(&info.fallback.unwrap()),
            "fallback {:?}, expected one of {want:?}",
            info.fallback
        );
        if model.k() >= 2 * model.qn() {
            // A wide D: the same factors (QR of Dᵀ, SVD of R) with Q applied to one vector instead
            // of formed; Q is a product of QN reflectors, so v differs by at most QN·ε·|v|, and
            // |Dv| (the output speed) by ε·σ_max·|v| per reflector, as rounding.
            let err = max_rel_diff(&v, &v_ref);
            let qn_eps = model.qn() as f64 * f64::EPSILON;
            assert!(err <= qn_eps, "wide fallback vs SVD field {err:.1e}");
            let mut ws = Workspace::default();
            ws.evaluate(model, theta).unwrap();
            let smax = ws.svd(rtol).unwrap().sigma_max();
            let speed_err = (st.output_speed - st_ref.output_speed).abs();
            assert!(
                speed_err <= qn_eps * smax * norm(&v),
                "|Dv|: {} vs {}",
                st.output_speed,
                st_ref.output_speed
            );
            assert_eq!(
                (st.rank, st.numerical_rank, st.cost, st.grad_x_norm),
                (
                    st_ref.rank,
                    st_ref.numerical_rank,
                    st_ref.cost,
                    st_ref.grad_x_norm
                )
            );
        } else {
            assert_eq!(v, v_ref, "a fallback is the SVD path itself");
            assert_eq!(st, st_ref);
        }
        st
    };
    // (a) Numerically rank-deficient NTK: M at init scale 1, rank D = 364 < QN = 400.
    let (model, theta) = scenario_model(
        r#"{"seed": 1, "data": {"kind": "moons", "n": 200, "noise": 0.1},
            "net": {"widths": [2, 64, 64, 2], "activation": "tanh"}}"#,
    );
    let st = same(
        &model,
        &theta,
        RTOL,
        &[Fallback::NotPositiveDefinite, Fallback::IllConditioned],
    );
    assert!(st.rank.unwrap() < model.qn(), "rank {:?}", st.rank);
    // (b) A larger rank tolerance: S at θ₀ has σ_min/σ_max ≈ 1.3e-7; with rank_rtol = 1e-5 the
    // SVD drops singular values, so the Cholesky path must refuse (κ̂ > 1/(100·rtol²) = 1e8);
    // 1e-5 lies above the Gram route's floor √(100·QN·ε) = 1.5e-6, which takes over
    // (math::gram): same rank, the field to its ε·κ_r² (tests/gram_path.rs).
    let (model, theta) = scenario_model(S);
    let (v, st, info) = field(&model, &theta, FlowSpec::Adapted, Solver::Auto, 1e-5);
    let (v_ref, st_ref, _) = field(&model, &theta, FlowSpec::Adapted, Solver::Svd, 1e-5);
    assert_eq!(info.path, SolvePath::Gram, "{info:?}");
    assert_eq!(st.rank, st_ref.rank);
    assert!(st.rank.unwrap() < model.qn());
    let err = max_rel_diff(&v, &v_ref);
    assert!(
        err <= 1e3 * f64::EPSILON * info.kappa,
        "Gram vs SVD field {err:.1e}, κ_r² = {:.1e}",
        info.kappa
    );
    // (c) A rank fixed by the rank policy: the capped field is defined by singular vectors.
    let mut ws = Workspace::with_solver(Solver::Auto);
    ws.forward(&model, &theta).unwrap();
    let mut v = vec![0.0; model.k()];
    let st = eval_field_capped(
        &FlowSpec::Adapted,
        &mut ws,
        RTOL,
        RankChoice::Fixed(90),
        &mut v,
    )
    .unwrap();
    assert_eq!(ws.solve_info().fallback, Some(Fallback::RankLock));
    assert_eq!(st.rank, Some(90));
    // (d) Underparametrized with parameter redundancy: rank D = 111 < K = 114.
    let (model, theta) = scenario_model(
        r#"{"seed": 4, "data": {"kind": "moons", "n": 100},
            "net": {"widths": [2, 8, 8, 2], "activation": "tanh"},
            "init": {"kind": "gaussian", "scale": 3}}"#,
    );
    let st = same(
        &model,
        &theta,
        RTOL,
        &[Fallback::NotPositiveDefinite, Fallback::IllConditioned],
    );
    assert!(st.rank.unwrap() < model.k());
}

#[test]
fn sessions_under_both_solvers_tell_the_same_story() {
    for name in [
        "over-smooth",
        "under-stationary",
        "borderline",
        "standard-trapping",
    ] {
        let sc = common::preset(name);
        let mut fast = Session::with_solver(&sc, Solver::Auto).unwrap();
        fast.run();
        let mut slow = Session::with_solver(&sc, Solver::Svd).unwrap();
        slow.run();
        let (a, b) = (fast.trace(), slow.trace());
        assert_eq!(a.final_state.reason, b.final_state.reason, "{name}");
        let kinds = |t: &pullback::run::scenario::Trace| {
            t.events.iter().map(|e| e.name()).collect::<Vec<_>>()
        };
        assert_eq!(kinds(&a), kinds(&b), "{name}: events");
        // A `stationary` stop is where μ, decaying slowly to rounding level, crosses 1e-9: its
        // time is ill-conditioned (measured 2185 vs 2199 on under-stationary), its cost is not.
        if a.final_state.reason != "stationary" {
            let rel = (a.final_state.s - b.final_state.s).abs() / b.final_state.s.max(1.0);
            assert!(
                rel <= 1e-6,
                "{name}: end s {} vs {}",
                a.final_state.s,
                b.final_state.s
            );
        }
        let rel = (a.final_state.cost - b.final_state.cost).abs() / b.final_state.cost;
        eprintln!("{name}: end cost relative difference {rel:.1e}");
        assert!(
            rel <= 1e-6,
            "{name}: end cost {:.6e} vs {:.6e}",
            a.final_state.cost,
            b.final_state.cost
        );
        for (sa, sb) in a.samples.iter().zip(&b.samples) {
            assert_eq!(sa.rank, sb.rank, "{name}: sample ranks at s = {}", sa.s);
        }
        let counts = fast.path_counts();
        eprintln!("{name}: {counts:?}");
        if name == "over-smooth" {
            assert!(counts.cholesky > 0 && counts.fallbacks == 0, "{counts:?}");
        }
        if name == "under-stationary" {
            assert!(counts.normal > 0 && counts.fallbacks == 0, "{counts:?}");
        }
    }
}

#[test]
fn the_structured_path_does_not_need_the_dense_jacobian() {
    // QN·K = 16 × 4 206 594 ≈ 6.7e7 entries: beyond the dense limit, while the NTK is 16 × 16.
    let (model, theta) = random_model(&[2, 2048, 2048, 2], 8, Activation::Tanh, 5);
    let mut ws = Workspace::with_solver(Solver::Auto);
    ws.forward(&model, &theta).unwrap();
    let mut v = vec![0.0; model.k()];
    eval_field(&FlowSpec::Adapted, &mut ws, RTOL, &mut v).unwrap();
    assert!(!ws.has_jacobian());
    assert_eq!(ws.solve_info().path, SolvePath::Cholesky);
    // Thm 2.1 to rounding: D v = −∇ₓC, checked through a forward-mode pass.
    let mut fw = Forward::default();
    model.net.forward_into(&theta, &model.data.inputs, &mut fw);
    let mut der = Derivs::default();
    der.prepare(&model.net, &fw);
    let mut dv = vec![0.0; model.qn()];
    der.jvp(&model.net, &theta, &fw, &v, &mut dv);
    let g = ws.grad_x();
    let r: Vec<f64> = g.iter().zip(&dv).map(|(a, b)| a + b).collect();
    assert!(norm(&r) <= 1e-10 * norm(g));
    // Paths that need D say so, with the sizes.
    let e = ws.evaluate(&model, &theta).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::TooLarge(_)), "{msg}");
    assert!(msg.contains("16 × 4206594"), "{msg}");
    let e = Workspace::with_solver(Solver::Svd);
    let mut e = e;
    e.forward(&model, &theta).unwrap();
    let err = eval_field(&FlowSpec::Adapted, &mut e, RTOL, &mut v).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err}");
}

#[test]
fn matrix_free_agrees_with_cholesky_on_a_well_conditioned_problem() {
    // Wide net, 8-dimensional inputs: κ(DDᵀ) is small enough for Jacobi-preconditioned CG.
    let (model, theta) = random_model(&[8, 64, 3], 10, Activation::Tanh, 3);
    let (v_chol, _, info_chol) = field(&model, &theta, FlowSpec::Adapted, Solver::Auto, RTOL);
    assert_eq!(info_chol.path, SolvePath::Cholesky);
    let (v_cg, st, info) = field(&model, &theta, FlowSpec::Adapted, Solver::MatrixFree, RTOL);
    assert_eq!(info.path, SolvePath::MatrixFree, "{info:?}");
    assert!(info.cg_iterations > 0 && info.residual <= 1e-10, "{info:?}");
    let err = max_rel_diff(&v_cg, &v_chol);
    assert!(
        err <= 1e-8,
        "CG vs Cholesky {err:.1e} after {} iterations",
        info.cg_iterations
    );
    assert!(st.rank.is_none(), "CG makes no rank decision");
}

#[test]
fn dense_and_structured_frobenius_norms_agree() {
    // μ of the standard flow needs ‖D‖_F², which the fast path takes from the signals.
    let (model, theta) = random_model(&[3, 9, 7, 2], 8, Activation::Softplus, 8);
    let (_, st, info) = field(&model, &theta, FlowSpec::Standard, Solver::Auto, RTOL);
    let (_, st_ref, _) = field(&model, &theta, FlowSpec::Standard, Solver::Svd, RTOL);
    assert_eq!(info.path, SolvePath::Backprop);
    let d = model.net.jacobian(&theta, &model.data.inputs);
    let frob: f64 = d.iter().map(|v| v * v).sum();
    let implied = st.output_speed / (st.stationarity * st.grad_x_norm);
    assert!(
        (implied - frob).abs() <= 1e-12 * frob,
        "{implied} vs {frob}"
    );
    assert!((st.output_speed - st_ref.output_speed).abs() <= 1e-12 * st_ref.output_speed);
    let _ = DMatrix::<f64>::zeros(0, 0);
}
