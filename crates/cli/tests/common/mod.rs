//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Runs the `siamese` binary without `SIAMESE_DATA_DIR` (so only flags point at data);
/// returns whether it succeeded, its stdout and its stderr.
pub fn siamese(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_siamese"))
        .args(args)
        .env_remove("SIAMESE_DATA_DIR")
        .output()
        .expect("run siamese");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`siamese`] that must succeed; returns its stdout.
pub fn siamese_ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = siamese(args);
    assert!(ok, "siamese {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}
