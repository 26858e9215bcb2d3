//! The one error type of the core.

use thiserror::Error;

/// Everything that can go wrong in the core, each with a message a person can act on.
///
/// Input errors name the offending field with a dotted path (`net.widths[0]`, `data.labels[7]`),
/// so a scenario author can find it; numerical errors say what was being computed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A value in a scenario, dataset or message is invalid.
    #[error("{field}: {reason}")]
    Invalid {
        /// Dotted path of the offending field, e.g. `stop.s_max`.
        field: String,
        /// Why the value is rejected.
        reason: String,
    },
    /// A JSON document did not parse or did not match the format.
    #[error("{context}: {message}")]
    Parse {
        /// Which document (e.g. `scenario`).
        context: String,
        /// The parser's message, with line and column where known.
        message: String,
    },
    /// A problem is too large for the chosen computational path.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A computation produced NaN or infinity.
    #[error("non-finite value: {0}")]
    NonFinite(String),
    /// An adaptive integrator had to shrink its step below the floor: the field is discontinuous
    /// or singular there (e.g. `σ_min(D)` hovering at the rank threshold).
    #[error("step size underflow: {0}")]
    StepSize(String),
    /// A matrix that must be invertible (for a closed form) is singular to working precision.
    #[error("singular matrix: {0}")]
    Singular(String),
    /// An operation is not possible in the current state.
    #[error("{0}")]
    State(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
    /// A figure could not be drawn: the drawing backend failed.
    #[error("plot: {0}")]
    Plot(String),
    /// A value of a URL does not decode (base64url, percent escapes, UTF-8).
    #[error("{0}")]
    Encoding(String),
}

impl Error {
    /// Builds an [`Error::Invalid`] for `field` with `reason`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefixes the field path of an [`Error::Invalid`] with `prefix` (e.g. `scenario.`).
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Error::Invalid { field, reason } => Error::Invalid {
                field: format!("{prefix}{field}"),
                reason,
            },
            other => other,
        }
    }
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `x` is finite, naming `field` otherwise.
pub fn finite(field: &str, x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(Error::invalid(
            field,
            format!("must be a finite number, got {x}"),
        ))
    }
}

/// Checks that `x` is finite and strictly positive, naming `field` otherwise.
pub fn positive(field: &str, x: f64) -> Result<f64> {
    finite(field, x)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(Error::invalid(field, format!("must be > 0, got {x}")))
    }
}

/// Checks that `x` is finite and `>= 0`, naming `field` otherwise.
pub fn non_negative(field: &str, x: f64) -> Result<f64> {
    finite(field, x)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(Error::invalid(field, format!("must be >= 0, got {x}")))
    }
}
