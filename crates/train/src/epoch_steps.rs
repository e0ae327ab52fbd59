//! What an epoch steps through, for either kind of step: the shuffled pairs of the pair
//! step, or the class-balanced batches (with this epoch's augmentation) of the in-batch step.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use siamese_data::{Augment, ClassBalancedSampler, Pair, epoch_seed};
use siamese_loss::{BatchLoss, Contrastive};
use siamese_nn::{Floats, Tower};

use crate::batch_step::{BatchStepContext, BatchStepper};
use crate::config::{BatchRecipe, Config, PairRecipe};
use crate::model::TrainedModel;
use crate::prepare::{PreparedData, make_train_pairs};
use crate::run::EpochMetrics;
use crate::step::{StepContext, Stepper};
use crate::{Result, TrainError, seeds};

/// What one step reads besides its own buffers.
pub(crate) struct StepInputs<'a> {
    pub(crate) config: &'a Config,
    pub(crate) data: &'a PreparedData,
    pub(crate) model: &'a TrainedModel,
    /// The pair step's loss.
    pub(crate) pair_loss: &'a Contrastive,
    /// Whether the first layer skips zero pixels.
    pub(crate) sparse: bool,
}

/// What an epoch steps through: shuffled pairs, or class-balanced batches of images.
pub(crate) enum EpochSteps {
    Pairs {
        stepper: Stepper,
        pairs: Vec<Pair>,
        fresh: bool,
    },
    Batches {
        // Boxed: the batch stepper's buffers make it several times the pair variant's size.
        stepper: Box<BatchStepper>,
        sampler: ClassBalancedSampler,
        loss: Box<dyn BatchLoss + Send + Sync>,
        images: Vec<u32>,
        batches: usize,
        /// This epoch's augmentation, its probability scaled by the schedule.
        augment: Option<Augment>,
    },
}

impl EpochSteps {
    pub(crate) fn new(config: &Config, data: &PreparedData, tower: &Tower) -> Result<Self> {
        let training = &config.training;
        let image_len = data.train.image_len();
        Ok(match training.batches {
            BatchRecipe::Pairs => EpochSteps::Pairs {
                stepper: Stepper::new(tower, training.batch_size, training.shard_pairs, image_len),
                pairs: Vec::with_capacity(data.train_pairs.len()),
                fresh: matches!(
                    training.pairs,
                    PairRecipe::Random {
                        fresh_each_epoch: true,
                        ..
                    }
                ),
            },
            BatchRecipe::ClassBalanced { images_per_class } => {
                // Data with fewer classes than a batch has room for gets smaller batches of
                // all its classes, so one recipe fits any class count.
                let present = data.train.class_counts().iter().filter(|&&c| c > 0).count();
                let classes = (training.batch_size / images_per_class).min(present.max(1));
                let sampler = ClassBalancedSampler::new(
                    data.train.labels(),
                    data.train.num_classes(),
                    classes,
                    images_per_class,
                )?;
                let loss = config.loss.batch_loss()?.ok_or_else(|| {
                    TrainError::Internal("class-balanced batches without an in-batch loss".into())
                })?;
                EpochSteps::Batches {
                    // A shard of the pair step holds 2 × shard_pairs images.
                    stepper: Box::new(BatchStepper::new(
                        tower,
                        training.batch_size,
                        2 * training.shard_pairs,
                        image_len,
                    )),
                    batches: sampler.default_batches(data.train.len()),
                    sampler,
                    loss,
                    images: Vec::new(),
                    augment: None,
                }
            }
        })
    }

    /// Draws the epoch's pairs or images; returns (items in the epoch, items per step,
    /// steps). An epoch depends on (seed, epoch) alone, so a resumed run replays it.
    pub(crate) fn start_epoch(
        &mut self,
        config: &Config,
        data: &PreparedData,
        epoch: usize,
        history: &[EpochMetrics],
    ) -> Result<(usize, usize, usize)> {
        let training = &config.training;
        match self {
            EpochSteps::Pairs { pairs, fresh, .. } => {
                // Each epoch shuffles from the same starting order.
                pairs.clear();
                if *fresh && epoch > 0 {
                    pairs.extend(make_train_pairs(config, &data.train, epoch)?);
                } else {
                    pairs.extend_from_slice(&data.train_pairs);
                }
                let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed(
                    training.seed,
                    seeds::SHUFFLE + epoch as u64,
                ));
                pairs.shuffle(&mut rng);
                let batch = training.batch_size;
                Ok((pairs.len(), batch, pairs.len().div_ceil(batch)))
            }
            EpochSteps::Batches {
                sampler,
                images,
                batches,
                augment,
                ..
            } => {
                let accuracy: Vec<f64> = history.iter().map(|m| m.train_accuracy).collect();
                let factor = training.augment_schedule.factor(epoch, &accuracy) as f32;
                *augment = training
                    .augment
                    .map(|a| Augment {
                        probability: a.probability * factor,
                        ..a
                    })
                    .filter(|a| !a.is_identity());
                sampler.epoch(
                    epoch_seed(training.seed, seeds::BATCHES),
                    epoch as u64,
                    *batches,
                    images,
                );
                Ok((images.len(), sampler.batch_len(), *batches))
            }
        }
    }

    /// Forward and backward of step `step`; returns its summed loss (loss per item × items)
    /// and its correct count (pairs right at the threshold, or in-batch 1-NN hits).
    pub(crate) fn step(
        &mut self,
        inputs: &StepInputs<'_>,
        epoch: usize,
        step: usize,
    ) -> Result<(f64, usize)> {
        let config = inputs.config;
        match self {
            EpochSteps::Pairs { stepper, pairs, .. } => {
                let size = config.training.batch_size;
                let batch = &pairs[step * size..((step + 1) * size).min(pairs.len())];
                let ctx = StepContext {
                    tower: inputs.model.tower(),
                    params: inputs.model.params(),
                    data: &inputs.data.train,
                    normalizer: &inputs.data.normalizer,
                    loss: inputs.pair_loss,
                    scale: 1.0 / batch.len() as f32,
                    threshold: config.loss.threshold(),
                    sparse: inputs.sparse,
                };
                stepper.run(&ctx, batch)
            }
            EpochSteps::Batches {
                stepper,
                sampler,
                loss,
                images,
                augment,
                ..
            } => {
                let size = sampler.batch_len();
                let batch = &images[step * size..(step + 1) * size];
                let ctx = BatchStepContext {
                    tower: inputs.model.tower(),
                    params: inputs.model.params(),
                    data: &inputs.data.train,
                    normalizer: &inputs.data.normalizer,
                    loss: loss.as_ref(),
                    normalize: config.model.normalize,
                    sparse: inputs.sparse,
                    augment: augment.as_ref(),
                    seed: config.training.seed,
                    epoch: epoch as u64,
                    first_position: (step * size) as u64,
                };
                let mean = stepper.run(&ctx, batch)?;
                Ok((mean * size as f64, stepper.nearest_neighbour_hits()?))
            }
        }
    }

    pub(crate) fn steps_per_epoch(&self, data: &PreparedData, batch_size: usize) -> usize {
        match self {
            // Fresh pairs are as many every epoch as the first epoch's.
            EpochSteps::Pairs { .. } => data.train_pairs.len().div_ceil(batch_size),
            EpochSteps::Batches { batches, .. } => *batches,
        }
    }

    pub(crate) fn images_per_epoch(&self, data: &PreparedData) -> usize {
        match self {
            EpochSteps::Pairs { .. } => 2 * data.train_pairs.len(),
            EpochSteps::Batches {
                sampler, batches, ..
            } => sampler.batch_len() * batches,
        }
    }

    pub(crate) fn gradients(&mut self) -> &mut [Floats] {
        match self {
            EpochSteps::Pairs { stepper, .. } => stepper.gradients(),
            EpochSteps::Batches { stepper, .. } => stepper.gradients(),
        }
    }
}
