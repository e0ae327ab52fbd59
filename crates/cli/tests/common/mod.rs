//! Helpers shared by the end-to-end tests.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The MNIST directory: `SIAMESE_DATA_DIR`, else `../shared/data/mnist` beside the
/// workspace. Fails (never skips) when the files are not there.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("SIAMESE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist")
        });
    assert!(
        dir.join("train-images-idx3-ubyte.gz").exists()
            || dir.join("train-images-idx3-ubyte").exists(),
        "MNIST not found in {}: set SIAMESE_DATA_DIR",
        dir.display()
    );
    dir
}

/// What one run of the binary did.
pub struct Outcome {
    /// The exit code; `None` when it was killed (by the time limit or a signal).
    pub code: Option<i32>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// Runs the `siamese` binary without `SIAMESE_DATA_DIR` (so only flags point at data),
/// killing it when it runs longer than `limit`: a hang fails the test instead of stalling it.
pub fn siamese_within(args: &[&str], limit: Duration) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_siamese"))
        .args(args)
        .env_remove("SIAMESE_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start siamese");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for siamese") {
            break Some(status);
        }
        if start.elapsed() > limit {
            // Already exited in between is fine: either way it is reaped below.
            let _ = child.kill();
            child.wait().expect("reap siamese");
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads a pipe to its end on its own thread, so a child that fills one pipe while the
/// other is waited on cannot block.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("read a pipe of siamese");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// [`siamese_within`] an hour (training tests take minutes at most); returns whether it
/// succeeded, its stdout and its stderr.
pub fn siamese(args: &[&str]) -> (bool, String, String) {
    let out = siamese_within(args, Duration::from_secs(3600));
    (out.code == Some(0), out.stdout, out.stderr)
}

/// [`siamese`] that must succeed; returns its stdout.
pub fn siamese_ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = siamese(args);
    assert!(ok, "siamese {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}
