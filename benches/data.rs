//! Data pipeline costs at training shapes: loading the gzipped MNIST training
//! split, generating the classic pairs, converting one batch to `f32`, and
//! augmenting images.
//!
//! Finds the data through `SIAMESE_DATA_DIR`, else the project's shared copy.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siamese_data::{
    Augment, Dataset, Mnist, Normalizer, TRAIN_IMAGES, TRAIN_LABELS, augment_seed, classic_pairs,
    data_dir_from_env, resolve_file,
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

/// 1,000 real training digits through the augmentation a config would ask for; the
/// throughput line gives the time per image.
fn bench_augment(c: &mut Criterion) {
    let (images, labels) = train_paths();
    let train = Dataset::load(&images, &labels, None).unwrap();
    let (height, width) = (train.image_shape()[0], train.image_shape()[1]);
    let count = 1_000;
    let aug = Augment {
        max_shift: 2.0,
        max_rotation_degrees: 10.0,
        scale: (0.9, 1.1),
        horizontal_flip: false,
        probability: 1.0,
    };
    let mut dst = vec![0u8; train.image_len()];
    let mut g = c.benchmark_group("augment");
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function("mnist_1000", |b| {
        b.iter(|| {
            for i in 0..count {
                let seed = augment_seed(42, 0, i as u64);
                aug.apply(black_box(train.image(i)), height, width, seed, &mut dst)
                    .unwrap();
            }
            black_box(&dst);
        });
    });
    g.finish();
}

criterion_group!(benches, bench_data, bench_augment);
criterion_main!(benches);
