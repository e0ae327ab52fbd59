//! Checkpoints: everything needed to continue a run exactly where it stopped.

use std::collections::BTreeMap;
use std::path::Path;

use siamese_io::{F32Tensor, TensorFile, write_tensor_file};
use siamese_nn::floats_from;

use crate::adam::Adam;
use crate::{Result, TrainError};

const VERSION_KEY: &str = "siamese.checkpoint_version";
// Version 2 added the position within an epoch: a version-1 reader would take a
// mid-epoch checkpoint for the end of an epoch.
const VERSION: &str = "2";

/// The state after a finished epoch or a step within one. Randomness needs no saved
/// generator: every epoch's shuffle, pairs, batches and augmentation derive from
/// `(seed, epoch, position)`, so the seed, the epoch and the step are the state.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Checkpoint {
    /// Finished epochs.
    pub(crate) epoch: usize,
    /// Steps done of the epoch after `epoch` (0 at an epoch's end).
    pub(crate) step: usize,
    /// The running totals of that epoch, so its metrics come out as if never stopped.
    pub(crate) partial: PartialEpoch,
    pub(crate) seed: u64,
    pub(crate) fingerprint: String,
    pub(crate) params: Vec<f32>,
    pub(crate) adam: Adam,
}

/// What a checkpoint says about the run it belongs to, read and checked exactly as
/// `--resume` reads it (see [`super::RunDir::read_checkpoint_info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointInfo {
    /// Epochs finished when it was written: a resumed run starts after this one.
    pub epoch: usize,
    /// Steps already done of the next epoch (0 for a checkpoint at an epoch's end).
    pub step_in_epoch: usize,
    /// The training seed of the run.
    pub seed: u64,
    /// Parameters of the tower (each Adam moment has as many).
    pub params: usize,
    /// Adam steps taken so far.
    pub steps: u64,
}

impl From<&Checkpoint> for CheckpointInfo {
    fn from(checkpoint: &Checkpoint) -> Self {
        Self {
            epoch: checkpoint.epoch,
            step_in_epoch: checkpoint.step,
            seed: checkpoint.seed,
            params: checkpoint.params.len(),
            steps: checkpoint.adam.t,
        }
    }
}

fn vector<'a>(name: &'a str, values: &'a [f32]) -> F32Tensor<'a> {
    F32Tensor {
        name,
        shape: vec![values.len()],
        values,
    }
}

impl Checkpoint {
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let adam_json = serde_json::to_string(&AdamScalars::from(&self.adam))
            .map_err(|e| TrainError::Internal(e.to_string()))?;
        let tensors = [
            vector("params", &self.params),
            vector("adam.m", &self.adam.m),
            vector("adam.v", &self.adam.v),
        ];
        let metadata = BTreeMap::from([
            ("epoch".to_string(), self.epoch.to_string()),
            ("step".to_string(), self.step.to_string()),
            // The bits, so the resumed epoch's mean loss is the uninterrupted one's.
            (
                "epoch_loss_sum_bits".to_string(),
                self.partial.loss_sum.to_bits().to_string(),
            ),
            (
                "epoch_correct".to_string(),
                self.partial.correct.to_string(),
            ),
            (
                "epoch_seconds".to_string(),
                self.partial.seconds.to_string(),
            ),
            ("seed".to_string(), self.seed.to_string()),
            ("config_fingerprint".to_string(), self.fingerprint.clone()),
            ("adam".to_string(), adam_json),
        ]);
        write_tensor_file(path, (VERSION_KEY, VERSION), &tensors, &metadata)?;
        Ok(())
    }

    pub(crate) fn load(path: &Path) -> Result<Self> {
        let file = TensorFile::read(path, (VERSION_KEY, VERSION), "checkpoint")?;
        let bad = |message: String| TrainError::from(file.format_error(message));
        let epoch = file
            .required("epoch")?
            .parse()
            .map_err(|e| bad(format!("epoch: {e}")))?;
        let step = file
            .required("step")?
            .parse()
            .map_err(|e| bad(format!("step: {e}")))?;
        let partial = PartialEpoch {
            loss_sum: f64::from_bits(
                file.required("epoch_loss_sum_bits")?
                    .parse()
                    .map_err(|e| bad(format!("epoch_loss_sum_bits: {e}")))?,
            ),
            correct: file
                .required("epoch_correct")?
                .parse()
                .map_err(|e| bad(format!("epoch_correct: {e}")))?,
            seconds: file
                .required("epoch_seconds")?
                .parse()
                .map_err(|e| bad(format!("epoch_seconds: {e}")))?,
        };
        let seed = file
            .required("seed")?
            .parse()
            .map_err(|e| bad(format!("seed: {e}")))?;
        let scalars: AdamScalars =
            serde_json::from_str(file.required("adam")?).map_err(|e| bad(format!("adam: {e}")))?;
        let params = file.f32_tensor("params", None)?;
        let (m, v) = (
            file.f32_tensor("adam.m", None)?,
            file.f32_tensor("adam.v", None)?,
        );
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
            step,
            partial,
            seed,
            fingerprint: file.required("config_fingerprint")?.to_owned(),
            params,
            adam: scalars.into_adam(m, v),
        })
    }
}

/// The running totals of an epoch in progress.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct PartialEpoch {
    /// Summed loss of the steps done (loss per item × items).
    pub(crate) loss_sum: f64,
    /// Correct items of the steps done.
    pub(crate) correct: usize,
    /// Seconds spent on the steps done.
    pub(crate) seconds: f64,
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
        adam.m = floats_from(&m);
        adam.v = floats_from(&v);
        adam
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunDir;

    fn checkpoint() -> Checkpoint {
        let mut adam = Adam::new(&crate::OptimizerConfig::default(), 3);
        adam.t = 12;
        adam.m = floats_from(&[0.1, 0.2, 0.3]);
        adam.v = floats_from(&[0.01, 0.02, 0.03]);
        Checkpoint {
            epoch: 4,
            step: 7,
            partial: PartialEpoch {
                // Not a short decimal: the bits must survive the header's text.
                loss_sum: std::f64::consts::PI / 3.0,
                correct: 321,
                seconds: 1.25,
            },
            seed: 99,
            fingerprint: "abc".into(),
            params: vec![1.0, 2.0, 3.0],
            adam,
        }
    }

    #[test]
    fn info_reports_what_the_checkpoint_holds() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        assert_eq!(run.read_checkpoint_info().unwrap(), None);
        run.write_checkpoint(&checkpoint()).unwrap();
        let info = run.read_checkpoint_info().unwrap().unwrap();
        assert_eq!(
            info,
            CheckpointInfo {
                epoch: 4,
                step_in_epoch: 7,
                seed: 99,
                params: 3,
                steps: 12,
            }
        );
    }

    #[test]
    fn a_mid_epoch_checkpoint_reads_back_to_the_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        checkpoint().save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), checkpoint());
    }

    #[test]
    fn info_of_a_file_that_is_no_checkpoint_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        std::fs::write(run.checkpoint_path(), b"not safetensors").unwrap();
        assert!(run.read_checkpoint_info().is_err());
    }
}
