//! Whole-run evaluation and novelty detection: what `siamese eval` and `siamese anomaly`
//! compute, as library calls.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use siamese_data::{Dataset, Mnist};
use siamese_loss::Contrastive;
use siamese_train::{
    Config, PreparedData, TrainError, best_threshold, pair_distances, score_pairs,
};

use crate::embedder::{Embedder, pixel_features};
use crate::error::{EvalError, Result};
use crate::index::{Index, Neighbors};
use crate::metrics::{
    RetrievalMetrics, equal_error_rate, knn_accuracy, mean_knn_distance, relevant_counts,
    retrieval_metrics, roc_auc,
};

/// File names this crate writes into a run directory.
pub mod files {
    /// Evaluation figures ([`super::EvalReport`]).
    pub const EVAL: &str = "eval.json";
    /// Novelty-detection figures ([`super::AnomalyReport`]).
    pub const ANOMALY: &str = "anomaly.json";
    /// The search index of the training embeddings ([`crate::Index`]).
    pub const INDEX: &str = "index.safetensors";
    /// Default directory for exported embeddings.
    pub const EMBEDDINGS_DIR: &str = "embeddings";
}

/// Metadata key of an index: the [`Embedder::fingerprint`] of the tower that made it.
pub const INDEX_TOWER_KEY: &str = "siamese.tower_fingerprint";

/// A split of a run's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The whole training file (the config's `train_limit` applied, every class, file
    /// order, validation holdout included), so row `i` is training image `i`.
    Train,
    /// The test file (the config's `test_limit` applied).
    Test,
    /// The validation images exactly as training used them.
    Val,
}

impl Split {
    /// `"train"`, `"test"` or `"val"`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::Val => "val",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            "val" | "validation" => Ok(Split::Val),
            _ => Err(EvalError::Invalid {
                what: "split",
                value: s.to_owned(),
                expected: "train, test or val".into(),
            }),
        }
    }
}

/// Loads one split of the data of `config` (its `data.dir` must already be resolved).
pub fn load_split(config: &Config, split: Split) -> Result<Dataset> {
    match split {
        Split::Val => Ok(PreparedData::load(config)?.validation),
        Split::Train | Split::Test => {
            let Mnist { train, test } = Mnist::load(&config.data.dir)?;
            let (mut data, limit) = match split {
                Split::Train => (train, config.data.train_limit),
                _ => (test, config.data.test_limit),
            };
            if let Some(n) = limit {
                data.truncate(n);
            }
            Ok(data)
        }
    }
}

/// Embeds `data` and indexes it, recording the tower's fingerprint in the metadata so a
/// saved index can be checked against the tower later.
pub fn build_index(embedder: &Embedder, data: &Dataset) -> Result<Index> {
    let mut index = Index::new(embedder.embed(data)?, data.labels().to_vec())?;
    index
        .metadata_mut()
        .insert(INDEX_TOWER_KEY.into(), embedder.fingerprint());
    Ok(index)
}

/// What [`evaluate`] computes besides the learned embeddings' figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalOptions {
    /// Also score raw pixels (`p / 255`, 784-d) as embeddings: the baseline that shows what
    /// learning added. About 10 s on the full MNIST.
    pub raw_baseline: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self { raw_baseline: true }
    }
}

/// k-NN classification and retrieval figures of one kind of embedding.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingFigures {
    /// 1-NN accuracy of the test images against the training images.
    pub knn1_accuracy: f64,
    /// 5-NN accuracy (majority vote, ties to the nearest).
    pub knn5_accuracy: f64,
    /// Retrieval over the test set (each test image against the other test images).
    pub retrieval: RetrievalMetrics,
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
    /// Wall time of the evaluation.
    pub seconds: f64,
}

/// Evaluates a trained tower on the data of its run's `config` (with `data.dir` resolved):
/// pair accuracy at the config's and the validation-tuned threshold, ROC AUC and EER of the
/// test pairs, k-NN accuracy against the training images, retrieval over the test images,
/// and the same k-NN and retrieval figures on raw pixels. Pairs and splits are exactly
/// those of training (same seed).
pub fn evaluate(embedder: &Embedder, config: &Config, options: &EvalOptions) -> Result<EvalReport> {
    let start = Instant::now();
    let data = PreparedData::load(config)?;
    let gallery = load_split(config, Split::Train)?;
    let loss = Contrastive::new(config.loss.margin).map_err(TrainError::from)?;
    let threshold = config.loss.threshold();

    let val = embedder.embed(&data.validation)?;
    let val_d = pair_distances(&val, &data.validation_pairs, loss.eps);
    let (tuned, val_acc) = best_threshold(&val_d, &data.validation_pairs);
    let test = embedder.embed(&data.test)?;
    let test_d = pair_distances(&test, &data.test_pairs, loss.eps);
    let at_threshold = score_pairs(&test_d, &data.test_pairs, &loss, threshold);
    let at_tuned = score_pairs(&test_d, &data.test_pairs, &loss, tuned);
    let similarity: Vec<f32> = test_d.iter().map(|d| -d).collect();
    let similar: Vec<bool> = data.test_pairs.iter().map(|p| p.similar).collect();

    let learned = embedding_figures(
        embedder.embed(&gallery)?,
        gallery.labels(),
        test,
        data.test.labels(),
    )?;
    let raw = if options.raw_baseline {
        Some(embedding_figures(
            pixel_features(&gallery),
            gallery.labels(),
            pixel_features(&data.test),
            data.test.labels(),
        )?)
    } else {
        None
    };
    Ok(EvalReport {
        test_pairs: data.test_pairs.len(),
        threshold,
        pair_accuracy: at_threshold.accuracy,
        test_loss: at_threshold.loss,
        tuned_threshold: tuned,
        val_pair_accuracy_tuned: val_acc,
        pair_accuracy_tuned: at_tuned.accuracy,
        roc_auc: roc_auc(&similarity, &similar)?,
        eer: equal_error_rate(&similarity, &similar)?,
        index_images: gallery.len(),
        test_images: data.test.len(),
        knn1_accuracy: learned.knn1_accuracy,
        knn5_accuracy: learned.knn5_accuracy,
        precision_at_1: learned.retrieval.precision_at_1,
        r_precision: learned.retrieval.r_precision,
        map_at_r: learned.retrieval.map_at_r,
        raw_knn1_accuracy: raw.map(|r| r.knn1_accuracy),
        raw_knn5_accuracy: raw.map(|r| r.knn5_accuracy),
        raw_precision_at_1: raw.map(|r| r.retrieval.precision_at_1),
        raw_r_precision: raw.map(|r| r.retrieval.r_precision),
        raw_map_at_r: raw.map(|r| r.retrieval.map_at_r),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// k-NN accuracy (k = 1, 5) of `test` against `train`, and retrieval figures of `test`
/// against itself (leave-one-out, R = other test images of the query's class).
pub fn embedding_figures(
    train: Array2<f32>,
    train_labels: &[u32],
    test: Array2<f32>,
    test_labels: &[u32],
) -> Result<EmbeddingFigures> {
    let index = Index::new(train, train_labels.to_vec())?;
    let hits = index.search(test.view(), 5)?;
    let knn1_accuracy = knn_accuracy(&hits, test_labels, 1)?;
    let knn5_accuracy = knn_accuracy(&hits, test_labels, hits.k().min(5))?;
    drop(index);
    let test_index = Index::new(test, test_labels.to_vec())?;
    let relevant = relevant_counts(test_labels, test_labels, true);
    let max_r = relevant.iter().copied().max().unwrap_or(0).max(1);
    let retrieval = retrieval_metrics(&test_index.search_self(max_r)?, test_labels, &relevant)?;
    Ok(EmbeddingFigures {
        knn1_accuracy,
        knn5_accuracy,
        retrieval,
    })
}

/// Settings of [`detect_anomalies`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnomalyOptions {
    /// Neighbours whose mean distance is the novelty score.
    pub k: usize,
    /// Novel classes; `None` = the config's `data.exclude_classes`.
    pub classes: Option<Vec<u32>>,
    /// Also score raw pixels the same way.
    pub raw_baseline: bool,
}

impl Default for AnomalyOptions {
    fn default() -> Self {
        Self {
            k: 5,
            classes: None,
            raw_baseline: true,
        }
    }
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

/// Novelty detection: indexes the training images of the seen classes, scores each test
/// image by its mean distance to its `k` nearest ([`mean_knn_distance`]) and reports how
/// well the score separates the held-out classes (AUROC), learned vs raw pixels.
pub fn detect_anomalies(
    embedder: &Embedder,
    config: &Config,
    options: &AnomalyOptions,
) -> Result<AnomalyReport> {
    let start = Instant::now();
    let classes = options
        .classes
        .clone()
        .unwrap_or_else(|| config.data.exclude_classes.clone());
    if classes.is_empty() {
        return Err(EvalError::Invalid {
            what: "held-out classes",
            value: "[]".into(),
            expected: "at least one class: train with data.exclude_classes (configs/novelty.ron) \
                       or name the classes"
                .into(),
        });
    }
    let train = load_split(config, Split::Train)?;
    let seen: Vec<usize> = (0..train.len())
        .filter(|&i| !classes.contains(&train.label(i)))
        .collect();
    let gallery = train.subset(&seen);
    drop(train);
    let test = load_split(config, Split::Test)?;
    let novel: Vec<bool> = test.labels().iter().map(|l| classes.contains(l)).collect();

    let scores = novelty_scores(
        embedder.embed(&gallery)?,
        gallery.labels(),
        &embedder.embed(&test)?,
        options.k,
    )?;
    let auroc = roc_auc(&scores, &novel)?;
    let raw_scores = if options.raw_baseline {
        Some(novelty_scores(
            pixel_features(&gallery),
            gallery.labels(),
            &pixel_features(&test),
            options.k,
        )?)
    } else {
        None
    };
    let raw_auroc = raw_scores
        .as_deref()
        .map(|s| roc_auc(s, &novel))
        .transpose()?;
    let class_mean = |scores: &[f32], class: u32| {
        let (sum, n) = scores
            .iter()
            .zip(test.labels())
            .filter(|(_, l)| **l == class)
            .fold((0.0f64, 0usize), |(s, n), (v, _)| {
                (s + f64::from(*v), n + 1)
            });
        sum / n.max(1) as f64
    };
    let counts = test.class_counts();
    let per_class = (0..test.num_classes() as u32)
        .map(|class| ClassScore {
            class,
            novel: classes.contains(&class),
            images: counts[class as usize],
            mean_score: class_mean(&scores, class),
            raw_mean_score: raw_scores.as_deref().map(|s| class_mean(s, class)),
        })
        .collect();
    Ok(AnomalyReport {
        held_out_classes: classes,
        k: options.k,
        index_images: gallery.len(),
        test_images: test.len(),
        novel_images: novel.iter().filter(|&&b| b).count(),
        auroc,
        raw_auroc,
        per_class,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Novelty score of each query row: mean distance to its `k` nearest rows of `reference`.
pub fn novelty_scores(
    reference: Array2<f32>,
    reference_labels: &[u32],
    queries: &Array2<f32>,
    k: usize,
) -> Result<Vec<f32>> {
    let index = Index::new(reference, reference_labels.to_vec())?;
    let hits: Neighbors = index.search(queries.view(), k)?;
    mean_knn_distance(&hits, hits.k().min(k))
}
