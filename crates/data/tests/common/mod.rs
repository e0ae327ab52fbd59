//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The directory holding the real MNIST files: `SIAMESE_DATA_DIR`, else the
/// project's shared copy next to the checkout. Fails (never skips) when
/// neither has the files, so CI cannot pass without really testing them.
#[allow(dead_code)] // Not every test binary that includes this module uses it.
pub fn real_mnist_dir() -> PathBuf {
    let dir = siamese_data::data_dir_from_env().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist")
    });
    let missing = siamese_data::missing_files(&dir);
    assert!(
        missing.is_empty(),
        "real MNIST files {missing:?} not found in {}; set SIAMESE_DATA_DIR to a directory \
         holding the four MNIST files (raw or .gz)",
        dir.display()
    );
    dir
}

/// An IDX header: magic for `code`, then the dimensions.
#[allow(dead_code)]
pub fn header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}
