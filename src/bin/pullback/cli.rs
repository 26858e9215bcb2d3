//! The command line as clap reads it. The help text is written by hand ([`USAGE`]): it is the
//! manual of every command at once, and `pullback CMD --help` prints all of it.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const USAGE: &str = "\
pullback — geometrically adapted gradient flows (Chen, arXiv 2311.15487)

USAGE:
  pullback run SCENARIO.json|PRESET|TRACE.json [--out TRACE.json] [--svg DIR] [--flow FLOW]
               [--escape[=N]] [--solver S] [--quiet] [--jsonl]
      Integrate a scenario (a JSON file, a preset name, or a trace, which reruns its scenario)
      and write its trace.
      --out FILE   write the trace JSON here (default: print a summary only)
      --svg DIR    write DIR/cost.svg (cost vs s, theory line, stopping times)
      --flow FLOW  override the flow: standard | adapted | homotopy:ALPHA
      --solver S   auto (default: structured NTK + Cholesky, SVD fallback) | svd (reference) |
                   matrix_free (conjugate gradients with Jacobian-vector products)
      --escape     escape automatically from rank-loss equilibria along the normal bundle
                   (4.15)-(4.17), at most N times (default: the scenario's escape.max);
                   --escape=0 turns automatic escape off
      --quiet      no summary and no progress bar on stderr
      --jsonl      JSON Lines on stdout: progress once a second, then the end of the run
  pullback compare SCENARIO.json|PRESET [--flows LIST] [--out DIR] [--quiet] [--jsonl]
      Run several flows from the same θ₀ on one time axis, as the page does, and print the
      page's table (s, C, rank D, status, rest, steps/s and the stopping times per flow) and
      each flow's end-point line.
      --flows LIST  comma-separated: adapted, standard, gd:H, homotopy:ALPHA
                    (default adapted,standard)
      --out DIR     write DIR/FLOW.json (one trace per flow) and DIR/compare.json (the table
                    and the trace file of each flow)
  pullback figures TRACE.json... --out DIR [--format svg|png] [--size SIZE] [--views LIST]
      Draw every figure of the page from traces of one comparison (same data), with the page's
      plotting code: cost, outputs, spectrum, boundary, collapse, singular, reparam, homotopy,
      critical, construct.
      --format F   svg (default) or png
      --size SIZE  column (3.4 in at 300 dpi), slide (1920x1080), or WxH in pixels
                   (default 800x500)
      --views LIST only these figures (comma-separated names as above)
  pullback sweep SPEC.json [--jobs N] [--shard I/N] [--out DIR] [--traces] [--quiet] [--jsonl]
  pullback sweep --merge DIR... --out DIR
      Run a grid of scenarios (seeds × data × hidden widths × activations × flows; the spec
      format is in README) on all cores, and write DIR/sweep.csv, DIR/sweep.json and
      DIR/summary.svg. Each finished run is kept in DIR/runs/, so an interrupted sweep resumes
      where it stopped.
      --jobs N     parallel runs (default: all cores)
      --shard I/N  run only the cells with index ≡ I (mod N), 0 ≤ I < N (a job array)
      --traces     also keep each run's trace in DIR/traces/
      --merge      join the runs of shard directories into --out
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

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "pullback",
    disable_help_subcommand = true,
    disable_version_flag = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    Run(RunArgs),
    Compare(CompareArgs),
    Figures(FiguresArgs),
    Sweep(SweepArgs),
    Bench(BenchArgs),
    Presets,
    Show { preset: Option<String> },
    Help,
}

/// Output switches shared by the long-running commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct Output {
    /// No summary and no progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// JSON Lines on stdout.
    #[arg(long)]
    pub jsonl: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub source: Option<String>,
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub svg: Option<PathBuf>,
    #[arg(long)]
    pub flow: Option<String>,
    /// `--escape` alone is `Some("")`, `--escape=N` is `Some("N")`.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub escape: Option<String>,
    #[arg(long, default_value = "auto")]
    pub solver: String,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub source: Option<String>,
    #[arg(long, default_value = "adapted,standard")]
    pub flows: String,
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct FiguresArgs {
    pub traces: Vec<PathBuf>,
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = "svg")]
    pub format: String,
    #[arg(long)]
    pub size: Option<String>,
    #[arg(long)]
    pub views: Option<String>,
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    pub spec: Option<PathBuf>,
    #[arg(long)]
    pub jobs: Option<String>,
    #[arg(long)]
    pub shard: Option<String>,
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    #[arg(long, num_args = 1..)]
    pub merge: Vec<PathBuf>,
    #[arg(long)]
    pub traces: bool,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[arg(long)]
    pub only: Option<String>,
    #[arg(long)]
    pub quick: bool,
    #[arg(long = "no-reference")]
    pub no_reference: bool,
    #[arg(long)]
    pub threads: Option<String>,
    #[arg(long)]
    pub memory: Option<String>,
}

/// What the command line asks for: a command, the usage text, or an error in one line.
pub enum Parsed {
    Command(Cmd),
    Usage,
    Error(String),
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Parsed {
    // `pullback CMD --help` (anywhere after the command) prints the usage instead of failing on
    // an unknown argument: that is what people type first.
    if args.iter().skip(1).any(|a| a == "--help" || a == "-h") {
        return Parsed::Usage;
    }
    if matches!(
        args.first().map(String::as_str),
        None | Some("--help" | "-h")
    ) {
        return Parsed::Usage;
    }
    let argv = std::iter::once("pullback".to_string()).chain(args.iter().cloned());
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: None | Some(Cmd::Help),
        }) => Parsed::Usage,
        Ok(Cli { command: Some(c) }) => Parsed::Command(c),
        Err(e) => Parsed::Error(one_line(&e)),
    }
}

/// A clap error as one line without the `error: ` prefix (the caller adds it).
fn one_line(e: &clap::Error) -> String {
    if e.kind() == ErrorKind::InvalidSubcommand {
        if let Some(ContextValue::String(cmd)) = e.get(ContextKind::InvalidSubcommand) {
            return format!("unknown command `{cmd}`; try `pullback help`");
        }
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("bad command line");
    format!(
        "{}; try `pullback help`",
        first.trim_start_matches("error: ").trim_end()
    )
}
