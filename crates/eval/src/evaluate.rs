//! Whole-run evaluation: what `siamese eval` computes, as a library call.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use siamese_train::{
    Config, EvalReport, PreparedData, TrainedModel, best_threshold, embedded_pair_distances,
    score_pairs,
};

use crate::baseline::pixel_features;
use crate::error::Result;
use crate::index::Index;
use crate::metrics::{
    RetrievalMetrics, equal_error_rate, knn_accuracy, relevant_counts, retrieval_metrics, roc_auc,
};
use crate::split::{Split, load_split};

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

/// Evaluates a trained tower on the data of its run's `config` (with `data.dir` resolved):
/// pair accuracy at the config's and the validation-tuned threshold, ROC AUC and EER of the
/// test pairs, k-NN accuracy against the training images, retrieval over the test images,
/// and the same k-NN and retrieval figures on raw pixels. Pairs and splits are exactly
/// those of training (same seed).
pub fn evaluate(
    model: &TrainedModel,
    config: &Config,
    options: &EvalOptions,
) -> Result<EvalReport> {
    let start = Instant::now();
    let data = PreparedData::load(config)?;
    let gallery = load_split(config, Split::Train)?;
    let loss = config.loss.contrastive()?;
    let threshold = config.loss.threshold();

    let val = model.embed(&data.validation)?;
    let val_d = embedded_pair_distances(&val, &data.validation_pairs, loss.eps);
    let (tuned, val_acc) = best_threshold(&val_d, &data.validation_pairs);
    let test = model.embed(&data.test)?;
    let test_d = embedded_pair_distances(&test, &data.test_pairs, loss.eps);
    let at_threshold = score_pairs(&test_d, &data.test_pairs, &loss, threshold);
    let at_tuned = score_pairs(&test_d, &data.test_pairs, &loss, tuned);
    let similarity: Vec<f32> = test_d.iter().map(|d| -d).collect();
    let similar: Vec<bool> = data.test_pairs.iter().map(|p| p.similar).collect();

    let learned = embedding_figures(
        model.embed(&gallery)?,
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
        distance: if model.normalizes_embeddings() {
            "euclidean between unit-length (L2-normalized) embeddings".into()
        } else {
            "euclidean".into()
        },
        definitions: definitions(gallery.len(), data.test.len(), data.test_pairs.len()),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// What each group of figures of [`evaluate`] measures, for `eval.json`.
fn definitions(
    index_images: usize,
    test_images: usize,
    test_pairs: usize,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "pairs".into(),
            format!(
                "{test_pairs} seeded test pairs (classic recipe, half similar); predicted \
                 similar when the distance is below the threshold; ROC AUC and EER of the \
                 negated distance"
            ),
        ),
        (
            "knn".into(),
            format!(
                "each of the {test_images} test images queries the {index_images} training \
                 images (the whole training file, validation holdout included); 1-NN: the \
                 nearest one's label; 5-NN: majority of the 5 nearest, ties to the nearest"
            ),
        ),
        (
            "retrieval".into(),
            format!(
                "each of the {test_images} test images queries the other test images \
                 (leave-one-out); R = the number of other test images of its class; \
                 precision@1, R-precision and MAP@R as pytorch-metric-learning's \
                 AccuracyCalculator defines them"
            ),
        ),
        (
            "raw".into(),
            "the same k-NN and retrieval figures with raw pixels (p / 255) as the embedding".into(),
        ),
    ])
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
