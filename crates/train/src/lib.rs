//! Training of Siamese embedding towers: an experiment config in, a run directory out.
//!
//! A [`Config`] (parsed from RON) names the data, the tower, the contrastive loss, Adam's
//! settings and the schedule. [`train`] loads the data, makes pairs (indices, never image
//! copies), and runs minibatches of pairs: the left and right images of every pair are
//! stacked into one batch so each layer is one matrix product for both towers. A minibatch is
//! split into shards of fixed size computed in parallel (rayon) whose gradients are summed in
//! a fixed order, so a run gives the same numbers on any number of threads. After every
//! epoch the run directory gets `metrics.jsonl` and a checkpoint; at the end the trained
//! tower and `summary.json`.
//!
//! ```no_run
//! use siamese_train::{Config, RunOptions, Silent, train};
//! let config = Config::load("configs/base.ron".as_ref())?;
//! let summary = train(&config, &RunOptions::default(), &mut Silent)?;
//! println!("test pair accuracy {:.2}%", 100.0 * summary.test_accuracy);
//! # Ok::<(), siamese_train::TrainError>(())
//! ```

mod adam;
mod checkpoint;
mod config;
mod error;
mod eval;
mod trainer;

pub use adam::Adam;
pub use config::{
    Config, DataConfig, FirstLayer, HoldoutFrom, InvalidField, LossConfig, ModelConfig,
    Normalization, OptimizerConfig, OutputConfig, Overrides, PairRecipe, TrainingConfig,
    Validation,
};
pub use error::{Result, TrainError};
pub use eval::{PairScore, best_threshold, embed, pair_distances, score_pairs};
pub use trainer::{
    EpochMetrics, IMAGE_SHAPE_KEY, NORMALIZER_KEY, Observer, PreparedData, RunInfo, RunOptions,
    Silent, StepContext, StepProgress, Stepper, Summary, files, read_metrics, resolve_threads,
    train,
};
