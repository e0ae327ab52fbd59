//! The epoch loop: a run started (or resumed) from its config, trained epoch by epoch with
//! [`Stepper`] and Adam, scored on validation pairs and checkpointed after every epoch, and
//! finished into the trained model and `summary.json`.

use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use siamese_data::{Augment, ClassBalancedSampler, Dataset, Pair, epoch_seed};
use siamese_loss::{BatchLoss, Contrastive};
use siamese_nn::{Tower, TowerSpec};

use crate::adam::Adam;
use crate::batch_step::{BatchStepContext, BatchStepper};
use crate::config::{BatchRecipe, Config, LrSchedule, PairRecipe};
use crate::model::{TrainedModel, uses_sparse_input};
use crate::observer::{Observer, RunInfo, StepProgress};
use crate::prepare::{PreparedData, make_train_pairs};
use crate::run::{Checkpoint, EpochMetrics, RunDir, Summary};
use crate::score::{PairScore, best_threshold, embedded_pair_distances, score_pairs};
use crate::step::{StepContext, Stepper};
use crate::{Result, TrainError, seeds};

/// How a run starts.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue from the checkpoint in the run directory.
    pub resume: bool,
}

/// The number of worker threads a config asks for (0 = one per core).
pub fn resolve_threads(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// Trains the experiment of `config` into its run directory and returns the final figures.
///
/// Writes `config.ron`, then after every epoch `metrics.jsonl` and `checkpoint.safetensors`,
/// and at the end `tower.safetensors` and `summary.json`, each atomically (see [`RunDir`]).
pub fn train(
    config: &Config,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let threads = resolve_threads(config.training.threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| TrainError::Threads {
            threads,
            message: e.to_string(),
        })?;
    pool.install(|| Training::start(config, options, threads)?.run(observer))
}

/// Everything a run holds while it trains.
struct Training<'c> {
    config: &'c Config,
    run: RunDir,
    data: PreparedData,
    /// The model being trained; its parameters change with every step.
    model: TrainedModel,
    adam: Adam,
    loss: Contrastive,
    /// Decided once from the training images, for every step and every embedding.
    sparse: bool,
    threads: usize,
    start_epoch: usize,
    history: Vec<EpochMetrics>,
    /// Images through the tower per epoch (each pair counts two).
    images_per_epoch: usize,
}

impl<'c> Training<'c> {
    fn start(config: &'c Config, options: &RunOptions, threads: usize) -> Result<Self> {
        let data = PreparedData::load(config)?;
        let tower = Tower::new(TowerSpec {
            input: data.train.image_len(),
            hidden: config.model.hidden.clone(),
            embedding: config.model.embedding,
            final_activation: config.model.final_activation,
        })?;
        let run = RunDir::create(&config.output.dir)?;
        let sparse = uses_sparse_input(
            config.training.first_layer,
            &data.normalizer,
            data.pixel_density,
        );
        let params = tower.init_params(
            config.model.init,
            epoch_seed(config.training.seed, seeds::INIT),
        )?;
        let adam = Adam::new(&config.optimizer, tower.num_params());
        let model = TrainedModel::new(tower, params, data.normalizer.clone())?
            .with_image_shape(data.train.image_shape().to_vec())
            .with_first_layer(config.training.first_layer)
            .with_normalized_embeddings(config.model.normalize);
        let mut training = Training {
            config,
            run,
            model,
            adam,
            data,
            loss: config.loss.contrastive()?,
            sparse,
            threads,
            start_epoch: 0,
            history: Vec::new(),
            images_per_epoch: 0,
        };
        if options.resume {
            training.resume()?;
        }
        training.run.write_config(config)?;
        Ok(training)
    }

    fn resume(&mut self) -> Result<()> {
        let path = self.run.checkpoint_path();
        let checkpoint = self
            .run
            .read_checkpoint()?
            .ok_or_else(|| TrainError::Checkpoint {
                path: path.clone(),
                message: "no checkpoint to resume from (train without --resume first)".into(),
            })?;
        let fingerprint = fingerprint(self.config)?;
        if checkpoint.fingerprint != fingerprint || checkpoint.seed != self.config.training.seed {
            return Err(TrainError::Checkpoint {
                path,
                message:
                    "made with a different config; a resumed run may change only epochs (under a \
                          constant learning rate), threads and the output and data directories"
                        .into(),
            });
        }
        let params = self.model.params_mut();
        if checkpoint.params.len() != params.len() {
            return Err(TrainError::Checkpoint {
                path,
                message: format!(
                    "{} parameters, the tower has {}",
                    checkpoint.params.len(),
                    params.len()
                ),
            });
        }
        *params = checkpoint.params;
        self.start_epoch = checkpoint.epoch;
        self.adam = checkpoint.adam;
        self.history = self.run.read_metrics()?;
        self.history.truncate(self.start_epoch);
        Ok(())
    }

    fn run(mut self, observer: &mut dyn Observer) -> Result<Summary> {
        let training = &self.config.training;
        let threshold = self.config.loss.threshold();
        observer.started(&RunInfo {
            run_dir: self.run.path().to_owned(),
            images: (
                self.data.train.len(),
                self.data.validation.len(),
                self.data.test.len(),
            ),
            pairs: (
                self.data.train_pairs.len(),
                self.data.validation_pairs.len(),
                self.data.test_pairs.len(),
            ),
            sparse_first_layer: self.sparse,
            pixel_density: self.data.pixel_density,
            params: self.model.tower().num_params(),
            threads: self.threads,
            start_epoch: self.start_epoch,
        });
        let mut steps = EpochSteps::new(self.config, &self.data, self.model.tower())?;
        self.images_per_epoch = steps.images_per_epoch(&self.data);
        let steps_per_epoch = steps.steps_per_epoch(&self.data, training.batch_size) as u64;
        let total_steps = steps_per_epoch * training.epochs as u64;
        let schedule = self.config.optimizer.schedule;
        for epoch in self.start_epoch..training.epochs {
            let (count, batch, step_count) =
                steps.start_epoch(self.config, &self.data, epoch, &self.history)?;
            observer.epoch_started(epoch + 1, training.epochs, step_count);
            let started = Instant::now();
            let (mut loss_sum, mut correct) = (0.0f64, 0usize);
            for step in 0..step_count {
                let global_step = epoch as u64 * steps_per_epoch + step as u64;
                self.adam
                    .set_lr_factor(schedule.factor(global_step, total_steps, steps_per_epoch));
                let (batch_loss, batch_correct) = steps.step(&self, epoch, step)?;
                let position = |what| TrainError::NonFinite {
                    what,
                    epoch: epoch + 1,
                    step: step + 1,
                };
                if !batch_loss.is_finite() {
                    return Err(position("loss"));
                }
                if !self
                    .adam
                    .step_sum(self.model.params_mut(), steps.gradients())
                {
                    return Err(position("gradient"));
                }
                loss_sum += batch_loss;
                correct += batch_correct;
                let seen = ((step + 1) * batch).min(count);
                observer.step(&StepProgress {
                    epoch: epoch + 1,
                    step: step + 1,
                    steps: step_count,
                    loss: loss_sum / seen as f64,
                    accuracy: correct as f64 / seen as f64,
                    pairs_per_second: seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
                });
            }
            let seconds = started.elapsed().as_secs_f64();
            let eval_started = Instant::now();
            let val = self
                .score(
                    &self.data.validation,
                    &self.data.validation_pairs,
                    threshold,
                )?
                .0;
            let metrics = EpochMetrics {
                epoch: epoch + 1,
                train_loss: loss_sum / count as f64,
                train_accuracy: correct as f64 / count as f64,
                val_loss: val.loss,
                val_accuracy: val.accuracy,
                seconds,
                eval_seconds: eval_started.elapsed().as_secs_f64(),
                pairs_per_second: count as f64 / seconds.max(1e-9),
            };
            self.history.push(metrics.clone());
            self.save_epoch(epoch + 1)?;
            observer.epoch_finished(&metrics);
            if epoch + 1 < training.epochs && observer.stop_requested() {
                return Err(TrainError::Stopped {
                    epoch: epoch + 1,
                    run_dir: self.run.path().to_owned(),
                });
            }
        }
        self.finish()
    }

    /// Embeds `data` and scores `pairs`; also returns the distances.
    fn score(
        &self,
        data: &Dataset,
        pairs: &[Pair],
        threshold: f32,
    ) -> Result<(PairScore, Vec<f32>)> {
        let embeddings = self.model.embed_with(data, self.sparse)?;
        let distances = embedded_pair_distances(&embeddings, pairs, self.loss.eps);
        Ok((
            score_pairs(&distances, pairs, &self.loss, threshold),
            distances,
        ))
    }

    fn save_epoch(&self, epoch: usize) -> Result<()> {
        self.run.write_metrics(&self.history)?;
        self.run.write_checkpoint(&Checkpoint {
            epoch,
            seed: self.config.training.seed,
            fingerprint: fingerprint(self.config)?,
            params: self.model.params().to_vec(),
            adam: self.adam.clone(),
        })
    }

    fn finish(self) -> Result<Summary> {
        let threshold = self.config.loss.threshold();
        let (_, val_distances) = self.score(
            &self.data.validation,
            &self.data.validation_pairs,
            threshold,
        )?;
        let (tuned_threshold, val_accuracy_tuned) =
            best_threshold(&val_distances, &self.data.validation_pairs);
        let (test, test_distances) =
            self.score(&self.data.test, &self.data.test_pairs, threshold)?;
        let tuned = score_pairs(
            &test_distances,
            &self.data.test_pairs,
            &self.loss,
            tuned_threshold,
        );
        self.run.write_model(&self.model)?;

        let train_seconds: f64 = self.history.iter().map(|m| m.seconds).sum();
        let items_per_epoch = match self.config.training.batches {
            BatchRecipe::Pairs => self.data.train_pairs.len(),
            BatchRecipe::ClassBalanced { .. } => self.images_per_epoch,
        };
        let pairs_trained = items_per_epoch * self.history.len();
        let summary = Summary {
            test_accuracy: test.accuracy,
            test_loss: test.loss,
            threshold,
            tuned_threshold,
            val_accuracy_tuned,
            test_accuracy_tuned: tuned.accuracy,
            epochs: self.history.len(),
            train_seconds,
            pairs_per_second: pairs_trained as f64 / train_seconds.max(1e-9),
            image_passes: (self.images_per_epoch * self.history.len()) as u64,
            seed: self.config.training.seed,
            threads: self.threads,
            first_layer: if self.sparse { "sparse" } else { "dense" }.into(),
            train_pairs: self.data.train_pairs.len(),
            test_pairs: self.data.test_pairs.len(),
            tower: self.run.tower_path(),
        };
        self.run.write_summary(&summary)?;
        Ok(summary)
    }
}

/// The config with the fields a resumed run may change blanked out. The epoch count may
/// change only under a constant learning rate: a schedule spans the whole run.
fn fingerprint(config: &Config) -> Result<String> {
    let mut c = config.clone();
    if c.optimizer.schedule == LrSchedule::Constant {
        c.training.epochs = 1;
    }
    c.training.threads = 0;
    c.output.dir = PathBuf::new();
    c.data.dir = PathBuf::new();
    c.to_ron_string()
}

/// What an epoch steps through: shuffled pairs, or class-balanced batches of images.
enum EpochSteps {
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
    fn new(config: &Config, data: &PreparedData, tower: &Tower) -> Result<Self> {
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
    fn start_epoch(
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
    fn step(&mut self, training: &Training<'_>, epoch: usize, step: usize) -> Result<(f64, usize)> {
        let config = &training.config;
        match self {
            EpochSteps::Pairs { stepper, pairs, .. } => {
                let size = config.training.batch_size;
                let batch = &pairs[step * size..((step + 1) * size).min(pairs.len())];
                let ctx = StepContext {
                    tower: training.model.tower(),
                    params: training.model.params(),
                    data: &training.data.train,
                    normalizer: &training.data.normalizer,
                    loss: &training.loss,
                    scale: 1.0 / batch.len() as f32,
                    threshold: config.loss.threshold(),
                    sparse: training.sparse,
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
                    tower: training.model.tower(),
                    params: training.model.params(),
                    data: &training.data.train,
                    normalizer: &training.data.normalizer,
                    loss: loss.as_ref(),
                    normalize: config.model.normalize,
                    sparse: training.sparse,
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

    fn steps_per_epoch(&self, data: &PreparedData, batch_size: usize) -> usize {
        match self {
            // Fresh pairs are as many every epoch as the first epoch's.
            EpochSteps::Pairs { .. } => data.train_pairs.len().div_ceil(batch_size),
            EpochSteps::Batches { batches, .. } => *batches,
        }
    }

    fn images_per_epoch(&self, data: &PreparedData) -> usize {
        match self {
            EpochSteps::Pairs { .. } => 2 * data.train_pairs.len(),
            EpochSteps::Batches {
                sampler, batches, ..
            } => sampler.batch_len() * batches,
        }
    }

    fn gradients(&mut self) -> &mut [Vec<f32>] {
        match self {
            EpochSteps::Pairs { stepper, .. } => stepper.gradients(),
            EpochSteps::Batches { stepper, .. } => stepper.gradients(),
        }
    }
}
