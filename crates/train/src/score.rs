//! Scoring pairs from embeddings: distances, loss and accuracy at a threshold, and the
//! threshold that separates validation pairs best.

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use siamese_data::Pair;
use siamese_loss::Contrastive;

/// Distance of every pair, from precomputed embeddings (one row per image).
pub fn embedded_pair_distances(embeddings: &Array2<f32>, pairs: &[Pair], eps: f32) -> Vec<f32> {
    pairs
        .par_iter()
        .map(|p| {
            let a = embeddings.row(p.left as usize);
            let b = embeddings.row(p.right as usize);
            match (a.as_slice(), b.as_slice()) {
                (Some(a), Some(b)) => siamese_loss::distance(a, b, eps),
                _ => f32::NAN,
            }
        })
        .collect()
}

/// Loss and accuracy over a set of pairs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairScore {
    /// Mean contrastive loss.
    pub loss: f64,
    /// Share of pairs classified right at the threshold.
    pub accuracy: f64,
}

/// Scores pairs from their distances: a pair is predicted similar when `d < threshold`.
pub fn score_pairs(
    distances: &[f32],
    pairs: &[Pair],
    loss: &Contrastive,
    threshold: f32,
) -> PairScore {
    let n = pairs.len().max(1) as f64;
    let (total, correct) =
        distances
            .iter()
            .zip(pairs)
            .fold((0.0f64, 0usize), |(total, correct), (&d, p)| {
                let y = p.target();
                let right = (d < threshold) == p.similar;
                (
                    total + f64::from(loss.loss(d, y)),
                    correct + usize::from(right),
                )
            });
    PairScore {
        loss: total / n,
        accuracy: correct as f64 / n,
    }
}

/// The threshold that classifies the most pairs right, with that accuracy. Candidates lie
/// midway between consecutive distinct distances, so the result does not sit on a sample.
///
/// ```
/// use siamese_data::Pair;
/// let pairs = [
///     Pair { left: 0, right: 1, similar: true },
///     Pair { left: 0, right: 2, similar: false },
///     Pair { left: 1, right: 2, similar: true },
/// ];
/// let (threshold, accuracy) = siamese_train::best_threshold(&[0.2, 0.9, 0.4], &pairs);
/// assert!((threshold - 0.65).abs() < 1e-6);
/// assert_eq!(accuracy, 1.0);
/// ```
pub fn best_threshold(distances: &[f32], pairs: &[Pair]) -> (f32, f64) {
    let mut sorted: Vec<(f32, bool)> = distances
        .iter()
        .copied()
        .zip(pairs.iter().map(|p| p.similar))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = sorted.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let negatives = sorted.iter().filter(|s| !s.1).count();
    // Split before index i: the first i pairs are predicted similar.
    let (mut best_correct, mut best_i) = (negatives, 0);
    let mut similar_below = 0;
    let mut dissimilar_below = 0;
    for i in 1..=n {
        if sorted[i - 1].1 {
            similar_below += 1;
        } else {
            dissimilar_below += 1;
        }
        if i < n && sorted[i].0 == sorted[i - 1].0 {
            continue;
        }
        let correct = similar_below + negatives - dissimilar_below;
        if correct > best_correct {
            (best_correct, best_i) = (correct, i);
        }
    }
    let threshold = match best_i {
        0 => sorted[0].0 / 2.0,
        i if i == n => sorted[n - 1].0 * 1.5 + f32::EPSILON,
        i => (sorted[i - 1].0 + sorted[i].0) / 2.0,
    };
    (threshold, best_correct as f64 / n as f64)
}
