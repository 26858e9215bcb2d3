//! What the research tests share: the binary, temporary directories, single runs.
// Each test file uses part of these.
#![allow(dead_code)]

use pullback::run::scenario::Trace;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn pullback(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pullback"))
        .args(args)
        .output()
        .expect("binary runs")
}

pub fn ok(args: &[&str]) -> Output {
    ok_with(args, &[])
}

/// [`ok`] with environment variables.
pub fn ok_with(args: &[&str], envs: &[(&str, &str)]) -> Output {
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
pub const AT_ONCE: (&str, &str) = ("PULLBACK_PROGRESS_AFTER", "0");

/// Runs the binary on a pseudo-terminal (util-linux `script`) with the progress shown at once,
/// returning its exit status and what the terminal showed (stdout and stderr).
pub fn in_terminal(args: &[&str]) -> (Option<i32>, String) {
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

pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pullback-research-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_dir_all(&p);
    p
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn read_trace(p: &Path) -> Trace {
    Trace::from_json(&std::fs::read_to_string(p).unwrap()).unwrap()
}

pub fn preset(name: &str) -> Value {
    serde_json::from_slice(&ok(&["show", name]).stdout).unwrap()
}

/// Runs `scenario` with `pullback run` and returns its trace.
pub fn single_run(scenario: &Value, name: &str) -> Trace {
    let sc = tmp(&format!("{name}.scenario.json"));
    let tr = tmp(&format!("{name}.trace.json"));
    std::fs::write(&sc, scenario.to_string()).unwrap();
    ok(&["run", s(&sc), "--out", s(&tr), "--quiet"]);
    read_trace(&tr)
}
