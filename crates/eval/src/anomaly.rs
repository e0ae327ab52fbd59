//! Novelty detection: what `siamese anomaly` computes, as a library call.

use std::time::Instant;

use ndarray::Array2;
use siamese_data::Dataset;
use siamese_train::{AnomalyReport, ClassScore, Config, TrainedModel};

use crate::baseline::pixel_features;
use crate::error::{EvalError, Result};
use crate::index::{Index, Neighbors};
use crate::metrics::{mean_knn_distance, roc_auc};
use crate::split::{Split, load_split};

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

/// Novelty detection: indexes the training images of the seen classes, scores each test
/// image by its mean distance to its `k` nearest ([`mean_knn_distance`]) and reports how
/// well the score separates the held-out classes (AUROC), learned vs raw pixels.
pub fn detect_anomalies(
    model: &TrainedModel,
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
    let gallery = seen_gallery(config, &classes)?;
    let test = load_split(config, Split::Test)?;
    let novel: Vec<bool> = test.labels().iter().map(|l| classes.contains(l)).collect();

    let scores = novelty_scores(
        model.embed(&gallery)?,
        gallery.labels(),
        &model.embed(&test)?,
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

/// The training images of the classes not in `held_out`: what a novelty score measures
/// distance to.
fn seen_gallery(config: &Config, held_out: &[u32]) -> Result<Dataset> {
    let train = load_split(config, Split::Train)?;
    let known = train.num_classes();
    if held_out.iter().any(|&c| c as usize >= known) {
        return Err(EvalError::Invalid {
            what: "held-out classes",
            value: format!("{held_out:?}"),
            expected: format!("classes of the data: 0 to {}", known.saturating_sub(1)),
        });
    }
    let seen: Vec<usize> = (0..train.len())
        .filter(|&i| !held_out.contains(&train.label(i)))
        .collect();
    Ok(train.subset(&seen))
}

/// The novelty of some images, scored as [`detect_anomalies`] scores test images, and
/// where each score falls among the test images' scores.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageNovelty {
    /// Neighbours whose mean distance is the score.
    pub k: usize,
    /// Training images scored against (those of the seen classes).
    pub index_images: usize,
    /// Test images whose scores the percentiles are taken among.
    pub test_images: usize,
    /// Each image's novelty score: its mean distance to its `k` nearest training embeddings.
    pub scores: Vec<f32>,
    /// Each image's percentile: the share of test images (in percent) whose score is
    /// lower; `None` when there are no test images.
    pub percentiles: Vec<Option<f64>>,
}

/// Scores `images` (e.g. read by [`TrainedModel::read_images`]) for novelty: each image's
/// mean distance to its `k` nearest training embeddings, the training images of the
/// held-out classes (`options.classes`, else the config's `data.exclude_classes`, which
/// may be none) left out as [`detect_anomalies`] leaves them out; and the percentile of
/// each score among the test images' scores, computed the same way.
///
/// # Errors
/// A held-out class the data does not have; the errors of loading and embedding.
pub fn score_images(
    model: &TrainedModel,
    config: &Config,
    images: &Dataset,
    options: &AnomalyOptions,
) -> Result<ImageNovelty> {
    let held_out = options
        .classes
        .clone()
        .unwrap_or_else(|| config.data.exclude_classes.clone());
    let gallery = seen_gallery(config, &held_out)?;
    let index = Index::new(model.embed(&gallery)?, gallery.labels().to_vec())?;
    let score = |data: &Dataset| -> Result<Vec<f32>> {
        let hits = index.search(model.embed(data)?.view(), options.k)?;
        mean_knn_distance(&hits, hits.k().min(options.k))
    };
    let scores = score(images)?;
    let test_scores = score(&load_split(config, Split::Test)?)?;
    let percentiles = scores
        .iter()
        .map(|&s| {
            let lower = test_scores.iter().filter(|&&t| t < s).count();
            (!test_scores.is_empty()).then(|| 100.0 * lower as f64 / test_scores.len() as f64)
        })
        .collect();
    Ok(ImageNovelty {
        k: options.k,
        index_images: gallery.len(),
        test_images: test_scores.len(),
        scores,
        percentiles,
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
