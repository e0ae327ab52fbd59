//! Embedding whole data sets and scoring pairs: the forward-only side of training.

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use siamese_data::{Dataset, Normalizer, Pair};
use siamese_loss::Contrastive;
use siamese_nn::{CsrBatch, Input, Tower};

use crate::{Result, TrainError};

/// Images per parallel chunk when embedding. Fixed, so results do not depend on threads.
const EMBED_CHUNK: usize = 256;

/// Embeds every image of `data`: one row of `tower.spec().embedding` values per image, in
/// order. Batched and parallel over chunks; with `sparse`, the first layer skips zero pixels
/// (only valid when the normalizer keeps zero pixels at zero).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use siamese_data::{Mnist, Normalizer};
/// let saved = siamese_nn::load_tower("runs/base/tower.safetensors".as_ref())?;
/// let mnist = Mnist::load("data/mnist")?;
/// let emb = siamese_train::embed(&saved.tower, &saved.params, &Normalizer::unit_range(), &mnist.test, true)?;
/// assert_eq!(emb.nrows(), mnist.test.len());
/// # Ok(()) }
/// ```
pub fn embed(
    tower: &Tower,
    params: &[f32],
    normalizer: &Normalizer,
    data: &Dataset,
    sparse: bool,
) -> Result<Array2<f32>> {
    let dim = tower.spec().embedding;
    let image_len = data.image_len();
    if image_len != tower.spec().input {
        return Err(TrainError::Internal(format!(
            "images have {image_len} pixels, the tower takes {}",
            tower.spec().input
        )));
    }
    let mut out = Array2::<f32>::zeros((data.len(), dim));
    let Some(out_slice) = out.as_slice_mut() else {
        return Err(TrainError::Internal("fresh array not contiguous".into()));
    };
    out_slice
        .par_chunks_mut(EMBED_CHUNK * dim)
        .enumerate()
        .try_for_each_init(
            || {
                (
                    tower.workspace(EMBED_CHUNK),
                    vec![0.0f32; EMBED_CHUNK * image_len],
                    CsrBatch::with_capacity(image_len, EMBED_CHUNK, EMBED_CHUNK * image_len / 4),
                )
            },
            |(ws, dense, csr), (chunk, out_rows)| -> Result<()> {
                let start = chunk * EMBED_CHUNK;
                let rows = out_rows.len() / dim;
                let indices = start..start + rows;
                let input = if sparse {
                    gather_sparse(normalizer, data, indices, csr);
                    Input::Sparse(csr)
                } else {
                    let dense = &mut dense[..rows * image_len];
                    normalizer.gather(data, indices, dense)?;
                    Input::Dense(view(dense, rows, image_len)?)
                };
                let emb = tower.forward(params, input, ws)?;
                for (dst, src) in out_rows.iter_mut().zip(emb.iter()) {
                    *dst = *src;
                }
                Ok(())
            },
        )?;
    Ok(out)
}

/// Appends the non-zero pixels of the images at `indices` to `csr`, one row each, after
/// clearing it. Zero pixels must map to zero (see [`Normalizer::maps_zero_to_zero`]).
pub(crate) fn gather_sparse(
    normalizer: &Normalizer,
    data: &Dataset,
    indices: impl IntoIterator<Item = usize>,
    csr: &mut CsrBatch,
) {
    let lut = normalizer.lut();
    csr.clear();
    for i in indices {
        for (col, &p) in data.image(i).iter().enumerate() {
            if p != 0 {
                csr.push(col, lut[usize::from(p)]);
            }
        }
        csr.finish_row();
    }
}

pub(crate) fn view(
    buffer: &[f32],
    rows: usize,
    cols: usize,
) -> Result<ndarray::ArrayView2<'_, f32>> {
    ndarray::ArrayView2::from_shape((rows, cols), buffer)
        .map_err(|e| TrainError::Internal(format!("batch buffer: {e}")))
}

/// Distance of every pair, from precomputed embeddings (one row per image).
pub fn pair_distances(embeddings: &Array2<f32>, pairs: &[Pair], eps: f32) -> Vec<f32> {
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
