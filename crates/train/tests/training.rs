//! End-to-end training on a real MNIST subset: learning, determinism, resume, failures.

mod common;
mod stop_at;

use std::path::PathBuf;

use common::{smoke_config, trained_params};
use siamese_train::{
    CheckpointEvery, Observer, RunDir, RunInfo, RunOptions, Silent, TrainError, train,
};
use stop_at::StopAt;

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
fn resume_refuses_a_changed_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smoke_config(dir.path());
    config.data.train_limit = Some(1000);
    config.training.epochs = 1;
    train(&config, &RunOptions::default(), &mut Silent).unwrap();
    config.optimizer.lr *= 2.0;
    config.training.epochs = 2;
    let err = train(&config, &RunOptions { resume: true }, &mut Silent).unwrap_err();
    assert!(err.to_string().contains("different config"), "{err}");
}

/// Remembers whether the run reported that there was nothing to resume.
#[derive(Default)]
struct StartWatcher {
    nothing_to_resume: Option<bool>,
}

impl Observer for StartWatcher {
    fn started(&mut self, info: &RunInfo) {
        self.nothing_to_resume = Some(info.nothing_to_resume);
    }
}

#[test]
fn resume_without_a_checkpoint_starts_from_the_beginning_and_says_so() {
    let fresh = tempfile::tempdir().unwrap();
    let mut config = smoke_config(fresh.path());
    config.data.train_limit = Some(1000);
    config.training.epochs = 1;
    let mut watcher = StartWatcher::default();
    let resumed = train(&config, &RunOptions { resume: true }, &mut watcher).unwrap();
    assert_eq!(watcher.nothing_to_resume, Some(true));

    let straight = tempfile::tempdir().unwrap();
    config.output.dir = straight.path().to_owned();
    let mut watcher = StartWatcher::default();
    let summary = train(&config, &RunOptions::default(), &mut watcher).unwrap();
    assert_eq!(watcher.nothing_to_resume, Some(false));
    assert!(trained_params(fresh.path()) == trained_params(straight.path()));
    assert_eq!(resumed.test_accuracy, summary.test_accuracy);
}

/// A 3-epoch smoke run on 1,500 images.
fn three_epochs(out: &std::path::Path) -> siamese_train::Config {
    let mut config = smoke_config(out);
    config.data.train_limit = Some(1500);
    config.training.epochs = 3;
    config
}

/// Asserts that two runs ended with the same weights, test figures and epoch metrics (all
/// but the timings).
fn assert_same_run(a: &std::path::Path, b: &std::path::Path) {
    assert!(trained_params(a) == trained_params(b), "weights differ");
    let (ra, rb) = (RunDir::new(a), RunDir::new(b));
    let (sa, sb) = (ra.read_summary().unwrap(), rb.read_summary().unwrap());
    assert_eq!(
        (sa.test_accuracy, sa.test_loss, sa.epochs),
        (sb.test_accuracy, sb.test_loss, sb.epochs)
    );
    let (ma, mb) = (ra.read_metrics().unwrap(), rb.read_metrics().unwrap());
    assert_eq!(ma.len(), mb.len());
    for (x, y) in ma.iter().zip(&mb) {
        assert_eq!(
            (
                x.epoch,
                x.train_loss,
                x.train_accuracy,
                x.val_loss,
                x.val_accuracy
            ),
            (
                y.epoch,
                y.train_loss,
                y.train_accuracy,
                y.val_loss,
                y.val_accuracy
            )
        );
    }
}

#[test]
fn a_run_stopped_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_run() {
    let straight = tempfile::tempdir().unwrap();
    train(
        &three_epochs(straight.path()),
        &RunOptions::default(),
        &mut Silent,
    )
    .unwrap();

    let split = tempfile::tempdir().unwrap();
    let config = three_epochs(split.path());
    let err = train(&config, &RunOptions::default(), &mut StopAt::new(2, 5)).unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::Stopped {
                epoch: 2,
                step: 5,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("at step 5 of epoch 2"), "{err}");
    assert_eq!(RunDir::new(split.path()).read_metrics().unwrap().len(), 1);
    // Stopped twice, the second time right at an epoch's end.
    let err = train(
        &config,
        &RunOptions { resume: true },
        &mut StopAt::new(2, 0),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::Stopped {
                epoch: 2,
                step: 0,
                ..
            }
        ),
        "{err}"
    );
    train(&config, &RunOptions { resume: true }, &mut Silent).unwrap();
    assert_same_run(straight.path(), split.path());
}

/// Copies the run's checkpoint aside the first time one is written within an epoch, as
/// the last file a crash would leave.
struct KeepFirstMidEpochCheckpoint {
    run_dir: PathBuf,
    kept: Option<(usize, usize, PathBuf)>,
}

impl Observer for KeepFirstMidEpochCheckpoint {
    fn checkpoint_written(&mut self, epoch: usize, step: usize) {
        if self.kept.is_none() {
            let copy = self.run_dir.with_extension("kept");
            std::fs::copy(RunDir::new(&self.run_dir).checkpoint_path(), &copy).unwrap();
            self.kept = Some((epoch, step, copy));
        }
    }
}

#[test]
fn periodic_checkpoints_within_an_epoch_resume_exactly() {
    let parent = tempfile::tempdir().unwrap();
    let straight = parent.path().join("straight");
    let mut config = three_epochs(&straight);
    config.training.checkpoint_every = Some(CheckpointEvery::Steps(10));
    let mut keeper = KeepFirstMidEpochCheckpoint {
        run_dir: straight.clone(),
        kept: None,
    };
    train(&config, &RunOptions::default(), &mut keeper).unwrap();
    let (epoch, step, copy) = keeper.kept.unwrap();
    assert_eq!((epoch, step), (1, 10));

    // A run "killed" right after that checkpoint: only its config and checkpoint are left.
    let crashed = parent.path().join("crashed");
    let run = RunDir::create(&crashed).unwrap();
    std::fs::copy(&copy, run.checkpoint_path()).unwrap();
    // The checkpoint interval is not part of the result, so it may change on resume.
    let mut rest = config.clone();
    rest.output.dir = crashed.clone();
    rest.training.checkpoint_every = Some(CheckpointEvery::Seconds(3600.0));
    train(&rest, &RunOptions { resume: true }, &mut Silent).unwrap();
    assert_same_run(&straight, &crashed);
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
