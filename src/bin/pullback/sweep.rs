//! `pullback sweep`: a grid of runs on all cores, each finished run kept as one file so that an
//! interrupted sweep resumes and shards merge; the table as CSV and JSON and a summary figure.
//!
//! A sweep directory holds `spec.json` (the spec as run), `runs/NNNNN.json` (one row per finished
//! run, written atomically), optionally `traces/NNNNN.json`, and the table of every row present:
//! `sweep.csv`, `sweep.json`, `summary.svg`.

use super::cli::SweepArgs;
use super::common::{create_dir, json_line, read_text, write_atomic, Failure};
use super::progress::Progress;
use plotters::prelude::*;
use pullback::linalg::kernels;
use pullback::plot::sweep::SweepFigure;
use pullback::plot::Look;
use pullback::run::session::Session;
use pullback::run::sweep::{self, in_shard, parse_shard, Cell, Row, Spec};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often the progress is updated while no run finishes.
const TICK: Duration = Duration::from_millis(250);

fn run_file(dir: &Path, index: usize) -> PathBuf {
    dir.join("runs").join(format!("{index:05}.json"))
}

/// The rows already in `dir/runs`, by index; a file that does not parse (it cannot be half
/// written, see [`write_atomic`]) or that belongs to another cell is an error naming it.
fn finished_rows(dir: &Path, cells: Option<&[Cell]>) -> Result<BTreeMap<usize, Row>, Failure> {
    let mut rows = BTreeMap::new();
    let runs = dir.join("runs");
    let Ok(entries) = std::fs::read_dir(&runs) else {
        return Ok(rows);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for p in paths {
        let row: Row = serde_json::from_str(&read_text(&p)?)
            .map_err(|e| Failure::Usage(format!("{}: not a sweep row: {e}", p.display())))?;
        if let Some(cells) = cells {
            match cells.get(row.index) {
                Some(c) if c.key == row.key => {}
                _ => {
                    return Err(Failure::Usage(format!(
                        "{}: run {} (`{}`) is not a cell of this spec",
                        p.display(),
                        row.index,
                        row.key
                    )))
                }
            }
        }
        rows.insert(row.index, row);
    }
    Ok(rows)
}

/// Writes the table of `rows` and the summary figure into `dir`.
fn write_table(dir: &Path, spec: &Spec, cells: usize, rows: &[Row]) -> Result<(), Failure> {
    write_atomic(&dir.join("sweep.csv"), sweep::to_csv(rows))?;
    write_atomic(&dir.join("sweep.json"), sweep::to_json(spec, cells, rows))?;
    let fig = SweepFigure::from_rows(rows, cells);
    let path = dir.join("summary.svg");
    let (w, h) = (
        (200 + 170 * fig.cols.len().max(1)) as u32,
        (90 + 56 * fig.rows.len().max(1)) as u32,
    );
    let area = SVGBackend::new(&path, (w, h)).into_drawing_area();
    pullback::plot::sweep::draw(&area, &fig, &Look::default())
        .map_err(|e| Failure::Io(format!("summary.svg: {e}")))?;
    area.present()
        .map_err(|e| Failure::Io(format!("cannot write {}: {e:?}", path.display())))
}

/// Keeps `spec.json` in `dir`: writes it on the first run, and refuses a directory that holds
/// another sweep (its finished runs would be mixed into this one).
fn claim(dir: &Path, spec: &Spec) -> Result<(), Failure> {
    let path = dir.join("spec.json");
    if path.is_file() {
        let old = Spec::from_json(&read_text(&path)?)
            .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
        if &old != spec {
            return Err(Failure::Usage(format!(
                "--out: {} holds another sweep (its spec.json differs from this spec); \
                 choose another directory",
                dir.display()
            )));
        }
        return Ok(());
    }
    write_atomic(&path, spec.to_json())
}

pub fn sweep(args: SweepArgs) -> Result<(), Failure> {
    if !args.merge.is_empty() {
        return merge(&args);
    }
    let spec_path = args.spec.clone().ok_or_else(|| {
        Failure::Usage("sweep: give a spec file (or --merge DIR... --out DIR)".into())
    })?;
    let dir = args
        .out
        .clone()
        .ok_or_else(|| Failure::Usage("sweep: --out DIR is required".into()))?;
    let spec = Spec::from_json(&read_text(&spec_path)?)
        .map_err(|e| Failure::Usage(format!("{}: {e}", spec_path.display())))?;
    let cells = spec
        .cells()
        .map_err(|e| Failure::Usage(format!("{}: {e}", spec_path.display())))?;
    let shard = args
        .shard
        .as_deref()
        .map(parse_shard)
        .transpose()
        .map_err(|e| Failure::Usage(format!("--{e}")))?
        .unwrap_or((0, 1));
    let jobs = match &args.jobs {
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| Failure::Usage(format!("--jobs: `{v}` is not a count ≥ 1")))?,
    };
    create_dir(&dir.join("runs"))?;
    if args.traces {
        create_dir(&dir.join("traces"))?;
    }
    claim(&dir, &spec)?;
    let done = finished_rows(&dir, Some(&cells))?;
    let todo: Vec<&Cell> = cells
        .iter()
        .filter(|c| in_shard(c.index, shard) && !done.contains_key(&c.index))
        .collect();
    let mine = cells.iter().filter(|c| in_shard(c.index, shard)).count();
    if !args.output.quiet {
        eprintln!(
            "{}: {} cells{}, {} finished before, {} to run on {} jobs",
            spec_path.display(),
            cells.len(),
            if shard.1 > 1 {
                format!(" ({mine} in shard {}/{})", shard.0, shard.1)
            } else {
                String::new()
            },
            mine - todo.len(),
            todo.len(),
            jobs.min(todo.len().max(1))
        );
    }
    // Runs in parallel, each on one kernel thread: the cores are taken by the runs (the kernels
    // sum in the same order on any number of threads, so the numbers do not change).
    if jobs > 1 {
        kernels::set_threads(1);
    }
    let mut progress = Progress::new("sweep", args.output);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<(Row, Option<String>), String>)>();
    let keep_traces = args.traces;
    let total = todo.len();
    let mut failed = vec![];
    let mut finished = 0usize;
    std::thread::scope(|scope| -> Result<(), Failure> {
        for _ in 0..jobs.min(total) {
            let tx = tx.clone();
            let (todo, next) = (&todo, &next);
            scope.spawn(move || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(cell) = todo.get(k) else { break };
                let t0 = Instant::now();
                let result = Session::new(&cell.scenario)
                    .map(|mut s| {
                        s.run();
                        let trace = s.trace();
                        let row = Row::new(cell, &trace, t0.elapsed().as_secs_f64());
                        (row, keep_traces.then(|| trace.to_json()))
                    })
                    .map_err(|e| e.to_string());
                if tx.send((cell.index, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        loop {
            // A long run holds the next row: the progress (and its JSON Lines) ticks meanwhile.
            let (index, result) = match rx.recv_timeout(TICK) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    progress.update(
                        finished as f64 / total as f64,
                        || format!("{finished}/{total} runs"),
                        || json!({ "finished": finished, "runs": total }),
                    )?;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match result {
                Ok((row, trace)) => {
                    if let Some(t) = trace {
                        write_atomic(&dir.join("traces").join(format!("{index:05}.json")), t)?;
                    }
                    let text = serde_json::to_string(&row).expect("rows serialize");
                    write_atomic(&run_file(&dir, index), &text)?;
                    if args.output.jsonl {
                        let mut v = serde_json::to_value(&row).expect("rows serialize");
                        v["type"] = "run".into();
                        json_line(&v)?;
                    }
                }
                Err(e) => {
                    progress.println(&format!("run {index} ({}): {e}", cells[index].key));
                    failed.push(index);
                }
            }
            finished += 1;
            progress.update(
                finished as f64 / total as f64,
                || format!("{finished}/{total} runs"),
                || json!({ "finished": finished, "runs": total }),
            )?;
        }
        Ok(())
    })?;
    progress.finish();
    let rows: Vec<Row> = finished_rows(&dir, Some(&cells))?.into_values().collect();
    write_table(&dir, &spec, cells.len(), &rows)?;
    if args.output.jsonl {
        json_line(&json!({
            "type": "end",
            "what": "sweep",
            "cells": cells.len(),
            "rows": rows.len(),
            "failed": failed,
            "seconds": progress.elapsed(),
            "table": dir.join("sweep.csv").display().to_string(),
        }))?;
    }
    if !args.output.quiet {
        eprintln!(
            "wrote {} ({} of {} runs), sweep.json, summary.svg in {:.1} s",
            dir.join("sweep.csv").display(),
            rows.len(),
            cells.len(),
            progress.elapsed()
        );
    }
    if !failed.is_empty() {
        return Err(Failure::Usage(format!(
            "{} run(s) failed: cells {failed:?}",
            failed.len()
        )));
    }
    Ok(())
}

/// `--merge DIR... --out DIR`: the rows of several shard directories of one spec, joined.
fn merge(args: &SweepArgs) -> Result<(), Failure> {
    let out = args
        .out
        .clone()
        .ok_or_else(|| Failure::Usage("sweep --merge: --out DIR is required".into()))?;
    let mut spec: Option<Spec> = None;
    let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
    for (i, d) in args.merge.iter().enumerate() {
        let p = d.join("spec.json");
        let s = Spec::from_json(&read_text(&p)?)
            .map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?;
        match &spec {
            Some(first) if first != &s => {
                return Err(Failure::Usage(format!(
                    "--merge[{i}]: {} holds another sweep than {} (spec.json differs)",
                    d.display(),
                    args.merge[0].display()
                )))
            }
            _ => spec = Some(s),
        }
        for (k, r) in finished_rows(d, None)? {
            if let Some(old) = rows.get(&k) {
                if old.key != r.key {
                    return Err(Failure::Usage(format!(
                        "--merge[{i}]: run {k} of {} is `{}`, elsewhere `{}`",
                        d.display(),
                        r.key,
                        old.key
                    )));
                }
            }
            rows.insert(k, r);
        }
    }
    let spec = spec.expect("at least one directory");
    let cells = spec
        .cells()
        .map_err(|e| Failure::Usage(format!("spec.json: {e}")))?;
    for r in rows.values() {
        if cells.get(r.index).is_none_or(|c| c.key != r.key) {
            return Err(Failure::Usage(format!(
                "run {} (`{}`) is not a cell of the spec",
                r.index, r.key
            )));
        }
    }
    create_dir(&out.join("runs"))?;
    claim(&out, &spec)?;
    for (k, r) in &rows {
        write_atomic(
            &run_file(&out, *k),
            serde_json::to_string(r).expect("rows serialize"),
        )?;
    }
    let rows: Vec<Row> = rows.into_values().collect();
    write_table(&out, &spec, cells.len(), &rows)?;
    let missing = cells.len() - rows.len();
    if !args.output.quiet {
        eprintln!(
            "merged {} directories: {} of {} runs{} into {}",
            args.merge.len(),
            rows.len(),
            cells.len(),
            if missing > 0 {
                format!(" ({missing} not run yet)")
            } else {
                String::new()
            },
            out.display()
        );
    }
    Ok(())
}
