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
//! This crate is also the *run layer*: [`RunDir`] names every file of a run directory and
//! is the one way to read or write each (typed: [`Summary`], [`EpochMetrics`],
//! [`EvalReport`], ...), and [`TrainedModel`] is the trained model (tower, parameters,
//! normalizer, image shape, and the one rule for dense or sparse input,
//! [`uses_sparse_input`]). Training writes a run; `siamese-eval`, `siamese-report` and the
//! CLI read it.
//!
//! ```no_run
//! use siamese_train::{Config, RunOptions, Silent, train};
//! let config = Config::load("configs/base.ron".as_ref())?;
//! let summary = train(&config, &RunOptions::default(), &mut Silent)?;
//! println!("test pair accuracy {:.2}%", 100.0 * summary.test_accuracy);
//!
//! // Later, or in another program: the finished run, read back.
//! let run = siamese_train::RunDir::new(&config.output.dir);
//! let model = run.read_model()?;
//! let test = siamese_data::Mnist::load(&config.data.dir)?.test;
//! assert_eq!(model.embed(&test)?.nrows(), test.len());
//! # Ok::<(), siamese_train::TrainError>(())
//! ```

mod adam;
mod batch;
mod batch_step;
mod config;
mod epoch_steps;
mod error;
mod model;
mod observer;
mod prepare;
mod run;
mod score;
mod seeds;
mod source;
mod step;
mod training;

pub use adam::Adam;
pub use batch_step::{BatchStepContext, BatchStepper};
pub use config::{
    AugmentSchedule, BatchRecipe, CheckpointEvery, Config, DataConfig, DataSource, FirstLayer,
    HoldoutFrom, InvalidField, LossConfig, LrSchedule, MAX_THREADS_PER_CORE, ModelConfig,
    Normalization, Objective, OnBadImage, OptimizerConfig, OutputConfig, Overrides, PairRecipe,
    TrainingConfig, TripletMining, Validation, resolve_threads,
};
pub use error::{Result, TrainError, stop_point};
pub use model::{TrainedModel, pixel_density, uses_sparse_input};
pub use observer::{Observer, RunInfo, Silent, StepProgress};
pub use prepare::PreparedData;
pub use run::{
    AnomalyReport, CheckpointInfo, ClassScore, EpochMetrics, EvalReport, RunDir, RunLock,
    SourceSummary, Summary, write_json,
};
pub use score::{PairScore, best_threshold, embedded_pair_distances, score_pairs};
pub use source::{SourceImages, load_options};
pub use step::{StepContext, Stepper};
pub use training::{RunOptions, train};
