//! # Pullback
//!
//! Geometrically adapted gradient flows for deep learning (T. Chen, arXiv 2311.15487), as a
//! numerical core shared by a browser playground and a command-line tool.
//!
//! The standard gradient flow `∂ₛθ = −Dᵀ∇ₓC` moves the network outputs `x̲` with the neural
//! tangent kernel `DDᵀ`; the adapted flow `∂ₛθ = −D⁺∇ₓC` pulls back the Euclidean gradient flow of
//! the output layer, so that with full rank `x̲(s) − y̲ = e^{−s/N}(x̲(0) − y̲)` and
//! `C(s) = e^{−2s/N} C(0)` exactly.
//!
//! Data flows one way: a [`scenario::Scenario`] becomes a [`session::Session`], which emits
//! frames and a [`scenario::Trace`].
#![deny(missing_docs)]

pub mod bench;
pub mod construct;
pub mod critical;
pub mod data;
pub mod diagnostics;
pub mod error;
pub mod fast;
pub mod flow;
pub mod hessian;
pub mod integrate;
pub mod kernels;
pub mod linalg;
pub mod net;
pub mod ntk;
pub mod plot;
pub mod presets;
pub mod rng;
pub mod scenario;
pub mod session;
pub mod tagged;
/// The benchmark's wasm export. When `src/web/mod.rs` exists (the page's glue), this belongs there
/// as `pub mod bench;` and this item goes.
#[cfg(target_arch = "wasm32")]
#[path = "web/bench.rs"]
pub mod web_bench;

pub use error::{Error, Result};
