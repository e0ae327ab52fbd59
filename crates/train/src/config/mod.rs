//! Experiment configs: one RON file says everything a run depends on.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use siamese_io::FileError;
use siamese_nn::Init;

use crate::{Result, TrainError};

mod limits;
mod loss;
mod optimizer;
mod source;
mod training;
mod validate;

pub use limits::{MAX_THREADS_PER_CORE, resolve_threads};
pub use loss::{LossConfig, Objective, TripletMining};
pub use optimizer::{LrSchedule, OptimizerConfig};
pub(crate) use source::{DEFAULT_CHANNELS, DEFAULT_IMAGE_SIZE, DEFAULT_TEST_FRACTION};
pub use source::{DataSource, OnBadImage};
pub use training::{
    AugmentSchedule, BatchRecipe, CheckpointEvery, FirstLayer, PairRecipe, TrainingConfig,
};

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
    /// Where the images come from: `Idx` (the default: the MNIST-layout files in `dir`),
    /// `Folder("photos")`, `Manifest("labels.csv")` or `Npy(images: …, labels: …)`.
    #[serde(default)]
    pub source: DataSource,
    /// A directory in the MNIST layout (four IDX files, gzipped or raw), for `source: Idx`.
    #[serde(default = "default_data_dir")]
    pub dir: PathBuf,
    /// Image sources only: `(height, width)` every image is resized to (default
    /// `(28, 28)`); the tower's input is height × width × channels.
    #[serde(default)]
    pub image_size: Option<(usize, usize)>,
    /// Image sources only: 1 (grayscale, the default) or 3 (RGB).
    #[serde(default)]
    pub channels: Option<usize>,
    /// Image sources only: `Fail` (the default) or `Skip` unusable images.
    #[serde(default)]
    pub on_bad_image: OnBadImage,
    /// Image sources without their own test split: the share of each class held out for
    /// testing (default 0.2), drawn from the training seed.
    #[serde(default)]
    pub test_fraction: Option<f64>,
    /// Image sources only: where decoded images are cached, so that the next run (and
    /// `eval`, `search`, …) loads them as fast as IDX files; `None` = `.siamese-cache`
    /// beside the run directory.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
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
}
