//! The figures the page can show, by the names used in URLs and element ids; shared by the board
//! (which draws them) and the URL hash (which lists them).

use serde::{Deserialize, Serialize};

/// The figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Cost against `s`, log scale.
    Cost,
    /// Output-layer trails.
    Outputs,
    /// `rank D`, `λ_min(DDᵀ)`, `ρ` against `s`.
    Spectrum,
    /// Decision boundary over the input plane.
    Boundary,
    /// Neural collapse against `s`, one panel per flow.
    Collapse,
    /// Singular values of `D` against `s` (the focused flow).
    Singular,
    /// Outputs against `t = 1 − e^{−s/N}` and their distance from the straight interpolation.
    Reparam,
    /// Output trails of a homotopy family `α ∈ [0, 1]`.
    Homotopy,
    /// The critical-submanifold panel: the cost slice through a rest point.
    Critical,
    /// The constructive-minimizer panel: the data layer by layer.
    Construct,
    /// The network diagram: layers of units, edges by the live weights, each unit's activation
    /// over the input plane.
    Network,
    /// The output error along the NTK's eigenvectors over `s`, one curve per mode.
    Eigenmodes,
}

impl View {
    /// Every view, in page order.
    pub const ALL: [View; 12] = [
        View::Network,
        View::Cost,
        View::Outputs,
        View::Spectrum,
        View::Boundary,
        View::Collapse,
        View::Singular,
        View::Reparam,
        View::Homotopy,
        View::Critical,
        View::Construct,
        View::Eigenmodes,
    ];

    /// The views shown when the link names none.
    pub const DEFAULT: [View; 6] = [
        View::Network,
        View::Cost,
        View::Outputs,
        View::Spectrum,
        View::Boundary,
        View::Collapse,
    ];

    /// The name used in URLs and element ids.
    pub fn key(self) -> &'static str {
        match self {
            View::Cost => "cost",
            View::Outputs => "outputs",
            View::Spectrum => "spectrum",
            View::Boundary => "boundary",
            View::Collapse => "collapse",
            View::Singular => "singular",
            View::Reparam => "reparam",
            View::Homotopy => "homotopy",
            View::Critical => "critical",
            View::Construct => "construct",
            View::Network => "network",
            View::Eigenmodes => "eigenmodes",
        }
    }

    /// The view called `key`, if any.
    pub fn from_key(key: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.key() == key)
    }

    /// A distinct index below `View::ALL.len()` (the declaration order), for per-view arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Whether this view is one of [`View::DEFAULT`].
    pub fn is_default(self) -> bool {
        View::DEFAULT.contains(&self)
    }
}
