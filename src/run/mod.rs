//! Running the mathematics: the public formats ([`scenario`]: what to run and the trace of what
//! happened), a [`session::Session`] that integrates one scenario and emits its events, the named
//! presets, several flows in lockstep ([`lanes`]), grids of runs ([`sweep`]) and the benchmark
//! harness.

pub mod bench;
pub mod event;
pub mod lanes;
pub mod presets;
pub mod scenario;
pub mod session;
pub mod sweep;
