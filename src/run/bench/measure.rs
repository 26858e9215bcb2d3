//! The measurements of the benchmark: the timing loop, the flop counts, the flows stepped with
//! RK4, the dense kernels, the matrix-free solve and the heap across many steps.

use super::{BenchConfig, BenchRow, BenchScenario, CgRow, KernelRow, MemoryRow, Probe, Timing};
use crate::error::Result;
use crate::linalg::kernels;
use crate::math::fast::{PathCounts, SolvePath, Solver};
use crate::math::flow::{eval_field, FlowSpec, Workspace};
use crate::math::integrate::{IntegratorSpec, Stepper};
use crate::math::model::Model;
use crate::math::net::Forward;
use crate::math::ntk::{self, Derivs};
use crate::run::scenario::Scenario;
use crate::run::session::FlowField;

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
        SolvePath::Gram => {
            3.0 * p + 2.0 * ntk::ntk_fma(widths, n) + 9.0 * qn.powi(3) + 4.0 * qn * qn
        }
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

pub(super) fn gemm_calibration(probe: &mut dyn Probe, quick: bool) -> f64 {
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

pub(super) struct Prepared {
    pub(super) scenario: BenchScenario,
    pub(super) model: Model,
    pub(super) theta0: Vec<f64>,
}

pub(super) fn prepare(sc: &BenchScenario) -> Result<Prepared> {
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

pub(super) fn bench_flow(
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
    let rk45 = p.scenario.adaptive && spec != FlowSpec::Standard;
    let integrator = if rk45 {
        IntegratorSpec::default()
    } else {
        IntegratorSpec::Rk4 { h }
    };
    // One RK45 step of a rank-deficient field costs several SVDs: at least one step, 4 s.
    let slow = big || rk45;
    let (steps_per_second, steps, evals_per_step) = if (slow && cfg.quick) || !p.scenario.steps {
        (None, 0, None)
    } else {
        let mut field = FlowField::with_solver(
            model.clone(),
            spec,
            crate::linalg::DEFAULT_RANK_RTOL,
            Solver::Auto,
        );
        let budget = if cfg.quick {
            0.1
        } else if slow {
            4.0
        } else {
            2.0
        };
        let min_steps = if slow { 1 } else { 5 };
        let mut evals = 0u64;
        let mut n = 0u64;
        let mut dt = 0.0;
        while n < min_steps || dt < budget {
            let mut st = Stepper::new(integrator, 0.0, &p.theta0, &mut field)?;
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
            evals += st.stats.evals;
        }
        let c = field.path_counts();
        counts.backprop += c.backprop;
        counts.cholesky += c.cholesky;
        counts.normal += c.normal;
        counts.matrix_free += c.matrix_free;
        counts.svd += c.svd;
        counts.gram += c.gram;
        counts.dense += c.dense;
        counts.fallbacks += c.fallbacks;
        counts.refinements += c.refinements;
        counts.max_kappa = counts.max_kappa.max(c.max_kappa);
        counts.max_residual = counts.max_residual.max(c.max_residual);
        (Some(n as f64 / dt), n, Some(evals as f64 / n as f64))
    };
    let evals = counts.backprop
        + counts.cholesky
        + counts.normal
        + counts.matrix_free
        + counts.svd
        + counts.gram;
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
        integrator: if rk45 { "rk45" } else { "rk4" }.into(),
        evals_per_step,
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

pub(super) fn bench_kernels(probe: &mut dyn Probe, p: &Prepared, quick: bool) -> Result<KernelRow> {
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

pub(super) fn bench_cg(probe: &mut dyn Probe, p: &Prepared, quick: bool) -> Result<CgRow> {
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

pub(super) fn bench_memory(
    probe: &mut dyn Probe,
    p: &Prepared,
    steps: u64,
) -> Result<Option<MemoryRow>> {
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
