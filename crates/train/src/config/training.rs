//! The `training` section: epochs, batches, augmentation, seed and threads.

use serde::{Deserialize, Serialize};

/// The `training` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training pairs.
    pub epochs: usize,
    /// Pairs per optimizer step (each pair is two images, so a step runs 2 × this many rows).
    pub batch_size: usize,
    /// How training pairs are made (for `loss.objective: Pairs`).
    #[serde(default = "default_pairs")]
    pub pairs: PairRecipe,
    /// How minibatches are drawn: `Pairs` (the default), `batch_size` pairs of
    /// `pairs` per step; or `ClassBalanced(images_per_class: K)`, `batch_size` images per
    /// step, K of each of `batch_size / K` classes, for the in-batch objectives.
    #[serde(default)]
    pub batches: BatchRecipe,
    /// Random affine changes of each training image as it is read (None = the images as
    /// they are); seeded per epoch and image, so runs stay reproducible.
    #[serde(default)]
    pub augment: Option<siamese_data::Augment>,
    /// Which share of each epoch's images `augment` changes.
    #[serde(default)]
    pub augment_schedule: AugmentSchedule,
    /// The one seed every random choice derives from.
    pub seed: u64,
    /// Worker threads; 0 means one per core, and more than
    /// [`MAX_THREADS_PER_CORE`](crate::MAX_THREADS_PER_CORE) per core is refused when
    /// training starts. Results do not depend on it.
    #[serde(default)]
    pub threads: usize,
    /// Pairs per parallel shard of a minibatch. Shards are summed in a fixed order, so this
    /// (not the thread count) decides the floating-point result.
    #[serde(default = "default_shard_pairs")]
    pub shard_pairs: usize,
    /// Dense or sparse arithmetic in the first layer.
    #[serde(default)]
    pub first_layer: FirstLayer,
    /// Checkpoints within an epoch as well as at its end, for epochs long enough that
    /// losing one hurts: `Some(Steps(500))` or `Some(Seconds(600.0))`. Results do not
    /// depend on it, and a resumed run may change it.
    #[serde(default)]
    pub checkpoint_every: Option<CheckpointEvery>,
}

/// How often a run writes a checkpoint within an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum CheckpointEvery {
    /// After every N steps.
    Steps(usize),
    /// After the first step that ends at least this many seconds after the last checkpoint.
    Seconds(f64),
}

impl CheckpointEvery {
    /// `None` when the value makes sense, else what is expected instead.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        match *self {
            CheckpointEvery::Steps(0) => Some("Steps(n) with n ≥ 1"),
            CheckpointEvery::Seconds(s) if !(s.is_finite() && s > 0.0) => {
                Some("Seconds(s) with a finite s > 0")
            }
            _ => None,
        }
    }
}

fn default_shard_pairs() -> usize {
    64
}

/// How much augmentation each epoch gets, as a factor of `augment.probability`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum AugmentSchedule {
    /// Every epoch.
    #[default]
    Always,
    /// Only the first N epochs.
    FirstEpochs(usize),
    /// As much as the network can afford: the factor for an epoch grows linearly from 0
    /// to 1 as the previous epoch's training accuracy goes from `from` to `to` (none in the
    /// first epoch). A network that fits its training images (MNIST) gets augmentation;
    /// one still short of fit (Fashion-MNIST) does not. Augmented images are harder, so
    /// the accuracy and the factor settle together, like the adaptive augmentation of
    /// Karras et al. (2020). Depends only on recorded figures, so a resumed run replays it.
    WhenFitting {
        /// Training accuracy below which nothing is augmented.
        from: f64,
        /// Training accuracy at and above which `augment.probability` applies in full.
        to: f64,
    },
}

impl AugmentSchedule {
    /// The factor of `augment.probability` for `epoch` (0-based), given the training
    /// accuracy of each finished epoch.
    pub fn factor(&self, epoch: usize, train_accuracy: &[f64]) -> f64 {
        match *self {
            AugmentSchedule::Always => 1.0,
            AugmentSchedule::FirstEpochs(n) => f64::from(u8::from(epoch < n)),
            AugmentSchedule::WhenFitting { from, to } => match epoch.checked_sub(1) {
                Some(last) => train_accuracy
                    .get(last)
                    .map_or(0.0, |&acc| ((acc - from) / (to - from)).clamp(0.0, 1.0)),
                None => 0.0,
            },
        }
    }
}

fn default_pairs() -> PairRecipe {
    PairRecipe::Classic
}

/// How the minibatches of a step are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchRecipe {
    /// `batch_size` pairs of `training.pairs`: both images of each pair go through the tower.
    #[default]
    Pairs,
    /// `batch_size` images: `images_per_class` of each of `batch_size / images_per_class`
    /// classes (like pytorch-metric-learning's `MPerClassSampler`); data with fewer classes
    /// gets batches of all of them. An epoch is as many batches as fit in the training
    /// images.
    ClassBalanced {
        /// Images of each class in a batch (K).
        images_per_class: usize,
    },
}

/// Recipes for training pairs. Label convention everywhere: 1 = similar, 0 = dissimilar.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum PairRecipe {
    /// The Keras `mnist_siamese` recipe: consecutive same-class images, and each with the
    /// image at the same rank of a random other class (108,400 pairs on MNIST).
    Classic,
    /// Random pairs with a given share of similar ones.
    Random {
        /// Pairs per epoch.
        count: usize,
        /// Share of similar pairs, in [0, 1].
        positive_fraction: f64,
        /// Draw new pairs every epoch instead of reusing the first epoch's.
        fresh_each_epoch: bool,
    },
}

/// The arithmetic of the first layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FirstLayer {
    /// Sparse when zero pixels stay zero and fewer than 40% of the training pixels are lit.
    #[default]
    Auto,
    /// Always a dense matrix product.
    Dense,
    /// Always skip zero inputs.
    Sparse,
}
