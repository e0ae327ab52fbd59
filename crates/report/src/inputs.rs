//! A finished run loaded for pictures: its files, its data as training saw it, and the
//! embeddings of its test and training images.

use std::path::PathBuf;

use ndarray::Array2;
use siamese_eval::Index;
use siamese_train::{
    Config, EpochMetrics, EvalReport, PreparedData, RunDir, Summary, TrainedModel,
    embedded_pair_distances,
};

use crate::Result;

/// Everything the report shows, read from the run directory and computed once.
pub struct ReportInputs {
    /// The run directory.
    pub run: RunDir,
    /// The run's resolved config (with the data directory actually used).
    pub config: Config,
    /// `summary.json`.
    pub summary: Summary,
    /// `metrics.jsonl`, one entry per finished epoch.
    pub metrics: Vec<EpochMetrics>,
    /// `eval.json`, when the run has been evaluated.
    pub eval: Option<EvalReport>,
    /// The trained tower, which also carries the class names every picture and table uses
    /// ([`TrainedModel::class_name`]).
    pub model: TrainedModel,
    /// The data exactly as training prepared it: same limits, holdout and pairs.
    pub data: PreparedData,
    /// The training images' embeddings, searchable (for the nearest neighbours).
    pub train_index: Index,
    /// One embedding per test image.
    pub test_embeddings: Array2<f32>,
    /// Distance of every test pair (`data.test_pairs`).
    pub test_distances: Vec<f32>,
}

impl ReportInputs {
    /// Loads the finished run in `run` and embeds its images. The data directory is
    /// `data` when given, else `SIAMESE_DATA_DIR`, else the one in the run's config.
    ///
    /// # Errors
    /// A run still being trained ([`siamese_train::TrainError::RunBeingTrained`]); a
    /// missing or malformed run file (config, summary, metrics, tower, eval.json) or data
    /// directory.
    pub fn load(run: RunDir, data: Option<PathBuf>) -> Result<Self> {
        // First: a run in training may lack summary.json, which would be the error shown.
        run.check_not_training()?;
        let config = run.read_config_with_data(data)?;
        let summary = run.read_summary()?;
        let metrics = run.read_metrics()?;
        let eval = if run.eval_path().exists() {
            Some(run.read_eval()?)
        } else {
            None
        };
        let model = run.read_model()?;
        let data = PreparedData::load(&config)?;
        let test_embeddings = model.embed(&data.test)?;
        let train_index = Index::new(model.embed(&data.train)?, data.train.labels().to_vec())?;
        let eps = config.loss.contrastive()?.eps;
        let test_distances = embedded_pair_distances(&test_embeddings, &data.test_pairs, eps);
        Ok(Self {
            run,
            config,
            summary,
            metrics,
            eval,
            model,
            data,
            train_index,
            test_embeddings,
            test_distances,
        })
    }

    /// The threshold the run's test accuracy was reported at.
    pub fn threshold(&self) -> f32 {
        self.summary.threshold
    }
}
