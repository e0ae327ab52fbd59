//! The `loss` section: the objective and the pair loss that scores validation and test.

use serde::{Deserialize, Serialize};

use crate::Result;

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
