//! Data preparation: the config's data loaded, limited, split into training, validation
//! and test images, normalized, and turned into pairs.

use siamese_data::{
    Dataset, Holdout, LoadReport, Normalizer, Pair, classic_pairs, epoch_seed, random_pairs,
};

use crate::config::{Config, HoldoutFrom, InvalidField, Normalization, PairRecipe, Validation};
use crate::model::pixel_density;
use crate::source::SourceImages;
use crate::{Result, TrainError, seeds};

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
    /// The name of each class, by label, when the data names them.
    pub class_names: Option<Vec<String>>,
    /// What loading an image collection skipped or ignored; `None` for IDX files.
    pub load_report: Option<LoadReport>,
}

impl PreparedData {
    /// Loads the config's data source ([`SourceImages`]), applies limits, splits off the
    /// validation images and makes the pairs.
    ///
    /// # Errors
    /// The data's errors, and [`TrainError::ConfigVsData`] or [`TrainError::Memory`] for a
    /// limit, batch size, holdout or pair count the data or memory cannot satisfy, each
    /// refused before the pairs are made.
    pub fn load(config: &Config) -> Result<Self> {
        let SourceImages {
            train,
            test,
            class_names,
            report,
            ..
        } = SourceImages::load(config)?;
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
                        seed: epoch_seed(seed, seeds::HOLDOUT),
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
        config.check_pairs_memory()?;
        let train_pairs = make_train_pairs(config, &train, 0)?;
        config.check_batch_size(train.len(), train_pairs.len())?;
        let validation_pairs = classic_pairs(
            validation.labels(),
            validation.num_classes(),
            epoch_seed(seed, seeds::EVAL_PAIRS),
        )?;
        let test_pairs = if matches!(config.data.validation, Validation::TestSet) {
            validation_pairs.clone()
        } else {
            classic_pairs(
                test.labels(),
                test.num_classes(),
                epoch_seed(seed, seeds::TEST_PAIRS),
            )?
        };
        let pixel_density = pixel_density(train.images());
        Ok(Self {
            train,
            validation,
            test,
            normalizer,
            train_pairs,
            validation_pairs,
            test_pairs,
            pixel_density,
            class_names,
            load_report: report,
        })
    }
}

/// The training pairs of `epoch` (0-based) under the config's pair recipe.
pub(crate) fn make_train_pairs(
    config: &Config,
    train: &Dataset,
    epoch: usize,
) -> Result<Vec<Pair>> {
    let seed = epoch_seed(config.training.seed, seeds::TRAIN_PAIRS);
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
