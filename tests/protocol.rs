//! The worker protocol, natively: requests parse with field-named errors, a scenario round-trips
//! through load → frames → trace, bulk layouts decode to what the sessions hold, and the host
//! honours its time budget, speed limit, steps and runs to `C ≤ ε`.

mod common;
use pullback::app::protocol::{
    decode_sample, encode_sample, sample_len, FromWorker, Host, Reply, Request, ToWorker,
    SAMPLE_SCALARS,
};
use pullback::math::construct::Theorem;
use pullback::math::diagnostics::Sample;
use pullback::run::lanes::FlowChoice;
use pullback::run::scenario::Trace;
use serde_json::json;

fn load_msg(id: u32, preset: &str, flows: serde_json::Value) -> serde_json::Value {
    let sc = common::preset(preset);
    json!({"id": id, "type": "load", "scenario": sc.to_json(), "flows": flows})
}

fn error_of(r: &[Reply]) -> (Option<u32>, Option<String>, String) {
    match &r[0].msg {
        FromWorker::Error { id, field, message } => (*id, field.clone(), message.clone()),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A clock that advances 1 ms per reading.
fn ticking() -> impl FnMut() -> f64 {
    let mut t = 0.0;
    move || {
        t += 1.0;
        t
    }
}

#[test]
fn requests_round_trip_through_their_flat_form() {
    let reqs = [
        ToWorker::Load {
            scenario: "{}".into(),
            flows: vec![FlowChoice::Adapted, FlowChoice::Gd { h: 0.1 }],
        },
        ToWorker::Play {},
        ToWorker::Pause {},
        ToWorker::Step {},
        ToWorker::Reset {},
        ToWorker::RunUntil {},
        ToWorker::Speed {
            s_per_second: Some(2.5),
        },
        ToWorker::Speed { s_per_second: None },
        ToWorker::Heatmap {
            lane: Some(1),
            size: 32,
        },
        ToWorker::Trace { lane: 0 },
        ToWorker::Critical { lane: 1, size: 31 },
        ToWorker::Escape { lane: 0 },
        ToWorker::Construct {
            theorem: None,
            mu: None,
        },
        ToWorker::Construct {
            theorem: Some(Theorem::Clustered),
            mu: Some(vec![0.4, 0.5]),
        },
        ToWorker::Classify { x: vec![0.5, 1.0] },
        ToWorker::Family {
            alphas: Some(vec![0.0, 0.5, 1.0]),
        },
        ToWorker::Family { alphas: None },
    ];
    for (i, msg) in reqs.into_iter().enumerate() {
        let req = Request {
            id: i as u32 + 1,
            msg,
        };
        let v = req.to_value();
        assert_eq!(v["id"], json!(i + 1));
        assert!(v["type"].is_string(), "{v}");
        assert_eq!(Request::from_value(v.clone()).unwrap(), req, "{v}");
    }
    // A construct request without its new keys (older pages) still reads.
    assert_eq!(
        Request::from_value(json!({"id": 3, "type": "construct"}))
            .unwrap()
            .msg,
        ToWorker::Construct {
            theorem: None,
            mu: None
        }
    );
    assert_eq!(
        Request::from_value(json!({"id": 3, "type": "play"}))
            .unwrap()
            .msg,
        ToWorker::Play {}
    );
}

#[test]
fn bad_requests_give_error_variants_that_name_the_field() {
    let mut host = Host::new();
    let cases = [
        (json!(42), None, "message", "must be an object"),
        (json!({"type": "play"}), None, "id", "is missing"),
        (
            json!({"id": -1, "type": "play"}),
            None,
            "id",
            "must be an integer",
        ),
        (
            json!({"id": "x", "type": "play"}),
            None,
            "id",
            "must be a number",
        ),
        (json!({"id": 5}), Some(5), "type", "is missing"),
        (
            json!({"id": 5, "type": "fly"}),
            Some(5),
            "type",
            "unknown variant `fly`",
        ),
        (
            json!({"id": 6, "type": "play", "extra": 1}),
            Some(6),
            "extra",
            "unknown field `extra`",
        ),
        (
            json!({"id": 7, "type": "load", "scenario": "{}", "flows": [{"kind": "gd", "h": "big"}]}),
            Some(7),
            "flows[0].h",
            "invalid type",
        ),
        (
            json!({"id": 8, "type": "load", "scenario": "{", "flows": [{"kind": "adapted"}]}),
            Some(8),
            "",
            "scenario",
        ),
        (
            json!({"id": 9, "type": "load", "scenario": "{\"data\": {\"kind\": \"moons\", \"n\": 0}, \"net\": {\"widths\": [2, 2], \"activation\": \"tanh\"}}", "flows": [{"kind": "adapted"}]}),
            Some(9),
            "data.n",
            "needs at least one point",
        ),
        (
            json!({"id": 10, "type": "play"}),
            Some(10),
            "",
            "nothing is loaded",
        ),
        (
            json!({"id": 11, "type": "speed", "s_per_second": -1.0}),
            Some(11),
            "s_per_second",
            "must be > 0",
        ),
        (
            json!({"id": 12, "type": "trace", "lane": 0}),
            Some(12),
            "",
            "nothing is loaded",
        ),
    ];
    for (v, id, field, text) in cases {
        let r = host.handle(v.clone(), 0.0);
        assert_eq!(r.len(), 1, "{v}");
        let (got_id, got_field, msg) = error_of(&r);
        assert_eq!(got_id, id, "{v}: {msg}");
        if field.is_empty() {
            assert!(
                got_field.is_none() || msg.contains(text),
                "{v}: {got_field:?} {msg}"
            );
        } else {
            assert_eq!(got_field.as_deref(), Some(field), "{v}: {msg}");
        }
        assert!(msg.contains(text), "{v}: {msg}");
    }
    // After all that the host still works.
    let r = host.handle(
        load_msg(20, "borderline", json!([{"kind": "adapted"}])),
        0.0,
    );
    assert!(
        matches!(r[0].msg, FromWorker::Loaded { id: 20, .. }),
        "{:?}",
        r[0].msg
    );
    // A bad load leaves the loaded run in place.
    let r = host.handle(
        json!({"id": 21, "type": "load", "scenario": "{", "flows": [{"kind": "adapted"}]}),
        0.0,
    );
    assert!(matches!(r[0].msg, FromWorker::Error { id: Some(21), .. }));
    assert_eq!(host.comparison().unwrap().lanes().len(), 1);
    let r = host.handle(json!({"id": 22, "type": "heatmap", "lane": 3}), 0.0);
    assert_eq!(error_of(&r).1.as_deref(), Some("lane"));
    let r = host.handle(
        json!({"id": 23, "type": "heatmap", "lane": 0, "size": 1000}),
        0.0,
    );
    assert_eq!(error_of(&r).1.as_deref(), Some("size"));
}

#[test]
fn a_scenario_round_trips_through_load_frames_and_trace() {
    let mut host = Host::new();
    let flows = json!([{"kind": "adapted"}, {"kind": "standard"}, {"kind": "gd", "h": 0.05}]);
    let r = host.handle(load_msg(1, "over-smooth", flows), 0.0);
    assert_eq!(r.len(), 2);
    let FromWorker::Loaded { id: 1, info } = &r[0].msg else {
        panic!("{:?}", r[0].msg)
    };
    // The info and its bulk describe the preset's data.
    assert_eq!(
        (info.k, info.q, info.n, info.m, info.qn),
        (354, 2, 16, 2, 32)
    );
    assert_eq!(info.regime.name(), "over");
    assert_eq!(info.lanes.len(), 3);
    assert_eq!(info.lanes[0].color, "#0072b2");
    assert_eq!(info.trail, (0..16).collect::<Vec<_>>());
    assert_eq!(info.trail_every, info.every_s / 16.0);
    let data = info.decode(&r[0].bulk).unwrap();
    let session = pullback::run::session::Session::new(&common::preset("over-smooth")).unwrap();
    assert_eq!(data.inputs, session.model().data.input_rows());
    assert_eq!(data.targets, session.model().data.targets);
    assert_eq!(info.c0, session.initial_cost());
    let b = info.bounds.unwrap();
    for x in &data.inputs {
        assert!(b[0] < x[0] && x[0] < b[1] && b[2] < x[1] && x[1] < b[3]);
    }
    // The first frame: s = 0, sample 0 of every lane, outputs x̲(0).
    let FromWorker::Frame { frame, .. } = &r[1].msg else {
        panic!()
    };
    let fd = frame.decode(info, &r[1].bulk).unwrap();
    assert_eq!(fd.lanes.len(), 3);
    for (lf, lu) in frame.lanes.iter().zip(&fd.lanes) {
        assert_eq!(lf.s, 0.0);
        assert_eq!(lf.new_samples, 1);
        assert_eq!(lu.samples[0].cost, info.c0);
        assert_eq!(lu.outputs, session.model().outputs(session.theta()));
        assert_eq!(lu.samples[0].rank, 32);
        // The first trail point: s = 0 and the outputs of the trail samples.
        assert_eq!(lf.new_trail, 1);
        assert_eq!(lu.trail[0].0, 0.0);
        for (t, &j) in info.trail.iter().enumerate() {
            assert_eq!(
                lu.trail[0].1[2 * t..2 * t + 2],
                lu.outputs[2 * j..2 * j + 2]
            );
        }
    }
    assert!(!frame.running);

    // Step: every lane passes s = every_s, then the host pauses by itself.
    let r = host.handle(json!({"id": 2, "type": "step"}), 0.0);
    assert!(matches!(r[0].msg, FromWorker::Ack { id: 2 }));
    let mut clock = ticking();
    let mut frames = vec![];
    while host.wants_tick() {
        frames.extend(host.tick(&mut clock));
    }
    let last = frames.last().unwrap();
    let FromWorker::Frame { id: 2, frame } = &last.msg else {
        panic!("{:?}", last.msg)
    };
    assert_eq!(frame.stopped.as_deref(), Some("step"));
    assert!(!frame.running);
    for lf in &frame.lanes {
        assert!(lf.s >= info.every_s, "{lf:?}");
    }
    // Samples arrive exactly once: with the first frame and the step's frames, each lane has
    // the samples its session holds.
    let mut got = [1usize, 1, 1];
    for f in &frames {
        let FromWorker::Frame { frame, .. } = &f.msg else {
            panic!()
        };
        let fd = frame.decode(info, &f.bulk).unwrap();
        for (i, lu) in fd.lanes.iter().enumerate() {
            got[i] += lu.samples.len();
        }
    }
    for (i, lane) in host.comparison().unwrap().lanes().iter().enumerate() {
        assert_eq!(got[i], lane.session.samples().len(), "lane {i}");
    }

    // The trace of lane 0 is the adapted flow's, from the same scenario.
    let r = host.handle(json!({"id": 3, "type": "trace", "lane": 0}), 0.0);
    let FromWorker::Trace {
        id: 3,
        lane: 0,
        json,
    } = &r[0].msg
    else {
        panic!()
    };
    let t = Trace::from_json(json).unwrap();
    assert_eq!(t.flow, "adapted");
    assert_eq!(t.initial_cost, info.c0);
    assert!(t.final_state.s >= info.every_s);

    // Reset: a new epoch from θ₀.
    let r = host.handle(json!({"id": 4, "type": "reset"}), 0.0);
    let FromWorker::Loaded { info: info2, .. } = &r[0].msg else {
        panic!()
    };
    assert_eq!(info2.epoch, info.epoch + 1);
    let FromWorker::Frame { frame, .. } = &r[1].msg else {
        panic!()
    };
    assert!(frame.lanes.iter().all(|l| l.s == 0.0 && l.new_samples == 1));
}

#[test]
fn messages_serialize_with_a_type_tag() {
    let v = serde_json::to_value(Host::ready()).unwrap();
    assert_eq!(v["type"], "ready");
    assert_eq!(v["protocol"], 3);
    let e = FromWorker::error(Some(3), &pullback::Error::invalid("net.widths[0]", "bad"));
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(
        v,
        json!({"type": "error", "id": 3, "field": "net.widths[0]", "message": "net.widths[0]: bad"})
    );
    let back: FromWorker = serde_json::from_value(v).unwrap();
    assert_eq!(back, e);
}

#[test]
fn ticks_respect_the_budget_and_run_until_reaches_epsilon() {
    let mut host = Host::new();
    host.set_budget_ms(5.0);
    host.handle(
        load_msg(1, "over-smooth", json!([{"kind": "adapted"}])),
        0.0,
    );
    host.handle(json!({"id": 2, "type": "run_until"}), 0.0);
    let mut clock = ticking();
    // With a clock that advances 1 ms per reading, a 5 ms budget allows 4 steps per tick.
    let r = host.tick(&mut clock);
    let FromWorker::Frame { frame, .. } = &r[0].msg else {
        panic!()
    };
    assert_eq!(frame.lanes[0].steps, 4);
    assert!(frame.running);
    let p0 = frame.progress.unwrap();
    assert!(p0 > 0.0 && p0 < 1.0, "{p0}");
    let mut last = None;
    let mut ticks = 0;
    while host.wants_tick() {
        last = host.tick(&mut clock).pop();
        ticks += 1;
        assert!(ticks < 10_000);
    }
    let FromWorker::Frame { frame, .. } = last.unwrap().msg else {
        panic!()
    };
    assert_eq!(frame.progress, Some(1.0));
    assert_eq!(frame.lanes[0].status.name(), "cost_below");
    let measured = frame.lanes[0].measured.unwrap();
    let lane = &host.comparison().unwrap().lanes()[0].session;
    let predicted = lane.predicted_stopping_time().unwrap();
    assert!(
        (measured - predicted).abs() / predicted < 1e-5,
        "{measured} vs {predicted}"
    );
    assert!(frame.stopped.unwrap().contains("adapted: cost_below"));
    assert!(frame.lanes[0].steps_per_s > 0.0);
}

#[test]
fn a_speed_limit_paces_the_shared_time() {
    let mut host = Host::new();
    host.handle(
        load_msg(1, "over-smooth", json!([{"kind": "gd", "h": 0.05}])),
        0.0,
    );
    host.handle(json!({"id": 2, "type": "speed", "s_per_second": 1.0}), 0.0);
    host.handle(json!({"id": 3, "type": "play"}), 0.0);
    // A clock frozen per tick: each tick sees 50 ms pass, steps cost nothing.
    let mut s = 0.0;
    for k in 1..=20 {
        let t = 50.0 * k as f64;
        let mut clock = move || t;
        let r = host.tick(&mut clock);
        let FromWorker::Frame { frame, .. } = &r[0].msg else {
            panic!()
        };
        s = frame.lanes[0].s;
        assert!(frame.running);
        assert_eq!(host.idle_ms(), 16.0);
    }
    // 20 ticks of 50 ms at 1 s per second: s = 1 (to one Euler step).
    assert!((s - 1.0).abs() <= 0.05 + 1e-9, "s = {s}");
    let r = host.handle(json!({"id": 4, "type": "pause"}), 0.0);
    let FromWorker::Frame { frame, .. } = &r[0].msg else {
        panic!()
    };
    assert!(!frame.running);
    assert!(!host.wants_tick());
}

#[test]
fn heatmaps_come_with_frames_and_match_the_network() {
    let mut host = Host::new();
    host.handle(
        load_msg(1, "over-smooth", json!([{"kind": "adapted"}])),
        0.0,
    );
    let r = host.handle(
        json!({"id": 2, "type": "heatmap", "lane": 0, "size": 8}),
        0.0,
    );
    let FromWorker::Frame { frame, .. } = &r[0].msg else {
        panic!("{:?}", r[0].msg)
    };
    let h = frame.heat.as_ref().unwrap();
    assert_eq!(h.size, 8);
    let info = match &host_info(&mut host) {
        FromWorker::Loaded { info, .. } => info.clone(),
        _ => unreachable!(),
    };
    let fd = frame.decode(&info, &r[0].bulk).unwrap();
    let grid = fd.heat.unwrap();
    assert_eq!(grid.values.len(), 8 * 8 * 2);
    // Cell (ix = 3, iy = 5) against a direct forward pass.
    let lane = &host.comparison().unwrap().lanes()[0].session;
    let [x0, x1, y0, y1] = h.bounds;
    let p = [x0 + 3.5 * (x1 - x0) / 8.0, y0 + 5.5 * (y1 - y0) / 8.0];
    let out = lane.model().net.forward(
        lane.theta(),
        &nalgebra::DMatrix::from_column_slice(2, 1, &p),
    );
    let at = (5 * 8 + 3) * 2;
    assert!((grid.values[at] - out[0]).abs() < 1e-12);
    assert!((grid.values[at + 1] - out[1]).abs() < 1e-12);
}

fn host_info(host: &mut Host) -> FromWorker {
    // Reset answers with the run's info (a new epoch, same data).
    host.handle(json!({"id": 99, "type": "reset"}), 0.0)
        .remove(0)
        .msg
}

#[test]
fn frames_carry_event_scalars_but_not_vectors() {
    let mut host = Host::new();
    host.handle(
        load_msg(1, "softplus-trapped", json!([{"kind": "standard"}])),
        0.0,
    );
    host.handle(json!({"id": 2, "type": "run_until"}), 0.0);
    let mut clock = ticking();
    let mut escape = None;
    while host.wants_tick() {
        for r in host.tick(&mut clock) {
            if let FromWorker::Frame { frame, .. } = r.msg {
                for e in &frame.lanes[0].events {
                    if e.escape().is_some() {
                        escape = Some(e.clone());
                    }
                }
            }
        }
    }
    // What the page receives: the event's JSON object with its scalars and without its vectors.
    let e = serde_json::to_value(escape.expect("softplus-trapped escapes")).unwrap();
    assert_eq!(e["kind"], "escape");
    assert!(e["cost_after"].is_f64());
    assert!(e.get("theta_before").is_none() && e.get("direction").is_none());
    // The trace keeps them.
    let full = &host.comparison().unwrap().lanes()[0].session.events();
    let kept = full.iter().find(|x| x.escape().is_some()).unwrap();
    assert!(serde_json::to_value(kept).unwrap()["theta_before"].is_array());
}

/// A sample with distinct values in every field, `classes` classes and `sigmas` singular values.
fn sample_with(classes: usize, sigmas: usize) -> Sample {
    Sample {
        s: 1.25,
        cost: 0.5,
        rank: 7,
        rank_used: Some(6),
        sigma_max: 3.0,
        sigma_min: 0.125,
        lambda_min: 0.015625,
        rho: 0.2,
        grad_x_norm: 0.3,
        proj_grad_norm: 0.1,
        perp_cost: 0.05,
        cost_variance: Some(0.375),
        cost_mismatch: Some(0.125),
        class_spread: (0..classes).map(|c| 0.1 * c as f64).collect(),
        class_mean_distance: (0..classes).map(|c| 1.0 + c as f64).collect(),
        theta: Some(vec![9.0; 4]),
        outputs: Some(vec![8.0; 6]),
        singular_values: Some((0..sigmas).map(|i| 10.0 - i as f64).collect()),
        spectrum_s: Some(0.75),
    }
}

#[test]
fn a_sample_crosses_the_bulk_with_its_scalars_class_statistics_and_smallest_singular_values() {
    // Two classes sent as three (NaN-padded), six singular values of which the four smallest go.
    let smp = sample_with(2, 6);
    let mut bulk = vec![-1.0];
    encode_sample(&smp, 3, 4, &mut bulk);
    assert_eq!(bulk.len(), 1 + sample_len(3, 4));
    let back = decode_sample(&bulk[1..], 3);
    let nan_is_nan = |a: &[f64], b: &[f64]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    };
    assert!(
        nan_is_nan(&back.class_spread, &[0.0, 0.1, f64::NAN]),
        "{back:?}"
    );
    assert!(nan_is_nan(&back.class_mean_distance, &[1.0, 2.0, f64::NAN]));
    assert_eq!(
        back.singular_values.as_deref(),
        Some(&[8.0, 7.0, 6.0, 5.0][..])
    );
    // θ and the outputs stay in the trace.
    assert_eq!((back.theta.as_ref(), back.outputs.as_ref()), (None, None));
    // Every scalar arrives unchanged: compare the JSON objects without the vectors.
    let scalars = |p: &Sample| {
        let mut v = serde_json::to_value(p).unwrap();
        v.as_object_mut().unwrap().retain(|_, x| x.is_number());
        v
    };
    assert_eq!(scalars(&back), scalars(&smp));
    // A sample without singular values sends NaN in their place.
    let mut none = smp.clone();
    none.singular_values = None;
    let mut bulk = Vec::new();
    encode_sample(&none, 2, 3, &mut bulk);
    assert!(bulk[bulk.len() - 3..].iter().all(|v| v.is_nan()));
}

#[test]
fn every_scalar_of_a_sample_is_in_the_bulk_encoding() {
    // A number added to Sample but not to the encoder's list would never reach the page.
    let v = serde_json::to_value(sample_with(2, 3)).unwrap();
    let mut numbers: Vec<&str> = v
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, x)| x.is_number())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut listed = SAMPLE_SCALARS.to_vec();
    numbers.sort_unstable();
    listed.sort_unstable();
    assert_eq!(numbers, listed);
}
