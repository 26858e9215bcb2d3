//! The benchmark's wasm export in headless chromium: it runs, reports a wasm32 build with simd128,
//! and its figures are the core's (both flows of S, the adapted one on the Cholesky path).
#![cfg(target_arch = "wasm32")]

use serde_json::Value;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn bench_run_reports_from_the_browser() {
    let out = pullback::web::bench::bench_run(
        r#"{"quick": true, "only": ["S"], "no_reference": true, "memory_steps": 200}"#,
    )
    .expect("performance.now exists on a page");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert!(v.get("error").is_none(), "{out}");
    let r = &v["report"];
    assert_eq!(r["format"], "pullback-bench");
    assert_eq!(r["target"], "wasm32");
    assert_eq!(r["simd128"], true, "the wasm build must have simd128 on");
    let rows = r["results"].as_array().expect("results");
    assert_eq!(rows.len(), 2);
    for row in rows {
        // A time was measured; how fast is the benchmark's to print, not a test's to assert.
        let t = row["eval_seconds"]["median"].as_f64().unwrap();
        assert!(t > 0.0 && t.is_finite(), "{row}");
        console_log!("{}: {t:.3e} s per field evaluation", row["flow"]);
        assert!(row["steps_per_second"].as_f64().unwrap() > 0.0);
    }
    let adapted = &rows[1];
    assert_eq!(adapted["flow"], "adapted");
    assert!(
        adapted["paths"]["cholesky"].as_u64().unwrap() > 0,
        "{adapted}"
    );
    assert_eq!(adapted["paths"]["fallbacks"], 0);
    let mem = &r["memory"][0];
    assert_eq!(mem["before"], mem["after"], "wasm memory grew: {mem}");
    assert!(v["table"].as_str().unwrap().contains("wasm32 (simd128"));
    // A bad configuration is an error in the answer, not a panic.
    let bad = pullback::web::bench::bench_run(r#"{"only": ["XL"]}"#).unwrap();
    assert!(bad.contains("unknown scenario `XL`"), "{bad}");
    let bad = pullback::web::bench::bench_run(r#"{"qick": true}"#).unwrap();
    assert!(bad.contains("bench config"), "{bad}");
}
