//! What the in-batch losses share: the [`BatchLoss`] trait, the reusable
//! [`BatchScratch`], shape checks, the `n × n` distance and similarity
//! matrices and the backward pass through them.
//!
//! Every in-batch loss is computed in three steps: fill an `n × n` matrix `M`
//! (distances or dot products), compute the loss and `G = ∂L/∂M` from `M` and
//! the labels alone, then map `G` back to the rows. Only the middle step
//! differs between losses.

use crate::error::{LossError, rows_len};
use crate::kernels::{clamped_sqrt, squared_distance};
use ndarray::{ArrayView2, ArrayViewMut2};
use siamese_gemm::matmul;

/// A loss over one batch of labelled embeddings, with its gradient.
///
/// The batch is `n` rows of `dim` values (`embeddings`, row-major `n × dim`)
/// with one class label per row (`labels`, length `n`); which rows form
/// positive pairs (same label) and negative pairs (different labels) follows
/// from the labels, not from how the batch was sampled.
pub trait BatchLoss {
    /// Returns the loss `L` (a mean, see each implementation) and overwrites
    /// `grad` (row-major `n × dim`) with `∂L/∂embeddings`.
    ///
    /// Any choice made from the values (mined pairs or triplets, hinges) is
    /// made once in the forward pass and held fixed for the gradient, which is
    /// then the exact gradient of the loss almost everywhere.
    ///
    /// `scratch` holds the `n × n` work matrices; it grows on the first call
    /// for a given batch size and is reused afterwards, so that a training
    /// loop passing the same scratch every step does not allocate.
    ///
    /// # Errors
    /// [`LossError::ZeroDim`], [`LossError::ShapeMismatch`] when `embeddings`
    /// or `grad` is not `labels.len() × dim`, an invalid hyper-parameter of the
    /// loss, or [`LossError::BatchTooLarge`] when the scratch cannot grow.
    /// Nothing is written to `grad` on error.
    fn forward_backward(
        &self,
        embeddings: &[f32],
        dim: usize,
        labels: &[u32],
        scratch: &mut BatchScratch,
        grad: &mut [f32],
    ) -> Result<f64, LossError>;
}

/// Reusable work memory of the in-batch losses: three `n × n` matrices and a
/// per-anchor index buffer.
///
/// Start from `BatchScratch::default()` (empty) and pass the same value to
/// every call; it grows to the largest batch seen and never shrinks, so a
/// training loop allocates only on its first step. One scratch may be shared
/// by different losses, as long as the calls are not concurrent.
#[derive(Debug, Clone, Default)]
pub struct BatchScratch {
    /// Distances or similarities, `n × n`.
    mat: Vec<f32>,
    /// `1/d` where the distance clamp is inactive, 0 where it is active
    /// (distance losses only), `n × n`.
    inv: Vec<f32>,
    /// `∂L/∂mat`, then the symmetric per-pair coefficients of the backward pass.
    coef: Vec<f32>,
    /// Per-anchor list of candidate rows (e.g. its negatives).
    idx: Vec<usize>,
}

/// Borrowed views of a [`BatchScratch`] sized for one batch.
pub(crate) struct Work<'a> {
    pub(crate) mat: &'a mut [f32],
    pub(crate) inv: &'a mut [f32],
    pub(crate) coef: &'a mut [f32],
    pub(crate) idx: &'a mut [usize],
}

impl BatchScratch {
    /// Grows the scratch for batches of up to `n` rows now, so that the first
    /// training step is not slower than the others.
    ///
    /// # Errors
    /// [`LossError::BatchTooLarge`] when `n²` overflows or cannot be allocated.
    pub fn reserve(&mut self, n: usize) -> Result<(), LossError> {
        let n2 = n.checked_mul(n).ok_or(LossError::BatchTooLarge { n })?;
        // try_reserve rather than resize alone: a huge batch is an error to
        // report, not an abort.
        grow(&mut self.mat, n2, n)?;
        grow(&mut self.inv, n2, n)?;
        grow(&mut self.coef, n2, n)?;
        grow(&mut self.idx, n, n)
    }

    /// Grows if needed and splits the scratch into per-batch views.
    pub(crate) fn work(&mut self, n: usize) -> Result<Work<'_>, LossError> {
        self.reserve(n)?;
        let n2 = n * n;
        Ok(Work {
            mat: &mut self.mat[..n2],
            inv: &mut self.inv[..n2],
            coef: &mut self.coef[..n2],
            idx: &mut self.idx[..n],
        })
    }

    /// The start shared by the similarity losses: the batch checked, `mat` = `E·Eᵀ`, `coef`
    /// zeroed; `None` for an empty batch.
    pub(crate) fn similarities(
        &mut self,
        embeddings: &[f32],
        dim: usize,
        labels: &[u32],
        grad: &[f32],
    ) -> Result<Option<(usize, Work<'_>)>, LossError> {
        let n = check_batch(embeddings, dim, labels, grad)?;
        if n == 0 {
            return Ok(None);
        }
        let work = self.work(n)?;
        fill_similarities(embeddings, dim, n, &mut *work.mat)?;
        work.coef.fill(0.0);
        Ok(Some((n, work)))
    }

    /// The start shared by the distance losses: the batch checked, `mat` = the clamped
    /// distances, `inv` their `1/d`, `coef` zeroed; `None` for an empty batch.
    pub(crate) fn distances(
        &mut self,
        embeddings: &[f32],
        dim: usize,
        labels: &[u32],
        grad: &[f32],
        eps: f32,
    ) -> Result<Option<(usize, Work<'_>)>, LossError> {
        let n = check_batch(embeddings, dim, labels, grad)?;
        if n == 0 {
            return Ok(None);
        }
        let work = self.work(n)?;
        fill_distances(embeddings, dim, n, eps, &mut *work.mat, &mut *work.inv);
        work.coef.fill(0.0);
        Ok(Some((n, work)))
    }

    /// Addresses and capacities of the buffers, to check in tests that a
    /// call did not reallocate.
    #[cfg(test)]
    pub(crate) fn fingerprint(&self) -> [(usize, usize); 4] {
        [
            (self.mat.as_ptr() as usize, self.mat.capacity()),
            (self.inv.as_ptr() as usize, self.inv.capacity()),
            (self.coef.as_ptr() as usize, self.coef.capacity()),
            (self.idx.as_ptr() as usize, self.idx.capacity()),
        ]
    }
}

fn grow<T: Copy + Default>(v: &mut Vec<T>, len: usize, n: usize) -> Result<(), LossError> {
    if v.len() < len {
        v.try_reserve_exact(len - v.len())
            .map_err(|_| LossError::BatchTooLarge { n })?;
        v.resize(len, T::default());
    }
    Ok(())
}

/// Checks the shapes shared by every in-batch loss and returns `n`.
pub(crate) fn check_batch(
    embeddings: &[f32],
    dim: usize,
    labels: &[u32],
    grad: &[f32],
) -> Result<usize, LossError> {
    if dim == 0 {
        return Err(LossError::ZeroDim);
    }
    let n = labels.len();
    rows_len("embeddings (n × dim)", n, dim, embeddings.len())?;
    rows_len("grad (n × dim)", n, dim, grad.len())?;
    Ok(n)
}

/// Fills `dist` with the clamped Euclidean distances
/// `d_ij = sqrt(max(|e_i − e_j|², eps))` and `inv` with `1/d_ij`, or 0 where
/// the clamp is active (the clamped distance is constant there). Both are
/// symmetric; the diagonal is `sqrt(eps)` with `inv = 0`.
pub(crate) fn fill_distances(
    emb: &[f32],
    dim: usize,
    n: usize,
    eps: f32,
    dist: &mut [f32],
    inv: &mut [f32],
) {
    let diag = eps.sqrt();
    for (i, ei) in emb.chunks_exact(dim).enumerate() {
        dist[i * n + i] = diag;
        inv[i * n + i] = 0.0;
        for (j, ej) in emb.chunks_exact(dim).enumerate().skip(i + 1) {
            let (d, id) = clamped_sqrt(squared_distance(ei, ej), eps);
            dist[i * n + j] = d;
            dist[j * n + i] = d;
            inv[i * n + j] = id;
            inv[j * n + i] = id;
        }
    }
}

/// Fills `sim` with the dot products `S_ij = e_i · e_j` (symmetric, diagonal
/// included), as one matrix product `E·Eᵀ`.
pub(crate) fn fill_similarities(
    emb: &[f32],
    dim: usize,
    n: usize,
    sim: &mut [f32],
) -> Result<(), LossError> {
    let e = matrix("embeddings (n × dim)", emb, n, dim)?;
    let mut s = matrix_mut("similarities (n × n)", sim, n, n)?;
    matmul(1.0, e, e.t(), 0.0, s.view_mut())?;
    // The product need not be exactly symmetric; the losses assume it is.
    for i in 0..n {
        for j in i + 1..n {
            s[[j, i]] = s[[i, j]];
        }
    }
    Ok(())
}

/// The first `rows × cols` values of `values` as a matrix; an error naming `what` when there
/// are fewer.
fn matrix<'a>(
    what: &'static str,
    values: &'a [f32],
    rows: usize,
    cols: usize,
) -> Result<ArrayView2<'a, f32>, LossError> {
    let len = rows_cols(what, rows, cols, values.len())?;
    ArrayView2::from_shape((rows, cols), &values[..len])
        .map_err(|_| too_short(what, len, values.len()))
}

/// [`matrix`], writable.
fn matrix_mut<'a>(
    what: &'static str,
    values: &'a mut [f32],
    rows: usize,
    cols: usize,
) -> Result<ArrayViewMut2<'a, f32>, LossError> {
    let found = values.len();
    let len = rows_cols(what, rows, cols, found)?;
    ArrayViewMut2::from_shape((rows, cols), &mut values[..len])
        .map_err(|_| too_short(what, len, found))
}

/// `rows · cols`, checked to fit in `found` values.
fn rows_cols(
    what: &'static str,
    rows: usize,
    cols: usize,
    found: usize,
) -> Result<usize, LossError> {
    match rows.checked_mul(cols) {
        Some(len) if len <= found => Ok(len),
        len => Err(too_short(what, len.unwrap_or(usize::MAX), found)),
    }
}

fn too_short(what: &'static str, expected: usize, found: usize) -> LossError {
    LossError::ShapeMismatch {
        what,
        expected,
        found,
    }
}

/// Backward pass through the distance matrix: given `coef = ∂L/∂d` (a loss
/// term may have recorded `d_ij` in either orientation, so `coef` need not be
/// symmetric), writes
/// `grad_i = scale · Σ_j (G_ij + G_ji) · (e_i − e_j) / d_ij`.
///
/// `coef` is overwritten with the symmetric per-pair factors.
pub(crate) fn distance_backward(
    emb: &[f32],
    dim: usize,
    n: usize,
    inv: &[f32],
    coef: &mut [f32],
    scale: f32,
    grad: &mut [f32],
) -> Result<(), LossError> {
    if n == 0 {
        return Ok(());
    }
    for i in 0..n {
        coef[i * n + i] = 0.0;
        for j in i + 1..n {
            let c = (coef[i * n + j] + coef[j * n + i]) * inv[i * n + j] * scale;
            coef[i * n + j] = c;
            coef[j * n + i] = c;
        }
    }
    // grad_i = (Σ_j c_ij) e_i − (C·E)_i: one matrix product.
    let c = matrix("coefficients (n × n)", coef, n, n)?;
    let e = matrix("embeddings (n × dim)", emb, n, dim)?;
    let mut g = matrix_mut("grad (n × dim)", grad, n, dim)?;
    matmul(-1.0, c, e, 0.0, g.view_mut())?;
    for ((mut g, ei), crow) in g.rows_mut().into_iter().zip(e.rows()).zip(c.rows()) {
        let total: f32 = crow.sum();
        g.scaled_add(total, &ei);
    }
    Ok(())
}

/// Backward pass through the dot-product matrix: given `coef = ∂L/∂S`, writes
/// `grad_i = scale · Σ_j (G_ij + G_ji) · e_j`.
///
/// `coef` is overwritten with the symmetric per-pair factors.
pub(crate) fn similarity_backward(
    emb: &[f32],
    dim: usize,
    n: usize,
    coef: &mut [f32],
    scale: f32,
    grad: &mut [f32],
) -> Result<(), LossError> {
    if n == 0 {
        return Ok(());
    }
    for i in 0..n {
        coef[i * n + i] *= 2.0 * scale;
        for j in i + 1..n {
            let c = (coef[i * n + j] + coef[j * n + i]) * scale;
            coef[i * n + j] = c;
            coef[j * n + i] = c;
        }
    }
    // grad = C·E, one matrix product.
    let c = matrix("coefficients (n × n)", coef, n, n)?;
    let e = matrix("embeddings (n × dim)", emb, n, dim)?;
    let g = matrix_mut("grad (n × dim)", grad, n, dim)?;
    matmul(1.0, c, e, 0.0, g)?;
    Ok(())
}

/// `1/count` as the gradient scale of a mean, 0 for an empty mean.
pub(crate) fn mean_scale(count: usize) -> f64 {
    if count == 0 { 0.0 } else { 1.0 / count as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::eval;
    use crate::{AllPairsContrastive, MultiSimilarity, SupCon, Triplet, TripletMining};
    use proptest::prelude::*;

    fn all_losses() -> Vec<Box<dyn BatchLoss>> {
        vec![
            Box::new(AllPairsContrastive::new(1.0).unwrap()),
            Box::new(Triplet::new(0.3, TripletMining::BatchAll).unwrap()),
            Box::new(Triplet::new(0.3, TripletMining::BatchHard).unwrap()),
            Box::new(Triplet::new(0.3, TripletMining::SemiHard).unwrap()),
            Box::new(MultiSimilarity::default()),
            Box::new(SupCon::default()),
        ]
    }

    #[test]
    fn reserve_grows_once_and_reports_impossible_sizes() {
        let mut scratch = BatchScratch::default();
        scratch.reserve(16).unwrap();
        let before = scratch.fingerprint();
        let emb = crate::test_util::values(1, 16 * 3);
        let labels: Vec<u32> = (0..16).map(|i| i % 4).collect();
        let mut grad = vec![0.0; emb.len()];
        for loss in all_losses() {
            for n in [16, 5, 16] {
                loss.forward_backward(
                    &emb[..n * 3],
                    3,
                    &labels[..n],
                    &mut scratch,
                    &mut grad[..n * 3],
                )
                .unwrap();
            }
        }
        assert_eq!(scratch.fingerprint(), before);
        // n² overflows usize; then n² fits but not in memory (capacity overflow).
        for n in [1usize << 33, 1 << 31] {
            assert_eq!(scratch.reserve(n), Err(LossError::BatchTooLarge { n }));
        }
        assert_eq!(scratch.fingerprint(), before);
    }

    proptest! {
        #[test]
        fn outputs_are_finite_for_finite_inputs_and_scratch_can_be_shared(
            dim in 1usize..6,
            n in 0usize..10,
            raw in proptest::collection::vec(-1e3f32..1e3, 60),
            labels in proptest::collection::vec(0u32..4, 10),
            collapse in any::<bool>(),
        ) {
            let mut emb = raw[..n * dim].to_vec();
            if collapse && n > 0 {
                // Identical rows: every distance hits the clamp.
                let first = emb[..dim].to_vec();
                for row in emb.chunks_exact_mut(dim) {
                    row.copy_from_slice(&first);
                }
            }
            let labels = &labels[..n];
            // One scratch for every loss, in turn.
            let mut scratch = BatchScratch::default();
            for loss in all_losses() {
                let mut grad = vec![f32::NAN; n * dim];
                let total = loss.forward_backward(&emb, dim, labels, &mut scratch, &mut grad).unwrap();
                prop_assert!(total.is_finite() && total > -1e-3, "{total}");
                prop_assert!(grad.iter().all(|g| g.is_finite()));
                let (fresh_total, fresh_grad) = eval(loss.as_ref(), &emb, dim, labels);
                prop_assert_eq!(total.to_bits(), fresh_total.to_bits());
                prop_assert!(grad.iter().zip(&fresh_grad).all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }
}
