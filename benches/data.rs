//! Data pipeline costs at training shapes: loading the gzipped MNIST training
//! split, generating the classic pairs, and converting one batch to `f32`.
//!
//! Finds the data through `SIAMESE_DATA_DIR`, else the project's shared copy.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use siamese_data::{
    Dataset, Mnist, Normalizer, TRAIN_IMAGES, TRAIN_LABELS, classic_pairs, data_dir_from_env,
    resolve_file,
};

fn data_dir() -> PathBuf {
    data_dir_from_env().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist")
    })
}

fn train_paths() -> (PathBuf, PathBuf) {
    let dir = data_dir();
    let find = |name| {
        resolve_file(&dir, name).unwrap_or_else(|| {
            panic!(
                "{name} not found in {}; set SIAMESE_DATA_DIR",
                dir.display()
            )
        })
    };
    (find(TRAIN_IMAGES), find(TRAIN_LABELS))
}

fn bench_data(c: &mut Criterion) {
    let (images, labels) = train_paths();
    let mut g = c.benchmark_group("data");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("load_train_gz", |b| {
        b.iter(|| Dataset::load(black_box(&images), black_box(&labels), None).unwrap());
    });
    // All four files; the training images decompress on a second thread.
    let dir = data_dir();
    g.bench_function("load_mnist_dir_gz", |b| {
        b.iter(|| Mnist::load(black_box(&dir)).unwrap());
    });
    g.finish();

    let train = Dataset::load(&images, &labels, None).unwrap();
    c.bench_function("data/classic_pairs_train", |b| {
        b.iter(|| classic_pairs(black_box(train.labels()), train.num_classes(), 42).unwrap());
    });

    let norm = Normalizer::standardize_from(&train);
    let batch: Vec<usize> = (0..256).map(|i| (i * 7919) % train.len()).collect();
    let mut out = vec![0f32; batch.len() * train.image_len()];
    c.bench_function("data/gather_256", |b| {
        b.iter(|| {
            norm.gather(&train, black_box(batch.iter().copied()), &mut out)
                .unwrap();
        });
    });
}

criterion_group!(benches, bench_data);
criterion_main!(benches);
