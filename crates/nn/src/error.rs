/// Everything that can go wrong when building, running, saving or loading a tower.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A tower spec that cannot describe a network.
    #[error("invalid tower spec: {field} = {value}: {reason}")]
    InvalidSpec {
        /// The offending field of [`crate::TowerSpec`].
        field: &'static str,
        /// Its value, as written.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// An array passed to a layer or tower has the wrong shape.
    #[error("shape mismatch for {what}: expected {expected}, found {found}")]
    Shape {
        /// Which array.
        what: &'static str,
        /// The shape the layer needs, e.g. `[256, 784]`.
        expected: String,
        /// The shape it got.
        found: String,
    },
    /// A parameter or gradient buffer whose length does not match the tower.
    #[error("{what} buffer holds {found} values, the tower needs {expected}")]
    BufferLength {
        /// `"parameter"` or `"gradient"`.
        what: &'static str,
        /// Values the tower needs.
        expected: usize,
        /// Values the buffer holds.
        found: usize,
    },
    /// A tower file that cannot be read or written, or is not a valid tower file.
    #[error(transparent)]
    File(#[from] siamese_io::FileError),
}

/// The layers check shapes before every product, so this conversion only turns what would
/// be a broken invariant into an error instead of a panic.
impl From<siamese_gemm::ShapeError> for NnError {
    fn from(e: siamese_gemm::ShapeError) -> Self {
        NnError::Shape {
            what: "matrix product",
            expected: "a m×k, b k×n and c m×n".into(),
            found: format!(
                "a {}×{}, b {}×{}, c {}×{}",
                e.a.0, e.a.1, e.b.0, e.b.1, e.c.0, e.c.1
            ),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

pub(crate) fn shape_error(what: &'static str, expected: &[usize], found: &[usize]) -> NnError {
    NnError::Shape {
        what,
        expected: format!("{expected:?}"),
        found: format!("{found:?}"),
    }
}
