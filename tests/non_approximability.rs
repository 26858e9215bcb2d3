//! Claims with their hypotheses (issue 12, item 4): at the rest point of preset
//! `non-approximability-rest` the hypotheses of 2311.07065 Thm 1.5 hold and are checked here
//! independently of the session (a rest point of gradient descent, `K < QN`,
//! `rank 𝒫^⊥ ≥ QN − K`), the identity `C = (N/2)|𝒫^⊥∇ₓC|²` holds, and Thm 5.1's hypothesis
//! `rank D = K` fails for the reason the page gives (every hidden ReLU unit can be rescaled).

mod common;

use nalgebra::{DMatrix, DVector};
use pullback::math::diagnostics::Rest;
use pullback::math::flow::FlowSpec;
use pullback::math::integrate::IntegratorSpec;
use pullback::math::rank::REST_RTOL;
use pullback::run::session::Session;

/// `D[θ]` by the network's own Jacobian, `QN × K`, rows in the order of `model.y`.
fn jacobian(ses: &Session) -> DMatrix<f64> {
    let m = ses.model();
    m.net.jacobian(ses.theta(), &m.data.inputs)
}

#[test]
fn gradient_descent_rests_where_the_hypotheses_of_2311_07065_hold() {
    let sc = common::preset("non-approximability-rest");
    assert_eq!(
        sc.flow,
        FlowSpec::Standard,
        "Thm 1.5 is about gradient descent"
    );
    let IntegratorSpec::Rk45 { rtol, .. } = sc.integrator else {
        panic!("the preset integrates with RK45")
    };
    let mut ses = Session::new(&sc).unwrap();
    ses.run();
    let m = ses.model().clone();
    let (k, q, n, qn) = (m.k(), m.q(), m.n(), m.qn());
    assert!(k < qn, "underparametrized: K = {k}, QN = {qn}");
    assert_eq!(
        ses.rest(),
        Some(Rest::RankLossRest),
        "{:?}",
        ses.end_sentence()
    );
    let end = ses.end_check().unwrap().clone();

    // Independently of the session: the SVD of D at the end point, the rank at the scenario's
    // tolerance, 𝒫 from the leading left singular vectors.
    let d = jacobian(&ses);
    let svd = d.clone().svd(true, false);
    let smax = svd.singular_values.max();
    let rank = svd
        .singular_values
        .iter()
        .filter(|&&s| s > sc.rank_rtol * smax)
        .count();
    assert_eq!(
        rank, end.rank_used,
        "the field's rank is the numerical rank here"
    );
    let x = m.outputs(ses.theta());
    let g = DVector::from_iterator(qn, x.iter().zip(&m.y).map(|(a, b)| (a - b) / n as f64));
    let u = svd.u.as_ref().unwrap().columns(0, rank).into_owned();
    let pg = &u * (u.transpose() * &g);
    let perp = &g - &pg;
    let cost = m.cost_of_outputs(&x);
    // The hypotheses of 2311.07065 Thm 1.5: at rest (𝒫∇ₓC = 0 to the rest test's tolerance),
    // K < QN, and rank 𝒫^⊥ = QN − rank D ≥ QN − K.
    let ratio = pg.norm() / g.norm();
    assert!(ratio <= REST_RTOL, "|𝒫∇ₓC|/|∇ₓC| = {ratio:e}");
    assert!(
        qn - rank >= qn - k,
        "rank 𝒫⊥ = {} < QN − K = {}",
        qn - rank,
        qn - k
    );
    // The identity. By Pythagoras C − (N/2)|𝒫^⊥∇ₓC|² = (N/2)|𝒫∇ₓC|², so its relative defect is
    // ratio² ≤ REST_RTOL² at any point the rest test accepts, whatever the integrator did to get
    // there (RK45 keeps equilibria exactly, so its tolerance rtol sets how the orbit approaches
    // the rest point, not the defect there); add the rounding of the 2·QN-term sums of squares.
    let tol = REST_RTOL * REST_RTOL + 4.0 * qn as f64 * f64::EPSILON;
    let identity = (cost - 0.5 * n as f64 * perp.norm_squared()).abs() / cost;
    assert!(identity <= tol, "identity to {identity:e} > {tol:e}");
    assert!(cost > 0.0);

    // What the rest point is: every hidden unit dead on the data, so the outputs are one constant
    // c (the output bias) and D moves only it (rank Q). At rest c = ȳ, the mean target, and
    // C* = (1/2N) Σ_i |y_ω(i) − ȳ|² with C − C* = |c − ȳ|²/2 = (N/2)|𝒫∇ₓC|²: the same defect.
    // The end point's outputs are constant to the integration's rounding (rtol·|x| is far above).
    assert_eq!(
        rank, q,
        "rank D = Q: only the output bias moves the outputs"
    );
    let c: Vec<f64> = x[..q].to_vec();
    for i in 1..n {
        for j in 0..q {
            assert!((x[i * q + j] - c[j]).abs() <= rtol * c[j].abs().max(1.0));
        }
    }
    let ybar: Vec<f64> = (0..q)
        .map(|j| (0..n).map(|i| m.y[i * q + j]).sum::<f64>() / n as f64)
        .collect();
    let c_star = (0..n)
        .map(|i| {
            (0..q)
                .map(|j| (m.y[i * q + j] - ybar[j]).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (2.0 * n as f64);
    assert!(
        (cost - c_star).abs() <= tol * c_star,
        "C = {cost} against C* = {c_star}"
    );

    // Thm 5.1's hypothesis rank D = K fails, and must on ReLU: for each hidden unit, rescaling its
    // incoming weights and bias by a > 0 and its outgoing weights by 1/a moves no output, so its
    // derivative v_u is in ker D; the v_u are independent when the hidden biases are non-zero.
    assert!(end.rank_used < k, "Thm 5.1's hypothesis must fail on ReLU");
    let net = &m.net;
    let mut kernel = vec![];
    for l in 1..=net.hidden_layers() {
        let (w_in, b_in) = net.layer_offsets(l);
        let (w_out, _) = net.layer_offsets(l + 1);
        let (fan_in, width, next) = (net.widths()[l - 1], net.widths()[l], net.widths()[l + 1]);
        for u in 0..width {
            let mut v = DVector::zeros(k);
            let th = ses.theta();
            for a in 0..fan_in {
                v[w_in + u * fan_in + a] = th[w_in + u * fan_in + a];
            }
            v[b_in + u] = th[b_in + u];
            assert!(th[b_in + u] != 0.0, "hidden bias ({l}, {u}) is 0");
            for i in 0..next {
                v[w_out + i * width + u] = -th[w_out + i * width + u];
            }
            kernel.push(v);
        }
    }
    let h = kernel.len();
    let dnorm = d.norm();
    for (i, v) in kernel.iter().enumerate() {
        let dv = (&d * v).norm();
        assert!(dv <= 1e-12 * dnorm * v.norm(), "D v_{i} = {dv:e}");
    }
    let v = DMatrix::from_columns(&kernel);
    let sv = v.singular_values();
    assert!(
        sv.min() > 1e-8 * sv.max(),
        "rescaling directions independent: {sv}"
    );
    assert!(rank <= k - h, "rank D = {rank} > K − H = {}", k - h);
}

#[test]
fn the_comparison_preset_ends_moving_and_says_so() {
    // The preset that compares gradient descent with θ_c: its end point is not a rest point, so
    // no rest-point theorem may be claimed (the page's sentence for it is tested in panels.rs).
    let sc = common::preset("non-approximability");
    let mut ses = Session::new(&sc).unwrap();
    ses.run();
    let rest = ses.rest().unwrap();
    let end = ses.end_check().unwrap();
    assert_eq!(rest == Rest::Moving, end.proj_ratio > REST_RTOL);
    assert!(end.rank_used < ses.model().k(), "ReLU: rank D < K");
}
