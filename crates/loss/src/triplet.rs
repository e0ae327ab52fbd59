//! Triplet margin loss with in-batch mining.

use crate::batch::{BatchLoss, BatchScratch, Work, distance_backward, mean_scale};
use crate::error::{LossError, check_eps, check_non_negative};
use crate::pairwise::DEFAULT_EPS;

/// How [`Triplet`] picks its triplets `(a, p, n)` — anchor, positive (same
/// label as `a`, `p ≠ a`), negative (another label) — from a batch.
///
/// Distances are the clamped Euclidean `d_ij = sqrt(max(|e_i − e_j|², eps))`
/// and `m` is the margin. Ties are broken towards the lower row index. The
/// choice is made from the forward values and held fixed for the gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TripletMining {
    /// Every valid triplet ("batch all", Hermans et al. 2017), averaged over
    /// the triplets that contribute:
    ///
    /// `L = (1/|T⁺|)·Σ_{(a,p,n)∈T⁺} (d_ap − d_an + m)`, with
    /// `T⁺ = {(a,p,n) : d_ap − d_an + m > 0}`,
    ///
    /// the "non-zero average" of pytorch-metric-learning's
    /// `AvgNonZeroReducer`, so that the many satisfied triplets do not dilute
    /// the gradient as training proceeds. `L = 0` if `T⁺` is empty.
    BatchAll,
    /// The hardest positive and the hardest negative of each anchor ("batch
    /// hard", Hermans, Beyer and Leibe 2017):
    ///
    /// `L = (1/|A|)·Σ_{a∈A} max(max_p d_ap − min_n d_an + m, 0)`,
    ///
    /// with `A` the anchors that have at least one positive and one negative.
    BatchHard,
    /// For each positive pair, the closest negative that is farther than the
    /// positive (FaceNet, Schroff et al. 2015), in the convention of
    /// TensorFlow Addons' `triplet_semihard_loss`:
    ///
    /// `n*(a,p) = argmin {d_an : d_an > d_ap}` if that set is not empty,
    /// else `argmax_n d_an` (all negatives are closer than the positive: take
    /// the least hard of them rather than the hardest, which tends to collapse
    /// the embedding early in training);
    ///
    /// `L = (1/|Q|)·Σ_{(a,p)∈Q} max(d_ap − d_{a n*} + m, 0)`,
    ///
    /// over the ordered positive pairs `Q = {(a,p) : p ≠ a}` whose anchor has
    /// at least one negative (TF Addons also counts the other positive pairs
    /// in its denominator; here there is no triplet for them, so they are left
    /// out). FaceNet's definition also asks `d_an < d_ap + m`; adding it would
    /// not change the loss, since a negative beyond `d_ap + m` gives a zero
    /// hinge whichever rule picked it.
    SemiHard,
}

/// Triplet margin loss `max(d_ap − d_an + m, 0)` on clamped Euclidean
/// distances `d_ij = sqrt(max(|e_i − e_j|², eps))`, with the triplets and the
/// average chosen by [`TripletMining`].
///
/// Hinges exactly at 0 carry no gradient; where the clamp is active the
/// distance is constant and carries none either.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Triplet {
    /// Margin `m` by which negatives should be farther than positives; must be
    /// finite and >= 0.
    pub margin: f32,
    /// Which triplets of the batch enter the loss.
    pub mining: TripletMining,
    /// Clamp on the squared distance before the square root; must be > 0.
    pub eps: f32,
}

impl Default for Triplet {
    /// Batch-hard mining with FaceNet's margin 0.2, which assumes
    /// L2-normalized embeddings (see [`l2_normalize`](crate::l2_normalize)), and [`DEFAULT_EPS`].
    fn default() -> Self {
        Self {
            margin: 0.2,
            mining: TripletMining::BatchHard,
            eps: DEFAULT_EPS,
        }
    }
}

impl Triplet {
    /// The loss with the given margin and mining and [`DEFAULT_EPS`].
    ///
    /// # Errors
    /// [`LossError::InvalidParameter`] unless `margin` is finite and >= 0.
    pub fn new(margin: f32, mining: TripletMining) -> Result<Self, LossError> {
        let loss = Self {
            margin,
            mining,
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
    /// [`LossError::InvalidParameter`] or [`LossError::InvalidEps`].
    pub fn validate(&self) -> Result<(), LossError> {
        check_non_negative("triplet margin", self.margin)?;
        check_eps(self.eps)
    }
}

impl BatchLoss for Triplet {
    /// See [`Triplet`] and [`TripletMining`] for the loss.
    fn forward_backward(
        &self,
        embeddings: &[f32],
        dim: usize,
        labels: &[u32],
        scratch: &mut BatchScratch,
        grad: &mut [f32],
    ) -> Result<f64, LossError> {
        self.validate()?;
        let Some((
            n,
            Work {
                mat: dist,
                inv,
                coef,
                idx,
            },
        )) = scratch.distances(embeddings, dim, labels, grad, self.eps)?
        else {
            return Ok(0.0);
        };
        // `coef` collects ∂(sum of hinges)/∂d; the mean's 1/count is applied
        // in the backward pass, once the count is known.
        let (sum, count) = match self.mining {
            TripletMining::BatchAll => batch_all(self.margin, labels, dist, coef, idx),
            TripletMining::BatchHard => batch_hard(self.margin, labels, dist, coef),
            TripletMining::SemiHard => semi_hard(self.margin, labels, dist, coef, idx),
        };
        let scale = mean_scale(count);
        distance_backward(embeddings, dim, n, inv, coef, scale as f32, grad)?;
        Ok(sum * scale)
    }
}

/// Gathers the negatives of anchor `a` into `idx` and returns how many.
fn negatives_of(a: usize, labels: &[u32], idx: &mut [usize]) -> usize {
    let mut k = 0;
    for (j, &l) in labels.iter().enumerate() {
        if l != labels[a] {
            idx[k] = j;
            k += 1;
        }
    }
    k
}

/// Records the hinge of triplet `(a, p, q)` if it is active; returns its value.
#[inline]
fn hinge(
    margin: f32,
    n: usize,
    a: usize,
    p: usize,
    q: usize,
    dist: &[f32],
    coef: &mut [f32],
) -> f64 {
    let h = dist[a * n + p] - dist[a * n + q] + margin;
    if h > 0.0 {
        coef[a * n + p] += 1.0;
        coef[a * n + q] -= 1.0;
        f64::from(h)
    } else {
        0.0
    }
}

/// Sum over all triplets of the active hinges, and how many are active.
fn batch_all(
    margin: f32,
    labels: &[u32],
    dist: &[f32],
    coef: &mut [f32],
    idx: &mut [usize],
) -> (f64, usize) {
    let n = labels.len();
    let (mut sum, mut active) = (0.0f64, 0usize);
    for a in 0..n {
        let k = negatives_of(a, labels, idx);
        let negatives = &idx[..k];
        for p in (0..n).filter(|&p| p != a && labels[p] == labels[a]) {
            let dap = dist[a * n + p];
            let mut count = 0usize;
            for &q in negatives {
                let h = dap - dist[a * n + q] + margin;
                if h > 0.0 {
                    sum += f64::from(h);
                    count += 1;
                    coef[a * n + q] -= 1.0;
                }
            }
            coef[a * n + p] += count as f32;
            active += count;
        }
    }
    (sum, active)
}

/// Sum over anchors of the hardest triplet's hinge, and how many anchors have one.
fn batch_hard(margin: f32, labels: &[u32], dist: &[f32], coef: &mut [f32]) -> (f64, usize) {
    let n = labels.len();
    let (mut sum, mut anchors) = (0.0f64, 0usize);
    for a in 0..n {
        let row = &dist[a * n..(a + 1) * n];
        let (mut hardest_p, mut hardest_n) = (None::<usize>, None::<usize>);
        for (j, &d) in row.iter().enumerate() {
            if j == a {
                continue;
            }
            if labels[j] == labels[a] {
                if hardest_p.is_none_or(|p| d > row[p]) {
                    hardest_p = Some(j);
                }
            } else if hardest_n.is_none_or(|q| d < row[q]) {
                hardest_n = Some(j);
            }
        }
        if let (Some(p), Some(q)) = (hardest_p, hardest_n) {
            anchors += 1;
            sum += hinge(margin, n, a, p, q, dist, coef);
        }
    }
    (sum, anchors)
}

/// Sum over positive pairs of the semi-hard triplet's hinge, and how many
/// positive pairs have a negative.
fn semi_hard(
    margin: f32,
    labels: &[u32],
    dist: &[f32],
    coef: &mut [f32],
    idx: &mut [usize],
) -> (f64, usize) {
    let n = labels.len();
    let (mut sum, mut pairs) = (0.0f64, 0usize);
    for a in 0..n {
        let k = negatives_of(a, labels, idx);
        if k == 0 {
            continue;
        }
        let row = &dist[a * n..(a + 1) * n];
        let negatives = &mut idx[..k];
        // Sorted once per anchor, so each positive finds its negative by
        // binary search: O(n² log n) rather than O(n³). total_cmp cannot
        // panic on NaN, and the index breaks ties deterministically.
        negatives.sort_unstable_by(|&x, &y| row[x].total_cmp(&row[y]).then(x.cmp(&y)));
        let farthest = negatives[k - 1];
        for p in (0..n).filter(|&p| p != a && labels[p] == labels[a]) {
            let dap = row[p];
            let first_farther = negatives.partition_point(|&q| row[q] <= dap);
            let q = negatives.get(first_farther).copied().unwrap_or(farthest);
            pairs += 1;
            sum += hinge(margin, n, a, p, q, dist, coef);
        }
    }
    (sum, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// Straight from the definitions, in f64, with naive O(n³) loops; the
    /// signature lists every mined row and every active hinge.
    fn reference(loss: &Triplet, emb: &[f32], dim: usize, labels: &[u32]) -> (f64, Vec<usize>) {
        let n = labels.len();
        let (m, eps) = (f64::from(loss.margin), f64::from(loss.eps));
        let d = |i: usize, j: usize| -> f64 {
            let sq: f64 = emb[i * dim..(i + 1) * dim]
                .iter()
                .zip(&emb[j * dim..(j + 1) * dim])
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
            sq.max(eps).sqrt()
        };
        let pos = |a: usize| (0..n).filter(move |&p| p != a && labels[p] == labels[a]);
        let neg = |a: usize| (0..n).filter(move |&q| labels[q] != labels[a]);
        let mut sig = Vec::new();
        let (mut sum, mut count) = (0.0, 0usize);
        match loss.mining {
            TripletMining::BatchAll => {
                for a in 0..n {
                    for p in pos(a) {
                        for q in neg(a) {
                            let h = d(a, p) - d(a, q) + m;
                            sig.push(usize::from(h > 0.0));
                            if h > 0.0 {
                                sum += h;
                                count += 1;
                            }
                        }
                    }
                }
            }
            TripletMining::BatchHard => {
                for a in 0..n {
                    let p = pos(a).reduce(|x, y| if d(a, y) > d(a, x) { y } else { x });
                    let q = neg(a).reduce(|x, y| if d(a, y) < d(a, x) { y } else { x });
                    if let (Some(p), Some(q)) = (p, q) {
                        let h = d(a, p) - d(a, q) + m;
                        sig.extend([p, q, usize::from(h > 0.0)]);
                        sum += h.max(0.0);
                        count += 1;
                    }
                }
            }
            TripletMining::SemiHard => {
                for a in 0..n {
                    if neg(a).next().is_none() {
                        continue;
                    }
                    for p in pos(a) {
                        let dap = d(a, p);
                        let farther = neg(a)
                            .filter(|&q| d(a, q) > dap)
                            .reduce(|x, y| if d(a, y) < d(a, x) { y } else { x });
                        let farthest = neg(a).reduce(|x, y| if d(a, y) >= d(a, x) { y } else { x });
                        let q = farther.or(farthest).unwrap();
                        let h = dap - d(a, q) + m;
                        sig.extend([q, usize::from(h > 0.0)]);
                        sum += h.max(0.0);
                        count += 1;
                    }
                }
            }
        }
        (if count == 0 { 0.0 } else { sum / count as f64 }, sig)
    }

    const ALL: [TripletMining; 3] = [
        TripletMining::BatchAll,
        TripletMining::BatchHard,
        TripletMining::SemiHard,
    ];

    /// Corners of a 3 × 4 rectangle A, B, C, D: AB = CD = 3, AC = BD = 4,
    /// AD = BC = 5.
    const RECT: [f32; 8] = [0.0, 0.0, 3.0, 0.0, 0.0, 4.0, 3.0, 4.0];

    fn loss_on_rect(margin: f32, mining: TripletMining, labels: [u32; 4]) -> (f64, Vec<f32>) {
        eval(&Triplet::new(margin, mining).unwrap(), &RECT, 2, &labels)
    }

    fn assert_near(total: f64, expected: f64) {
        assert!((total - expected).abs() < 1e-6, "{total} vs {expected}");
    }

    #[test]
    fn known_answers_on_a_rectangle() {
        use TripletMining::*;
        // Labels A, B | C, D; margin 2.5. Each anchor has one positive at 3
        // and negatives at 4 and 5: hinges 1.5 and 0.5.
        let ab_cd = [0, 0, 1, 1];
        // All: 8 active triplets, mean 1.
        assert_near(loss_on_rect(2.5, BatchAll, ab_cd).0, 1.0);
        // Hard: the negative at 4 for every anchor.
        assert_near(loss_on_rect(2.5, BatchHard, ab_cd).0, 1.5);
        // Semi-hard: both negatives are farther than 3; the closer one (4) is picked.
        assert_near(loss_on_rect(2.5, SemiHard, ab_cd).0, 1.5);

        // Labels A, D | B, C; margin 1.5. Each anchor has its positive on the
        // diagonal (5) and negatives at 3 and 4, both closer than the positive.
        let ad_bc = [0, 1, 1, 0];
        // All: hinges 5 − 3 + 1.5 = 3.5 and 5 − 4 + 1.5 = 2.5 per anchor.
        assert_near(loss_on_rect(1.5, BatchAll, ad_bc).0, 3.0);
        // Hard: the negative at 3.
        assert_near(loss_on_rect(1.5, BatchHard, ad_bc).0, 3.5);
        // Semi-hard: no negative is farther than 5, so the farthest (4) is used.
        assert_near(loss_on_rect(1.5, SemiHard, ad_bc).0, 2.5);

        // Labels A, B, C | D; margin 1.5. D has no positive.
        let abc_d = [0, 0, 0, 1];
        // All: (A,C,D) 4 − 5 + 1.5 = 0.5, (B,A,D) 3 − 4 + 1.5 = 0.5,
        // (B,C,D) 5 − 4 + 1.5 = 2.5, (C,A,D) 4 − 3 + 1.5 = 2.5,
        // (C,B,D) 5 − 3 + 1.5 = 3.5; (A,B,D) is inactive: 9.5 / 5.
        assert_near(loss_on_rect(1.5, BatchAll, abc_d).0, 1.9);
        // Hard: anchors A (C, D): 0.5; B (C, D): 2.5; C (B, D): 3.5.
        assert_near(loss_on_rect(1.5, BatchHard, abc_d).0, 6.5 / 3.0);
        // Semi-hard: pairs (A,B) 0, (A,C) 0.5, (B,A) 0.5, (B,C) 2.5, (C,A) 2.5,
        // (C,B) 3.5, over 6 pairs.
        assert_near(loss_on_rect(1.5, SemiHard, abc_d).0, 9.5 / 6.0);
    }

    #[test]
    fn known_gradient_on_a_rectangle() {
        // Labels A, B | C, D, margin 1.5: each anchor's only active triplet is
        // (positive at 3, negative at 4), hinge 0.5, for all three minings.
        // Over the 4 anchors ∂L/∂d = +1/2 on each side of length 3 and −1/2 on
        // each side of length 4 (each pair is used from both ends).
        let expected = [-0.5, 0.5, 0.5, 0.5, -0.5, -0.5, 0.5, -0.5];
        for mining in ALL {
            let (total, grad) = loss_on_rect(1.5, mining, [0, 0, 1, 1]);
            assert_near(total, 0.5);
            for (g, e) in grad.iter().zip(expected) {
                assert!((g - e).abs() < 1e-6, "{mining:?}: {grad:?}");
            }
        }
    }

    #[test]
    fn matches_the_reference_on_random_batches() {
        for mining in ALL {
            for seed in 0..5 {
                let (n, dim) = (13, 4);
                let emb = values(seed, n * dim);
                let labels = labels(seed, n, 2 + seed as u32 % 3);
                let loss = Triplet::new(0.2 + seed as f32 * 0.2, mining).unwrap();
                let (total, _) = eval(&loss, &emb, dim, &labels);
                let (expected, _) = reference(&loss, &emb, dim, &labels);
                assert!(
                    (total - expected).abs() < 1e-6 * expected.max(1.0),
                    "{mining:?} seed {seed}: {total} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Tolerance: FD_TOL. The hinges are linear in the distances, so what
        // matters is that no step changes a mined row or an active hinge: the
        // first two seeds for which the reference's signature is stable under
        // every step are used (and fd_check asserts it again).
        let (n, dim) = (12, 5);
        let tol = FD_TOL;
        for mining in ALL {
            let loss = Triplet::new(0.5, mining).unwrap();
            let mut checked = 0;
            for seed in 0..40 {
                let emb = values(seed, n * dim);
                let labels = labels(seed, n, 3);
                let sig = |e: &[f32]| reference(&loss, e, dim, &labels).1;
                if !mining_is_stable(&emb, tol.h, &sig) {
                    continue;
                }
                let (total, _) = eval(&loss, &emb, dim, &labels);
                assert!(total > 0.0, "{mining:?}: no active triplet to check");
                fd_check(&loss, &emb, dim, &labels, tol, &sig);
                checked += 1;
                if checked == 2 {
                    break;
                }
            }
            assert_eq!(checked, 2, "{mining:?}: too few seeds with a stable mining");
        }
    }

    #[test]
    fn no_triplet_without_both_a_positive_and_a_negative() {
        for mining in ALL {
            for labels in [[2, 2, 2, 2], [0, 1, 2, 3]] {
                let (total, grad) = loss_on_rect(1.0, mining, labels);
                assert_eq!((total, grad), (0.0, vec![0.0; 8]), "{mining:?} {labels:?}");
            }
        }
    }

    #[test]
    fn identical_embeddings_give_finite_loss_and_zero_gradient() {
        // All distances are sqrt(eps): every hinge equals the margin.
        for mining in ALL {
            let emb = [0.5f32, -0.25].repeat(4);
            let (total, grad) = eval(&Triplet::new(0.3, mining).unwrap(), &emb, 2, &[0, 0, 1, 1]);
            assert!((total - 0.3).abs() < 1e-6, "{mining:?}: {total}");
            assert_eq!(grad, vec![0.0; 8], "{mining:?}");
        }
    }

    #[test]
    fn zero_margin_is_allowed_and_invalid_parameters_are_rejected() {
        assert!(Triplet::new(0.0, TripletMining::BatchAll).is_ok());
        assert_eq!(
            Triplet::new(-0.1, TripletMining::BatchHard),
            Err(LossError::InvalidParameter {
                name: "triplet margin",
                value: -0.1,
                expected: "finite and >= 0"
            })
        );
        assert_eq!(
            Triplet::new(-0.1, TripletMining::BatchHard)
                .unwrap_err()
                .to_string(),
            "triplet margin must be finite and >= 0, found -0.1"
        );
        assert!(Triplet::new(f32::NAN, TripletMining::SemiHard).is_err());
        assert!(Triplet::default().with_eps(f32::INFINITY).is_err());
        let hand_made = Triplet {
            margin: f32::INFINITY,
            ..Triplet::default()
        };
        let mut g = [0.0; 4];
        assert!(
            hand_made
                .forward_backward(&[0.0; 4], 2, &[0, 1], &mut BatchScratch::default(), &mut g)
                .is_err()
        );
    }

    #[test]
    fn shared_edge_cases_permutation_and_determinism() {
        let (n, dim) = (12, 5);
        let emb = values(8, n * dim);
        let labels = labels(8, n, 3);
        for mining in ALL {
            let loss = Triplet::new(0.5, mining).unwrap();
            check_common_edge_cases(&loss);
            check_determinism(&loss, &emb, dim, &labels);
            // Row order only changes tie-breaking, and these random distances have no ties.
            check_permutation(&loss, &emb, dim, &labels);
        }
    }
}
