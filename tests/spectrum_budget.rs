//! The page's spectra on a time budget: samples between reuse the last spectrum and say from
//! which `s` (`spectrum_s`); the first sample and the end point compute their own, so the final
//! rank and `σ` are measured where the run ended.

mod common;
use pullback::linalg::svd::JacobianSvd;
use pullback::math::flow::Workspace;
use pullback::run::session::{Session, SpectrumBudget};
use std::sync::atomic::{AtomicU64, Ordering};

static TICKS: AtomicU64 = AtomicU64::new(0);

/// A clock that advances 1 ms per reading: a spectrum costs at least 1 ms of it.
fn clock() -> f64 {
    TICKS.fetch_add(1, Ordering::Relaxed) as f64
}

#[test]
fn a_budgeted_run_reuses_spectra_between_and_measures_its_own_at_the_end() {
    // Ended by C ≤ ε between grid points, and by s_max on a grid point (where the grid's sample,
    // with a reused spectrum, is replaced by the end point's).
    let sc = common::preset("over-smooth");
    check(sc.clone());
    let mut at_grid = sc;
    at_grid.stop.s_max = Some(40.0);
    at_grid.stop.cost_below = Some(1e-30);
    check(at_grid);
}

fn check(sc: pullback::run::scenario::Scenario) {
    let mut ses = Session::new(&sc).unwrap();
    // A share no spectrum fits: after the first, every grid sample reuses it.
    ses.set_spectrum_budget(Some(SpectrumBudget {
        share: 1e-12,
        clock,
    }));
    while ses.step() {}
    let samples = ses.samples();
    let computed: Vec<f64> = samples
        .iter()
        .filter(|p| p.spectrum_s.is_none())
        .map(|p| p.s)
        .collect();
    eprintln!(
        "{} samples; spectra computed at s = {computed:?}",
        samples.len()
    );
    assert!(samples.len() > 3, "{} samples", samples.len());
    // θ₀'s sample (recorded before the budget was set) and the first under the budget compute
    // theirs; every later one between reuses that one and says so.
    assert_eq!(computed.len(), 3, "spectra computed at s = {computed:?}");
    let reused_from = samples[1].s;
    assert!(
        samples[2..samples.len() - 1]
            .iter()
            .all(|p| p.spectrum_s == Some(reused_from)),
        "samples between reuse the last spectrum and say so"
    );
    let last = samples.last().unwrap();
    assert_eq!(last.s, ses.s(), "the final sample is at the end point");
    assert!(ses.s() > reused_from);
    assert_eq!(last.spectrum_s, None, "the end point's spectrum is its own");
    // One sample per s: the end point's replaced the grid's stale one.
    assert!(samples.windows(2).all(|w| w[0].s < w[1].s));
    // Its σ are those of D at the final θ, from an SVD of our own.
    let mut ws = Workspace::default();
    ws.evaluate(ses.model(), ses.theta()).unwrap();
    let svd = JacobianSvd::new(ws.dt(), sc.rank_rtol).unwrap();
    assert_eq!(last.rank, svd.rank());
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    assert!(rel(last.sigma_max, svd.sigma_max()) <= 1e-12);
    assert!(rel(last.sigma_min, svd.sigma_min()) <= 1e-9);
}
