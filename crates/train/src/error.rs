use std::path::PathBuf;

use crate::config::InvalidField;

/// Everything that can stop an experiment.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The config file is not valid RON for a [`crate::Config`].
    #[error("{}:{line}:{column}: {message}", path.display())]
    ConfigSyntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// The config parses but a value makes no sense.
    #[error("{}: {invalid}", path.display())]
    ConfigInvalid {
        /// The config file.
        path: PathBuf,
        /// The field and its bad value.
        invalid: InvalidField,
    },
    /// A config value that only turns out wrong once the data is known.
    #[error("config: {0}")]
    ConfigVsData(InvalidField),
    /// Loading or preparing the data failed.
    #[error(transparent)]
    Data(#[from] siamese_data::DataError),
    /// Building or running the tower failed.
    #[error(transparent)]
    Nn(#[from] siamese_nn::NnError),
    /// The loss rejected its inputs.
    #[error(transparent)]
    Loss(#[from] siamese_loss::LossError),
    /// A run file (config, metrics, summary, evaluation figures, tower, checkpoint) that
    /// cannot be read or written, or whose content is not what this build writes.
    #[error(transparent)]
    File(#[from] siamese_io::FileError),
    /// Data whose size does not fit the model, e.g. images of another pixel count.
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch {
        /// What was compared.
        what: &'static str,
        /// What the model needs.
        expected: String,
        /// What it was given.
        found: String,
    },
    /// A checkpoint that cannot continue this run.
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What does not match.
        message: String,
    },
    /// The observer asked the run to stop after a finished epoch.
    #[error(
        "stopped after epoch {epoch} as asked; the checkpoint is in {}: train again with \
         --resume to continue",
        run_dir.display()
    )]
    Stopped {
        /// The last finished epoch (1-based).
        epoch: usize,
        /// The run directory.
        run_dir: PathBuf,
    },
    /// Another training run holds the run directory ([`crate::RunDir::lock`]).
    #[error(
        "run directory {} is in use by another training run ({}); wait for it or choose \
         another --out",
        run_dir.display(),
        holder(*pid)
    )]
    RunInUse {
        /// The run directory.
        run_dir: PathBuf,
        /// The holder's process id, when it could be read.
        pid: Option<u32>,
    },
    /// A run that is still being trained was opened for reading: its files are not final.
    #[error(
        "{} is being trained by {}; its tower is not final yet (wait for the run to finish)",
        run_dir.display(),
        holder(*pid)
    )]
    RunBeingTrained {
        /// The run directory.
        run_dir: PathBuf,
        /// The training process's id, when it could be read.
        pid: Option<u32>,
    },
    /// The loss or a gradient became NaN or infinite.
    #[error(
        "non-finite {what} at epoch {epoch}, step {step}: training stopped; the checkpoint of \
         the last finished epoch is kept (try a lower learning rate)"
    )]
    NonFinite {
        /// `"loss"` or `"gradient"`.
        what: &'static str,
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
    },
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {message}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        message: String,
    },
    /// A bug: a state the code should never reach.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The result type of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub(crate) fn mismatch(
        what: &'static str,
        expected: impl std::fmt::Display,
        found: impl std::fmt::Display,
    ) -> Self {
        TrainError::Mismatch {
            what,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

/// "pid 1234", or "a process of unknown pid" in the instant before the holder writes it.
fn holder(pid: Option<u32>) -> String {
    pid.map_or_else(
        || "a process of unknown pid".to_owned(),
        |pid| format!("pid {pid}"),
    )
}

impl From<siamese_io::WriteError> for TrainError {
    fn from(error: siamese_io::WriteError) -> Self {
        TrainError::File(error.into())
    }
}
