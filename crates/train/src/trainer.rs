//! The training loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use siamese_data::{
    Dataset, Holdout, Mnist, Normalizer, Pair, classic_pairs, epoch_seed, random_pairs,
};
use siamese_loss::Contrastive;
use siamese_nn::{CsrBatch, Input, Tower, TowerSpec, Workspace};

use crate::adam::Adam;
use crate::checkpoint::Checkpoint;
use crate::config::{
    Config, FirstLayer, HoldoutFrom, InvalidField, Normalization, PairRecipe, Validation,
};
use crate::eval::{best_threshold, embed, gather_sparse, pair_distances, score_pairs, view};
use crate::{Result, TrainError};

/// File names inside a run directory.
pub mod files {
    /// The resolved config of the run.
    pub const CONFIG: &str = "config.ron";
    /// One JSON object per finished epoch.
    pub const METRICS: &str = "metrics.jsonl";
    /// Final figures.
    pub const SUMMARY: &str = "summary.json";
    /// The trained tower (safetensors), with its normalizer in the header.
    pub const TOWER: &str = "tower.safetensors";
    /// The state after the last finished epoch.
    pub const CHECKPOINT: &str = "checkpoint.safetensors";
}

/// Metadata key under which the tower file stores its input normalizer (JSON).
pub const NORMALIZER_KEY: &str = "siamese.normalizer";
/// Metadata key under which the tower file stores the image shape (JSON).
pub const IMAGE_SHAPE_KEY: &str = "siamese.image_shape";

/// Independent random streams derived from the one seed.
mod stream {
    pub const INIT: u64 = 1 << 40;
    pub const TRAIN_PAIRS: u64 = 2 << 40;
    pub const EVAL_PAIRS: u64 = 3 << 40;
    pub const SHUFFLE: u64 = 4 << 40;
    pub const HOLDOUT: u64 = 5 << 40;
    pub const TEST_PAIRS: u64 = 6 << 40;
}

/// How a run starts.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue from the checkpoint in the run directory.
    pub resume: bool,
}

/// Figures of one finished epoch, as written to `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps (weights changing as it goes).
    pub train_loss: f64,
    /// Training pair accuracy at the threshold, over the same steps.
    pub train_accuracy: f64,
    /// Validation loss after the epoch.
    pub val_loss: f64,
    /// Validation pair accuracy after the epoch.
    pub val_accuracy: f64,
    /// Wall time of the epoch's training steps.
    pub seconds: f64,
    /// Wall time of the validation pass.
    pub eval_seconds: f64,
    /// Training pairs per second.
    pub pairs_per_second: f64,
}

/// Final figures of a run, as written to `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Test pair accuracy at `threshold`.
    pub test_accuracy: f64,
    /// Mean test contrastive loss.
    pub test_loss: f64,
    /// The decision threshold of the config.
    pub threshold: f32,
    /// The threshold that maximizes validation accuracy.
    pub tuned_threshold: f32,
    /// Validation accuracy at `tuned_threshold`.
    pub val_accuracy_tuned: f64,
    /// Test pair accuracy at `tuned_threshold`.
    pub test_accuracy_tuned: f64,
    /// Epochs trained in all.
    pub epochs: usize,
    /// Training wall time summed over epochs (validation excluded).
    pub train_seconds: f64,
    /// Training pairs per second over the whole run.
    pub pairs_per_second: f64,
    /// The seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// `"sparse"` or `"dense"`.
    pub first_layer: String,
    /// Training pairs per epoch.
    pub train_pairs: usize,
    /// Test pairs.
    pub test_pairs: usize,
    /// Where the trained tower is.
    pub tower: PathBuf,
}

/// Live progress of the current epoch.
#[derive(Clone, Copy, Debug)]
pub struct StepProgress {
    /// 1-based epoch.
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step: usize,
    /// Steps in this epoch.
    pub steps: usize,
    /// Mean loss so far this epoch.
    pub loss: f64,
    /// Pair accuracy so far this epoch.
    pub accuracy: f64,
    /// Pairs per second so far this epoch.
    pub pairs_per_second: f64,
}

/// What the loop tells the outside world; the CLI draws progress bars from it.
///
/// `Send` because the loop runs inside its own thread pool.
pub trait Observer: Send {
    /// The data is loaded and training is about to start.
    fn started(&mut self, _info: &RunInfo) {}
    /// An epoch starts.
    fn epoch_started(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    /// A step finished.
    fn step(&mut self, _progress: &StepProgress) {}
    /// An epoch finished and was checkpointed.
    fn epoch_finished(&mut self, _metrics: &EpochMetrics) {}
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;
impl Observer for Silent {}

/// Facts about a run, known once its data is loaded.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Training images, validation images, test images.
    pub images: (usize, usize, usize),
    /// Training pairs per epoch, validation pairs, test pairs.
    pub pairs: (usize, usize, usize),
    /// Whether the first layer skips zero pixels.
    pub sparse_first_layer: bool,
    /// Share of non-zero training pixels.
    pub pixel_density: f64,
    /// Parameters of the tower.
    pub params: usize,
    /// Worker threads.
    pub threads: usize,
    /// The epoch the run starts from (0 unless resumed).
    pub start_epoch: usize,
}

/// The data of an experiment, loaded and split, with its pairs.
#[derive(Clone, Debug)]
pub struct PreparedData {
    /// Training images.
    pub train: Dataset,
    /// Validation images.
    pub validation: Dataset,
    /// Test images.
    pub test: Dataset,
    /// Pixel normalization, fitted on the training images.
    pub normalizer: Normalizer,
    /// Training pairs of the first epoch.
    pub train_pairs: Vec<Pair>,
    /// Validation pairs (classic recipe).
    pub validation_pairs: Vec<Pair>,
    /// Test pairs (classic recipe).
    pub test_pairs: Vec<Pair>,
    /// Share of non-zero training pixels.
    pub pixel_density: f64,
}

impl PreparedData {
    /// Loads the MNIST-layout directory of the config, applies limits, splits off the
    /// validation images and makes the pairs.
    pub fn load(config: &Config) -> Result<Self> {
        let Mnist {
            mut train,
            mut test,
        } = Mnist::load(&config.data.dir)?;
        if let Some(n) = config.data.train_limit {
            train.truncate(n);
        }
        if let Some(n) = config.data.test_limit {
            test.truncate(n);
        }
        let seed = config.training.seed;
        let (train, validation) = match config.data.validation {
            Validation::TestSet => (train, test.clone()),
            Validation::Holdout { count, from } => {
                if count >= train.len() {
                    return Err(TrainError::ConfigVsData(InvalidField {
                        field: "data.validation.count",
                        value: count.to_string(),
                        expected: format!("fewer than the {} training images", train.len()),
                    }));
                }
                let holdout = match from {
                    HoldoutFrom::Last => Holdout::Last,
                    HoldoutFrom::Random => Holdout::Random {
                        seed: epoch_seed(seed, stream::HOLDOUT),
                    },
                };
                train.split_off_validation(count, holdout)?
            }
        };
        let (train, validation) = if config.data.exclude_classes.is_empty() {
            (train, validation)
        } else {
            let keep = |ds: &Dataset| {
                let kept: Vec<usize> = (0..ds.len())
                    .filter(|&i| !config.data.exclude_classes.contains(&ds.label(i)))
                    .collect();
                ds.subset(&kept)
            };
            let validation = match config.data.validation {
                Validation::TestSet => validation,
                Validation::Holdout { .. } => keep(&validation),
            };
            (keep(&train), validation)
        };
        let normalizer = match config.data.normalization {
            Normalization::UnitRange => Normalizer::unit_range(),
            Normalization::Standardize => Normalizer::standardize_from(&train),
        };
        let train_pairs = make_train_pairs(config, &train, 0)?;
        let batch = config.training.batch_size;
        if batch > train_pairs.len() {
            return Err(TrainError::ConfigVsData(InvalidField {
                field: "training.batch_size",
                value: batch.to_string(),
                expected: format!("at most the {} training pairs", train_pairs.len()),
            }));
        }
        let validation_pairs = classic_pairs(
            validation.labels(),
            validation.num_classes(),
            epoch_seed(seed, stream::EVAL_PAIRS),
        )?;
        let test_pairs = if matches!(config.data.validation, Validation::TestSet) {
            validation_pairs.clone()
        } else {
            classic_pairs(
                test.labels(),
                test.num_classes(),
                epoch_seed(seed, stream::TEST_PAIRS),
            )?
        };
        let lit = train.images().iter().filter(|&&p| p != 0).count();
        let pixel_density = lit as f64 / train.images().len().max(1) as f64;
        Ok(Self {
            train,
            validation,
            test,
            normalizer,
            train_pairs,
            validation_pairs,
            test_pairs,
            pixel_density,
        })
    }

    /// Whether the first layer should skip zero pixels under `choice`.
    pub fn sparse_first_layer(&self, choice: FirstLayer) -> bool {
        match choice {
            FirstLayer::Dense => false,
            FirstLayer::Sparse => self.normalizer.maps_zero_to_zero(),
            // Above about half the pixels lit, the dense product's better blocking wins.
            FirstLayer::Auto => self.normalizer.maps_zero_to_zero() && self.pixel_density < 0.5,
        }
    }
}

fn make_train_pairs(config: &Config, train: &Dataset, epoch: usize) -> Result<Vec<Pair>> {
    let seed = epoch_seed(config.training.seed, stream::TRAIN_PAIRS);
    Ok(match config.training.pairs {
        PairRecipe::Classic => classic_pairs(train.labels(), train.num_classes(), seed)?,
        PairRecipe::Random {
            count,
            positive_fraction,
            fresh_each_epoch,
        } => {
            let seed = if fresh_each_epoch {
                epoch_seed(seed, epoch as u64)
            } else {
                seed
            };
            random_pairs(
                train.labels(),
                train.num_classes(),
                count,
                positive_fraction,
                seed,
            )?
        }
    })
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
/// and at the end `tower.safetensors` and `summary.json`, each atomically.
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
    pool.install(|| Run::start(config, options, threads)?.train(observer))
}

/// Everything a run holds while it trains.
struct Run<'c> {
    config: &'c Config,
    run_dir: PathBuf,
    data: PreparedData,
    tower: Tower,
    params: Vec<f32>,
    adam: Adam,
    loss: Contrastive,
    sparse: bool,
    threads: usize,
    start_epoch: usize,
    history: Vec<EpochMetrics>,
}

impl<'c> Run<'c> {
    fn start(config: &'c Config, options: &RunOptions, threads: usize) -> Result<Self> {
        let data = PreparedData::load(config)?;
        let tower = Tower::new(TowerSpec {
            input: data.train.image_len(),
            hidden: config.model.hidden.clone(),
            embedding: config.model.embedding,
            final_activation: config.model.final_activation,
        })?;
        let run_dir = config.output.dir.clone();
        std::fs::create_dir_all(&run_dir).map_err(|source| TrainError::Io {
            path: run_dir.clone(),
            source,
        })?;
        let sparse = data.sparse_first_layer(config.training.first_layer);
        let loss = Contrastive::new(config.loss.margin)?;
        let mut run = Run {
            config,
            run_dir,
            params: tower.init_params(
                config.model.init,
                epoch_seed(config.training.seed, stream::INIT),
            )?,
            adam: Adam::new(&config.optimizer, tower.num_params()),
            tower,
            data,
            loss,
            sparse,
            threads,
            start_epoch: 0,
            history: Vec::new(),
        };
        if options.resume {
            run.resume()?;
        }
        write_file(
            &run.run_dir.join(files::CONFIG),
            config.to_ron_string()?.as_bytes(),
        )?;
        Ok(run)
    }

    fn resume(&mut self) -> Result<()> {
        let path = self.run_dir.join(files::CHECKPOINT);
        if !path.exists() {
            return Err(TrainError::Checkpoint {
                path,
                message: "no checkpoint to resume from (train without --resume first)".into(),
            });
        }
        let checkpoint = Checkpoint::load(&path)?;
        let fingerprint = fingerprint(self.config)?;
        if checkpoint.fingerprint != fingerprint || checkpoint.seed != self.config.training.seed {
            return Err(TrainError::Checkpoint {
                path,
                message: "made with a different config; a resumed run may change only epochs, threads and the \
                          output and data directories"
                    .into(),
            });
        }
        if checkpoint.params.len() != self.tower.num_params() {
            return Err(TrainError::Checkpoint {
                path,
                message: format!(
                    "{} parameters, the tower has {}",
                    checkpoint.params.len(),
                    self.tower.num_params()
                ),
            });
        }
        self.start_epoch = checkpoint.epoch;
        self.params = checkpoint.params;
        self.adam = checkpoint.adam;
        self.history = read_metrics(&self.run_dir.join(files::METRICS))?;
        self.history.truncate(self.start_epoch);
        Ok(())
    }

    fn train(mut self, observer: &mut dyn Observer) -> Result<Summary> {
        let training = &self.config.training;
        let threshold = self.config.loss.threshold();
        observer.started(&RunInfo {
            run_dir: self.run_dir.clone(),
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
            params: self.tower.num_params(),
            threads: self.threads,
            start_epoch: self.start_epoch,
        });
        let mut stepper = Stepper::new(
            &self.tower,
            training.batch_size,
            training.shard_pairs,
            self.data.train.image_len(),
        );
        let fresh_pairs = matches!(
            training.pairs,
            PairRecipe::Random {
                fresh_each_epoch: true,
                ..
            }
        );
        let mut pairs = Vec::with_capacity(self.data.train_pairs.len());
        for epoch in self.start_epoch..training.epochs {
            // Each epoch shuffles from the same starting order, so an epoch depends on
            // (seed, epoch) alone and a resumed run replays it exactly.
            pairs.clear();
            if fresh_pairs && epoch > 0 {
                pairs.extend(make_train_pairs(self.config, &self.data.train, epoch)?);
            } else {
                pairs.extend_from_slice(&self.data.train_pairs);
            }
            let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed(
                training.seed,
                stream::SHUFFLE + epoch as u64,
            ));
            pairs.shuffle(&mut rng);
            let steps = pairs.len().div_ceil(training.batch_size);
            observer.epoch_started(epoch + 1, training.epochs, steps);
            let started = Instant::now();
            let (mut loss_sum, mut correct) = (0.0f64, 0usize);
            for (step, batch) in pairs.chunks(training.batch_size).enumerate() {
                let ctx = StepContext {
                    tower: &self.tower,
                    params: &self.params,
                    data: &self.data.train,
                    normalizer: &self.data.normalizer,
                    loss: &self.loss,
                    scale: 1.0 / batch.len() as f32,
                    threshold,
                    sparse: self.sparse,
                };
                let (batch_loss, batch_correct) = stepper.run(&ctx, batch)?;
                let position = |what| TrainError::NonFinite {
                    what,
                    epoch: epoch + 1,
                    step: step + 1,
                };
                if !batch_loss.is_finite() {
                    return Err(position("loss"));
                }
                if !self.adam.step_sum(&mut self.params, stepper.gradients()) {
                    return Err(position("gradient"));
                }
                loss_sum += batch_loss;
                correct += batch_correct;
                let seen = ((step + 1) * training.batch_size).min(pairs.len());
                observer.step(&StepProgress {
                    epoch: epoch + 1,
                    step: step + 1,
                    steps,
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
                train_loss: loss_sum / pairs.len() as f64,
                train_accuracy: correct as f64 / pairs.len() as f64,
                val_loss: val.loss,
                val_accuracy: val.accuracy,
                seconds,
                eval_seconds: eval_started.elapsed().as_secs_f64(),
                pairs_per_second: pairs.len() as f64 / seconds.max(1e-9),
            };
            self.history.push(metrics.clone());
            self.save_epoch(epoch + 1)?;
            observer.epoch_finished(&metrics);
        }
        self.finish()
    }

    /// Embeds `data` and scores `pairs`; also returns the distances.
    fn score(
        &self,
        data: &Dataset,
        pairs: &[Pair],
        threshold: f32,
    ) -> Result<(crate::PairScore, Vec<f32>)> {
        let embeddings = embed(
            &self.tower,
            &self.params,
            &self.data.normalizer,
            data,
            self.sparse,
        )?;
        let distances = pair_distances(&embeddings, pairs, self.loss.eps);
        Ok((
            score_pairs(&distances, pairs, &self.loss, threshold),
            distances,
        ))
    }

    fn save_epoch(&self, epoch: usize) -> Result<()> {
        let mut lines = String::new();
        for m in &self.history {
            lines.push_str(&json(m)?);
            lines.push('\n');
        }
        write_file(&self.run_dir.join(files::METRICS), lines.as_bytes())?;
        Checkpoint {
            epoch,
            seed: self.config.training.seed,
            fingerprint: fingerprint(self.config)?,
            params: self.params.clone(),
            adam: self.adam.clone(),
        }
        .save(&self.run_dir.join(files::CHECKPOINT))
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

        let tower_path = self.run_dir.join(files::TOWER);
        let metadata = BTreeMap::from([
            (NORMALIZER_KEY.to_string(), json(&self.data.normalizer)?),
            (
                IMAGE_SHAPE_KEY.to_string(),
                json(&self.data.train.image_shape())?,
            ),
        ]);
        siamese_nn::save_tower(&tower_path, &self.tower, &self.params, &metadata)?;

        let train_seconds: f64 = self.history.iter().map(|m| m.seconds).sum();
        let pairs_trained = self.data.train_pairs.len() * self.history.len();
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
            seed: self.config.training.seed,
            threads: self.threads,
            first_layer: if self.sparse { "sparse" } else { "dense" }.into(),
            train_pairs: self.data.train_pairs.len(),
            test_pairs: self.data.test_pairs.len(),
            tower: tower_path,
        };
        let text = serde_json::to_string_pretty(&summary)
            .map_err(|e| TrainError::Internal(e.to_string()))?;
        write_file(&self.run_dir.join(files::SUMMARY), text.as_bytes())?;
        Ok(summary)
    }
}

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
        grads.fill(0.0);
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

/// Runs minibatches as fixed-size shards in parallel. Each shard leaves its gradient in its
/// own buffer; the optimizer sums them in shard order ([`Adam::step_sum`]), so the result is
/// the same for any number of threads. All buffers are allocated once, in [`Stepper::new`].
///
/// [`train`] drives it; it is public for custom loops and benchmarks:
/// `stepper.run(&ctx, batch)?` then `adam.step_sum(&mut params, stepper.gradients())`.
pub struct Stepper {
    shards: Vec<Shard>,
    grads: Vec<Vec<f32>>,
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
            grads: (0..count).map(|_| vec![0.0; tower.num_params()]).collect(),
            shard_pairs,
            active: 0,
        }
    }

    /// The shards' gradients of the last [`Stepper::run`], in shard order.
    pub fn gradients(&mut self) -> &mut [Vec<f32>] {
        &mut self.grads[..self.active]
    }

    /// Forward and backward of one minibatch (at most the `batch_size` given to
    /// [`Stepper::new`]); returns its summed loss and correct count.
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

/// The config with the fields a resumed run may change blanked out.
fn fingerprint(config: &Config) -> Result<String> {
    let mut c = config.clone();
    c.training.epochs = 1;
    c.training.threads = 0;
    c.output.dir = PathBuf::new();
    c.data.dir = PathBuf::new();
    c.to_ron_string()
}

fn json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| TrainError::Internal(e.to_string()))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    siamese_nn::write_atomically(path, bytes)?;
    Ok(())
}

/// Reads the epochs recorded in a `metrics.jsonl`; a missing file has none.
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(TrainError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| TrainError::Checkpoint {
                path: path.to_owned(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}
