//! The pair-wise contrastive loss of the tutorial: a batch of `n` labelled
//! pairs, stacked as `2n` rows, each pair scored on its own.

use crate::error::{LossError, check_eps, check_len, check_margin, rows_len};
use crate::kernels::{clamped_sqrt, squared_distance};

/// Default clamp on the squared distance before the square root, as Keras'
/// `K.epsilon()` in the reference Siamese example.
pub const DEFAULT_EPS: f32 = 1e-7;

/// Contrastive loss of Chopra, Hadsell and LeCun (2005), in the convention of
/// the Keras Siamese MNIST example.
///
/// For one pair at distance `d` with target `y` (`1.0` = similar, `0.0` =
/// dissimilar):
///
/// `L = y·d² + (1 − y)·max(m − d, 0)²`
///
/// The paper writes `L = (1 − Y)·½·D² + Y·½·max(0, m − D)²` with `Y = 0` for
/// similar pairs; ours is twice that with `Y` flipped (`y = 1 − Y`), which is
/// what the Keras example computes. The factor 2 only rescales the learning
/// rate. Targets between 0 and 1 interpolate linearly and are accepted.
///
/// Similar pairs are pulled together; dissimilar pairs are pushed apart until
/// they are at least `margin` apart, after which they contribute nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contrastive {
    /// Distance beyond which dissimilar pairs stop contributing; must be > 0.
    pub margin: f32,
    /// Clamp on the squared distance before the square root in
    /// [`contrastive_forward_backward`]; must be > 0. Defaults to [`DEFAULT_EPS`].
    pub eps: f32,
}

impl Default for Contrastive {
    /// Margin 1, as in the Keras example, and [`DEFAULT_EPS`].
    fn default() -> Self {
        Self {
            margin: 1.0,
            eps: DEFAULT_EPS,
        }
    }
}

impl Contrastive {
    /// A contrastive loss with the given margin and the default distance clamp.
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

    /// Loss of one pair at distance `d` with target `similar` (1 = similar).
    #[inline]
    pub fn loss(&self, d: f32, similar: f32) -> f32 {
        let hinge = (self.margin - d).max(0.0);
        similar * d * d + (1.0 - similar) * hinge * hinge
    }

    /// `dL/dd` of one pair, not divided by the batch size.
    ///
    /// At `d = margin` the hinge term's one-sided derivatives are both 0, so
    /// this is exact there, not a subgradient choice.
    #[inline]
    pub fn grad(&self, d: f32, similar: f32) -> f32 {
        let hinge = (self.margin - d).max(0.0);
        2.0 * similar * d - 2.0 * (1.0 - similar) * hinge
    }
}

/// Euclidean distance between two vectors of the same length, clamped like the batch
/// functions: `sqrt(max(Σ (a_j − b_j)², eps))`. `a` and `b` must have the same length.
///
/// ```
/// assert_eq!(siamese_loss::distance(&[0.0, 3.0], &[4.0, 0.0], 1e-7), 5.0);
/// ```
pub fn distance(a: &[f32], b: &[f32], eps: f32) -> f32 {
    clamped_sqrt(squared_distance(a, b), eps).0
}

/// Euclidean distance between row `i` of `a` and row `i` of `b`, for each `i`:
/// `out[i] = sqrt(max(Σ_j (a_ij − b_ij)², eps))`.
///
/// `a` and `b` are row-major `n × dim`; `out` has `n` elements. The clamp keeps
/// `d > 0`, so identical rows give `sqrt(eps)` and no NaN downstream.
///
/// # Errors
/// [`LossError::ZeroDim`], [`LossError::InvalidEps`], or
/// [`LossError::ShapeMismatch`] when the slices are not `n × dim`, `n × dim`, `n`.
pub fn pair_distances(
    a: &[f32],
    b: &[f32],
    dim: usize,
    eps: f32,
    out: &mut [f32],
) -> Result<(), LossError> {
    if dim == 0 {
        return Err(LossError::ZeroDim);
    }
    check_eps(eps)?;
    let n = out.len();
    rows_len("a (n × dim)", n, dim, a.len())?;
    rows_len("b (n × dim)", n, dim, b.len())?;
    for ((ra, rb), o) in a.chunks_exact(dim).zip(b.chunks_exact(dim)).zip(out) {
        *o = clamped_sqrt(squared_distance(ra, rb), eps).0;
    }
    Ok(())
}

/// Backward pass of [`pair_distances`]: given `grad_dist[i] = ∂L/∂d_i`, writes
/// `grad_a[i] = grad_dist[i]·(a_i − b_i)/d_i` and `grad_b[i] = −grad_a[i]`
/// (overwriting, not accumulating). Rows where the clamp was active get 0.
///
/// The distances are recomputed rather than passed in, so that "clamp active"
/// is decided exactly as in the forward pass.
///
/// # Errors
/// As [`pair_distances`], with `grad_dist` of length `n` and `grad_a`,
/// `grad_b` of length `n × dim`.
pub fn pair_distances_backward(
    a: &[f32],
    b: &[f32],
    dim: usize,
    eps: f32,
    grad_dist: &[f32],
    grad_a: &mut [f32],
    grad_b: &mut [f32],
) -> Result<(), LossError> {
    if dim == 0 {
        return Err(LossError::ZeroDim);
    }
    check_eps(eps)?;
    let n = grad_dist.len();
    rows_len("a (n × dim)", n, dim, a.len())?;
    rows_len("b (n × dim)", n, dim, b.len())?;
    rows_len("grad_a (n × dim)", n, dim, grad_a.len())?;
    rows_len("grad_b (n × dim)", n, dim, grad_b.len())?;
    let rows = a
        .chunks_exact(dim)
        .zip(b.chunks_exact(dim))
        .zip(
            grad_a
                .chunks_exact_mut(dim)
                .zip(grad_b.chunks_exact_mut(dim)),
        )
        .zip(grad_dist);
    for (((ra, rb), (ga, gb)), &gd) in rows {
        let (_, inv_d) = clamped_sqrt(squared_distance(ra, rb), eps);
        write_row_grad(ra, rb, gd * inv_d, ga, gb);
    }
    Ok(())
}

/// `ga = c·(a − b)`, `gb = −ga`.
#[inline]
fn write_row_grad(ra: &[f32], rb: &[f32], c: f32, ga: &mut [f32], gb: &mut [f32]) {
    for (((x, y), g1), g2) in ra.iter().zip(rb).zip(ga).zip(gb) {
        let g = c * (x - y);
        *g1 = g;
        *g2 = -g;
    }
}

/// Fused forward and backward pass of distance + contrastive loss, in one pass
/// over the embeddings.
///
/// - `emb` is the stacked output of both towers, row-major `2n × dim`: rows
///   `0..n` are the left images, rows `n..2n` the right images of the same pairs.
/// - `similar` has the `n` targets (1 = similar, 0 = dissimilar).
/// - `scale` multiplies every gradient: pass `1 / N` with `N` the size of the
///   whole minibatch, even when this call sees only a shard of it, so that
///   shards computed in parallel add up to the minibatch mean.
/// - `dist` (length `n`) receives the clamped distances.
/// - `grad` (length `2n × dim`, same layout as `emb`) is overwritten with
///   `scale · ∂(Σ_i L_i)/∂emb`.
///
/// Returns the summed, unscaled loss of the `n` pairs, accumulated in `f64`.
///
/// Outputs are finite for finite inputs as long as the squared distance does
/// not overflow `f32` (|a − b| up to about 1e19 / √dim).
///
/// # Errors
/// [`LossError::ZeroDim`], an invalid `loss` (see [`Contrastive::validate`]),
/// or [`LossError::ShapeMismatch`] for any slice of the wrong length. Nothing
/// is written on error.
pub fn contrastive_forward_backward(
    emb: &[f32],
    dim: usize,
    similar: &[f32],
    loss: &Contrastive,
    scale: f32,
    dist: &mut [f32],
    grad: &mut [f32],
) -> Result<f64, LossError> {
    if dim == 0 {
        return Err(LossError::ZeroDim);
    }
    loss.validate()?;
    let n = similar.len();
    let rows = n.checked_mul(2).ok_or(LossError::ShapeMismatch {
        what: "similar (n)",
        expected: usize::MAX / 2,
        found: n,
    })?;
    rows_len("emb (2n × dim)", rows, dim, emb.len())?;
    rows_len("grad (2n × dim)", rows, dim, grad.len())?;
    check_len("dist (n)", n, dist.len())?;

    let (left, right) = emb.split_at(n * dim);
    let (grad_left, grad_right) = grad.split_at_mut(n * dim);
    let pairs = left
        .chunks_exact(dim)
        .zip(right.chunks_exact(dim))
        .zip(
            grad_left
                .chunks_exact_mut(dim)
                .zip(grad_right.chunks_exact_mut(dim)),
        )
        .zip(similar.iter().zip(dist.iter_mut()));
    let mut total = 0.0f64;
    for (((ra, rb), (ga, gb)), (&y, d_out)) in pairs {
        let (d, inv_d) = clamped_sqrt(squared_distance(ra, rb), loss.eps);
        *d_out = d;
        total += f64::from(loss.loss(d, y));
        write_row_grad(ra, rb, scale * loss.grad(d, y) * inv_d, ga, gb);
    }
    Ok(total)
}

/// Number of pairs classified correctly when a pair is predicted similar iff
/// `dist[i] < threshold` and the target counts as similar iff `similar[i] > 0.5`.
///
/// # Errors
/// [`LossError::ShapeMismatch`] when `similar` and `dist` differ in length.
pub fn count_correct(dist: &[f32], similar: &[f32], threshold: f32) -> Result<usize, LossError> {
    check_len("similar (n)", dist.len(), similar.len())?;
    Ok(dist
        .iter()
        .zip(similar)
        .filter(|&(&d, &y)| (d < threshold) == (y > 0.5))
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic values in [-1, 1) without pulling in `rand`.
    fn values(seed: u64, len: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Central differences in f32 with step `H`; tolerance
    /// `|numeric − analytic| ≤ RTOL·max(1, |analytic|)`: f32 rounding of
    /// values of order 1 gives about 1e-7/H ≈ 1e-4 of noise, truncation
    /// H² ≈ 1e-6, so 1e-3 leaves a 10× margin.
    const H: f32 = 1e-3;
    const RTOL: f32 = 1e-3;

    fn assert_close(numeric: f32, analytic: f32, ctx: &str) {
        let tol = RTOL * analytic.abs().max(1.0);
        assert!(
            (numeric - analytic).abs() <= tol,
            "{ctx}: numeric {numeric} vs analytic {analytic} (tolerance {tol})"
        );
    }

    fn sum_dist(a: &[f32], b: &[f32], dim: usize, w: &[f32]) -> f64 {
        let mut out = vec![0.0; w.len()];
        pair_distances(a, b, dim, DEFAULT_EPS, &mut out).unwrap();
        out.iter()
            .zip(w)
            .map(|(&d, &w)| f64::from(d) * f64::from(w))
            .sum()
    }

    #[test]
    fn distance_matches_definition() {
        let a = [3.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let b = [0.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let mut out = [0.0];
        pair_distances(&a, &b, 11, DEFAULT_EPS, &mut out).unwrap();
        assert_eq!(out[0], 5.0);
    }

    #[test]
    fn distance_gradient_matches_finite_differences() {
        let (n, dim) = (3, 13); // 13: exercises both the 8-lane body and the tail
        let a = values(1, n * dim);
        let b = values(2, n * dim);
        // Weighted sum of distances so each row's gradient is scaled differently.
        let w = [0.5, -1.5, 2.0];
        let (mut ga, mut gb) = (vec![0.0; n * dim], vec![0.0; n * dim]);
        pair_distances_backward(&a, &b, dim, DEFAULT_EPS, &w, &mut ga, &mut gb).unwrap();
        for k in 0..n * dim {
            let (mut ap, mut am) = (a.clone(), a.clone());
            ap[k] += H;
            am[k] -= H;
            let num =
                (sum_dist(&ap, &b, dim, &w) - sum_dist(&am, &b, dim, &w)) / f64::from(2.0 * H);
            assert_close(num as f32, ga[k], &format!("d/da[{k}]"));
            let (mut bp, mut bm) = (b.clone(), b.clone());
            bp[k] += H;
            bm[k] -= H;
            let num =
                (sum_dist(&a, &bp, dim, &w) - sum_dist(&a, &bm, dim, &w)) / f64::from(2.0 * H);
            assert_close(num as f32, gb[k], &format!("d/db[{k}]"));
        }
    }

    #[test]
    fn loss_gradient_matches_finite_differences() {
        let loss = Contrastive::new(1.25).unwrap();
        // Avoid d = margin, the only kink, where central differences straddle it.
        for &d in &[0.01f32, 0.3, 0.9, 1.1, 1.5, 3.0] {
            for &y in &[0.0f32, 1.0, 0.25] {
                let num = (loss.loss(d + H, y) - loss.loss(d - H, y)) / (2.0 * H);
                assert_close(num, loss.grad(d, y), &format!("dL/dd at d={d}, y={y}"));
            }
        }
    }

    #[test]
    fn fused_gradient_matches_finite_differences() {
        let (n, dim) = (4, 10);
        let loss = Contrastive::new(4.0).unwrap();
        let emb = values(3, 2 * n * dim);
        let similar = [1.0, 0.0, 1.0, 0.0];
        let scale = 0.125; // as if this were a shard of a minibatch of 8
        let mut dist = vec![0.0; n];
        let mut grad = vec![0.0; 2 * n * dim];
        contrastive_forward_backward(&emb, dim, &similar, &loss, scale, &mut dist, &mut grad)
            .unwrap();
        // Keep every dissimilar pair inside the margin so the hinge is active
        // and away from its kink.
        assert!(dist.iter().all(|&d| d < 3.9 && d > 0.1), "{dist:?}");
        let total = |e: &[f32]| {
            let (mut d, mut g) = (vec![0.0; n], vec![0.0; 2 * n * dim]);
            contrastive_forward_backward(e, dim, &similar, &loss, scale, &mut d, &mut g).unwrap()
        };
        for k in 0..emb.len() {
            let (mut ep, mut em) = (emb.clone(), emb.clone());
            ep[k] += H;
            em[k] -= H;
            let num = (total(&ep) - total(&em)) / f64::from(2.0 * H) * f64::from(scale);
            assert_close(num as f32, grad[k], &format!("dL/demb[{k}]"));
        }
    }

    #[test]
    fn fused_agrees_with_separate_passes() {
        let (n, dim) = (5, 9);
        let loss = Contrastive::new(1.0).unwrap();
        let emb = values(4, 2 * n * dim);
        let similar = [1.0, 0.0, 0.0, 1.0, 0.0];
        let (mut dist, mut grad) = (vec![0.0; n], vec![0.0; 2 * n * dim]);
        let total =
            contrastive_forward_backward(&emb, dim, &similar, &loss, 0.2, &mut dist, &mut grad)
                .unwrap();

        let (a, b) = emb.split_at(n * dim);
        let mut d2 = vec![0.0; n];
        pair_distances(a, b, dim, DEFAULT_EPS, &mut d2).unwrap();
        assert_eq!(dist, d2);
        let expected: f64 = d2
            .iter()
            .zip(&similar)
            .map(|(&d, &y)| f64::from(loss.loss(d, y)))
            .sum();
        assert!((total - expected).abs() < 1e-9);
        let gd: Vec<f32> = d2
            .iter()
            .zip(&similar)
            .map(|(&d, &y)| 0.2 * loss.grad(d, y))
            .collect();
        let (mut ga, mut gb) = (vec![0.0; n * dim], vec![0.0; n * dim]);
        pair_distances_backward(a, b, dim, DEFAULT_EPS, &gd, &mut ga, &mut gb).unwrap();
        assert_eq!(&grad[..n * dim], &ga[..]);
        assert_eq!(&grad[n * dim..], &gb[..]);
    }

    #[test]
    fn identical_embeddings_give_finite_loss_and_zero_gradient() {
        let loss = Contrastive::default();
        let emb = [0.5f32, -0.25, 0.5, -0.25]; // one pair, dim 2, identical rows
        for y in [0.0, 1.0] {
            let (mut d, mut g) = ([0.0], [f32::NAN; 4]);
            let total =
                contrastive_forward_backward(&emb, 2, &[y], &loss, 1.0, &mut d, &mut g).unwrap();
            assert_eq!(d[0], DEFAULT_EPS.sqrt());
            assert!(total.is_finite());
            // y = 0: max(1 − √eps, 0)² ≈ 1; y = 1: eps.
            let expected = if y == 0.0 { 1.0 } else { 0.0 };
            assert!((total - expected).abs() < 1e-3, "y={y}: loss {total}");
            assert_eq!(g, [0.0; 4], "y={y}");
        }
        let (mut ga, mut gb) = ([f32::NAN; 2], [f32::NAN; 2]);
        pair_distances_backward(
            &emb[..2],
            &emb[2..],
            2,
            DEFAULT_EPS,
            &[1.0],
            &mut ga,
            &mut gb,
        )
        .unwrap();
        assert_eq!((ga, gb), ([0.0; 2], [0.0; 2]));
    }

    #[test]
    fn hinge_gradient_is_zero_at_and_beyond_margin() {
        let loss = Contrastive::new(5.0).unwrap();
        assert_eq!(loss.grad(5.0, 0.0), 0.0);
        assert_eq!(loss.loss(5.0, 0.0), 0.0);
        // A dissimilar pair exactly at the margin: (0,0) vs (3,4).
        let emb = [0.0, 0.0, 3.0, 4.0];
        let (mut d, mut g) = ([0.0], [f32::NAN; 4]);
        let total =
            contrastive_forward_backward(&emb, 2, &[0.0], &loss, 1.0, &mut d, &mut g).unwrap();
        assert_eq!((d[0], total), (5.0, 0.0));
        assert_eq!(g, [0.0; 4]);
        // Beyond the margin: no loss, no gradient.
        let emb = [0.0, 0.0, 30.0, 40.0];
        let total =
            contrastive_forward_backward(&emb, 2, &[0.0], &loss, 1.0, &mut d, &mut g).unwrap();
        assert_eq!((d[0], total), (50.0, 0.0));
        assert_eq!(g, [0.0; 4]);
    }

    #[test]
    fn similar_pairs_are_pulled_together() {
        let loss = Contrastive::new(1.0).unwrap();
        // Similar pair at distance 5, beyond the margin: still d² = 25.
        let emb = [0.0, 0.0, 3.0, 4.0];
        let (mut d, mut g) = ([0.0], [0.0; 4]);
        let total =
            contrastive_forward_backward(&emb, 2, &[1.0], &loss, 0.5, &mut d, &mut g).unwrap();
        assert_eq!(total, 25.0);
        // dL/dd = 2d = 10, times scale 0.5, times (a − b)/d = (−0.6, −0.8).
        assert_eq!(g, [-3.0, -4.0, 3.0, 4.0]);
    }

    #[test]
    fn count_correct_uses_strict_threshold() {
        let dist = [0.1, 0.5, 0.9, 0.4];
        let similar = [1.0, 1.0, 0.0, 0.0];
        // Pair 0 right, pair 1 at the threshold is predicted dissimilar (wrong),
        // pair 2 right, pair 3 predicted similar (wrong).
        assert_eq!(count_correct(&dist, &similar, 0.5).unwrap(), 2);
    }

    #[test]
    fn shape_errors_say_what_expected_and_found() {
        let loss = Contrastive::default();
        let (mut d, mut g) = ([0.0; 2], [0.0; 8]);
        let err =
            contrastive_forward_backward(&[0.0; 7], 2, &[1.0, 0.0], &loss, 1.0, &mut d, &mut g)
                .unwrap_err();
        assert_eq!(
            err,
            LossError::ShapeMismatch {
                what: "emb (2n × dim)",
                expected: 8,
                found: 7
            }
        );
        assert_eq!(
            err.to_string(),
            "shape mismatch in emb (2n × dim): expected length 8, found 7"
        );
        let err = contrastive_forward_backward(
            &[0.0; 8],
            2,
            &[1.0, 0.0],
            &loss,
            1.0,
            &mut d,
            &mut g[..6],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            LossError::ShapeMismatch {
                what: "grad (2n × dim)",
                expected: 8,
                found: 6
            }
        ));
        let err = contrastive_forward_backward(
            &[0.0; 8],
            2,
            &[1.0, 0.0],
            &loss,
            1.0,
            &mut d[..1],
            &mut g,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            LossError::ShapeMismatch {
                what: "dist (n)",
                expected: 2,
                found: 1
            }
        ));
        assert_eq!(
            contrastive_forward_backward(&[], 0, &[], &loss, 1.0, &mut [], &mut []),
            Err(LossError::ZeroDim)
        );
        let err = pair_distances(&[0.0; 4], &[0.0; 3], 2, DEFAULT_EPS, &mut d).unwrap_err();
        assert!(matches!(
            err,
            LossError::ShapeMismatch {
                what: "b (n × dim)",
                expected: 4,
                found: 3
            }
        ));
        assert!(count_correct(&[0.0], &[], 0.5).is_err());
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert_eq!(
            Contrastive::new(0.0),
            Err(LossError::InvalidMargin { margin: 0.0 })
        );
        assert!(Contrastive::new(f32::NAN).is_err());
        assert!(Contrastive::new(-1.0).is_err());
        assert_eq!(
            Contrastive::default().with_eps(0.0),
            Err(LossError::InvalidEps { eps: 0.0 })
        );
        let hand_made = Contrastive {
            margin: -2.0,
            eps: DEFAULT_EPS,
        };
        let (mut d, mut g) = ([0.0], [0.0; 2]);
        assert!(
            contrastive_forward_backward(&[0.0; 2], 1, &[1.0], &hand_made, 1.0, &mut d, &mut g)
                .is_err()
        );
        assert!(pair_distances(&[0.0], &[0.0], 1, f32::NAN, &mut d).is_err());
    }

    proptest! {
        #[test]
        fn outputs_are_finite_for_finite_inputs(
            dim in 1usize..20,
            n in 0usize..6,
            raw in proptest::collection::vec(-1e4f32..1e4, 240),
            labels in proptest::collection::vec(0.0f32..=1.0, 6),
            margin in 1e-3f32..100.0,
            scale in 0.0f32..1.0,
            collapse in any::<bool>(),
        ) {
            let mut emb = raw[..2 * n * dim].to_vec();
            if collapse {
                // Identical towers: every distance hits the clamp.
                let (l, r) = emb.split_at_mut(n * dim);
                r.copy_from_slice(l);
            }
            let loss = Contrastive::new(margin).unwrap();
            let (mut d, mut g) = (vec![f32::NAN; n], vec![f32::NAN; 2 * n * dim]);
            let total = contrastive_forward_backward(&emb, dim, &labels[..n], &loss, scale, &mut d, &mut g).unwrap();
            prop_assert!(total.is_finite() && total >= 0.0);
            prop_assert!(d.iter().all(|x| x.is_finite() && *x > 0.0));
            prop_assert!(g.iter().all(|x| x.is_finite()));
        }
    }
}
