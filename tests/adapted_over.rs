//! Thm 2.1 and Thm 2.2 on the overparametrized smooth preset: the adapted flow's cost follows
//! `C(0)e^{−2s/N}`, outputs move on straight segments, and the hitting time of `C ≤ ε` is
//! `(N/2) log(C(0)/ε)`.

mod common;
use pullback::math::integrate::IntegratorSpec;
use pullback::run::session::Session;

#[test]
fn adapted_flow_follows_the_theory_on_the_overparametrized_preset() {
    let mut sc = common::preset("over-smooth");
    sc.integrator = IntegratorSpec::Rk45 {
        rtol: 1e-10,
        atol: 1e-12,
        h_max: None,
    };
    sc.record.outputs = true;
    // First the whole interval [0, 10N] without a cost target.
    let n = 16.0;
    sc.stop.cost_below = None;
    sc.stop.s_max = Some(10.0 * n);
    sc.record.every_s = Some(n / 4.0);
    let mut session = Session::new(&sc).unwrap();
    session.run();
    let trace = session.trace();
    assert_eq!(trace.n, 16);
    assert!(
        trace.k > trace.q * trace.n,
        "preset must be overparametrized"
    );
    assert_eq!(trace.final_state.reason, "s_max");
    assert!((trace.final_state.s - 10.0 * n).abs() < 1e-9);
    let c0 = trace.initial_cost;
    let qn = trace.q * trace.n;
    let mut worst_log: f64 = 0.0;
    for smp in &trace.samples {
        assert_eq!(smp.rank, qn, "rank D must stay QN at s = {}", smp.s);
        let predicted = c0.ln() - 2.0 * smp.s / n;
        worst_log = worst_log.max((smp.cost.ln() - predicted).abs() / predicted.abs());
    }
    assert!(
        worst_log < 1e-6,
        "log C deviates from log C(0) − 2s/N by {worst_log:.2e} (relative)"
    );
    assert!(trace.samples.len() >= 40);
    // Straight segments: x_j(s) = y + e^{−s/N}(x_j(0) − y), i.e. on the segment x_j(0) → y_ω(j).
    let x0 = trace.samples[0].outputs.clone().unwrap();
    let y = session.model().y.clone();
    let q = trace.q;
    let mut worst_seg: f64 = 0.0;
    for smp in &trace.samples {
        let x = smp.outputs.as_ref().unwrap();
        for j in 0..trace.n {
            let r = j * q..(j + 1) * q;
            let d: Vec<f64> = r.clone().map(|i| y[i] - x0[i]).collect();
            let len = d.iter().map(|v| v * v).sum::<f64>().sqrt();
            let w: Vec<f64> = r.clone().map(|i| x[i] - x0[i]).collect();
            let t = w.iter().zip(&d).map(|(a, b)| a * b).sum::<f64>() / (len * len);
            let off: f64 = w
                .iter()
                .zip(&d)
                .map(|(a, b)| (a - t * b).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                (-1e-9..=1.0 + 1e-9).contains(&t),
                "x_{j} left its segment: t = {t}"
            );
            worst_seg = worst_seg.max(off / len);
        }
    }
    assert!(
        worst_seg < 1e-7,
        "outputs leave their straight segments by {worst_seg:.2e} (relative)"
    );

    // Thm 2.2: hitting time of C ≤ 1e-8·C(0).
    let eps = 1e-8 * c0;
    sc.stop.cost_below = Some(eps);
    let mut session = Session::new(&sc).unwrap();
    session.run();
    let t = session.trace();
    assert_eq!(t.final_state.reason, "cost_below");
    let measured = t.measured_stopping_time.unwrap();
    let predicted = 0.5 * n * 1e8f64.ln();
    assert!((t.predicted_stopping_time.unwrap() - predicted).abs() < 1e-9 * predicted);
    let rel = (measured - predicted).abs() / predicted;
    assert!(
        rel < 1e-6,
        "hitting time {measured} vs (N/2)log(1e8) = {predicted}: relative {rel:.2e}"
    );
    assert!((t.final_state.cost - eps).abs() < 1e-6 * eps);
}
