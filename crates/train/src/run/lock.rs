//! One writer per run directory: training holds an advisory lock (`flock`) on the run's
//! `.lock` file for the whole run; a second training run fails at once, and readers refuse a
//! run that is still being trained. The kernel drops the lock when its process dies, however
//! it dies, so a `.lock` file left by a killed run blocks nothing.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use fs4::{FileExt, TryLockError};
use siamese_io::FileError;

use super::RunDir;
use crate::{Result, TrainError};

/// The exclusive lock of a training run on its run directory ([`RunDir::lock`]); released
/// when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct RunLock {
    /// Open for as long as the lock is held: closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// The lock file, `.lock` in the run directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the run directory for this process, or fails at once when another holds it.
pub(super) fn acquire(run: &RunDir) -> Result<RunLock> {
    let path = run.lock_path();
    let io = |e| TrainError::from(FileError::io(&path, e));
    // Not truncated on open: until the lock is ours, the pid in it is the holder's.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    // Through the trait: std's `File::try_lock` (Rust 1.89) is newer than the MSRV.
    match FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(TrainError::RunInUse {
                run_dir: run.path().to_owned(),
                pid: holder(&path),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(RunLock { _file: file, path })
}

/// Fails when a training run holds the directory; a directory without a `.lock` (never
/// trained, or trained before there were locks) or with a released one passes.
pub(super) fn check_not_training(run: &RunDir) -> Result<()> {
    let path = run.lock_path();
    // Read-only, so that a reader works in a read-only run directory too.
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FileError::io(&path, e).into()),
    };
    // A shared lock only probes: it is released when `file` closes, right away.
    match FileExt::try_lock_shared(&file) {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(TrainError::RunBeingTrained {
            run_dir: run.path().to_owned(),
            pid: holder(&path),
        }),
        Err(TryLockError::Error(e)) => Err(FileError::io(&path, e).into()),
    }
}

/// The pid the holder wrote; `None` in the instant between its lock and its write.
fn holder(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
