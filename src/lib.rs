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
//! Data flows one way: a [`run::scenario::Scenario`] becomes a [`run::session::Session`], which
//! emits frames and a [`run::scenario::Trace`].
#![deny(missing_docs)]

pub mod app;
pub mod error;
pub mod linalg;
pub mod math;
pub mod plot;
pub mod rng;
pub mod run;
pub mod tagged;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
