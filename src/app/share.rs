//! Everything a person can share, as a URL hash: readable keys
//! (`#preset=over-smooth&flows=adapted,standard&view=cost,outputs&N=16`) and, when those do not
//! pin the scenario down (points added by clicking, imported CSV, a tuned integrator),
//! `scenario=` with the scenario's JSON in base64url.
//!
//! The page edits its [`Settings`] through the same keys ([`Settings::set`]), so a form field, a
//! hash key and an error message all use one name.

use crate::app::edit::{describe, fit_widths};
use crate::app::view::View;
use crate::error::{Error, Result};
use crate::math::construct::Theorem;
use crate::math::data::{DataSpec, MAX_POINTS};
use crate::math::model::CostSpec;
use crate::math::net::Activation;
use crate::run::lanes::{FlowChoice, DEFAULT_GD_H};
use crate::run::presets;
use crate::run::scenario::{Scenario, MAX_LAYERS, MAX_SEED, MAX_WIDTH};
use serde::{Deserialize, Serialize};

/// Flow keys in legend order.
pub const FLOW_KEYS: [&str; 4] = ["adapted", "standard", "gd", "homotopy"];
/// Data generators selectable by `data=`.
pub const DATA_KINDS: [&str; 7] = [
    "moons", "spirals", "circles", "xor", "blobs", "clusters", "sin",
];
/// Largest `N` the page lets the generators produce (`Q·N` rows of a dense Jacobian, run live).
pub const PAGE_MAX_N: usize = 2000;

/// Every setting of the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The preset the scenario started from, if any.
    pub preset: Option<String>,
    /// The scenario being shown.
    pub scenario: Scenario,
    /// Flow keys, in legend order (a subset of [`FLOW_KEYS`]).
    pub flows: Vec<String>,
    /// Learning rate of gradient descent.
    pub h: f64,
    /// Blend of the homotopy.
    pub alpha: f64,
    /// Visible figures.
    pub views: Vec<View>,
    /// Flow time per second of wall time; `None` is as fast as possible.
    pub speed: Option<f64>,
    /// Output coordinates shown when `Q > 2` (0-based; 1-based in the URL).
    pub pair: (usize, usize),
    /// The flow whose boundary and collapse figures are shown.
    pub focus: String,
    /// Embed mode: only the views and a play button.
    pub embed: bool,
    /// Start playing once loaded.
    pub autoplay: bool,
    /// Position of the constructive panel's layer view (0: the inputs).
    pub stage: usize,
    /// Which construction the constructive panel shows (`None`: the 2023 one when its
    /// hypotheses hold on the data, else the 2024 one).
    #[serde(default)]
    pub construct: Option<Theorem>,
    /// `μ̲` of the 2023 family shown (one value for every class, or one per class; `None`: the
    /// middle of its range).
    #[serde(default)]
    pub mu: Option<Vec<f64>>,
}

/// A key of the hash that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyError {
    /// The key as written.
    pub key: String,
    /// Why it was rejected.
    pub reason: String,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Keys that describe the scenario, in the order they are applied.
const SCENARIO_KEYS: [&str; 12] = [
    "data", "dim", "Q", "N", "noise", "seed", "net", "act", "eps", "smax", "escape", "cost",
];
/// Keys of the page around the scenario.
const PAGE_KEYS: [&str; 12] = [
    "flows",
    "h",
    "alpha",
    "view",
    "speed",
    "pair",
    "focus",
    "embed",
    "autoplay",
    "stage",
    "construct",
    "mu",
];
/// Most positions of the layer view (`C + 1` stages and the output layer for `C ≤ 62`).
pub const MAX_STAGE: u64 = 64;

/// Views a preset adds to the chosen ones when it is picked: the figures that show what it is
/// about (the critical panel for a rank-loss equilibrium, the construction for the
/// underparametrized presets, the homotopy family where all flows come to rest).
pub fn preset_views(name: &str) -> &'static [View] {
    match name {
        "softplus-trapped" => &[View::Critical, View::Singular],
        "shallow-relu-inactive" => &[View::Critical, View::Singular],
        "two-layer-linear" | "linear-rank" => &[View::Singular],
        "constructive"
        | "non-approximability"
        | "non-approximability-rest"
        | "clustered-family" => &[View::Construct],
        "weighted-cost" => &[View::Collapse],
        "under-stationary" => &[View::Homotopy],
        _ => &[],
    }
}

impl Default for Settings {
    fn default() -> Self {
        let p = &presets::all()[0];
        Settings {
            preset: Some(p.name.into()),
            scenario: p.scenario.clone(),
            flows: vec!["adapted".into(), "standard".into()],
            h: DEFAULT_GD_H,
            alpha: 0.5,
            views: View::DEFAULT.to_vec(),
            speed: None,
            pair: (0, 1),
            focus: "adapted".into(),
            embed: false,
            autoplay: false,
            stage: 0,
            construct: None,
            mu: None,
        }
    }
}

fn num(key: &str, v: &str) -> Result<f64> {
    let x: f64 = v
        .parse()
        .map_err(|_| Error::invalid(key, format!("\"{v}\" is not a number")))?;
    if !x.is_finite() {
        return Err(Error::invalid(key, format!("must be finite, got {v}")));
    }
    Ok(x)
}

fn positive(key: &str, v: &str) -> Result<f64> {
    let x = num(key, v)?;
    if x <= 0.0 {
        return Err(Error::invalid(key, format!("must be > 0, got {v}")));
    }
    Ok(x)
}

fn int(key: &str, v: &str, lo: u64, hi: u64) -> Result<u64> {
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

fn flag(key: &str, v: &str) -> Result<bool> {
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

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5).
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url (padding optional; `+` and `/` accepted too).
///
/// Errors: [`Error::Encoding`] for a character outside the alphabet, or a length that cannot be
/// base64.
pub fn base64url_decode(text: &str) -> Result<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, c) in text.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => {
                return Err(Error::Encoding(format!(
                    "not base64url: character {:?} at position {i}",
                    c as char
                )))
            }
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if text.len() % 4 == 1 {
        return Err(Error::Encoding(format!(
            "not base64url: {} characters cannot encode whole bytes",
            text.len()
        )));
    }
    Ok(out)
}

/// Decodes `%xx` escapes and `+` (a space).
///
/// Errors: [`Error::Encoding`] for a bad escape or bytes that are not UTF-8.
fn percent_decode(v: &str) -> Result<String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = v
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Error::Encoding(format!("bad percent escape at position {i}"))
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::Encoding("not UTF-8 after percent-decoding".into()))
}

fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.,~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Settings {
    /// The default settings with the scenario of preset `name`.
    ///
    /// Errors: no such preset (`preset`).
    pub fn from_preset(name: &str) -> Result<Settings> {
        let mut s = Settings::default();
        s.choose_preset(name)?;
        Ok(s)
    }

    /// Switches to preset `name`, keeping the page settings (flows, speed, …), dropping the
    /// views the previous preset brought and adding the ones that show what this one is about
    /// ([`preset_views`]).
    ///
    /// Errors: no such preset (`preset`).
    pub fn choose_preset(&mut self, name: &str) -> Result<()> {
        let p = presets::find(name).ok_or_else(|| unknown_preset(name))?;
        let old = self.preset.as_deref().map_or(&[][..], preset_views);
        let kept: Vec<View> = self
            .views
            .iter()
            .copied()
            .filter(|v| !old.contains(v))
            .collect();
        // Never leave the page without a view.
        self.views = if kept.is_empty() {
            View::DEFAULT.to_vec()
        } else {
            kept
        };
        self.preset = Some(p.name.into());
        self.scenario = p.scenario;
        // μ̲ belongs to the data it was chosen for.
        self.mu = None;
        for v in preset_views(p.name) {
            if !self.views.contains(v) {
                self.views.push(*v);
            }
        }
        // Page order, whatever order they were added in.
        self.views
            .sort_by_key(|v| View::ALL.iter().position(|w| w == v));
        Ok(())
    }

    /// Whether the scenario differs from its preset's (or there is no preset).
    pub fn edited(&self) -> bool {
        self.preset
            .as_deref()
            .and_then(presets::find)
            .is_none_or(|p| p.scenario != self.scenario)
    }

    /// The flows to compare, in legend order.
    pub fn lanes(&self) -> Vec<FlowChoice> {
        FLOW_KEYS
            .iter()
            .filter(|k| self.flows.iter().any(|f| f == *k))
            .map(|k| match *k {
                "adapted" => FlowChoice::Adapted,
                "standard" => FlowChoice::Standard,
                "gd" => FlowChoice::Gd { h: self.h },
                _ => FlowChoice::Homotopy { alpha: self.alpha },
            })
            .collect()
    }

    /// Index of the focused flow among [`Self::lanes`] (0 when it is not shown).
    pub fn focus_index(&self) -> usize {
        self.lanes()
            .iter()
            .position(|l| l.key() == self.focus)
            .unwrap_or(0)
    }

    /// Sets one key (a scenario key of [`apply_key`] or a page key), exactly as the hash does.
    ///
    /// Errors: an unknown key or a bad value, named by the key; nothing changes then.
    pub fn set(&mut self, key: &str, v: &str) -> Result<()> {
        if SCENARIO_KEYS.contains(&key) {
            let mut sc = self.scenario.clone();
            apply_key(&mut sc, key, v)?;
            self.scenario = sc;
            return Ok(());
        }
        match key {
            "preset" => self.choose_preset(v),
            "scenario" => {
                let bytes = base64url_decode(v).map_err(|e| Error::invalid(key, e.to_string()))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::invalid(key, "does not decode to UTF-8 text"))?;
                let sc = Scenario::from_json(&text).map_err(|e| e.within("scenario."))?;
                describe(&sc).map_err(|e| e.within("scenario."))?;
                self.scenario = sc;
                Ok(())
            }
            "flows" => {
                let list: Vec<String> = v
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string)
                    .collect();
                if list.is_empty() {
                    return Err(Error::invalid(key, "choose at least one flow"));
                }
                for (i, f) in list.iter().enumerate() {
                    if !FLOW_KEYS.contains(&f.as_str()) {
                        return Err(Error::invalid(
                            key,
                            format!("unknown flow \"{f}\"; one of {}", FLOW_KEYS.join(", ")),
                        ));
                    }
                    if list[..i].contains(f) {
                        return Err(Error::invalid(key, format!("{f} appears twice")));
                    }
                }
                self.flows = list;
                Ok(())
            }
            "h" => {
                self.h = positive(key, v)?;
                Ok(())
            }
            "alpha" => {
                let a = num(key, v)?;
                if !(0.0..=1.0).contains(&a) {
                    return Err(Error::invalid(key, format!("must be in [0, 1], got {v}")));
                }
                self.alpha = a;
                Ok(())
            }
            "view" => {
                let mut views = vec![];
                for name in v.split(',').filter(|f| !f.is_empty()) {
                    let view = View::from_key(name).ok_or_else(|| {
                        let all: Vec<&str> = View::ALL.iter().map(|v| v.key()).collect();
                        Error::invalid(
                            key,
                            format!("unknown view \"{name}\"; one of {}", all.join(", ")),
                        )
                    })?;
                    if !views.contains(&view) {
                        views.push(view);
                    }
                }
                if views.is_empty() {
                    return Err(Error::invalid(key, "choose at least one view"));
                }
                self.views = views;
                Ok(())
            }
            "speed" => {
                self.speed = if v == "max" {
                    None
                } else {
                    Some(positive(key, v)?)
                };
                Ok(())
            }
            "pair" => {
                let parts: Vec<&str> = v.split(',').collect();
                if parts.len() != 2 {
                    return Err(Error::invalid(
                        key,
                        format!("needs two output coordinates like 1,3, got \"{v}\""),
                    ));
                }
                let a = int(key, parts[0], 1, 64)? as usize;
                let b = int(key, parts[1], 1, 64)? as usize;
                if a == b {
                    return Err(Error::invalid(key, "needs two different coordinates"));
                }
                self.pair = (a - 1, b - 1);
                Ok(())
            }
            "focus" => {
                if !FLOW_KEYS.contains(&v) {
                    return Err(Error::invalid(
                        key,
                        format!("unknown flow \"{v}\"; one of {}", FLOW_KEYS.join(", ")),
                    ));
                }
                self.focus = v.into();
                Ok(())
            }
            "embed" => {
                self.embed = flag(key, v)?;
                Ok(())
            }
            "autoplay" => {
                self.autoplay = flag(key, v)?;
                Ok(())
            }
            "stage" => {
                self.stage = int(key, v, 0, MAX_STAGE)? as usize;
                Ok(())
            }
            "construct" => {
                self.construct = match v {
                    "" | "auto" => None,
                    "separable" => Some(Theorem::Separable),
                    "clustered" => Some(Theorem::Clustered),
                    _ => {
                        return Err(Error::invalid(
                            key,
                            format!(
                                "unknown construction \"{v}\"; one of auto, separable, clustered"
                            ),
                        ))
                    }
                };
                Ok(())
            }
            "mu" => {
                if v.is_empty() || v == "auto" {
                    self.mu = None;
                    return Ok(());
                }
                let list = v
                    .split(',')
                    .enumerate()
                    .map(|(i, x)| {
                        let a = num(&format!("{key}[{i}]"), x.trim())?;
                        if !(0.0..=1.0).contains(&a) {
                            return Err(Error::invalid(
                                format!("{key}[{i}]"),
                                format!("must be in [0, 1] (the segment to the centre), got {x}"),
                            ));
                        }
                        Ok(a)
                    })
                    .collect::<Result<Vec<f64>>>()?;
                if list.len() > MAX_STAGE as usize {
                    return Err(Error::invalid(key, "too many values"));
                }
                self.mu = Some(list);
                Ok(())
            }
            _ => Err(Error::invalid(key, "unknown key")),
        }
    }

    /// The current value of a key as the hash writes it (`None` for keys that do not apply).
    pub fn get(&self, key: &str) -> Option<String> {
        if let Some((_, v)) = readable_keys(&self.scenario)
            .into_iter()
            .find(|(k, _)| *k == key)
        {
            return Some(v);
        }
        Some(match key {
            "preset" => self.preset.clone()?,
            "flows" => self.flows.join(","),
            "h" => self.h.to_string(),
            "alpha" => self.alpha.to_string(),
            "view" => self
                .views
                .iter()
                .map(|v| v.key())
                .collect::<Vec<_>>()
                .join(","),
            "speed" => self.speed.map_or_else(|| "max".into(), |s| s.to_string()),
            "pair" => format!("{},{}", self.pair.0 + 1, self.pair.1 + 1),
            "focus" => self.focus.clone(),
            "embed" => u8::from(self.embed).to_string(),
            "autoplay" => u8::from(self.autoplay).to_string(),
            "stage" => self.stage.to_string(),
            "escape" => u8::from(self.scenario.escape.auto).to_string(),
            "smax" => "none".into(),
            "cost" => "mean".into(),
            "construct" => self
                .construct
                .map_or_else(|| "auto".into(), |t| t.name().into()),
            "mu" => self.mu.as_ref().map_or_else(
                || "auto".into(),
                |m| {
                    m.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                },
            ),
            _ => return None,
        })
    }

    /// Reads a hash (with or without the leading `#`). Keys that cannot be used are skipped and
    /// reported; the rest apply on top of the defaults. When the resulting scenario does not fit
    /// together, the scenario falls back to its preset (or the default) and the reason is
    /// reported under the key to blame.
    pub fn from_hash(hash: &str) -> (Settings, Vec<KeyError>) {
        let mut errors = vec![];
        let mut pairs: Vec<(String, String)> = vec![];
        for part in hash.trim_start_matches('#').split('&') {
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let k = match percent_decode(k) {
                Ok(k) => k,
                Err(e) => {
                    errors.push(KeyError {
                        key: k.to_string(),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            match percent_decode(v) {
                Ok(v) => {
                    pairs.retain(|(q, _)| *q != k);
                    pairs.push((k, v));
                }
                Err(e) => errors.push(KeyError {
                    key: k,
                    reason: e.to_string(),
                }),
            }
        }
        let mut s = Settings::default();
        let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let mut push = |key: &str, e: Error| {
            let reason = match e {
                Error::Invalid { field, reason } if field == key => reason,
                other => other.to_string(),
            };
            errors.push(KeyError {
                key: key.into(),
                reason,
            });
        };
        if let Some(p) = value("preset") {
            if let Err(e) = s.choose_preset(&p) {
                push("preset", e);
            }
        }
        if let Some(b) = value("scenario") {
            if let Err(e) = s.set("scenario", &b) {
                push("scenario", e);
            } else if value("preset").is_none() {
                s.preset = None;
            }
        }
        let base = s.scenario.clone();
        for key in SCENARIO_KEYS {
            if let Some(v) = value(key) {
                if let Err(e) = s.set(key, &v) {
                    push(key, e);
                }
            }
        }
        if let Err(e) = describe(&s.scenario) {
            // Report the first scenario key given (they conflict), or the scenario itself.
            let blame = SCENARIO_KEYS
                .iter()
                .find(|k| value(k).is_some())
                .copied()
                .unwrap_or("scenario");
            push(blame, e);
            s.scenario = base;
        }
        for key in PAGE_KEYS {
            if let Some(v) = value(key) {
                if let Err(e) = s.set(key, &v) {
                    push(key, e);
                }
            }
        }
        for (k, _) in &pairs {
            let known = k == "preset"
                || k == "scenario"
                || SCENARIO_KEYS.contains(&k.as_str())
                || PAGE_KEYS.contains(&k.as_str());
            if !known {
                let mut all: Vec<&str> = vec!["preset", "scenario"];
                all.extend(SCENARIO_KEYS);
                all.extend(PAGE_KEYS);
                errors.push(KeyError {
                    key: k.clone(),
                    reason: format!("unknown key; known keys: {}", all.join(", ")),
                });
            }
        }
        (s, errors)
    }

    /// Writes the hash (without `#`): readable keys always; `scenario=` only when they do not
    /// reproduce the scenario exactly.
    pub fn to_hash(&self) -> String {
        let mut parts: Vec<(String, String)> = vec![];
        if let Some(p) = &self.preset {
            parts.push(("preset".into(), p.clone()));
        }
        let readable = readable_keys(&self.scenario);
        for (k, v) in &readable {
            parts.push(((*k).into(), v.clone()));
        }
        parts.push(("flows".into(), self.flows.join(",")));
        if self.flows.iter().any(|f| f == "gd") {
            parts.push(("h".into(), self.h.to_string()));
        }
        if self.flows.iter().any(|f| f == "homotopy") {
            parts.push(("alpha".into(), self.alpha.to_string()));
        }
        parts.push(("view".into(), self.get("view").expect("always")));
        parts.push(("speed".into(), self.get("speed").expect("always")));
        if self.pair != (0, 1) {
            parts.push(("pair".into(), self.get("pair").expect("always")));
        }
        if self.focus != "adapted" {
            parts.push(("focus".into(), self.focus.clone()));
        }
        if self.embed {
            parts.push(("embed".into(), "1".into()));
        }
        if self.autoplay {
            parts.push(("autoplay".into(), "1".into()));
        }
        if self.stage != 0 {
            parts.push(("stage".into(), self.stage.to_string()));
        }
        if self.construct.is_some() {
            parts.push(("construct".into(), self.get("construct").expect("always")));
        }
        if self.mu.is_some() {
            parts.push(("mu".into(), self.get("mu").expect("always")));
        }
        // Would the readable keys alone, on the preset, give this very scenario?
        let mut rebuilt = self
            .preset
            .as_deref()
            .and_then(presets::find)
            .map_or_else(|| Settings::default().scenario, |p| p.scenario);
        let reproduces = readable
            .iter()
            .all(|(k, v)| apply_key(&mut rebuilt, k, v).is_ok())
            && rebuilt == self.scenario;
        if !reproduces {
            let json = serde_json::to_string(&self.scenario).expect("scenarios serialize");
            parts.push(("scenario".into(), base64url_encode(json.as_bytes())));
        }
        parts
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn unknown_preset(name: &str) -> Error {
    let names: Vec<&str> = presets::all().iter().map(|p| p.name).collect();
    Error::invalid(
        "preset",
        format!("no preset \"{name}\"; one of {}", names.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let enc = base64url_encode(&bytes);
            assert!(!enc.contains(['=', '+', '/']));
            assert_eq!(base64url_decode(&enc).unwrap(), bytes, "{enc}");
        }
        assert_eq!(base64url_encode(b"Man"), "TWFu");
        assert_eq!(base64url_encode(b"\xfb\xff"), "-_8");
        assert!(base64url_decode("ab$d")
            .unwrap_err()
            .to_string()
            .contains("'$' at position 2"));
        assert!(base64url_decode("abcde").is_err());
    }

    #[test]
    fn percent_coding_round_trips() {
        for v in ["a b", "α=0.5", "x&y=z", "%"] {
            assert_eq!(percent_decode(&percent_encode(v)).unwrap(), v);
        }
    }
}
