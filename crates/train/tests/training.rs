//! End-to-end training on a real MNIST subset: learning, determinism, resume, failures.

mod common;

use common::{smoke_config, trained_params};
use siamese_train::{RunDir, RunOptions, Silent, TrainError, train};

#[test]
fn smoke_run_learns_and_writes_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = smoke_config(dir.path());
    let summary = train(&config, &RunOptions::default(), &mut Silent).unwrap();

    // Chance is 50%; 2 epochs on 3,500 images reach about 80%. 0.75 leaves room for
    // platform rounding while failing any run that did not learn.
    assert!(
        summary.test_accuracy > 0.75,
        "test accuracy {}",
        summary.test_accuracy
    );
    assert!(
        summary.test_accuracy_tuned > 0.75,
        "tuned {}",
        summary.test_accuracy_tuned
    );
    assert!(
        summary.test_loss.is_finite() && summary.test_loss < 0.25,
        "test loss {}",
        summary.test_loss
    );
    assert_eq!(summary.epochs, 2);
    assert_eq!(summary.threshold, 0.5);

    let run = RunDir::new(dir.path());
    // The names the README documents.
    for (path, name) in [
        (run.config_path(), "config.ron"),
        (run.metrics_path(), "metrics.jsonl"),
        (run.summary_path(), "summary.json"),
        (run.tower_path(), "tower.safetensors"),
        (run.checkpoint_path(), "checkpoint.safetensors"),
    ] {
        assert_eq!(path, dir.path().join(name));
        assert!(path.is_file(), "{name} missing");
    }
    let metrics = run.read_metrics().unwrap();
    assert_eq!(metrics.len(), 2);
    assert!(metrics[1].train_loss < metrics[0].train_loss, "{metrics:?}");
    let line = std::fs::read_to_string(run.metrics_path()).unwrap();
    for key in [
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
        "pairs_per_second",
    ] {
        assert!(
            line.contains(&format!("\"{key}\":")),
            "metrics.jsonl lacks {key}"
        );
    }
    let summary_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.summary_path()).unwrap()).unwrap();
    assert_eq!(run.read_summary().unwrap(), summary);
    for key in [
        "test_accuracy",
        "test_loss",
        "threshold",
        "tuned_threshold",
        "test_accuracy_tuned",
        "epochs",
        "train_seconds",
        "pairs_per_second",
        "seed",
        "threads",
    ] {
        assert!(summary_json.get(key).is_some(), "summary.json lacks {key}");
    }
    // The recorded config reads back as the config that ran.
    let recorded = run.read_config().unwrap();
    assert_eq!(recorded, config);
}

#[test]
fn one_and_two_threads_give_bit_identical_weights() {
    let mut runs = Vec::new();
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = smoke_config(dir.path());
        config.data.train_limit = Some(1500);
        config.training.epochs = 1;
        config.training.threads = threads;
        let summary = train(&config, &RunOptions::default(), &mut Silent).unwrap();
        runs.push((trained_params(dir.path()), summary));
    }
    let (a, b) = (&runs[0], &runs[1]);
    assert!(a.0 == b.0, "weights differ between 1 and 2 threads");
    assert_eq!(a.1.test_accuracy, b.1.test_accuracy);
    assert_eq!(a.1.test_loss, b.1.test_loss);
    assert_eq!(a.1.tuned_threshold, b.1.tuned_threshold);
}

#[test]
fn dense_and_sparse_first_layers_agree_closely() {
    let mut params = Vec::new();
    for first_layer in [
        siamese_train::FirstLayer::Dense,
        siamese_train::FirstLayer::Sparse,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = smoke_config(dir.path());
        config.data.train_limit = Some(1000);
        config.training.epochs = 1;
        config.training.first_layer = first_layer;
        train(&config, &RunOptions::default(), &mut Silent).unwrap();
        params.push(trained_params(dir.path()));
    }
    // Same arithmetic in another summation order: equal up to rounding drift over ~15 steps.
    let max_diff = params[0]
        .iter()
        .zip(&params[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_diff < 1e-3,
        "dense and sparse runs drift apart by {max_diff}"
    );
}

#[test]
fn resume_ends_with_the_weights_of_an_uninterrupted_run() {
    let straight = tempfile::tempdir().unwrap();
    let mut config = smoke_config(straight.path());
    config.data.train_limit = Some(1500);
    config.training.epochs = 3;
    let full = train(&config, &RunOptions::default(), &mut Silent).unwrap();

    let split = tempfile::tempdir().unwrap();
    let mut first = config.clone();
    first.output.dir = split.path().to_owned();
    first.training.epochs = 1;
    train(&first, &RunOptions::default(), &mut Silent).unwrap();
    let mut rest = first.clone();
    rest.training.epochs = 3;
    let resumed = train(&rest, &RunOptions { resume: true }, &mut Silent).unwrap();

    assert!(
        trained_params(straight.path()) == trained_params(split.path()),
        "resumed weights differ"
    );
    assert_eq!(full.test_accuracy, resumed.test_accuracy);
    assert_eq!(resumed.epochs, 3);
    let straight_metrics = RunDir::new(straight.path()).read_metrics().unwrap();
    let resumed_metrics = RunDir::new(split.path()).read_metrics().unwrap();
    assert_eq!(resumed_metrics.len(), 3);
    for (a, b) in straight_metrics.iter().zip(&resumed_metrics) {
        assert_eq!(
            (a.train_loss, a.val_accuracy),
            (b.train_loss, b.val_accuracy)
        );
    }
}

#[test]
fn resume_refuses_a_changed_config_or_a_missing_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smoke_config(dir.path());
    config.data.train_limit = Some(1000);
    config.training.epochs = 1;
    let err = train(&config, &RunOptions { resume: true }, &mut Silent).unwrap_err();
    assert!(
        err.to_string().contains("no checkpoint to resume from"),
        "{err}"
    );

    train(&config, &RunOptions::default(), &mut Silent).unwrap();
    config.optimizer.lr *= 2.0;
    config.training.epochs = 2;
    let err = train(&config, &RunOptions { resume: true }, &mut Silent).unwrap_err();
    assert!(err.to_string().contains("different config"), "{err}");
}

#[test]
fn a_diverging_run_stops_with_epoch_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smoke_config(dir.path());
    config.data.train_limit = Some(1000);
    config.optimizer.lr = 1e30;
    let err = train(&config, &RunOptions::default(), &mut Silent).unwrap_err();
    assert!(
        matches!(err, TrainError::NonFinite { epoch: 1, .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("at epoch 1, step"), "{message}");
    // No epoch finished, so no checkpoint claims one did.
    assert!(!RunDir::new(dir.path()).checkpoint_path().exists());
}

#[test]
fn a_batch_larger_than_the_data_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smoke_config(dir.path());
    config.data.train_limit = Some(200);
    config.data.validation = siamese_train::Validation::Holdout {
        count: 50,
        from: siamese_train::HoldoutFrom::Random,
    };
    config.training.batch_size = 100_000;
    let err = train(&config, &RunOptions::default(), &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("training.batch_size") && err.contains("100000"),
        "{err}"
    );

    config.training.batch_size = 8;
    config.data.validation = siamese_train::Validation::Holdout {
        count: 200,
        from: siamese_train::HoldoutFrom::Last,
    };
    let err = train(&config, &RunOptions::default(), &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data.validation.count") && err.contains("200"),
        "{err}"
    );
}

#[test]
fn excluded_classes_never_reach_training_or_validation() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smoke_config(dir.path());
    config.data.exclude_classes = vec![3, 7];
    let data = siamese_train::PreparedData::load(&config).unwrap();
    let excluded = |l: &u32| *l == 3 || *l == 7;
    assert!(!data.train.labels().iter().any(excluded));
    assert!(!data.validation.labels().iter().any(excluded));
    assert!(
        data.test.labels().iter().any(excluded),
        "the test set keeps every class"
    );
    for p in &data.train_pairs {
        assert!(
            !excluded(&data.train.label(p.left as usize))
                && !excluded(&data.train.label(p.right as usize))
        );
    }
}
