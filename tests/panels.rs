//! The page's panels, natively: the critical submanifold at the trapped rest point and the manual
//! escape through the worker protocol, the constructive minimizer beside the flows (Thm 5.1),
//! the homotopy family's shared equilibria, the time reparametrization, the singular spectrum,
//! the rank formula — each fed through a real [`Host`] into a [`Board`], with the numbers the
//! page shows checked against the core.

mod common;
use plotters::prelude::*;
use pullback::app::board::Board;
use pullback::app::protocol::{FromWorker, Host, Reply};
use pullback::app::view::View;
use pullback::math::critical::PointKind;
use pullback::math::diagnostics::Rest;
use pullback::plot::Look;
use pullback::run::scenario::Scenario;
use pullback::run::session::Status;
use serde_json::json;

/// Feeds replies into the board; returns the critical, construction and family messages seen.
fn feed(board: &mut Board, replies: Vec<Reply>) -> Vec<FromWorker> {
    let mut other = vec![];
    for r in replies {
        match &r.msg {
            FromWorker::Loaded { info, .. } => board.load(info.clone(), &r.bulk).unwrap(),
            FromWorker::Frame { frame, .. } => {
                assert!(board.apply(frame, &r.bulk).unwrap());
            }
            FromWorker::Critical { report, .. } => {
                assert!(board.apply_critical(report.clone(), &r.bulk).unwrap());
                other.push(r.msg.clone());
            }
            FromWorker::Construction { report, .. } => {
                assert!(board.apply_construction(report.clone(), &r.bulk).unwrap());
                other.push(r.msg.clone());
            }
            FromWorker::Family { family, .. } => {
                assert!(board.apply_family(family.clone(), &r.bulk).unwrap());
                other.push(r.msg.clone());
            }
            FromWorker::Ack { .. } => {}
            m => panic!("unexpected {m:?}"),
        }
    }
    other
}

fn ticking() -> impl FnMut() -> f64 {
    let mut t = 0.0;
    move || {
        t += 1.0;
        t
    }
}

fn load(host: &mut Host, board: &mut Board, sc: &Scenario, flows: serde_json::Value) {
    let msg = json!({"id": 1, "type": "load", "scenario": sc.to_json(), "flows": flows});
    feed(board, host.handle(msg, 0.0));
}

/// Runs every lane to its end (and a family to the lanes' furthest `s`).
fn run_out(host: &mut Host, board: &mut Board) -> Vec<FromWorker> {
    let mut seen = feed(
        board,
        host.handle(json!({"id": 2, "type": "run_until"}), 0.0),
    );
    let mut clock = ticking();
    while host.wants_tick() {
        let r = host.tick(&mut clock);
        seen.extend(feed(board, r));
    }
    seen
}

fn svg(board: &mut Board, view: View) -> String {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (640, 480)).into_drawing_area();
        board.draw(view, &area, &Look::default()).unwrap();
    }
    out
}

fn trapped_without_auto_escape() -> Scenario {
    let mut sc = common::preset("softplus-trapped");
    sc.escape.auto = false;
    sc
}

#[test]
fn the_critical_panel_at_the_trapped_rest_point_and_the_escape_button() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &trapped_without_auto_escape(),
        json!([{"kind": "standard"}]),
    );
    run_out(&mut host, &mut board);
    let lane = &host.comparison().unwrap().lanes()[0].session;
    assert_eq!(lane.status(), Status::Stationary);
    let theta_star = lane.theta().to_vec();
    assert!((lane.cost() - 0.5).abs() < 1e-9, "C = {}", lane.cost());

    let seen = feed(
        &mut board,
        host.handle(
            json!({"id": 3, "type": "critical", "lane": 0, "size": 21}),
            0.0,
        ),
    );
    let FromWorker::Critical { report, .. } = &seen[0] else {
        panic!()
    };
    assert_eq!(report.kind, PointKind::RankLossEquilibrium);
    assert_eq!((report.rank, report.qn, report.k), (3, 4, 9));
    assert_eq!(report.dimension, 6, "K − r = 9 − 3");
    // C = 1/2 = |x̲ − y̲|²/(2N) with N = 4: |∇ₓC| = |x̲ − y̲|/N = 2/4.
    assert!((report.grad_x_norm - 0.5).abs() < 1e-9);
    assert!(report.proj_grad_norm <= 1e-6 * report.grad_x_norm);
    let lam = report.rayleigh_min.unwrap();
    assert!(lam < -1e-3, "negative curvature on the normals: {lam}");
    assert!(!report.at_escape && report.escape.is_none());
    // The slice: C(θ*) in the middle cell, lower values along the normal, the grid size².
    let slice = board.slice_figure();
    assert_eq!(slice.costs.len(), 21 * 21);
    assert_eq!(slice.costs[10 * 21 + 10], report.slice.center_cost);
    assert!((report.slice.center_cost - 0.5).abs() < 1e-9);
    let row: Vec<f64> = slice.costs[10 * 21..11 * 21].to_vec();
    assert!(
        row.iter().any(|&c| c < 0.5 - 1e-4),
        "the normal direction lowers C: {row:?}"
    );
    let panel = board.critical_panel().unwrap();
    assert!(
        panel
            .verdict
            .starts_with("θ* is a rest point of the DAE (4.5)"),
        "{}",
        panel.verdict
    );
    assert!(panel.can_escape);
    let text = |k: &str| {
        panel
            .readouts
            .iter()
            .find(|r| r.key == k)
            .unwrap_or_else(|| panic!("no readout {k}"))
            .text
            .clone()
    };
    assert_eq!(text("rank"), "3 of QN = 4");
    assert_eq!(text("dimension"), "9 − 3 = 6");
    assert_eq!(text("grad"), "5.00e-1");
    assert!(
        panel.escape.contains("The Hessian has λ_min = "),
        "{}",
        panel.escape
    );

    // The Escape button: a frame with the lower cost, then the panel with the step drawn.
    let seen = host.handle(json!({"id": 4, "type": "escape", "lane": 0}), 0.0);
    let FromWorker::Frame { frame, .. } = &seen[0].msg else {
        panic!("{:?}", seen[0].msg)
    };
    let after = frame.lanes[0].cost;
    assert_eq!(frame.lanes[0].status, Status::Running);
    assert!(frame.lanes[0].events.iter().any(|e| e.escape().is_some()));
    // The cost the frame shows is the forward pass at θ₀' = θ* + t·v, and the step passed the
    // escape's acceptance test C(θ₀') ≤ C(θ*) − sufficient·½|λ|t² (4.15)–(4.17).
    {
        let lane = &host.comparison().unwrap().lanes()[0];
        let step = lane
            .session
            .events()
            .iter()
            .rev()
            .find_map(|e| e.escape())
            .unwrap();
        let forward = lane.session.model().cost(&step.theta_after());
        assert!(
            (after - forward).abs() <= 1e-14 * forward,
            "{after} vs {forward}"
        );
        let spec = lane.session.scenario().escape;
        let required = spec.sufficient * 0.5 * step.rayleigh.abs() * step.step * step.step;
        assert!(
            after <= step.cost_before - required,
            "{after} vs {}",
            step.cost_before
        );
    }
    let seen = feed(&mut board, seen);
    let FromWorker::Critical { report, .. } = &seen[0] else {
        panic!()
    };
    let e = report.escape.as_ref().expect("the step is drawn");
    assert!(report.at_escape);
    assert_eq!(e.cost_after, after);
    assert!((e.cost_before - 0.5).abs() < 1e-9);
    // The slice lies in the plane of the step: its end is (step, 0).
    assert!(
        (e.end[0] - e.step).abs() < 1e-12 && e.end[1].abs() < 1e-12,
        "{:?}",
        e.end
    );
    assert!((report.slice.half - 1.6 * e.step).abs() < 1e-12);
    // θ* of the panel is the rest point, and its cost the slice's centre.
    let model = host.comparison().unwrap().lanes()[0]
        .session
        .model()
        .clone();
    assert_eq!(model.cost(&theta_star), report.slice.center_cost);
    let panel = board.critical_panel().unwrap();
    assert!(!panel.can_escape, "one escape per rest point");
    assert!(
        panel.escape.contains(&format!("C 5.0000e-1 → {after:.4e}")),
        "{}",
        panel.escape
    );
    // The cost figure marks the jump.
    let cost = board.cost_figure();
    assert_eq!(cost.jumps.len(), 1);
    assert!((cost.jumps[0].1 - 0.5).abs() < 1e-9 && cost.jumps[0].2 == after);
    // The slice figure: one rect per cell, the circle at θ* and the triangle at θ₀'.
    let doc = svg(&mut board, View::Critical);
    assert!(doc.matches("<rect").count() >= 41 * 41, "cells");
    assert!(
        doc.contains("<circle") && doc.contains("<polygon"),
        "markers"
    );
    assert!(doc.contains("escape direction"));
    // Playing on from the escape fits XOR.
    run_out(&mut host, &mut board);
    let lane = &host.comparison().unwrap().lanes()[0].session;
    assert_eq!(lane.status(), Status::CostBelow);
}

#[test]
fn the_automatic_escape_is_inspected_at_the_point_it_left() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("softplus-trapped"),
        json!([{"kind": "standard"}]),
    );
    run_out(&mut host, &mut board);
    let seen = feed(
        &mut board,
        host.handle(json!({"id": 3, "type": "critical", "lane": 0}), 0.0),
    );
    let FromWorker::Critical { report, .. } = &seen[0] else {
        panic!()
    };
    // The lane ended at C ≤ ε; the panel shows the rest point it escaped from.
    assert!(report.at_escape);
    assert_eq!(report.kind, PointKind::RankLossEquilibrium);
    assert_eq!(report.status, Status::CostBelow);
    assert!((report.cost - 0.5).abs() < 1e-9);
    // The singular spectrum carries all min(K, QN) = 4 values; σ₄ = 0 until the escape.
    let info = board.info().unwrap().clone();
    assert_eq!((info.sv, info.sv_total), (4, 4));
    let fig = board.singular_figure();
    assert_eq!(fig.sigmas.len(), 4);
    assert_eq!(fig.escapes.len(), 1);
    let before: Vec<f64> = fig.sigmas[3]
        .iter()
        .filter(|p| p.0 < fig.escapes[0])
        .map(|p| p.1)
        .collect();
    assert!(
        !before.is_empty() && before.iter().all(|&v| v <= 1e-10),
        "{before:?}"
    );
    let after = fig.sigmas[3].last().unwrap().1;
    assert!(after > 1e-6, "rank 4 after the escape: σ₄/σmax = {after}");
    let doc = svg(&mut board, View::Singular);
    assert!(doc.contains("rank threshold 1e-10") && doc.contains("all 4"));
}

#[test]
fn escape_and_critical_requests_name_their_fields() {
    let mut host = Host::new();
    let r = host.handle(json!({"id": 1, "type": "escape", "lane": 0}), 0.0);
    let FromWorker::Error { message, .. } = &r[0].msg else {
        panic!()
    };
    assert!(message.contains("nothing is loaded"), "{message}");
    let sc = trapped_without_auto_escape();
    host.handle(
        json!({"id": 2, "type": "load", "scenario": sc.to_json(), "flows": [{"kind": "standard"}]}),
        0.0,
    );
    for (msg, field) in [
        (json!({"id": 3, "type": "critical", "lane": 5}), "lane"),
        (
            json!({"id": 4, "type": "critical", "lane": 0, "size": 2}),
            "size",
        ),
        (json!({"id": 5, "type": "escape", "lane": 1}), "lane"),
        (
            json!({"id": 6, "type": "family", "alphas": [0.5, 2.0]}),
            "alphas[1]",
        ),
        (json!({"id": 7, "type": "family", "alphas": []}), "alphas"),
        (
            json!({"id": 8, "type": "family", "alphas": [0.5, 0.5]}),
            "alphas[1]",
        ),
    ] {
        let r = host.handle(msg.clone(), 0.0);
        let FromWorker::Error {
            field: f, message, ..
        } = &r[0].msg
        else {
            panic!("{msg}: {:?}", r[0].msg)
        };
        assert_eq!(f.as_deref(), Some(field), "{msg}: {message}");
    }
    // A critical report is refused on a network too large for exact Hessian columns.
    let mut big = common::preset("over-smooth");
    if let pullback::math::data::DataSpec::Moons { n, .. } = &mut big.data {
        *n = 1500;
    }
    host.handle(
        json!({"id": 9, "type": "load", "scenario": big.to_json(), "flows": [{"kind": "adapted"}]}),
        0.0,
    );
    let r = host.handle(json!({"id": 10, "type": "critical", "lane": 0}), 0.0);
    let FromWorker::Error { field, message, .. } = &r[0].msg else {
        panic!()
    };
    assert_eq!(field.as_deref(), Some("lane"));
    assert!(message.contains("exceeds"), "{message}");
}

#[test]
fn the_constructive_minimizer_beside_the_flows_that_stall_above_it() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("non-approximability"),
        json!([{"kind": "adapted"}, {"kind": "gd", "h": 0.5}]),
    );
    let seen = feed(
        &mut board,
        host.handle(json!({"id": 3, "type": "construct"}), 0.0),
    );
    let FromWorker::Construction { report, .. } = &seen[0] else {
        panic!()
    };
    assert!(report.fits, "the preset's network is the constructive one");
    assert_eq!(report.needed, vec![2, 2, 2, 2, 3]);
    assert_eq!((report.k, report.qn), (27, 90));
    assert!(report.cost.unwrap() <= 1e-20, "C(θ_c) = {:?}", report.cost);
    assert_eq!(report.stages, 4, "Q + 1 stages");
    assert_eq!(report.cuts.len(), 3);
    assert_eq!(
        board.layer_positions(),
        5,
        "the stages and the output layer"
    );
    run_out(&mut host, &mut board);
    let panel = board.construct_panel().unwrap();
    assert_eq!(panel.rows[0].cost, "0.000000");
    assert_eq!(panel.rows.len(), 3);
    for row in &panel.rows[1..] {
        assert!(
            row.cost_value > 1e-2,
            "{} stalls above 0: {}",
            row.label,
            row.cost
        );
        let perp_rank: usize = row.perp_rank.parse().unwrap();
        let rank: usize = row.rank.parse().unwrap();
        assert_eq!(perp_rank + rank, 90, "rank 𝒫⊥ = QN − rank D");
        assert!(rank <= 27, "rank D ≤ K");
    }
    // Each flow's sentence names its end point's class (the session's `rest`, the trace's
    // `final.rest`) and the hypothesis that holds or fails there.
    for (i, lane) in host.comparison().unwrap().lanes().iter().enumerate() {
        let ses = &lane.session;
        let label = board.info().unwrap().lanes[i].label.clone();
        let rest = ses.rest().expect("every lane ended");
        let used = ses.end_check().unwrap().rank_used;
        let sentence = match rest {
            Rest::RegularRest => format!("{label} is at rest (regular_rest"),
            Rest::RankLossRest => format!("{label} is at rest (rank_loss_rest"),
            Rest::Moving => format!(
                "{label} is not at rest (moving: ended by {}",
                ses.status().name()
            ),
            Rest::BlowUp => format!("{label} ended at a singularity of the field (blow_up"),
            Rest::GlobalMinimum => format!("{label} reached a global minimum"),
        };
        assert!(
            panel.verdict.contains(&sentence),
            "{sentence}: {}",
            panel.verdict
        );
        if !rest.at_rest() {
            assert!(!panel.verdict.contains(&format!("{label} is at rest")));
        }
        // ReLU: rank D < K at every point, so Thm 5.1's hypothesis never holds here.
        assert!(used < 27, "{label}: rank_used {used}");
    }
    assert!(
        panel.verdict.contains("rank D[θ_c] = ")
            && panel
                .verdict
                .contains("Thm 5.1's hypothesis rank D = K fails there"),
        "{}",
        panel.verdict
    );
    assert!(panel.verdict.contains("generically"), "{}", panel.verdict);
    assert_eq!(panel.hidden, "2,2,2");
    // The adapted (Gauss–Newton) lane at rest: C = (N/2)|𝒫⊥∇ₓC|² (Thm 5.1).
    let adapted = &host.comparison().unwrap().lanes()[0].session;
    if adapted.status() == Status::Stationary {
        let last = adapted.samples().last().unwrap();
        assert!((last.cost - last.perp_cost).abs() <= 1e-6 * last.cost);
    }
    // The layer view: stage l collapses the class of cut l to its apex; the output layer puts
    // every point on its target.
    let r = report.clone();
    for l in 0..=r.stages {
        board.set_stage(l as f64);
        let fig = board.layers_figure();
        let panel = board.construct_panel().unwrap();
        assert_eq!(panel.position, l);
        if l == r.stages {
            assert!(panel.stage.starts_with("output layer"), "{}", panel.stage);
            assert_eq!(fig.targets.len(), 3);
            let data = host.comparison().unwrap().lanes()[0]
                .session
                .model()
                .data
                .clone();
            for (p, &c) in fig.points.iter().zip(&data.labels) {
                let y = &data.targets[c];
                assert!((p.0 - y[0]).abs() < 1e-9 && (p.1 - y[1]).abs() < 1e-9);
            }
            continue;
        }
        assert!(
            panel.stage.starts_with(&format!("stage {l} of 3")),
            "{}",
            panel.stage
        );
        assert_eq!(fig.collapsed.len(), l);
        for cut in &r.cuts[..l] {
            for p in fig.points.iter().filter(|p| p.2 == cut.class) {
                assert!((p.0 - cut.apex[0]).abs() < 1e-9 && (p.1 - cut.apex[1]).abs() < 1e-9);
            }
        }
        assert_eq!(fig.cut.is_some(), l < 3);
        let doc = svg(&mut board, View::Construct);
        assert!(doc.contains(&format!("stage {l}")), "title of stage {l}");
    }
    // Halfway between stages 0 and 1 the collapsing class is halfway to its apex.
    board.set_stage(0.5);
    let fig = board.layers_figure();
    board.set_stage(0.0);
    let start = board.layers_figure();
    let cut = &r.cuts[0];
    for (p, q) in fig.points.iter().zip(&start.points) {
        if p.2 == cut.class {
            assert!((p.0 - 0.5 * (q.0 + cut.apex[0])).abs() < 1e-9);
        } else {
            assert_eq!((p.0, p.1), (q.0, q.1));
        }
    }
}

#[test]
fn a_network_that_is_not_the_constructive_one_is_told_which_widths_it_needs() {
    let (mut host, mut board) = (Host::new(), Board::new());
    let mut sc = common::preset("under-stationary");
    sc.data = pullback::math::data::DataSpec::Clusters {
        n: 30,
        classes: 3,
        dim: 2,
        separation: 4.0,
        noise: 0.3,
    };
    load(&mut host, &mut board, &sc, json!([{"kind": "adapted"}]));
    feed(
        &mut board,
        host.handle(json!({"id": 3, "type": "construct"}), 0.0),
    );
    let panel = board.construct_panel().unwrap();
    assert!(!panel.fits);
    assert!(
        panel
            .architecture
            .contains("built on ReLU widths [2, 2, 2, 2, 3]")
            && panel.architecture.contains("tanh with widths [2, 2, 3]")
            && panel.architecture.contains("net.activation"),
        "{}",
        panel.architecture
    );
    assert_eq!(panel.hidden, "2,2,2");
    // The construction is still shown (on the constructive architecture), without flow rows.
    assert_eq!(panel.rows.len(), 1);
    assert_eq!(panel.rows[0].cost, "0.000000");
    // XOR is not sequentially separable: the panel says so.
    let mut sc = common::preset("under-stationary");
    sc.data = pullback::math::data::DataSpec::Xor { n: 40, noise: 0.05 };
    sc.net.widths = vec![2, 2, 2];
    load(&mut host, &mut board, &sc, json!([{"kind": "adapted"}]));
    feed(
        &mut board,
        host.handle(json!({"id": 3, "type": "construct"}), 0.0),
    );
    let panel = board.construct_panel().unwrap();
    assert!(
        panel
            .verdict
            .starts_with("No construction: data: not sequentially separable"),
        "{}",
        panel.verdict
    );
    assert_eq!(board.layer_positions(), 0);
}

#[test]
fn the_homotopy_family_comes_to_rest_where_every_field_vanishes() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("under-stationary"),
        json!([{"kind": "adapted"}]),
    );
    let seen = feed(
        &mut board,
        host.handle(
            json!({"id": 3, "type": "family", "alphas": [0, 0.5, 1]}),
            0.0,
        ),
    );
    assert!(matches!(seen[0], FromWorker::Family { .. }));
    // The lanes are at s = 0: nothing for the family to catch up with yet.
    assert!(!host.wants_tick());
    run_out(&mut host, &mut board);
    let fam = host.family().unwrap();
    // α = 0.5 and α = 1 come to rest at the same cost; the standard flow (α = 0) crawls on.
    let ends: Vec<(Status, f64, f64)> = fam
        .lanes()
        .iter()
        .map(|l| (l.session.status(), l.session.s(), l.session.cost()))
        .collect();
    assert_eq!(ends[2].0, Status::Stationary, "{ends:?}");
    assert_eq!(ends[1].0, Status::Stationary, "{ends:?}");
    assert!((ends[1].2 - ends[2].2).abs() < 1e-7, "{ends:?}");
    // Once the lane has ended, the members run on to their own ends.
    assert!(ends.iter().all(|e| e.0 != Status::Running), "{ends:?}");
    let panel = board.family_panel().unwrap();
    assert_eq!(panel.rows.len(), 3);
    assert_eq!(panel.rows[0].label, "α = 0 (standard)");
    for row in &panel.rows[1..] {
        let v: f64 = row.fields.parse().unwrap();
        assert!(v < 1e-6, "{}: fields at the rest point {v}", row.label);
    }
    assert!(
        panel.verdict.contains("equilibria coincide"),
        "{}",
        panel.verdict
    );
    // Trails: one per (α, family sample), starting at the shared θ₀.
    let fig = board.homotopy_figure();
    let per = fig.trails.len() / 3;
    assert!(per >= 1 && fig.trails.len() == 3 * per);
    for k in 0..per {
        assert_eq!(fig.trails[k].points[0], fig.trails[per + k].points[0]);
    }
    assert_eq!(fig.legend[2].0, "α = 1 (adapted)");
    let doc = svg(&mut board, View::Homotopy);
    assert!(doc.contains("α = 0.5"));
    // Turning it off stops the work.
    host.handle(json!({"id": 9, "type": "family", "alphas": null}), 0.0);
    assert!(host.family().is_none());
}

#[test]
fn outputs_against_t_run_on_the_straight_line_under_the_adapted_flow() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("over-smooth"),
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
    );
    feed(
        &mut board,
        host.handle(json!({"id": 2, "type": "play"}), 0.0),
    );
    let mut clock = ticking();
    while host.wants_tick() && board.s() < 60.0 {
        let r = host.tick(&mut clock);
        feed(&mut board, r);
    }
    let panel = board.reparam_panel().unwrap();
    let get = |k: &str| panel.readouts.iter().find(|r| r.key == k).unwrap().value;
    let (a, s) = (get("offline-adapted"), get("offline-standard"));
    assert!(a <= 1e-6, "adapted off the line by {a:.2e}");
    assert!(s >= 1e-2, "standard off the line by only {s:.2e}");
    assert!(
        panel.verdict.contains("all N = 16 samples"),
        "{}",
        panel.verdict
    );
    let fig = board.reparam_figure();
    assert_eq!(fig.straight.len(), 16);
    // Each adapted path ends on its straight line at its last t.
    let lane = &fig.lanes[0];
    for (path, ((t0, x0), (t1, y))) in lane.paths.iter().zip(&fig.straight) {
        assert_eq!((*t0, *t1), (0.0, 1.0));
        assert_eq!(path[0].1, *x0);
        let &(t, x) = path.last().unwrap();
        assert!((x - ((1.0 - t) * x0 + t * y)).abs() < 1e-6);
    }
    let doc = svg(&mut board, View::Reparam);
    assert!(doc.contains("t = 1 − e^(−s/N)"));
}

#[test]
fn the_measured_rank_stands_beside_the_papers_formula() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("shallow-relu-inactive"),
        json!([{"kind": "adapted"}]),
    );
    let text = board.rank_formula_text().unwrap();
    assert!(
        text.starts_with("rank D[θ₀]: measured 6, the paper's J Q (2.39)")
            && text.contains("gives 4; they differ, and the measurement stands"),
        "{text}"
    );
    assert!(text.contains("output bias"), "{text}");
    load(
        &mut host,
        &mut board,
        &common::preset("linear-rank"),
        json!([{"kind": "adapted"}]),
    );
    let text = board.rank_formula_text().unwrap();
    assert!(
        text.starts_with("rank D[θ₀]: measured 8 = the paper's"),
        "{text}"
    );
    load(
        &mut host,
        &mut board,
        &common::preset("over-smooth"),
        json!([{"kind": "adapted"}]),
    );
    assert!(board.rank_formula_text().is_none());
}

#[test]
fn neural_collapse_is_drawn_for_every_flow_with_the_rate_on_the_adapted_one() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("over-smooth"),
        json!([{"kind": "adapted"}, {"kind": "standard"}, {"kind": "gd", "h": 0.05}]),
    );
    feed(
        &mut board,
        host.handle(json!({"id": 2, "type": "play"}), 0.0),
    );
    let mut clock = ticking();
    while host.wants_tick() && board.s() < 20.0 {
        let r = host.tick(&mut clock);
        feed(&mut board, r);
    }
    let fig = board.collapse_figure();
    assert_eq!(fig.panels.len(), 3);
    assert!(fig.panels[0].reference.is_some());
    assert!(fig.panels[1].reference.is_none() && fig.panels[2].reference.is_none());
    // The adapted distances fall exactly at the drawn rate e^{−s/N}.
    let (_, d0, n) = fig.panels[0].reference.unwrap();
    let c = &fig.panels[0].classes[0];
    let first = c.distance[0].1;
    for &(s, d) in &c.distance {
        assert!((d / (first * (-s / n as f64).exp()) - 1.0).abs() < 1e-6);
    }
    assert!(d0 >= first);
    let doc = svg(&mut board, View::Collapse);
    assert!(doc.contains("adapted (grey: e^(−2s/N), e^(−s/N))"));
    assert!(doc.contains("standard (RK45)") && doc.contains("gradient descent h=0.05"));
    // Hover finds the panel under the cursor.
    let g = board.geom(View::Collapse).unwrap();
    let text = board
        .hover(
            View::Collapse,
            0.5 * (g.px[0] + g.px[1]),
            0.5 * (g.py[0] + g.py[1]),
        )
        .unwrap();
    assert!(text.starts_with("adapted, s = "), "{text}");
}

#[test]
fn a_morse_bott_rest_point_says_why_there_is_no_escape() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("shallow-relu-inactive"),
        json!([{"kind": "adapted"}]),
    );
    run_out(&mut host, &mut board);
    feed(
        &mut board,
        host.handle(
            json!({"id": 3, "type": "critical", "lane": 0, "size": 9}),
            0.0,
        ),
    );
    let r = board.critical_report().unwrap();
    assert_eq!(r.kind, PointKind::RankLossEquilibrium);
    assert_eq!((r.rank, r.qn), (6, 8));
    assert!(r.rayleigh_min.unwrap() > 0.0);
    let panel = board.critical_panel().unwrap();
    assert!(
        panel
            .escape
            .starts_with("No escape: a local minimum, not strict (Morse–Bott)"),
        "{}",
        panel.escape
    );
    assert!(!panel.can_escape, "the button would only repeat no_escape");
}

#[test]
fn the_uniform_collapse_rate_is_drawn_only_where_it_holds() {
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("under-stationary"),
        json!([{"kind": "adapted"}]),
    );
    feed(
        &mut board,
        host.handle(json!({"id": 2, "type": "step"}), 0.0),
    );
    let mut clock = ticking();
    while host.wants_tick() {
        let r = host.tick(&mut clock);
        feed(&mut board, r);
    }
    let fig = board.collapse_figure();
    assert!(fig.panels[0].reference.is_none());
    assert_eq!(
        fig.panels[0].title,
        "adapted (rank D < QN: no uniform rate)"
    );
}

#[test]
fn the_construction_is_refused_politely_when_too_large_or_inconsistent() {
    let spec = pullback::math::data::DataSpec::Clusters {
        n: 2000,
        classes: 4,
        dim: 2,
        separation: 4.0,
        noise: 0.3,
    };
    let data = pullback::math::data::Dataset::from_spec(&spec, 1).unwrap();
    let net =
        pullback::math::net::Mlp::new(&[2, 3, 3, 3, 3, 4], pullback::math::net::Activation::Relu)
            .unwrap();
    let model = pullback::math::model::Model::new(net, data).unwrap();
    let (r, bulk) = pullback::app::inspect::construction_report(&model, 1e-10);
    assert!(bulk.is_empty() && r.stages == 0);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .starts_with("N·C = 2000·4 exceeds 6000"),
        "{:?}",
        r.error
    );
    // A report whose cuts do not match its stages is an error on the page, not a panic.
    let (mut host, mut board) = (Host::new(), Board::new());
    load(
        &mut host,
        &mut board,
        &common::preset("constructive"),
        json!([{"kind": "adapted"}]),
    );
    let r = host.handle(json!({"id": 2, "type": "construct"}), 0.0);
    let FromWorker::Construction { report, .. } = &r[0].msg else {
        panic!()
    };
    let mut bad = report.clone();
    bad.cuts.pop();
    let e = board.apply_construction(bad, &r[0].bulk).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("report.cuts: 2 cuts for 4 stages"),
        "{e}"
    );
    let e = board
        .apply_construction(report.clone(), &r[0].bulk[1..])
        .unwrap_err();
    assert!(e.to_string().starts_with("bulk: expected"), "{e}");
    assert!(board
        .apply_construction(report.clone(), &r[0].bulk)
        .unwrap());
    // On the constructive preset the flows start at θ_c: the verdict says so instead of
    // claiming that they stall above it.
    let v = board.construct_panel().unwrap().verdict;
    assert!(v.contains("The flows start at θ_c itself"), "{v}");
    assert!(!v.contains("stay above"), "{v}");
}
