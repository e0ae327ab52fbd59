/// Everything that can go wrong when embedding, searching or scoring.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Two inputs that must agree in size do not, e.g. queries of another dimension than
    /// the index, or fewer labels than scores.
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch {
        /// Which input, e.g. `"query dimension"`.
        what: &'static str,
        /// What the other side implies.
        expected: String,
        /// What was given.
        found: String,
    },
    /// An argument outside its valid range, e.g. `k = 0`.
    #[error("invalid {what} = {value}: expected {expected}")]
    Invalid {
        /// The argument.
        what: &'static str,
        /// Its value, as given.
        value: String,
        /// The valid range.
        expected: String,
    },
    /// A metric that is undefined for its input, e.g. a ROC AUC without any negative.
    #[error("{metric} is undefined: {reason}")]
    Undefined {
        /// The metric.
        metric: &'static str,
        /// Why, e.g. `"no positive samples"`.
        reason: String,
    },
    /// A file (search index, exported embeddings) that cannot be read or written, or is
    /// not what it should be, e.g. an index file of another version.
    #[error(transparent)]
    File(#[from] siamese_io::FileError),
    /// Loading data or normalizing pixels failed.
    #[error(transparent)]
    Data(#[from] siamese_data::DataError),
    /// Reading the run's config, preparing its data or embedding failed.
    #[error(transparent)]
    Train(#[from] siamese_train::TrainError),
}

/// The result type of this crate.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

pub(crate) fn mismatch(
    what: &'static str,
    expected: impl std::fmt::Display,
    found: impl std::fmt::Display,
) -> EvalError {
    EvalError::Mismatch {
        what,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

impl From<siamese_io::WriteError> for EvalError {
    fn from(error: siamese_io::WriteError) -> Self {
        EvalError::File(error.into())
    }
}
