//! `pullback sweep`: the table of single runs on any number of jobs, in shards that merge, after
//! an interruption; malformed specs named; the progress bar and the JSON Lines.
// Native only: the CLI and its PNG encoder do not exist on wasm32 (which builds every test).
#![cfg(not(target_arch = "wasm32"))]

#[path = "research/common.rs"]
mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

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
