//! One training step: a minibatch of pairs through both towers, the loss and the backward
//! pass, split into fixed-size shards that run in parallel.

use rayon::prelude::*;
use siamese_data::{Dataset, Normalizer, Pair};
use siamese_loss::Contrastive;
use siamese_nn::{CsrBatch, Floats, Input, Tower, Workspace, zeroed_floats};

use crate::batch::{fetch_images, gather_sparse, view};
use crate::{Result, TrainError};

/// What every shard of a step reads.
#[derive(Clone, Copy, Debug)]
pub struct StepContext<'a> {
    /// The tower.
    pub tower: &'a Tower,
    /// Its parameters (read-only during forward and backward).
    pub params: &'a [f32],
    /// The images the pairs index.
    pub data: &'a Dataset,
    /// Pixel normalization.
    pub normalizer: &'a Normalizer,
    /// The loss.
    pub loss: &'a Contrastive,
    /// 1 / pairs in the minibatch: the loss is a mean over the whole minibatch.
    pub scale: f32,
    /// Decision threshold for the accuracy count.
    pub threshold: f32,
    /// Whether the first layer skips zero pixels.
    pub sparse: bool,
}

/// One parallel slice of a minibatch with its own buffers, allocated once per run.
struct Shard {
    workspace: Workspace,
    dense: Vec<f32>,
    csr: CsrBatch,
    similar: Vec<f32>,
    distances: Vec<f32>,
    embedding_grad: Vec<f32>,
    loss: f64,
    correct: usize,
}

impl Shard {
    fn new(tower: &Tower, shard_pairs: usize, image_len: usize) -> Self {
        let rows = 2 * shard_pairs;
        Self {
            workspace: tower.workspace(rows),
            dense: vec![0.0; rows * image_len],
            csr: CsrBatch::with_capacity(image_len, rows, rows * image_len / 2),
            similar: vec![0.0; shard_pairs],
            distances: vec![0.0; shard_pairs],
            embedding_grad: vec![0.0; rows * tower.spec().embedding],
            loss: 0.0,
            correct: 0,
        }
    }

    /// Forward and backward for `pairs`, both images of every pair in one batch: the left
    /// images are rows `0..n`, the right ones rows `n..2n`, so each layer is a single matrix
    /// product for both towers and their weight gradients add up inside it.
    fn run(&mut self, ctx: &StepContext<'_>, pairs: &[Pair], grads: &mut [f32]) -> Result<()> {
        let n = pairs.len();
        let rows = 2 * n;
        let image_len = ctx.data.image_len();
        let images = || {
            pairs
                .iter()
                .map(|p| p.left as usize)
                .chain(pairs.iter().map(|p| p.right as usize))
        };
        fetch_images(ctx.data, images());
        let input = if ctx.sparse {
            gather_sparse(ctx.normalizer, ctx.data, images(), &mut self.csr);
            Input::Sparse(&self.csr)
        } else {
            let dense = &mut self.dense[..rows * image_len];
            ctx.normalizer.gather(ctx.data, images(), dense)?;
            Input::Dense(view(dense, rows, image_len)?)
        };
        for (s, p) in self.similar.iter_mut().zip(pairs) {
            *s = p.target();
        }
        let dim = ctx.tower.spec().embedding;
        let embedding_grad = &mut self.embedding_grad[..rows * dim];
        let distances = &mut self.distances[..n];
        {
            let embeddings = ctx.tower.forward(ctx.params, input, &mut self.workspace)?;
            let embeddings = embeddings
                .as_slice()
                .ok_or_else(|| TrainError::Internal("embeddings not contiguous".into()))?;
            self.loss = siamese_loss::contrastive_forward_backward(
                embeddings,
                dim,
                &self.similar[..n],
                ctx.loss,
                ctx.scale,
                distances,
                embedding_grad,
            )?;
        }
        self.correct = siamese_loss::count_correct(distances, &self.similar[..n], ctx.threshold)?;
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

/// Runs minibatches as fixed-size shards in parallel. Each shard adds its gradient into its
/// own buffer; the optimizer sums them in shard order ([`crate::Adam::step_sum`]), so the
/// result is the same for any number of threads, and leaves them zeroed for the next step.
/// All buffers are allocated once, in [`Stepper::new`].
///
/// [`crate::train`] drives it; it is public for custom loops and benchmarks:
/// `stepper.run(&ctx, batch)?` then `adam.step_sum(&mut params, stepper.gradients())`.
pub struct Stepper {
    shards: Vec<Shard>,
    grads: Vec<Floats>,
    shard_pairs: usize,
    active: usize,
}

impl Stepper {
    /// Buffers for minibatches of up to `batch_size` pairs in shards of `shard_pairs`.
    pub fn new(tower: &Tower, batch_size: usize, shard_pairs: usize, image_len: usize) -> Self {
        let shard_pairs = shard_pairs.min(batch_size);
        let count = batch_size.div_ceil(shard_pairs);
        Self {
            shards: (0..count)
                .map(|_| Shard::new(tower, shard_pairs, image_len))
                .collect(),
            grads: (0..count)
                .map(|_| zeroed_floats(tower.num_params()))
                .collect(),
            shard_pairs,
            active: 0,
        }
    }

    /// The shards' gradients of the last [`Stepper::run`], in shard order.
    pub fn gradients(&mut self) -> &mut [Floats] {
        &mut self.grads[..self.active]
    }

    /// Forward and backward of one minibatch (at most the `batch_size` given to
    /// [`Stepper::new`]); returns its summed loss and correct count. The gradient is added
    /// into the shards' buffers, which start zeroed and which [`crate::Adam::step_sum`]
    /// leaves zeroed: two runs without an update between them accumulate.
    pub fn run(&mut self, ctx: &StepContext<'_>, batch: &[Pair]) -> Result<(f64, usize)> {
        if batch.len() > self.shard_pairs * self.shards.len() {
            return Err(TrainError::Internal(format!(
                "minibatch of {} pairs, the stepper holds {}",
                batch.len(),
                self.shard_pairs * self.shards.len()
            )));
        }
        let per_shard = self.shard_pairs;
        self.active = batch.len().div_ceil(per_shard);
        self.shards[..self.active]
            .par_iter_mut()
            .zip(&mut self.grads[..self.active])
            .enumerate()
            .try_for_each(|(s, (shard, grads))| {
                let pairs = &batch[s * per_shard..((s + 1) * per_shard).min(batch.len())];
                shard.run(ctx, pairs, grads)
            })?;
        let shards = &self.shards[..self.active];
        Ok((
            shards.iter().map(|s| s.loss).sum(),
            shards.iter().map(|s| s.correct).sum(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use siamese_nn::{Init, TowerSpec};

    use super::*;
    use crate::Adam;

    #[test]
    fn runs_add_up_until_the_optimizer_consumes_the_gradients() {
        let images: Vec<u8> = (0..8 * 16).map(|i| ((i * 37) % 256) as u8).collect();
        let data = Dataset::from_parts(images, vec![0, 1, 0, 1, 0, 1, 0, 1], vec![16], 2).unwrap();
        let tower = Tower::new(TowerSpec {
            input: 16,
            hidden: vec![64],
            embedding: 4,
            final_activation: false,
        })
        .unwrap();
        let mut params = tower.init_params(Init::GlorotUniform, 3).unwrap();
        let normalizer = Normalizer::unit_range();
        let loss = Contrastive::new(1.0).unwrap();
        let batch: Vec<Pair> = (0..4)
            .map(|i| Pair {
                left: i,
                right: i + 3,
                similar: i % 2 == 1,
            })
            .collect();
        let initial = params.clone();
        let ctx = StepContext {
            tower: &tower,
            params: &initial,
            data: &data,
            normalizer: &normalizer,
            loss: &loss,
            scale: 0.25,
            threshold: 0.5,
            sparse: true,
        };
        // Two shards of two pairs.
        let mut stepper = Stepper::new(&tower, 4, 2, 16);
        stepper.run(&ctx, &batch).unwrap();
        let once: Vec<Vec<f32>> = stepper.gradients().iter().map(|g| g.to_vec()).collect();
        assert!(once.iter().flatten().any(|&g| g != 0.0));
        stepper.run(&ctx, &batch).unwrap();
        // The second run adds its terms one by one onto the first's sums, so it rounds
        // differently from doubling them; 1e-5 relative is far below the difference
        // between accumulating (2×) and overwriting (1×).
        for (twice, once) in stepper.gradients().iter().zip(&once) {
            for (&t, &o) in twice.iter().zip(once) {
                assert!(
                    (t - 2.0 * o).abs() <= 1e-5 * (1.0 + o.abs()),
                    "{t} vs 2 × {o}"
                );
            }
        }

        let mut adam = Adam::new(&crate::OptimizerConfig::default(), tower.num_params());
        assert!(adam.step_sum(&mut params, stepper.gradients()));
        assert!(
            stepper
                .gradients()
                .iter()
                .all(|g| g.iter().all(|&v| v == 0.0))
        );
        // After the update the next run starts from zero again.
        let ctx = StepContext {
            params: &params,
            ..ctx
        };
        stepper.run(&ctx, &batch).unwrap();
        assert!(
            stepper
                .gradients()
                .iter()
                .any(|g| g.iter().any(|&v| v != 0.0))
        );
    }
}
