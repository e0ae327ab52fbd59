//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};

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
