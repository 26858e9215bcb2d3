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
        (r#""s_max": 5"#, r#""s_max": -1"#, "stop.s_max"),
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

/// A trace as the untyped events wrote it (`{"s", "kind", "message", …}` with the kind-specific
/// keys in insertion order), one event of every kind, numbers with 17 significant digits.
const OLD_TRACE: &str = r#"{"format":"pullback-trace","version":1,
"scenario":{"name":"softplus-trapped","seed":1,"data":{"kind":"custom","inputs":[[1.0,1.0],[-1.0,-1.0],[1.0,-1.0],[-1.0,1.0]],"labels":[0,0,1,1],"targets":[[1.0],[-1.0]]},"net":{"widths":[2,2,1],"activation":"softplus"},"init":{"kind":"explicit","theta":[0.0,0.0,0.0,0.0,0.0,0.2,0.1,0.1,0.5]},"flow":{"kind":"standard"},"integrator":{"kind":"rk45","rtol":1e-8,"atol":1e-10},"stop":{"s_max":400.0,"cost_below":1e-8},"rank_rtol":1e-10,"record":{"every_s":2.0,"theta":false,"outputs":false,"singular_values":false},"escape":{"auto":true,"max":3,"step":1.0,"shrink":0.5,"min_step":1e-8,"sufficient":0.1,"equilibrium_rtol":1e-6}},
"K":9,"Q":1,"N":4,"regime":"over","flow":"standard","rank_rtol":1e-10,"initial_cost":0.7106839729108279,
"samples":[{"s":0.0,"cost":0.7106839729108279,"rank":3,"sigma_max":2.9141049006389133,"sigma_min":0.0,"lambda_min":0.0,"rho":1.5866556047378182,"grad_x_norm":0.596105683965028,"proj_grad_norm":0.3245643024970768,"perp_cost":0.5,"class_spread":[0.0,0.0],"class_mean_distance":[0.3508713950058463,1.6491286049941536]}],
"events":[
{"s":0.0,"kind":"cost_below","message":"C(0) = 1.000e-9 is already ≤ ε = 1.000e-8","cost":1e-9},
{"s":1.5,"kind":"rank_change","message":"rank D changed from 3 to 4","rank":4,"previous_rank":3,"dae":false},
{"s":11.263823027357086,"kind":"stationary","message":"the flow is at rest: μ = 9.44e-10 ≤ 1e-9, C = 5.000000e-1","stationarity":9.441374088604349e-10,"cost":0.5},
{"s":11.263823027357086,"kind":"escape","message":"escaped along the normal bundle of M_crit (r = 3, dim = 6)","cost_before":0.5,"cost_after":0.4861176506436912,"rank":3,"alphas":[0,5,8],"kappa":[0.1,-0.2,0.30000000000000004],"direction":[0.0,0.0,0.0,0.0,0.0,0.6,0.0,0.0,-0.8],"theta_before":[0.0,0.0,0.0,0.0,0.0,0.2,0.1,0.1,0.5],"step":1.0,"rayleigh":-0.030633939582533735,"predicted_change":-0.015316969791266868,"trials":1,"point":"rank_loss_equilibrium","dimension":6},
{"s":70.33930390137111,"kind":"no_escape","message":"no normal perturbation lowers the cost","cost":0.1250000000000001,"rank":6,"point":"rank_loss_equilibrium","rayleigh_min":0.26034202742912815},
{"s":70.5,"kind":"no_escape","message":"D = 0 (rank 0): there are no columns V_α and no normal bundle","cost":0.5,"rank":0,"point":"rank_loss"},
{"s":71.0,"kind":"no_escape","message":"the escape attempt failed: a non-finite value"},
{"s":149.20000000000002,"kind":"trapped","message":"ρ < 1.0e-2 for s ∈ [2.5000, 149.2000]","s_enter":2.5,"s_exit":149.20000000000002,"measured":146.70000000000002,"bound":28.881618987491976,"bound_rho_max":28.92847053604931,"arc_length":0.14440883693813591,"entry_distance":2.0000102764415852,"rho_below":0.01,"rho_max":0.009983804346483181,"rank":4,"left":true},
{"s":237.9778501452595,"kind":"cost_below","message":"C = 1.000e-8 ≤ ε = 1.000e-8 at s = 237.977850","cost":9.999999999988671e-9,"epsilon":1e-8},
{"s":400.0,"kind":"s_max","message":"reached s_max = 400"},
{"s":400.0,"kind":"max_steps","message":"stopped after 200000 steps"},
{"s":400.0,"kind":"non_finite","message":"stopped at s = 400: a non-finite value"},
{"s":400.0,"kind":"step_size","message":"stopped at s = 400: the step size fell below its floor"}],
"final":{"s":237.9778501452595,"cost":9.999999999988671e-9,"theta":[1.4665620500900303,-1.4665620500900303,-1.7739292047455257,1.7739292047455257,-0.3405919309352464,-0.607535556677137,-1.1379719513292732,-1.0046399543222224,2.04807262215153],"reason":"cost_below"},
"predicted_stopping_time":36.15830662683455,"measured_stopping_time":67.72084703343285,
"stats":{"steps":285,"rejected":0,"evals":1719}}"#;

#[test]
fn a_trace_written_with_untyped_events_reads_into_the_typed_ones_and_back() {
    use pullback::math::critical::PointKind;
    use pullback::run::event::EventKind;
    let t = Trace::from_json(OLD_TRACE).unwrap();
    let names: Vec<&str> = t.events.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "cost_below",
            "rank_change",
            "stationary",
            "escape",
            "no_escape",
            "no_escape",
            "no_escape",
            "trapped",
            "cost_below",
            "s_max",
            "max_steps",
            "non_finite",
            "step_size"
        ]
    );
    let k = |i: usize| &t.events[i].kind;
    assert_eq!(
        *k(0),
        EventKind::CostBelow {
            cost: 1e-9,
            epsilon: None
        }
    );
    assert_eq!(
        *k(1),
        EventKind::RankChange {
            rank: 4,
            previous_rank: 3,
            dae: false,
            rank_used: None,
            reason: None,
            band: vec![],
            band_edges: None,
            singularity: None,
        }
    );
    let EventKind::Escape(e) = k(3) else {
        panic!("{:?}", k(3))
    };
    assert_eq!((e.cost_after, e.rank, e.trials), (0.4861176506436912, 3, 1));
    assert_eq!((e.point, e.dimension), (PointKind::RankLossEquilibrium, 6));
    assert_eq!(e.alphas, [0, 5, 8]);
    assert_eq!(e.kappa[2], 0.30000000000000004);
    // θ₀' = θ* + step·direction.
    assert_eq!(e.theta_after()[5], 0.2 + 0.6);
    let EventKind::NoEscape { at: Some(n) } = k(4) else {
        panic!("{:?}", k(4))
    };
    assert_eq!(
        (n.cost, n.rank, n.point),
        (0.1250000000000001, 6, PointKind::RankLossEquilibrium)
    );
    assert_eq!(n.rayleigh_min, Some(0.26034202742912815));
    let EventKind::NoEscape { at: Some(n) } = k(5) else {
        panic!("{:?}", k(5))
    };
    assert_eq!((n.rank, n.rayleigh_min), (0, None));
    assert_eq!(*k(6), EventKind::NoEscape { at: None });
    let EventKind::Trapped(iv) = k(7) else {
        panic!("{:?}", k(7))
    };
    assert_eq!(
        (iv.rank_min, iv.left, iv.bound),
        (4, true, 28.881618987491976)
    );
    assert_eq!(
        *k(8),
        EventKind::CostBelow {
            cost: 9.999999999988671e-9,
            epsilon: Some(1e-8)
        }
    );
    assert_eq!(*k(12), EventKind::StepSize);
    assert_eq!(
        t.events[12].message,
        "stopped at s = 400: the step size fell below its floor"
    );

    // Written back: the same keys and values (bit for bit), …
    let old: serde_json::Value = serde_json::from_str(OLD_TRACE).unwrap();
    let new: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
    assert_eq!(new, old);
    assert_eq!(Trace::from_json(&t.to_json()).unwrap(), t);
    // … in the same order: the same bytes.
    assert_eq!(t.to_json(), OLD_TRACE.replace('\n', ""));
}

#[test]
fn an_unknown_event_kind_is_an_error_naming_the_event() {
    let text = OLD_TRACE.replace(r#""kind":"s_max""#, r#""kind":"s_maximum""#);
    let e = Trace::from_json(&text).unwrap_err().to_string();
    assert!(e.contains("events[9]") && e.contains("s_maximum"), "{e}");
}
