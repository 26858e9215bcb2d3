//! The research commands `compare` and `figures`: the page's lanes bit for bit as single runs,
//! every figure with content (SVG and PNG); and the JSON Lines of `run`. The sweeps are in
//! tests/research_sweep.rs.
// Native only: the CLI and its PNG encoder do not exist on wasm32 (which builds every test).
#![cfg(not(target_arch = "wasm32"))]

#[path = "research/common.rs"]
mod common;

use common::*;
use plotters::prelude::*;
use pullback::app::board::Board;
use pullback::app::view::View;
use pullback::plot::Look;
use pullback::run::scenario::Trace;
use serde_json::{json, Value};
use std::path::PathBuf;

#[test]
fn compare_lanes_are_single_runs_bit_for_bit() {
    let dir = tmp("compare");
    let out = ok(&[
        "compare",
        "softplus-trapped",
        "--flows",
        "adapted,standard,gd:0.05,homotopy:0.5",
        "--out",
        s(&dir),
    ]);
    let table = String::from_utf8(out.stdout).unwrap();
    // The page's table (a header and a row per flow), then each flow's end-point line.
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 9, "{table}");
    assert!(
        lines[0].starts_with("flow") && lines[0].contains("rest"),
        "{table}"
    );
    assert!(
        lines[5..].iter().all(|l| l.contains(": end point: ")),
        "{table}"
    );
    let base = preset("softplus-trapped");
    // Each flow's scenario as the page's lanes set it (FlowChoice::apply), run on its own.
    let lanes = [
        ("adapted", json!({"kind": "adapted"}), None),
        ("standard", json!({"kind": "standard"}), None),
        (
            "gd",
            json!({"kind": "standard"}),
            Some(json!({"kind": "euler", "h": 0.05})),
        ),
        ("homotopy", json!({"kind": "homotopy", "alpha": 0.5}), None),
    ];
    let combined: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    for (i, (key, flow, integrator)) in lanes.into_iter().enumerate() {
        let lane = read_trace(&dir.join(format!("{key}.json")));
        let mut sc = base.clone();
        sc["flow"] = flow;
        if let Some(int) = integrator {
            sc["integrator"] = int;
        }
        let single = single_run(&sc, key);
        assert_eq!(lane.final_state.theta, single.final_state.theta, "{key}: θ");
        assert_eq!(lane.final_state.s, single.final_state.s, "{key}: s");
        assert_eq!(lane.final_state.reason, single.final_state.reason, "{key}");
        assert_eq!(lane.stats, single.stats, "{key}: steps");
        assert_eq!(lane.events, single.events, "{key}: events");
        assert_eq!(lane.samples.len(), single.samples.len(), "{key}");
        for (a, b) in lane.samples.iter().zip(&single.samples) {
            assert_eq!(
                (a.s, a.cost, a.rank, a.rho),
                (b.s, b.cost, b.rank, b.rho),
                "{key}"
            );
            assert_eq!(a.class_spread, b.class_spread, "{key}");
        }
        // The comparison keeps what the page's figures need in every sample.
        assert!(lane.samples.iter().all(|p| p.singular_values.is_some()));
        assert!(lane.samples.iter().all(|p| p.outputs.is_some()));
        // compare.json holds the same trace.
        let t = Trace::from_json(&combined["traces"][i].to_string()).unwrap();
        assert_eq!(t, lane, "{key}: compare.json");
        let row = &combined["table"][i];
        assert_eq!(row["status"], lane.final_state.reason.as_str());
        // The table's rest class and end-point line are the trace's.
        let rest = lane
            .final_state
            .rest
            .expect("an ended run is classified")
            .name();
        assert_eq!(row["rest"], rest, "{key}");
        assert!(lines[1 + i].contains(rest), "{}", lines[1 + i]);
        let (k, qn) = (lane.k, lane.q * lane.n);
        let end = lane.final_state.sentence(k, qn, lane.rank_rtol);
        assert_eq!(row["end"], end.as_str(), "{key}");
        assert!(lines[5 + i].ends_with(&end), "{}", lines[5 + i]);
    }
    // Bad flows are named.
    let out = pullback(&["compare", "softplus-trapped", "--flows", "adapted,sideways"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: --flows[1]: `sideways`"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

fn chromatic(text: &str) -> bool {
    text.match_indices('#')
        .filter_map(|(i, _)| text.get(i + 1..i + 7))
        .filter_map(|h| u32::from_str_radix(h, 16).ok())
        .any(|c| {
            let (r, g, b) = ((c >> 16) & 255, (c >> 8) & 255, c & 255);
            r.max(g).max(b) - r.min(g).min(b) > 30
        })
}

/// Drawn content of an SVG: the points of the curves in a colour (the flows and classes have
/// colours, while the mesh and the axes are grey or black), and cells and markers of any colour
/// (a boundary where the network predicts no class is grey).
fn elements(svg: &str) -> usize {
    let curve_points: usize = svg
        .split("<polyline")
        .skip(1)
        .map(|e| &e[..e.find("/>").unwrap_or(e.len())])
        .filter(|e| chromatic(e))
        .map(|e| e.matches(',').count())
        .sum();
    curve_points + svg.matches("<rect").count() + svg.matches("<circle").count()
}

fn empty_svg(view: View) -> String {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (800, 500)).into_drawing_area();
        area.fill(&WHITE).unwrap();
        Board::new().draw(view, &area, &Look::default()).unwrap();
    }
    out
}

/// Pixels in a colour (curves, points, cells); the mesh, axes and text are grey or black.
fn coloured(rgb: &[u8]) -> usize {
    rgb.chunks(3)
        .filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 30)
        .count()
}

/// Dark pixels: axes, tick marks and text.
fn dark(rgb: &[u8]) -> usize {
    rgb.chunks(3).filter(|p| p.iter().all(|&c| c < 110)).count()
}

#[test]
fn figures_draw_every_view_with_content_in_svg_and_png() {
    let cmp = tmp("figs-compare");
    ok(&[
        "compare",
        "softplus-trapped",
        "--flows",
        "adapted,standard,homotopy:0.5",
        "--out",
        s(&cmp),
        "--quiet",
    ]);
    let cons = tmp("figs-constructive");
    ok(&[
        "compare",
        "constructive",
        "--flows",
        "adapted",
        "--out",
        s(&cons),
        "--quiet",
    ]);
    let svg_dir = tmp("figs-svg");
    ok(&[
        "figures",
        s(&cmp.join("compare.json")),
        "--out",
        s(&svg_dir),
    ]);
    let layers = tmp("figs-layers");
    ok(&[
        "figures",
        s(&cons.join("adapted.json")),
        "--out",
        s(&layers),
        "--views",
        "construct",
    ]);
    let mut files: Vec<(View, PathBuf)> = vec![];
    for view in View::ALL {
        // `figures` says it cannot draw the eigenmode view from traces (a note, no file).
        if view == View::Eigenmodes {
            continue;
        }
        let found: Vec<PathBuf> = [&svg_dir, &layers]
            .iter()
            .flat_map(|d| std::fs::read_dir(d).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_stem().unwrap().to_string_lossy().into_owned();
                n == view.key() || n.starts_with(&format!("{}-", view.key()))
            })
            .collect();
        assert!(!found.is_empty(), "no file for {}", view.key());
        files.extend(found.into_iter().map(|p| (view, p)));
    }
    // One file per flow for the per-flow figures, one per layer position for the construction
    // (the constructive preset has 3 classes: inputs, 3 hidden layers... and the output layer).
    for key in ["boundary", "singular", "critical"] {
        let n = files.iter().filter(|(v, _)| v.key() == key).count();
        assert_eq!(n, 3, "{key}");
    }
    assert!(files.iter().filter(|(v, _)| *v == View::Construct).count() >= 3);
    for (view, path) in &files {
        let svg = std::fs::read_to_string(path).unwrap();
        let empty = empty_svg(*view);
        let (n, n0) = (elements(&svg), elements(&empty));
        assert!(
            n >= n0 + 8,
            "{}: {n} drawn elements against {n0} for the empty figure",
            path.display()
        );
        assert!(
            svg.matches("<text").count() >= 4,
            "{}: labels",
            path.display()
        );
    }
    // The flows' colours: the adapted curve (#0072B2) and the standard one (#D55E00) on the cost.
    let cost = std::fs::read_to_string(svg_dir.join("cost.svg")).unwrap();
    assert!(cost.contains("#0072B2") && cost.contains("#D55E00"));

    // PNG at the column size: 1020 × 720 pixels at 300 dpi, with far more colour than the empty
    // figure of the same size (curves, points, cells), and axes and text drawn.
    let png_dir = tmp("figs-png");
    ok(&[
        "figures",
        s(&cmp.join("compare.json")),
        "--out",
        s(&png_dir),
        "--format",
        "png",
        "--size",
        "column",
    ]);
    for view in [
        View::Cost,
        View::Outputs,
        View::Spectrum,
        View::Reparam,
        View::Homotopy,
    ] {
        let path = png_dir.join(format!("{}.png", view.key()));
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info().clone();
        assert_eq!((info.width, info.height), (1020, 720));
        let dims = info.pixel_dims.expect("pHYs");
        assert_eq!(dims.xppu, (300.0f64 / 0.0254).round() as u32);
        let mut buf = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut buf).unwrap();
        let empty = pullback::plot::raster::render((1020, 720), |area| {
            Board::new()
                .draw(view, area, &Look::scaled(2.5))
                .map(|_| ())
        })
        .unwrap();
        let (ink, ink0) = (coloured(&buf), coloured(&empty));
        assert!(
            dark(&buf) > 3000,
            "{}: axes and labels: {}",
            view.key(),
            dark(&buf)
        );
        assert!(
            ink > ink0 + 5000,
            "{}: {ink} coloured pixels against {ink0} in the empty figure",
            view.key()
        );
    }
    // Bad sizes and formats are named.
    let adapted = cmp.join("adapted.json");
    for (args, want) in [
        (vec!["--size", "huge"], "error: --size: `huge`"),
        (vec!["--format", "gif"], "error: --format: `gif`"),
        (vec!["--views", "cost,nope"], "error: --views[1]: `nope`"),
    ] {
        let mut a = vec!["figures", s(&adapted), "--out", s(&png_dir)];
        a.extend(args);
        let out = pullback(&a);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with(want), "{err}");
    }
}

#[test]
fn json_lines_for_scripts() {
    let trace = tmp("jsonl-trace.json");
    let out = ok(&[
        "run",
        "over-smooth",
        "--jsonl",
        "--quiet",
        "--out",
        s(&trace),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let end = recs.last().unwrap();
    assert_eq!(end["type"], "end");
    let t = read_trace(&trace);
    assert_eq!(end["cost"].as_f64().unwrap(), t.final_state.cost);
    assert_eq!(end["steps"].as_u64().unwrap(), t.stats.steps);
    // No progress record before the first second.
    assert!(recs[..recs.len() - 1]
        .iter()
        .all(|r| r["elapsed"].as_f64().unwrap() >= 1.0));
    assert!(recs[..recs.len() - 1]
        .iter()
        .all(|r| r["type"] == "progress"));
    // --quiet: nothing on stderr.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Shown at once: the first step gives a progress record with the flow's s and cost.
    let out = ok_with(&["run", "over-smooth", "--jsonl", "--quiet"], &[AT_ONCE]);
    let recs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = &recs[0];
    assert_eq!(
        (first["type"].as_str(), first["what"].as_str()),
        (Some("progress"), Some("run"))
    );
    let f = first["fraction"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&f), "{first}");
    assert!(first["s"].as_f64().unwrap() > 0.0 && first["cost"].as_f64().unwrap() > 0.0);
    assert_eq!(recs.last().unwrap()["type"], "end");
    assert_eq!(
        recs.last().unwrap()["cost"].as_f64().unwrap(),
        t.final_state.cost
    );
}
