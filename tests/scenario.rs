//! The scenario and trace formats: bad input gives errors that name the field; traces rerun bit
//! for bit.

mod common;
use pullback::run::scenario::{InitSpec, Scenario, Trace};
use pullback::run::session::Session;
use pullback::Error;

const GOOD: &str = r#"{
  "seed": 3,
  "data": {"kind": "custom", "inputs": [[0,0],[1,0],[0,1]], "labels": [0,1,1],
           "targets": [[1,0],[0,1]]},
  "net": {"widths": [2, 4, 2], "activation": "tanh"},
  "init": {"kind": "gaussian", "scale": 1.0},
  "flow": {"kind": "adapted"},
  "integrator": {"kind": "rk45", "rtol": 1e-8, "atol": 1e-10},
  "stop": {"s_max": 5, "cost_below": 1e-6},
  "rank_rtol": 1e-10,
  "record": {"every_s": 0.5, "theta": true}
}"#;

/// Replaces `from` by `to` in the good scenario and returns the error message.
fn error_of(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "test bug: {from} not in scenario");
    let text = GOOD.replacen(from, to, 1);
    match Session::from_json(&text) {
        Ok(_) => panic!("accepted a bad scenario: {to}"),
        Err(e) => e.to_string(),
    }
}

fn assert_names(msg: &str, field: &str) {
    assert!(
        msg.starts_with(field),
        "error should start with the field `{field}`: {msg}"
    );
}

#[test]
fn good_scenario_runs() {
    let mut s = Session::from_json(GOOD).unwrap();
    s.run();
    assert!(s.trace().samples.len() >= 2);
}

#[test]
fn bad_scenarios_name_their_field() {
    let cases = [
        (r#""seed": 3,"#, r#""seed": 3, "colour": "red","#, "colour"),
        (
            r#""activation": "tanh""#,
            r#""activation": "tanhh""#,
            "net.activation",
        ),
        (
            r#""widths": [2, 4, 2]"#,
            r#""widths": [3, 4, 2]"#,
            "net.widths[0]",
        ),
        (
            r#""widths": [2, 4, 2]"#,
            r#""widths": [2, 4, 3]"#,
            "net.widths[2]",
        ),
        (
            r#""widths": [2, 4, 2]"#,
            r#""widths": [2, 0, 2]"#,
            "net.widths[1]",
        ),
        (r#""widths": [2, 4, 2]"#, r#""widths": [2]"#, "net.widths"),
        (
            r#""inputs": [[0,0],[1,0],[0,1]], "labels": [0,1,1]"#,
            r#""inputs": [], "labels": []"#,
            "data.inputs",
        ),
        (
            r#""labels": [0,1,1]"#,
            r#""labels": [0,1,2]"#,
            "data.labels[2]",
        ),
        (r#""labels": [0,1,1]"#, r#""labels": [0,1]"#, "data.labels"),
        (
            r#""labels": [0,1,1]"#,
            r#""labels": [0,-1,1]"#,
            "data.labels[1]",
        ),
        (r#""scale": 1.0"#, r#""scale": -1.0"#, "init.scale"),
        (r#""rtol": 1e-8"#, r#""rtol": -1e-8"#, "integrator.rtol"),
        (r#""rtol": 1e-8"#, r#""rtol": 1e999"#, "integrator.rtol"),
        (r#""s_max": 5"#, r#""s_max": 0"#, "stop.s_max"),
        (
            r#""cost_below": 1e-6"#,
            r#""cost_below": "small""#,
            "stop.cost_below",
        ),
        (r#""rank_rtol": 1e-10"#, r#""rank_rtol": 2"#, "rank_rtol"),
        (r#""every_s": 0.5"#, r#""every_s": 1e-9"#, "record.every_s"),
        (
            r#"{"kind": "adapted"}"#,
            r#"{"kind": "homotopy", "alpha": 1.5}"#,
            "flow.alpha",
        ),
        (r#"{"kind": "adapted"}"#, r#"{"kind": "sideways"}"#, "flow"),
        (r#""seed": 3"#, r#""seed": 9007199254740993"#, "seed"),
        (
            r#"{"kind": "gaussian", "scale": 1.0}"#,
            r#"{"kind": "explicit", "theta": [1, 2, 3]}"#,
            "init.theta",
        ),
    ];
    for (from, to, field) in cases {
        let msg = error_of(from, to);
        assert_names(&msg, field);
        assert!(msg.len() > field.len() + 5, "message too terse: {msg}");
    }
}

#[test]
fn malformed_json_is_a_parse_error() {
    let e = Scenario::from_json("{\"seed\": 1,").unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e:?}");
    assert!(e.to_string().contains("line"), "{e}");
    let e = Scenario::from_json("[]").unwrap_err();
    assert!(e.to_string().starts_with("scenario"), "{e}");
}

#[test]
fn non_finite_values_through_the_api_are_named() {
    let mut sc = Scenario::from_json(GOOD).unwrap();
    let k = 2 * 4 + 4 + 4 * 2 + 2;
    let mut theta = vec![0.1; k];
    theta[5] = f64::NAN;
    sc.init = InitSpec::Explicit { theta };
    let e = Session::new(&sc).unwrap_err();
    assert_names(&e.to_string(), "init.theta[5]");
    let mut sc = Scenario::from_json(GOOD).unwrap();
    sc.stop.s_max = Some(f64::INFINITY);
    assert_names(&Session::new(&sc).unwrap_err().to_string(), "stop.s_max");
}

#[test]
fn too_large_for_the_dense_path_says_so_with_sizes() {
    let text = GOOD
        .replacen(
            r#""data": {"kind": "custom", "inputs": [[0,0],[1,0],[0,1]], "labels": [0,1,1],
           "targets": [[1,0],[0,1]]}"#,
            r#""data": {"kind": "blobs", "n": 20000, "classes": 2}"#,
            1,
        )
        .replacen(
            r#""widths": [2, 4, 2]"#,
            r#""widths": [2, 1024, 1024, 2]"#,
            1,
        );
    let e = Session::from_json(&text).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::TooLarge(_)), "{msg}");
    assert!(msg.contains("40000") && msg.contains("1054722"), "{msg}");
}

#[test]
fn traces_rerun_bit_for_bit() {
    for name in ["over-smooth", "borderline"] {
        let mut sc = common::preset(name);
        sc.stop.s_max = Some(20.0);
        let mut a = Session::new(&sc).unwrap();
        a.run();
        let ta = a.trace();
        // The trace's scenario is materialized: explicit data and θ₀.
        assert!(matches!(ta.scenario.init, InitSpec::Explicit { .. }));
        let json = ta.to_json();
        let parsed = Trace::from_json(&json).unwrap();
        assert_eq!(parsed, ta, "{name}: trace JSON does not round-trip");
        let rerun_scenario = Scenario::from_json(&parsed.scenario.to_json()).unwrap();
        let mut b = Session::new(&rerun_scenario).unwrap();
        b.run();
        assert_eq!(b.trace().to_json(), json, "{name}: rerun differs");
    }
}

#[test]
fn every_preset_materializes_and_takes_a_step() {
    for p in pullback::run::presets::all() {
        let mut s = Session::new(&p.scenario).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        if s.finished() {
            // Only a run that starts at its target may end before its first step.
            assert_eq!(s.status().name(), "cost_below", "{}", p.name);
            continue;
        }
        s.step();
        assert!(s.s() > 0.0, "{} did not advance", p.name);
    }
}
