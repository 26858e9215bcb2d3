//! The constructive panel through a real [`Host`] into a [`Board`]: the 2023 family `θ(μ)` as the
//! μ slider moves it (the cost shown stays 0.000000, the layer view follows), a clicked input
//! classified by the metric `d`, the theorem chosen by the page; the split `C = V + B` of every
//! flow's cost; the weighted cost on the page (theory line, predicted stopping time).

mod common;
use plotters::prelude::*;
use pullback::app::board::Board;
use pullback::app::protocol::{FromWorker, Host, Reply};
use pullback::app::view::View;
use pullback::math::construct::Theorem;
use pullback::math::model::CostSpec;
use pullback::plot::Look;
use pullback::run::scenario::Scenario;
use serde_json::json;

fn feed(board: &mut Board, replies: Vec<Reply>) -> Vec<FromWorker> {
    let mut other = vec![];
    for r in replies {
        match &r.msg {
            FromWorker::Loaded { info, .. } => board.load(info.clone(), &r.bulk).unwrap(),
            FromWorker::Frame { frame, .. } => {
                assert!(board.apply(frame, &r.bulk).unwrap());
            }
            FromWorker::Construction { report, .. } => {
                assert!(board.apply_construction(report.clone(), &r.bulk).unwrap());
                other.push(r.msg.clone());
            }
            FromWorker::Classified { report, .. } => {
                assert!(board.apply_classification(report.clone()).unwrap());
                other.push(r.msg.clone());
            }
            FromWorker::Ack { .. } => {}
            m => panic!("unexpected {m:?}"),
        }
    }
    other
}

fn load(host: &mut Host, board: &mut Board, sc: &Scenario, flows: serde_json::Value) {
    let msg = json!({"id": 1, "type": "load", "scenario": sc.to_json(), "flows": flows});
    feed(board, host.handle(msg, 0.0));
}

fn run_out(host: &mut Host, board: &mut Board) {
    feed(
        board,
        host.handle(json!({"id": 2, "type": "run_until"}), 0.0),
    );
    let mut t = 0.0;
    let mut clock = move || {
        t += 1.0;
        t
    };
    while host.wants_tick() {
        let r = host.tick(&mut clock);
        feed(board, r);
    }
}

fn svg(board: &mut Board, view: View) -> String {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (640, 480)).into_drawing_area();
        board.draw(view, &area, &Look::default()).unwrap();
    }
    out
}

#[test]
fn the_mu_slider_keeps_the_cost_at_zero_and_a_click_is_classified() {
    let (mut host, mut board) = (Host::new(), Board::new());
    let sc = common::preset("clustered-family");
    load(&mut host, &mut board, &sc, json!([{"kind": "standard"}]));
    // Automatic choice: the 2023 theorem's hypotheses hold on these data.
    let seen = feed(
        &mut board,
        host.handle(json!({"id": 3, "type": "construct"}), 0.0),
    );
    let FromWorker::Construction { report, .. } = &seen[0] else {
        panic!()
    };
    assert_eq!(report.theorem, Theorem::Clustered);
    assert!(report.fits, "the preset's network is [2, 2, 2, 2]");
    let fam = report.family.clone().unwrap();
    let [lo, hi] = fam.geometry.range;
    let panel = board.construct_panel().unwrap();
    assert!(panel.clustered_available);
    assert!(panel.hypotheses.contains("2023"), "{}", panel.hypotheses);
    let slider = panel.mu.unwrap();
    assert_eq!((slider.lo, slider.hi), (lo, hi));
    // Five positions of the slider: θ(μ) at each, the cost shown stays 0.000000 and the apexes
    // of the layer view move along the segments to the centre.
    let mut apexes = vec![];
    for k in 0..5 {
        let mu = lo + (hi - lo) * k as f64 / 4.0;
        let seen = feed(
            &mut board,
            host.handle(
                json!({"id": 4, "type": "construct", "theorem": "clustered", "mu": [mu]}),
                0.0,
            ),
        );
        let FromWorker::Construction { report, .. } = &seen[0] else {
            panic!()
        };
        assert!(report.error.is_none(), "{:?}", report.error);
        assert!(report.cost.unwrap() <= 1e-20);
        let panel = board.construct_panel().unwrap();
        let shown = panel
            .readouts
            .iter()
            .find(|r| r.key == "construct-cost")
            .unwrap();
        assert_eq!(shown.text, "0.000000");
        assert_eq!(panel.rows[0].cost, "0.000000");
        assert!((panel.mu.unwrap().value - mu).abs() <= 1e-15);
        board.set_stage(1.0);
        let fig = board.layers_figure();
        apexes.push(fig.collapsed[0]);
        // δ_P: δ₀ at the inputs, 0 once every class is one point.
        let f = report.family.as_ref().unwrap();
        assert!(f.delta_p.last().unwrap().unwrap() <= 1e-12);
    }
    assert!(
        apexes.windows(2).all(|w| w[0] != w[1]),
        "the layer view follows μ"
    );
    // A μ outside the slider's range is refused with its name.
    let seen = feed(
        &mut board,
        host.handle(
            json!({"id": 5, "type": "construct", "theorem": "clustered", "mu": [hi + 0.05]}),
            0.0,
        ),
    );
    let FromWorker::Construction { report, .. } = &seen[0] else {
        panic!()
    };
    assert!(report.error.as_deref().unwrap().starts_with("mu[0]"));
    // Back to a valid member; a click at the input plane (stage 0) is classified.
    feed(
        &mut board,
        host.handle(json!({"id": 6, "type": "construct"}), 0.0),
    );
    board.set_stage(0.0);
    svg(&mut board, View::Construct);
    let data = host.comparison().unwrap().lanes()[0]
        .session
        .model()
        .data
        .clone();
    // The pixel of the first input of class 2 maps back to (about) that input.
    let j = data.labels.iter().position(|&l| l == 1).unwrap();
    let (x, y) = (data.inputs[(0, j)], data.inputs[(1, j)]);
    let geom = board.geom(View::Construct).unwrap();
    let (px, py) = geom.to_pixel(x, y);
    let probe = board.probe_input(px, py).unwrap();
    assert!(
        (probe[0] - x).abs() < 0.05 && (probe[1] - y).abs() < 0.05,
        "{probe:?}"
    );
    let seen = feed(
        &mut board,
        host.handle(json!({"id": 7, "type": "classify", "x": probe}), 0.0),
    );
    let FromWorker::Classified { report, .. } = &seen[0] else {
        panic!()
    };
    assert_eq!(
        report.result.class, 1,
        "near class 2's input: matched to y2"
    );
    let metric = report.result.metric.clone().unwrap();
    for (a, b) in metric.iter().zip(&report.result.distances) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b));
    }
    let panel = board.construct_panel().unwrap();
    assert!(panel.probe.contains("matched to y2"), "{}", panel.probe);
    assert!(panel.probe.contains("d = "), "{}", panel.probe);
    assert!(board.layers_figure().probe.is_some());
    // Off stage 0 the layer view does not show the inputs: no probe from a click there.
    board.set_stage(1.0);
    assert!(board.probe_input(px, py).is_none());
    // A bad input is refused by name.
    let r = host.handle(json!({"id": 8, "type": "classify", "x": [1.0]}), 0.0);
    let FromWorker::Error { field, .. } = &r[0].msg else {
        panic!("{:?}", r[0].msg)
    };
    assert_eq!(field.as_deref(), Some("x"));
    // The 2024 construction on the same data when the page asks for it.
    let seen = feed(
        &mut board,
        host.handle(
            json!({"id": 9, "type": "construct", "theorem": "separable"}),
            0.0,
        ),
    );
    let FromWorker::Construction { report, .. } = &seen[0] else {
        panic!()
    };
    assert_eq!(report.theorem, Theorem::Separable);
    assert!(report.cost.unwrap() <= 1e-20);
    let panel = board.construct_panel().unwrap();
    assert!(panel.mu.is_none());
    assert!(panel.hypotheses.contains("2024"), "{}", panel.hypotheses);
    assert_eq!(panel.cuts.len(), 2);
    assert!(
        panel.numbers.contains("Q_c(M + 2) = 8"),
        "{}",
        panel.numbers
    );
}

#[test]
fn the_split_is_shown_for_every_flow_and_sums_to_the_cost() {
    for cost in [CostSpec::Mean, CostSpec::Weighted] {
        let (mut host, mut board) = (Host::new(), Board::new());
        let mut sc = common::preset("weighted-cost");
        sc.cost = cost;
        sc.stop.s_max = Some(5.0);
        load(
            &mut host,
            &mut board,
            &sc,
            json!([{"kind": "adapted"}, {"kind": "standard"}]),
        );
        run_out(&mut host, &mut board);
        let panel = board.split_panel().unwrap();
        assert_eq!(panel.rows.len(), 2);
        for row in &panel.rows {
            let check: f64 = row.check.parse().unwrap();
            assert!(check <= 1e-12, "{}: |V + B − C|/C = {check}", row.label);
        }
        let expect = match cost {
            CostSpec::Mean => "Mean cost",
            CostSpec::Weighted => "Weighted cost",
        };
        assert!(panel.verdict.starts_with(expect), "{}", panel.verdict);
        // The cost figure's theory: one exponential for the mean cost, one per class for the
        // weighted one, with the matching legend.
        let info = board.info().unwrap();
        assert_eq!(info.cost, cost);
        let fig = board.cost_figure();
        let doc = svg(&mut board, View::Cost);
        match cost {
            CostSpec::Mean => {
                assert!(fig.terms.is_empty());
                assert!(doc.contains("C(0)·e^(-2s/N)"));
            }
            CostSpec::Weighted => {
                assert_eq!(fig.terms.len(), 3, "one exponential per class");
                assert!(doc.contains("Σ_j C_j(0)·e^(-4s/N_j)"));
            }
        }
    }
}

#[test]
fn s_max_zero_on_the_page_shows_the_initial_sample_and_ends() {
    let (mut host, mut board) = (Host::new(), Board::new());
    let mut sc = common::preset("constructive");
    sc.stop.s_max = Some(0.0);
    load(
        &mut host,
        &mut board,
        &sc,
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
    );
    run_out(&mut host, &mut board);
    for (i, lane) in host.comparison().unwrap().lanes().iter().enumerate() {
        let ses = &lane.session;
        assert!(ses.finished(), "lane {i}");
        assert_eq!(ses.samples().len(), 1);
        assert!(ses.samples()[0].cost <= 1e-20, "θ₀ is the construction");
        assert_eq!(board.samples(i).len(), 1, "the page has the initial sample");
    }
    // Every figure draws with an interval of length 0.
    for view in [View::Cost, View::Collapse, View::Spectrum, View::Singular] {
        assert!(!svg(&mut board, view).is_empty());
    }
}
