//! The checks of values that parse but make no sense, each naming its field.

use std::fmt;

use super::{
    AugmentSchedule, BatchRecipe, Config, DataSource, InvalidField, LrSchedule, Objective,
    OnBadImage, PairRecipe, Validation,
};

impl Config {
    /// Checks every value that parses but makes no sense.
    pub fn validate(&self) -> Result<(), InvalidField> {
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
                // A quotient, not `2 * images_per_class`, which overflows (a panic where
                // overflow is checked) when one class of 2^63 images fills the batch.
                if images_per_class < 2
                    || !batch.is_multiple_of(images_per_class)
                    || batch / images_per_class < 2
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
        if let Some(every) = self.training.checkpoint_every
            && let Some(expected) = every.problem()
        {
            return Err(bad("training.checkpoint_every", every, expected));
        }
        self.validate_source()?;
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

    /// The image-source fields: only with an image source, and each in range.
    fn validate_source(&self) -> Result<(), InvalidField> {
        let data = &self.data;
        let bad = |field: &'static str, value: String, expected: &str| InvalidField {
            field,
            value,
            expected: expected.to_owned(),
        };
        if data.source == DataSource::Idx {
            let only = "unset: it applies to Folder, Manifest and Npy sources, not to Idx";
            let set = [
                ("data.image_size", data.image_size.map(|s| format!("{s:?}"))),
                ("data.channels", data.channels.map(|c| c.to_string())),
                (
                    "data.test_fraction",
                    data.test_fraction.map(|f| f.to_string()),
                ),
                (
                    "data.cache_dir",
                    data.cache_dir.as_ref().map(|d| format!("{d:?}")),
                ),
                (
                    "data.on_bad_image",
                    (data.on_bad_image != OnBadImage::Fail)
                        .then(|| format!("{:?}", data.on_bad_image)),
                ),
            ];
            if let Some((field, Some(value))) = set.into_iter().find(|(_, v)| v.is_some()) {
                return Err(bad(field, value, only));
            }
            return Ok(());
        }
        if let Some(channels) = data.channels.filter(|c| ![1, 3].contains(c)) {
            return Err(bad(
                "data.channels",
                channels.to_string(),
                "1 (grayscale) or 3 (RGB)",
            ));
        }
        let max = siamese_data::sources::MAX_IMAGE_SIDE;
        if let Some((h, w)) = data
            .image_size
            .filter(|&(h, w)| !(1..=max).contains(&h) || !(1..=max).contains(&w))
        {
            return Err(bad(
                "data.image_size",
                format!("({h}, {w})"),
                &format!("a height and width from 1 to {max}"),
            ));
        }
        if let Some(f) = data.test_fraction.filter(|f| !(*f > 0.0 && *f < 1.0)) {
            return Err(bad(
                "data.test_fraction",
                f.to_string(),
                "a share strictly between 0 and 1",
            ));
        }
        Ok(())
    }
}
