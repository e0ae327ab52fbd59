//! Experiment configs: one RON file says everything a run depends on.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use siamese_io::FileError;
use siamese_nn::Init;

use crate::{Result, TrainError};

/// A whole experiment: data, model, loss, optimizer, training schedule and output.
///
/// Every field of every section is spelled out in `configs/base.ron`; unknown fields are
/// errors, so a typo never silently falls back to a default.
///
/// ```
/// let config = siamese_train::Config::from_ron_str(r#"(
///     data: (dir: "data/mnist", validation: Holdout(count: 5000, from: Last)),
///     model: (hidden: [512, 256], embedding: 128),
///     loss: (margin: 1.0),
///     optimizer: (lr: 0.001),
///     training: (epochs: 5, batch_size: 128, pairs: Classic, seed: 42),
///     output: (dir: "runs/base"),
/// )"#, "inline.ron")?;
/// assert_eq!(config.loss.threshold(), 0.5);
/// # Ok::<(), siamese_train::TrainError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the images come from and how they are prepared.
    pub data: DataConfig,
    /// The tower's shape and initialization.
    pub model: ModelConfig,
    /// The contrastive loss.
    pub loss: LossConfig,
    /// Adam's settings.
    pub optimizer: OptimizerConfig,
    /// Epochs, batches, pairs, seed and threads.
    pub training: TrainingConfig,
    /// Where the run directory goes.
    pub output: OutputConfig,
}

/// The `data` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A directory in the MNIST layout (four IDX files, gzipped or raw).
    #[serde(default = "default_data_dir")]
    pub dir: PathBuf,
    /// Pixel scaling.
    #[serde(default)]
    pub normalization: Normalization,
    /// Use only the first N training images (before the validation split); `None` = all.
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Use only the first N test images; `None` = all.
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// Where the validation pairs come from.
    pub validation: Validation,
    /// Classes left out of training and of held-out validation images, e.g. to score
    /// them as novelties later; the test set keeps every class.
    #[serde(default)]
    pub exclude_classes: Vec<u32>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(siamese_data::DEFAULT_DATA_DIR)
}

/// How pixels become network inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Normalization {
    /// `p / 255`, in [0, 1] (the tutorial's). Keeps zero pixels zero, so the first layer
    /// can skip them.
    #[default]
    UnitRange,
    /// `(p / 255 − mean) / std` with mean and std of the training split.
    Standardize,
}

/// The validation data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validation {
    /// Hold `count` images out of the training images; they never train.
    Holdout {
        /// Images held out.
        count: usize,
        /// Which ones.
        from: HoldoutFrom,
    },
    /// Use the test pairs as validation data, as the Keras example does.
    TestSet,
}

/// Which training images a [`Validation::Holdout`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldoutFrom {
    /// The last `count` images.
    Last,
    /// A random `count`, drawn with the training seed.
    Random,
}

/// The `model` section: the tower `input → hidden… → embedding` (input = pixels per image).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Widths of the hidden layers, each followed by ReLU.
    pub hidden: Vec<usize>,
    /// Embedding size.
    pub embedding: usize,
    /// ReLU after the embedding layer too (the tutorial's embedding is linear).
    #[serde(default)]
    pub final_activation: bool,
    /// Weight initialization; biases start at zero.
    #[serde(default)]
    pub init: Init,
    /// Scale every embedding to unit length (L2), in training and in every later use, so
    /// distances lie in [0, 2] and the similarity losses see cosine similarities.
    #[serde(default)]
    pub normalize: bool,
}

/// The `loss` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// Contrastive margin m: dissimilar pairs farther apart than m cost nothing.
    pub margin: f32,
    /// A pair is predicted similar when its distance is below this; default m / 2.
    #[serde(default)]
    pub threshold: Option<f32>,
    /// What training minimizes. `Pairs` (the default) is the contrastive loss above on the
    /// pairs of `training.pairs`; the others look at every pair of a class-balanced batch
    /// (`training.batches: ClassBalanced(..)`). The contrastive loss with `margin` still
    /// scores validation and test pairs.
    #[serde(default)]
    pub objective: Objective,
}

/// The training objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Objective {
    /// The tutorial's contrastive loss on the given pairs.
    #[default]
    Pairs,
    /// The contrastive loss (with `loss.margin`) over all pairs of each batch, similar and
    /// dissimilar pairs averaged separately.
    AllPairs,
    /// The triplet margin loss on Euclidean distances, with in-batch mining.
    Triplet {
        /// Margin between the anchor–positive and anchor–negative distances.
        margin: f32,
        /// Which triplets count.
        mining: TripletMining,
    },
    /// The multi-similarity loss (Wang et al. 2019) with its miner, on cosine
    /// similarities (needs `model.normalize: true`).
    MultiSimilarity {
        /// Weight of positive similarities (2 in the paper).
        alpha: f32,
        /// Weight of negative similarities (50).
        beta: f32,
        /// The similarity offset λ (0.5).
        base: f32,
        /// The miner's margin ε (0.1).
        epsilon: f32,
    },
    /// The supervised contrastive loss (Khosla et al. 2020) on cosine similarities (needs
    /// `model.normalize: true`).
    SupCon {
        /// The softmax temperature τ (0.1).
        temperature: f32,
    },
}

/// Triplets a triplet loss trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TripletMining {
    /// Every valid triplet of the batch; the loss averages those with a positive loss.
    BatchAll,
    /// Per anchor, its farthest positive and nearest negative.
    BatchHard,
    /// Per positive pair, the nearest negative farther than the positive (FaceNet).
    SemiHard,
}

impl LossConfig {
    /// The decision threshold in effect.
    pub fn threshold(&self) -> f32 {
        self.threshold.unwrap_or(self.margin / 2.0)
    }

    /// The loss this section describes, as training computes it (and so as every later
    /// distance of the run must be computed, down to the clamp near zero).
    ///
    /// # Errors
    /// A margin that is not a positive finite number.
    pub fn contrastive(&self) -> Result<siamese_loss::Contrastive> {
        Ok(siamese_loss::Contrastive::new(self.margin)?)
    }

    /// The in-batch loss of `objective`, or `None` for the pair-wise objective.
    ///
    /// # Errors
    /// A hyper-parameter the loss rejects.
    pub fn batch_loss(&self) -> Result<Option<Box<dyn siamese_loss::BatchLoss + Send + Sync>>> {
        use siamese_loss as loss;
        Ok(Some(match self.objective {
            Objective::Pairs => return Ok(None),
            Objective::AllPairs => Box::new(loss::AllPairsContrastive::new(self.margin)?),
            Objective::Triplet { margin, mining } => {
                let mining = match mining {
                    TripletMining::BatchAll => loss::TripletMining::BatchAll,
                    TripletMining::BatchHard => loss::TripletMining::BatchHard,
                    TripletMining::SemiHard => loss::TripletMining::SemiHard,
                };
                Box::new(loss::Triplet::new(margin, mining)?)
            }
            Objective::MultiSimilarity {
                alpha,
                beta,
                base,
                epsilon,
            } => Box::new(loss::MultiSimilarity::new(alpha, beta, base, epsilon)?),
            Objective::SupCon { temperature } => Box::new(loss::SupCon::new(temperature)?),
        }))
    }
}

/// The `optimizer` section: Adam (Kingma & Ba) with bias correction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    #[serde(default = "default_beta1")]
    pub beta1: f32,
    /// Decay of the second moment.
    #[serde(default = "default_beta2")]
    pub beta2: f32,
    /// Added to the root of the second moment (1e-8 in the paper and PyTorch, 1e-7 in Keras).
    #[serde(default = "default_adam_eps")]
    pub eps: f32,
    /// Decoupled weight decay (AdamW); 0 turns it off.
    #[serde(default)]
    pub weight_decay: f32,
    /// How the learning rate changes over the run.
    #[serde(default)]
    pub schedule: LrSchedule,
}

/// The learning rate over a run, as a factor of `optimizer.lr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// `lr` throughout.
    #[default]
    Constant,
    /// A linear warm-up from `lr / warmup_steps` to `lr` over `warmup_epochs`, then a cosine
    /// decay to `final_fraction · lr` at the last step (Loshchilov & Hutter's SGDR without
    /// restarts).
    Cosine {
        /// Epochs of linear warm-up (may be fractional; 0 for none).
        warmup_epochs: f32,
        /// The learning rate at the end, as a share of `lr`.
        final_fraction: f32,
    },
}

impl LrSchedule {
    /// The factor of `lr` at step `step` (0-based) of `total` steps, `steps_per_epoch` per
    /// epoch.
    pub fn factor(&self, step: u64, total: u64, steps_per_epoch: u64) -> f32 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine {
                warmup_epochs,
                final_fraction,
            } => {
                let warmup = (f64::from(warmup_epochs) * steps_per_epoch as f64).round() as u64;
                if step < warmup {
                    return ((step + 1) as f64 / warmup as f64) as f32;
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                let f = f64::from(final_fraction);
                (f + (1.0 - f) * cosine) as f32
            }
        }
    }
}

impl Default for OptimizerConfig {
    /// Adam's usual settings: lr 1e-3, β = (0.9, 0.999), ε = 1e-8, no decay, constant rate.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_adam_eps(),
            weight_decay: 0.0,
            schedule: LrSchedule::Constant,
        }
    }
}

fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.999
}
fn default_adam_eps() -> f32 {
    1e-8
}

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
    /// Worker threads; 0 means one per core. Results do not depend on it.
    #[serde(default)]
    pub threads: usize,
    /// Pairs per parallel shard of a minibatch. Shards are summed in a fixed order, so this
    /// (not the thread count) decides the floating-point result.
    #[serde(default = "default_shard_pairs")]
    pub shard_pairs: usize,
    /// Dense or sparse arithmetic in the first layer.
    #[serde(default)]
    pub first_layer: FirstLayer,
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

/// The `output` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// The run directory: config, metrics, checkpoints and the trained tower go here.
    pub dir: PathBuf,
}

/// Command-line overrides of the common knobs; `None` keeps the file's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `training.epochs`.
    pub epochs: Option<usize>,
    /// `training.batch_size`.
    pub batch_size: Option<usize>,
    /// `optimizer.lr`.
    pub lr: Option<f32>,
    /// `training.threads`.
    pub threads: Option<usize>,
    /// `training.seed`.
    pub seed: Option<u64>,
    /// `output.dir`.
    pub output_dir: Option<PathBuf>,
    /// `data.dir`.
    pub data_dir: Option<PathBuf>,
    /// `data.exclude_classes`.
    pub exclude_classes: Option<Vec<u32>>,
}

/// A semantic config error: the field, its bad value and the rule it breaks.
#[derive(Clone, Debug, PartialEq)]
pub struct InvalidField {
    /// Dotted path of the field, e.g. `optimizer.lr`.
    pub field: &'static str,
    /// The value found.
    pub value: String,
    /// What a valid value looks like.
    pub expected: String,
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` = {}: expected {}",
            self.field, self.value, self.expected
        )
    }
}

impl std::error::Error for InvalidField {}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::io(path, source))?;
        Self::from_ron_str(&text, path)
    }

    /// Parses and validates RON text; `origin` names it in errors.
    pub fn from_ron_str(text: &str, origin: impl AsRef<Path>) -> Result<Self> {
        let origin = origin.as_ref();
        let config: Config =
            ron::Options::default()
                .from_str(text)
                .map_err(|e| TrainError::ConfigSyntax {
                    path: origin.to_owned(),
                    line: e.span.start.line,
                    column: e.span.start.col,
                    message: e.code.to_string(),
                })?;
        config
            .validate()
            .map_err(|invalid| TrainError::ConfigInvalid {
                path: origin.to_owned(),
                invalid,
            })?;
        Ok(config)
    }

    /// The config as pretty RON, the way the run directory records it.
    pub fn to_ron_string(&self) -> Result<String> {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .map_err(|e| TrainError::Internal(format!("cannot write the config as RON: {e}")))
    }

    /// Applies command-line overrides, then validates again.
    pub fn apply(&mut self, overrides: &Overrides) -> std::result::Result<(), InvalidField> {
        let o = overrides.clone();
        if let Some(v) = o.epochs {
            self.training.epochs = v;
        }
        if let Some(v) = o.batch_size {
            self.training.batch_size = v;
        }
        if let Some(v) = o.lr {
            self.optimizer.lr = v;
        }
        if let Some(v) = o.threads {
            self.training.threads = v;
        }
        if let Some(v) = o.seed {
            self.training.seed = v;
        }
        if let Some(v) = o.output_dir {
            self.output.dir = v;
        }
        if let Some(v) = o.data_dir {
            self.data.dir = v;
        }
        if let Some(v) = o.exclude_classes {
            self.data.exclude_classes = v;
        }
        self.validate()
    }

    /// Checks every value that parses but makes no sense.
    pub fn validate(&self) -> std::result::Result<(), InvalidField> {
        fn bad(field: &'static str, value: impl fmt::Debug, expected: &str) -> InvalidField {
            InvalidField {
                field,
                value: format!("{value:?}"),
                expected: expected.to_owned(),
            }
        }
        let positive = |field, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(field, v, "a finite number > 0"))
            }
        };
        if self.model.hidden.contains(&0) {
            return Err(bad("model.hidden", &self.model.hidden, "layer sizes ≥ 1"));
        }
        if self.model.embedding == 0 {
            return Err(bad("model.embedding", 0, "a size ≥ 1"));
        }
        positive("loss.margin", self.loss.margin)?;
        if let Some(t) = self.loss.threshold {
            positive("loss.threshold", t)?;
        }
        positive("optimizer.lr", self.optimizer.lr)?;
        positive("optimizer.eps", self.optimizer.eps)?;
        for (field, beta) in [
            ("optimizer.beta1", self.optimizer.beta1),
            ("optimizer.beta2", self.optimizer.beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return Err(bad(field, beta, "a number in [0, 1)"));
            }
        }
        if let LrSchedule::Cosine {
            warmup_epochs,
            final_fraction,
        } = self.optimizer.schedule
        {
            if !(warmup_epochs.is_finite() && warmup_epochs >= 0.0) {
                return Err(bad(
                    "optimizer.schedule.warmup_epochs",
                    warmup_epochs,
                    "a finite number ≥ 0",
                ));
            }
            if !(0.0..=1.0).contains(&final_fraction) {
                return Err(bad(
                    "optimizer.schedule.final_fraction",
                    final_fraction,
                    "a share in [0, 1]",
                ));
            }
        }
        let wd = self.optimizer.weight_decay;
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(bad("optimizer.weight_decay", wd, "a finite number ≥ 0"));
        }
        if self.training.epochs == 0 {
            return Err(bad("training.epochs", 0, "at least 1"));
        }
        if self.training.batch_size == 0 {
            return Err(bad("training.batch_size", 0, "at least 1 pair"));
        }
        if self.training.shard_pairs == 0 {
            return Err(bad("training.shard_pairs", 0, "at least 1 pair"));
        }
        let in_batch = self.loss.objective != Objective::Pairs;
        match self.training.batches {
            BatchRecipe::Pairs if in_batch => {
                return Err(bad(
                    "training.batches",
                    self.training.batches,
                    "ClassBalanced(images_per_class: K) for an in-batch loss.objective",
                ));
            }
            BatchRecipe::ClassBalanced { .. } if !in_batch => {
                return Err(bad(
                    "loss.objective",
                    self.loss.objective,
                    "an in-batch objective (AllPairs, Triplet, MultiSimilarity, SupCon) for \
                     class-balanced batches",
                ));
            }
            BatchRecipe::ClassBalanced { images_per_class } => {
                let batch = self.training.batch_size;
                if images_per_class < 2
                    || batch % images_per_class != 0
                    || batch < 2 * images_per_class
                {
                    return Err(bad(
                        "training.batches.images_per_class",
                        images_per_class,
                        &format!(
                            "at least 2, dividing training.batch_size ({batch}) into at least 2 classes"
                        ),
                    ));
                }
            }
            BatchRecipe::Pairs => {}
        }
        if let Some(augment) = &self.training.augment {
            if self.training.batches == BatchRecipe::Pairs {
                return Err(bad(
                    "training.augment",
                    augment,
                    "None with pair batches (augmentation is applied to class-balanced batches)",
                ));
            }
            augment
                .validate()
                .map_err(|e| bad("training.augment", augment, &e.to_string()))?;
        }
        match self.training.augment_schedule {
            AugmentSchedule::FirstEpochs(0) => {
                return Err(bad(
                    "training.augment_schedule",
                    self.training.augment_schedule,
                    "FirstEpochs(n) with n ≥ 1 (or no augment)",
                ));
            }
            AugmentSchedule::WhenFitting { from, to }
                if !(from.is_finite() && to.is_finite() && from < to) =>
            {
                return Err(bad(
                    "training.augment_schedule",
                    self.training.augment_schedule,
                    "WhenFitting(from: a, to: b) with finite a < b",
                ));
            }
            _ => {}
        }
        match self.loss.objective {
            Objective::Pairs | Objective::AllPairs => {}
            Objective::Triplet { margin, .. } => positive("loss.objective.margin", margin)?,
            Objective::MultiSimilarity {
                alpha,
                beta,
                base,
                epsilon,
            } => {
                positive("loss.objective.alpha", alpha)?;
                positive("loss.objective.beta", beta)?;
                if !base.is_finite() {
                    return Err(bad("loss.objective.base", base, "a finite number"));
                }
                if !(epsilon.is_finite() && epsilon >= 0.0) {
                    return Err(bad(
                        "loss.objective.epsilon",
                        epsilon,
                        "a finite number ≥ 0",
                    ));
                }
            }
            Objective::SupCon { temperature } => {
                positive("loss.objective.temperature", temperature)?;
            }
        }
        if matches!(
            self.loss.objective,
            Objective::MultiSimilarity { .. } | Objective::SupCon { .. }
        ) && !self.model.normalize
        {
            return Err(bad(
                "model.normalize",
                false,
                "true: MultiSimilarity and SupCon compare cosine similarities of unit-length \
                 embeddings",
            ));
        }
        if let PairRecipe::Random {
            count,
            positive_fraction,
            ..
        } = self.training.pairs
        {
            if count == 0 {
                return Err(bad("training.pairs.count", 0, "at least 1 pair"));
            }
            if !(0.0..=1.0).contains(&positive_fraction) {
                return Err(bad(
                    "training.pairs.positive_fraction",
                    positive_fraction,
                    "a share in [0, 1]",
                ));
            }
        }
        if self.data.train_limit == Some(0) {
            return Err(bad(
                "data.train_limit",
                0,
                "at least 1 image, or None for all",
            ));
        }
        if self.data.test_limit == Some(0) {
            return Err(bad(
                "data.test_limit",
                0,
                "at least 1 image, or None for all",
            ));
        }
        if let Validation::Holdout { count: 0, .. } = self.data.validation {
            return Err(bad("data.validation.count", 0, "at least 1 image"));
        }
        Ok(())
    }
}
