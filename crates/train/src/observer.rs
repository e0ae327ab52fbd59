//! How the training loop reports progress: the CLI draws its progress bars from these
//! calls; the loop itself prints nothing.

use std::path::PathBuf;

use crate::run::EpochMetrics;

/// Live progress of the current epoch.
#[derive(Clone, Copy, Debug)]
pub struct StepProgress {
    /// 1-based epoch.
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step: usize,
    /// Steps in this epoch.
    pub steps: usize,
    /// Mean loss so far this epoch.
    pub loss: f64,
    /// Pair accuracy so far this epoch.
    pub accuracy: f64,
    /// Pairs per second so far this epoch.
    pub pairs_per_second: f64,
}

/// What the loop tells the outside world; the CLI draws progress bars from it.
///
/// `Send` because the loop runs inside its own thread pool.
pub trait Observer: Send {
    /// The data is loaded and training is about to start.
    fn started(&mut self, _info: &RunInfo) {}
    /// An epoch starts.
    fn epoch_started(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    /// A step finished.
    fn step(&mut self, _progress: &StepProgress) {}
    /// A checkpoint within an epoch was written (see `training.checkpoint_every`) after
    /// `step` steps of `epoch` (1-based).
    fn checkpoint_written(&mut self, _epoch: usize, _step: usize) {}
    /// An epoch finished and was checkpointed.
    fn epoch_finished(&mut self, _metrics: &EpochMetrics) {}
    /// Asked after every step and every epoch: `true` stops the run there with a checkpoint
    /// of that point and [`crate::TrainError::Stopped`]; `--resume` continues it exactly.
    /// Meant to be cheap (e.g. reading a flag that a Ctrl-C handler sets).
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;
impl Observer for Silent {}

/// Facts about a run, known once its data is loaded.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Training images, validation images, test images.
    pub images: (usize, usize, usize),
    /// Training pairs per epoch, validation pairs, test pairs.
    pub pairs: (usize, usize, usize),
    /// Whether the first layer skips zero pixels.
    pub sparse_first_layer: bool,
    /// Share of non-zero training pixels.
    pub pixel_density: f64,
    /// Parameters of the tower.
    pub params: usize,
    /// Worker threads.
    pub threads: usize,
    /// Finished epochs the run starts after (0 unless resumed).
    pub start_epoch: usize,
    /// Steps already done of the epoch after `start_epoch` (0 unless resumed mid-epoch).
    pub start_step: usize,
    /// `--resume` was asked but the run directory had no checkpoint yet (e.g. the run was
    /// killed in its first epoch), so the run starts from the beginning.
    pub nothing_to_resume: bool,
    /// How a user's image collection loaded (skips, ignored files, cache); `None` for IDX.
    pub load_report: Option<siamese_data::LoadReport>,
}
