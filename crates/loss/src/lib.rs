//! Losses for training Siamese and metric-learning embeddings, forward and
//! backward (hand-written, no autograd), on plain row-major `f32` slices.
//!
//! Two families:
//!
//! - **Pair-wise**, the tutorial's loss: [`Contrastive`] scores labelled
//!   pairs one by one ([`contrastive_forward_backward`], with
//!   [`pair_distances`] and [`count_correct`]). Labels follow the Keras
//!   Siamese example: `similar = 1.0` for a pair of the same digit, `0.0`
//!   otherwise.
//! - **In-batch** ([`BatchLoss`]): one batch of `n` embeddings with class
//!   labels, every pair of rows compared: [`AllPairsContrastive`],
//!   [`Triplet`] (batch-all, batch-hard or semi-hard mining),
//!   [`MultiSimilarity`] and [`SupCon`]. The last two work on dot products
//!   and expect unit rows, which [`l2_normalize`] (with
//!   [`l2_normalize_backward`]) provides.
//!
//! These are the per-batch hot paths of the trainer: they never allocate
//! (the in-batch losses keep their `n × n` matrices in a reusable
//! [`BatchScratch`]), validate shapes once up front (returning [`LossError`]
//! instead of panicking) and keep their inner loops free of checks so the
//! compiler can vectorize them.
//!
//! ```
//! use siamese_loss::{Contrastive, contrastive_forward_backward, count_correct};
//!
//! // Two pairs of 2-d embeddings, stacked as the trainer does: the left rows
//! // of every pair first, then the right rows.
//! let emb = [
//!     0.0, 0.0, // left of pair 0
//!     1.0, 1.0, // left of pair 1
//!     0.3, 0.4, // right of pair 0: distance 0.5
//!     1.0, 1.0, // right of pair 1: distance 0
//! ];
//! let similar = [1.0, 0.0];
//! let loss = Contrastive::new(1.0)?;
//! let mut dist = [0.0; 2];
//! let mut grad = [0.0; 8];
//! let total = contrastive_forward_backward(&emb, 2, &similar, &loss, 0.5, &mut dist, &mut grad)?;
//!
//! assert!((dist[0] - 0.5).abs() < 1e-6);
//! // Pair 0 is similar: d² = 0.25. Pair 1 is dissimilar at d ≈ 0: max(1 - d, 0)² ≈ 1.
//! assert!((total - 1.25).abs() < 1e-3);
//! // The clamp before the sqrt keeps identical embeddings finite, with zero gradient.
//! assert!(grad.iter().all(|g| g.is_finite()));
//! assert_eq!(&grad[2..4], &[0.0, 0.0]);
//! // Predicted similar iff d < 0.6: pair 0 is right, pair 1 (dissimilar, d ≈ 0) is not.
//! assert_eq!(count_correct(&dist, &similar, 0.6)?, 1);
//! # Ok::<(), siamese_loss::LossError>(())
//! ```
//!
//! An in-batch loss on four labelled points, normalized first:
//!
//! ```
//! use siamese_loss::{BatchLoss, BatchScratch, Triplet, TripletMining, l2_normalize, l2_normalize_backward};
//!
//! let tower_out = [2.0, 0.0, 1.0, 1.0, 0.0, 3.0, -1.0, 1.0]; // 4 rows, dim 2
//! let labels = [0, 0, 1, 1];
//! let (mut unit, mut norms) = ([0.0; 8], [0.0; 4]);
//! l2_normalize(&tower_out, 2, &mut unit, &mut norms)?;
//!
//! let loss = Triplet::new(0.2, TripletMining::BatchHard)?;
//! let mut scratch = BatchScratch::default(); // kept across training steps
//! let mut grad_unit = [0.0; 8];
//! let total = loss.forward_backward(&unit, 2, &labels, &mut scratch, &mut grad_unit)?;
//! assert!(total > 0.0);
//!
//! let mut grad_tower = [0.0; 8];
//! l2_normalize_backward(&unit, &norms, &grad_unit, 2, &mut grad_tower)?;
//! assert!(grad_tower.iter().all(|g| g.is_finite()));
//! # Ok::<(), siamese_loss::LossError>(())
//! ```

mod all_pairs;
mod batch;
mod error;
mod kernels;
mod multi_similarity;
mod normalize;
mod pairwise;
mod supcon;
#[cfg(test)]
mod test_util;
mod triplet;

pub use all_pairs::AllPairsContrastive;
pub use batch::{BatchLoss, BatchScratch};
pub use error::LossError;
pub use multi_similarity::MultiSimilarity;
pub use normalize::{NORM_EPS, l2_normalize, l2_normalize_backward};
pub use pairwise::{
    Contrastive, DEFAULT_EPS, contrastive_forward_backward, count_correct, distance,
    pair_distances, pair_distances_backward,
};
pub use supcon::SupCon;
pub use triplet::{Triplet, TripletMining};
