//! The benchmark as a wasm export (wasm32 only): [`bench_run`] runs [`crate::run::bench::run`] with the
//! host's `performance.now()` as the clock and the size of the wasm linear memory as the heap.
//!
//! Glue only: it converts and computes nothing. It works in a worker, on the page and in node
//! (anything whose global object has `performance.now`).

use crate::run::bench::{self, Probe};
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// `performance.now()` of the global object, in seconds.
struct JsProbe {
    performance: JsValue,
    now: Function,
}

impl JsProbe {
    fn new() -> Result<Self, JsError> {
        let performance = Reflect::get(&js_sys::global(), &"performance".into())
            .map_err(|_| JsError::new("bench: the global object has no `performance`"))?;
        let now = Reflect::get(&performance, &"now".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| JsError::new("bench: `performance.now` is not a function"))?;
        Ok(JsProbe { performance, now })
    }
}

impl Probe for JsProbe {
    fn now(&mut self) -> f64 {
        self.now
            .call0(&self.performance)
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
            * 1e-3
    }

    fn heap_bytes(&mut self) -> Option<u64> {
        // The linear memory only grows: if it does not, nothing leaked past the allocator.
        Some(core::arch::wasm32::memory_size(0) as u64 * 65_536)
    }
}

/// Runs the benchmark: `config_json` is a [`bench::BenchConfig`] (`""` or `"{}"` for the
/// defaults: every scenario that is not native-only); returns `{"report": …, "table": "…"}` or
/// `{"error": "…"}` as JSON (the report's schema is in README, "Benchmark").
///
/// Errors: a host without `performance.now`.
#[wasm_bindgen]
pub fn bench_run(config_json: &str) -> Result<String, JsError> {
    let mut probe = JsProbe::new()?;
    Ok(bench::bench_run(config_json, &mut probe))
}
