//! Figures of merit for embeddings, as pure functions with known-answer tests.
//!
//! Conventions: for [`roc_auc`] and [`equal_error_rate`] a **higher score means more likely
//! positive** (pass negated distances when small distances mean "similar"). Retrieval
//! metrics follow pytorch-metric-learning's `AccuracyCalculator`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, mismatch};
use crate::index::{Neighbor, Neighbors};

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (computed from ranks, O(n log n)).
///
/// ```
/// // A perfect separator has AUC 1; reversed, 0; all tied, 0.5.
/// use siamese_eval::roc_auc;
/// assert_eq!(roc_auc(&[0.9, 0.8, 0.1], &[true, true, false])?, 1.0);
/// assert_eq!(roc_auc(&[0.1, 0.2, 0.9], &[true, true, false])?, 0.0);
/// assert_eq!(roc_auc(&[0.5, 0.5], &[true, false])?, 0.5);
/// # Ok::<(), siamese_eval::EvalError>(())
/// ```
pub fn roc_auc(scores: &[f32], positives: &[bool]) -> Result<f64> {
    let sorted = sorted_scores("ROC AUC", scores, positives)?;
    let (p, n) = class_sizes("ROC AUC", positives)?;
    // Sum of the (1-based, tie-averaged) ranks of the positives in ascending score order.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let tied_positives = sorted[i..j].iter().filter(|s| s.1).count();
        rank_sum += mean_rank * tied_positives as f64;
        i = j;
    }
    let (p, n) = (p as f64, n as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Equal error rate: the rate at which false positives and false negatives are equal as the
/// threshold sweeps the scores (linearly interpolated between the two operating points
/// around the crossing). 0 for a perfect separator, 0.5 for a constant score.
///
/// ```
/// use siamese_eval::equal_error_rate;
/// assert_eq!(equal_error_rate(&[0.9, 0.8, 0.1, 0.2], &[true, true, false, false])?, 0.0);
/// assert_eq!(equal_error_rate(&[0.5; 4], &[true, false, true, false])?, 0.5);
/// # Ok::<(), siamese_eval::EvalError>(())
/// ```
pub fn equal_error_rate(scores: &[f32], positives: &[bool]) -> Result<f64> {
    let mut sorted = sorted_scores("equal error rate", scores, positives)?;
    let (p, n) = class_sizes("equal error rate", positives)?;
    sorted.reverse(); // Descending: lowering the threshold admits these in order.
    let (p, n) = (p as f64, n as f64);
    // Operating point before any sample is predicted positive.
    let (mut fpr0, mut fnr0) = (0.0f64, 1.0f64);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            if sorted[j].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        let (fpr1, fnr1) = (fp as f64 / n, 1.0 - tp as f64 / p);
        if fpr1 >= fnr1 {
            let gap0 = fnr0 - fpr0;
            let gap1 = fnr1 - fpr1;
            let t = if gap0 - gap1 > 0.0 {
                gap0 / (gap0 - gap1)
            } else {
                0.0
            };
            return Ok(fpr0 + t * (fpr1 - fpr0));
        }
        (fpr0, fnr0) = (fpr1, fnr1);
        i = j;
    }
    // ok: the last point predicts everything positive, FPR 1 ≥ FNR 0, so the loop returned.
    Ok(fpr0)
}

fn sorted_scores(
    metric: &'static str,
    scores: &[f32],
    positives: &[bool],
) -> Result<Vec<(f32, bool)>> {
    if scores.len() != positives.len() {
        return Err(mismatch(
            "positive flags for the scores",
            scores.len(),
            positives.len(),
        ));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(EvalError::Undefined {
            metric,
            reason: format!("score {i} is NaN"),
        });
    }
    let mut sorted: Vec<(f32, bool)> = scores
        .iter()
        .copied()
        .zip(positives.iter().copied())
        .collect();
    sorted.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    Ok(sorted)
}

fn class_sizes(metric: &'static str, positives: &[bool]) -> Result<(usize, usize)> {
    let p = positives.iter().filter(|&&b| b).count();
    let n = positives.len() - p;
    if p == 0 || n == 0 {
        return Err(EvalError::Undefined {
            metric,
            reason: format!("needs positives and negatives, found {p} and {n}"),
        });
    }
    Ok((p, n))
}

/// The majority label among the first `k` neighbours; a tie goes to the tied label whose
/// nearest member comes first. `None` for an empty row.
pub fn knn_predict(row: &[Neighbor], k: usize) -> Option<u32> {
    let top = &row[..k.min(row.len())];
    let mut best: Option<(usize, u32)> = None;
    // O(k²) counting: no allocation, and k is small.
    for (i, n) in top.iter().enumerate() {
        if top[..i].iter().any(|m| m.label == n.label) {
            continue; // counted at its first (nearest) occurrence
        }
        let votes = top[i..].iter().filter(|m| m.label == n.label).count();
        if best.is_none_or(|(v, _)| votes > v) {
            best = Some((votes, n.label));
        }
    }
    best.map(|(_, label)| label)
}

/// Share of queries whose [`knn_predict`] label over the first `k` neighbours equals the
/// query's label.
///
/// ```
/// use siamese_eval::{Neighbor, Neighbors, knn_accuracy};
/// let n = |label| Neighbor { index: 0, label, distance: 0.0 };
/// // Query 0 (label 1): votes 1, 2, 2 -> 2 with k = 3, 1 with k = 1.
/// let hits = Neighbors::from_flat(3, vec![n(1), n(2), n(2), n(0), n(0), n(1)])?;
/// assert_eq!(knn_accuracy(&hits, &[1, 0], 1)?, 1.0);
/// assert_eq!(knn_accuracy(&hits, &[1, 0], 3)?, 0.5);
/// # Ok::<(), siamese_eval::EvalError>(())
/// ```
pub fn knn_accuracy(neighbors: &Neighbors, query_labels: &[u32], k: usize) -> Result<f64> {
    check_queries(neighbors, query_labels)?;
    if k == 0 || k > neighbors.k() {
        return Err(EvalError::Invalid {
            what: "k",
            value: k.to_string(),
            expected: format!("1..={} (the neighbours searched)", neighbors.k()),
        });
    }
    let correct: usize = neighbors
        .rows()
        .collect::<Vec<_>>()
        .par_iter()
        .zip(query_labels)
        .filter(|(row, label)| knn_predict(row, k) == Some(**label))
        .count();
    Ok(correct as f64 / query_labels.len().max(1) as f64)
}

/// Retrieval figures over a set of queries, as pytorch-metric-learning's
/// `AccuracyCalculator` defines them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetrievalMetrics {
    /// Share of queries whose nearest neighbour has their label.
    pub precision_at_1: f64,
    /// Mean over queries of (relevant among the R nearest) / R.
    pub r_precision: f64,
    /// Mean over queries of (1/R) Σ_{i ≤ R} P(i)·rel(i), P(i) the precision of the first i.
    pub map_at_r: f64,
    /// Queries counted: those with at least one relevant item (R ≥ 1).
    pub queries: usize,
}

/// For each query, R: the number of items of the index with its label, less one when the
/// queries are the index itself (the query is not its own match).
pub fn relevant_counts(query_labels: &[u32], index_labels: &[u32], same_set: bool) -> Vec<usize> {
    let classes = index_labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut counts = vec![0usize; classes];
    for &l in index_labels {
        counts[l as usize] += 1;
    }
    query_labels
        .iter()
        .map(|&l| {
            let c = counts.get(l as usize).copied().unwrap_or(0);
            c.saturating_sub(usize::from(same_set))
        })
        .collect()
}

/// Precision@1, R-precision and MAP@R: for each query with R = `relevant[q]` ≥ 1 relevant
/// items, its R nearest neighbours are judged (queries with R = 0 are left out, as
/// pytorch-metric-learning does). `neighbors` must hold at least the largest R per query.
///
/// ```
/// use siamese_eval::{Neighbor, Neighbors, retrieval_metrics};
/// let n = |label| Neighbor { index: 0, label, distance: 0.0 };
/// // One query of label 1 with R = 3 relevant items; ranking: hit, miss, hit, hit.
/// let hits = Neighbors::from_flat(4, vec![n(1), n(0), n(1), n(1)])?;
/// let m = retrieval_metrics(&hits, &[1], &[3])?;
/// assert_eq!(m.precision_at_1, 1.0);
/// assert!((m.r_precision - 2.0 / 3.0).abs() < 1e-12);
/// assert!((m.map_at_r - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
/// # Ok::<(), siamese_eval::EvalError>(())
/// ```
pub fn retrieval_metrics(
    neighbors: &Neighbors,
    query_labels: &[u32],
    relevant: &[usize],
) -> Result<RetrievalMetrics> {
    check_queries(neighbors, query_labels)?;
    if relevant.len() != query_labels.len() {
        return Err(mismatch(
            "relevant counts (one per query)",
            query_labels.len(),
            relevant.len(),
        ));
    }
    if let Some(&r) = relevant.iter().max().filter(|&&r| r > neighbors.k()) {
        return Err(mismatch(
            "neighbours per query (at least the largest R)",
            r,
            neighbors.k(),
        ));
    }
    let rows: Vec<&[Neighbor]> = neighbors.rows().collect();
    let (queries, p1, rp, map) = rows
        .par_iter()
        .zip(query_labels)
        .zip(relevant)
        .filter(|(_, r)| **r > 0)
        .map(|((row, &label), &r)| {
            let mut hits = 0usize;
            let mut precision_sum = 0.0f64;
            for (i, n) in row[..r].iter().enumerate() {
                if n.label == label {
                    hits += 1;
                    precision_sum += hits as f64 / (i + 1) as f64;
                }
            }
            let p1 = f64::from(u8::from(row[0].label == label));
            (1usize, p1, hits as f64 / r as f64, precision_sum / r as f64)
        })
        .reduce(
            || (0, 0.0, 0.0, 0.0),
            |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3),
        );
    if queries == 0 {
        return Err(EvalError::Undefined {
            metric: "retrieval metrics",
            reason: "no query has a relevant item".into(),
        });
    }
    let q = queries as f64;
    Ok(RetrievalMetrics {
        precision_at_1: p1 / q,
        r_precision: rp / q,
        map_at_r: map / q,
        queries,
    })
}

/// Novelty score of each query: its mean distance to its first `k` neighbours (far from
/// everything seen in training = novel).
pub fn mean_knn_distance(neighbors: &Neighbors, k: usize) -> Result<Vec<f32>> {
    if k == 0 || k > neighbors.k() {
        return Err(EvalError::Invalid {
            what: "k",
            value: k.to_string(),
            expected: format!("1..={} (the neighbours searched)", neighbors.k()),
        });
    }
    Ok(neighbors
        .rows()
        .map(|row| row[..k].iter().map(|n| n.distance).sum::<f32>() / k as f32)
        .collect())
}

fn check_queries(neighbors: &Neighbors, query_labels: &[u32]) -> Result<()> {
    if neighbors.len() != query_labels.len() {
        return Err(mismatch(
            "query labels (one per searched query)",
            neighbors.len(),
            query_labels.len(),
        ));
    }
    Ok(())
}
