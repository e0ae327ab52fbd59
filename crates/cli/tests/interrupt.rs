//! Ctrl-C during training, through the real binary: the run stops after its current step
//! with a checkpoint, says how to continue, and `--resume` ends with the weights of a run
//! that was never interrupted.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::data_dir;

/// The smoke config for five epochs, into `out`.
fn train_args(out: &Path) -> Vec<String> {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.ron");
    [
        "train",
        config.to_str().unwrap(),
        "--data",
        data_dir().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "5",
        "--offline",
    ]
    .map(String::from)
    .to_vec()
}

fn params(run: &Path) -> Vec<f32> {
    siamese_train::RunDir::new(run)
        .read_model()
        .unwrap()
        .params()
        .to_vec()
}

#[test]
fn ctrl_c_checkpoints_the_step_and_resume_finishes_the_run_exactly() {
    let parent = tempfile::tempdir().unwrap();
    let (interrupted, straight) = (
        parent.path().join("interrupted"),
        parent.path().join("straight"),
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_siamese"))
        .args(train_args(&interrupted))
        .env_remove("SIAMESE_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    // The second line is printed once the data is loaded and the handler is in place, just
    // before the first step; five epochs take far longer than the signal's way there.
    for _ in 0..2 {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        lines.push(line);
    }
    assert!(lines[1].contains("parameters"), "{lines:?}");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{lines:?}\n{rest}");
    assert!(rest.contains("interrupted: finishing this step"), "{rest}");
    assert!(!rest.contains("panicked"), "{rest}");
    let stop_line = rest
        .lines()
        .find(|l| l.starts_with("stopped "))
        .unwrap_or_else(|| panic!("no stop line in {rest}"));
    let command = stop_line
        .split_once("; to continue: ")
        .unwrap_or_else(|| panic!("no resume command in {stop_line}"))
        .1;
    assert!(
        command.starts_with("siamese train ") && command.ends_with(" --resume"),
        "{command}"
    );
    assert!(
        siamese_train::RunDir::new(&interrupted)
            .checkpoint_path()
            .exists()
    );
    assert!(
        !siamese_train::RunDir::new(&interrupted)
            .tower_path()
            .exists()
    );

    // The printed command, run as printed (its words need no quoting here).
    let words: Vec<&str> = command.split(' ').skip(1).collect();
    let (ok, _, stderr) = common::siamese(&words);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("resuming after"), "{stderr}");

    common::siamese_ok(
        &train_args(&straight)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        params(&interrupted) == params(&straight),
        "resumed weights differ"
    );
}

#[test]
fn resume_with_no_checkpoint_yet_starts_from_the_beginning() {
    let run = tempfile::tempdir().unwrap();
    let mut args = train_args(run.path());
    args[7] = "1".into();
    args.push("--resume".into());
    let (ok, _, stderr) = common::siamese(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("no checkpoint in") && stderr.contains("starting from the beginning"),
        "{stderr}"
    );
}
