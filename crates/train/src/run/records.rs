//! The records a run directory holds as JSON, typed: one struct per file, read and written
//! only through [`super::RunDir`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Figures of one finished epoch, as written to `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps (weights changing as it goes).
    pub train_loss: f64,
    /// Training pair accuracy at the threshold, over the same steps.
    pub train_accuracy: f64,
    /// Validation loss after the epoch.
    pub val_loss: f64,
    /// Validation pair accuracy after the epoch.
    pub val_accuracy: f64,
    /// Wall time of the epoch's training steps.
    pub seconds: f64,
    /// Wall time of the validation pass.
    pub eval_seconds: f64,
    /// Training pairs per second.
    pub pairs_per_second: f64,
}

/// Final figures of a run, as written to `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Test pair accuracy at `threshold`.
    pub test_accuracy: f64,
    /// Mean test contrastive loss.
    pub test_loss: f64,
    /// The decision threshold of the config.
    pub threshold: f32,
    /// The threshold that maximizes validation accuracy.
    pub tuned_threshold: f32,
    /// Validation accuracy at `tuned_threshold`.
    pub val_accuracy_tuned: f64,
    /// Test pair accuracy at `tuned_threshold`.
    pub test_accuracy_tuned: f64,
    /// Epochs trained in all.
    pub epochs: usize,
    /// Training wall time summed over epochs (validation excluded).
    pub train_seconds: f64,
    /// Training pairs per second over the whole run (images per second for class-balanced
    /// batches).
    pub pairs_per_second: f64,
    /// Images through the tower in training, all epochs (each pair counts two): the budget
    /// recipes are compared at.
    #[serde(default)]
    pub image_passes: u64,
    /// The seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// `"sparse"` or `"dense"`.
    pub first_layer: String,
    /// Training pairs per epoch.
    pub train_pairs: usize,
    /// Test pairs.
    pub test_pairs: usize,
    /// Where the trained tower is.
    pub tower: PathBuf,
    /// The name of each class, by label, when the data named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// How a user's image collection loaded; absent for IDX files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<SourceSummary>,
}

/// How an image collection (`data.source` other than `Idx`) loaded, for `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceSummary {
    /// Images in the collection (train and test), after skips.
    pub images: usize,
    /// Files that are not images (or hidden), ignored.
    pub ignored_files: usize,
    /// Folders nested below a class folder, ignored.
    pub ignored_dirs: usize,
    /// Class folders with no image, left out (under `on_bad_image: Skip`).
    pub empty_class_folders: Vec<PathBuf>,
    /// Images left out as unusable (under `on_bad_image: Skip`).
    pub skipped: usize,
    /// The first ten of them, each `path: reason`.
    pub skipped_examples: Vec<String>,
    /// Whether the decoded images came from the cache.
    pub from_cache: bool,
}

impl From<&siamese_data::LoadReport> for SourceSummary {
    fn from(report: &siamese_data::LoadReport) -> Self {
        Self {
            images: report.images,
            ignored_files: report.ignored_files,
            ignored_dirs: report.ignored_dirs,
            empty_class_folders: report.empty_class_folders.clone(),
            skipped: report.skipped_count,
            skipped_examples: report.skipped.iter().map(ToString::to_string).collect(),
            from_cache: report.from_cache,
        }
    }
}

/// Every figure of `siamese eval`, as written to `eval.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Test pairs scored.
    pub test_pairs: usize,
    /// The config's decision threshold on the distance.
    pub threshold: f32,
    /// Test pair accuracy at `threshold`.
    pub pair_accuracy: f64,
    /// Mean contrastive loss of the test pairs.
    pub test_loss: f64,
    /// The threshold that classifies the most validation pairs right.
    pub tuned_threshold: f32,
    /// Validation pair accuracy at `tuned_threshold`.
    pub val_pair_accuracy_tuned: f64,
    /// Test pair accuracy at `tuned_threshold`.
    pub pair_accuracy_tuned: f64,
    /// ROC AUC of the (negated) distance for similar vs dissimilar test pairs.
    pub roc_auc: f64,
    /// Equal error rate of the same.
    pub eer: f64,
    /// Training images in the k-NN index.
    pub index_images: usize,
    /// Test images (k-NN queries and retrieval set).
    pub test_images: usize,
    /// 1-NN accuracy of the learned embeddings.
    pub knn1_accuracy: f64,
    /// 5-NN accuracy of the learned embeddings.
    pub knn5_accuracy: f64,
    /// Precision@1 over the test embeddings.
    pub precision_at_1: f64,
    /// R-precision over the test embeddings.
    pub r_precision: f64,
    /// MAP@R over the test embeddings.
    pub map_at_r: f64,
    /// 1-NN accuracy on raw pixels (when computed).
    pub raw_knn1_accuracy: Option<f64>,
    /// 5-NN accuracy on raw pixels.
    pub raw_knn5_accuracy: Option<f64>,
    /// Precision@1 on raw pixels.
    pub raw_precision_at_1: Option<f64>,
    /// R-precision on raw pixels.
    pub raw_r_precision: Option<f64>,
    /// MAP@R on raw pixels.
    pub raw_map_at_r: Option<f64>,
    /// The distance every figure uses, e.g. `"euclidean"` or `"euclidean between unit-length
    /// embeddings"` (empty in files written before it was recorded).
    #[serde(default)]
    pub distance: String,
    /// How each group of figures is defined: query set, index set, k or R (keys `pairs`,
    /// `knn`, `retrieval`, `raw`).
    #[serde(default)]
    pub definitions: BTreeMap<String, String>,
    /// Wall time of the evaluation.
    pub seconds: f64,
}

/// Mean novelty score of the test images of one class.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    /// The class.
    pub class: u32,
    /// Whether it was held out of training.
    pub novel: bool,
    /// Test images of the class.
    pub images: usize,
    /// Mean novelty score of the learned embeddings.
    pub mean_score: f64,
    /// Mean novelty score on raw pixels (when computed).
    pub raw_mean_score: Option<f64>,
}

/// The figures of `siamese anomaly`, as written to `anomaly.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomalyReport {
    /// Classes treated as novel (left out of training).
    pub held_out_classes: Vec<u32>,
    /// Neighbours averaged in the score.
    pub k: usize,
    /// Training images of the seen classes in the index.
    pub index_images: usize,
    /// Test images scored.
    pub test_images: usize,
    /// Of which of a held-out class.
    pub novel_images: usize,
    /// AUROC of the learned score for "held-out class vs seen classes".
    pub auroc: f64,
    /// The same on raw pixels.
    pub raw_auroc: Option<f64>,
    /// Mean scores per class.
    pub per_class: Vec<ClassScore>,
    /// Wall time.
    pub seconds: f64,
}
