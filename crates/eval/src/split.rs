//! The splits of a run's data, loaded as training saw them, and the search index of one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use siamese_data::Dataset;
use siamese_train::{Config, PreparedData, SourceImages, TrainedModel};

use crate::error::{EvalError, Result};
use crate::index::Index;

/// Metadata key of an index: the [`TrainedModel::fingerprint`] of the model that made it.
pub const INDEX_TOWER_KEY: &str = "siamese.tower_fingerprint";

/// A split of a run's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The whole training file (the config's `train_limit` applied, every class, file
    /// order, validation holdout included), so row `i` is training image `i`.
    Train,
    /// The test file (the config's `test_limit` applied).
    Test,
    /// The validation images exactly as training used them.
    Val,
}

impl Split {
    /// `"train"`, `"test"` or `"val"`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::Val => "val",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            "val" | "validation" => Ok(Split::Val),
            _ => Err(EvalError::Invalid {
                what: "split",
                value: s.to_owned(),
                expected: "train, test or val".into(),
            }),
        }
    }
}

/// Loads one split of the data of `config` (its `data.dir` must already be resolved).
pub fn load_split(config: &Config, split: Split) -> Result<Dataset> {
    match split {
        Split::Val => Ok(PreparedData::load(config)?.validation),
        Split::Train | Split::Test => {
            let SourceImages { train, test, .. } = SourceImages::load(config)?;
            Ok(if split == Split::Train { train } else { test })
        }
    }
}

/// Embeds `data` and indexes it, recording the model's fingerprint in the metadata so a
/// saved index can be checked against the tower later.
pub fn build_index(model: &TrainedModel, data: &Dataset) -> Result<Index> {
    let mut index = Index::new(model.embed(data)?, data.labels().to_vec())?;
    index
        .metadata_mut()
        .insert(INDEX_TOWER_KEY.into(), model.fingerprint());
    Ok(index)
}
