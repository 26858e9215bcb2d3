//! The Gram route of the rank-deficient adapted field (`math::gram`) against the SVD reference:
//! on a net whose `D` loses rank exactly (repeated data points: equal rows of `D`), the field,
//! the numerical rank and the rank decisions along an orbit agree where `rank_rtol` lies above
//! the Gram's floor `√(100·QN·ε)`; below it the SVD runs, as before.

use pullback::linalg::max_rel_diff;
use pullback::math::data::Dataset;
use pullback::math::fast::{SolvePath, Solver};
use pullback::math::flow::{eval_field, FlowSpec, Workspace};
use pullback::math::gram;
use pullback::math::integrate::{IntegratorSpec, Stepper};
use pullback::math::model::Model;
use pullback::math::net::{Activation, Mlp};
use pullback::rng::Rng;
use pullback::run::session::FlowField;

/// 2-12-12-2 tanh on 30 points of which the last 6 repeat the first 6: `K = 218 ≥ QN = 60`,
/// `rank D ≤ 48` (two equal rows per repeated point and output).
fn repeated_points() -> (Model, Vec<f64>) {
    let mut rng = Rng::new(7);
    let mut inputs: Vec<Vec<f64>> = (0..24)
        .map(|_| (0..2).map(|_| rng.normal()).collect())
        .collect();
    inputs.extend(inputs[..6].to_vec());
    let labels: Vec<usize> = (0..30).map(|j| j % 2).collect();
    let data = Dataset::custom(&inputs, &labels, None).unwrap();
    let net = Mlp::new(&[2, 12, 12, 2], Activation::Tanh).unwrap();
    let theta: Vec<f64> = (0..net.k()).map(|_| 0.8 * rng.normal()).collect();
    (Model::new(net, data).unwrap(), theta)
}

fn field(model: &Model, theta: &[f64], solver: Solver, rtol: f64) -> (Vec<f64>, Workspace) {
    let mut ws = Workspace::with_solver(solver);
    ws.forward(model, theta).unwrap();
    let mut v = vec![0.0; model.k()];
    eval_field(&FlowSpec::Adapted, &mut ws, rtol, &mut v).unwrap();
    (v, ws)
}

#[test]
fn the_gram_field_equals_the_svd_field_to_eps_kappa_squared() {
    let (model, theta) = repeated_points();
    let rtol = 1e-4;
    assert!(rtol >= gram::rtol_floor(model.qn()));
    let (fast, ws) = field(&model, &theta, Solver::Auto, rtol);
    let info = ws.solve_info();
    assert_eq!(info.path, SolvePath::Gram, "{info:?}");
    let (reference, mut ws_ref) = field(&model, &theta, Solver::Svd, rtol);
    let svd = ws_ref.svd(rtol).unwrap();
    // Same numerical rank; 48 = QN − 2·6 unless the net itself lost more.
    let (sigma, _) = ws.gram_spectrum().unwrap();
    assert_eq!(
        pullback::linalg::numerical_rank(sigma, rtol),
        svd.rank(),
        "rank"
    );
    assert!(svd.rank() <= 48);
    // The Gram route's error is about ε·κ_r² (κ_r² = λ_max/λ_r = info.kappa), the SVD's ε·κ_r;
    // 1e3 covers the dimension factors of both (√K, QN).
    let tol = 1e3 * f64::EPSILON * info.kappa;
    let diff = max_rel_diff(&fast, &reference);
    assert!(diff <= tol, "Gram vs SVD field: {diff:.2e} > {tol:.2e}");
}

#[test]
fn below_the_floor_the_svd_decides() {
    let (model, theta) = repeated_points();
    let rtol = 1e-10;
    assert!(rtol < gram::rtol_floor(model.qn()));
    let (_, ws) = field(&model, &theta, Solver::Auto, rtol);
    assert_eq!(ws.solve_info().path, SolvePath::Svd);
    assert!(ws.solve_info().fallback.is_some());
    assert!(ws.gram_spectrum().is_none());
}

#[test]
fn rank_decisions_along_an_orbit_equal_the_svd_ones() {
    let (model, theta) = repeated_points();
    let rtol = 1e-4;
    let mut runs = vec![];
    for solver in [Solver::Auto, Solver::Svd] {
        let mut f = FlowField::with_solver(model.clone(), FlowSpec::Adapted, rtol, solver);
        let mut st = Stepper::new(IntegratorSpec::default(), 0.0, &theta, &mut f).unwrap();
        let mut ranks = vec![];
        for _ in 0..25 {
            f.accept();
            if f.take_update().is_some_and(|(u, _)| u.previous != u.used) {
                st.refresh(&mut f).unwrap();
            }
            ranks.push(f.rank_used());
            st.step(&mut f, f64::INFINITY).unwrap();
        }
        runs.push((ranks, f.path_counts()));
    }
    let (auto, svd) = (&runs[0], &runs[1]);
    assert!(auto.1.gram > 0 && auto.1.svd == 0, "{:?}", auto.1);
    assert_eq!(auto.0, svd.0, "rank_used along the orbit");
    assert!(auto.0.iter().all(|r| r.is_some_and(|r| r < model.qn())));
}
