//! Training on a disk that fills up or turns read-only, for real: a small tmpfs (root only,
//! as in CI; elsewhere each test prints why it is skipped). The error names the file and
//! says why once, the last checkpoint is kept byte for byte, no temporary file is left, and
//! once there is room again `--resume` finishes the run.
#![cfg(target_os = "linux")]

mod common;

use std::error::Error;
use std::path::{Path, PathBuf};

use common::{smoke_config, trained_params};
use siamese_io::FileError;
use siamese_io::testing::{BindMount, ENOSPC, EROFS, Tmpfs, temporary_files};
use siamese_train::{EpochMetrics, Observer, RunDir, RunOptions, Silent, TrainError, train};

/// The message as the CLI prints it (`{:#}` of anyhow): the chain joined by ": ".
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// After the first epoch: keeps a copy of the checkpoint, then makes the disk unwritable
/// the way `spoil` says.
struct AfterFirstEpoch<F: FnMut(&Path) + Send> {
    run: RunDir,
    checkpoint: Option<Vec<u8>>,
    spoil: F,
}

impl<F: FnMut(&Path) + Send> Observer for AfterFirstEpoch<F> {
    fn epoch_finished(&mut self, metrics: &EpochMetrics) {
        if metrics.epoch == 1 {
            self.checkpoint = Some(std::fs::read(self.run.checkpoint_path()).unwrap());
            (self.spoil)(self.run.path());
        }
    }
}

/// The run failed writing `file` with `os_error`, said once; the checkpoint is the first
/// epoch's, byte for byte; no temporary file is left.
fn assert_failed_cleanly(
    result: Result<siamese_train::Summary, TrainError>,
    file: &Path,
    os_error: i32,
    run: &RunDir,
    checkpoint: &[u8],
) {
    let err = result.expect_err("the run must fail");
    let message = chain(&err);
    eprintln!("error: {message}");
    match &err {
        TrainError::File(FileError::Io { path, error }) => {
            assert_eq!(path, file);
            assert_eq!(error.raw_os_error(), Some(os_error), "{message}");
        }
        other => panic!("expected a file error, got {other:?}"),
    }
    let reason = std::io::Error::from_raw_os_error(os_error).to_string();
    let reason = reason
        .split(" (os error")
        .next()
        .unwrap_or(&reason)
        .to_owned();
    assert!(
        message.starts_with(&file.display().to_string()),
        "{message}"
    );
    assert_eq!(message.matches(&reason).count(), 1, "{message}");
    assert!(
        std::fs::read(run.checkpoint_path()).unwrap() == checkpoint,
        "the first epoch's checkpoint changed"
    );
    assert_eq!(temporary_files(run.path()).unwrap(), Vec::<PathBuf>::new());
    run.check_not_training().unwrap();
}

#[test]
fn a_full_disk_keeps_the_last_checkpoint_and_resume_finishes() {
    // Room for a run of the smoke config (a checkpoint is ~1.3 MB, and twice that while it
    // is replaced) and for the filler that takes it all back.
    let Some(disk) = Tmpfs::mount_or_skip("full-disk training test", "size=16m") else {
        return;
    };
    let run = RunDir::new(disk.path().join("run"));
    let mut config = smoke_config(run.path());
    config.training.epochs = 3;

    let mut filler = None;
    let mut observer = AfterFirstEpoch {
        run: run.clone(),
        checkpoint: None,
        // Room for metrics.jsonl (a few hundred bytes), none for a checkpoint.
        spoil: |_: &Path| filler = Some(disk.fill(16 * 1024).unwrap()),
    };
    let result = train(&config, &RunOptions::default(), &mut observer);
    let checkpoint = observer.checkpoint.take().expect("epoch 1 finished");
    assert_failed_cleanly(result, &run.checkpoint_path(), ENOSPC, &run, &checkpoint);

    std::fs::remove_file(filler.expect("disk filled")).unwrap();
    let resume = RunOptions { resume: true };
    let summary = train(&config, &resume, &mut Silent).expect("resumes once there is room");
    assert_eq!(summary.epochs, 3);
    assert_eq!(run.read_metrics().unwrap().len(), 3);

    // The failed epoch was trained again from the kept checkpoint: the weights are those
    // of a run that never saw a full disk.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut uninterrupted = config.clone();
    uninterrupted.output.dir = elsewhere.path().to_owned();
    train(&uninterrupted, &RunOptions::default(), &mut Silent).unwrap();
    assert!(trained_params(run.path()) == trained_params(elsewhere.path()));
}

#[test]
fn a_run_directory_turned_read_only_keeps_the_last_checkpoint() {
    let Some(disk) = Tmpfs::mount_or_skip("read-only training test", "size=16m") else {
        return;
    };
    let run = RunDir::new(disk.path().join("run"));
    let mut config = smoke_config(run.path());
    config.training.epochs = 2;

    let mut bind: Option<BindMount> = None;
    let mut observer = AfterFirstEpoch {
        run: run.clone(),
        checkpoint: None,
        // Not a remount of the whole tmpfs: `.lock` is open for writing, which it refuses.
        spoil: |dir: &Path| bind = Some(Tmpfs::bind_read_only(dir).unwrap()),
    };
    let result = train(&config, &RunOptions::default(), &mut observer);
    let checkpoint = observer.checkpoint.take().expect("epoch 1 finished");
    // The first write after epoch 2 is metrics.jsonl's.
    assert_failed_cleanly(result, &run.metrics_path(), EROFS, &run, &checkpoint);
    drop(bind);
}

#[test]
fn a_read_only_run_directory_is_refused_at_the_start_and_still_readable() {
    let Some(disk) = Tmpfs::mount_or_skip("read-only start test", "size=1m") else {
        return;
    };
    let run = RunDir::create(disk.path().join("run")).unwrap();
    drop(run.lock().unwrap());
    disk.remount("ro").unwrap();

    let config = smoke_config(run.path());
    let err = train(&config, &RunOptions::default(), &mut Silent).unwrap_err();
    let message = chain(&err);
    eprintln!("error: {message}");
    assert!(
        matches!(&err, TrainError::File(FileError::Io { path, error })
            if *path == run.lock_path() && error.raw_os_error() == Some(EROFS)),
        "{err:?}"
    );
    assert_eq!(
        message.matches("Read-only file system").count(),
        1,
        "{message}"
    );
    // Readers need no write access to see that nobody trains it.
    run.check_not_training().unwrap();
}
