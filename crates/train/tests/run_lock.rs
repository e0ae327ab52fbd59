//! One writer per run directory: a second training run fails at once naming the holder's
//! pid, readers refuse a run in training, and a `.lock` left by a dead process blocks
//! nothing.

mod common;

use common::{smoke_config, trained_params};
use siamese_train::{Observer, RunDir, RunInfo, RunOptions, Silent, TrainError, train};

/// Starts a second training run into the same directory, and reads the run, while the first
/// one trains.
struct Intruder {
    config: siamese_train::Config,
    second: Option<Result<siamese_train::Summary, TrainError>>,
    read: Option<Result<siamese_train::TrainedModel, TrainError>>,
}

impl Observer for Intruder {
    fn started(&mut self, info: &RunInfo) {
        let started = std::time::Instant::now();
        self.second = Some(train(&self.config, &RunOptions::default(), &mut Silent));
        eprintln!("second trainer refused in {:?}", started.elapsed());
        self.read = Some(RunDir::new(&info.run_dir).read_model());
    }
}

#[test]
fn a_second_trainer_fails_at_once_and_a_stale_lock_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smoke_config(dir.path());
    config.training.epochs = 1;
    let run = RunDir::new(dir.path());
    // Left by a run killed with -9: its pid, but no lock (the kernel dropped it).
    std::fs::write(run.lock_path(), "999999999\n").unwrap();

    let mut intruder = Intruder {
        config: config.clone(),
        second: None,
        read: None,
    };
    train(&config, &RunOptions::default(), &mut intruder).expect("the first run trains");

    let pid = std::process::id();
    let second = intruder.second.expect("observer called").unwrap_err();
    eprintln!("second trainer: {second}");
    assert!(
        matches!(second, TrainError::RunInUse { pid: Some(p), .. } if p == pid),
        "{second:?}"
    );
    let message = second.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains(&format!("(pid {pid})")), "{message}");

    let read = intruder.read.expect("observer called").unwrap_err();
    eprintln!("reader: {read}");
    assert!(
        matches!(read, TrainError::RunBeingTrained { pid: Some(p), .. } if p == pid),
        "{read:?}"
    );
    assert!(
        read.to_string().contains("is being trained by pid"),
        "{read}"
    );

    // The run is over: its lock is gone, its tower readable, `.lock` names the last holder.
    run.check_not_training().unwrap();
    assert!(!trained_params(dir.path()).is_empty());
    assert_eq!(
        std::fs::read_to_string(run.lock_path()).unwrap(),
        format!("{pid}\n")
    );
}

#[test]
fn a_held_lock_refuses_writers_and_readers_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    // Never trained: no `.lock`, nothing to refuse.
    run.check_not_training().unwrap();

    let lock = run.lock().unwrap();
    assert_eq!(lock.path(), run.lock_path());
    let pid = std::process::id();
    match run.lock() {
        Err(TrainError::RunInUse { run_dir, pid: p }) => {
            assert_eq!(run_dir, dir.path());
            assert_eq!(p, Some(pid));
        }
        other => panic!("second lock: {other:?}"),
    }
    assert!(matches!(
        run.check_not_training(),
        Err(TrainError::RunBeingTrained { pid: Some(p), .. }) if p == pid
    ));
    // Before the missing tower: the reason it is missing.
    assert!(matches!(
        run.read_model(),
        Err(TrainError::RunBeingTrained { .. })
    ));

    drop(lock);
    run.check_not_training().unwrap();
    let again = run.lock().unwrap();
    drop(again);
}

#[test]
fn the_messages_name_the_directory_and_the_pid() {
    let run_in_use = TrainError::RunInUse {
        run_dir: "runs/base".into(),
        pid: Some(1234),
    };
    assert_eq!(
        run_in_use.to_string(),
        "run directory runs/base is in use by another training run (pid 1234); wait for it \
         or choose another --out"
    );
    let being_trained = TrainError::RunBeingTrained {
        run_dir: "runs/base".into(),
        pid: None,
    };
    assert_eq!(
        being_trained.to_string(),
        "runs/base is being trained by a process of unknown pid; its tower is not final yet \
         (wait for the run to finish)"
    );
}
