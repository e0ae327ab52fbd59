use std::path::PathBuf;

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
    /// Reading or writing a model file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model file that is not a valid tower file.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong, expected vs found.
        message: String,
    },
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

impl From<siamese_io::FileError> for NnError {
    fn from(error: siamese_io::FileError) -> Self {
        match error {
            siamese_io::FileError::Io { path, source } => NnError::Io { path, source },
            siamese_io::FileError::Format { path, message } => NnError::Format { path, message },
        }
    }
}
