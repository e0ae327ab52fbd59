use std::path::PathBuf;

use crate::config::InvalidField;

/// Everything that can stop an experiment.
///
/// A variant that wraps an operating-system error returns it as its
/// [`source`](std::error::Error::source) and leaves it out of its own message, so a printed
/// chain of causes says it once.
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
    /// A config value that only turns out wrong once the data or the machine is known, e.g.
    /// a `data.train_limit` beyond the training images or more threads than the cores can
    /// take.
    #[error("config: {0}")]
    ConfigVsData(InvalidField),
    /// Training (or its pairs) would need more memory than the machine has: refused
    /// before any of it is allocated.
    #[error(
        "{what} would need {} of memory, more than the {} {limit_kind}: {details}",
        bytes(*needed),
        bytes(*limit)
    )]
    Memory {
        /// What needs it: `"training"` or `"the training pairs"`.
        what: &'static str,
        /// The sizes and config fields that make up the need.
        details: String,
        /// Bytes needed (estimated).
        needed: u64,
        /// Bytes there are.
        limit: u64,
        /// `"available"` (free memory now), or `"addressable"` where that is unknown.
        limit_kind: &'static str,
    },
    /// A run directory path that names a file.
    #[error("{} is a file, not a directory; expected a run directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The run directory cannot be created.
    #[error("cannot create the run directory {}", path.display())]
    CreateRunDir {
        /// The run directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A run directory to read that does not exist.
    #[error("{}: no such run directory; train it first", path.display())]
    NoRunDir {
        /// The path given.
        path: PathBuf,
    },
    /// A run directory without a trained tower: never trained, or stopped before the end.
    #[error(
        "{} has no trained tower ({tower_file}): {}",
        path.display(),
        if *resumable {
            format!(
                "its training stopped before the end; finish it with `siamese train CONFIG \
                 --out {} --resume`",
                path.display()
            )
        } else {
            "train it first".to_owned()
        }
    )]
    NotTrained {
        /// The run directory.
        path: PathBuf,
        /// The name of the tower file it lacks.
        tower_file: &'static str,
        /// Whether it holds a checkpoint to resume from.
        resumable: bool,
    },
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
    /// The observer asked the run to stop (e.g. on Ctrl-C); a checkpoint of the point
    /// where it stopped is in the run directory, and `--resume` continues exactly.
    #[error(
        "stopped {} as asked; the checkpoint is in {}: train again with --resume to continue",
        stop_point(*epoch, *step),
        run_dir.display()
    )]
    Stopped {
        /// The epoch stopped in or after (1-based).
        epoch: usize,
        /// Steps done of that epoch when stopped within it; 0 when stopped after it.
        step: usize,
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

/// Where a stopped run stopped, as [`TrainError::Stopped`] says it: `after epoch 3` (at an
/// epoch's end, `step` 0) or `at step 56 of epoch 3`.
pub fn stop_point(epoch: usize, step: usize) -> String {
    if step == 0 {
        format!("after epoch {epoch}")
    } else {
        format!("at step {step} of epoch {epoch}")
    }
}

/// `bytes` in the largest unit that keeps it above 1, e.g. `50.2 GB`.
fn bytes(bytes: u64) -> String {
    let b = bytes as f64;
    match b {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        _ => format!("{bytes} bytes"),
    }
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
