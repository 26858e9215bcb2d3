//! `pullback`: run scenarios natively, compare flows, sweep grids of scenarios on all cores, and
//! write JSON traces, tables and the page's figures (SVG or PNG).
//!
//! Exit status: 0 on success, 2 for a bad command line, scenario or spec (one line on stderr
//! naming the field), 1 when a file cannot be read or written.
//!
//! The commands live beside this file: `cli.rs` (the command line), `common.rs`, `progress.rs`,
//! `compare.rs`, `figures.rs`, `sweep.rs`; `run` and `bench` in `native.rs`, the whole CLI.

#[cfg(not(target_arch = "wasm32"))]
#[path = "pullback/native.rs"]
mod native;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

// `wasm-pack test` builds every target of the crate for wasm32, this binary included; its
// dependencies (clap, indicatif, png) are native-only, so it is empty there.
#[cfg(target_arch = "wasm32")]
fn main() {}
