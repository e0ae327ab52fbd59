//! The one error type of the crate, and the shape checks that produce it.

use std::fmt;

/// Invalid arguments to a loss or distance function.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LossError {
    /// A slice does not have the length implied by the other arguments.
    ShapeMismatch {
        /// Which argument, e.g. `"grad (2n × dim)"`.
        what: &'static str,
        /// The length implied by the other arguments.
        expected: usize,
        /// The slice's actual length.
        found: usize,
    },
    /// The embedding dimension is zero, so rows cannot be delimited.
    ZeroDim,
    /// The margin must be finite and strictly positive.
    InvalidMargin {
        /// The rejected margin.
        margin: f32,
    },
    /// The clamp on the squared distance must be finite and strictly positive;
    /// zero would bring back NaN gradients at d = 0.
    InvalidEps {
        /// The rejected epsilon.
        eps: f32,
    },
    /// A hyper-parameter of an in-batch loss is out of its range, e.g. a
    /// temperature that is not > 0.
    InvalidParameter {
        /// Which parameter, e.g. `"supervised contrastive temperature"`.
        name: &'static str,
        /// The rejected value.
        value: f32,
        /// The accepted range, e.g. `"finite and > 0"`.
        expected: &'static str,
    },
    /// The batch has so many rows that its `n × n` scratch matrices cannot be
    /// allocated (or `n²` overflows `usize`).
    BatchTooLarge {
        /// The number of rows of the batch.
        n: usize,
    },
    /// The operands of a matrix product do not fit. The losses check their slices first,
    /// so this only reports a broken invariant instead of panicking.
    Product(siamese_gemm::ShapeError),
}

// Hand-written rather than thiserror: this crate deliberately depends only on what its
// matrix products need (ndarray views and siamese-gemm).
impl fmt::Display for LossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShapeMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "shape mismatch in {what}: expected length {expected}, found {found}"
            ),
            Self::ZeroDim => write!(f, "embedding dimension must be at least 1, found 0"),
            Self::InvalidMargin { margin } => write!(
                f,
                "contrastive margin must be finite and > 0, found {margin}"
            ),
            Self::InvalidEps { eps } => {
                write!(f, "distance clamp eps must be finite and > 0, found {eps}")
            }
            Self::InvalidParameter {
                name,
                value,
                expected,
            } => write!(f, "{name} must be {expected}, found {value}"),
            Self::BatchTooLarge { n } => write!(
                f,
                "a batch of {n} rows is too large for its n × n scratch matrices"
            ),
            Self::Product(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LossError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Product(e) => e.source(),
            _ => None,
        }
    }
}

impl From<siamese_gemm::ShapeError> for LossError {
    fn from(e: siamese_gemm::ShapeError) -> Self {
        Self::Product(e)
    }
}

pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), LossError> {
    if expected == found {
        Ok(())
    } else {
        Err(LossError::ShapeMismatch {
            what,
            expected,
            found,
        })
    }
}

/// A contrastive margin must be finite and > 0.
pub(crate) fn check_margin(margin: f32) -> Result<(), LossError> {
    if margin.is_finite() && margin > 0.0 {
        Ok(())
    } else {
        Err(LossError::InvalidMargin { margin })
    }
}

pub(crate) fn check_eps(eps: f32) -> Result<(), LossError> {
    if eps.is_finite() && eps > 0.0 {
        Ok(())
    } else {
        Err(LossError::InvalidEps { eps })
    }
}

/// `dim` times `rows`, or a shape error when the product overflows (no slice
/// could be that long, so reporting `usize::MAX` as expected is honest enough).
pub(crate) fn rows_len(
    what: &'static str,
    rows: usize,
    dim: usize,
    found: usize,
) -> Result<(), LossError> {
    let expected = rows.checked_mul(dim).ok_or(LossError::ShapeMismatch {
        what,
        expected: usize::MAX,
        found,
    })?;
    check_len(what, expected, found)
}

/// `Ok` if `value` is finite and > 0, else [`LossError::InvalidParameter`].
pub(crate) fn check_positive(name: &'static str, value: f32) -> Result<(), LossError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(LossError::InvalidParameter {
            name,
            value,
            expected: "finite and > 0",
        })
    }
}

/// `Ok` if `value` is finite and >= 0, else [`LossError::InvalidParameter`].
pub(crate) fn check_non_negative(name: &'static str, value: f32) -> Result<(), LossError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(LossError::InvalidParameter {
            name,
            value,
            expected: "finite and >= 0",
        })
    }
}
