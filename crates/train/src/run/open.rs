//! Run directories that are not there, or not what they should be: each case refused with
//! what to do about it, before any file in them is read or written.

use std::io;
use std::path::{Path, PathBuf};

use super::{RunDir, file};
use crate::{Result, TrainError};

impl RunDir {
    /// The finished run at `path`: a directory holding a trained tower.
    ///
    /// ```no_run
    /// let run = siamese_train::RunDir::open_trained("runs/base")?;
    /// let model = run.read_model()?;
    /// # Ok::<(), siamese_train::TrainError>(())
    /// ```
    ///
    /// # Errors
    /// [`TrainError::NoRunDir`] when `path` does not exist, [`TrainError::NotADirectory`]
    /// when it is a file, [`TrainError::RunBeingTrained`] while a run trains in it,
    /// [`TrainError::NotTrained`] when it has no tower file (saying
    /// whether a checkpoint could finish it).
    pub fn open_trained(path: impl Into<PathBuf>) -> Result<Self> {
        let run = Self::new(path);
        if !run.path.exists() {
            return Err(TrainError::NoRunDir { path: run.path });
        }
        if !run.path.is_dir() {
            return Err(TrainError::NotADirectory { path: run.path });
        }
        // A run in training has no final tower yet (or last run's): say that, not "missing".
        run.check_not_training()?;
        if !run.tower_path().is_file() {
            return Err(TrainError::NotTrained {
                resumable: run.checkpoint_path().is_file(),
                tower_file: file::TOWER,
                path: run.path,
            });
        }
        Ok(run)
    }
}

/// The error of creating the run directory `path`: a file in its place is named as such,
/// anything else keeps the operating system's reason as its source.
pub(super) fn create_error(path: &Path, source: io::Error) -> TrainError {
    if path.exists() && !path.is_dir() {
        TrainError::NotADirectory {
            path: path.to_owned(),
        }
    } else {
        TrainError::CreateRunDir {
            path: path.to_owned(),
            source,
        }
    }
}
