//! Contrastive loss over every pair of a labelled batch.

use crate::batch::{BatchLoss, BatchScratch, Work, distance_backward, mean_scale};
use crate::error::{LossError, check_eps, check_margin};
use crate::pairwise::DEFAULT_EPS;

/// Contrastive loss over all `n(n−1)/2` pairs `i < j` of a batch, with
/// positives and negatives averaged separately.
///
/// With the clamped Euclidean distance `d_ij = sqrt(max(|e_i − e_j|², eps))`,
/// `P` the pairs `i < j` with equal labels and `N` those with different labels:
///
/// `L = (1/|P|)·Σ_{(i,j)∈P} d_ij² + (1/|N|)·Σ_{(i,j)∈N} max(margin − d_ij, 0)²`
///
/// A term whose set is empty is 0. This is the per-pair loss of
/// [`Contrastive`](crate::Contrastive) (`y·d² + (1 − y)·max(m − d, 0)²`) applied to every pair
/// of the batch, except that averaging each kind of pair on its own keeps the
/// many negatives of a batch with several classes from drowning the few
/// positives. pytorch-metric-learning's `ContrastiveLoss` also sums a positive
/// and a negative average, but by default with unsquared terms
/// (`max(d − 0, 0)`, `max(1 − d, 0)`) and averaging only the non-zero terms;
/// here every pair counts in its denominator, including negatives already
/// beyond the margin.
///
/// Where the clamp is active (`|e_i − e_j|² < eps`), the distance is constant,
/// so that pair contributes no gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllPairsContrastive {
    /// Distance beyond which negative pairs stop contributing; must be > 0.
    pub margin: f32,
    /// Clamp on the squared distance before the square root; must be > 0.
    pub eps: f32,
}

impl Default for AllPairsContrastive {
    /// Margin 1, as [`Contrastive`](crate::Contrastive), and [`DEFAULT_EPS`].
    fn default() -> Self {
        Self {
            margin: 1.0,
            eps: DEFAULT_EPS,
        }
    }
}

impl AllPairsContrastive {
    /// The loss with the given margin and [`DEFAULT_EPS`].
    ///
    /// # Errors
    /// [`LossError::InvalidMargin`] unless `margin` is finite and > 0.
    pub fn new(margin: f32) -> Result<Self, LossError> {
        let loss = Self {
            margin,
            eps: DEFAULT_EPS,
        };
        loss.validate()?;
        Ok(loss)
    }

    /// The same loss with another clamp on the squared distance.
    ///
    /// # Errors
    /// [`LossError::InvalidEps`] unless `eps` is finite and > 0.
    pub fn with_eps(self, eps: f32) -> Result<Self, LossError> {
        check_eps(eps)?;
        Ok(Self { eps, ..self })
    }

    /// Checks the fields, which are public and so may have been set by hand.
    ///
    /// # Errors
    /// [`LossError::InvalidMargin`] or [`LossError::InvalidEps`].
    pub fn validate(&self) -> Result<(), LossError> {
        check_margin(self.margin)?;
        check_eps(self.eps)
    }
}

impl BatchLoss for AllPairsContrastive {
    /// See [`AllPairsContrastive`] for the loss.
    fn forward_backward(
        &self,
        embeddings: &[f32],
        dim: usize,
        labels: &[u32],
        scratch: &mut BatchScratch,
        grad: &mut [f32],
    ) -> Result<f64, LossError> {
        self.validate()?;
        let Some((n, Work { mat, inv, coef, .. })) =
            scratch.distances(embeddings, dim, labels, grad, self.eps)?
        else {
            return Ok(0.0);
        };

        let mut n_pos = 0usize;
        for (i, &li) in labels.iter().enumerate() {
            n_pos += labels[i + 1..].iter().filter(|&&lj| lj == li).count();
        }
        let n_neg = n * n.saturating_sub(1) / 2 - n_pos;
        let (w_pos, w_neg) = (mean_scale(n_pos), mean_scale(n_neg));

        let (mut pos_sum, mut neg_sum) = (0.0f64, 0.0f64);
        for (i, &li) in labels.iter().enumerate() {
            for (j, &lj) in labels.iter().enumerate().skip(i + 1) {
                let d = mat[i * n + j];
                // ∂L/∂d, already divided by the size of its average.
                coef[i * n + j] = if li == lj {
                    pos_sum += f64::from(d) * f64::from(d);
                    (2.0 * f64::from(d) * w_pos) as f32
                } else {
                    let hinge = (self.margin - d).max(0.0);
                    neg_sum += f64::from(hinge) * f64::from(hinge);
                    (-2.0 * f64::from(hinge) * w_neg) as f32
                };
            }
        }
        distance_backward(embeddings, dim, n, inv, coef, 1.0, grad)?;
        Ok(pos_sum * w_pos + neg_sum * w_neg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// Straight from the formula, in f64; the signature is which clamps and
    /// which hinges are active.
    fn reference(
        loss: &AllPairsContrastive,
        emb: &[f32],
        dim: usize,
        labels: &[u32],
    ) -> (f64, Vec<usize>) {
        let (m, eps) = (f64::from(loss.margin), f64::from(loss.eps));
        let rows: Vec<&[f32]> = emb.chunks(dim).collect();
        let (mut pos, mut n_pos, mut neg, mut n_neg) = (0.0, 0, 0.0, 0);
        let mut sig = Vec::new();
        for i in 0..labels.len() {
            for j in i + 1..labels.len() {
                let sq: f64 = rows[i]
                    .iter()
                    .zip(rows[j])
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                sig.push(usize::from(sq < eps));
                let d = sq.max(eps).sqrt();
                if labels[i] == labels[j] {
                    pos += d * d;
                    n_pos += 1;
                } else {
                    sig.push(usize::from(d < m));
                    neg += (m - d).max(0.0).powi(2);
                    n_neg += 1;
                }
            }
        }
        let mean = |s: f64, c: usize| if c == 0 { 0.0 } else { s / c as f64 };
        (mean(pos, n_pos) + mean(neg, n_neg), sig)
    }

    /// Corners of a 3 × 4 rectangle: sides 3 and 4, diagonals 5.
    const RECT: [f32; 8] = [0.0, 0.0, 3.0, 0.0, 0.0, 4.0, 3.0, 4.0];

    #[test]
    fn known_answer_on_a_rectangle() {
        // Positives: the two sides of length 3, d² = 9 each, mean 9.
        // Negatives: sides of length 4 (hinge 0.5) and diagonals (hinge 0):
        // mean of squares (0.25 + 0.25 + 0 + 0)/4 = 0.125.
        let loss = AllPairsContrastive::new(4.5).unwrap();
        let (total, grad) = eval(&loss, &RECT, 2, &[0, 0, 1, 1]);
        assert!((total - 9.125).abs() < 1e-6, "{total}");
        // Row 0: positive pair with row 1, ∂L/∂d = 2·3/2 = 3 along (−1, 0);
        // negative pair with row 2, ∂L/∂d = −2·0.5/4 = −0.25 along (0, −1).
        let expected = [-3.0, 0.25, 3.0, 0.25, -3.0, -0.25, 3.0, -0.25];
        for (g, e) in grad.iter().zip(expected) {
            assert!((g - e).abs() < 1e-6, "{grad:?}");
        }
    }

    #[test]
    fn matches_the_reference_on_random_batches() {
        for seed in 0..5 {
            let (n, dim) = (11, 4);
            let emb = values(seed, n * dim);
            let labels = labels(seed, n, 3);
            let loss = AllPairsContrastive::new(1.0 + seed as f32 * 0.3).unwrap();
            let (total, _) = eval(&loss, &emb, dim, &labels);
            let (expected, _) = reference(&loss, &emb, dim, &labels);
            assert!(
                (total - expected).abs() < 1e-6 * expected,
                "{total} vs {expected}"
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Margin 1.5 on points in [-1, 1)^5 keeps about half the negatives
        // inside the hinge; the signature check confirms that no step crosses
        // d = margin or the clamp. Tolerance: FD_TOL.
        let (n, dim) = (12, 5);
        let loss = AllPairsContrastive::new(1.5).unwrap();
        let tol = FD_TOL;
        for seed in [1, 2] {
            let emb = values(seed, n * dim);
            let labels = labels(seed, n, 3);
            let sig = |e: &[f32]| reference(&loss, e, dim, &labels).1;
            fd_check(&loss, &emb, dim, &labels, tol, &sig);
        }
    }

    #[test]
    fn single_class_and_all_distinct_labels_keep_one_term() {
        let loss = AllPairsContrastive::new(4.5).unwrap();
        // One class: the mean of d² over the 6 pairs = (9 + 9 + 16 + 16 + 25 + 25)/6.
        let (total, grad) = eval(&loss, &RECT, 2, &[3, 3, 3, 3]);
        assert!((total - 100.0 / 6.0).abs() < 1e-5, "{total}");
        assert_finite(total, &grad);
        // All distinct: the mean of hinge² over the 6 pairs, sides 3 and 4
        // inside the margin, diagonals not: (1.5² + 1.5² + 0.5² + 0.5²)/6.
        let (total, grad) = eval(&loss, &RECT, 2, &[0, 1, 2, 3]);
        assert!((total - 5.0 / 6.0).abs() < 1e-6, "{total}");
        assert_finite(total, &grad);
    }

    #[test]
    fn identical_embeddings_give_finite_loss_and_zero_gradient() {
        let loss = AllPairsContrastive::default();
        let emb = [0.5f32, -0.25].repeat(4);
        let (total, grad) = eval(&loss, &emb, 2, &[0, 0, 1, 1]);
        // Every distance is sqrt(eps): eps for the positives, (1 − √eps)² for the negatives.
        let expected = f64::from(DEFAULT_EPS) + (1.0 - f64::from(DEFAULT_EPS).sqrt()).powi(2);
        assert!((total - expected).abs() < 1e-6, "{total}");
        assert_eq!(grad, vec![0.0; 8]);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert_eq!(
            AllPairsContrastive::new(0.0),
            Err(LossError::InvalidMargin { margin: 0.0 })
        );
        assert!(AllPairsContrastive::new(f32::NAN).is_err());
        assert!(AllPairsContrastive::new(f32::INFINITY).is_err());
        assert_eq!(
            AllPairsContrastive::default().with_eps(-1.0),
            Err(LossError::InvalidEps { eps: -1.0 })
        );
        let hand_made = AllPairsContrastive {
            margin: 1.0,
            eps: 0.0,
        };
        let mut g = [0.0; 4];
        assert_eq!(
            hand_made.forward_backward(&[0.0; 4], 2, &[0, 1], &mut BatchScratch::default(), &mut g),
            Err(LossError::InvalidEps { eps: 0.0 })
        );
    }

    #[test]
    fn shared_edge_cases_permutation_and_determinism() {
        let loss = AllPairsContrastive::new(1.5).unwrap();
        check_common_edge_cases(&loss);
        let (n, dim) = (12, 5);
        let emb = values(7, n * dim);
        let labels = labels(7, n, 4);
        check_permutation(&loss, &emb, dim, &labels);
        check_determinism(&loss, &emb, dim, &labels);
    }
}
