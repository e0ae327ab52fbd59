//! Novelty detection: what `siamese anomaly` computes, as a library call.

use std::time::Instant;

use ndarray::Array2;
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
    let train = load_split(config, Split::Train)?;
    let known = train.num_classes();
    if classes.iter().any(|&c| c as usize >= known) {
        return Err(EvalError::Invalid {
            what: "held-out classes",
            value: format!("{classes:?}"),
            expected: format!("classes of the data: 0 to {}", known.saturating_sub(1)),
        });
    }
    let seen: Vec<usize> = (0..train.len())
        .filter(|&i| !classes.contains(&train.label(i)))
        .collect();
    let gallery = train.subset(&seen);
    drop(train);
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
