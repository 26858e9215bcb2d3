//! The research commands: `compare` runs the page's lanes bit for bit as single runs, `figures`
//! draws every figure with content (SVG and PNG), `sweep` gives the table of single runs on any
//! number of jobs, in shards that merge, and after an interruption.

use plotters::prelude::*;
use pullback::app::board::Board;
use pullback::app::view::View;
use pullback::plot::Look;
use pullback::run::scenario::Trace;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pullback(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pullback"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn ok(args: &[&str]) -> Output {
    ok_with(args, &[])
}

/// [`ok`] with environment variables.
fn ok_with(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pullback"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The progress shows from the start (`PULLBACK_PROGRESS_AFTER=0`): what the tests check of it
/// does not depend on how fast the machine runs.
const AT_ONCE: (&str, &str) = ("PULLBACK_PROGRESS_AFTER", "0");

/// Runs the binary on a pseudo-terminal (util-linux `script`) with the progress shown at once,
/// returning its exit status and what the terminal showed (stdout and stderr).
fn in_terminal(args: &[&str]) -> (Option<i32>, String) {
    let quote = |a: &str| format!("'{}'", a.replace('\'', "'\\''"));
    let cmd: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_pullback"))
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let out = Command::new("script")
        .args(["-qec", &cmd.join(" "), "/dev/null"])
        .env(AT_ONCE.0, AT_ONCE.1)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("util-linux `script` runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pullback-research-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read_trace(p: &Path) -> Trace {
    Trace::from_json(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn preset(name: &str) -> Value {
    serde_json::from_slice(&ok(&["show", name]).stdout).unwrap()
}

/// Runs `scenario` with `pullback run` and returns its trace.
fn single_run(scenario: &Value, name: &str) -> Trace {
    let sc = tmp(&format!("{name}.scenario.json"));
    let tr = tmp(&format!("{name}.trace.json"));
    std::fs::write(&sc, scenario.to_string()).unwrap();
    ok(&["run", s(&sc), "--out", s(&tr), "--quiet"]);
    read_trace(&tr)
}

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

const SPEC: &str = r#"{
  "base": "over-smooth",
  "seeds": [1, 2, 3],
  "hidden": [[6], [3, 3]],
  "flows": ["adapted", "standard"]
}"#;

/// The CSV without its `seconds` column (the only one that differs between identical runs).
fn table(dir: &Path) -> Vec<Vec<String>> {
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let t = header.iter().position(|h| *h == "seconds").unwrap();
    lines
        .map(|l| {
            let mut c: Vec<String> = l.split(',').map(str::to_string).collect();
            c.remove(t);
            c
        })
        .collect()
}

fn column(dir: &Path, name: &str) -> Vec<String> {
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let k = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(k).unwrap().to_string())
        .collect()
}

#[test]
fn sweep_on_two_jobs_is_twelve_single_runs_and_shards_merge() {
    let spec = tmp("spec.json");
    std::fs::write(&spec, SPEC).unwrap();
    let full = tmp("sweep-full");
    let out = ok_with(
        &[
            "sweep",
            s(&spec),
            "--jobs",
            "2",
            "--out",
            s(&full),
            "--quiet",
            "--jsonl",
        ],
        &[AT_ONCE],
    );
    let rows = table(&full);
    assert_eq!(rows.len(), 12);
    // JSON Lines: a `run` record per finished run (its row), progress records at most once a
    // second, the end; --quiet leaves stderr empty.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |t: &'static str| recs.iter().filter(move |r| r["type"] == t);
    let mut indices: Vec<u64> = of("run").map(|r| r["index"].as_u64().unwrap()).collect();
    indices.sort();
    assert_eq!(indices, (0..12).collect::<Vec<u64>>());
    let end = recs.last().unwrap();
    assert_eq!(
        (end["type"].as_str(), end["rows"].as_u64()),
        (Some("end"), Some(12))
    );
    let progress: Vec<&Value> = of("progress").collect();
    assert!(!progress.is_empty());
    assert!(progress.windows(2).all(|w| {
        let (a, b) = (&w[0]["elapsed"], &w[1]["elapsed"]);
        b.as_f64().unwrap() - a.as_f64().unwrap() >= 1.0
    }));
    for p in &progress {
        let (f, n) = (
            p["fraction"].as_f64().unwrap(),
            p["finished"].as_u64().unwrap(),
        );
        assert_eq!(f, n as f64 / 12.0, "{p}");
    }
    // The same twelve scenarios built by hand and run one by one.
    let base = preset("over-smooth");
    let (finals, steps, evals, reasons) = (
        column(&full, "final_cost"),
        column(&full, "steps"),
        column(&full, "evals"),
        column(&full, "reason"),
    );
    let (ranks, used, rests, predicted) = (
        column(&full, "rank"),
        column(&full, "rank_used"),
        column(&full, "rest"),
        column(&full, "predicted_stopping_time"),
    );
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut i = 0;
    for hidden in [vec![6], vec![3, 3]] {
        for flow in ["adapted", "standard"] {
            for seed in [1, 2, 3] {
                let mut sc = base.clone();
                sc["seed"] = json!(seed);
                let mut widths = vec![2];
                widths.extend(&hidden);
                widths.push(2);
                sc["net"]["widths"] = json!(widths);
                sc["flow"] = json!({ "kind": flow });
                let t = single_run(&sc, &format!("cell{i}"));
                let what = format!("cell {i} ({hidden:?}, {flow}, seed {seed})");
                assert_eq!(
                    finals[i].parse::<f64>().unwrap(),
                    t.final_state.cost,
                    "{what}"
                );
                assert_eq!(steps[i], t.stats.steps.to_string(), "{what}");
                assert_eq!(evals[i], t.stats.evals.to_string(), "{what}");
                assert_eq!(reasons[i], t.final_state.reason, "{what}");
                let fin = &t.final_state;
                assert_eq!(ranks[i], opt(fin.rank.map(|r| r.to_string())), "{what}");
                assert_eq!(used[i], opt(fin.rank_used.map(|r| r.to_string())), "{what}");
                assert_eq!(rests[i], opt(fin.rest.map(|r| r.name().into())), "{what}");
                let p = t.predicted_stopping_time.map(|p| format!("{p:?}"));
                assert_eq!(predicted[i], opt(p), "{what}");
                // Every run ends with a rest class (the end-point test ran).
                assert!(!rests[i].is_empty(), "{what}");
                // Thm 2.2's prediction only for the adapted flow.
                assert!(flow == "adapted" || predicted[i].is_empty(), "{what}");
                i += 1;
            }
        }
    }
    // Two shards, merged, give the same table; each shard holds its own cells only.
    let (a, b, merged) = (tmp("shard-a"), tmp("shard-b"), tmp("merged"));
    ok(&[
        "sweep",
        s(&spec),
        "--shard",
        "0/2",
        "--out",
        s(&a),
        "--quiet",
    ]);
    ok(&[
        "sweep",
        s(&spec),
        "--shard",
        "1/2",
        "--out",
        s(&b),
        "--quiet",
    ]);
    assert_eq!(table(&a).len(), 6);
    assert!(column(&a, "index")
        .iter()
        .all(|k| k.parse::<usize>().unwrap() % 2 == 0));
    ok(&[
        "sweep",
        "--merge",
        s(&a),
        s(&b),
        "--out",
        s(&merged),
        "--quiet",
    ]);
    assert_eq!(table(&merged), rows);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 12);
    assert_eq!(json["cells"], 12);
    // The summary figure: a cell per grid point (2 widths × 2 flows) with its numbers.
    let summary = std::fs::read_to_string(merged.join("summary.svg")).unwrap();
    assert!(summary.matches("<rect").count() >= 4);
    assert_eq!(summary.matches("C = ").count(), 4, "{summary}");
}

#[test]
fn an_interrupted_sweep_resumes_where_it_stopped() {
    let spec = tmp("spec-resume.json");
    std::fs::write(&spec, SPEC).unwrap();
    let full = tmp("resume-full");
    // On a terminal: the progress bar (with the rows done) above the summary.
    let (code, screen) = in_terminal(&["sweep", s(&spec), "--jobs", "1", "--out", s(&full)]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("/12 runs") && screen.contains("%"),
        "{screen}"
    );
    assert!(screen.contains("wrote "), "{screen}");
    let want = table(&full);
    // As a kill leaves it: some rows missing, a temporary file half written.
    let dir = tmp("resume");
    std::fs::create_dir_all(dir.join("runs")).unwrap();
    std::fs::copy(full.join("spec.json"), dir.join("spec.json")).unwrap();
    let kept = [0usize, 3, 4, 9, 11];
    for k in kept {
        let f = format!("runs/{k:05}.json");
        std::fs::copy(full.join(&f), dir.join(&f)).unwrap();
    }
    std::fs::write(dir.join("runs/.00005.json.999.tmp"), "{\"index\": 5, \"ke").unwrap();
    let out = ok(&["sweep", s(&spec), "--jobs", "2", "--out", s(&dir)]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("5 finished before, 7 to run"), "{err}");
    assert_eq!(table(&dir), want);
    // The rows that were there are not run again: their timings are the first sweep's.
    for k in kept {
        let f = format!("runs/{k:05}.json");
        assert_eq!(
            std::fs::read_to_string(full.join(&f)).unwrap(),
            std::fs::read_to_string(dir.join(&f)).unwrap()
        );
    }
    // A real kill: stop a one-job sweep after its first finished row, then resume.
    let killed = tmp("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pullback"))
        .args([
            "sweep",
            s(&spec),
            "--jobs",
            "1",
            "--out",
            s(&killed),
            "--quiet",
        ])
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while t0.elapsed().as_secs() < 60 {
        let n = std::fs::read_dir(killed.join("runs")).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count()
        });
        if n >= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let before = std::fs::read_dir(killed.join("runs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert!((1..12).contains(&before), "{before} rows before the resume");
    // --quiet on a terminal: no bar, no summary.
    let (code, screen) = in_terminal(&[
        "sweep",
        s(&spec),
        "--jobs",
        "2",
        "--out",
        s(&killed),
        "--quiet",
    ]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.trim().is_empty(), "{screen}");
    assert_eq!(table(&killed), want);
    // Another spec in the same directory is refused.
    let other = tmp("spec-other.json");
    std::fs::write(&other, SPEC.replace("[1, 2, 3]", "[4]")).unwrap();
    let out = pullback(&["sweep", s(&other), "--out", s(&dir)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("holds another sweep"));
}

#[test]
fn malformed_specs_and_flags_are_named() {
    let cases = [
        (r#"{"base": "over-smooth", "seeds": [1, -2]}"#, "seeds"),
        (
            r#"{"base": "over-smooth", "flows": ["adapted", "sideways"]}"#,
            "flows[1]",
        ),
        (
            r#"{"base": "over-smooth", "hidden": [[4], [2, 0]]}"#,
            "hidden[1][1]",
        ),
        (
            r#"{"base": "over-smooth", "activations": ["swish"]}"#,
            "activations[0]",
        ),
        (
            r#"{"base": "over-smooth", "data": [{"kind": "moons", "n": 0}]}"#,
            "data[0]",
        ),
        (r#"{"base": "over-smooth", "widths": [4]}"#, "widths"),
        (r#"{"seeds": [1]}"#, "base"),
        (r#"{"base": "over-smooth""#, "spec"),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let spec = tmp(&format!("bad{i}.json"));
        std::fs::write(&spec, text).unwrap();
        let out = pullback(&["sweep", s(&spec), "--out", s(&tmp("bad-out"))]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(field), "{text}: {err}");
    }
    let spec = tmp("good.json");
    std::fs::write(&spec, SPEC).unwrap();
    for (flag, want) in [(["--shard", "2/2"], "--shard"), (["--jobs", "0"], "--jobs")] {
        let out = pullback(&["sweep", s(&spec), flag[0], flag[1], "--out", s(&tmp("x"))]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with(&format!("error: {want}")), "{err}");
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
