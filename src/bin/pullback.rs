//! `pullback`: run scenarios natively, write JSON traces and SVG figures.
//!
//! Exit status: 0 on success, 2 for a bad command line or scenario (one line on stderr naming the
//! field), 1 when a file cannot be read or written.

use plotters::prelude::*;
use pullback::math::fast::Solver;
use pullback::plot::cost::CostFigure;
use pullback::run::bench::{self, BenchConfig, Probe};
use pullback::run::event::EventKind;
use pullback::run::presets;
use pullback::run::scenario::Scenario;
use pullback::run::session::Session;
use pullback::Error;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

const USAGE: &str = "\
pullback — geometrically adapted gradient flows (Chen, arXiv 2311.15487)

USAGE:
  pullback run SCENARIO.json|PRESET [--out TRACE.json] [--svg DIR] [--flow FLOW] [--escape[=N]]
               [--solver S] [--quiet]
      Integrate a scenario (a JSON file, or a preset name) and write its trace.
      --out FILE   write the trace JSON here (default: print a summary only)
      --svg DIR    write DIR/cost.svg (cost vs s, theory line, stopping times)
      --flow FLOW  override the flow: standard | adapted | homotopy:ALPHA
      --solver S   auto (default: structured NTK + Cholesky, SVD fallback) | svd (reference) |
                   matrix_free (conjugate gradients with Jacobian-vector products)
      --escape     escape automatically from rank-loss equilibria along the normal bundle
                   (4.15)-(4.17), at most N times (default: the scenario's escape.max);
                   --escape=0 turns automatic escape off
      --quiet      no summary on stderr
  pullback bench [--json FILE] [--only S,M,L,U] [--quick] [--threads N] [--no-reference]
                 [--memory STEPS]
      Time the fixed benchmark scenarios (standard and adapted flow: s per field evaluation,
      RK4 steps/s, GFLOP/s, the reference SVD path, the dense kernels, matrix-free CG) and
      print a table; --json also writes the figures as JSON (schema in README).
      --quick       short budgets: checks that everything runs, not a measurement
      --threads N   kernel threads (default: all cores)
      --memory N    also run N RK4 steps of S and report the live heap before and after
  pullback presets
      List the presets, one per line: name, a tab, what it shows.
  pullback show PRESET
      Print a preset's scenario JSON (a starting point for your own).
  pullback help
";

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

enum Failure {
    Usage(String),
    Io(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(m) => Failure::Io(m),
            other => Failure::Usage(other.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
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

fn dispatch(args: &[String]) -> Result<(), Failure> {
    // `pullback CMD --help` (anywhere after the command) prints the usage instead of failing on
    // an unknown argument: that is what people type first.
    if args.iter().skip(1).any(|a| a == "--help" || a == "-h") {
        return print_out(USAGE);
    }
    match args.first().map(String::as_str) {
        None | Some("help") | Some("--help") | Some("-h") => print_out(USAGE),
        Some("presets") => {
            let text: String = presets::all()
                .iter()
                .map(|p| format!("{}\t{}\n", p.name, p.summary))
                .collect();
            print_out(&text)
        }
        Some("show") => {
            let name = args.get(1).ok_or_else(|| {
                Failure::Usage("show: which preset? (see `pullback presets`)".into())
            })?;
            let p = presets::find(name).ok_or_else(|| unknown_preset(name))?;
            print_out(&format!("{}\n", p.scenario.to_json()))
        }
        Some("run") => run(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some(other) => Err(Failure::Usage(format!(
            "unknown command `{other}`; try `pullback help`"
        ))),
    }
}

/// Writes to stdout; a closed pipe (`pullback presets | head -1`) is not an error.
fn print_out(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Io(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

fn unknown_preset(name: &str) -> Failure {
    let names: Vec<&str> = presets::all().iter().map(|p| p.name).collect();
    Failure::Usage(format!(
        "`{name}` is neither a readable file nor a preset; presets: {}",
        names.join(", ")
    ))
}

struct RunArgs {
    source: String,
    out: Option<PathBuf>,
    svg: Option<PathBuf>,
    flow: Option<String>,
    escape: Option<Option<u32>>,
    solver: Solver,
    quiet: bool,
}

fn parse_run_args(args: &[String]) -> Result<RunArgs, Failure> {
    let mut it = args.iter();
    let mut ra = RunArgs {
        source: String::new(),
        out: None,
        svg: None,
        flow: None,
        escape: None,
        solver: Solver::Auto,
        quiet: false,
    };
    let value = |it: &mut std::slice::Iter<String>, flag: &str| {
        it.next()
            .cloned()
            .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" | "-o" => ra.out = Some(value(&mut it, a)?.into()),
            "--svg" => ra.svg = Some(value(&mut it, a)?.into()),
            "--flow" => ra.flow = Some(value(&mut it, a)?),
            "--solver" => {
                let v = value(&mut it, a)?;
                ra.solver = Solver::parse(&v).ok_or_else(|| {
                    Failure::Usage(format!("--solver: `{v}` is not auto, svd or matrix_free"))
                })?;
            }
            "--quiet" | "-q" => ra.quiet = true,
            "--escape" => ra.escape = Some(None),
            s if s.starts_with("--escape=") => {
                let n = s["--escape=".len()..].parse::<u32>().map_err(|_| {
                    Failure::Usage(format!("--escape: `{s}` needs a count, e.g. --escape=3"))
                })?;
                ra.escape = Some(Some(n));
            }
            s if s.starts_with('-') => {
                return Err(Failure::Usage(format!("run: unknown option `{s}`")))
            }
            s if ra.source.is_empty() => ra.source = s.to_string(),
            s => return Err(Failure::Usage(format!("run: unexpected argument `{s}`"))),
        }
    }
    if ra.source.is_empty() {
        return Err(Failure::Usage(
            "run: give a scenario file or a preset name".into(),
        ));
    }
    Ok(ra)
}

fn load_scenario(source: &str) -> Result<Scenario, Failure> {
    let path = Path::new(source);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Io(format!("cannot read {source}: {e}")))?;
        // A trace file reruns its scenario.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if v.get("format").and_then(|f| f.as_str()) == Some("pullback-trace") {
                let sc = v.get("scenario").cloned().unwrap_or_default();
                return Scenario::from_json(&sc.to_string())
                    .map_err(|e| Failure::Usage(format!("{source}: scenario.{e}")));
            }
        }
        return Scenario::from_json(&text).map_err(|e| Failure::Usage(format!("{source}: {e}")));
    }
    presets::find(source)
        .map(|p| p.scenario)
        .ok_or_else(|| unknown_preset(source))
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

fn run(args: &[String]) -> Result<(), Failure> {
    let ra = parse_run_args(args)?;
    let mut scenario = load_scenario(&ra.source)?;
    if let Some(f) = &ra.flow {
        scenario.flow = parse_flow(f)?;
    }
    match ra.escape {
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
    let mut session = Session::with_solver(&scenario, ra.solver)?;
    session.run();
    let secs = t0.elapsed().as_secs_f64();
    let trace = session.trace();
    if !ra.quiet {
        let st = trace.stats;
        eprintln!(
            "{}: K = {}, QN = {} ({}), flow {}, {}",
            scenario.name.as_deref().unwrap_or(&ra.source),
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
        std::fs::write(out, trace.to_json())
            .map_err(|e| Failure::Io(format!("cannot write {}: {e}", out.display())))?;
    }
    if let Some(dir) = &ra.svg {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::Io(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("cost.svg");
        let fig = CostFigure::from_traces(&[&trace]);
        let area = SVGBackend::new(&path, (800, 500)).into_drawing_area();
        pullback::plot::cost::draw(&area, &fig).map_err(|e| Failure::Io(e.to_string()))?;
        drop(area);
        if !ra.quiet {
            eprintln!("  wrote {}", path.display());
        }
    }
    Ok(())
}

fn bench(args: &[String]) -> Result<(), Failure> {
    let mut cfg = BenchConfig::default();
    let mut json: Option<PathBuf> = None;
    let mut it = args.iter();
    let value = |it: &mut std::slice::Iter<String>, flag: &str| {
        it.next()
            .cloned()
            .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = Some(value(&mut it, a)?.into()),
            "--only" => {
                cfg.only = value(&mut it, a)?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "--quick" => cfg.quick = true,
            "--no-reference" => cfg.no_reference = true,
            "--threads" => {
                let v = value(&mut it, a)?;
                let n = v.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                    Failure::Usage(format!("--threads: `{v}` is not a count ≥ 1"))
                })?;
                cfg.threads = Some(n);
            }
            "--memory" => {
                let v = value(&mut it, a)?;
                cfg.memory_steps = v
                    .parse::<u64>()
                    .map_err(|_| Failure::Usage(format!("--memory: `{v}` is not a step count")))?;
            }
            s => return Err(Failure::Usage(format!("bench: unknown argument `{s}`"))),
        }
    }
    let mut probe = NativeProbe(Instant::now());
    let report = bench::run(&cfg, &mut probe).map_err(|e| match e {
        Error::Invalid { field, reason } => Failure::Usage(format!("--{field}: {reason}")),
        other => Failure::from(other),
    })?;
    print_out(&report.table())?;
    if let Some(path) = json {
        std::fs::write(&path, report.to_json())
            .map_err(|e| Failure::Io(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}
