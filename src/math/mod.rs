//! The mathematics: networks and data, the vector fields of the flows and their fast solves, exact
//! derivatives, integrators, per-sample diagnostics, rank loss and escape, and the constructive
//! minimizers. Depends only on the base modules and [`crate::linalg`].

pub mod closed_form;
pub mod construct;
pub mod critical;
pub mod data;
pub mod diagnostics;
pub mod eigenmodes;
pub mod fast;
pub mod flow;
pub mod gram;
pub mod hessian;
pub mod integrate;
pub mod model;
pub mod net;
pub mod ntk;
pub mod rank;
pub mod units;
