//! One step of an in-batch objective: a class-balanced batch of images through the tower
//! in fixed-size shards (in parallel), the loss over every pair of the whole batch, then
//! the backward pass per shard.
//!
//! Unlike the pair step, the loss couples all images of the batch, so forward and backward
//! are two parallel phases with the (cheap, `batch × batch`) loss between them. Shards keep
//! their activations from the forward phase for the backward one.

use rayon::prelude::*;
use siamese_data::{Augment, Dataset, Normalizer, augment_seed};
use siamese_loss::{BatchLoss, BatchScratch};
use siamese_nn::{CsrBatch, Floats, Input, Tower, Workspace, zeroed_floats};

use crate::batch::{fetch_images, pixels_to_sparse, view};
use crate::{Result, TrainError};

/// What every shard of an in-batch step reads.
#[derive(Clone, Copy)]
pub struct BatchStepContext<'a> {
    /// The tower.
    pub tower: &'a Tower,
    /// Its parameters (read-only during forward and backward).
    pub params: &'a [f32],
    /// The images the batch indexes.
    pub data: &'a Dataset,
    /// Pixel normalization.
    pub normalizer: &'a Normalizer,
    /// The objective.
    pub loss: &'a (dyn BatchLoss + Sync),
    /// Whether embeddings are scaled to unit length before the loss.
    pub normalize: bool,
    /// Whether the first layer skips zero pixels.
    pub sparse: bool,
    /// Random changes of each image, seeded by `(seed, epoch, position)`.
    pub augment: Option<&'a Augment>,
    /// The run's seed.
    pub seed: u64,
    /// The 0-based epoch.
    pub epoch: u64,
    /// Position in the epoch of the batch's first image.
    pub first_position: u64,
}

/// One parallel slice of a batch with its own buffers, allocated once per run.
struct ImageShard {
    workspace: Workspace,
    pixels: Vec<u8>,
    dense: Vec<f32>,
    csr: CsrBatch,
}

impl ImageShard {
    fn new(tower: &Tower, rows: usize, image_len: usize) -> Self {
        Self {
            workspace: tower.workspace(rows),
            pixels: vec![0; rows * image_len],
            dense: vec![0.0; rows * image_len],
            csr: CsrBatch::with_capacity(image_len, rows, rows * image_len / 2),
        }
    }

    /// The shard's images (augmented when asked) through the tower; their embeddings go
    /// into `out`, one row each.
    fn forward(
        &mut self,
        ctx: &BatchStepContext<'_>,
        images: &[u32],
        first_position: u64,
        out: &mut [f32],
    ) -> Result<()> {
        let rows = images.len();
        let image_len = ctx.data.image_len();
        let shape = ctx.data.image_shape();
        fetch_images(ctx.data, images.iter().map(|&i| i as usize));
        let pixels = &mut self.pixels[..rows * image_len];
        for (k, (&i, dst)) in images
            .iter()
            .zip(pixels.chunks_exact_mut(image_len))
            .enumerate()
        {
            let src = ctx.data.image(i as usize);
            match (ctx.augment, shape) {
                (Some(augment), &[height, width]) => {
                    let seed = augment_seed(ctx.seed, ctx.epoch, first_position + k as u64);
                    augment.apply(src, height, width, seed, dst)?;
                }
                _ => dst.copy_from_slice(src),
            }
        }
        let input = if ctx.sparse {
            pixels_to_sparse(ctx.normalizer, pixels, image_len, &mut self.csr);
            Input::Sparse(&self.csr)
        } else {
            let dense = &mut self.dense[..rows * image_len];
            ctx.normalizer.write_image(pixels, dense)?;
            Input::Dense(view(dense, rows, image_len)?)
        };
        let embeddings = ctx.tower.forward(ctx.params, input, &mut self.workspace)?;
        for (dst, src) in out.iter_mut().zip(embeddings.iter()) {
            *dst = *src;
        }
        Ok(())
    }

    /// Backward of the last forward, given ∂loss/∂embeddings of its rows; adds the
    /// parameter gradient into `grads` (left zeroed by the last optimizer step).
    fn backward(
        &mut self,
        ctx: &BatchStepContext<'_>,
        rows: usize,
        embedding_grad: &[f32],
        grads: &mut [f32],
    ) -> Result<()> {
        let image_len = ctx.data.image_len();
        let input = if ctx.sparse {
            Input::Sparse(&self.csr)
        } else {
            Input::Dense(view(&self.dense[..rows * image_len], rows, image_len)?)
        };
        let dim = ctx.tower.spec().embedding;
        ctx.tower.backward(
            ctx.params,
            input,
            &mut self.workspace,
            view(embedding_grad, rows, dim)?,
            grads,
            None,
        )?;
        Ok(())
    }
}

/// Runs in-batch steps as fixed-size image shards in parallel; like
/// [`crate::Stepper`], each shard adds its gradient into its own buffer and the optimizer
/// sums them in shard order, so the result is the same for any number of threads, and
/// leaves them zeroed. All buffers are allocated once, in [`BatchStepper::new`].
pub struct BatchStepper {
    shards: Vec<ImageShard>,
    grads: Vec<Floats>,
    shard_images: usize,
    active: usize,
    dim: usize,
    embeddings: Vec<f32>,
    normalized: Vec<f32>,
    norms: Vec<f32>,
    loss_grad: Vec<f32>,
    embedding_grad: Vec<f32>,
    labels: Vec<u32>,
    scratch: BatchScratch,
    gram: Vec<f32>,
}

impl BatchStepper {
    /// Buffers for batches of up to `batch_size` images in shards of `shard_images`.
    pub fn new(tower: &Tower, batch_size: usize, shard_images: usize, image_len: usize) -> Self {
        let shard_images = shard_images.clamp(1, batch_size.max(1));
        let count = batch_size.div_ceil(shard_images);
        let dim = tower.spec().embedding;
        Self {
            shards: (0..count)
                .map(|_| ImageShard::new(tower, shard_images, image_len))
                .collect(),
            grads: (0..count)
                .map(|_| zeroed_floats(tower.num_params()))
                .collect(),
            shard_images,
            active: 0,
            dim,
            embeddings: vec![0.0; batch_size * dim],
            normalized: vec![0.0; batch_size * dim],
            norms: vec![0.0; batch_size],
            loss_grad: vec![0.0; batch_size * dim],
            embedding_grad: vec![0.0; batch_size * dim],
            labels: Vec::with_capacity(batch_size),
            scratch: BatchScratch::default(),
            gram: vec![0.0; batch_size * batch_size],
        }
    }

    /// The shards' gradients of the last [`BatchStepper::run`], in shard order.
    pub fn gradients(&mut self) -> &mut [Floats] {
        &mut self.grads[..self.active]
    }

    /// How many images of the last batch have a nearest other image (by the distance the
    /// loss saw) of their own class: the in-batch 1-NN hits, training's accuracy figure for
    /// in-batch objectives. One `batch × batch` matrix product.
    pub fn nearest_neighbour_hits(&mut self) -> Result<usize> {
        let (n, dim) = (self.labels.len(), self.dim);
        let rows = view(&self.normalized[..n * dim], n, dim)?;
        let gram = &mut self.gram[..n * n];
        let gram_view = ndarray::ArrayViewMut2::from_shape((n, n), gram)
            .map_err(|e| TrainError::Internal(format!("gram buffer: {e}")))?;
        siamese_gemm::matmul(1.0, rows, rows.t(), 0.0, gram_view)
            .map_err(|e| TrainError::Internal(format!("gram product: {e}")))?;
        let squared_norms: Vec<f32> = (0..n).map(|i| gram[i * n + i]).collect();
        let mut hits = 0;
        for (i, dots) in gram.chunks_exact(n).enumerate() {
            // ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b; ‖a‖² is the same for the whole row.
            let mut best = (f32::INFINITY, i);
            for (j, (&dot, &norm)) in dots.iter().zip(&squared_norms).enumerate() {
                let d = norm - 2.0 * dot;
                if j != i && d < best.0 {
                    best = (d, j);
                }
            }
            hits += usize::from(best.1 != i && self.labels[best.1] == self.labels[i]);
        }
        Ok(hits)
    }

    /// Forward, loss and backward of one batch of image indices (at most the `batch_size`
    /// given to [`BatchStepper::new`]); returns the batch's loss.
    pub fn run(&mut self, ctx: &BatchStepContext<'_>, images: &[u32]) -> Result<f64> {
        let n = images.len();
        if n > self.embeddings.len() / self.dim.max(1) {
            return Err(TrainError::Internal(format!(
                "batch of {n} images, the stepper holds {}",
                self.embeddings.len() / self.dim.max(1)
            )));
        }
        let (dim, per_shard) = (self.dim, self.shard_images);
        self.active = n.div_ceil(per_shard);
        let shards = &mut self.shards[..self.active];
        shards
            .par_iter_mut()
            .zip(self.embeddings[..n * dim].par_chunks_mut(per_shard * dim))
            .enumerate()
            .try_for_each(|(s, (shard, out))| {
                let rows = &images[s * per_shard..((s + 1) * per_shard).min(n)];
                let first = ctx.first_position + (s * per_shard) as u64;
                shard.forward(ctx, rows, first, out)
            })?;

        self.labels.clear();
        self.labels
            .extend(images.iter().map(|&i| ctx.data.label(i as usize)));
        let embeddings = &self.embeddings[..n * dim];
        // `normalized` holds what the loss sees: the unit-length embeddings, or a copy.
        let loss = if ctx.normalize {
            let normalized = &mut self.normalized[..n * dim];
            siamese_loss::l2_normalize(embeddings, dim, normalized, &mut self.norms[..n])?;
            let loss_grad = &mut self.loss_grad[..n * dim];
            let loss = ctx.loss.forward_backward(
                normalized,
                dim,
                &self.labels,
                &mut self.scratch,
                loss_grad,
            )?;
            siamese_loss::l2_normalize_backward(
                normalized,
                &self.norms[..n],
                loss_grad,
                dim,
                &mut self.embedding_grad[..n * dim],
            )?;
            loss
        } else {
            self.normalized[..n * dim].copy_from_slice(embeddings);
            ctx.loss.forward_backward(
                embeddings,
                dim,
                &self.labels,
                &mut self.scratch,
                &mut self.embedding_grad[..n * dim],
            )?
        };

        let embedding_grad = &self.embedding_grad[..n * dim];
        self.shards[..self.active]
            .par_iter_mut()
            .zip(&mut self.grads[..self.active])
            .zip(embedding_grad.par_chunks(per_shard * dim))
            .try_for_each(|((shard, grads), grad)| {
                shard.backward(ctx, grad.len() / dim, grad, grads)
            })?;
        Ok(loss)
    }
}
