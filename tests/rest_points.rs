//! Rest points told truthfully: a seeded family of small underparametrized networks under the
//! adapted flow. Every run must end within its budget with a class (`global_minimum`,
//! `regular_rest`, `rank_loss_rest`, `blow_up`, `moving`), never by `step_size` or `max_steps`,
//! and an independent check at its end point — the SVD of the exact Jacobian, computed here —
//! must confirm the class at the rank the field used.

use nalgebra::DVector;
use pullback::math::diagnostics::Rest;
use pullback::run::event::EventKind;
use pullback::run::scenario::{Scenario, Trace};
use pullback::run::session::Session;

/// The family: activations × widths × data × init scales, all with `K < QN`.
fn family() -> Vec<Scenario> {
    let acts = ["tanh", "softplus", "sigmoid", "relu", "leaky_relu"];
    let datas = [
        r#"{"kind":"blobs","n":36,"classes":3,"noise":0.5}"#,
        r#"{"kind":"blobs","n":30,"classes":3,"noise":0.3}"#,
        r#"{"kind":"moons","n":30,"noise":0.1}"#,
        r#"{"kind":"circles","n":24}"#,
        r#"{"kind":"xor","n":24}"#,
    ];
    (0..25usize)
        .map(|i| {
            let act = acts[i % acts.len()];
            let data = datas[(i / 5 + i) % datas.len()];
            let q = if data.contains("blobs") { 3 } else { 2 };
            let hidden = [2usize, 3, 4][i % 3];
            let widths = if i % 4 == 3 {
                format!("[2,{hidden},2,{q}]")
            } else {
                format!("[2,{hidden},{q}]")
            };
            let scale = [0.5, 1.0, 2.0][(i / 3) % 3];
            let text = format!(
                r#"{{"seed": {}, "data": {data}, "net": {{"widths": {widths}, "activation": "{act}"}},
                    "init": {{"kind": "gaussian", "scale": {scale}}},
                    "integrator": {{"kind": "rk45", "rtol": 1e-10, "atol": 1e-12}},
                    "stop": {{"s_max": 1500, "max_steps": 40000}},
                    "record": {{"every_s": 50}}}}"#,
                100 + i
            );
            Scenario::from_json(&text).unwrap()
        })
        .chain([2u64, 5, 9].map(|seed| {
            // 2-2-3 tanh on noisy blobs with a unit-scale start: orbits that keep rank K.
            Scenario::from_json(&format!(
                r#"{{"seed": {seed}, "data": {{"kind":"blobs","n":36,"classes":3,"noise":0.5}},
                    "net": {{"widths": [2,2,3], "activation": "tanh"}},
                    "integrator": {{"kind": "rk45", "rtol": 1e-10, "atol": 1e-12}},
                    "stop": {{"s_max": 4000, "max_steps": 40000}}, "record": {{"every_s": 100}}}}"#
            ))
            .unwrap()
        }))
        .collect()
}

/// `(σ descending, U)` of the exact `D` at `θ`, from nalgebra's SVD in the test.
fn exact_svd(sc: &Scenario, theta: &[f64]) -> (Vec<f64>, nalgebra::DMatrix<f64>, Vec<f64>, f64) {
    let m = sc.materialize().unwrap().model;
    let d = m.net.jacobian(theta, &m.data.inputs);
    let x = m.outputs(theta);
    let g: Vec<f64> = x
        .iter()
        .zip(&m.y)
        .map(|(a, b)| (a - b) / m.n() as f64)
        .collect();
    let svd = d.svd(true, false);
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    let sigma: Vec<f64> = order.iter().map(|&i| svd.singular_values[i]).collect();
    let u = svd.u.unwrap();
    let u = nalgebra::DMatrix::from_fn(u.nrows(), order.len(), |r, c| u[(r, order[c])]);
    (sigma, u, g, m.cost(theta))
}

/// `|𝒫_r g|/|g|` with `𝒫_r` the projector on the `r` leading left singular vectors.
fn proj_ratio(u: &nalgebra::DMatrix<f64>, g: &[f64], r: usize) -> f64 {
    let g = DVector::from_column_slice(g);
    let c = u.columns(0, r).tr_mul(&g);
    c.norm() / g.norm()
}

fn check(i: usize, sc: &Scenario, t: &Trace) -> Rest {
    let f = &t.final_state;
    let rest = f
        .rest
        .unwrap_or_else(|| panic!("{i}: no class: {:?}", f.note));
    let used = f.rank_used.unwrap();
    let rank = f.rank.unwrap();
    assert!(
        !matches!(f.reason.as_str(), "step_size" | "max_steps" | "non_finite"),
        "{i}: ended by {} while {rest:?}",
        f.reason
    );
    let (sigma, u, g, cost) = exact_svd(sc, &f.theta);
    let max = sigma[0];
    let full = sigma.len();
    // The numerical rank the trace reports is the test's own.
    let numerical = sigma.iter().filter(|&&s| s > t.rank_rtol * max).count();
    assert_eq!(rank, numerical, "{i}: rank");
    let p = proj_ratio(&u, &g, used);
    match rest {
        Rest::RegularRest | Rest::RankLossRest => {
            assert!(p <= 1e-8, "{i}: {rest:?} but |𝒫g|/|g| = {p:e} at {used}");
            let perp = (1.0 - p * p).max(0.0) * g.iter().map(|v| v * v).sum::<f64>();
            let n = t.n as f64;
            assert!(
                (cost - 0.5 * n * perp).abs() <= 1e-8 * cost,
                "{i}: C = (N/2)|𝒫⊥g|²"
            );
            assert_eq!(
                rest == Rest::RegularRest,
                used == full,
                "{i}: {rest:?} at {used}"
            );
            assert_eq!(f.reason, "stationary", "{i}");
        }
        Rest::Moving => {
            assert!(p > 1e-8, "{i}: moving but at rest ({p:e})");
            assert_eq!(f.reason, "s_max", "{i}");
        }
        Rest::BlowUp => {
            // The event names the vanishing singular value: at the end point it is inside the
            // band, carries most of the field of rank used + 1, and is not negligible.
            let ev = t.events.last().unwrap();
            let EventKind::BlowUp {
                singularity: sing,
                rank_used,
                ..
            } = &ev.kind
            else {
                panic!("{i}: blow_up ended by {:?}", ev.kind)
            };
            let r = sing.index;
            assert_eq!(
                r + 1,
                *rank_used,
                "{i}: the dropped one is the smallest kept"
            );
            let ratio = sigma[r] / max;
            assert!(
                (ratio - sing.sigma_ratio).abs() <= 1e-6 * ratio,
                "{i}: σ ratio {ratio:e} vs {:e}",
                sing.sigma_ratio
            );
            assert!(ratio <= 1e3 * t.rank_rtol || sing.stalled, "{i}: {ratio:e}");
            let gv = DVector::from_column_slice(&g);
            let c: Vec<f64> = (0..=r).map(|j| u.column(j).dot(&gv) / sigma[j]).collect();
            let total: f64 = c.iter().map(|v| v * v).sum();
            assert!(
                c[r] * c[r] >= 0.5 * total * (1.0 - 1e-6),
                "{i}: share {} of {total:e} ({sing:?}, sigma {:?})",
                c[r] * c[r],
                &sigma[..=r]
            );
            assert!(sing.unit_text.is_some(), "{i}: the unit is named");
        }
        Rest::GlobalMinimum => {
            let y2: f64 = sc
                .materialize()
                .unwrap()
                .model
                .y
                .iter()
                .map(|v| v * v)
                .sum();
            assert!(cost <= 1e-24 * (y2 / (2.0 * t.n as f64)).max(1.0), "{i}");
        }
    }
    rest
}

#[test]
fn every_underparametrized_run_ends_with_a_class_that_its_end_point_confirms() {
    let mut counts = std::collections::BTreeMap::new();
    for (i, sc) in family().into_iter().enumerate() {
        let m = sc.materialize().unwrap().model;
        assert!(m.k() < m.qn(), "{i}: the family is underparametrized");
        let mut s = Session::new(&sc).unwrap();
        s.run();
        let t = s.trace();
        // Bounded work: the step budget of the scenario (each step a handful of evaluations).
        assert!(
            t.stats.steps <= 40_000 && t.stats.evals <= 40_000 * 13,
            "{i}"
        );
        let rest = check(i, &sc, &t);
        *counts.entry(rest.name()).or_insert(0) += 1;
        // Samples and events use the same rank as the field: rank_used ≤ rank wherever both are
        // reported at a rank decision.
        for e in &t.events {
            if let EventKind::RankChange {
                rank,
                rank_used: Some(u),
                ..
            } = &e.kind
            {
                assert!(
                    u <= rank,
                    "{i}: rank_used {u} above the numerical rank {rank}"
                );
            }
        }
    }
    eprintln!("classes over the family: {counts:?}");
    assert!(
        counts.len() >= 4,
        "the family shows several classes: {counts:?}"
    );
}
