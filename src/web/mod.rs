//! The wasm-bindgen surface (wasm32 only): thin wrappers that convert between JavaScript values
//! and the core's types, and compute nothing themselves.
//!
//! - [`WorkerHost`] runs in the module worker: messages in, messages out, bulk numbers as
//!   `Float64Array`s under the key `bulk`.
//! - [`Figures`] runs on the page: it keeps the [`Board`] and draws its views on canvases with
//!   plotters-canvas (which needs the DOM, hence the main thread).
//! - [`Page`] holds the page's [`Settings`] (URL hash, editor fields, data edits).
//!
//! Every fallible call returns `Result<_, JsError>` with the core's field-named message; a panic
//! hook ([`install_panic_hook`]) reports anything that slips through to the page.

pub mod bench;
mod canvas;

use crate::app::board::Board;
use crate::app::edit;
use crate::app::inspect::{ClassifyReport, ConstructionReport, CriticalReport};
use crate::app::protocol::{FamilyHeader, FrameHeader, Host, ModesHeader, Reply, RunInfo};
use crate::app::share::Settings;
use crate::app::view::View;
use crate::plot::Look;
use js_sys::{Array, Float64Array, Object, Reflect};
use plotters::prelude::IntoDrawingArea;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlCanvasElement;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Installs a panic hook that hands the panic message to `globalThis.__pullback_panic(message)`
/// when the page or worker defined it, and to `console.error` otherwise. Idempotent.
#[wasm_bindgen]
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = info.to_string();
            let report = Reflect::get(&js_sys::global(), &"__pullback_panic".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            match report {
                Some(f) => {
                    let _ = f.call1(&JsValue::NULL, &msg.as_str().into());
                }
                None => web_sys::console::error_1(&msg.as_str().into()),
            }
        }));
    });
}

/// The presets for the menu and the cards: `[{name, summary, story, views}]`, in menu order
/// (`views`: what choosing it adds, the panel it is about first).
#[wasm_bindgen]
pub fn presets() -> Result<JsValue, JsError> {
    #[derive(Serialize)]
    struct Entry {
        name: &'static str,
        summary: &'static str,
        story: &'static str,
        /// The views the preset adds; the first is the panel it is about.
        views: Vec<&'static str>,
    }
    let list: Vec<Entry> = crate::run::presets::all()
        .iter()
        .map(|p| Entry {
            name: p.name,
            summary: p.summary,
            story: p.story,
            views: crate::app::share::preset_views(p.name)
                .iter()
                .map(|v| v.key())
                .collect(),
        })
        .collect();
    to_js(&list)
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_err)
}

/// Deepest nesting accepted in a message (structured clones may even be cyclic).
const MAX_DEPTH: usize = 32;

/// Converts a JavaScript value into JSON, naming the path of anything JSON cannot hold
/// (NaN, infinities, functions, symbols, big integers).
fn js_to_json(v: &JsValue, path: &str, depth: usize) -> Result<Value, crate::Error> {
    let here = || {
        if path.is_empty() {
            "message".to_string()
        } else {
            path.to_string()
        }
    };
    if depth > MAX_DEPTH {
        return Err(crate::Error::invalid(here(), "is nested too deeply"));
    }
    if v.is_null() || v.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(x) = v.as_f64() {
        // JavaScript has one number type; integers must read as integers (ids, sizes, lanes).
        const SAFE: f64 = 9_007_199_254_740_991.0;
        if x.fract() == 0.0 && x.abs() <= SAFE {
            return Ok(Value::Number(if x >= 0.0 {
                (x as u64).into()
            } else {
                (x as i64).into()
            }));
        }
        return serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| {
                crate::Error::invalid(here(), format!("must be a finite number, got {x}"))
            });
    }
    if let Some(s) = v.as_string() {
        return Ok(Value::String(s));
    }
    if let Some(a) = v.dyn_ref::<Float64Array>() {
        return js_to_json(&Array::from(a).into(), path, depth);
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        return a
            .iter()
            .enumerate()
            .map(|(i, x)| js_to_json(&x, &format!("{path}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if v.is_function() || v.is_symbol() || v.is_bigint() {
        return Err(crate::Error::invalid(
            here(),
            format!(
                "cannot be a {}",
                v.js_typeof().as_string().unwrap_or_default()
            ),
        ));
    }
    if v.is_object() {
        let obj: &Object = v.unchecked_ref();
        let mut map = serde_json::Map::new();
        for key in Object::keys(obj).iter() {
            let k = key.as_string().unwrap_or_default();
            let val = Reflect::get(obj, &key).unwrap_or(JsValue::UNDEFINED);
            let sub = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            map.insert(k, js_to_json(&val, &sub, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    Err(crate::Error::invalid(here(), "is not a JSON value"))
}

fn replies_to_js(replies: Vec<Reply>) -> Result<Array, JsError> {
    let out = Array::new();
    for r in replies {
        let obj = to_js(&r.msg)?;
        if !r.bulk.is_empty() {
            Reflect::set(&obj, &"bulk".into(), &Float64Array::from(&r.bulk[..]))
                .map_err(|_| JsError::new("cannot attach the bulk array"))?;
        }
        out.push(&obj);
    }
    Ok(out)
}

fn performance() -> Option<web_sys::Performance> {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
}

fn now_ms(perf: &Option<web_sys::Performance>) -> f64 {
    perf.as_ref().map_or_else(js_sys::Date::now, |p| p.now())
}

/// `performance.now()` (or `Date.now()`), for the sessions' spectrum budget.
fn clock_ms() -> f64 {
    now_ms(&performance())
}

/// The worker's side: owns the [`Host`] (and with it every session).
#[wasm_bindgen]
pub struct WorkerHost {
    host: Host,
    perf: Option<web_sys::Performance>,
}

impl Default for WorkerHost {
    fn default() -> Self {
        WorkerHost::new()
    }
}

#[wasm_bindgen]
impl WorkerHost {
    /// An empty host.
    #[wasm_bindgen(constructor)]
    pub fn new() -> WorkerHost {
        let mut host = Host::new();
        host.set_clock(clock_ms);
        WorkerHost {
            host,
            perf: performance(),
        }
    }

    /// The handshake message `{type: "ready", protocol, version}`.
    pub fn ready(&self) -> Result<JsValue, JsError> {
        to_js(&Host::ready())
    }

    /// Answers one message from the page: an array of messages to post back (errors included, as
    /// `{type: "error", id, field, message}`).
    pub fn handle(&mut self, msg: JsValue) -> Result<Array, JsError> {
        let now = now_ms(&self.perf);
        let replies = match js_to_json(&msg, "", 0) {
            Ok(v) => self.host.handle(v, now),
            Err(e) => vec![crate::app::protocol::FromWorker::error(request_id(&msg), &e).into()],
        };
        replies_to_js(replies)
    }

    /// Integrates for one budget and returns the messages to post (a frame, or nothing).
    pub fn tick(&mut self) -> Result<Array, JsError> {
        let perf = self.perf.clone();
        let mut clock = move || now_ms(&perf);
        replies_to_js(self.host.tick(&mut clock))
    }

    /// Whether [`WorkerHost::tick`] has work to do.
    pub fn wants_tick(&self) -> bool {
        self.host.wants_tick()
    }

    /// Milliseconds the worker may wait before the next tick.
    pub fn idle_ms(&self) -> f64 {
        self.host.idle_ms()
    }

    /// Sets the integration budget per tick in milliseconds.
    pub fn set_budget_ms(&mut self, ms: f64) {
        self.host.set_budget_ms(ms);
    }
}

fn request_id(msg: &JsValue) -> Option<u32> {
    let id = Reflect::get(msg, &"id".into()).ok()?.as_f64()?;
    (id >= 0.0 && id.fract() == 0.0 && id <= u32::MAX as f64).then_some(id as u32)
}

/// The numbers of a `bulk` value: a `Float64Array`, or nothing.
fn bulk_of(bulk: JsValue) -> Result<Vec<f64>, JsError> {
    if bulk.is_undefined() || bulk.is_null() {
        return Ok(vec![]);
    }
    bulk.dyn_into::<Float64Array>()
        .map(|b| b.to_vec())
        .map_err(|_| JsError::new("bulk: must be a Float64Array"))
}

fn view_of(name: &str) -> Result<View, JsError> {
    View::from_key(name).ok_or_else(|| JsError::new(&format!("view: unknown view \"{name}\"")))
}

/// The page's side of the figures: the [`Board`] and drawing onto canvases.
#[wasm_bindgen]
pub struct Figures {
    board: Board,
}

impl Default for Figures {
    fn default() -> Self {
        Figures::new()
    }
}

#[wasm_bindgen]
impl Figures {
    /// An empty board.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Figures {
        let mut board = Board::new();
        // The canvas blits colour grids at once (canvas::FastCanvas).
        board.set_raster(true);
        Figures { board }
    }

    /// Starts over with a `loaded` message's `info` and `bulk`.
    pub fn load(&mut self, info: JsValue, bulk: JsValue) -> Result<(), JsError> {
        let info: RunInfo = serde_wasm_bindgen::from_value(info).map_err(js_err)?;
        self.board.load(info, &bulk_of(bulk)?).map_err(js_err)
    }

    /// Adds a `frame` message's header and bulk (`undefined` when empty); `false` when it
    /// belongs to an older load.
    pub fn apply(&mut self, frame: JsValue, bulk: JsValue) -> Result<bool, JsError> {
        let header: FrameHeader = serde_wasm_bindgen::from_value(frame).map_err(js_err)?;
        self.board.apply(&header, &bulk_of(bulk)?).map_err(js_err)
    }

    /// Draws `view` on `canvas` (whose width and height are in device pixels) at `scale` device
    /// pixels per CSS pixel.
    pub fn draw(
        &mut self,
        view: &str,
        canvas: HtmlCanvasElement,
        scale: f64,
    ) -> Result<(), JsError> {
        let view = view_of(view)?;
        let backend =
            canvas::FastCanvas::new(canvas).ok_or_else(|| JsError::new("canvas: no 2d context"))?;
        let area = backend.into_drawing_area();
        self.board
            .draw(view, &area, &Look::scaled(scale))
            .map(|_| ())
            .map_err(js_err)
    }

    /// The readout under device pixel `(x, y)` of `view`, if any.
    pub fn hover(&self, view: &str, x: f64, y: f64) -> Option<String> {
        self.board.hover(View::from_key(view)?, x, y)
    }

    /// The input-plane point `[x₁, x₂]` under device pixel `(x, y)` of the boundary view.
    pub fn input_at(&self, x: f64, y: f64) -> Option<Vec<f64>> {
        self.board.input_at(x, y).map(|(a, b)| vec![a, b])
    }

    /// The device pixel `[x, y]` where data point `(x, y)` of `view` was last drawn.
    pub fn pixel_of(&self, view: &str, x: f64, y: f64) -> Option<Vec<f64>> {
        let (px, py) = self.board.geom(View::from_key(view)?)?.to_pixel(x, y);
        Some(vec![px, py])
    }

    /// Input-plane distance spanned by `pixels` device pixels on the boundary view.
    pub fn input_radius(&self, pixels: f64) -> Option<f64> {
        let g = self.board.geom(View::Boundary)?;
        Some(pixels * (g.x[1] - g.x[0]) / (g.px[1] - g.px[0]).max(1.0))
    }

    /// Chooses the output coordinates (0-based) shown when `Q > 2`.
    pub fn set_pair(&mut self, a: usize, b: usize) -> Result<(), JsError> {
        self.board.set_pair(a, b).map_err(js_err)
    }

    /// Chooses the lane whose boundary and collapse are shown.
    pub fn set_focus(&mut self, lane: usize) {
        self.board.set_focus(lane);
    }

    /// The cost curves as CSV.
    pub fn cost_csv(&self) -> String {
        self.board.cost_csv()
    }

    /// The furthest `s` reached.
    pub fn s(&self) -> f64 {
        self.board.s()
    }

    /// Takes a `critical` message's `report` and `bulk`; `false` when it belongs to an older load.
    pub fn apply_critical(&mut self, report: JsValue, bulk: JsValue) -> Result<bool, JsError> {
        let r: CriticalReport = serde_wasm_bindgen::from_value(report).map_err(js_err)?;
        self.board
            .apply_critical(r, &bulk_of(bulk)?)
            .map_err(js_err)
    }

    /// Takes a `construction` message's `report` and `bulk`; `false` when stale.
    pub fn apply_construction(&mut self, report: JsValue, bulk: JsValue) -> Result<bool, JsError> {
        let r: ConstructionReport = serde_wasm_bindgen::from_value(report).map_err(js_err)?;
        self.board
            .apply_construction(r, &bulk_of(bulk)?)
            .map_err(js_err)
    }

    /// Takes a `classified` message's `report`; `false` when stale.
    pub fn apply_classification(&mut self, report: JsValue) -> Result<bool, JsError> {
        let r: ClassifyReport = serde_wasm_bindgen::from_value(report).map_err(js_err)?;
        self.board.apply_classification(r).map_err(js_err)
    }

    /// The input `[x₁, …, x_M]` under device pixel `(x, y)` of the layer view, when it shows the
    /// inputs (stage 0 of a construction in input coordinates).
    pub fn probe_input(&self, x: f64, y: f64) -> Option<Vec<f64>> {
        self.board.probe_input(x, y)
    }

    /// The split `C = V + B` of every flow's cost (`null` before a load).
    pub fn split_panel(&self) -> Result<JsValue, JsError> {
        to_js(&self.board.split_panel())
    }

    /// Takes a `family` message's `family` header and `bulk`; `false` when stale.
    pub fn apply_family(&mut self, family: JsValue, bulk: JsValue) -> Result<bool, JsError> {
        let h: FamilyHeader = serde_wasm_bindgen::from_value(family).map_err(js_err)?;
        self.board.apply_family(h, &bulk_of(bulk)?).map_err(js_err)
    }

    /// Forgets the homotopy family.
    pub fn clear_family(&mut self) {
        self.board.clear_family();
    }

    /// Takes a `tuned` message's `info` (parameters changed mid-orbit, history kept); `false`
    /// when stale.
    pub fn retune(&mut self, info: JsValue) -> Result<bool, JsError> {
        let info: RunInfo = serde_wasm_bindgen::from_value(info).map_err(js_err)?;
        self.board.retune(info).map_err(js_err)
    }

    /// Takes a `modes` message's `modes` header and `bulk`; `false` when stale.
    pub fn apply_modes(&mut self, modes: JsValue, bulk: JsValue) -> Result<bool, JsError> {
        let h: ModesHeader = serde_wasm_bindgen::from_value(modes).map_err(js_err)?;
        self.board.apply_modes(h, &bulk_of(bulk)?).map_err(js_err)
    }

    /// Forgets the eigenmode view.
    pub fn clear_modes(&mut self) {
        self.board.clear_modes();
    }

    /// The eigenmode view's sentence and readouts (`null` before its first message).
    pub fn eigenmodes_panel(&self) -> Result<JsValue, JsError> {
        to_js(&self.board.eigenmodes_text())
    }

    /// Side of the decision-boundary grid last received (0 before one).
    pub fn heat_size(&self) -> usize {
        self.board.heat_size()
    }

    /// The network diagram's sizes and column positions in device pixels (`null` before one).
    pub fn network_summary(&self) -> Result<JsValue, JsError> {
        to_js(&self.board.network_summary())
    }

    /// Sets the layer view's position (fractions animate between stages).
    pub fn set_stage(&mut self, position: f64) {
        self.board.set_stage(position);
    }

    /// Positions of the layer view (0 without a construction).
    pub fn layer_positions(&self) -> usize {
        self.board.layer_positions()
    }

    /// The critical panel's text (`null` before any report).
    pub fn critical_panel(&self) -> Result<JsValue, JsError> {
        to_js(&self.board.critical_panel())
    }

    /// The constructive panel's text (`null` before any construction).
    pub fn construct_panel(&self) -> Result<JsValue, JsError> {
        to_js(&self.board.construct_panel())
    }

    /// The homotopy family's table (`null` before the family reports).
    pub fn family_panel(&self) -> Result<JsValue, JsError> {
        to_js(&self.board.family_panel())
    }

    /// The reparametrization readouts (`null` before a load).
    pub fn reparam_panel(&self) -> Result<JsValue, JsError> {
        to_js(&self.board.reparam_panel())
    }

    /// The measured rank of `D[θ₀]` beside the paper's formula, when the scenario has one.
    pub fn rank_formula(&self) -> Option<String> {
        self.board.rank_formula_text()
    }
}

/// The page's settings: URL hash, editor fields and data edits, all through the core's keys.
#[wasm_bindgen]
pub struct Page {
    settings: Settings,
    errors: Vec<crate::app::share::KeyError>,
}

#[wasm_bindgen]
impl Page {
    /// Reads a URL hash; keys that could not be used are listed by [`Page::errors`].
    pub fn from_hash(hash: &str) -> Page {
        let (settings, errors) = Settings::from_hash(hash);
        Page { settings, errors }
    }

    /// The hash problems found by [`Page::from_hash`]: `["key: reason", …]`.
    pub fn errors(&self) -> Vec<String> {
        self.errors.iter().map(|e| e.to_string()).collect()
    }

    /// The hash of the current settings (without `#`).
    pub fn hash(&self) -> String {
        self.settings.to_hash()
    }

    /// Sets one key as the hash would; on error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), JsError> {
        self.settings.set(key, value).map_err(js_err)
    }

    /// A key's current value as the hash writes it.
    pub fn get(&self, key: &str) -> Option<String> {
        self.settings.get(key)
    }

    /// The preset the scenario came from.
    pub fn preset(&self) -> Option<String> {
        self.settings.preset.clone()
    }

    /// Whether the scenario differs from its preset's.
    pub fn edited(&self) -> bool {
        self.settings.edited()
    }

    /// Switches to a preset, keeping flows, views and speed.
    pub fn choose_preset(&mut self, name: &str) -> Result<(), JsError> {
        self.settings.choose_preset(name).map_err(js_err)
    }

    /// The scenario as JSON text (what `load` sends).
    pub fn scenario_json(&self) -> String {
        serde_json::to_string(&self.settings.scenario).expect("scenarios serialize")
    }

    /// The flows for `load`: `[{kind: …}, …]`.
    pub fn flows(&self) -> Result<JsValue, JsError> {
        to_js(&self.settings.lanes())
    }

    /// The `construct` request's fields: `{theorem, mu}` (each `null` when automatic).
    pub fn construct_request(&self) -> Result<JsValue, JsError> {
        to_js(&crate::app::inspect::ConstructRequest {
            theorem: self.settings.construct,
            mu: self.settings.mu.clone(),
        })
    }

    /// Visible views, in page order.
    pub fn views(&self) -> Vec<String> {
        self.settings
            .views
            .iter()
            .map(|v| v.key().to_string())
            .collect()
    }

    /// `{k, q, n, m, qn, classes, regime}` of the scenario, before anything runs.
    pub fn describe(&self) -> Result<JsValue, JsError> {
        to_js(&edit::describe(&self.settings.scenario).map_err(js_err)?)
    }

    /// Index of the focused flow among the flows.
    pub fn focus_index(&self) -> usize {
        self.settings.focus_index()
    }

    /// Output coordinates `[a, b]` (0-based) for `Q > 2`.
    pub fn pair(&self) -> Vec<usize> {
        vec![self.settings.pair.0, self.settings.pair.1]
    }

    /// `s` per second, or `undefined` for full speed.
    pub fn speed(&self) -> Option<f64> {
        self.settings.speed
    }

    /// Embed mode.
    pub fn embed(&self) -> bool {
        self.settings.embed
    }

    /// Autoplay.
    pub fn autoplay(&self) -> bool {
        self.settings.autoplay
    }

    /// Adds a data point of class `class` (0-based) at `(x, y)`.
    pub fn add_point(&mut self, x: f64, y: f64, class: usize) -> Result<(), JsError> {
        self.settings.scenario =
            edit::add_point(&self.settings.scenario, &[x, y], class).map_err(js_err)?;
        Ok(())
    }

    /// Removes the data point nearest to `(x, y)` within `radius`; whether one was removed.
    pub fn remove_point(&mut self, x: f64, y: f64, radius: f64) -> Result<bool, JsError> {
        match edit::remove_point(&self.settings.scenario, &[x, y], radius).map_err(js_err)? {
            Some(sc) => {
                self.settings.scenario = sc;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Replaces the data with CSV rows `x1,…,xM,label`.
    pub fn import_csv(&mut self, text: &str) -> Result<(), JsError> {
        self.settings.scenario = edit::import_csv(&self.settings.scenario, text).map_err(js_err)?;
        Ok(())
    }

    /// The data as CSV.
    pub fn export_csv(&self) -> Result<String, JsError> {
        edit::to_csv(&self.settings.scenario).map_err(js_err)
    }

    /// An independent copy.
    pub fn copy(&self) -> Page {
        Page {
            settings: self.settings.clone(),
            errors: vec![],
        }
    }
}
