//! The rank formulas of Section 2.1 beside the measured rank.

use serde::{Deserialize, Serialize};

/// The scenario key `rank_formula`: the rank of `D[θ₀]` that a formula of the paper (Section 2.1)
/// predicts, to be shown beside the measured rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankFormula {
    /// The formula as the paper states it, e.g. `JQ (2.39)`.
    pub formula: String,
    /// Its value for this scenario.
    pub paper: usize,
    /// Why a measurement may differ (shown when it does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The trace key `rank_formula`: the paper's value next to the measured `rank D[θ₀]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankCheck {
    /// The formula, as in the scenario.
    pub formula: String,
    /// Its value.
    pub paper: usize,
    /// `rank D[θ₀]` with the trace's `rank_rtol`.
    pub measured: usize,
    /// `measured == paper`.
    pub agrees: bool,
    /// The scenario's explanation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RankFormula {
    /// Compares with a measured rank.
    pub fn check(&self, measured: usize) -> RankCheck {
        RankCheck {
            formula: self.formula.clone(),
            paper: self.paper,
            measured,
            agrees: measured == self.paper,
            note: self.note.clone(),
        }
    }
}
