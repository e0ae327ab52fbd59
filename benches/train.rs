//! Costs of the training step at the parity workload's shapes (784→512→256→128, minibatch
//! of 128 pairs = 256 rows, two shards of 64 pairs): the fused distance + contrastive loss,
//! the Adam update over the flat buffer, one whole step on real MNIST pairs, and embedding
//! a batch.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siamese_benches::{mnist, random_matrix};
use siamese_data::{Normalizer, classic_pairs};
use siamese_loss::Contrastive;
use siamese_nn::{Init, Tower, TowerSpec};
use siamese_train::{Adam, FirstLayer, OptimizerConfig, StepContext, Stepper, TrainedModel};

const PAIRS: usize = 128;

fn tower() -> Tower {
    Tower::new(TowerSpec {
        input: 784,
        hidden: vec![512, 256],
        embedding: 128,
        final_activation: false,
    })
    .unwrap()
}

fn adam_config() -> OptimizerConfig {
    OptimizerConfig {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-7,
        ..OptimizerConfig::default()
    }
}

fn bench_loss(c: &mut Criterion) {
    let mut g = c.benchmark_group("loss");
    let emb = random_matrix(2 * PAIRS, 128, 1);
    let emb = emb.as_slice().unwrap();
    let similar: Vec<f32> = (0..PAIRS).map(|i| (i % 2) as f32).collect();
    let loss = Contrastive::default();
    let mut dist = vec![0.0; PAIRS];
    let mut grad = vec![0.0; 2 * PAIRS * 128];
    g.throughput(Throughput::Elements(PAIRS as u64));
    g.bench_function("distance_contrastive_forward_backward_128x128", |b| {
        b.iter(|| {
            siamese_loss::contrastive_forward_backward(
                black_box(emb),
                128,
                &similar,
                &loss,
                1.0 / PAIRS as f32,
                &mut dist,
                &mut grad,
            )
            .unwrap()
        });
    });
    g.finish();
}

fn bench_adam(c: &mut Criterion) {
    let mut g = c.benchmark_group("adam");
    let tower = tower();
    let mut params = tower.init_params(Init::GlorotUniform, 1).unwrap();
    let grads = random_matrix(2, tower.num_params(), 2);
    let mut parts: Vec<Vec<f32>> = grads.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut adam = Adam::new(&adam_config(), tower.num_params());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    g.throughput(Throughput::Elements(tower.num_params() as u64));
    g.bench_function("step_sum_2_shards_2_threads", |b| {
        b.iter(|| pool.install(|| adam.step_sum(&mut params, black_box(&mut parts))));
    });
    g.finish();
}

fn bench_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_step");
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    let data = mnist().train;
    let pairs = classic_pairs(data.labels(), data.num_classes(), 3).unwrap();
    let tower = tower();
    let mut params = tower.init_params(Init::GlorotUniform, 1).unwrap();
    let mut adam = Adam::new(&adam_config(), tower.num_params());
    let normalizer = Normalizer::unit_range();
    let loss = Contrastive::default();
    let mut stepper = Stepper::new(&tower, PAIRS, 64, 784);
    g.throughput(Throughput::Elements(PAIRS as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut batches = pairs.chunks_exact(PAIRS).cycle();
        g.bench_function(format!("keras_parity_{threads}_threads"), |b| {
            b.iter(|| {
                pool.install(|| {
                    let batch = batches.next().unwrap();
                    let ctx = StepContext {
                        tower: &tower,
                        params: &params,
                        data: &data,
                        normalizer: &normalizer,
                        loss: &loss,
                        scale: 1.0 / PAIRS as f32,
                        threshold: 0.5,
                        sparse: true,
                    };
                    stepper.run(&ctx, batch).unwrap();
                    adam.step_sum(&mut params, stepper.gradients())
                })
            });
        });
    }
    g.finish();
}

fn bench_embed(c: &mut Criterion) {
    let mut g = c.benchmark_group("embed");
    g.sample_size(20);
    let test = mnist().test;
    let batch = test.subset(&(0..1024).collect::<Vec<_>>());
    let tower = tower();
    let params = tower.init_params(Init::GlorotUniform, 1).unwrap();
    let model = TrainedModel::new(tower, params, Normalizer::unit_range())
        .unwrap()
        .with_first_layer(FirstLayer::Sparse);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("1024_images_2_threads", |b| {
        b.iter(|| pool.install(|| model.embed(black_box(&batch)).unwrap()));
    });
    g.finish();
}

criterion_group!(benches, bench_loss, bench_adam, bench_step, bench_embed);
criterion_main!(benches);
