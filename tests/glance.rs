//! The pieces that make a run readable at a glance, through a real host: the network diagram's
//! data (units drawn, weights, dead and saturated units marked), the live change of `h`, `α` and
//! `ε` without a reset (`tune`) and the rewind to `θ₀`, and the new messages' bad input answered
//! by name.

mod common;
use pullback::app::protocol::{diagram, heat_side, FromWorker, Host, Reply, MAX_SHOWN_UNITS};
use pullback::math::net::Activation;
use pullback::math::units::{self, UnitRef};
use pullback::run::event::{Event, EventKind, Singularity};
use pullback::run::scenario::{InitSpec, Scenario};
use pullback::run::session::Session;
use serde_json::json;

fn ticking() -> impl FnMut() -> f64 {
    let mut t = 0.0;
    move || {
        t += 1.0;
        t
    }
}

fn error_of(r: &[Reply]) -> (Option<String>, String) {
    match &r[0].msg {
        FromWorker::Error { field, message, .. } => (field.clone(), message.clone()),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn load(host: &mut Host, sc: &Scenario, flows: serde_json::Value) -> Vec<Reply> {
    host.handle(
        json!({"id": 1, "type": "load", "scenario": sc.to_json(), "flows": flows}),
        0.0,
    )
}

/// `over-smooth` with another network and an explicit `θ₀` edited by `edit`.
fn scenario_with(
    widths: &[usize],
    act: Activation,
    edit: impl Fn(&Session, &mut [f64]),
) -> Scenario {
    let mut sc = common::preset("over-smooth");
    sc.net.widths = widths.to_vec();
    sc.net.activation = act;
    let ses = Session::new(&sc).unwrap();
    let mut theta = ses.theta().to_vec();
    edit(&ses, &mut theta);
    sc.init = InitSpec::Explicit { theta };
    sc
}

#[test]
fn the_diagram_draws_every_unit_of_small_layers_with_its_weights() {
    let sc = common::preset("over-smooth");
    let ses = Session::new(&sc).unwrap();
    let model = ses.model();
    let bounds = Some([-2.0, 2.0, -2.0, 2.0]);
    let (h, bulk) = diagram(model, ses.theta(), 0, &[], bounds);
    assert_eq!(h.widths, vec![2, 16, 16, 2]);
    let counts: Vec<usize> = h.shown.iter().map(Vec::len).collect();
    assert_eq!(counts, vec![2, 16, 16, 2]);
    assert_eq!(h.units.len(), 34);
    // One forward pass evaluates every unit on grid² points; the budget sets the side.
    assert_eq!(h.grid, heat_side(34));
    assert_eq!(bulk.len(), 2 * 16 + 16 * 16 + 16 * 2 + 34 * h.grid * h.grid);
    // The weights in the bulk are θ's: W_2[3, 5] (row-major in θ) is row 3, column 5 of layer 2.
    let (w2, b2) = model.net.layer_offsets(2);
    let at = 2 * 16 + 3 * 16 + 5;
    assert_eq!(bulk[at], ses.theta()[w2 + 3 * 16 + 5]);
    let u = &h.units[16 + 3];
    assert_eq!((u.layer, u.unit), (2, 3));
    assert_eq!(u.bias, ses.theta()[b2 + 3]);
    // A tanh network at its Gaussian θ₀: nobody saturated on every sample.
    assert!(h.units.iter().all(|u| u.mark.is_none()), "{:?}", h.units);
    let d = h.decode(&bulk).unwrap();
    assert_eq!(d.heat.len(), 34);
    // The output unit's grid is the network's output over the plane: at the centre of a cell it
    // equals a forward pass there.
    let g = h.grid;
    let (ix, iy) = (g / 3, g / 2);
    let p = nalgebra::DMatrix::from_column_slice(
        2,
        1,
        &[
            -2.0 + (ix as f64 + 0.5) * 4.0 / g as f64,
            -2.0 + (iy as f64 + 0.5) * 4.0 / g as f64,
        ],
    );
    let out = model.net.forward(ses.theta(), &p);
    let got = d.heat[33][iy * g + ix];
    assert!(
        (got - out[(1, 0)]).abs() <= 1e-12 * out[(1, 0)].abs().max(1.0),
        "{got} vs {}",
        out[(1, 0)]
    );
}

#[test]
fn dead_and_saturated_units_are_marked_and_shown_in_wide_layers() {
    // ReLU, 40 units: unit 37's bias far below every pre-activation, so it is off on every
    // sample (its incoming columns of D vanish).
    let relu = scenario_with(&[2, 40, 2], Activation::Relu, |ses, theta| {
        let (w, b) = ses.model().net.layer_offsets(1);
        theta[w + 37 * 2] = 0.0;
        theta[w + 37 * 2 + 1] = 0.0;
        theta[b + 37] = -1.0;
    });
    let ses = Session::new(&relu).unwrap();
    let (h, bulk) = diagram(ses.model(), ses.theta(), 0, &[], None);
    assert_eq!(h.grid, 0, "no plane without bounds");
    assert_eq!(h.shown[1].len(), MAX_SHOWN_UNITS);
    assert!(h.shown[1].contains(&37), "{:?}", h.shown[1]);
    let u = h
        .units
        .iter()
        .find(|u| u.layer == 1 && u.unit == 37)
        .unwrap();
    assert_eq!(u.mark.as_deref(), Some("dead"));
    assert_eq!(u.flat_fraction, 1.0);
    assert_eq!(bulk.len(), h.bulk_len());
    // tanh with z = 50 on every sample: σ'(z) = 1 − tanh²(50) ≈ 1e-43 < 1e-6.
    let tanh = scenario_with(&[2, 4, 2], Activation::Tanh, |ses, theta| {
        let (w, b) = ses.model().net.layer_offsets(1);
        theta[w + 2 * 2] = 0.0;
        theta[w + 2 * 2 + 1] = 0.0;
        theta[b + 2] = 50.0;
    });
    let ses = Session::new(&tanh).unwrap();
    let (h, _) = diagram(ses.model(), ses.theta(), 0, &[], None);
    let marked: Vec<(usize, Option<&str>)> = h
        .units
        .iter()
        .map(|u| (u.unit, u.mark.as_deref()))
        .collect();
    assert_eq!(marked[2], (2, Some("saturated")));
    assert_eq!(
        marked.iter().filter(|m| m.1.is_some()).count(),
        1,
        "{marked:?}"
    );
    assert_eq!(h.units[2].max_abs_z, 50.0);
}

#[test]
fn the_unit_dominating_a_vanishing_singular_vector_is_marked_by_its_event() {
    // A singular vector all on the incoming weights of unit 9 of hidden layer 1 (2-16-16-2):
    // math::units::dominant names that unit with the whole of |v|², as the rest test records in
    // a blow-up event; the diagram marks the unit with the event's kind.
    let sc = common::preset("over-smooth");
    let ses = Session::new(&sc).unwrap();
    let net = &ses.model().net;
    let (w, _) = net.layer_offsets(1);
    let mut v = vec![0.0; net.k()];
    v[w + 9 * 2] = 0.6;
    v[w + 9 * 2 + 1] = -0.8;
    let (unit, share) = units::dominant(net, &v).unwrap();
    assert_eq!(unit, UnitRef { layer: 1, unit: 9 });
    assert!((share - 1.0).abs() <= 1e-15);
    let ev = Event::new(
        0.75,
        EventKind::BlowUp {
            rank: 63,
            rank_used: 64,
            singularity: Singularity {
                index: 63,
                sigma_ratio: 1e-9,
                field_share: 0.9,
                stalled: false,
                unit_layer: Some(unit.layer),
                unit: Some(unit.unit),
                unit_share: Some(share),
                unit_text: Some(unit.describe(net)),
            },
        },
        "the field blows up",
    );
    let (h, _) = diagram(ses.model(), ses.theta(), 0, &[ev], None);
    let marked: Vec<(usize, usize, &str)> = h
        .units
        .iter()
        .filter_map(|u| u.mark.as_deref().map(|m| (u.layer, u.unit, m)))
        .collect();
    assert_eq!(marked, vec![(1, 9, "blow_up")]);
    let text = h.units[9].mark_text.as_deref().unwrap();
    assert!(text.contains("100% of the singular vector"), "{text}");
}

#[test]
fn the_diagram_follows_the_loaded_network() {
    let mut host = Host::new();
    let mut sc = common::preset("over-smooth");
    load(&mut host, &sc, json!([{"kind": "adapted"}]));
    let r = host.handle(json!({"id": 2, "type": "network", "lane": 0}), 0.0);
    let FromWorker::Frame { frame, .. } = &r[0].msg else {
        panic!("{:?}", r[0].msg)
    };
    assert_eq!(frame.network.as_ref().unwrap().widths, vec![2, 16, 16, 2]);
    // A new network (the page's + / − edit `net`, which reloads): the diagram follows.
    sc.net.widths = vec![2, 17, 2];
    let r = load(&mut host, &sc, json!([{"kind": "adapted"}]));
    let net = r
        .iter()
        .find_map(|r| match &r.msg {
            FromWorker::Frame { frame, .. } => frame.network.clone(),
            _ => None,
        })
        .expect("the load's frame carries the diagram");
    assert_eq!(net.widths, vec![2, 17, 2]);
    assert_eq!(net.shown[1].len(), MAX_SHOWN_UNITS);
    let r = host.handle(json!({"id": 3, "type": "network", "lane": 3}), 0.0);
    let (field, msg) = error_of(&r);
    assert_eq!(field.as_deref(), Some("lane"));
    assert!(msg.contains("there are 1 lanes"), "{msg}");
    let r = host.handle(json!({"id": 4, "type": "network", "lane": null}), 0.0);
    assert!(matches!(r[0].msg, FromWorker::Ack { .. }));
}

#[test]
fn a_live_learning_rate_changes_the_next_steps_without_a_reset() {
    let mut host = Host::new();
    let sc = common::preset("over-smooth");
    let r = load(
        &mut host,
        &sc,
        json!([{"kind": "gd", "h": 0.05}, {"kind": "homotopy", "alpha": 0.5}]),
    );
    let FromWorker::Loaded { info, .. } = &r[0].msg else {
        panic!()
    };
    let epoch = info.epoch;
    host.handle(json!({"id": 2, "type": "play"}), 0.0);
    let mut clock = ticking();
    while host.comparison().unwrap().lanes()[0].session.s() < 1.0 {
        host.tick(&mut clock);
    }
    let before = host.comparison().unwrap().lanes()[0].session.stats().steps;
    let s1 = host.comparison().unwrap().lanes()[0].session.s();
    let r = host.handle(
        json!({"id": 3, "type": "tune", "h": 0.1, "alpha": 0.8, "epsilon": 1e-6}),
        0.0,
    );
    let FromWorker::Tuned { info, .. } = &r[0].msg else {
        panic!("{:?}", r[0].msg)
    };
    assert_eq!(info.epoch, epoch, "no reload");
    assert_eq!(info.lanes[0].label, "gradient descent h=0.1");
    assert_eq!(info.lanes[1].label, "homotopy α=0.8");
    assert_eq!(info.epsilon, Some(1e-6));
    assert!(matches!(r[1].msg, FromWorker::Frame { .. }));
    // The orbit goes on from where it was, ten more steps of h = 0.1.
    let lanes = host.comparison().unwrap().lanes();
    assert_eq!(lanes[0].session.s(), s1);
    while host.comparison().unwrap().lanes()[0].session.stats().steps < before + 10 {
        host.tick(&mut clock);
    }
    let ses = &host.comparison().unwrap().lanes()[0].session;
    let steps = ses.stats().steps - before;
    assert!(
        (ses.s() - (s1 + 0.1 * steps as f64)).abs() < 1e-12,
        "s = {} after {steps} steps from {s1}",
        ses.s()
    );
    // The trace says what changed where; its scenario keeps what the run started with.
    let t = ses.trace();
    let tune: Vec<_> = t
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Tune { .. }))
        .collect();
    assert_eq!(tune.len(), 2, "h and ε: {:?}", t.events);
    assert!(
        matches!(&tune[0].kind, EventKind::Tune { parameter, value: Some(v), previous: Some(p) } if parameter == "h" && *v == 0.1 && *p == 0.05)
    );
    assert_eq!(tune[0].s, s1);
    assert_eq!(
        t.scenario.integrator,
        pullback::math::integrate::IntegratorSpec::Euler { h: 0.05 }
    );
    let homotopy = &host.comparison().unwrap().lanes()[1].session.trace();
    assert!(homotopy.events.iter().any(|e| matches!(&e.kind, EventKind::Tune { parameter, value: Some(v), .. } if parameter == "alpha" && *v == 0.8)));
    // Rewind: θ₀ again, the same initialization, with the values as they are now.
    let r = host.handle(json!({"id": 4, "type": "reset"}), 0.0);
    let FromWorker::Loaded { info, .. } = &r[0].msg else {
        panic!()
    };
    assert_eq!(info.lanes[0].label, "gradient descent h=0.1");
    let lanes = host.comparison().unwrap().lanes();
    assert_eq!(lanes[0].session.s(), 0.0);
    assert_eq!(
        lanes[0].session.initial_cost(),
        Session::new(&sc).unwrap().initial_cost()
    );
    assert_eq!(lanes[0].session.epsilon(), Some(1e-6));
}

#[test]
fn raising_epsilon_ends_a_run_and_lowering_it_resumes_one() {
    let mut host = Host::new();
    let sc = common::preset("over-smooth");
    load(&mut host, &sc, json!([{"kind": "adapted"}]));
    host.handle(json!({"id": 2, "type": "run_until"}), 0.0);
    let mut clock = ticking();
    while host.wants_tick() {
        host.tick(&mut clock);
    }
    let ses = &host.comparison().unwrap().lanes()[0].session;
    assert_eq!(ses.status().name(), "cost_below");
    let c = ses.cost();
    // ε lowered below the reached cost: the run resumes (0.8·C is reached after
    // (N/2)·ln 1.25 ≈ 1.8 more, before s_max = 160).
    host.handle(json!({"id": 3, "type": "tune", "epsilon": 0.8 * c}), 0.0);
    let ses = &host.comparison().unwrap().lanes()[0].session;
    assert_eq!(ses.status().name(), "running");
    host.handle(json!({"id": 4, "type": "run_until"}), 0.0);
    while host.wants_tick() {
        host.tick(&mut clock);
    }
    let ses = &host.comparison().unwrap().lanes()[0].session;
    assert_eq!(ses.status().name(), "cost_below");
    assert!(
        ses.cost() <= 0.8 * c * (1.0 + 1e-9),
        "{} vs {}",
        ses.cost(),
        0.8 * c
    );
    // ε raised above the current cost of a running run: it ends at once, and says why.
    let r = load(&mut host, &sc, json!([{"kind": "adapted"}]));
    assert!(!r.is_empty());
    host.handle(json!({"id": 5, "type": "step"}), 0.0);
    while host.wants_tick() {
        host.tick(&mut clock);
    }
    let c = host.comparison().unwrap().lanes()[0].session.cost();
    host.handle(json!({"id": 6, "type": "tune", "epsilon": 2.0 * c}), 0.0);
    let ses = &host.comparison().unwrap().lanes()[0].session;
    assert_eq!(ses.status().name(), "cost_below");
    let last = ses.events().last().unwrap();
    assert!(last.message.contains("was already ≤ ε"), "{}", last.message);
    assert_eq!(ses.measured_stopping_time(), None);
}

#[test]
fn bad_tune_and_view_requests_are_answered_by_name() {
    let mut host = Host::new();
    let r = host.handle(json!({"id": 1, "type": "tune", "h": 0.1}), 0.0);
    assert!(error_of(&r).1.contains("nothing is loaded"));
    let sc = common::preset("over-smooth");
    load(&mut host, &sc, json!([{"kind": "gd", "h": 0.05}]));
    let cases = [
        (
            json!({"id": 2, "type": "tune", "h": 0.0}),
            "h",
            "must be > 0",
        ),
        (
            json!({"id": 3, "type": "tune", "alpha": 1.5}),
            "alpha",
            "must be in [0, 1]",
        ),
        (
            json!({"id": 4, "type": "tune", "epsilon": -1.0}),
            "epsilon",
            "must be > 0",
        ),
        (
            json!({"id": 5, "type": "tune", "h": "fast"}),
            "h",
            "invalid type",
        ),
        (
            json!({"id": 6, "type": "tune", "beta": 1}),
            "beta",
            "unknown field `beta`",
        ),
        (
            json!({"id": 7, "type": "eigenmodes", "lane": 2}),
            "lane",
            "there are 1 lanes",
        ),
        (
            json!({"id": 8, "type": "heatmap", "lane": 0, "size": 401}),
            "size",
            "must be in 4..=400",
        ),
    ];
    for (msg, field, reason) in cases {
        let r = host.handle(msg.clone(), 0.0);
        let (f, m) = error_of(&r);
        assert_eq!(f.as_deref(), Some(field), "{msg}: {m}");
        assert!(m.contains(reason), "{msg}: {m}");
    }
    // A refused tune changed nothing.
    let ses = &host.comparison().unwrap().lanes()[0].session;
    assert!(ses.events().is_empty());
    assert_eq!(
        host.comparison().unwrap().lanes()[0].choice.label(),
        "gradient descent h=0.05"
    );
    // `epsilon: null` unsets ε (and is a tune event); an absent key leaves it.
    host.handle(json!({"id": 9, "type": "tune", "epsilon": null}), 0.0);
    let ses = &host.comparison().unwrap().lanes()[0].session;
    assert_eq!(ses.epsilon(), None);
    assert!(
        matches!(&ses.events()[0].kind, EventKind::Tune { parameter, value: None, .. } if parameter == "epsilon")
    );
}
