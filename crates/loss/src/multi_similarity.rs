//! Multi-Similarity loss with its pair miner.

use crate::batch::{BatchLoss, BatchScratch, Work, similarity_backward};
use crate::error::{LossError, check_non_negative, check_positive};

/// Multi-Similarity loss of Wang et al. (CVPR 2019) with its hard-pair
/// miner, on cosine similarities, with the defaults of pytorch-metric-learning
/// (`MultiSimilarityLoss(alpha=2, beta=50, base=0.5)` with
/// `MultiSimilarityMiner(epsilon=0.1)`).
///
/// Similarities are plain dot products `S_ij = e_i · e_j`, so the rows are
/// expected to be L2-normalized already (see [`l2_normalize`](crate::l2_normalize)); nothing
/// here normalizes them.
///
/// **Mining**, per anchor `i`, with `P_i` its positives (same label, `j ≠ i`)
/// and `N_i` its negatives (another label), `ε` = `epsilon`:
///
/// - a negative `k ∈ N_i` is kept if `S_ik > min_{j∈P_i} S_ij − ε`;
/// - a positive `j ∈ P_i` is kept if `S_ij < max_{k∈N_i} S_ik + ε`.
///
/// An anchor without positives or without negatives keeps nothing (the min
/// or max over an empty set is ±∞), as in the reference miner.
///
/// **Loss**, with `P̃_i`, `Ñ_i` the kept pairs and `λ` = `base`:
///
/// `L_i = (1/α)·log(1 + Σ_{j∈P̃_i} exp(−α·(S_ij − λ))) + (1/β)·log(1 + Σ_{k∈Ñ_i} exp(β·(S_ik − λ)))`
///
/// `L = (1/n)·Σ_i L_i`, the mean over **all** `n` anchors of the batch,
/// including those that kept nothing (`L_i = 0`), as pytorch-metric-learning
/// reduces it. The paper writes `λ = 1` in its formula; its experiments and
/// pytorch-metric-learning's default use 0.5.
///
/// The sums are computed as a log-sum-exp that includes the `1` as a zero
/// logit, shifted by the largest logit, so `β = 50` cannot overflow. The
/// mining is decided in the forward pass and held fixed for the gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultiSimilarity {
    /// Scale `α` of the positive term; must be finite and > 0.
    pub alpha: f32,
    /// Scale `β` of the negative term; must be finite and > 0.
    pub beta: f32,
    /// Similarity margin `λ` the pairs are pulled above (positives) or pushed
    /// below (negatives); must be finite.
    pub base: f32,
    /// Slack `ε` of the miner; must be finite and >= 0.
    pub epsilon: f32,
}

impl Default for MultiSimilarity {
    /// `α = 2`, `β = 50`, `λ = 0.5`, `ε = 0.1`, as pytorch-metric-learning.
    fn default() -> Self {
        Self {
            alpha: 2.0,
            beta: 50.0,
            base: 0.5,
            epsilon: 0.1,
        }
    }
}

impl MultiSimilarity {
    /// The loss with the given parameters.
    ///
    /// # Errors
    /// [`LossError::InvalidParameter`] for a parameter out of range (see the fields).
    pub fn new(alpha: f32, beta: f32, base: f32, epsilon: f32) -> Result<Self, LossError> {
        let loss = Self {
            alpha,
            beta,
            base,
            epsilon,
        };
        loss.validate()?;
        Ok(loss)
    }

    /// Checks the fields, which are public and so may have been set by hand.
    ///
    /// # Errors
    /// [`LossError::InvalidParameter`] for a parameter out of range (see the fields).
    pub fn validate(&self) -> Result<(), LossError> {
        check_positive("multi-similarity alpha", self.alpha)?;
        check_positive("multi-similarity beta", self.beta)?;
        if !self.base.is_finite() {
            return Err(LossError::InvalidParameter {
                name: "multi-similarity base",
                value: self.base,
                expected: "finite",
            });
        }
        check_non_negative("multi-similarity epsilon", self.epsilon)
    }
}

impl BatchLoss for MultiSimilarity {
    /// See [`MultiSimilarity`] for the loss.
    fn forward_backward(
        &self,
        embeddings: &[f32],
        dim: usize,
        labels: &[u32],
        scratch: &mut BatchScratch,
        grad: &mut [f32],
    ) -> Result<f64, LossError> {
        self.validate()?;
        let Some((n, Work { mat: sim, coef, .. })) =
            scratch.similarities(embeddings, dim, labels, grad)?
        else {
            return Ok(0.0);
        };
        let (alpha, beta, base) = (
            f64::from(self.alpha),
            f64::from(self.beta),
            f64::from(self.base),
        );
        let mut total = 0.0f64;
        for (i, (row, crow)) in sim
            .chunks_exact(n)
            .zip(coef.chunks_exact_mut(n))
            .enumerate()
        {
            let li = labels[i];
            let (mut min_pos, mut max_neg) = (f32::INFINITY, f32::NEG_INFINITY);
            for (j, (&s, &lj)) in row.iter().zip(labels).enumerate() {
                if j == i {
                    continue;
                }
                if lj == li {
                    min_pos = min_pos.min(s);
                } else {
                    max_neg = max_neg.max(s);
                }
            }
            // An empty side leaves its threshold at ±∞, which no pair of the
            // other side passes: such an anchor keeps nothing.
            let keep_pos =
                |j: usize, s: f32| j != i && labels[j] == li && s < max_neg + self.epsilon;
            let keep_neg = |j: usize, s: f32| labels[j] != li && s > min_pos - self.epsilon;
            total += log1p_sum_exp(row, crow, -alpha, base, keep_pos) / alpha;
            total += log1p_sum_exp(row, crow, beta, base, keep_neg) / beta;
        }
        let scale = 1.0 / n.max(1) as f64;
        similarity_backward(embeddings, dim, n, coef, scale as f32, grad)?;
        Ok(total * scale)
    }
}

/// `log(1 + Σ_{j kept} exp(c·(S_j − base)))`, computed stably, and into
/// `out[j]` for each kept `j` the derivative of `(1/|c|)` times it with
/// respect to `S_j`: `sign(c)·w_j`, with `w_j = exp(x_j)/(1 + Σ exp(x))` the
/// softmax weight of logit `x_j` when the `1` counts as a logit 0.
fn log1p_sum_exp(
    row: &[f32],
    out: &mut [f32],
    c: f64,
    base: f64,
    keep: impl Fn(usize, f32) -> bool,
) -> f64 {
    let logit = |s: f32| c * (f64::from(s) - base);
    // The implicit logit 0 of the "1 +" is part of the max.
    let mut max = 0.0f64;
    for (j, &s) in row.iter().enumerate() {
        if keep(j, s) {
            max = max.max(logit(s));
        }
    }
    let mut sum = (-max).exp();
    for (j, &s) in row.iter().enumerate() {
        if keep(j, s) {
            let e = (logit(s) - max).exp();
            sum += e;
            out[j] = e as f32;
        }
    }
    let weight = c.signum() / sum;
    for (j, &s) in row.iter().enumerate() {
        if keep(j, s) {
            out[j] = (f64::from(out[j]) * weight) as f32;
        }
    }
    max + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// Straight from the definitions, in f64 and without the log-sum-exp
    /// shift (fine for unit rows: exponents stay below β·1.5 = 75); the
    /// signature lists the kept pairs.
    fn reference(
        loss: &MultiSimilarity,
        emb: &[f32],
        dim: usize,
        labels: &[u32],
    ) -> (f64, Vec<usize>) {
        let n = labels.len();
        let (a, b, l, eps) = (
            f64::from(loss.alpha),
            f64::from(loss.beta),
            f64::from(loss.base),
            f64::from(loss.epsilon),
        );
        let s = |i: usize, j: usize| -> f64 {
            emb[i * dim..(i + 1) * dim]
                .iter()
                .zip(&emb[j * dim..(j + 1) * dim])
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum()
        };
        let mut sig = Vec::new();
        let mut total = 0.0;
        for i in 0..n {
            let pos: Vec<usize> = (0..n)
                .filter(|&j| j != i && labels[j] == labels[i])
                .collect();
            let neg: Vec<usize> = (0..n).filter(|&k| labels[k] != labels[i]).collect();
            let min_pos = pos.iter().map(|&j| s(i, j)).fold(f64::INFINITY, f64::min);
            let max_neg = neg
                .iter()
                .map(|&k| s(i, k))
                .fold(f64::NEG_INFINITY, f64::max);
            let kept_pos: Vec<usize> = pos
                .into_iter()
                .filter(|&j| s(i, j) < max_neg + eps)
                .collect();
            let kept_neg: Vec<usize> = neg
                .into_iter()
                .filter(|&k| s(i, k) > min_pos - eps)
                .collect();
            let sp: f64 = kept_pos.iter().map(|&j| (-a * (s(i, j) - l)).exp()).sum();
            let sn: f64 = kept_neg.iter().map(|&k| (b * (s(i, k) - l)).exp()).sum();
            total += (1.0 + sp).ln() / a + (1.0 + sn).ln() / b;
            sig.push(n);
            sig.extend(kept_pos);
            sig.push(n);
            sig.extend(kept_neg);
        }
        (total / n as f64, sig)
    }

    /// Unit vectors e0 = (1, 0), e1 = (0.6, 0.8), e2 = (0, 1): S01 = 0.6,
    /// S02 = 0, S12 = 0.8.
    const TRIO: [f32; 6] = [1.0, 0.0, 0.6, 0.8, 0.0, 1.0];

    #[test]
    fn known_answer_on_three_unit_vectors() {
        let loss = MultiSimilarity::default();
        let (total, grad) = eval(&loss, &TRIO, 2, &[0, 0, 1]);
        // Anchor 0: min positive 0.6, so negative 2 (S = 0) is dropped
        // (0 ≤ 0.5); max negative 0, so positive 1 is dropped (0.6 ≥ 0.1).
        // Anchor 1: positive 0 (0.6 < 0.8 + 0.1) and negative 2 (0.8 > 0.5) kept.
        // Anchor 2: no positive, keeps nothing. Mean over the 3 anchors.
        let l1 =
            0.5 * (1.0 + (-2.0f64 * 0.1).exp()).ln() + (1.0 + (50.0f64 * 0.3).exp()).ln() / 50.0;
        assert!((total - l1 / 3.0).abs() < 1e-6, "{total} vs {}", l1 / 3.0);
        // ∂L/∂S10 = −w_p/3 with w_p = e^{−0.2}/(1 + e^{−0.2});
        // ∂L/∂S12 = w_n/3 with w_n = e^{15}/(1 + e^{15}).
        let wp = (-0.2f64).exp() / (1.0 + (-0.2f64).exp()) / 3.0;
        let wn = 15.0f64.exp() / (1.0 + 15.0f64.exp()) / 3.0;
        // grad_0 = −w_p·e1, grad_1 = −w_p·e0 + w_n·e2, grad_2 = w_n·e1.
        let expected = [-wp * 0.6, -wp * 0.8, -wp, wn, wn * 0.6, wn * 0.8];
        for (g, e) in grad.iter().zip(expected) {
            assert!((f64::from(*g) - e).abs() < 1e-6, "{grad:?} vs {expected:?}");
        }
    }

    #[test]
    fn matches_the_reference_on_random_batches() {
        for seed in 0..5 {
            let (n, dim) = (13, 4);
            let emb = unit_rows(values(seed, n * dim), dim);
            let labels = labels(seed, n, 2 + seed as u32 % 3);
            let loss = MultiSimilarity::default();
            let (total, _) = eval(&loss, &emb, dim, &labels);
            let (expected, _) = reference(&loss, &emb, dim, &labels);
            assert!(
                (total - expected).abs() < 1e-6 * expected.max(1.0),
                "seed {seed}: {total} vs {expected}"
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Tolerance: FD_TOL, which allows for the stiff β = 50 term. The
        // inputs are unit rows, but the perturbed ones are not: the loss is
        // checked as the function of the raw dot products that it is. The
        // first two seeds whose kept pairs no step changes are used.
        let (n, dim) = (12, 5);
        let tol = FD_TOL;
        for loss in [
            MultiSimilarity::default(),
            MultiSimilarity::new(3.0, 20.0, 0.2, 0.3).unwrap(),
        ] {
            let mut checked = 0;
            for seed in 0..40 {
                let emb = unit_rows(values(seed, n * dim), dim);
                let labels = labels(seed, n, 3);
                let sig = |e: &[f32]| reference(&loss, e, dim, &labels).1;
                if !mining_is_stable(&emb, tol.h, &sig) {
                    continue;
                }
                fd_check(&loss, &emb, dim, &labels, tol, &sig);
                checked += 1;
                if checked == 2 {
                    break;
                }
            }
            assert_eq!(checked, 2, "{loss:?}: too few seeds with a stable mining");
        }
    }

    #[test]
    fn single_class_and_all_distinct_labels_give_zero() {
        let loss = MultiSimilarity::default();
        for labels in [[5, 5, 5], [0, 1, 2]] {
            let (total, grad) = eval(&loss, &TRIO, 2, &labels);
            assert_eq!((total, grad), (0.0, vec![0.0; 6]), "{labels:?}");
        }
    }

    #[test]
    fn identical_embeddings_give_finite_loss() {
        // S = 1 everywhere: every pair is kept (1 < 1 + ε, 1 > 1 − ε).
        let loss = MultiSimilarity::default();
        let emb = [0.6f32, 0.8].repeat(4);
        let (total, grad) = eval(&loss, &emb, 2, &[0, 0, 1, 1]);
        assert_finite(total, &grad);
        let per_anchor =
            (1.0 + (-1.0f64).exp()).ln() / 2.0 + (1.0 + 2.0 * 25.0f64.exp()).ln() / 50.0;
        assert!((total - per_anchor).abs() < 1e-6, "{total} vs {per_anchor}");
    }

    #[test]
    fn large_similarities_do_not_overflow() {
        // Rows of norm 100: S up to 1e4, β·S = 5e5 would overflow exp in f64.
        let emb: Vec<f32> = unit_rows(values(11, 24), 3)
            .iter()
            .map(|x| x * 100.0)
            .collect();
        let (total, grad) = eval(
            &MultiSimilarity::default(),
            &emb,
            3,
            &[0, 0, 1, 1, 2, 2, 0, 1],
        );
        assert_finite(total, &grad);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(MultiSimilarity::new(2.0, 50.0, -0.3, 0.0).is_ok());
        assert_eq!(
            MultiSimilarity::new(0.0, 50.0, 0.5, 0.1),
            Err(LossError::InvalidParameter {
                name: "multi-similarity alpha",
                value: 0.0,
                expected: "finite and > 0"
            })
        );
        assert!(MultiSimilarity::new(2.0, f32::INFINITY, 0.5, 0.1).is_err());
        assert!(MultiSimilarity::new(2.0, 50.0, f32::NAN, 0.1).is_err());
        assert!(MultiSimilarity::new(2.0, 50.0, 0.5, -0.1).is_err());
        let hand_made = MultiSimilarity {
            beta: -1.0,
            ..MultiSimilarity::default()
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
        let loss = MultiSimilarity::default();
        check_common_edge_cases(&loss);
        let (n, dim) = (12, 5);
        let emb = unit_rows(values(9, n * dim), dim);
        let labels = labels(9, n, 3);
        check_permutation(&loss, &emb, dim, &labels);
        check_determinism(&loss, &emb, dim, &labels);
    }
}
