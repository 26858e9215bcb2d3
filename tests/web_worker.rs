//! The worker protocol inside a real dedicated worker (wasm-bindgen-test): a scenario
//! round-trips through `load`, frames, `step` and `trace` with bulk numbers as `Float64Array`s,
//! and bad messages come back as error variants that name the field.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float64Array, Reflect, JSON};
use pullback::run::scenario::Trace;
use pullback::web::WorkerHost;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

fn msg(json: &str) -> JsValue {
    JSON::parse(json).unwrap()
}

fn only(a: Array) -> JsValue {
    assert_eq!(a.length(), 1, "{:?}", a);
    a.get(0)
}

#[wasm_bindgen_test]
fn runs_in_a_dedicated_worker() {
    let g = js_sys::global();
    assert!(g.dyn_ref::<web_sys::DedicatedWorkerGlobalScope>().is_some());
    assert!(Reflect::get(&g, &"document".into()).unwrap().is_undefined());
}

#[wasm_bindgen_test]
fn a_scenario_round_trips_through_the_worker_protocol() {
    let mut host = WorkerHost::new();
    let ready = host.ready().unwrap();
    assert_eq!(get(&ready, "type").as_string().unwrap(), "ready");
    assert_eq!(get(&ready, "protocol").as_f64().unwrap(), 3.0);

    let sc = pullback::run::presets::find("over-smooth")
        .unwrap()
        .scenario;
    let load = js_sys::Object::new();
    Reflect::set(&load, &"id".into(), &1.into()).unwrap();
    Reflect::set(&load, &"type".into(), &"load".into()).unwrap();
    Reflect::set(&load, &"scenario".into(), &sc.to_json().into()).unwrap();
    Reflect::set(
        &load,
        &"flows".into(),
        &msg(r#"[{"kind": "adapted"}, {"kind": "gd", "h": 0.05}]"#),
    )
    .unwrap();
    let out = host.handle(load.into()).unwrap();
    assert_eq!(out.length(), 2);
    let loaded = out.get(0);
    assert_eq!(get(&loaded, "type").as_string().unwrap(), "loaded");
    assert_eq!(get(&loaded, "id").as_f64().unwrap(), 1.0);
    let info = get(&loaded, "info");
    assert_eq!(get(&info, "k").as_f64().unwrap(), 354.0);
    assert_eq!(get(&info, "qn").as_f64().unwrap(), 32.0);
    assert_eq!(get(&info, "regime").as_string().unwrap(), "over");
    let c0 = get(&info, "c0").as_f64().unwrap();
    // Inputs (16·2), targets (2·2) and the outputs x̲(0) (QN = 32) as one Float64Array.
    let bulk: Float64Array = get(&loaded, "bulk").dyn_into().unwrap();
    assert_eq!(bulk.length(), 68);
    let session = pullback::run::session::Session::new(&sc).unwrap();
    assert_eq!(bulk.get_index(0), session.model().data.input_rows()[0][0]);
    assert!((c0 - session.initial_cost()).abs() == 0.0);

    let frame = out.get(1);
    assert_eq!(get(&frame, "type").as_string().unwrap(), "frame");
    let lanes: Array = get(&get(&frame, "frame"), "lanes").dyn_into().unwrap();
    assert_eq!(lanes.length(), 2);
    assert_eq!(get(&lanes.get(0), "cost").as_f64().unwrap(), c0);
    let fb: Float64Array = get(&frame, "bulk").dyn_into().unwrap();
    // Per lane: outputs (32), one sample (its scalars + 2 spreads + 2 distances + the 32 singular
    // values of D) and the first trail point (s and 16 outputs in R²).
    let scalars = pullback::app::protocol::SAMPLE_SCALARS.len() as u32;
    assert_eq!(fb.length(), 2 * (32 + scalars + 36 + 33));

    // Step: ticks until the worker pauses by itself, every frame tagged with the step's id.
    let ack = only(host.handle(msg(r#"{"id": 2, "type": "step"}"#)).unwrap());
    assert_eq!(get(&ack, "type").as_string().unwrap(), "ack");
    let mut last = JsValue::NULL;
    let mut ticks = 0;
    while host.wants_tick() {
        let out = host.tick().unwrap();
        if out.length() > 0 {
            last = out.get(out.length() - 1);
        }
        ticks += 1;
        assert!(ticks < 1000);
    }
    assert_eq!(get(&last, "id").as_f64().unwrap(), 2.0);
    let fr = get(&last, "frame");
    assert_eq!(get(&fr, "running").as_bool(), Some(false));
    assert_eq!(get(&fr, "stopped").as_string().unwrap(), "step");
    let every_s = get(&info, "every_s").as_f64().unwrap();
    let lanes: Array = get(&fr, "lanes").dyn_into().unwrap();
    for l in lanes.iter() {
        assert!(get(&l, "s").as_f64().unwrap() >= every_s);
        assert_eq!(get(&l, "status").as_string().unwrap(), "running");
    }

    // The trace of the adapted lane parses as a trace of this scenario.
    let tr = only(
        host.handle(msg(r#"{"id": 3, "type": "trace", "lane": 0}"#))
            .unwrap(),
    );
    assert_eq!(get(&tr, "type").as_string().unwrap(), "trace");
    let t = Trace::from_json(&get(&tr, "json").as_string().unwrap()).unwrap();
    assert_eq!(t.flow, "adapted");
    assert_eq!(t.initial_cost, c0);
    assert_eq!(t.k, 354);
    // Adapted flow: C(s) = C(0)e^{−2s/N} to integrator accuracy.
    let last = t.samples.last().unwrap();
    let theory = c0 * (-2.0 * last.s / 16.0).exp();
    assert!(
        (last.cost / theory - 1.0).abs() < 1e-6,
        "{} vs {theory}",
        last.cost
    );
}

fn error_of(out: Array) -> (JsValue, Option<String>, String) {
    let e = only(out);
    assert_eq!(get(&e, "type").as_string().unwrap(), "error", "{e:?}");
    (
        get(&e, "id"),
        get(&e, "field").as_string(),
        get(&e, "message").as_string().unwrap(),
    )
}

#[wasm_bindgen_test]
fn bad_messages_give_error_variants() {
    let mut host = WorkerHost::new();
    let (id, field, m) = error_of(host.handle(JsValue::from(42)).unwrap());
    assert!(id.is_null());
    assert_eq!(field.as_deref(), Some("message"));
    assert!(m.contains("must be an object"), "{m}");

    let (id, field, m) = error_of(host.handle(msg(r#"{"id": 4, "type": "fly"}"#)).unwrap());
    assert_eq!(id.as_f64(), Some(4.0));
    assert_eq!(field.as_deref(), Some("type"));
    assert!(m.contains("unknown variant `fly`"), "{m}");

    let nan = js_sys::Object::new();
    Reflect::set(&nan, &"id".into(), &5.into()).unwrap();
    Reflect::set(&nan, &"type".into(), &"speed".into()).unwrap();
    Reflect::set(&nan, &"s_per_second".into(), &f64::NAN.into()).unwrap();
    let (id, field, m) = error_of(host.handle(nan.into()).unwrap());
    assert_eq!(id.as_f64(), Some(5.0));
    assert_eq!(field.as_deref(), Some("s_per_second"));
    assert!(m.contains("must be a finite number, got NaN"), "{m}");

    let f = js_sys::Function::new_no_args("return 1");
    let (_, field, m) = error_of(host.handle(f.into()).unwrap());
    assert_eq!(field.as_deref(), Some("message"));
    assert!(m.contains("cannot be a function"), "{m}");

    let cyc = js_sys::Object::new();
    Reflect::set(&cyc, &"id".into(), &6.into()).unwrap();
    Reflect::set(&cyc, &"me".into(), &cyc).unwrap();
    let (id, _, m) = error_of(host.handle(cyc.into()).unwrap());
    assert_eq!(id.as_f64(), Some(6.0));
    assert!(m.contains("nested too deeply"), "{m}");

    let (_, field, m) = error_of(
        host.handle(msg(
            r#"{"id": 7, "type": "load", "scenario": "{\"data\": {\"kind\": \"moons\", \"n\": 8}, \"net\": {\"widths\": [3, 4, 2], \"activation\": \"tanh\"}}", "flows": [{"kind": "adapted"}]}"#,
        ))
        .unwrap(),
    );
    assert_eq!(field.as_deref(), Some("net.widths[0]"));
    assert!(m.contains("is 3 but the data have M = 2"), "{m}");

    let (_, _, m) = error_of(
        host.handle(msg(
            r#"{"id": 8, "type": "load", "scenario": "{}", "flows": [{"kind": "adapted"}]}"#,
        ))
        .unwrap(),
    );
    assert!(m.contains("missing field `data`"), "{m}");
    let sc = pullback::run::presets::find("borderline")
        .unwrap()
        .scenario
        .to_json();
    let bad_h = js_sys::Object::new();
    Reflect::set(&bad_h, &"id".into(), &10.into()).unwrap();
    Reflect::set(&bad_h, &"type".into(), &"load".into()).unwrap();
    Reflect::set(&bad_h, &"scenario".into(), &sc.into()).unwrap();
    Reflect::set(
        &bad_h,
        &"flows".into(),
        &msg(r#"[{"kind": "gd", "h": -1}]"#),
    )
    .unwrap();
    let (_, field, m) = error_of(host.handle(bad_h.into()).unwrap());
    assert_eq!(field.as_deref(), Some("h"));
    assert!(m.contains("must be > 0"), "{m}");
    let (_, _, m) = error_of(host.handle(msg(r#"{"id": 9, "type": "play"}"#)).unwrap());
    assert!(m.contains("nothing is loaded"), "{m}");
}

#[wasm_bindgen_test]
fn the_critical_panel_and_the_escape_run_in_the_worker() {
    let mut host = WorkerHost::new();
    let mut sc = pullback::run::presets::find("softplus-trapped")
        .unwrap()
        .scenario;
    sc.escape.auto = false;
    let load = js_sys::Object::new();
    Reflect::set(&load, &"id".into(), &1.into()).unwrap();
    Reflect::set(&load, &"type".into(), &"load".into()).unwrap();
    Reflect::set(&load, &"scenario".into(), &sc.to_json().into()).unwrap();
    Reflect::set(&load, &"flows".into(), &msg(r#"[{"kind": "standard"}]"#)).unwrap();
    host.handle(load.into()).unwrap();
    host.handle(msg(r#"{"id": 2, "type": "run_until"}"#))
        .unwrap();
    let mut ticks = 0;
    while host.wants_tick() {
        host.tick().unwrap();
        ticks += 1;
        assert!(ticks < 1000);
    }
    let c = only(
        host.handle(msg(
            r#"{"id": 3, "type": "critical", "lane": 0, "size": 15}"#,
        ))
        .unwrap(),
    );
    assert_eq!(get(&c, "type").as_string().unwrap(), "critical");
    let report = get(&c, "report");
    assert_eq!(
        get(&report, "kind").as_string().unwrap(),
        "rank_loss_equilibrium"
    );
    assert_eq!(get(&report, "rank").as_f64().unwrap(), 3.0);
    assert_eq!(get(&report, "dimension").as_f64().unwrap(), 6.0);
    let slice: Float64Array = get(&c, "bulk").dyn_into().unwrap();
    assert_eq!(slice.length(), 15 * 15);
    // The middle cell is θ* itself: C = 1/2.
    assert!((slice.get_index(7 * 15 + 7) - 0.5).abs() < 1e-9);
    // Escape: a frame with the lowered cost, then the panel with the step.
    let out = host
        .handle(msg(r#"{"id": 4, "type": "escape", "lane": 0}"#))
        .unwrap();
    assert_eq!(out.length(), 2);
    let frame = out.get(0);
    let lanes: Array = get(&get(&frame, "frame"), "lanes").dyn_into().unwrap();
    let cost = get(&lanes.get(0), "cost").as_f64().unwrap();
    // The cost the frame shows is the forward pass at θ₀' = θ* + t·v of the trace's escape.
    let tr = only(
        host.handle(msg(r#"{"id": 5, "type": "trace", "lane": 0}"#))
            .unwrap(),
    );
    let t = Trace::from_json(&get(&tr, "json").as_string().unwrap()).unwrap();
    let step = t.events.iter().rev().find_map(|e| e.escape()).unwrap();
    let rerun = pullback::run::session::Session::new(&t.scenario).unwrap();
    let forward = rerun.model().cost(&step.theta_after());
    assert!(
        (cost - forward).abs() <= 1e-14 * forward,
        "C after the escape: {cost} vs the forward pass {forward}"
    );
    assert!(cost < step.cost_before, "{cost} vs {}", step.cost_before);
    let report = get(&out.get(1), "report");
    let escape = get(&report, "escape");
    assert_eq!(get(&escape, "cost_after").as_f64().unwrap(), cost);
}
