//! The scenario keys of the hash: each value parsed into the scenario ([`apply_key`]), and the
//! keys that describe a scenario ([`readable_keys`]).

use super::{DATA_KINDS, PAGE_MAX_N};
use crate::app::edit::fit_widths;
use crate::error::{Error, Result};
use crate::math::data::{DataSpec, MAX_POINTS};
use crate::math::model::CostSpec;
use crate::math::net::Activation;
use crate::run::scenario::{Scenario, MAX_LAYERS, MAX_SEED, MAX_WIDTH};

pub(super) fn num(key: &str, v: &str) -> Result<f64> {
    let x: f64 = v
        .parse()
        .map_err(|_| Error::invalid(key, format!("\"{v}\" is not a number")))?;
    if !x.is_finite() {
        return Err(Error::invalid(key, format!("must be finite, got {v}")));
    }
    Ok(x)
}

pub(super) fn positive(key: &str, v: &str) -> Result<f64> {
    let x = num(key, v)?;
    if x <= 0.0 {
        return Err(Error::invalid(key, format!("must be > 0, got {v}")));
    }
    Ok(x)
}

pub(super) fn int(key: &str, v: &str, lo: u64, hi: u64) -> Result<u64> {
    let x: u64 = v
        .parse()
        .map_err(|_| Error::invalid(key, format!("\"{v}\" is not a whole number")))?;
    if x < lo || x > hi {
        return Err(Error::invalid(
            key,
            format!("must be in {lo}..={hi}, got {x}"),
        ));
    }
    Ok(x)
}

pub(super) fn flag(key: &str, v: &str) -> Result<bool> {
    match v {
        "1" | "true" | "" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(Error::invalid(key, format!("must be 0 or 1, got \"{v}\""))),
    }
}

/// The generator kind of a data spec (`None` for custom points).
pub fn data_kind(spec: &DataSpec) -> Option<&'static str> {
    Some(match spec {
        DataSpec::Custom { .. } => return None,
        DataSpec::Spirals { .. } => "spirals",
        DataSpec::Circles { .. } => "circles",
        DataSpec::Xor { .. } => "xor",
        DataSpec::Blobs { .. } => "blobs",
        DataSpec::Moons { .. } => "moons",
        DataSpec::Clusters { .. } => "clusters",
        DataSpec::Sin { .. } => "sin",
    })
}

fn n_noise(spec: &DataSpec) -> Option<(usize, f64)> {
    match *spec {
        DataSpec::Custom { .. } => None,
        DataSpec::Spirals { n, noise }
        | DataSpec::Circles { n, noise, .. }
        | DataSpec::Xor { n, noise }
        | DataSpec::Blobs { n, noise, .. }
        | DataSpec::Moons { n, noise }
        | DataSpec::Clusters { n, noise, .. }
        | DataSpec::Sin { n, noise } => Some((n, noise)),
    }
}

fn custom_refusal(key: &str) -> Error {
    Error::invalid(
        key,
        "the data are custom points (clicked, imported or from scenario=); choose a dataset first",
    )
}

/// Applies one scenario key to `sc`, keeping the network's input and output widths in step with
/// the data.
///
/// Errors: a value that does not parse or does not fit, named by `key`.
pub fn apply_key(sc: &mut Scenario, key: &str, v: &str) -> Result<()> {
    match key {
        "data" => {
            let (n, noise) = n_noise(&sc.data).unwrap_or((40, 0.05));
            let classes = match sc.data {
                DataSpec::Blobs { classes, .. } | DataSpec::Clusters { classes, .. } => classes,
                _ => 3,
            };
            let same = data_kind(&sc.data) == Some(v);
            if same {
                return Ok(());
            }
            sc.data = match v {
                "moons" => DataSpec::Moons { n, noise },
                "spirals" => DataSpec::Spirals { n, noise },
                "circles" => DataSpec::Circles {
                    n,
                    noise,
                    factor: 0.5,
                },
                "xor" => DataSpec::Xor { n, noise },
                "blobs" => DataSpec::Blobs {
                    n,
                    classes,
                    noise: noise.max(0.15),
                },
                "clusters" => DataSpec::Clusters {
                    n,
                    classes,
                    dim: 2,
                    separation: 3.0,
                    noise: noise.max(0.15),
                },
                "sin" => DataSpec::Sin { n, noise },
                "custom" => return Err(custom_refusal(key)),
                _ => {
                    return Err(Error::invalid(
                        key,
                        format!("unknown dataset \"{v}\"; one of {}", DATA_KINDS.join(", ")),
                    ))
                }
            };
            fit_widths(sc)
        }
        "N" => {
            let x = int(key, v, 1, PAGE_MAX_N.min(MAX_POINTS) as u64)? as usize;
            match &mut sc.data {
                DataSpec::Custom { .. } => return Err(custom_refusal(key)),
                DataSpec::Spirals { n, .. }
                | DataSpec::Circles { n, .. }
                | DataSpec::Xor { n, .. }
                | DataSpec::Blobs { n, .. }
                | DataSpec::Moons { n, .. }
                | DataSpec::Clusters { n, .. }
                | DataSpec::Sin { n, .. } => *n = x,
            }
            Ok(())
        }
        "noise" => {
            let x = num(key, v)?;
            if x < 0.0 {
                return Err(Error::invalid(key, format!("must be >= 0, got {v}")));
            }
            match &mut sc.data {
                DataSpec::Custom { .. } => return Err(custom_refusal(key)),
                DataSpec::Spirals { noise, .. }
                | DataSpec::Circles { noise, .. }
                | DataSpec::Xor { noise, .. }
                | DataSpec::Blobs { noise, .. }
                | DataSpec::Moons { noise, .. }
                | DataSpec::Clusters { noise, .. }
                | DataSpec::Sin { noise, .. } => *noise = x,
            }
            Ok(())
        }
        "Q" => {
            let x = int(key, v, 1, 64)? as usize;
            match &mut sc.data {
                DataSpec::Blobs { classes, .. } | DataSpec::Clusters { classes, .. } => {
                    *classes = x
                }
                DataSpec::Custom { .. } => return Err(custom_refusal(key)),
                DataSpec::Sin { .. } => {
                    return Err(Error::invalid(key, "sin is a regression set with Q = 1"))
                }
                other => {
                    let (_, q) = crate::app::edit::data_dims(other, sc.seed)?;
                    if x != q {
                        return Err(Error::invalid(
                            key,
                            format!(
                                "{} has Q = {q} classes; blobs and clusters take any Q",
                                data_kind(other).unwrap_or("these data")
                            ),
                        ));
                    }
                }
            }
            fit_widths(sc)
        }
        "dim" => {
            let x = int(key, v, 1, 64)? as usize;
            match &mut sc.data {
                DataSpec::Clusters { dim, .. } => *dim = x,
                _ => return Err(Error::invalid(key, "only clusters take an input dimension")),
            }
            fit_widths(sc)
        }
        "seed" => {
            sc.seed = int(key, v, 0, MAX_SEED)?;
            Ok(())
        }
        "net" => {
            let hidden: Vec<usize> = if v.is_empty() || v == "none" {
                vec![]
            } else {
                v.split(',')
                    .enumerate()
                    .map(|(i, w)| {
                        int(&format!("{key}[{i}]"), w.trim(), 1, MAX_WIDTH as u64)
                            .map(|x| x as usize)
                    })
                    .collect::<Result<_>>()?
            };
            if hidden.len() + 2 > MAX_LAYERS {
                return Err(Error::invalid(
                    key,
                    format!("at most {} hidden layers", MAX_LAYERS - 2),
                ));
            }
            let w = &sc.net.widths;
            let (m, q) = (w[0], *w.last().expect("two widths"));
            sc.net.widths = std::iter::once(m)
                .chain(hidden)
                .chain(std::iter::once(q))
                .collect();
            Ok(())
        }
        "act" => {
            sc.net.activation = Activation::ALL
                .into_iter()
                .find(|a| a.name() == v)
                .ok_or_else(|| {
                    let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
                    Error::invalid(
                        key,
                        format!("unknown activation \"{v}\"; one of {}", names.join(", ")),
                    )
                })?;
            Ok(())
        }
        "eps" => {
            sc.stop.cost_below = if v == "none" {
                None
            } else {
                Some(positive(key, v)?)
            };
            Ok(())
        }
        "escape" => {
            sc.escape.auto = flag(key, v)?;
            Ok(())
        }
        "cost" => {
            sc.cost = CostSpec::from_name(v).ok_or_else(|| {
                Error::invalid(key, format!("unknown cost \"{v}\"; one of mean, weighted"))
            })?;
            Ok(())
        }
        "smax" => {
            sc.stop.s_max = if v == "none" {
                None
            } else {
                // 0 evaluates θ₀ without integrating.
                let x = num(key, v)?;
                if x < 0.0 {
                    return Err(Error::invalid(key, format!("must be >= 0, got {v}")));
                }
                if x > 1e9 {
                    return Err(Error::invalid(key, format!("{v} exceeds 1e9")));
                }
                Some(x)
            };
            Ok(())
        }
        _ => Err(Error::invalid(key, "is not a scenario key")),
    }
}

/// The readable keys that describe `sc`, in [`SCENARIO_KEYS`] order.
pub fn readable_keys(sc: &Scenario) -> Vec<(&'static str, String)> {
    let mut out = vec![];
    if let Some(kind) = data_kind(&sc.data) {
        out.push(("data", kind.to_string()));
        if let DataSpec::Clusters { dim, .. } = sc.data {
            out.push(("dim", dim.to_string()));
        }
        if let DataSpec::Blobs { classes, .. } | DataSpec::Clusters { classes, .. } = sc.data {
            out.push(("Q", classes.to_string()));
        }
        let (n, noise) = n_noise(&sc.data).expect("generator");
        out.push(("N", n.to_string()));
        out.push(("noise", noise.to_string()));
    }
    out.push(("seed", sc.seed.to_string()));
    let w = &sc.net.widths;
    let hidden: Vec<String> = w[1..w.len() - 1].iter().map(|x| x.to_string()).collect();
    out.push((
        "net",
        if hidden.is_empty() {
            "none".into()
        } else {
            hidden.join(",")
        },
    ));
    out.push(("act", sc.net.activation.name().to_string()));
    out.push((
        "eps",
        sc.stop
            .cost_below
            .map_or_else(|| "none".into(), |e| e.to_string()),
    ));
    if let Some(s) = sc.stop.s_max {
        out.push(("smax", s.to_string()));
    }
    // Only when the scenario asks for more than the default (no automatic escape): existing links
    // stay as they were.
    if !sc.escape.is_default() {
        out.push(("escape", u8::from(sc.escape.auto).to_string()));
    }
    // Only the weighted cost is written: links to the mean cost stay as they were.
    if sc.cost != CostSpec::Mean {
        out.push(("cost", sc.cost.name().to_string()));
    }
    out
}
