//! The native CLI (the binary's whole body; the wasm32 build of the tests compiles an empty
//! `main`, since clap, indicatif and the PNG encoder are native-only dependencies).

#[path = "cli.rs"]
mod cli;
#[path = "common.rs"]
mod common;
#[path = "compare.rs"]
mod compare;
#[path = "figures.rs"]
mod figures;
#[path = "progress.rs"]
mod progress;
#[path = "sweep.rs"]
mod sweep;

use cli::{BenchArgs, Cmd, Parsed, RunArgs, USAGE};
use common::{json_line, load_scenario, print_out, unknown_preset, write_file, Failure};
use plotters::prelude::*;
use progress::Progress;
use pullback::math::fast::Solver;
use pullback::plot::cost::CostFigure;
use pullback::run::bench::{self, BenchConfig, Probe};
use pullback::run::event::EventKind;
use pullback::run::presets;
use pullback::run::session::Session;
use pullback::Error;
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

/// Counts live heap bytes, so that `bench --memory` can show that stepping does not grow it.
struct CountingAlloc;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is a side note.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct NativeProbe(Instant);

impl Probe for NativeProbe {
    fn now(&mut self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
    fn heap_bytes(&mut self) -> Option<u64> {
        Some(LIVE_BYTES.load(Ordering::Relaxed).max(0) as u64)
    }
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match cli::parse(&args) {
        Parsed::Usage => print_out(USAGE),
        Parsed::Error(m) => Err(Failure::Usage(m)),
        Parsed::Command(cmd) => dispatch(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Io(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(cmd: Cmd) -> Result<(), Failure> {
    match cmd {
        Cmd::Help => print_out(USAGE),
        Cmd::Presets => {
            let text: String = presets::all()
                .iter()
                .map(|p| format!("{}\t{}\n", p.name, p.summary))
                .collect();
            print_out(&text)
        }
        Cmd::Show { preset } => {
            let name = preset.ok_or_else(|| {
                Failure::Usage("show: which preset? (see `pullback presets`)".into())
            })?;
            let p = presets::find(&name).ok_or_else(|| unknown_preset(&name))?;
            print_out(&format!("{}\n", p.scenario.to_json()))
        }
        Cmd::Run(a) => run(a),
        Cmd::Compare(a) => compare::compare(a),
        Cmd::Figures(a) => figures::figures(a),
        Cmd::Sweep(a) => sweep::sweep(a),
        Cmd::Bench(a) => bench(a),
    }
}

/// `--escape` (`Some(None)`: the scenario's count) or `--escape=N`.
fn parse_escape(v: &str) -> Result<Option<u32>, Failure> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<u32>().map(Some).map_err(|_| {
        Failure::Usage(format!(
            "--escape: `--escape={v}` needs a count, e.g. --escape=3"
        ))
    })
}
fn parse_flow(s: &str) -> Result<pullback::math::flow::FlowSpec, Failure> {
    use pullback::math::flow::FlowSpec;
    let f = match s {
        "standard" => FlowSpec::Standard,
        "adapted" => FlowSpec::Adapted,
        _ => match s.strip_prefix("homotopy:").map(str::parse::<f64>) {
            Some(Ok(alpha)) => FlowSpec::Homotopy { alpha },
            _ => {
                return Err(Failure::Usage(format!(
                    "--flow: `{s}` is not standard, adapted or homotopy:ALPHA"
                )))
            }
        },
    };
    f.validate()?;
    Ok(f)
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let source = args
        .source
        .clone()
        .ok_or_else(|| Failure::Usage("run: give a scenario file or a preset name".into()))?;
    let solver = Solver::parse(&args.solver).ok_or_else(|| {
        Failure::Usage(format!(
            "--solver: `{}` is not auto, svd or matrix_free",
            args.solver
        ))
    })?;
    let escape = args.escape.as_deref().map(parse_escape).transpose()?;
    let mut scenario = load_scenario(&source)?;
    if let Some(f) = &args.flow {
        scenario.flow = parse_flow(f)?;
    }
    match escape {
        Some(Some(0)) => scenario.escape.auto = false,
        Some(Some(n)) => {
            scenario.escape.auto = true;
            scenario.escape.max = n;
        }
        Some(None) => scenario.escape.auto = true,
        None => {}
    }
    scenario.validate()?;
    let t0 = Instant::now();
    let mut session = Session::with_solver(&scenario, solver)?;
    let mut progress = Progress::new("run", args.output);
    let (eps, s_max) = (session.epsilon(), session.s_max());
    while session.step() {
        progress.update(
            pullback::run::lanes::session_progress(&session, eps, s_max),
            || format!("s = {:.4}, C = {:.3e}", session.s(), session.cost()),
            || json!({"s": session.s(), "cost": session.cost()}),
        )?;
    }
    progress.finish();
    let secs = t0.elapsed().as_secs_f64();
    let trace = session.trace();
    let ra = args;
    if ra.output.jsonl {
        let f = &trace.final_state;
        json_line(&json!({
            "type": "end",
            "what": "run",
            "s": f.s,
            "cost": f.cost,
            "reason": f.reason,
            "initial_cost": trace.initial_cost,
            "predicted_stopping_time": trace.predicted_stopping_time,
            "measured_stopping_time": trace.measured_stopping_time,
            "steps": trace.stats.steps,
            "evals": trace.stats.evals,
            "seconds": secs,
            "trace": ra.out.as_ref().map(|p| p.display().to_string()),
        }))?;
    }
    if !ra.output.quiet {
        let st = trace.stats;
        eprintln!(
            "{}: K = {}, QN = {} ({}), flow {}, {}",
            scenario.name.as_deref().unwrap_or(&source),
            trace.k,
            trace.q * trace.n,
            trace.regime.name(),
            trace.flow,
            scenario.integrator.name()
        );
        let f = &trace.final_state;
        let ranks = match (f.rank, f.rank_used) {
            (Some(r), Some(u)) if r == u => format!("rank D = {r}"),
            (Some(r), Some(u)) => format!("rank D = {r}, rank used by the field {u}"),
            _ => "rank D not tested".into(),
        };
        eprintln!(
            "  C(0) = {:.6e} → C = {:.6e} at s = {:.6} ({}), {ranks}",
            trace.initial_cost, f.cost, f.s, f.reason,
        );
        if let Some(r) = &trace.rank_formula {
            let verdict = if r.agrees { "agrees" } else { "differs" };
            eprintln!(
                "  rank D[θ₀]: measured {}, paper {} from {} ({verdict})",
                r.measured, r.paper, r.formula
            );
            if !r.agrees {
                if let Some(note) = &r.note {
                    eprintln!("    why: {note}");
                }
            }
        }
        if let Some(p) = trace.predicted_stopping_time {
            match trace.measured_stopping_time {
                Some(m) => eprintln!(
                    "  stopping time: predicted {p:.6}, measured {m:.6} (relative difference {:.1e})",
                    (m - p).abs() / p.max(f64::MIN_POSITIVE)
                ),
                None => eprintln!("  stopping time: predicted {p:.6}, not reached"),
            }
        }
        eprintln!(
            "  {} steps ({} rejected), {} field evaluations, {:.3} s",
            st.steps, st.rejected, st.evals, secs
        );
        for e in &trace.events {
            if !matches!(e.kind, EventKind::RankChange { .. }) {
                eprintln!("  event at s = {:.6}: {} — {}", e.s, e.name(), e.message);
            }
        }
        let escapes: Vec<_> = trace.events.iter().filter_map(|e| e.escape()).collect();
        if !escapes.is_empty() {
            let ratios: Vec<String> = escapes
                .iter()
                .map(|e| format!("{:.4}", e.cost_after / e.cost_before))
                .collect();
            eprintln!(
                "  {} escape(s); cost ratio after/before each: {}",
                escapes.len(),
                ratios.join(", ")
            );
        }
        eprintln!(
            "  {}",
            trace
                .final_state
                .sentence(trace.k, trace.q * trace.n, trace.rank_rtol)
        );
    }
    if let Some(out) = &ra.out {
        write_file(out, trace.to_json())?;
    }
    if let Some(dir) = &ra.svg {
        common::create_dir(dir)?;
        let path = dir.join("cost.svg");
        let fig = CostFigure::from_traces(&[&trace]);
        let area = SVGBackend::new(&path, (800, 500)).into_drawing_area();
        pullback::plot::cost::draw(&area, &fig).map_err(|e| Failure::Io(e.to_string()))?;
        drop(area);
        if !ra.output.quiet {
            eprintln!("  wrote {}", path.display());
        }
    }
    Ok(())
}

fn bench(args: BenchArgs) -> Result<(), Failure> {
    let mut cfg = BenchConfig {
        quick: args.quick,
        no_reference: args.no_reference,
        ..BenchConfig::default()
    };
    if let Some(only) = &args.only {
        cfg.only = only
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    if let Some(v) = &args.threads {
        let n = v
            .parse::<usize>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| Failure::Usage(format!("--threads: `{v}` is not a count ≥ 1")))?;
        cfg.threads = Some(n);
    }
    if let Some(v) = &args.memory {
        cfg.memory_steps = v
            .parse::<u64>()
            .map_err(|_| Failure::Usage(format!("--memory: `{v}` is not a step count")))?;
    }
    let json = args.json;
    let mut probe = NativeProbe(Instant::now());
    let report = bench::run(&cfg, &mut probe).map_err(|e| match e {
        Error::Invalid { field, reason } => Failure::Usage(format!("--{field}: {reason}")),
        other => Failure::from(other),
    })?;
    print_out(&report.table())?;
    if let Some(path) = json {
        write_file(&path, report.to_json())?;
    }
    Ok(())
}
