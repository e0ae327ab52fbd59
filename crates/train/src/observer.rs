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
    /// An epoch finished and was checkpointed.
    fn epoch_finished(&mut self, _metrics: &EpochMetrics) {}
    /// Asked after every checkpointed epoch: `true` stops the run there with
    /// [`crate::TrainError::Stopped`]; `--resume` continues it exactly.
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
    /// The epoch the run starts from (0 unless resumed).
    pub start_epoch: usize,
}
