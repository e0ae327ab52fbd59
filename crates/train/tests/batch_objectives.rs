//! The in-batch objectives end to end on a real MNIST subset: each learns, and a run is the
//! same for any thread count and after a resume, augmentation and cosine schedule included.

mod common;
mod stop_at;

use common::{smoke_config, trained_params};
use siamese_data::Augment;
use siamese_train::{
    AugmentSchedule, BatchRecipe, Config, LrSchedule, Objective, RunDir, RunOptions, Silent,
    TrainError, TripletMining, train,
};
use stop_at::StopAt;

/// The smoke config with class-balanced batches of 10 classes × 8 images and `objective`.
fn batch_config(out: &std::path::Path, objective: Objective) -> Config {
    let mut config = smoke_config(out);
    config.loss.objective = objective;
    config.model.normalize = !matches!(objective, Objective::AllPairs);
    config.loss.margin = if config.model.normalize { 0.5 } else { 1.0 };
    config.training.batches = BatchRecipe::ClassBalanced {
        images_per_class: 8,
    };
    config.training.batch_size = 80;
    config.training.shard_pairs = 16;
    config
}

const OBJECTIVES: [Objective; 6] = [
    Objective::AllPairs,
    Objective::Triplet {
        margin: 0.2,
        mining: TripletMining::BatchAll,
    },
    Objective::Triplet {
        margin: 0.2,
        mining: TripletMining::BatchHard,
    },
    Objective::Triplet {
        margin: 0.2,
        mining: TripletMining::SemiHard,
    },
    Objective::MultiSimilarity {
        alpha: 2.0,
        beta: 50.0,
        base: 0.5,
        epsilon: 0.1,
    },
    Objective::SupCon { temperature: 0.1 },
];

#[test]
fn every_in_batch_objective_learns() {
    for objective in OBJECTIVES {
        let dir = tempfile::tempdir().unwrap();
        let config = batch_config(dir.path(), objective);
        let summary = train(&config, &RunOptions::default(), &mut Silent).unwrap();
        // Chance is 50%; two short epochs on 3,500 images reach well above 80% with each
        // of these losses. 0.75 fails any run that did not learn.
        assert!(
            summary.test_accuracy_tuned > 0.75,
            "{objective:?}: tuned test pair accuracy {}",
            summary.test_accuracy_tuned
        );
        let epochs = RunDir::new(dir.path()).read_metrics().unwrap();
        assert!(
            epochs.iter().all(|m| m.train_loss.is_finite()),
            "{objective:?}: {epochs:?}"
        );
        // Every epoch sees about every training image once: 3,500 / 80 = 43 batches.
        assert_eq!(summary.image_passes, 2 * 43 * 80, "{objective:?}");
    }
}

#[test]
fn normalized_models_embed_unit_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = batch_config(dir.path(), Objective::SupCon { temperature: 0.1 });
    config.training.epochs = 1;
    train(&config, &RunOptions::default(), &mut Silent).unwrap();
    let model = RunDir::new(dir.path()).read_model().unwrap();
    assert!(model.normalizes_embeddings());
    let test = siamese_data::Mnist::load(&config.data.dir).unwrap().test;
    let test = test.subset(&(0..100).collect::<Vec<_>>());
    let emb = model.embed(&test).unwrap();
    for row in emb.rows() {
        let norm = row.dot(&row).sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

/// SupCon with augmentation scaled by the training accuracy and a cosine schedule:
/// everything random, step-dependent or history-dependent.
fn augmented_config(out: &std::path::Path) -> Config {
    let mut config = batch_config(out, Objective::SupCon { temperature: 0.1 });
    config.data.train_limit = Some(1500);
    config.training.epochs = 3;
    config.training.augment = Some(Augment {
        max_shift: 2.0,
        max_rotation_degrees: 10.0,
        scale: (0.9, 1.1),
        horizontal_flip: true,
        probability: 1.0,
    });
    // From 0 to 1 over the whole range: every epoch after the first augments a share that
    // depends on the recorded accuracy of the one before.
    config.training.augment_schedule = AugmentSchedule::WhenFitting { from: 0.0, to: 1.0 };
    config.optimizer.schedule = LrSchedule::Cosine {
        warmup_epochs: 0.5,
        final_fraction: 0.0,
    };
    config
}

#[test]
fn one_and_two_threads_give_bit_identical_weights_with_augmentation() {
    let mut runs = Vec::new();
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = augmented_config(dir.path());
        config.training.threads = threads;
        let summary = train(&config, &RunOptions::default(), &mut Silent).unwrap();
        runs.push((trained_params(dir.path()), summary));
    }
    assert!(
        runs[0].0 == runs[1].0,
        "weights differ between 1 and 2 threads"
    );
    assert_eq!(runs[0].1.test_accuracy, runs[1].1.test_accuracy);
}

#[test]
fn resume_of_an_augmented_cosine_run_ends_with_the_same_weights() {
    let straight = tempfile::tempdir().unwrap();
    let config = augmented_config(straight.path());
    train(&config, &RunOptions::default(), &mut Silent).unwrap();

    // The same config stopped within its second epoch (whose augmentation depends on the
    // first epoch's recorded accuracy), then resumed.
    let split = tempfile::tempdir().unwrap();
    let config = augmented_config(split.path());
    let err = train(&config, &RunOptions::default(), &mut StopAt::new(2, 3)).unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::Stopped {
                epoch: 2,
                step: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--resume"), "{err}");
    train(&config, &RunOptions { resume: true }, &mut Silent).unwrap();
    assert!(
        trained_params(straight.path()) == trained_params(split.path()),
        "resumed weights differ"
    );
}

#[test]
fn augment_schedules_scale_the_share_of_augmented_images() {
    let fitting = AugmentSchedule::WhenFitting {
        from: 0.95,
        to: 0.99,
    };
    // Nothing is known before the first epoch.
    assert_eq!(fitting.factor(0, &[]), 0.0);
    assert_eq!(fitting.factor(1, &[0.90]), 0.0);
    assert!((fitting.factor(1, &[0.97]) - 0.5).abs() < 1e-12);
    assert_eq!(fitting.factor(2, &[0.90, 0.995]), 1.0);
    assert_eq!(AugmentSchedule::FirstEpochs(2).factor(1, &[]), 1.0);
    assert_eq!(AugmentSchedule::FirstEpochs(2).factor(2, &[]), 0.0);
    assert_eq!(AugmentSchedule::Always.factor(7, &[]), 1.0);
}

#[test]
fn data_with_fewer_classes_than_a_batch_has_room_for_gets_batches_of_all_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = batch_config(dir.path(), Objective::SupCon { temperature: 0.1 });
    // Room for 10 classes × 8 images; 7 are left.
    config.data.exclude_classes = vec![0, 4, 9];
    config.training.epochs = 1;
    let summary = train(&config, &RunOptions::default(), &mut Silent).unwrap();
    assert_eq!(
        summary.image_passes % (7 * 8),
        0,
        "{}",
        summary.image_passes
    );
    assert!(
        summary.test_accuracy_tuned > 0.6,
        "{}",
        summary.test_accuracy_tuned
    );
}
