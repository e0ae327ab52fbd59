//! The `optimizer` section: Adam's settings and the learning-rate schedule.

use serde::{Deserialize, Serialize};

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
