//! Sweeps: a grid of runs over seeds, data, hidden widths, activations and flows, described by a
//! [`Spec`] (JSON, documented in README "Research use"), expanded into [`Cell`]s, each run to its
//! end and summarised as a [`Row`] of the table.
//!
//! Everything here is deterministic: the cells of a spec, their order and their scenarios, so
//! that shards (`index mod n`), resumed sweeps and single runs of the same cell agree bit for bit.
//! A cell's run is the same as `pullback run` of its scenario and as the same flow's lane of
//! `pullback compare` ([`FlowChoice::apply`] on the cell's scenario).

use crate::error::{Error, Result};
use crate::math::data::{DataSpec, Dataset};
use crate::math::net::Activation;
use crate::run::lanes::FlowChoice;
use crate::run::presets;
use crate::run::scenario::{Scenario, Trace, MAX_SEED};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most cells of one sweep.
pub const MAX_CELLS: usize = 100_000;

/// Seeds: a list, or `count` consecutive seeds from `from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    /// These seeds.
    List(Vec<u64>),
    /// `from, from + 1, …, from + count − 1`.
    Range {
        /// First seed.
        from: u64,
        /// How many.
        count: u64,
    },
}

/// A sweep as written in its JSON file. Every key but `base` is optional; unknown keys are
/// rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The scenario every cell starts from: a preset name or a scenario object.
    pub base: Value,
    /// Seeds of the data and `θ₀` (default: the base's seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Seeds>,
    /// Data sets (default: the base's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<DataSpec>>,
    /// Hidden widths `[M_1, …, M_L]` (default: the base's); the input and output widths follow
    /// the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<Vec<usize>>>,
    /// Activations by name (default: the base's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activations: Option<Vec<String>>,
    /// Flows as the command line writes them: `adapted`, `standard`, `gd:H`, `homotopy:A`
    /// (default: `adapted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<Vec<String>>,
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Position in the sweep (shards take `index mod n`).
    pub index: usize,
    /// The coordinates as text, e.g. `seed=1 data=0 hidden=16-16 act=tanh flow=adapted`; a
    /// finished run is taken for this cell only when its key matches.
    pub key: String,
    /// Seed.
    pub seed: u64,
    /// Position in the spec's data list.
    pub data: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Activation.
    pub activation: Activation,
    /// Flow.
    pub flow: FlowChoice,
    /// The scenario to run (flow and integrator as [`FlowChoice::apply`] sets them).
    pub scenario: Scenario,
}

fn parse_json<T: for<'de> Deserialize<'de>>(text: &str, context: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut path = e.path().to_string();
        let mut msg = e.into_inner().to_string();
        if let Some((inner, rest)) = crate::tagged::split_inner_path(&msg) {
            if !inner.is_empty() {
                path = format!("{path}.{inner}");
            }
            msg = rest.to_string();
        }
        if path == "." || path == "?" || path.is_empty() {
            Error::Parse {
                context: context.into(),
                message: msg,
            }
        } else {
            Error::Invalid {
                field: path,
                reason: msg,
            }
        }
    })
}

fn hidden_text(h: &[usize]) -> String {
    if h.is_empty() {
        "none".into()
    } else {
        h.iter().map(usize::to_string).collect::<Vec<_>>().join("-")
    }
}

impl Spec {
    /// Parses a spec.
    ///
    /// Errors: malformed JSON, unknown keys or wrong types ([`Error::Parse`] or
    /// [`Error::Invalid`] with the key's path, e.g. `seeds[2]`, `data[1].n`).
    pub fn from_json(text: &str) -> Result<Spec> {
        parse_json(text, "spec")
    }

    /// Serializes to pretty JSON (what a sweep directory keeps as `spec.json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("specs serialize")
    }

    /// The base scenario.
    ///
    /// Errors: an unknown preset or a bad scenario, named inside `base`.
    pub fn base_scenario(&self) -> Result<Scenario> {
        match &self.base {
            Value::String(name) => presets::find(name).map(|p| p.scenario).ok_or_else(|| {
                let names: Vec<&str> = presets::all().iter().map(|p| p.name).collect();
                Error::invalid(
                    "base",
                    format!("no preset `{name}`; one of {}", names.join(", ")),
                )
            }),
            Value::Object(_) => Scenario::from_json(&self.base.to_string()).map_err(|e| match e {
                Error::Parse { message, .. } => Error::invalid("base", message),
                other => other.within("base."),
            }),
            other => Err(Error::invalid(
                "base",
                format!("must be a preset name or a scenario object, got {other}"),
            )),
        }
    }

    /// Every cell, in order: data, hidden widths, activation, flow, then seed innermost.
    ///
    /// Errors, naming the field: an empty list (`seeds`, `data`, `hidden`, `activations`,
    /// `flows`), a seed above 2^53 (`seeds[i]`), an unknown activation (`activations[i]`) or
    /// flow (`flows[i]`), a zero width (`hidden[i][j]`), more than [`MAX_CELLS`] cells, and a
    /// cell whose scenario does not materialize (`cells[i] (key)` and the scenario's field).
    pub fn cells(&self) -> Result<Vec<Cell>> {
        let base = self.base_scenario()?;
        let nonempty = |len: usize, field: &str| {
            if len == 0 {
                Err(Error::invalid(
                    field,
                    "is empty; leave it out to keep the base's",
                ))
            } else {
                Ok(())
            }
        };
        let seeds: Vec<u64> = match &self.seeds {
            None => vec![base.seed],
            Some(Seeds::List(v)) => v.clone(),
            Some(Seeds::Range { from, count }) => {
                if *count as usize > MAX_CELLS {
                    return Err(Error::invalid(
                        "seeds.count",
                        format!("{count} exceeds {MAX_CELLS}"),
                    ));
                }
                (0..*count).map(|i| from + i).collect()
            }
        };
        nonempty(seeds.len(), "seeds")?;
        for (i, &s) in seeds.iter().enumerate() {
            if s > MAX_SEED {
                return Err(Error::invalid(
                    format!("seeds[{i}]"),
                    format!("{s} exceeds 2^53 = {MAX_SEED}"),
                ));
            }
        }
        let data = self.data.clone().unwrap_or_else(|| vec![base.data.clone()]);
        nonempty(data.len(), "data")?;
        let w = &base.net.widths;
        let hidden = self
            .hidden
            .clone()
            .unwrap_or_else(|| vec![w[1..w.len() - 1].to_vec()]);
        nonempty(hidden.len(), "hidden")?;
        for (i, h) in hidden.iter().enumerate() {
            if let Some(j) = h.iter().position(|&x| x == 0) {
                return Err(Error::invalid(format!("hidden[{i}][{j}]"), "must be ≥ 1"));
            }
        }
        let activations: Vec<Activation> = match &self.activations {
            None => vec![base.net.activation],
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    Activation::ALL
                        .into_iter()
                        .find(|x| x.name() == a)
                        .ok_or_else(|| {
                            let names: Vec<&str> =
                                Activation::ALL.iter().map(|a| a.name()).collect();
                            Error::invalid(
                                format!("activations[{i}]"),
                                format!("unknown activation `{a}`; one of {}", names.join(", ")),
                            )
                        })
                })
                .collect::<Result<_>>()?,
        };
        nonempty(activations.len(), "activations")?;
        let flows: Vec<FlowChoice> = match &self.flows {
            None => vec![FlowChoice::Adapted],
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, f)| FlowChoice::parse(f, &format!("flows[{i}]")))
                .collect::<Result<_>>()?,
        };
        nonempty(flows.len(), "flows")?;
        let total = data.len() * hidden.len() * activations.len() * flows.len() * seeds.len();
        if total > MAX_CELLS {
            return Err(Error::invalid(
                "spec",
                format!("{total} cells exceed {MAX_CELLS}; split it into several sweeps"),
            ));
        }
        let mut cells = Vec::with_capacity(total);
        for (di, d) in data.iter().enumerate() {
            for h in &hidden {
                for &act in &activations {
                    for flow in &flows {
                        for &seed in &seeds {
                            let index = cells.len();
                            let key = format!(
                                "seed={seed} data={di} hidden={} act={} flow={}",
                                hidden_text(h),
                                act.name(),
                                flow.name()
                            );
                            let name = |e: Error| match e {
                                Error::Invalid { field, reason } => Error::Invalid {
                                    field: format!("cells[{index}] ({key}): {field}"),
                                    reason,
                                },
                                other => other,
                            };
                            let mut sc = base.clone();
                            sc.seed = seed;
                            sc.data = d.clone();
                            let ds = Dataset::from_spec(d, seed)
                                .map_err(|e| e.within(&format!("data[{di}].")))?;
                            sc.net.widths = std::iter::once(ds.m())
                                .chain(h.iter().copied())
                                .chain(std::iter::once(ds.q()))
                                .collect();
                            sc.net.activation = act;
                            let sc = flow.apply(&sc);
                            sc.materialize().map_err(name)?;
                            cells.push(Cell {
                                index,
                                key,
                                seed,
                                data: di,
                                hidden: h.clone(),
                                activation: act,
                                flow: *flow,
                                scenario: sc,
                            });
                        }
                    }
                }
            }
        }
        Ok(cells)
    }
}

/// Whether `index` belongs to shard `i` of `n` (`index mod n = i`).
pub fn in_shard(index: usize, shard: (usize, usize)) -> bool {
    index % shard.1 == shard.0
}

/// Reads `I/N` with `0 ≤ I < N`.
///
/// Errors: anything else (`shard`).
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad = || {
        Error::invalid(
            "shard",
            format!("`{text}` is not I/N with 0 ≤ I < N (e.g. 0/4 … 3/4)"),
        )
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<usize>().map_err(|_| bad())?,
        n.trim().parse::<usize>().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// One line of the sweep's table: the cell and how its run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The cell's position.
    pub index: usize,
    /// The cell's key (see [`Cell::key`]).
    pub key: String,
    /// Seed.
    pub seed: u64,
    /// Position in the spec's data list.
    pub data: usize,
    /// The data's kind (`moons`, `custom`, …).
    pub data_kind: String,
    /// Samples `N`.
    pub n: usize,
    /// All widths, `M-M_1-…-Q`.
    pub widths: String,
    /// Activation.
    pub activation: String,
    /// Flow (`adapted`, `gd:0.05`, …).
    pub flow: String,
    /// Parameters `K`.
    #[serde(rename = "K")]
    pub k: usize,
    /// `QN`.
    #[serde(rename = "QN")]
    pub qn: usize,
    /// `over`, `under` or `borderline`.
    pub regime: String,
    /// `C(0)`.
    pub initial_cost: f64,
    /// `C` at the end.
    pub final_cost: f64,
    /// `s` at the end.
    pub s_end: f64,
    /// Why the run ended (the trace's `final.reason`).
    pub reason: String,
    /// Where it ended (the trace's `final.rest`: `global_minimum`, `regular_rest`,
    /// `rank_loss_rest`, `blow_up`, `moving`); absent when the end-point test could not run.
    pub rest: Option<String>,
    /// Numerical rank of `D` at the end point (`σ_i > rank_rtol·σ_max`, the trace's
    /// `final.rank`).
    pub rank: Option<usize>,
    /// The rank the field used at the end point (the trace's `final.rank_used`; the numerical
    /// rank for flows without rank decisions); the rest test is taken at this rank.
    pub rank_used: Option<usize>,
    /// `(N/2) log(C(0)/ε)` (2.41), only where Thm 2.2 applies: the adapted flow with
    /// `rank_used = QN` at every accepted point (the trace's `predicted_stopping_time`).
    pub predicted_stopping_time: Option<f64>,
    /// The measured `s` of `C = ε`, when reached.
    pub measured_stopping_time: Option<f64>,
    /// Accepted steps.
    pub steps: u64,
    /// Rejected steps.
    pub rejected: u64,
    /// Field evaluations.
    pub evals: u64,
    /// Wall-clock seconds of the run (the only column that differs between identical runs).
    pub seconds: f64,
}

/// The columns of [`Row`], in CSV order.
pub const COLUMNS: [&str; 25] = [
    "index",
    "key",
    "seed",
    "data",
    "data_kind",
    "n",
    "widths",
    "activation",
    "flow",
    "K",
    "QN",
    "regime",
    "initial_cost",
    "final_cost",
    "s_end",
    "reason",
    "rest",
    "rank",
    "rank_used",
    "predicted_stopping_time",
    "measured_stopping_time",
    "steps",
    "rejected",
    "evals",
    "seconds",
];

impl Row {
    /// The row of `cell` from its run's trace, `seconds` of wall time.
    pub fn new(cell: &Cell, trace: &Trace, seconds: f64) -> Row {
        let fin = &trace.final_state;
        let data_kind = serde_json::to_value(&cell.scenario.data)
            .ok()
            .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        Row {
            index: cell.index,
            key: cell.key.clone(),
            seed: cell.seed,
            data: cell.data,
            data_kind,
            n: trace.n,
            widths: hidden_text(&cell.scenario.net.widths),
            activation: cell.activation.name().into(),
            flow: cell.flow.name(),
            k: trace.k,
            qn: trace.q * trace.n,
            regime: trace.regime.name().into(),
            initial_cost: trace.initial_cost,
            final_cost: trace.final_state.cost,
            s_end: trace.final_state.s,
            reason: trace.final_state.reason.clone(),
            rest: fin.rest.map(|r| r.name().to_string()),
            rank: fin.rank,
            rank_used: fin.rank_used,
            predicted_stopping_time: trace.predicted_stopping_time,
            measured_stopping_time: trace.measured_stopping_time,
            steps: trace.stats.steps,
            rejected: trace.stats.rejected,
            evals: trace.stats.evals,
            seconds,
        }
    }

    /// The row's CSV cells, in [`COLUMNS`] order (numbers in their shortest exact form, absent
    /// values empty).
    pub fn csv_cells(&self) -> Vec<String> {
        // Debug is the shortest form that reads back exactly, with an exponent when small.
        let f = |x: f64| format!("{x:?}");
        let o = |v: Option<f64>| v.map_or_else(String::new, f);
        let u = |v: Option<usize>| v.map_or_else(String::new, |x| x.to_string());
        vec![
            self.index.to_string(),
            self.key.clone(),
            self.seed.to_string(),
            self.data.to_string(),
            self.data_kind.clone(),
            self.n.to_string(),
            self.widths.clone(),
            self.activation.clone(),
            self.flow.clone(),
            self.k.to_string(),
            self.qn.to_string(),
            self.regime.clone(),
            f(self.initial_cost),
            f(self.final_cost),
            f(self.s_end),
            self.reason.clone(),
            self.rest.clone().unwrap_or_default(),
            u(self.rank),
            u(self.rank_used),
            o(self.predicted_stopping_time),
            o(self.measured_stopping_time),
            self.steps.to_string(),
            self.rejected.to_string(),
            self.evals.to_string(),
            f(self.seconds),
        ]
    }

    /// How the run ended in one word: the rest class when the trace has one, else the reason.
    pub fn outcome(&self) -> &str {
        self.rest.as_deref().unwrap_or(&self.reason)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The table as CSV: a header of [`COLUMNS`], then the rows.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = r.csv_cells().iter().map(|c| csv_field(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// The sweep as one JSON document: the spec, the number of cells, and the rows present.
pub fn to_json(spec: &Spec, cells: usize, rows: &[Row]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "format": "pullback-sweep",
        "version": 1,
        "spec": spec,
        "cells": cells,
        "rows": rows,
    }))
    .expect("the table serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_specs_name_the_field() {
        let err = |text: &str| {
            Spec::from_json(text)
                .and_then(|s| s.cells())
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(r#"{"seeds": [1]}"#).contains("base"),
            "{}",
            err(r#"{"seeds": [1]}"#)
        );
        let e = err(r#"{"base": "over-smooth", "seeds": [1, "two"]}"#);
        assert!(e.starts_with("seeds"), "{e}");
        let e = err(r#"{"base": "over-smooth", "flows": ["adapted", "sideways"]}"#);
        assert!(e.starts_with("flows[1]: `sideways`"), "{e}");
        let e = err(r#"{"base": "over-smooth", "activations": ["tanh", "swish"]}"#);
        assert!(e.starts_with("activations[1]: unknown activation"), "{e}");
        let e = err(r#"{"base": "over-smooth", "hidden": [[4, 0]]}"#);
        assert!(e.starts_with("hidden[0][1]"), "{e}");
        let e = err(r#"{"base": "over-smooth", "data": [{"kind": "moons", "n": "many"}]}"#);
        assert!(e.starts_with("data[0].n"), "{e}");
        let e = err(r#"{"base": "nowhere"}"#);
        assert!(e.starts_with("base: no preset `nowhere`"), "{e}");
        let e = err(
            r#"{"base": {"data": {"kind": "xor", "n": 8}, "net": {"widths": [2, 0, 2], "activation": "tanh"}}}"#,
        );
        assert!(e.starts_with("base.net.widths"), "{e}");
        let e = err(r#"{"base": "over-smooth", "widths": [[3]]}"#);
        assert!(e.contains("widths"), "{e}");
        let e = err(r#"{"base": "over-smooth", "seeds": []}"#);
        assert!(e.starts_with("seeds: is empty"), "{e}");
    }

    #[test]
    fn cells_enumerate_the_grid_with_seeds_innermost() {
        let spec = Spec::from_json(
            r#"{"base": "over-smooth", "seeds": {"from": 3, "count": 2}, "hidden": [[4], [3, 3]],
                "flows": ["adapted", "gd:0.1"]}"#,
        )
        .unwrap();
        let cells = spec.cells().unwrap();
        assert_eq!(cells.len(), 8);
        assert_eq!(cells[0].seed, 3);
        assert_eq!(cells[1].seed, 4);
        assert_eq!(cells[2].flow, FlowChoice::Gd { h: 0.1 });
        assert_eq!(cells[4].scenario.net.widths, vec![2, 3, 3, 2]);
        assert!(cells.iter().enumerate().all(|(i, c)| c.index == i));
        let shards: Vec<usize> = (0..8).filter(|&i| in_shard(i, (1, 3))).collect();
        assert_eq!(shards, vec![1, 4, 7]);
        assert!(parse_shard("3/3").is_err() && parse_shard("a/2").is_err());
        assert_eq!(parse_shard("2/5").unwrap(), (2, 5));
    }
}
