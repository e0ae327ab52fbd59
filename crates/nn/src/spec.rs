use serde::{Deserialize, Serialize};

use crate::{NnError, Result};

/// The shape of a tower: `input → hidden[0] → … → embedding`, ReLU after every hidden layer.
///
/// ```
/// use siamese_nn::TowerSpec;
/// let spec = TowerSpec { input: 784, hidden: vec![512, 256], embedding: 128, final_activation: false };
/// assert_eq!(spec.layer_sizes(), vec![784, 512, 256, 128]);
/// assert_eq!(spec.num_params(), 784 * 512 + 512 + 512 * 256 + 256 + 256 * 128 + 128);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TowerSpec {
    /// Features per input row (784 for flattened 28×28 images).
    pub input: usize,
    /// Widths of the hidden layers, each followed by ReLU.
    pub hidden: Vec<usize>,
    /// Width of the last layer: the embedding size.
    pub embedding: usize,
    /// Whether the embedding layer is followed by ReLU too (the tutorial's is linear).
    #[serde(default)]
    pub final_activation: bool,
}

impl TowerSpec {
    /// All widths from input to embedding.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let mut sizes = Vec::with_capacity(self.hidden.len() + 2);
        sizes.push(self.input);
        sizes.extend_from_slice(&self.hidden);
        sizes.push(self.embedding);
        sizes
    }

    /// Weights and biases of all layers together.
    pub fn num_params(&self) -> usize {
        self.layer_sizes()
            .windows(2)
            .map(|w| w[0] * w[1] + w[1])
            .sum()
    }

    /// Rejects zero widths and towers too large to address.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, value: String, reason| NnError::InvalidSpec {
            field,
            value,
            reason,
        };
        if self.input == 0 {
            return Err(invalid(
                "input",
                "0".into(),
                "a layer needs at least one unit",
            ));
        }
        if self.embedding == 0 {
            return Err(invalid(
                "embedding",
                "0".into(),
                "a layer needs at least one unit",
            ));
        }
        if self.hidden.contains(&0) {
            return Err(invalid(
                "hidden",
                format!("{:?}", self.hidden),
                "a layer needs at least one unit",
            ));
        }
        let total = self.layer_sizes().windows(2).try_fold(0usize, |acc, w| {
            w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(acc)
        });
        match total {
            Some(n) if n <= u32::MAX as usize => Ok(()),
            _ => Err(invalid(
                "hidden",
                format!("{:?}", self.layer_sizes()),
                "more than 2^32 parameters",
            )),
        }
    }
}

/// How the weights are drawn; biases always start at zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Init {
    /// Uniform in ±sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010), the Keras default.
    #[default]
    GlorotUniform,
    /// Normal with standard deviation sqrt(2 / fan_in) (He et al. 2015), made for ReLU.
    HeNormal,
}
