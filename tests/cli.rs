//! The command-line contract: `run`, `presets`, `show`, exit status 2 with one line on bad input.

use std::process::Command;

fn pullback(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pullback"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pullback-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn presets_lists_names_first() {
    let out = pullback(&["presets"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    for want in [
        "over-smooth",
        "under-stationary",
        "borderline",
        "linear-rank",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(text.lines().all(|l| l.contains('\t')));
}

#[test]
fn run_writes_a_trace_and_an_svg_figure() {
    let trace_path = tmp("trace.json");
    let svg_dir = tmp("svg");
    let out = pullback(&[
        "run",
        "linear-rank",
        "--out",
        trace_path.to_str().unwrap(),
        "--svg",
        svg_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace =
        pullback::run::scenario::Trace::from_json(&std::fs::read_to_string(&trace_path).unwrap())
            .unwrap();
    assert_eq!(trace.final_state.reason, "cost_below");
    assert!(trace.samples.iter().all(|s| s.rank == trace.q * trace.n));
    let svg = std::fs::read_to_string(svg_dir.join("cost.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    // The adapted curve is drawn in the first palette colour (#0072B2), the theory line dashed.
    assert!(svg.contains("#0072B2"), "no adapted curve in the SVG");
    assert!(svg.matches("<polyline").count() >= 2 || svg.matches("<line").count() > 10);
    assert!(svg.contains("cost C"));

    // A trace file reruns its scenario.
    let again = tmp("again.json");
    let out = pullback(&[
        "run",
        trace_path.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&trace_path).unwrap()
    );
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_field() {
    let bad = tmp("bad.json");
    std::fs::write(
        &bad,
        r#"{"data": {"kind": "xor", "n": 10}, "net": {"widths": [3, 2], "activation": "relu"}}"#,
    )
    .unwrap();
    for args in [
        vec!["run", bad.to_str().unwrap()],
        vec!["run", "no-such-preset"],
        vec!["run", "over-smooth", "--flow", "sideways"],
        vec!["frobnicate"],
    ] {
        let out = pullback(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let err = String::from_utf8(pullback(&["run", bad.to_str().unwrap()]).stderr).unwrap();
    assert!(err.contains("net.widths[0]"), "{err}");
}

#[test]
fn escape_flag_and_rank_formula_in_the_summary() {
    let out = pullback(&["run", "softplus-trapped", "--escape=0"]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("end point: rank_loss_rest"), "{err}");
    assert!(!err.contains("escape —"), "{err}");
    let out = pullback(&["run", "softplus-trapped", "--escape=2"]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("escape — escaped along the eigenvector of the Hessian"),
        "{err}"
    );
    assert!(err.contains("cost ratio after/before"), "{err}");
    let out = pullback(&["run", "shallow-relu-inactive"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("rank D[θ₀]: measured 6, paper 4"), "{err}");
    assert!(err.contains("no_escape"), "{err}");
    let out = pullback(&["run", "softplus-trapped", "--escape=many"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: --escape"), "{err}");
}

#[test]
fn help_after_a_command_prints_the_usage() {
    for cmd in ["run", "bench", "show"] {
        let out = pullback(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help exited {:?}", out.status);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("pullback bench"), "{cmd} --help: {text}");
        assert!(text.contains("pullback run"), "{cmd} --help: {text}");
    }
}
