//! Parameters changed in the middle of a run (`tune`): the lanes take them from their current
//! state on, the run's description follows, and a rewind starts again from `θ₀` with them.

use super::RunInfo;
use crate::error::Result;
use crate::run::lanes::{Comparison, FlowChoice};
use crate::run::scenario::Scenario;

/// Applies `h`, `α` and `ε` to `run` (see [`Comparison::tune`]), then to `info` (labels, `ε`,
/// the predicted stopping time) and to what a reset reloads.
///
/// Errors: those of [`Comparison::tune`]; nothing changes then.
pub(super) fn tune(
    run: &mut Comparison,
    info: &mut RunInfo,
    loaded: Option<&mut (Scenario, Vec<FlowChoice>)>,
    h: Option<f64>,
    alpha: Option<f64>,
    epsilon: Option<Option<f64>>,
) -> Result<()> {
    run.tune(h, alpha, epsilon)?;
    let first = &run.lanes()[0].session;
    for (li, lane) in info.lanes.iter_mut().zip(run.lanes()) {
        li.choice = lane.choice;
        li.label = lane.choice.label();
    }
    info.epsilon = first.epsilon();
    info.predicted = first.predicted_stopping_time();
    // A rewind (reset) starts again from θ₀ with the values as they are now.
    if let Some((sc, flows)) = loaded {
        sc.stop.cost_below = info.epsilon;
        for f in flows.iter_mut() {
            match (f, h, alpha) {
                (FlowChoice::Gd { h: old }, Some(v), _) => *old = v,
                (FlowChoice::Homotopy { alpha: old }, _, Some(v)) => *old = v,
                _ => {}
            }
        }
    }
    Ok(())
}
