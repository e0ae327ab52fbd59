//! Shared set-up of the training tests: the real MNIST files and the smoke config.

use std::path::{Path, PathBuf};

use siamese_train::Config;

/// The real MNIST directory: `SIAMESE_DATA_DIR`, or `../shared/data/mnist` beside the repo.
/// Fails (never skips) when it is missing, so CI cannot pass without running these tests.
pub fn data_dir() -> PathBuf {
    let dir = siamese_data::data_dir_from_env().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist")
    });
    assert!(
        siamese_data::missing_files(&dir).is_empty(),
        "MNIST files not found in {}: set SIAMESE_DATA_DIR to a directory with the four IDX files",
        dir.display()
    );
    dir
}

/// `configs/smoke.ron` pointed at the real data and at `out`.
pub fn smoke_config(out: &Path) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.ron");
    let mut config = Config::load(&path).expect("configs/smoke.ron parses");
    config.data.dir = data_dir();
    config.output.dir = out.to_owned();
    config
}

/// The flat parameter buffer of a finished run.
pub fn trained_params(run_dir: &Path) -> Vec<f32> {
    siamese_train::RunDir::new(run_dir)
        .read_model()
        .expect("tower written")
        .params()
        .to_vec()
}
