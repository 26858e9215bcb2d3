//! Orbit-level properties: the underparametrized stationary cost (Thm 5.1), monotone cost, and
//! first-order convergence of Euler (gradient descent) to the flow.

mod common;
use pullback::math::flow::FlowSpec;
use pullback::math::integrate::IntegratorSpec;
use pullback::run::session::Session;

#[test]
fn underparametrized_adapted_flow_rests_at_the_perpendicular_cost() {
    let sc = common::preset("under-stationary");
    let mut session = Session::new(&sc).unwrap();
    session.run();
    let t = session.trace();
    assert!(t.k < t.q * t.n, "preset must be underparametrized");
    assert_eq!(t.final_state.reason, "stationary", "events: {:?}", t.events);
    let last = t.samples.last().unwrap();
    assert_eq!(last.s, t.final_state.s);
    assert_eq!(last.rank, t.k, "Thm 5.1 needs rank D = K");
    let ratio = last.proj_grad_norm / last.grad_x_norm;
    assert!(ratio <= 1e-8, "|𝒫∇C|/|∇C| = {ratio:.2e}");
    assert!(
        last.cost > 1e-3,
        "the stationary cost must be positive: {}",
        last.cost
    );
    let rel = (last.cost - last.perp_cost).abs() / last.cost;
    assert!(rel < 1e-8, "C vs (N/2)|𝒫⊥∇C|²: relative {rel:.2e}");
}

fn assert_monotone(preset: &str, flow: FlowSpec, s_max: f64) {
    let mut sc = common::preset(preset);
    sc.flow = flow;
    sc.stop.s_max = Some(s_max);
    sc.stop.cost_below = None;
    sc.record.every_s = Some(s_max / 400.0);
    let mut session = Session::new(&sc).unwrap();
    session.run();
    let t = session.trace();
    assert!(t.samples.len() > 100);
    for w in t.samples.windows(2) {
        // Rounding of C itself: 1e-13 relative.
        assert!(
            w[1].cost <= w[0].cost * (1.0 + 1e-13),
            "{preset}/{}: C rose from {} at s = {} to {} at s = {}",
            flow.label(),
            w[0].cost,
            w[0].s,
            w[1].cost,
            w[1].s
        );
    }
    assert!(t.samples.last().unwrap().cost < t.samples[0].cost);
}

#[test]
fn cost_never_increases_under_rk45() {
    assert_monotone("over-smooth", FlowSpec::Standard, 160.0);
    assert_monotone("over-smooth", FlowSpec::Adapted, 160.0);
    assert_monotone("under-stationary", FlowSpec::Standard, 400.0);
    assert_monotone("under-stationary", FlowSpec::Adapted, 400.0);
    assert_monotone("borderline", FlowSpec::Standard, 60.0);
    assert_monotone("borderline", FlowSpec::Adapted, 60.0);
}

fn theta_at(sc: &pullback::run::scenario::Scenario, integrator: IntegratorSpec) -> Vec<f64> {
    let mut sc = sc.clone();
    sc.integrator = integrator;
    let mut session = Session::new(&sc).unwrap();
    session.run();
    assert_eq!(session.trace().final_state.reason, "s_max");
    session.theta().to_vec()
}

#[test]
fn euler_converges_to_the_flow_at_first_order() {
    for flow in [FlowSpec::Standard, FlowSpec::Adapted] {
        let mut sc = common::preset("over-smooth");
        sc.flow = flow;
        sc.stop.s_max = Some(2.0);
        sc.stop.cost_below = None;
        let reference = theta_at(
            &sc,
            IntegratorSpec::Rk45 {
                rtol: 1e-12,
                atol: 1e-14,
                h_max: None,
            },
        );
        let errors: Vec<f64> = [0.02, 0.01, 0.005]
            .iter()
            .map(|&h| {
                let th = theta_at(&sc, IntegratorSpec::Euler { h });
                th.iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        for w in errors.windows(2) {
            let ratio = w[0] / w[1];
            assert!(
                (1.8..=2.2).contains(&ratio),
                "{}: halving h changed the error by {ratio:.3} (errors {errors:?})",
                flow.label()
            );
        }
    }
}

#[test]
fn diverging_gradient_descent_stops_with_non_finite() {
    // h = 0.5 is far beyond 2/λ_max of the NTK on this preset: gradient descent blows up.
    let mut sc = common::preset("over-smooth");
    sc.flow = FlowSpec::Standard;
    sc.integrator = IntegratorSpec::Euler { h: 0.5 };
    let mut s = Session::new(&sc).unwrap();
    s.run();
    let t = s.trace();
    assert_eq!(t.final_state.reason, "non_finite", "events: {:?}", t.events);
    assert!(
        t.final_state.cost.is_finite(),
        "the end state is the last finite one"
    );
    assert!(t.final_state.s < t.scenario.stop.s_max.unwrap());
}
