//! Checkpoints: everything needed to continue a run exactly where it stopped.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::adam::Adam;
use crate::{Result, TrainError};

const VERSION: &str = "1";

/// The state after a finished epoch. Randomness needs no saved generator: every epoch's
/// shuffle and pairs derive from `(seed, epoch)`, so the seed and the epoch are the state.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Checkpoint {
    pub(crate) epoch: usize,
    pub(crate) seed: u64,
    pub(crate) fingerprint: String,
    pub(crate) params: Vec<f32>,
    pub(crate) adam: Adam,
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Checkpoint {
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let format = |e: safetensors::SafeTensorError| TrainError::Checkpoint {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let adam_json = serde_json::to_string(&AdamScalars::from(&self.adam))
            .map_err(|e| TrainError::Internal(e.to_string()))?;
        let buffers = [
            ("params", to_bytes(&self.params)),
            ("adam.m", to_bytes(&self.adam.m)),
            ("adam.v", to_bytes(&self.adam.v)),
        ];
        let tensors = buffers
            .iter()
            .map(|(name, bytes)| {
                Ok((
                    *name,
                    TensorView::new(Dtype::F32, vec![bytes.len() / 4], bytes).map_err(format)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = HashMap::from([
            (
                "siamese.checkpoint_version".to_string(),
                VERSION.to_string(),
            ),
            ("epoch".to_string(), self.epoch.to_string()),
            ("seed".to_string(), self.seed.to_string()),
            ("config_fingerprint".to_string(), self.fingerprint.clone()),
            ("adam".to_string(), adam_json),
        ]);
        let bytes = safetensors::serialize(tensors, Some(metadata)).map_err(format)?;
        siamese_nn::write_atomically(path, &bytes)?;
        Ok(())
    }

    pub(crate) fn load(path: &Path) -> Result<Self> {
        let bad = |message: String| TrainError::Checkpoint {
            path: path.to_owned(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
            path: path.to_owned(),
            source,
        })?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| {
            meta.get(key)
                .cloned()
                .ok_or_else(|| bad(format!("no `{key}` in the header")))
        };
        let version = get("siamese.checkpoint_version")?;
        if version != VERSION {
            return Err(bad(format!(
                "checkpoint version {version}, this build reads {VERSION}"
            )));
        }
        let epoch = get("epoch")?
            .parse()
            .map_err(|e| bad(format!("epoch: {e}")))?;
        let seed = get("seed")?
            .parse()
            .map_err(|e| bad(format!("seed: {e}")))?;
        let scalars: AdamScalars =
            serde_json::from_str(&get("adam")?).map_err(|e| bad(format!("adam: {e}")))?;
        let tensors = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let read = |name: &str| siamese_nn::read_f32_tensor(path, &tensors, name, None);
        let params = read("params")?;
        let (m, v) = (read("adam.m")?, read("adam.v")?);
        if m.len() != params.len() || v.len() != params.len() {
            return Err(bad(format!(
                "{} parameters but Adam moments of {} and {}",
                params.len(),
                m.len(),
                v.len()
            )));
        }
        Ok(Self {
            epoch,
            seed,
            fingerprint: get("config_fingerprint")?,
            params,
            adam: scalars.into_adam(m, v),
        })
    }
}

/// Adam's scalar state, stored as JSON in the header.
#[derive(serde::Serialize, serde::Deserialize)]
struct AdamScalars {
    config: crate::OptimizerConfig,
    t: u64,
}

impl From<&Adam> for AdamScalars {
    fn from(adam: &Adam) -> Self {
        Self {
            config: adam.config(),
            t: adam.t,
        }
    }
}

impl AdamScalars {
    fn into_adam(self, m: Vec<f32>, v: Vec<f32>) -> Adam {
        let mut adam = Adam::new(&self.config, 0);
        adam.t = self.t;
        adam.m = m;
        adam.v = v;
        adam
    }
}
