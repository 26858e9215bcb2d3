//! Helpers shared by the theorem tests.
#![allow(dead_code)]

use pullback::run::presets;
use pullback::run::scenario::Scenario;

/// The scenario of preset `name` (panics on a typo: that is a test bug).
pub fn preset(name: &str) -> Scenario {
    presets::find(name)
        .unwrap_or_else(|| panic!("no preset {name}"))
        .scenario
}

/// Largest relative deviation `|a − b| / |b|` over pairs.
pub fn max_rel(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    pairs.fold(0.0, |m, (a, b)| m.max((a - b).abs() / b.abs()))
}
