//! The epoch loop: a run started (or resumed) from its config, trained epoch by epoch with
//! [`Stepper`] and Adam, scored on validation pairs and checkpointed after every epoch (and
//! within epochs when asked or stopped), and finished into the trained model and
//! `summary.json`.

use std::path::PathBuf;
use std::time::Instant;

use siamese_data::{Dataset, Pair, epoch_seed};
use siamese_loss::Contrastive;
use siamese_nn::{Tower, TowerSpec};

use crate::adam::Adam;
use crate::config::{BatchRecipe, CheckpointEvery, Config, LrSchedule, resolve_threads};
use crate::epoch_steps::{EpochSteps, StepInputs};
use crate::model::{TrainedModel, uses_sparse_input};
use crate::observer::{Observer, RunInfo, StepProgress};
use crate::prepare::PreparedData;
use crate::run::{Checkpoint, EpochMetrics, PartialEpoch, RunDir, RunLock, SourceSummary, Summary};
use crate::score::{PairScore, best_threshold, embedded_pair_distances, score_pairs};
use crate::{Result, TrainError, seeds};

/// How a run starts.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue from the checkpoint in the run directory.
    pub resume: bool,
}

/// Trains the experiment of `config` into its run directory and returns the final figures.
///
/// Writes `config.ron`, then after every epoch `metrics.jsonl` and `checkpoint.safetensors`,
/// and at the end `tower.safetensors` and `summary.json`, each atomically (see [`RunDir`]).
/// When the observer asks to stop, the checkpoint of that step is written and the run ends
/// with [`TrainError::Stopped`]; with `resume` it continues from there to exactly the
/// weights of an uninterrupted run. `resume` with no checkpoint yet starts from the
/// beginning (and says so in [`RunInfo::nothing_to_resume`]).
///
/// Asks that can never work are refused before anything big starts: more threads than
/// [`crate::MAX_THREADS_PER_CORE`] per core, and, right after the data is loaded, limits
/// and batch sizes beyond the data and a tower whose training would not fit in memory.
pub fn train(
    config: &Config,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let threads = resolve_threads(config.training.threads)?;
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
    /// Steps already done of the epoch after `start_epoch`, and their totals.
    start_step: usize,
    start_partial: PartialEpoch,
    nothing_to_resume: bool,
    history: Vec<EpochMetrics>,
    /// Images through the tower per epoch (each pair counts two).
    images_per_epoch: usize,
    /// This run is the directory's one writer until it ends.
    _lock: RunLock,
}

impl<'c> Training<'c> {
    fn start(config: &'c Config, options: &RunOptions, threads: usize) -> Result<Self> {
        let data = PreparedData::load(config)?;
        config.check_training_memory(data.train.image_len())?;
        let tower = Tower::new(TowerSpec {
            input: data.train.image_len(),
            hidden: config.model.hidden.clone(),
            embedding: config.model.embedding,
            final_activation: config.model.final_activation,
        })?;
        let run = RunDir::create(&config.output.dir)?;
        let lock = run.lock()?;
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
            .with_normalized_embeddings(config.model.normalize)
            .with_class_names(data.class_names.clone());
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
            start_step: 0,
            start_partial: PartialEpoch::default(),
            nothing_to_resume: false,
            history: Vec::new(),
            images_per_epoch: 0,
            _lock: lock,
        };
        if options.resume {
            training.resume()?;
        }
        training.run.write_config(config)?;
        Ok(training)
    }

    fn resume(&mut self) -> Result<()> {
        let path = self.run.checkpoint_path();
        let Some(checkpoint) = self.run.read_checkpoint()? else {
            // A script that always passes --resume must work for a run killed before its
            // first checkpoint.
            self.nothing_to_resume = true;
            return Ok(());
        };
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
        params.copy_from_slice(&checkpoint.params);
        self.start_epoch = checkpoint.epoch;
        self.start_step = checkpoint.step;
        self.start_partial = checkpoint.partial;
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
            start_step: self.start_step,
            nothing_to_resume: self.nothing_to_resume,
            load_report: self.data.load_report.clone(),
        });
        let mut steps = EpochSteps::new(self.config, &self.data, self.model.tower())?;
        self.images_per_epoch = steps.images_per_epoch(&self.data);
        let steps_per_epoch = steps.steps_per_epoch(&self.data, training.batch_size) as u64;
        let total_steps = steps_per_epoch * training.epochs as u64;
        let schedule = self.config.optimizer.schedule;
        let mut last_checkpoint = Instant::now();
        for epoch in self.start_epoch..training.epochs {
            let (count, batch, step_count) =
                steps.start_epoch(self.config, &self.data, epoch, &self.history)?;
            let (first_step, mut done) = if epoch == self.start_epoch {
                (self.start_step, self.start_partial)
            } else {
                (0, PartialEpoch::default())
            };
            observer.epoch_started(epoch + 1, training.epochs, step_count);
            let started = Instant::now();
            let seconds_before = done.seconds;
            let mut stop_after_epoch = false;
            for step in first_step..step_count {
                let global_step = epoch as u64 * steps_per_epoch + step as u64;
                self.adam
                    .set_lr_factor(schedule.factor(global_step, total_steps, steps_per_epoch));
                let inputs = StepInputs {
                    config: self.config,
                    data: &self.data,
                    model: &self.model,
                    pair_loss: &self.loss,
                    sparse: self.sparse,
                };
                let (batch_loss, batch_correct) = steps.step(&inputs, epoch, step)?;
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
                done.loss_sum += batch_loss;
                done.correct += batch_correct;
                done.seconds = seconds_before + started.elapsed().as_secs_f64();
                let seen = ((step + 1) * batch).min(count);
                observer.step(&StepProgress {
                    epoch: epoch + 1,
                    step: step + 1,
                    steps: step_count,
                    loss: done.loss_sum / seen as f64,
                    accuracy: done.correct as f64 / seen as f64,
                    pairs_per_second: seen as f64 / done.seconds.max(1e-9),
                });
                let stop = observer.stop_requested();
                if step + 1 == step_count {
                    // The epoch's own checkpoint follows at once.
                    stop_after_epoch = stop;
                    continue;
                }
                let due = match training.checkpoint_every {
                    Some(CheckpointEvery::Steps(n)) => (step + 1) % n == 0,
                    Some(CheckpointEvery::Seconds(s)) => {
                        last_checkpoint.elapsed().as_secs_f64() >= s
                    }
                    None => false,
                };
                if stop || due {
                    self.save_checkpoint(epoch, step + 1, done)?;
                    last_checkpoint = Instant::now();
                    observer.checkpoint_written(epoch + 1, step + 1);
                }
                if stop {
                    return Err(TrainError::Stopped {
                        epoch: epoch + 1,
                        step: step + 1,
                        run_dir: self.run.path().to_owned(),
                    });
                }
            }
            let seconds = done.seconds;
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
                train_loss: done.loss_sum / count as f64,
                train_accuracy: done.correct as f64 / count as f64,
                val_loss: val.loss,
                val_accuracy: val.accuracy,
                seconds,
                eval_seconds: eval_started.elapsed().as_secs_f64(),
                pairs_per_second: count as f64 / seconds.max(1e-9),
            };
            self.history.push(metrics.clone());
            self.run.write_metrics(&self.history)?;
            self.save_checkpoint(epoch + 1, 0, PartialEpoch::default())?;
            last_checkpoint = Instant::now();
            observer.epoch_finished(&metrics);
            if epoch + 1 < training.epochs && (stop_after_epoch || observer.stop_requested()) {
                return Err(TrainError::Stopped {
                    epoch: epoch + 1,
                    step: 0,
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

    /// Checkpoints the state after `epoch` finished epochs and `step` steps of the next.
    fn save_checkpoint(&self, epoch: usize, step: usize, partial: PartialEpoch) -> Result<()> {
        self.run.write_checkpoint(&Checkpoint {
            epoch,
            step,
            partial,
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
            class_names: self.data.class_names.clone(),
            data_source: self.data.load_report.as_ref().map(SourceSummary::from),
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
    c.training.checkpoint_every = None;
    c.data.cache_dir = None;
    c.output.dir = PathBuf::new();
    c.data.dir = PathBuf::new();
    c.to_ron_string()
}
