//! Supervised contrastive loss.

use crate::batch::{BatchLoss, BatchScratch, Work, mean_scale, similarity_backward};
use crate::error::{LossError, check_positive};

/// Supervised contrastive loss of Khosla et al. (2020), in the paper's
/// `L_out` form (the mean over positives outside the log), on cosine
/// similarities with a temperature `τ`.
///
/// Similarities are plain dot products `S_ij = e_i · e_j`, so the rows are
/// expected to be L2-normalized already (see [`l2_normalize`](crate::l2_normalize)); nothing
/// here normalizes them.
///
/// With `P(i)` the positives of anchor `i` (same label, `p ≠ i`) and
/// `A(i)` every other row of the batch:
///
/// `ℓ_i = −(1/|P(i)|)·Σ_{p∈P(i)} log( exp(S_ip/τ) / Σ_{a∈A(i)} exp(S_ia/τ) )`
///
/// `L = (1/|I|)·Σ_{i∈I} ℓ_i`, over the anchors `I` with at least one
/// positive; `L = 0` if there are none. Anchors without positives still
/// appear in the denominators of the others.
///
/// The log-sum-exp is shifted by the row's largest logit, so small
/// temperatures cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupCon {
    /// Temperature `τ` dividing the similarities; must be finite and > 0.
    pub temperature: f32,
}

impl Default for SupCon {
    /// `τ = 0.1`, the paper's usual value.
    fn default() -> Self {
        Self { temperature: 0.1 }
    }
}

impl SupCon {
    /// The loss with the given temperature.
    ///
    /// # Errors
    /// [`LossError::InvalidParameter`] unless `temperature` is finite and > 0.
    pub fn new(temperature: f32) -> Result<Self, LossError> {
        let loss = Self { temperature };
        loss.validate()?;
        Ok(loss)
    }

    /// Checks the field, which is public and so may have been set by hand.
    ///
    /// # Errors
    /// [`LossError::InvalidParameter`] unless `temperature` is finite and > 0.
    pub fn validate(&self) -> Result<(), LossError> {
        check_positive("supervised contrastive temperature", self.temperature)
    }
}

impl BatchLoss for SupCon {
    /// See [`SupCon`] for the loss.
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
        let inv_t = 1.0 / f64::from(self.temperature);
        let (mut total, mut anchors) = (0.0f64, 0usize);
        for (i, (row, crow)) in sim
            .chunks_exact(n)
            .zip(coef.chunks_exact_mut(n))
            .enumerate()
        {
            let li = labels[i];
            let positives = labels
                .iter()
                .enumerate()
                .filter(|&(j, &lj)| j != i && lj == li)
                .count();
            if positives == 0 {
                continue;
            }
            anchors += 1;
            let others = || row.iter().enumerate().filter(move |&(a, _)| a != i);
            let max = others().fold(f64::NEG_INFINITY, |m, (_, &s)| m.max(f64::from(s) * inv_t));
            let mut sum = 0.0f64;
            let mut pos_logits = 0.0f64;
            for (a, &s) in others() {
                let z = f64::from(s) * inv_t;
                let e = (z - max).exp();
                sum += e;
                crow[a] = e as f32;
                if labels[a] == li {
                    pos_logits += z;
                }
            }
            let inv_p = 1.0 / positives as f64;
            total += max + sum.ln() - pos_logits * inv_p;
            // ∂ℓ_i/∂S_ia = (softmax_a − [a ∈ P(i)]/|P(i)|)/τ.
            for (a, c) in crow.iter_mut().enumerate().filter(|&(a, _)| a != i) {
                let target = if labels[a] == li { inv_p } else { 0.0 };
                *c = ((f64::from(*c) / sum - target) * inv_t) as f32;
            }
        }
        let scale = mean_scale(anchors);
        similarity_backward(embeddings, dim, n, coef, scale as f32, grad)?;
        Ok(total * scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// Straight from the definition, in f64, without the shift.
    fn reference(loss: &SupCon, emb: &[f32], dim: usize, labels: &[u32]) -> f64 {
        let n = labels.len();
        let t = f64::from(loss.temperature);
        let s = |i: usize, j: usize| -> f64 {
            emb[i * dim..(i + 1) * dim]
                .iter()
                .zip(&emb[j * dim..(j + 1) * dim])
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum()
        };
        let (mut total, mut anchors) = (0.0, 0);
        for i in 0..n {
            let pos: Vec<usize> = (0..n)
                .filter(|&j| j != i && labels[j] == labels[i])
                .collect();
            if pos.is_empty() {
                continue;
            }
            anchors += 1;
            let denom: f64 = (0..n)
                .filter(|&a| a != i)
                .map(|a| (s(i, a) / t).exp())
                .sum();
            let mean_log: f64 = pos
                .iter()
                .map(|&p| ((s(i, p) / t).exp() / denom).ln())
                .sum::<f64>()
                / pos.len() as f64;
            total -= mean_log;
        }
        if anchors == 0 {
            0.0
        } else {
            total / f64::from(anchors)
        }
    }

    /// Unit vectors e0 = (1, 0), e1 = (0.6, 0.8), e2 = (0, 1): S01 = 0.6,
    /// S02 = 0, S12 = 0.8.
    const TRIO: [f32; 6] = [1.0, 0.0, 0.6, 0.8, 0.0, 1.0];

    #[test]
    fn known_answer_on_three_unit_vectors() {
        // τ = 0.5, labels 0, 0, 1. Anchor 0: ℓ0 = log(1 + e^{(0 − 0.6)/τ});
        // anchor 1: ℓ1 = log(1 + e^{(0.8 − 0.6)/τ}); anchor 2 has no positive.
        let loss = SupCon::new(0.5).unwrap();
        let (total, grad) = eval(&loss, &TRIO, 2, &[0, 0, 1]);
        let l0 = (1.0 + (-1.2f64).exp()).ln();
        let l1 = (1.0 + 0.4f64.exp()).ln();
        assert!((total - (l0 + l1) / 2.0).abs() < 1e-6, "{total}");
        // ∂ℓ0/∂S01 = (σ01 − 1)/τ, ∂ℓ0/∂S02 = σ02/τ with σ the softmax of
        // (1.2, 0); ∂ℓ1/∂S10 = (σ10 − 1)/τ, ∂ℓ1/∂S12 = σ12/τ with σ the
        // softmax of (1.2, 1.6). Each halved by the mean over 2 anchors.
        let q0 = 1.0 / (1.0 + 1.2f64.exp()); // σ02
        let q1 = 1.0 / (1.0 + (-0.4f64).exp()); // σ12
        let (g01, g02) = (-q0 / 0.5 / 2.0, q0 / 0.5 / 2.0);
        let (g10, g12) = (-q1 / 0.5 / 2.0, q1 / 0.5 / 2.0);
        // grad_i = Σ_j (G_ij + G_ji) e_j.
        let c01 = g01 + g10;
        let e = [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]];
        let expected = [
            [c01 * e[1][0] + g02 * e[2][0], c01 * e[1][1] + g02 * e[2][1]],
            [c01 * e[0][0] + g12 * e[2][0], c01 * e[0][1] + g12 * e[2][1]],
            [g02 * e[0][0] + g12 * e[1][0], g02 * e[0][1] + g12 * e[1][1]],
        ];
        for (g, x) in grad.iter().zip(expected.as_flattened()) {
            assert!((f64::from(*g) - x).abs() < 1e-6, "{grad:?} vs {expected:?}");
        }
    }

    #[test]
    fn matches_the_reference_on_random_batches() {
        for seed in 0..5 {
            let (n, dim) = (13, 4);
            let emb = unit_rows(values(seed, n * dim), dim);
            let labels = labels(seed, n, 2 + seed as u32 % 3);
            let loss = SupCon::new(0.05 + 0.1 * seed as f32).unwrap();
            let (total, _) = eval(&loss, &emb, dim, &labels);
            let expected = reference(&loss, &emb, dim, &labels);
            assert!(
                (total - expected).abs() < 1e-6 * expected.max(1.0),
                "seed {seed}: {total} vs {expected}"
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Smooth everywhere (no mining), so any data will do. Tolerance:
        // FD_TOL; at τ = 0.1 the logits are 10× the similarities, so f32
        // rounding is the larger error there.
        let (n, dim) = (12, 5);
        let tol = FD_TOL;
        for (seed, t) in [(1, 0.1), (2, 0.5)] {
            let loss = SupCon::new(t).unwrap();
            let emb = unit_rows(values(seed, n * dim), dim);
            let labels = labels(seed, n, 4);
            fd_check(&loss, &emb, dim, &labels, tol, &|_| Vec::new());
        }
    }

    #[test]
    fn single_class_and_all_distinct_labels() {
        let loss = SupCon::default();
        // All distinct: no anchor has a positive.
        let (total, grad) = eval(&loss, &TRIO, 2, &[0, 1, 2]);
        assert_eq!((total, grad), (0.0, vec![0.0; 6]));
        // One class: every row is a positive of every other; still finite
        // and as the definition says.
        let (total, grad) = eval(&loss, &TRIO, 2, &[1, 1, 1]);
        assert_finite(total, &grad);
        let expected = reference(&loss, &TRIO, 2, &[1, 1, 1]);
        assert!((total - expected).abs() < 1e-6, "{total} vs {expected}");
    }

    #[test]
    fn identical_embeddings_give_finite_loss() {
        // Equal logits: ℓ_i = log(n − 1) − 0 for n = 4, whatever the labels.
        let emb = [0.6f32, 0.8].repeat(4);
        let (total, grad) = eval(&SupCon::default(), &emb, 2, &[0, 0, 1, 1]);
        assert_finite(total, &grad);
        assert!((total - 3.0f64.ln()).abs() < 1e-5, "{total}");
    }

    #[test]
    fn small_temperature_does_not_overflow() {
        // S/τ up to 1e6: exp would overflow without the shift.
        let loss = SupCon::new(1e-6).unwrap();
        let emb = unit_rows(values(12, 24), 3);
        let (total, grad) = eval(&loss, &emb, 3, &[0, 0, 1, 1, 2, 2, 0, 1]);
        assert_finite(total, &grad);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert_eq!(
            SupCon::new(0.0),
            Err(LossError::InvalidParameter {
                name: "supervised contrastive temperature",
                value: 0.0,
                expected: "finite and > 0"
            })
        );
        assert_eq!(
            SupCon::new(0.0).unwrap_err().to_string(),
            "supervised contrastive temperature must be finite and > 0, found 0"
        );
        assert!(SupCon::new(-0.1).is_err());
        assert!(SupCon::new(f32::NAN).is_err());
        let mut g = [0.0; 4];
        assert!(
            SupCon {
                temperature: f32::INFINITY
            }
            .forward_backward(&[0.0; 4], 2, &[0, 1], &mut BatchScratch::default(), &mut g)
            .is_err()
        );
    }

    #[test]
    fn shared_edge_cases_permutation_and_determinism() {
        let loss = SupCon::default();
        check_common_edge_cases(&loss);
        let (n, dim) = (12, 5);
        let emb = unit_rows(values(10, n * dim), dim);
        let labels = labels(10, n, 3);
        check_permutation(&loss, &emb, dim, &labels);
        check_determinism(&loss, &emb, dim, &labels);
    }
}
