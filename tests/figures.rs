//! Every figure of the page, rendered natively to SVG from a board fed by a real host, with
//! content checks: the flow colours where curves must be, axis texts, one heatmap cell per grid
//! point, straight adapted trails and bent standard ones, hover readouts and the CSV.

mod common;
use plotters::prelude::*;
use pullback::app::board::Board;
use pullback::app::protocol::{FromWorker, Host, Reply};
use pullback::app::view::View;
use pullback::plot::{Look, PALETTE};
use serde_json::json;

/// Feeds replies into the board; returns how many frames it took.
fn feed(board: &mut Board, replies: Vec<Reply>) -> usize {
    let mut frames = 0;
    for r in replies {
        match r.msg {
            FromWorker::Loaded { info, .. } => board.load(info, &r.bulk).unwrap(),
            FromWorker::Frame { frame, .. } => {
                assert!(board.apply(&frame, &r.bulk).unwrap());
                frames += 1;
            }
            FromWorker::Ack { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    frames
}

/// A board of over-smooth with adapted and standard flows, run to `s ≥ s_to`, heatmap on.
fn board_at(preset: &str, flows: serde_json::Value, s_to: f64) -> (Board, Host) {
    let mut host = Host::new();
    let mut board = Board::new();
    let sc = common::preset(preset);
    let load = json!({"id": 1, "type": "load", "scenario": sc.to_json(), "flows": flows});
    feed(&mut board, host.handle(load, 0.0));
    feed(
        &mut board,
        host.handle(
            json!({"id": 2, "type": "heatmap", "lane": 0, "size": 24}),
            0.0,
        ),
    );
    feed(
        &mut board,
        host.handle(json!({"id": 3, "type": "play"}), 0.0),
    );
    let mut t = 0.0;
    let mut clock = move || {
        t += 1.0;
        t
    };
    while host.wants_tick() && board.s() < s_to {
        let r = host.tick(&mut clock);
        feed(&mut board, r);
    }
    feed(
        &mut board,
        host.handle(json!({"id": 4, "type": "pause"}), 0.0),
    );
    (board, host)
}

fn svg(board: &mut Board, view: View) -> String {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (640, 420)).into_drawing_area();
        board.draw(view, &area, &Look::default()).unwrap();
    }
    out
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

#[test]
fn every_view_renders_with_its_content() {
    let (mut board, _) = board_at(
        "over-smooth",
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
        40.0,
    );
    let (blue, vermillion) = (hex(PALETTE[0]), hex(PALETTE[1]));

    let cost = svg(&mut board, View::Cost);
    assert!(
        cost.contains("cost C") && cost.lines().any(|l| l.trim() == "s"),
        "axis texts"
    );
    assert!(cost.matches(&blue).count() >= 2, "adapted curve and legend");
    assert!(
        cost.matches(&vermillion).count() >= 2,
        "standard curve and legend"
    );
    assert!(cost.contains("C(0)·e^(-2s/N)"), "theory line in the legend");
    assert!(cost.contains("predicted stop"), "predicted stopping time");

    let outputs = svg(&mut board, View::Outputs);
    assert!(
        outputs.contains("y1") && outputs.contains("y2"),
        "targets labelled"
    );
    assert!(outputs.contains("output coordinate 1"));
    // 16 trails per flow plus a filled head each.
    assert!(
        outputs.matches(&blue).count() >= 32,
        "{}",
        outputs.matches(&blue).count()
    );
    assert!(outputs.matches(&vermillion).count() >= 32);

    let spectrum = svg(&mut board, View::Spectrum);
    assert!(spectrum.contains("rank D") && spectrum.contains("λmin"));
    assert!(
        spectrum.matches(&blue).count() >= 3,
        "λmin, ρ and rank of adapted"
    );

    let boundary = svg(&mut board, View::Boundary);
    assert!(boundary.contains("input 1") && boundary.contains("adapted at s ="));
    assert!(
        boundary.matches("<rect").count() >= 24 * 24,
        "{}",
        boundary.matches("<rect").count()
    );
    // The 16 data points in the two class colours (8 each), outlined.
    let c0 = hex(pullback::plot::class_color(0));
    let c1 = hex(pullback::plot::class_color(1));
    assert!(boundary.matches(&format!("fill=\"{c0}\"")).count() >= 8);
    assert!(boundary.matches(&format!("fill=\"{c1}\"")).count() >= 8);

    let collapse = svg(&mut board, View::Collapse);
    assert!(
        collapse.contains("adapted (grey: e^(−2s/N), e^(−s/N))")
            && collapse.contains("standard (RK45)")
    );
    assert!(collapse.contains("class 1") && collapse.contains("class 2"));
    assert!(collapse.matches(&c0).count() >= 2 && collapse.matches(&c1).count() >= 2);
}

#[test]
fn adapted_trails_are_straight_and_standard_ones_bend() {
    let (board, _) = board_at(
        "over-smooth",
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
        30.0,
    );
    let fig = board.outputs_figure();
    assert_eq!(fig.trails.len(), 32);
    let bend = |pts: &[(f64, f64)]| -> f64 {
        let (a, b) = (pts[0], *pts.last().unwrap());
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy);
        pts.iter()
            .map(|p| ((p.0 - a.0) * dy - (p.1 - a.1) * dx).abs() / len)
            .fold(0.0, f64::max)
            / len
    };
    let adapted = fig.trails[..16]
        .iter()
        .map(|t| bend(&t.points))
        .fold(0.0, f64::max);
    let standard = fig.trails[16..]
        .iter()
        .map(|t| bend(&t.points))
        .fold(0.0, f64::max);
    assert!(
        adapted < 1e-6,
        "adapted trails deviate from a line by {adapted:.2e} of their length"
    );
    assert!(
        standard > 1e-2,
        "standard trails are this straight: {standard:.2e}"
    );
}

#[test]
fn hover_reads_the_values_under_the_cursor() {
    let (mut board, host) = board_at(
        "over-smooth",
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
        20.0,
    );
    svg(&mut board, View::Cost);
    let g = board.geom(View::Cost).unwrap();
    let samples = board.samples(0);
    let target = &samples[samples.len() / 2];
    let (px, py) = g.to_pixel(target.s, target.cost);
    let text = board.hover(View::Cost, px, py).unwrap();
    let want = format!("adapted: C = {:.4e}", target.cost);
    assert!(text.contains(&want), "{text} lacks {want}");
    assert!(board.hover(View::Cost, -5.0, -5.0).is_none());

    svg(&mut board, View::Boundary);
    let lane = &host.comparison().unwrap().lanes()[0].session;
    let x0 = lane.model().data.input_rows()[3].clone();
    let g = board.geom(View::Boundary).unwrap();
    let (px, py) = g.to_pixel(x0[0], x0[1]);
    let text = board.hover(View::Boundary, px, py).unwrap();
    assert!(text.starts_with("point 4: "), "{text}");
    let (x, y) = board.input_at(px, py).unwrap();
    assert!((x - x0[0]).abs() < 1e-9 && (y - x0[1]).abs() < 1e-9);

    svg(&mut board, View::Spectrum);
    let g = board.geom(View::Spectrum).unwrap();
    let text = board
        .hover(
            View::Spectrum,
            (g.px[0] + g.px[1]) / 2.0,
            (g.py[0] + g.py[1]) / 2.0,
        )
        .unwrap();
    assert!(text.contains("adapted: rank D = 32"), "{text}");
}

#[test]
fn cost_csv_has_one_row_per_recorded_s() {
    let (board, _) = board_at(
        "over-smooth",
        json!([{"kind": "adapted"}, {"kind": "gd", "h": 0.05}]),
        8.0,
    );
    let csv = board.cost_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "s,cost adapted,cost gradient descent h=0.05"
    );
    let first: Vec<f64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(first[0], 0.0);
    assert_eq!(first[1], first[2], "both start from C(0)");
    let rows = csv.lines().count() - 1;
    let most = board.samples(0).len().max(board.samples(1).len());
    assert!(rows >= most, "{rows} rows for {most} samples");
}

#[test]
fn a_tiny_canvas_is_an_error() {
    let (mut board, _) = board_at("borderline", json!([{"kind": "adapted"}]), 1.0);
    let mut out = String::new();
    let area = SVGBackend::with_string(&mut out, (20, 300)).into_drawing_area();
    let e = board.draw(View::Cost, &area, &Look::default()).unwrap_err();
    assert!(
        matches!(&e, pullback::Error::Invalid { field, reason } if field == "cost" && reason.contains("too small")),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "cost: the canvas is too small to draw on (20×300 pixels)"
    );
}

#[test]
fn inputs_of_other_dimensions_say_why_there_is_no_plane() {
    let (mut board, _) = board_at("linear-rank", json!([{"kind": "adapted"}]), 1.0);
    let text = svg(&mut board, View::Boundary);
    assert!(text.contains("the input plane needs M = 2 inputs; these data have M = 6"));
    // Q > 2 pairs and Q = 1 series both draw.
    let (mut board, _) = board_at("under-stationary", json!([{"kind": "adapted"}]), 1.0);
    board.set_pair(0, 2).unwrap();
    assert!(svg(&mut board, View::Outputs).contains("output coordinate 3"));
    assert!(board.set_pair(0, 3).is_err());
}

#[test]
fn a_diverging_run_keeps_the_cost_axis_readable() {
    // Gradient descent with h = 0.5 on over-smooth blows up (the cost overflows to infinity).
    let (mut board, host) = board_at("over-smooth", json!([{"kind": "gd", "h": 0.5}]), 30.0);
    let lane = &host.comparison().unwrap().lanes()[0].session;
    assert!(
        lane.cost() > 1e100,
        "expected a diverged run, C = {}",
        lane.cost()
    );
    svg(&mut board, View::Cost);
    let g = board.geom(View::Cost).unwrap();
    let c0 = lane.initial_cost();
    assert!(
        g.y[1] <= c0 * 1e6 * (1.0 + 1e-12),
        "axis top {} for C(0) = {c0}",
        g.y[1]
    );
    assert!(g.y[1] / g.y[0] < 1e62, "axis spans {:e}", g.y[1] / g.y[0]);
}

#[test]
fn escapes_are_marked_on_the_cost_figure() {
    // softplus-trapped: the standard flow rests at a rank-loss equilibrium and escapes.
    let (mut board, host) = board_at("softplus-trapped", json!([{"kind": "standard"}]), 1e9);
    let events = host.comparison().unwrap().lanes()[0]
        .session
        .events()
        .to_vec();
    let (s, escape) = events
        .iter()
        .find_map(|e| e.escape().map(|step| (e.s, step)))
        .expect("the preset escapes");
    let fig = board.cost_figure();
    assert_eq!(fig.markers.len(), 1, "{:?}", fig.markers);
    assert_eq!(fig.markers[0].0, s);
    assert_eq!(fig.markers[0].1, escape.cost_after);
    assert!(
        svg(&mut board, View::Cost).contains("<polygon"),
        "no escape marker drawn"
    );
}

// ---------------------------------------------------------------- every view in any frame

/// A text of an SVG as drawn: its box in device pixels.
#[derive(Debug, Clone)]
struct TextBox {
    text: String,
    x: [f64; 2],
    y: [f64; 2],
}

/// The value of `name="…"` in an SVG tag's attributes.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = tag[at..].find('"')?;
    Some(&tag[at..at + end])
}

/// Every `<text>` of an SVG written by plotters, with its box as the page's canvas draws it: at
/// 1.24 times the SVG's `font-size` (plotters' canvas backend), as wide as `plot::text_em` says,
/// with the anchors (`text-anchor`, `dy`) and quarter-turn rotations applied. Left-anchored texts
/// are left out: they sit inside the plot (legend entries, which plotters lays out from its own
/// text measure, natively a rough guess and on the page the browser's exact one; labels at data
/// points). What remains are tick labels, axis descriptions and captions.
fn text_boxes(svg: &str) -> Vec<TextBox> {
    let mut out = vec![];
    let mut rest = svg;
    while let Some(at) = rest.find("<text") {
        rest = &rest[at..];
        let close = rest.find('>').expect("tag end");
        let tag = &rest[..close];
        let end = rest.find("</text>").expect("text end");
        let text = rest[close + 1..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
            .replace("&quot;", "\"");
        rest = &rest[end..];
        let num = |k: &str| attr(tag, k).and_then(|v| v.parse::<f64>().ok());
        let (x, y) = (num("x").unwrap(), num("y").unwrap());
        if attr(tag, "text-anchor") == Some("start") {
            continue;
        }
        let size = num("font-size").unwrap() * 1.24;
        let w = pullback::plot::text_em(&text) * size;
        let x0 = match attr(tag, "text-anchor") {
            Some("middle") => -w / 2.0,
            Some("end") => -w,
            _ => 0.0,
        };
        let y0 = match attr(tag, "dy") {
            Some("0.76em") => 0.0,
            Some("0.5ex") => -size / 2.0,
            _ => -size,
        };
        let corners = [(x0, y0), (x0 + w, y0), (x0, y0 + size), (x0 + w, y0 + size)];
        let turn = attr(tag, "transform").map_or(0, |t| {
            if t.starts_with("rotate(90") {
                90
            } else if t.starts_with("rotate(270") {
                270
            } else if t.starts_with("rotate(180") {
                180
            } else {
                0
            }
        });
        let rot = |(dx, dy): (f64, f64)| match turn {
            90 => (-dy, dx),
            180 => (-dx, -dy),
            270 => (dy, -dx),
            _ => (dx, dy),
        };
        let pts: Vec<(f64, f64)> = corners.iter().map(|&c| rot(c)).collect();
        let span = |f: fn(&(f64, f64)) -> f64| {
            let v: Vec<f64> = pts.iter().map(f).collect();
            [
                v.iter().copied().fold(f64::INFINITY, f64::min),
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ]
        };
        let (bx, by) = (span(|p| p.0), span(|p| p.1));
        out.push(TextBox {
            text,
            x: [x + bx[0], x + bx[1]],
            y: [y + by[0], y + by[1]],
        });
    }
    out
}

/// What is wrong with the texts of one drawing of `w × h` device pixels: a text off the canvas,
/// or two texts on top of each other (more than half a pixel each way).
fn text_problems(svg: &str, w: f64, h: f64) -> Vec<String> {
    let boxes = text_boxes(svg);
    let mut problems = vec![];
    for b in &boxes {
        if b.x[0] < -0.5 || b.y[0] < -0.5 || b.x[1] > w + 0.5 || b.y[1] > h + 0.5 {
            problems.push(format!(
                "{:?} at x {:.0}…{:.0}, y {:.0}…{:.0} leaves the {w}×{h} canvas",
                b.text, b.x[0], b.x[1], b.y[0], b.y[1]
            ));
        }
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let ox = a.x[1].min(b.x[1]) - a.x[0].max(b.x[0]);
            let oy = a.y[1].min(b.y[1]) - a.y[0].max(b.y[0]);
            if ox > 0.5 && oy > 0.5 {
                problems.push(format!("{:?} overlaps {:?}", a.text, b.text));
            }
        }
    }
    problems
}

/// Feeds every kind of reply into the board (the panels' too).
fn feed_all(board: &mut Board, replies: Vec<Reply>) {
    for r in replies {
        match r.msg {
            FromWorker::Loaded { info, .. } => board.load(info, &r.bulk).unwrap(),
            FromWorker::Frame { frame, .. } => {
                board.apply(&frame, &r.bulk).unwrap();
            }
            FromWorker::Critical { report, .. } => {
                board.apply_critical(report, &r.bulk).unwrap();
            }
            FromWorker::Construction { report, .. } => {
                board.apply_construction(report, &r.bulk).unwrap();
            }
            FromWorker::Family { family, .. } => {
                board.apply_family(family, &r.bulk).unwrap();
            }
            FromWorker::Modes { modes, .. } => {
                board.apply_modes(modes, &r.bulk).unwrap();
            }
            _ => {}
        }
    }
}

/// A board after `requests` (JSON messages to the host) and running every lane to its end.
fn board_after(preset: &str, flows: serde_json::Value, requests: &[serde_json::Value]) -> Board {
    let (mut host, mut board) = (Host::new(), Board::new());
    let mut sc = common::preset(preset);
    sc.escape.auto = false;
    let load = json!({"id": 1, "type": "load", "scenario": sc.to_json(), "flows": flows});
    feed_all(&mut board, host.handle(load, 0.0));
    let mut id = 10;
    let mut send = |host: &mut Host, board: &mut Board, mut m: serde_json::Value| {
        id += 1;
        m["id"] = json!(id);
        feed_all(board, host.handle(m, 0.0));
    };
    for r in requests.iter().filter(|r| r["type"] != "critical") {
        send(&mut host, &mut board, r.clone());
    }
    send(&mut host, &mut board, json!({"type": "run_until"}));
    let mut t = 0.0;
    let mut clock = move || {
        t += 1.0;
        t
    };
    while host.wants_tick() {
        let r = host.tick(&mut clock);
        feed_all(&mut board, r);
    }
    // The critical panel describes a rest point: asked for once the lanes have ended.
    for r in requests.iter().filter(|r| r["type"] == "critical") {
        send(&mut host, &mut board, r.clone());
    }
    board
}

#[test]
fn every_view_keeps_its_text_on_the_canvas_and_apart_at_every_embed_size() {
    let over = || {
        board_after(
            "over-smooth",
            json!([{"kind": "adapted"}, {"kind": "standard"}]),
            &[
                json!({"type": "heatmap", "lane": 0, "size": 24}),
                json!({"type": "family", "alphas": [0, 0.25, 0.5, 0.75, 1]}),
                json!({"type": "network", "lane": 0}),
                json!({"type": "eigenmodes", "lane": 0}),
            ],
        )
    };
    let mut boards = vec![
        (
            over(),
            vec![
                View::Cost,
                View::Outputs,
                View::Spectrum,
                View::Boundary,
                View::Collapse,
                View::Singular,
                View::Reparam,
                View::Homotopy,
                View::Network,
                View::Eigenmodes,
            ],
        ),
        (
            board_after(
                "softplus-trapped",
                json!([{"kind": "standard"}]),
                &[json!({"type": "critical", "lane": 0, "size": 21})],
            ),
            vec![View::Critical, View::Singular, View::Cost],
        ),
        (
            board_after(
                "non-approximability",
                json!([{"kind": "adapted"}, {"kind": "gd", "h": 0.5}]),
                &[json!({"type": "construct"})],
            ),
            vec![View::Construct, View::Collapse],
        ),
    ];
    // Canvas sizes (CSS pixels) an embed gives a view: the smallest cell of a shared frame, a
    // panel's figure beside its text, then one view alone in frames of 640×360, 960×540,
    // 1280×720 and 1920×1080 (less the play bar and the caption).
    let sizes = [
        (320.0, 180.0),
        (380.0, 300.0),
        (628.0, 306.0),
        (948.0, 486.0),
        (1268.0, 666.0),
        (1908.0, 1026.0),
    ];
    let mut problems = vec![];
    let mut checked = 0;
    for (board, views) in &mut boards {
        for &view in views.iter() {
            for &(w, h) in &sizes {
                for scale in [1.0, 2.0] {
                    let (pw, ph) = ((w * scale) as u32, (h * scale) as u32);
                    let mut out = String::new();
                    {
                        let area = SVGBackend::with_string(&mut out, (pw, ph)).into_drawing_area();
                        board.draw(view, &area, &Look::scaled(scale)).unwrap();
                    }
                    let texts = text_boxes(&out).len();
                    assert!(texts >= 4, "{view:?} at {w}×{h}: only {texts} texts");
                    checked += 1;
                    for p in text_problems(&out, pw as f64, ph as f64) {
                        problems.push(format!("{view:?} at {w}×{h} CSS px, scale {scale}: {p}"));
                    }
                }
            }
        }
    }
    assert!(checked >= 15 * sizes.len() * 2);
    assert!(
        problems.is_empty(),
        "{} problems, e.g.\n{}",
        problems.len(),
        problems[..problems.len().min(80)].join("\n")
    );
}

#[test]
fn text_and_marks_grow_with_the_canvas_within_bounds() {
    // Within Look::NATIVE of the reference size the figures draw as designed (the CLI's SVGs and
    // the page's usual plots do not change), a phone-sized cell at the smallest zoom, a
    // full-screen canvas at the largest; the same size at another device pixel ratio has the same
    // zoom, and the zoom is continuous where it leaves the band.
    let at = |w: u32, h: u32, scale: f64| Look::scaled(scale).fit_size(w, h).zoom;
    assert_eq!(at(640, 400, 1.0), 1.0);
    assert_eq!(at(1280, 800, 2.0), 1.0);
    assert_eq!(at(480, 300, 1.0), 1.0);
    assert_eq!(at(200, 120, 1.0), Look::MIN_ZOOM);
    assert_eq!(at(3840, 2160, 1.0), Look::MAX_ZOOM);
    let (lo, hi) = Look::NATIVE;
    let big = at(1600, 1000, 1.0);
    assert!((big - (2.5 / hi).sqrt()).abs() < 1e-12, "{big}");
    let small = at(384, 240, 1.0);
    assert!((small - (0.6 / lo).sqrt()).abs() < 1e-12, "{small}");
    let edge = at((640.0 * hi) as u32 + 1, (400.0 * hi) as u32 + 1, 1.0);
    assert!(edge > 1.0 && edge < 1.01, "{edge}");
    // Fitting is idempotent: a figure drawn by another one fits again to the same look.
    let once = Look::scaled(2.0).fit_size(900, 500);
    assert_eq!(once.fit_size(900, 500), once);
}

/// A board fed by a host with the network diagram and the eigenmode view on, run to `s ≥ s_to`
/// and paused.
fn glance_board(preset: &str, flows: serde_json::Value, s_to: f64) -> (Board, Host) {
    let mut host = Host::new();
    let mut board = Board::new();
    let sc = common::preset(preset);
    let feed_all = |board: &mut Board, replies: Vec<Reply>| {
        for r in replies {
            match r.msg {
                FromWorker::Loaded { info, .. } => board.load(info, &r.bulk).unwrap(),
                FromWorker::Frame { frame, .. } => {
                    assert!(board.apply(&frame, &r.bulk).unwrap());
                }
                FromWorker::Modes { modes, .. } => {
                    assert!(board.apply_modes(modes, &r.bulk).unwrap());
                }
                FromWorker::Ack { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    let load = json!({"id": 1, "type": "load", "scenario": sc.to_json(), "flows": flows});
    feed_all(&mut board, host.handle(load, 0.0));
    for msg in [
        json!({"id": 2, "type": "network", "lane": 0}),
        json!({"id": 3, "type": "eigenmodes", "lane": 0}),
        json!({"id": 4, "type": "play"}),
    ] {
        feed_all(&mut board, host.handle(msg, 0.0));
    }
    let mut t = 0.0;
    let mut clock = move || {
        t += 1.0;
        t
    };
    while host.wants_tick() && board.s() < s_to {
        let r = host.tick(&mut clock);
        feed_all(&mut board, r);
    }
    feed_all(
        &mut board,
        host.handle(json!({"id": 5, "type": "pause"}), 0.0),
    );
    (board, host)
}

/// Writes `text` to `target/figures/<name>.svg` when `PULLBACK_SVG_DIR` names a directory (for
/// looking at the figures); returns it.
fn keep(name: &str, text: String) -> String {
    if let Ok(dir) = std::env::var("PULLBACK_SVG_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.svg"), &text).unwrap();
    }
    text
}

#[test]
fn the_network_diagram_draws_every_unit_and_edge() {
    let (mut board, _) = glance_board(
        "over-smooth",
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
        20.0,
    );
    let fig = board.network_figure();
    // 2-16-16-2: every unit drawn, 16 weights into each unit of the first hidden layer.
    let drawn: Vec<usize> = fig.columns.iter().map(Vec::len).collect();
    assert_eq!(drawn, vec![2, 16, 16, 2]);
    assert_eq!(fig.weights[1].len(), 16);
    assert!(fig.weights[1].iter().all(|row| row.len() == 16));
    let g = fig.grid;
    assert!(
        g >= pullback::app::protocol::heat_side(36).min(24) && g > 0,
        "grid {g}"
    );
    let text = keep("network", svg(&mut board, View::Network));
    assert!(text.contains("hidden 1 (16)") && text.contains("inputs (2)"));
    assert!(text.contains("outputs (2)") && text.contains("adapted at s ="));
    // Every unit's grid as rectangles (SVG), 2 + 16 + 16 + 2 units.
    assert!(
        text.matches("<rect").count() >= 36 * g * g,
        "{} rects for a grid of {g}",
        text.matches("<rect").count()
    );
    // One line per weight drawn: 2·16 + 16·16 + 16·2.
    assert!(text.matches("<polyline").count() >= 320);
    // Hover over a hidden unit names its bias and weights.
    let summary = board.network_summary().unwrap();
    assert_eq!(summary.widths, vec![2, 16, 16, 2]);
    assert_eq!(summary.hidden_units, 32);
    let col = summary.columns[1];
    let (x, y) = (col.x, col.top + 5.0);
    let hover = board.hover(View::Network, x, y);
    let any = (0..40)
        .filter_map(|d| board.hover(View::Network, x + d as f64 - 20.0, y + 4.0))
        .next();
    let t = hover
        .or(any)
        .expect("a unit under the first hidden column's top");
    assert!(
        t.contains("of hidden layer 1: bias") && t.contains("w1="),
        "{t}"
    );
}

#[test]
fn the_eigenmode_figure_draws_one_curve_per_mode_and_panel() {
    let (mut board, _) = glance_board(
        "over-smooth",
        json!([{"kind": "adapted"}, {"kind": "standard"}]),
        30.0,
    );
    let fig = board.eigenmodes_figure();
    // Two flows in the fixed basis, then the adapted flow's moving basis; QN = 32 modes each.
    assert_eq!(fig.panels.len(), 3);
    assert!(fig.panels.iter().all(|p| p.curves.len() == 32));
    assert!(fig.panels[0].curves.iter().all(|c| c.predicted.is_empty()));
    assert!(fig.panels[1].curves.iter().all(|c| !c.predicted.is_empty()));
    let text = keep("eigenmodes", svg(&mut board, View::Eigenmodes));
    assert!(text.contains("adapted: fixed basis at θ0; grey e^(−s/N)|e(0)|"));
    assert!(text.contains("standard (RK45): fixed basis at θ0; dashed: linearized at θ0"));
    assert!(text.contains("moving basis"));
    assert!(text.matches("<polyline").count() >= 3 * 32);
    let panel = board.eigenmodes_text().unwrap();
    assert!(
        panel.verdict.contains("exact, no linearization"),
        "{}",
        panel.verdict
    );
    assert!(
        panel.verdict.contains("network linearized at θ0"),
        "{}",
        panel.verdict
    );
    let get = |k: &str| panel.readouts.iter().find(|r| r.key == k).map(|r| r.value);
    let n = 16.0;
    // Thm 2.1 mode by mode (tests/eigenmodes.rs derives the 1e-6).
    for k in ["slope-min-adapted", "slope-max-adapted"] {
        let v = get(k).unwrap();
        assert!((v + 1.0 / n).abs() <= 1e-6, "{k} = {v}");
    }
    let spread = get("slope-max-standard").unwrap() - get("slope-min-standard").unwrap();
    assert!(spread > 1e3 * 2e-6, "standard slopes spread {spread}");
}

#[test]
fn the_boundary_at_screen_resolution_is_one_bitmap_on_a_canvas() {
    let (mut board, _) = board_at("over-smooth", json!([{"kind": "adapted"}]), 4.0);
    // The SVG path draws rectangles; the canvas path one image (a bitmap blit).
    board.set_raster(true);
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (400, 300)).into_drawing_area();
        board.draw(View::Boundary, &area, &Look::default()).unwrap();
    }
    // plotters' SVG backend without its image feature blits pixel by pixel: one rect per pixel
    // of the plotting area, far more than the 24² cells.
    assert!(out.matches("<rect").count() > 10 * 24 * 24);
}
