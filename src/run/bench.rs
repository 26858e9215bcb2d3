//! The benchmark harness behind `pullback bench` and the wasm entry point [`bench_run`].
//!
//! Fixed scenarios (seeded data and `θ₀`), each timed for the standard and the adapted flow:
//! seconds per vector-field evaluation (median, min, max over repetitions), RK4 steps per second
//! (the integrator, the field and the rank-lock bookkeeping; no diagnostic samples), the flop
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

use crate::error::{Error, Result};
use crate::linalg::kernels;
use crate::math::fast::{PathCounts, SolvePath, Solver};
use crate::math::flow::{eval_field, FlowSpec, Workspace};
use crate::math::integrate::{IntegratorSpec, Stepper};
use crate::math::model::Model;
use crate::math::net::Forward;
use crate::math::ntk::{self, Derivs};
use crate::run::scenario::Scenario;
use crate::run::session::FlowField;
use serde::{Deserialize, Serialize};

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
    /// Whether to measure RK4 steps/s (not where the adapted field is the rank-deficient DAE,
    /// whose `1/σ` components make fixed-step RK4 meaningless).
    pub steps: bool,
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
        },
        BenchScenario {
            name: "Mr",
            summary: "M at init scale 1: rank D = 364 < QN = 400 at rank_rtol 1e-10, SVD only",
            scenario: r#"{"seed": 1, "data": {"kind": "moons", "n": 200, "noise": 0.1},
                "net": {"widths": [2, 64, 64, 2], "activation": "tanh"}}"#,
            native_only: false,
            h: 0.2,
            steps: false,
        },
        BenchScenario {
            name: "L",
            summary: "8-256-256-4 tanh, N = 500 (K = 69 124, QN = 2000)",
            scenario: r#"{"seed": 3, "data": {"kind": "clusters", "n": 500, "classes": 4, "dim": 8},
                "net": {"widths": [8, 256, 256, 4], "activation": "tanh"}}"#,
            native_only: true,
            h: 0.5,
            steps: true,
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
    /// RK4 steps per second (`None`: not measured).
    pub steps_per_second: Option<f64>,
    /// RK4 steps taken for it.
    pub steps: u64,
    /// RK4 step size.
    pub h: f64,
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

/// Shortest timed sample: browsers coarsen `performance.now()` to 100 µs (5 µs when
/// cross-origin isolated), so a sample must be long against that or it measures the clock.
const MIN_SAMPLE_SECONDS: f64 = 1e-2;

/// Times `f` repeatedly until `budget` seconds or `max_reps` samples are used (at least
/// `min_reps`). A sample is a batch of calls lasting at least [`MIN_SAMPLE_SECONDS`] (the batch
/// size comes from a calibration run, which also warms caches), divided by the batch size.
fn time_reps(
    probe: &mut dyn Probe,
    budget: f64,
    min_reps: u32,
    max_reps: u32,
    mut f: impl FnMut() -> Result<()>,
) -> Result<Timing> {
    let c0 = probe.now();
    let mut batch = 0u32;
    loop {
        f()?;
        batch += 1;
        if probe.now() - c0 >= MIN_SAMPLE_SECONDS || batch >= 10_000 {
            break;
        }
    }
    let mut times = vec![];
    let start = probe.now();
    while (times.len() as u32) < min_reps
        || ((probe.now() - start) < budget && (times.len() as u32) < max_reps)
    {
        let t0 = probe.now();
        for _ in 0..batch {
            f()?;
        }
        times.push((probe.now() - t0) / f64::from(batch));
    }
    let mut t = Timing::of(times);
    t.batch = batch;
    Ok(t)
}

fn pass_flops(widths: &[usize], n: usize) -> f64 {
    2.0 * ntk::pass_fma(widths, n)
}

/// Flops of one evaluation on `path` (module docs).
pub fn flops_per_eval(widths: &[usize], n: usize, path: SolvePath, mean_refinements: f64) -> f64 {
    let q = *widths.last().unwrap_or(&1) as f64;
    let nf = n as f64;
    let qn = q * nf;
    let k = crate::math::net::Mlp::param_count(widths) as f64;
    let p = pass_flops(widths, n);
    let signals: f64 = widths.windows(3).map(|w| (w[1] * w[2]) as f64).sum::<f64>() * qn * 2.0;
    let dense_d = p + q * p + 2.0 * qn * k;
    let r = mean_refinements;
    match path {
        SolvePath::None => 0.0,
        SolvePath::Backprop => 3.0 * p + signals,
        SolvePath::Dense => dense_d + 4.0 * qn * k,
        SolvePath::Cholesky => {
            2.0 * p
                + 2.0 * ntk::ntk_fma(widths, n)
                + qn.powi(3) / 3.0
                + 4.0 * qn * qn
                + (1.0 + r) * (2.0 * p + 2.0 * qn * qn)
        }
        SolvePath::Normal => {
            dense_d
                + k * k * qn
                + k.powi(3) / 3.0
                + 8.0 * k * k
                + (1.0 + r) * (4.0 * k * qn + 2.0 * k * k)
        }
        SolvePath::MatrixFree => p + (1.0 + r) * 2.0 * p,
        SolvePath::Svd => {
            let (big, small) = if k >= qn { (k, qn) } else { (qn, k) };
            dense_d + 4.0 * big * small * small + 8.0 * small.powi(3)
        }
    }
}

fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let scale = b
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn gemm_calibration(probe: &mut dyn Probe, quick: bool) -> f64 {
    let n = if quick { 256 } else { 512 };
    let a: Vec<f64> = (0..n * n).map(|i| ((i % 97) as f64) * 0.01).collect();
    let mut c = vec![0.0; n * n];
    let saved = kernels::threads();
    kernels::set_threads(1);
    let t = time_reps(probe, if quick { 0.05 } else { 0.5 }, 2, 50, || {
        let m = kernels::MatRef::col_major(&a, n, n, n);
        kernels::gemm(1.0, m, m.t(), 0.0, &mut c, n);
        Ok(())
    })
    .expect("infallible");
    kernels::set_threads(saved);
    2.0 * (n as f64).powi(3) / t.min / 1e9
}

struct Prepared {
    scenario: BenchScenario,
    model: Model,
    theta0: Vec<f64>,
}

fn prepare(sc: &BenchScenario) -> Result<Prepared> {
    let m = Scenario::from_json(sc.scenario)?.materialize()?;
    Ok(Prepared {
        scenario: sc.clone(),
        model: m.model,
        theta0: m.theta0,
    })
}

fn eval_once(ws: &mut Workspace, p: &Prepared, spec: &FlowSpec, out: &mut [f64]) -> Result<()> {
    ws.forward(&p.model, &p.theta0)?;
    eval_field(spec, ws, crate::linalg::DEFAULT_RANK_RTOL, out)?;
    Ok(())
}

fn bench_flow(
    probe: &mut dyn Probe,
    p: &Prepared,
    spec: FlowSpec,
    cfg: &BenchConfig,
) -> Result<BenchRow> {
    let model = &p.model;
    let k = model.k();
    let (budget, min_reps) = if cfg.quick { (0.05, 2) } else { (1.0, 5) };
    let mut ws = Workspace::with_solver(Solver::Auto);
    let mut out = vec![0.0; k];
    let mut counts = PathCounts::default();
    eval_once(&mut ws, p, &spec, &mut out)?;
    counts.record(&ws.solve_info());
    let fast_field = out.clone();
    let eval_seconds = time_reps(probe, budget, min_reps, 10_000, || {
        eval_once(&mut ws, p, &spec, &mut out)
    })?;
    let mut note = String::new();
    // Steps per second: RK4 on the flow field as a session integrates it (no samples), over
    // segments of at most SEGMENT steps from θ₀, repeated: the same work on every machine.
    let big = model.qn() >= 1000;
    let h = step_size(p, spec);
    let (steps_per_second, steps) = if (big && cfg.quick) || !p.scenario.steps {
        (None, 0)
    } else {
        let mut field = FlowField::with_solver(
            model.clone(),
            spec,
            crate::linalg::DEFAULT_RANK_RTOL,
            Solver::Auto,
        );
        let budget = if cfg.quick {
            0.1
        } else if big {
            4.0
        } else {
            2.0
        };
        let min_steps = if big { 1 } else { 5 };
        let mut n = 0u64;
        let mut dt = 0.0;
        while n < min_steps || dt < budget {
            let mut st = Stepper::new(IntegratorSpec::Rk4 { h }, 0.0, &p.theta0, &mut field)?;
            field.reset_rank_policy();
            let t0 = probe.now();
            let mut seg = 0;
            while seg < SEGMENT && (n < min_steps || dt + (probe.now() - t0) < budget) {
                st.step(&mut field, f64::INFINITY)?;
                field.accept();
                seg += 1;
                n += 1;
            }
            dt += probe.now() - t0;
        }
        let c = field.path_counts();
        counts.backprop += c.backprop;
        counts.cholesky += c.cholesky;
        counts.normal += c.normal;
        counts.matrix_free += c.matrix_free;
        counts.svd += c.svd;
        counts.dense += c.dense;
        counts.fallbacks += c.fallbacks;
        counts.refinements += c.refinements;
        counts.max_kappa = counts.max_kappa.max(c.max_kappa);
        counts.max_residual = counts.max_residual.max(c.max_residual);
        (Some(n as f64 / dt), n)
    };
    let evals = counts.backprop + counts.cholesky + counts.normal + counts.matrix_free + counts.svd;
    let mean_ref = if evals > 0 {
        counts.refinements as f64 / evals as f64
    } else {
        0.0
    };
    let path = ws.solve_info().path;
    let flops = flops_per_eval(model.net.widths(), model.n(), path, mean_ref);
    if counts.fallbacks > 0 {
        note.push_str(&format!("{} SVD fallbacks; ", counts.fallbacks));
    }
    if counts.max_kappa > 0.0 {
        note.push_str(&format!(
            "κ̂ ≤ {:.1e}, {:.2} refinements/eval, residual ≤ {:.1e}",
            counts.max_kappa, mean_ref, counts.max_residual
        ));
    }
    // The reference SVD path, where D fits.
    let dense_fits = model.qn().saturating_mul(k) <= crate::math::model::DENSE_LIMIT;
    let (reference_seconds, reference_rel_diff) = if cfg.no_reference || !dense_fits {
        (None, None)
    } else {
        let mut ws_ref = Workspace::with_solver(Solver::Svd);
        let mut out_ref = vec![0.0; k];
        let slow = model.qn() * k > 1_000_000;
        let t = time_reps(
            probe,
            if cfg.quick || slow { 0.0 } else { 1.0 },
            if cfg.quick || slow { 1 } else { 3 },
            1000,
            || eval_once(&mut ws_ref, p, &spec, &mut out_ref),
        )?;
        (Some(t), Some(rel_diff(&fast_field, &out_ref)))
    };
    let speedup = reference_seconds.map(|r| r.median / eval_seconds.median);
    Ok(BenchRow {
        scenario: p.scenario.name.into(),
        flow: spec.label(),
        solver: Solver::Auto.name().into(),
        widths: model.net.widths().to_vec(),
        n: model.n(),
        k,
        qn: model.qn(),
        eval_seconds,
        flops_per_eval: flops,
        gflops: flops / eval_seconds.median / 1e9,
        steps_per_second,
        steps,
        h,
        paths: counts,
        reference_seconds,
        speedup,
        reference_rel_diff,
        note,
    })
}

/// RK4 steps per measured segment (then the run restarts from `θ₀`).
pub const SEGMENT: u64 = 500;

/// The RK4 step: the scenario's for the adapted flow (its output layer moves at rate `1/N`);
/// for the standard flow at most `N/trace(DDᵀ)`, so that `h·λ_max(DDᵀ)/N ≤ 1` keeps explicit RK4
/// stable on the stiff NTK dynamics.
fn step_size(p: &Prepared, spec: FlowSpec) -> f64 {
    if spec != FlowSpec::Standard {
        return p.scenario.h;
    }
    let net = &p.model.net;
    let mut fw = Forward::default();
    net.forward_into(&p.theta0, &p.model.data.inputs, &mut fw);
    let mut d = Derivs::default();
    d.prepare(net, &fw);
    let mut diag = vec![0.0; p.model.qn()];
    d.ntk_diagonal(net, &p.theta0, &fw, &mut diag);
    let trace: f64 = diag.iter().sum();
    let limit = p.model.n() as f64 / trace;
    // Two significant digits, so that the table shows the step plainly.
    let pow = 10f64.powf(limit.log10().floor() - 1.0);
    p.scenario.h.min((limit / pow).floor() * pow)
}

fn bench_kernels(probe: &mut dyn Probe, p: &Prepared, quick: bool) -> Result<KernelRow> {
    let net = &p.model.net;
    let mut fw = Forward::default();
    net.forward_into(&p.theta0, &p.model.data.inputs, &mut fw);
    let mut d = Derivs::default();
    let mut ntk = vec![];
    let qn = p.model.qn();
    let budget = if quick { 0.05 } else { 1.0 };
    let t_ntk = time_reps(probe, budget, 2, 1000, || {
        d.prepare(net, &fw);
        d.ntk_lower(net, &p.theta0, &fw, &mut ntk);
        Ok(())
    })?;
    let saved = ntk.clone();
    // A rank-deficient NTK stops the factorization early: then the timing means nothing.
    let mut factored = true;
    let t_chol = time_reps(probe, budget, 2, 1000, || {
        ntk.copy_from_slice(&saved);
        factored &= kernels::cholesky_lower(&mut ntk, qn, qn).is_ok();
        Ok(())
    })?;
    let t_chol_median = if factored { t_chol.median } else { f64::NAN };
    // The copy is part of the timed region; it is ~1% of the factorization at these sizes.
    let ntk_flops = 2.0 * ntk::ntk_fma(net.widths(), p.model.n());
    let chol_flops = (qn as f64).powi(3) / 3.0;
    Ok(KernelRow {
        scenario: p.scenario.name.into(),
        ntk_seconds: t_ntk.median,
        ntk_gflops: ntk_flops / t_ntk.median / 1e9,
        cholesky_seconds: t_chol_median,
        cholesky_gflops: chol_flops / t_chol_median / 1e9,
    })
}

fn bench_cg(probe: &mut dyn Probe, p: &Prepared, quick: bool) -> Result<CgRow> {
    let model = &p.model;
    let net = &model.net;
    let mut ws = Workspace::with_solver(Solver::Auto);
    ws.forward(model, &p.theta0)?;
    let g = ws.grad_x().to_vec();
    let mut fw = Forward::default();
    net.forward_into(&p.theta0, &model.data.inputs, &mut fw);
    let mut chol = crate::math::fast::FastSolver::default();
    chol.prepare(net, &fw);
    let reference = match chol.solve_over(net, &p.theta0, &fw, &g, crate::linalg::DEFAULT_RANK_RTOL)
    {
        Ok((sol, _)) => Some(sol.v.to_vec()),
        Err(_) => None,
    };
    let rtol = 1e-8;
    let max_iter = if quick { 50 } else { 1000 };
    let mut cg = crate::math::fast::FastSolver::default();
    cg.prepare(net, &fw);
    let t0 = probe.now();
    let res = cg.solve_cg(net, &p.theta0, &fw, &g, rtol, max_iter);
    let seconds = probe.now() - t0;
    let (info, w, converged) = match res {
        Ok((sol, info)) => (info, sol.v.to_vec(), true),
        Err((_, info)) => (info, vec![], false),
    };
    let rel = match (&reference, w.is_empty()) {
        (Some(r), false) => rel_diff(&w, r),
        _ => f64::NAN,
    };
    Ok(CgRow {
        scenario: p.scenario.name.into(),
        seconds,
        iterations: info.cg_iterations,
        residual: info.residual,
        rtol,
        rel_diff_vs_cholesky: rel,
        converged,
    })
}

fn bench_memory(probe: &mut dyn Probe, p: &Prepared, steps: u64) -> Result<Option<MemoryRow>> {
    let mut field = FlowField::with_solver(
        p.model.clone(),
        FlowSpec::Adapted,
        crate::linalg::DEFAULT_RANK_RTOL,
        Solver::Auto,
    );
    let mut st = Stepper::new(IntegratorSpec::Rk4 { h: 1e-3 }, 0.0, &p.theta0, &mut field)?;
    for _ in 0..10 {
        st.step(&mut field, f64::INFINITY)?;
        field.accept();
    }
    let Some(before) = probe.heap_bytes() else {
        return Ok(None);
    };
    for _ in 0..steps {
        st.step(&mut field, f64::INFINITY)?;
        field.accept();
    }
    let after = probe.heap_bytes().unwrap_or(before);
    Ok(Some(MemoryRow {
        scenario: p.scenario.name.into(),
        steps,
        before,
        after,
    }))
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
            "RK4 h",
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
                format!("{:.1e}", r.h),
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
