//! A finished run loaded for pictures: its files, its data as training saw it, and the
//! embeddings of its test and training images.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use siamese_eval::{Embedder, Index};
use siamese_train::{
    Config, EpochMetrics, PreparedData, Summary, files, pair_distances, read_metrics,
};

use crate::{ReportError, Result};

/// Everything the report shows, computed once.
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// The run's resolved config (with the data directory actually used).
    pub config: Config,
    /// `summary.json`.
    pub summary: Summary,
    /// `metrics.jsonl`, one entry per finished epoch.
    pub metrics: Vec<EpochMetrics>,
    /// The data exactly as training prepared it: same limits, holdout and pairs.
    pub data: PreparedData,
    /// The training images' embeddings, searchable (for the nearest neighbours).
    pub train_index: Index,
    /// One embedding per test image.
    pub test_embeddings: Array2<f32>,
    /// Distance of every test pair (`data.test_pairs`).
    pub test_distances: Vec<f32>,
}

impl Run {
    /// Loads the run in `dir` and embeds its images. The data comes from `data_dir` when
    /// given, else from the directory in the run's config.
    ///
    /// # Errors
    /// A missing or malformed run file (config, summary, metrics, tower) or data directory.
    pub fn load(dir: &Path, data_dir: Option<&Path>) -> Result<Self> {
        let mut config = Config::load(&dir.join(files::CONFIG))?;
        if let Some(data_dir) = data_dir {
            config.data.dir = data_dir.to_owned();
        }
        let summary = read_summary(&dir.join(files::SUMMARY))?;
        let metrics = read_metrics(&dir.join(files::METRICS))?;
        // The tower with its stored normalizer and the run's first-layer choice.
        let embedder = Embedder::from_run_dir(dir)?;
        let data = PreparedData::load(&config)?;
        let test_embeddings = embedder.embed(&data.test)?;
        let train_index = Index::new(embedder.embed(&data.train)?, data.train.labels().to_vec())?;
        // The clamp training used (`Contrastive::new` keeps the default).
        let test_distances = pair_distances(
            &test_embeddings,
            &data.test_pairs,
            siamese_loss::DEFAULT_EPS,
        );
        Ok(Self {
            dir: dir.to_owned(),
            config,
            summary,
            metrics,
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

fn read_summary(path: &Path) -> Result<Summary> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ReportError::Json {
        path: path.to_owned(),
        source,
    })
}
