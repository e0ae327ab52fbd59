//! One writer per run directory, with the real binary: while `siamese train` runs, a second
//! `siamese train --out` into the same directory fails at once naming its pid, and `eval`
//! and `report` refuse the run; once it is killed with -9, `--resume` takes the directory
//! over (the kernel dropped the lock; only a stale `.lock` file is left).

mod common;

use common::{data_dir, siamese, siamese_ok};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child if the test fails before it does.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_writer_and_readers_are_refused_and_a_killed_run_resumes() {
    let run = tempfile::tempdir().unwrap();
    let out = run.path().to_str().unwrap();
    let data = data_dir();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.ron");
    let train = |epochs: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out,
            "--epochs",
            epochs,
            "--offline",
        ];
        args.extend_from_slice(extra);
        args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };

    // Many epochs: it must still be training when the others try; it is killed anyway.
    let mut first = Killed(
        Command::new(env!("CARGO_BIN_EXE_siamese"))
            .args(train("100", &[]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start siamese train"),
    );
    let pid = first.0.id();
    let checkpoint = run.path().join("checkpoint.safetensors");
    wait_for("the first epoch's checkpoint", || checkpoint.exists());
    assert_eq!(
        std::fs::read_to_string(run.path().join(".lock")).unwrap(),
        format!("{pid}\n")
    );

    let args = train("100", &[]);
    let (ok, _, stderr) = siamese(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "run directory {out} is in use by another training run (pid {pid}); wait for it or \
             choose another --out"
        )),
        "{stderr}"
    );

    for command in ["eval", "report"] {
        let (ok, _, stderr) = siamese(&[command, out, "--data", data.to_str().unwrap()]);
        assert!(!ok, "{command} read a run in training");
        assert!(
            stderr.contains(&format!(
                "{out} is being trained by pid {pid}; its tower is not final yet"
            )),
            "{command}: {stderr}"
        );
    }

    // SIGKILL: no destructor runs; only the kernel lets go of the lock.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let args = train("2", &["--resume"]);
    siamese_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    siamese_ok(&["eval", out, "--data", data.to_str().unwrap(), "--no-raw"]);
}
