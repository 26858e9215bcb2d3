//! `pullback compare`: several flows from the same `θ₀` on one time axis, run by the page's own
//! `Comparison` (run/lanes.rs), with the page's table and one trace per flow.

use super::cli::CompareArgs;
use super::common::{create_dir, json_line, load_scenario, print_out, write_file, Failure};
use super::progress::Progress;
use pullback::run::lanes::{Comparison, FlowChoice};
use pullback::run::scenario::Scenario;
use serde::Serialize;
use serde_json::json;
use std::time::Instant;

/// Largest `QN` for which `compare` keeps the outputs in every sample (the output trails of
/// `pullback figures`); above it a trace would grow by `QN` numbers per sample and the figures
/// draw each trail from its first and last point only.
pub const KEEP_OUTPUTS_MAX_QN: usize = 2000;

/// One row of the page's table, plus the stopping times.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The flow as `--flows` writes it.
    pub flow: String,
    /// Legend text.
    pub label: String,
    /// The trace file of this flow (relative to the output directory), when written.
    pub trace: Option<String>,
    pub s: f64,
    pub cost: f64,
    /// Numerical rank of `D` at the latest sample (`σ_i > rank_rtol·σ_max`), as the page's table.
    pub rank: Option<usize>,
    /// The rank the field uses (flows that decide one), as the page's table.
    pub rank_used: Option<usize>,
    pub status: String,
    /// Where the flow ended: `global_minimum`, `regular_rest`, `rank_loss_rest`, `blow_up` or
    /// `moving` (the trace's `final.rest`).
    pub rest: Option<String>,
    /// The end-point sentence with its measurements (the page's end-point line).
    pub end: Option<String>,
    pub steps: u64,
    pub evals: u64,
    /// Accepted steps per second of this flow's own compute time.
    pub steps_per_s: f64,
    pub predicted_stopping_time: Option<f64>,
    pub measured_stopping_time: Option<f64>,
}

/// The flows of `--flows`, each error naming its position.
pub fn parse_flows(list: &str) -> Result<Vec<FlowChoice>, Failure> {
    list.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .enumerate()
        .map(|(i, f)| FlowChoice::parse(f, &format!("--flows[{i}]")).map_err(Failure::from))
        .collect()
}

/// The scenario as `compare` runs it: as the page does, every sample keeps the singular values
/// of `D`; and the outputs when `QN ≤` [`KEEP_OUTPUTS_MAX_QN`].
pub fn recording(mut sc: Scenario) -> Result<Scenario, Failure> {
    let m = sc.materialize()?;
    sc.record.singular_values = true;
    sc.record.outputs = m.model.qn() <= KEEP_OUTPUTS_MAX_QN;
    Ok(sc)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.4}"))
}

/// The rank cell of the page's table: the rank the field uses beside the numerical one when
/// they differ.
fn rank_cell(r: &Row) -> String {
    let rank = r.rank.map_or_else(|| "–".into(), |k| k.to_string());
    match r.rank_used {
        Some(u) if Some(u) != r.rank => format!("{u} used (numerical {rank})"),
        _ => rank,
    }
}

/// The table as text: one row per flow, the page's columns and the stopping times, then the
/// page's end-point line of every flow that ended.
fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<24} {:>10} {:>12} {:>6} {:<11} {:<14} {:>9} {:>10} {:>10}\n",
        "flow", "s", "C", "rank D", "status", "rest", "steps/s", "s_ε meas.", "s_ε pred."
    );
    for r in rows {
        out.push_str(&format!(
            "{:<24} {:>10.4} {:>12.4e} {:>6} {:<11} {:<14} {:>9.0} {:>10} {:>10}\n",
            r.label,
            r.s,
            r.cost,
            rank_cell(r),
            r.status,
            r.rest.as_deref().unwrap_or("–"),
            r.steps_per_s,
            fmt_opt(r.measured_stopping_time),
            fmt_opt(r.predicted_stopping_time),
        ));
    }
    for r in rows {
        if let Some(end) = &r.end {
            out.push_str(&format!("{}: {end}\n", r.label));
        }
    }
    out
}

/// The file name of a flow's trace: its kind (a comparison has at most one flow of each kind).
pub fn trace_name(choice: &FlowChoice) -> String {
    format!("{}.json", choice.key())
}

pub fn compare(args: CompareArgs) -> Result<(), Failure> {
    let source = args
        .source
        .clone()
        .ok_or_else(|| Failure::Usage("compare: give a scenario file or a preset name".into()))?;
    let flows = parse_flows(&args.flows)?;
    let scenario = recording(load_scenario(&source)?)?;
    let mut cmp = Comparison::new(&scenario, &flows)?;
    let mut progress = Progress::new("compare", args.output);
    let eps = cmp.lanes()[0].session.epsilon();
    let t0 = Instant::now();
    let mut clock = || t0.elapsed().as_secs_f64() * 1e3;
    let (mut steps, mut ms) = (vec![0u64; flows.len()], vec![0.0f64; flows.len()]);
    while !cmp.finished() {
        // Lanes advance in slices of 100 ms of work, between which the progress is shown.
        let deadline = clock() + 100.0;
        let adv = cmp.advance(f64::INFINITY, deadline, &mut clock, &mut |_, _| {});
        for i in 0..flows.len() {
            steps[i] += adv.steps[i];
            ms[i] += adv.ms[i];
        }
        let (s, frac) = (cmp.s(), cmp.progress(eps));
        progress.update(frac, || format!("s = {s:.4}"), || json!({ "s": s }))?;
    }
    progress.finish();
    let mut rows = vec![];
    let mut traces = vec![];
    for (i, lane) in cmp.lanes_mut().iter_mut().enumerate() {
        let frame = lane.session.frame();
        let trace = lane.session.trace();
        rows.push(Row {
            flow: lane.choice.name(),
            label: lane.choice.label(),
            trace: args.out.as_ref().map(|_| trace_name(&lane.choice)),
            s: frame.s,
            cost: frame.cost,
            rank: lane.session.samples().last().map(|p| p.rank),
            rank_used: lane.session.rank_used(),
            status: frame.status.name().into(),
            rest: lane.session.rest().map(|r| r.name().into()),
            end: lane.session.end_sentence(),
            steps: trace.stats.steps,
            evals: trace.stats.evals,
            steps_per_s: if ms[i] > 0.0 {
                steps[i] as f64 * 1e3 / ms[i]
            } else {
                0.0
            },
            predicted_stopping_time: trace.predicted_stopping_time,
            measured_stopping_time: trace.measured_stopping_time,
        });
        traces.push(trace);
    }
    if let Some(dir) = &args.out {
        create_dir(dir)?;
        for (t, l) in traces.iter().zip(cmp.lanes()) {
            write_file(&dir.join(trace_name(&l.choice)), t.to_json())?;
        }
        let combined = json!({
            "format": "pullback-compare",
            "version": 1,
            "source": source,
            "table": rows,
            "traces": traces,
        });
        write_file(&dir.join("compare.json"), combined.to_string())?;
    }
    if args.output.jsonl {
        for r in &rows {
            let mut v = serde_json::to_value(r).expect("rows serialize");
            v["type"] = "flow".into();
            json_line(&v)?;
        }
    } else {
        print_out(&table(&rows))?;
    }
    if !args.output.quiet {
        let b = cmp.base();
        eprintln!(
            "{}: {} flows from the same θ₀, {:.3} s{}",
            b.name.as_deref().unwrap_or(&source),
            flows.len(),
            t0.elapsed().as_secs_f64(),
            args.out
                .as_ref()
                .map_or_else(String::new, |d| format!("; wrote {}", d.display()))
        );
    }
    Ok(())
}
