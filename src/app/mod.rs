//! The page's model, independent of the browser: the worker protocol and its host, what the panels
//! show about a run, the board that turns frames into figures and readouts, scenario editing, and
//! the URL hash; and the replay of finished traces onto a board (the command line's figures).

pub mod board;
pub mod edit;
pub mod inspect;
pub mod protocol;
pub mod replay;
pub mod share;
pub mod view;
