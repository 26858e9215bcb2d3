//! Everything a person can share, as a URL hash: readable keys
//! (`#preset=over-smooth&flows=adapted,standard&view=cost,outputs&N=16`) and, when those do not
//! pin the scenario down (points added by clicking, imported CSV, a tuned integrator),
//! `scenario=` with the scenario's JSON in base64url.
//!
//! The page edits its [`Settings`] through the same keys ([`Settings::set`]), so a form field, a
//! hash key and an error message all use one name.

//!
//! `keys.rs` holds the scenario keys (parsing each value, and the keys that describe a scenario),
//! `codec.rs` the URL codecs (base64url for `scenario=`, percent escapes for every value).

use crate::app::edit::describe;
use crate::app::view::View;
use crate::error::{Error, Result};
use crate::math::construct::Theorem;
use crate::run::lanes::{FlowChoice, DEFAULT_GD_H};
use crate::run::presets;
use crate::run::scenario::Scenario;
use serde::{Deserialize, Serialize};

mod codec;
mod keys;

pub use codec::{base64url_decode, base64url_encode};
use codec::{percent_decode, percent_encode};
pub use keys::{apply_key, data_kind, readable_keys};
use keys::{flag, int, num, positive};

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
