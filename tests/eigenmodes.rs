//! The eigenmode view (docs/math/eigenmodes.md) through a real host: on `over-smooth` the adapted
//! flow's error decays along every NTK eigenvector at θ₀ with the one slope −1/N (exact while
//! rank D = QN, Thm 2.1), while the standard flow's modes decay at their own rates.

mod common;
use pullback::app::protocol::{FromWorker, Host, ModesHeader, Reply};
use pullback::math::eigenmodes::log_slope;
use serde_json::json;

/// Everything the host sent about the eigenmodes: the last header and every lane's points.
#[derive(Default)]
struct Collected {
    header: Option<ModesHeader>,
    points: Vec<Vec<(f64, Vec<f64>)>>,
    moving: Vec<(f64, f64, f64, Vec<f64>)>,
}

impl Collected {
    fn feed(&mut self, replies: Vec<Reply>) {
        for r in replies {
            if let FromWorker::Modes { modes, .. } = r.msg {
                let d = modes.decode(&r.bulk).unwrap();
                self.points.resize(modes.new_points.len(), vec![]);
                for (p, new) in self.points.iter_mut().zip(d.points) {
                    p.extend(new);
                }
                self.moving
                    .extend(d.moving.into_iter().map(|m| (m.s, m.e_norm, m.drift, m.a)));
                self.header = Some(modes);
            }
        }
    }
}

fn ticking() -> impl FnMut() -> f64 {
    let mut t = 0.0;
    move || {
        t += 1.0;
        t
    }
}

/// Runs `preset` with `flows` to the end with the eigenmode view on (moving basis of lane 0).
fn run(preset: &str, flows: serde_json::Value) -> (Host, Collected) {
    let mut host = Host::new();
    let mut got = Collected::default();
    let sc = common::preset(preset);
    got.feed(host.handle(
        json!({"id": 1, "type": "load", "scenario": sc.to_json(), "flows": flows}),
        0.0,
    ));
    got.feed(host.handle(json!({"id": 2, "type": "eigenmodes", "lane": 0}), 0.0));
    got.feed(host.handle(json!({"id": 3, "type": "run_until"}), 0.0));
    let mut clock = ticking();
    while host.wants_tick() {
        got.feed(host.tick(&mut clock));
    }
    (host, got)
}

#[test]
fn adapted_modes_share_the_slope_minus_one_over_n_and_standard_modes_do_not() {
    let (host, got) = run(
        "over-smooth",
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
    );
    let h = got.header.as_ref().unwrap();
    assert_eq!(h.note, None);
    let n = h.n as f64;
    // QN = 32 ≤ 32: every mode is shown.
    assert_eq!(h.modes.len(), h.qn);
    assert_eq!(h.rank0, h.qn);
    let adapted = &got.points[0];
    let lanes = host.comparison().unwrap().lanes();
    // Every recorded sample of the adapted lane kept rank D = QN: Thm 2.1 applies.
    assert!(lanes[0].session.samples().iter().all(|p| p.rank == h.qn));
    // The integration error splits into a part along e(0), which changes every mode's slope by
    // the same amount (measured below as the slope of |e|), and a part r⊥ = max_s |e(s) −
    // ⟨e(s), ê₀⟩ê₀| / |e(s)| across it, which can bend mode i's fitted slope by about
    // 2r⊥|e|/(|a_i|·span) (docs/math/eigenmodes.md with r⊥ for r).
    let a0 = &adapted[0].1;
    let e0: f64 = a0.iter().map(|a| a * a).sum::<f64>().sqrt();
    let mut r_perp: f64 = 0.0;
    for (_, a) in adapted {
        let along: f64 = a.iter().zip(a0).map(|(x, y)| x * y).sum::<f64>() / e0;
        let perp: f64 = a
            .iter()
            .zip(a0)
            .map(|(x, y)| (x - along * y / e0).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        r_perp = r_perp.max(perp / norm);
    }
    let span = adapted.last().unwrap().0 - adapted[0].0;
    let common = log_slope(
        &adapted
            .iter()
            .map(|(s, a)| (*s, a.iter().map(|x| x * x).sum::<f64>().sqrt()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    println!(
        "r⊥ = {r_perp:.3e}, span {span}, |e0| = {e0:.3e}, |e| slope·N = {:.10}",
        common * n
    );
    // The common part: |e(s)| = e^{−s/N}|e(0)| (2.7) to the integrator's tolerance.
    assert!(
        (common + 1.0 / n).abs() <= 5e-7,
        "|e| slope {common} vs −1/N"
    );
    // Every mode whose own bound is within the rest of 1e-6 must meet −1/N to 1e-6.
    let room = 1e-6 - (common + 1.0 / n).abs();
    let mut tested = 0;
    for m in 0..h.modes.len() {
        let pts: Vec<(f64, f64)> = adapted.iter().map(|(s, a)| (*s, a[m])).collect();
        let slope = log_slope(&pts).unwrap();
        let bound = 2.0 * r_perp * e0 / (a0[m].abs() * span);
        println!(
            "mode {m}: λ = {:.3e}, a0 = {:.3e}, slope·N = {:.9}, bound {bound:.2e}",
            h.lambdas[m],
            a0[m],
            slope * n
        );
        if bound <= room {
            tested += 1;
            assert!(
                (slope + 1.0 / n).abs() <= 1e-6,
                "mode {m}: slope {slope} vs −1/N"
            );
        }
    }
    assert!(tested >= h.modes.len() / 2, "only {tested} modes resolved");
    // The standard flow's fitted slopes are not one slope: they spread by more than a thousand
    // times the 2·1e-6 that the adapted ones may spread.
    let std_slopes: Vec<f64> = (0..h.modes.len())
        .filter_map(|m| {
            log_slope(
                &got.points[1]
                    .iter()
                    .map(|(s, a)| (*s, a[m]))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let (lo, hi) = std_slopes
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    println!("standard slopes·N in [{}, {}]", lo * n, hi * n);
    assert!(
        hi - lo > 1e3 * 2e-6,
        "standard slopes·N in [{}, {}]",
        lo * n,
        hi * n
    );
    // The moving basis of the adapted lane: every mode is shown (QN ≤ 32), so Σa_i² = |e|² to
    // rounding, and |e(s)| = e^{−s/N}|e(0)| as above.
    assert!(got.moving.len() >= 2, "{} moving points", got.moving.len());
    for (s, e, drift, a) in &got.moving {
        let sum: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(
            (sum - e).abs() <= 1e-12 * e,
            "s = {s}: |a| = {sum} vs |e| = {e}"
        );
        assert!(
            (e / (e0 * (-s / n).exp()) - 1.0).abs() <= 1e-4,
            "s = {s}: |e| = {e}"
        );
        assert!(drift.is_finite() && *drift >= 0.0);
    }
}
