//! What can stop a report, each variant naming the file or figure concerned.

/// Everything that can go wrong while reading a run or drawing its pictures.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Loading the run's config, metrics, data or embeddings failed.
    #[error(transparent)]
    Train(#[from] siamese_train::TrainError),
    /// Embedding the images or searching their neighbours failed.
    #[error(transparent)]
    Eval(#[from] siamese_eval::EvalError),
    /// Writing a picture or `report.md` failed; the previous file, if any, is intact.
    #[error(transparent)]
    Write(#[from] siamese_io::WriteError),
    /// The run's data cannot be pictured as asked (no test pairs, images that are not 2-D...).
    #[error("{what}")]
    Unsuitable {
        /// What is missing or malformed.
        what: String,
    },
    /// The embedded font was rejected by the text renderer.
    #[error("the embedded DejaVu Sans font could not be registered with plotters")]
    Font,
    /// Drawing a figure failed.
    #[error("drawing {figure}: {message}")]
    Draw {
        /// The figure's file name.
        figure: &'static str,
        /// The plotting library's message.
        message: String,
    },
    /// Encoding a figure as PNG failed.
    #[error("encoding {figure} as PNG")]
    Encode {
        /// The figure's file name.
        figure: &'static str,
        /// The encoder's error.
        source: image::ImageError,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
