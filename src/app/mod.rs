//! The page's model, independent of the browser: the worker protocol and its host, what the panels
//! show about a run, the board that turns frames into figures and readouts, scenario editing, and
//! the URL hash.

pub mod board;
pub mod edit;
pub mod inspect;
pub mod protocol;
pub mod share;
pub mod view;
