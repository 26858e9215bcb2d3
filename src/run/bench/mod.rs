//! The benchmark harness behind `pullback bench` and the wasm entry point [`bench_run`].
//!
//! Fixed scenarios (seeded data and `θ₀`), each timed for the standard and the adapted flow:
//! seconds per vector-field evaluation (median, min, max over repetitions), RK4 steps per second
//! (the integrator, the field and the rank-lock bookkeeping; no diagnostic samples; RK45 for the
//! rank-deficient `Mr`'s adapted flow), the flop
//! count of one evaluation and the GFLOP/s it implies, the reference SVD path for comparison where
//! `D` fits, and the dense kernels (structured NTK, Cholesky) on their own.
//!
//! Flop counts (multiply and add counted separately, symmetric products once; `P = 2N·ΣM_lM_{l−1}`
//! plus biases is one pass — forward, backprop or forward-mode):
//! - standard: `P` (forward) `+ P` (backprop `Dᵀ∇ₓC`) `+ P` (forward-mode `|D∂ₛθ|`) `+ 2QN·ΣM_lM_{l+1}`
//!   (signals for `‖D‖_F²`);
//! - adapted, Cholesky: `2P + NTK + (QN)³/3 + 4(QN)²` (forward, final forward-mode residual,
//!   factor, two inverse-iteration steps) `+ (1 + r)(2P + 2(QN)²)` (conjugate-gradient steps, `r`
//!   the mean number of refinement steps), with
//!   `NTK = 2·[Σ_{l≤L}(QN)²M_l/2 + Σ_l N²M_{l−1}/2 + QN·Σ M_lM_{l+1}]`;
//! - adapted, normal equations (`K < QN`): `P + QP + 2·QN·K` (dense `D`) `+ K²·QN + K³/3 + 8K² +
//!   (1 + r)(4K·QN + 2K²)`;
//! - adapted, SVD: `P + QP + 2·QN·K` (dense `D`) `+ 4·K·(QN)² + 8(QN)³` (Golub–Kahan
//!   bidiagonalization and accumulation of both thin factors, `K ≥ QN`; roles swapped otherwise).
//!
//! The core has no clock (std's `Instant` does not exist on wasm32): callers pass a [`Probe`].
//!
//! This file holds the scenarios, the configuration, the report and its table; `measure.rs` the
//! measurements themselves (timing loops, flop counts, the flows, the kernels, CG, memory).

use crate::error::{Error, Result};
use crate::linalg::kernels;
use crate::math::fast::PathCounts;
use crate::math::flow::FlowSpec;
use serde::{Deserialize, Serialize};

mod measure;

use measure::{bench_cg, bench_flow, bench_kernels, bench_memory, gemm_calibration, prepare};
pub use measure::{flops_per_eval, SEGMENT};

/// Time and memory as the host sees them.
pub trait Probe {
    /// Seconds since an arbitrary origin (monotone).
    fn now(&mut self) -> f64;
    /// Bytes of heap in use (native: live allocations; wasm: linear memory), if known.
    fn heap_bytes(&mut self) -> Option<u64> {
        None
    }
}

/// One fixed benchmark scenario.
#[derive(Debug, Clone, Serialize)]
pub struct BenchScenario {
    /// Short name: `S`, `M`, `L`, `U`.
    pub name: &'static str,
    /// What it stands for.
    pub summary: &'static str,
    /// The scenario JSON (data, network, seed).
    pub scenario: &'static str,
    /// Native only (too large for the browser).
    pub native_only: bool,
    /// RK4 step size for the steps/s measurement.
    pub h: f64,
    /// Whether to measure steps/s.
    pub steps: bool,
    /// Time the adapted flow's steps with RK45 (the page's default integrator) instead of RK4:
    /// where its field is the rank-deficient DAE, whose `1/σ` components fixed-step RK4 cannot
    /// follow.
    pub adaptive: bool,
}

/// The scenarios of issue 6: S, M, L (native only) and an underparametrized U.
pub fn scenarios() -> Vec<BenchScenario> {
    vec![
        BenchScenario {
            name: "S",
            summary: "2-16-16-2 tanh, N = 50 (K = 354, QN = 100)",
            scenario: r#"{"seed": 1, "data": {"kind": "moons", "n": 50, "noise": 0.1},
                "net": {"widths": [2, 16, 16, 2], "activation": "tanh"}}"#,
            native_only: false,
            h: 0.05,
            steps: true,
            adaptive: false,
        },
        BenchScenario {
            name: "M",
            summary: "2-64-64-2 tanh, N = 200 (K = 4482, QN = 400), init scale 3 (full rank)",
            scenario: r#"{"seed": 1, "data": {"kind": "moons", "n": 200, "noise": 0.1},
                "net": {"widths": [2, 64, 64, 2], "activation": "tanh"},
                "init": {"kind": "gaussian", "scale": 3}}"#,
            native_only: false,
            h: 0.2,
            steps: true,
            adaptive: false,
        },
        BenchScenario {
            name: "Mr",
            summary:
                "M at init scale 1: rank D = 364 < QN = 400 at rank_rtol 1e-10, SVD of a wide D; \
                      the adapted flow's steps with RK45",
            scenario: r#"{"seed": 1, "data": {"kind": "moons", "n": 200, "noise": 0.1},
                "net": {"widths": [2, 64, 64, 2], "activation": "tanh"}}"#,
            native_only: false,
            h: 0.2,
            steps: true,
            adaptive: true,
        },
        BenchScenario {
            name: "L",
            summary: "8-256-256-4 tanh, N = 500 (K = 69 124, QN = 2000)",
            scenario: r#"{"seed": 3, "data": {"kind": "clusters", "n": 500, "classes": 4, "dim": 8},
                "net": {"widths": [8, 256, 256, 4], "activation": "tanh"}}"#,
            native_only: true,
            h: 0.5,
            steps: true,
            adaptive: false,
        },
        BenchScenario {
            name: "U",
            summary: "2-6-6-2 tanh, N = 200 blobs (K = 74 < QN = 400, Gauss–Newton)",
            // The Gauss–Newton field has components ∝ 1/σ_min(D): fixed-step RK4 needs a small h
            // (at h ≥ 0.01 these underparametrized runs overshoot into rank loss and C grows).
            scenario: r#"{"seed": 4, "data": {"kind": "blobs", "n": 200, "classes": 2, "noise": 0.6},
                "net": {"widths": [2, 6, 6, 2], "activation": "tanh"}}"#,
            native_only: false,
            h: 0.002,
            steps: true,
            adaptive: false,
        },
    ]
}

/// What to run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchConfig {
    /// Scenario names to run (empty: all that fit the target).
    pub only: Vec<String>,
    /// Short timing budgets (a smoke test, not a measurement).
    pub quick: bool,
    /// Kernel threads (native; `None`: the machine's parallelism).
    pub threads: Option<usize>,
    /// Skip the reference SVD timings.
    pub no_reference: bool,
    /// RK4 steps of the memory check on S (0: skip).
    pub memory_steps: u64,
}

/// Median, min and max of repeated timings.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Median seconds.
    pub median: f64,
    /// Fastest.
    pub min: f64,
    /// Slowest.
    pub max: f64,
    /// Samples (each the mean over `batch` calls).
    pub reps: u32,
    /// Calls per sample, so that a sample lasts at least 10 ms whatever the clock's resolution.
    #[serde(default)]
    pub batch: u32,
}

impl Timing {
    fn of(mut t: Vec<f64>) -> Timing {
        t.sort_by(f64::total_cmp);
        let reps = t.len() as u32;
        if t.is_empty() {
            return Timing::default();
        }
        let mid = t.len() / 2;
        let median = if t.len() % 2 == 1 {
            t[mid]
        } else {
            0.5 * (t[mid - 1] + t[mid])
        };
        Timing {
            median,
            min: t[0],
            max: t[t.len() - 1],
            reps,
            batch: 1,
        }
    }
}

/// One row: a scenario under one flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchRow {
    /// Scenario name.
    pub scenario: String,
    /// `standard` or `adapted`.
    pub flow: String,
    /// Solver of the fast measurement.
    pub solver: String,
    /// Widths.
    pub widths: Vec<usize>,
    /// Samples `N`.
    pub n: usize,
    /// Parameters `K`.
    pub k: usize,
    /// Outputs `QN`.
    pub qn: usize,
    /// Seconds per field evaluation (forward pass included).
    pub eval_seconds: Timing,
    /// Flops of one evaluation (see the module docs).
    pub flops_per_eval: f64,
    /// `flops_per_eval / eval_seconds.median / 1e9`.
    pub gflops: f64,
    /// Accepted integrator steps per second (`None`: not measured).
    pub steps_per_second: Option<f64>,
    /// Accepted steps taken for it.
    pub steps: u64,
    /// RK4 step size (of RK4 rows).
    pub h: f64,
    /// The integrator of the steps/s measurement: `rk4` (step `h`) or `rk45` (the scenario
    /// defaults, rtol 1e-8, atol 1e-10).
    pub integrator: String,
    /// Field evaluations per accepted step in the steps/s measurement.
    pub evals_per_step: Option<f64>,
    /// Which paths the evaluations took.
    pub paths: PathCounts,
    /// Reference SVD path, seconds per evaluation (`None`: not run).
    pub reference_seconds: Option<Timing>,
    /// `reference / fast` median time.
    pub speedup: Option<f64>,
    /// Largest relative difference fast vs reference field at `θ₀`.
    pub reference_rel_diff: Option<f64>,
    /// Notes (fallbacks, CG iterations, limits).
    pub note: String,
}

/// Dense kernels timed alone at `θ₀` (adapted, `K ≥ QN` only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelRow {
    /// Scenario name.
    pub scenario: String,
    /// Structured NTK assembly, seconds (median).
    pub ntk_seconds: f64,
    /// Its GFLOP/s.
    pub ntk_gflops: f64,
    /// Cholesky of the `QN × QN` NTK, seconds (median).
    pub cholesky_seconds: f64,
    /// Its GFLOP/s (`(QN)³/3` flops).
    pub cholesky_gflops: f64,
}

/// A matrix-free (CG) solve timed alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CgRow {
    /// Scenario name.
    pub scenario: String,
    /// Seconds for the solve (forward pass excluded).
    pub seconds: f64,
    /// Iterations.
    pub iterations: u32,
    /// True relative residual `|∇ₓC − DDᵀa|/|∇ₓC|` reached.
    pub residual: f64,
    /// Target relative residual.
    pub rtol: f64,
    /// Relative difference of `Dᵀa` from the Cholesky solution.
    pub rel_diff_vs_cholesky: f64,
    /// Converged within the iteration budget.
    pub converged: bool,
}

/// Heap before and after many steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryRow {
    /// Scenario name.
    pub scenario: String,
    /// RK4 steps between the two readings.
    pub steps: u64,
    /// Heap bytes after warm-up (10 steps).
    pub before: u64,
    /// Heap bytes at the end.
    pub after: u64,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// `pullback-bench`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// `native` or `wasm32`.
    pub target: String,
    /// Compiled with wasm `simd128`.
    pub simd128: bool,
    /// Kernel threads used.
    pub threads: usize,
    /// Short budgets.
    pub quick: bool,
    /// A 512³ `dgemm` on one thread, GFLOP/s: the practical single-core peak of the kernels.
    pub gemm_gflops: f64,
    /// One row per scenario and flow.
    pub results: Vec<BenchRow>,
    /// Dense kernels alone.
    pub kernels: Vec<KernelRow>,
    /// Matrix-free solves.
    pub matrix_free: Vec<CgRow>,
    /// Memory check.
    pub memory: Vec<MemoryRow>,
}

/// Runs the benchmark.
///
/// Errors: an unknown scenario name in `only` (named), or a failing evaluation.
pub fn run(cfg: &BenchConfig, probe: &mut dyn Probe) -> Result<BenchReport> {
    let wasm = cfg!(target_arch = "wasm32");
    let all = scenarios();
    for name in &cfg.only {
        if !all.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
            return Err(Error::invalid(
                "only",
                format!("unknown scenario `{name}`; known: S, M, Mr, L, U"),
            ));
        }
    }
    if let Some(t) = cfg.threads {
        kernels::set_threads(t);
    }
    let chosen: Vec<BenchScenario> = all
        .into_iter()
        .filter(|s| {
            if cfg.only.is_empty() {
                !(wasm && s.native_only)
            } else {
                cfg.only.iter().any(|o| o.eq_ignore_ascii_case(s.name))
            }
        })
        .collect();
    let mut report = BenchReport {
        format: "pullback-bench".into(),
        version: 1,
        target: if wasm { "wasm32" } else { "native" }.into(),
        simd128: cfg!(target_feature = "simd128"),
        threads: kernels::threads(),
        quick: cfg.quick,
        gemm_gflops: gemm_calibration(probe, cfg.quick),
        results: vec![],
        kernels: vec![],
        matrix_free: vec![],
        memory: vec![],
    };
    for sc in &chosen {
        let p = prepare(sc)?;
        for spec in [FlowSpec::Standard, FlowSpec::Adapted] {
            report.results.push(bench_flow(probe, &p, spec, cfg)?);
        }
        if p.model.k() >= p.model.qn() {
            report.kernels.push(bench_kernels(probe, &p, cfg.quick)?);
            if sc.name == "L" || sc.name == "M" {
                report.matrix_free.push(bench_cg(probe, &p, cfg.quick)?);
            }
        }
        if sc.name == "S" && cfg.memory_steps > 0 {
            if let Some(m) = bench_memory(probe, &p, cfg.memory_steps)? {
                report.memory.push(m);
            }
        }
    }
    Ok(report)
}

impl BenchReport {
    /// The report as pretty JSON (schema in README, "Benchmark").
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// The report as a plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "pullback bench — {} ({}threads {}, 512³ dgemm {:.1} GFLOP/s on one thread){}\n",
            self.target,
            if self.target == "wasm32" {
                if self.simd128 {
                    "simd128, "
                } else {
                    "no simd128, "
                }
            } else {
                ""
            },
            self.threads,
            self.gemm_gflops,
            if self.quick {
                " [quick: not a measurement]"
            } else {
                ""
            }
        );
        s.push_str(&format!(
            "{:<3} {:<9} {:>6} {:>5} {:>26} {:>8} {:>9} {:>8} {:>10} {:>8}  {}\n",
            "",
            "flow",
            "K",
            "QN",
            "s/eval median [min, max]",
            "step",
            "steps/s",
            "GFLOP/s",
            "SVD s/eval",
            "speedup",
            "paths / notes"
        ));
        for r in &self.results {
            let e = r.eval_seconds;
            let paths = describe_paths(&r.paths);
            s.push_str(&format!(
                "{:<3} {:<9} {:>6} {:>5} {:>26} {:>8} {:>9} {:>8.2} {:>10} {:>8}  {}{}{}\n",
                r.scenario,
                r.flow,
                r.k,
                r.qn,
                format!("{:.3e} [{:.2e}, {:.2e}]", e.median, e.min, e.max),
                if r.integrator == "rk45" {
                    "rk45".into()
                } else {
                    format!("{:.1e}", r.h)
                },
                r.steps_per_second.map_or("-".into(), |v| format!("{v:.1}")),
                r.gflops,
                r.reference_seconds
                    .map_or("-".into(), |t| format!("{:.3e}", t.median)),
                r.speedup.map_or("-".into(), |v| format!("{v:.1}×")),
                paths,
                if r.note.is_empty() { "" } else { "; " },
                r.note
            ));
        }
        if !self.kernels.is_empty() {
            s.push_str("dense kernels at θ₀ (median):\n");
            for k in &self.kernels {
                let chol = if k.cholesky_seconds.is_finite() {
                    format!(
                        "{:.3e} s ({:.2} GFLOP/s)",
                        k.cholesky_seconds, k.cholesky_gflops
                    )
                } else {
                    "n/a (the NTK is not numerically positive definite)".into()
                };
                s.push_str(&format!(
                    "  {:<3} structured NTK {:.3e} s ({:.2} GFLOP/s), Cholesky {chol}\n",
                    k.scenario, k.ntk_seconds, k.ntk_gflops
                ));
            }
        }
        for c in &self.matrix_free {
            s.push_str(&format!(
                "matrix-free CG on {}: {} iterations, {:.3} s, residual {:.1e} (target {:.0e}{}){}\n",
                c.scenario,
                c.iterations,
                c.seconds,
                c.residual,
                c.rtol,
                if c.converged { "" } else { ", not reached" },
                if c.rel_diff_vs_cholesky.is_finite() {
                    format!(", |v − v_Cholesky| {:.1e} relative", c.rel_diff_vs_cholesky)
                } else {
                    String::new()
                }
            ));
        }
        for m in &self.memory {
            s.push_str(&format!(
                "memory on {}: {} bytes after warm-up, {} bytes after {} more RK4 steps\n",
                m.scenario, m.before, m.after, m.steps
            ));
        }
        s
    }
}

fn describe_paths(c: &PathCounts) -> String {
    let mut parts = vec![];
    for (n, name) in [
        (c.backprop, "backprop"),
        (c.cholesky, "cholesky"),
        (c.normal, "normal-eq"),
        (c.matrix_free, "cg"),
        (c.svd, "svd"),
        (c.gram, "gram"),
        (c.dense, "dense"),
    ] {
        if n > 0 {
            parts.push(format!("{name} {n}"));
        }
    }
    parts.join(", ")
}

/// The wasm entry point: runs the benchmark described by `config_json` (a [`BenchConfig`];
/// empty or `{}` for the defaults) and returns `{"report": …, "table": "…"}` as JSON, or
/// `{"error": "…"}`.
pub fn bench_run(config_json: &str, probe: &mut dyn Probe) -> String {
    let cfg: std::result::Result<BenchConfig, _> = if config_json.trim().is_empty() {
        Ok(BenchConfig::default())
    } else {
        serde_json::from_str(config_json)
    };
    let out = match cfg {
        Err(e) => serde_json::json!({"error": format!("bench config: {e}")}),
        Ok(cfg) => match run(&cfg, probe) {
            Ok(r) => serde_json::json!({"report": r, "table": r.table()}),
            Err(e) => serde_json::json!({"error": e.to_string()}),
        },
    };
    out.to_string()
}
