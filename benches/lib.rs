//! Shared inputs of the criterion benchmarks beside this file: real MNIST batches and
//! seeded random matrices at the training shapes.

use std::path::PathBuf;

use ndarray::Array2;
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::Uniform;
use rand_chacha::ChaCha8Rng;
use siamese_data::{Mnist, Normalizer};

/// The MNIST directory: `SIAMESE_DATA_DIR`, else `../shared/data/mnist` beside the repo.
pub fn data_dir() -> PathBuf {
    siamese_data::data_dir_from_env().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist")
    })
}

/// The real MNIST splits; benchmarks cannot run without them.
pub fn mnist() -> Mnist {
    let dir = data_dir();
    Mnist::load(&dir).unwrap_or_else(|e| panic!("{e}; set SIAMESE_DATA_DIR")) // ok: bench set-up
}

/// The first `rows` training images scaled to [0, 1], as a dense batch.
pub fn mnist_batch(rows: usize) -> Array2<f32> {
    let train = mnist().train;
    let mut out = Array2::<f32>::zeros((rows, train.image_len()));
    let buffer = out.as_slice_mut().expect("fresh array is contiguous"); // ok: bench set-up
    Normalizer::unit_range()
        .gather(&train, 0..rows, buffer)
        .expect("batch fits"); // ok: bench set-up
    out
}

/// A seeded matrix of uniform values in [-1, 1).
pub fn random_matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dist = Uniform::new(-1.0f32, 1.0).expect("valid range"); // ok: constant range
    Array2::random_using((rows, cols), dist, &mut rng)
}
