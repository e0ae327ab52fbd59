//! Layer costs at the training shapes: batch 256 rows (both towers of 128 pairs) through
//! 784→512→256→128, dense and sparse first layer, on real MNIST digits.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use siamese_benches::{mnist_batch, random_matrix};
use siamese_nn::{CsrBatch, Dense, Init, Input, Relu, Tower, TowerSpec};

const ROWS: usize = 256;
const SHAPES: [(usize, usize); 3] = [(784, 512), (512, 256), (256, 128)];

fn bench_dense(c: &mut Criterion) {
    let mut g = c.benchmark_group("dense");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    for (i, &(input, output)) in SHAPES.iter().enumerate() {
        let layer = Dense::new(input, output, 0, true);
        let params = random_matrix(1, layer.num_params(), 1)
            .into_raw_vec_and_offset()
            .0;
        let x = if i == 0 {
            mnist_batch(ROWS)
        } else {
            random_matrix(ROWS, input, 2)
        };
        let mut y = Array2::<f32>::zeros((ROWS, output));
        let name = format!("{input}x{output}");
        g.throughput(Throughput::Elements((2 * ROWS * input * output) as u64));
        g.bench_function(format!("{name}/forward"), |b| {
            b.iter(|| {
                layer
                    .forward(&params, black_box(x.view()), y.view_mut())
                    .unwrap();
            });
        });
        let mut grads = vec![0.0f32; layer.num_params()];
        let mut dx = Array2::<f32>::zeros((ROWS, input));
        let dy0 = random_matrix(ROWS, output, 3);
        let mut dy = dy0.clone();
        // Backward: weight gradient, bias gradient and (except for the data layer) input gradient.
        g.throughput(Throughput::Elements(
            ((if i == 0 { 2 } else { 4 }) * ROWS * input * output) as u64,
        ));
        g.bench_function(format!("{name}/backward"), |b| {
            b.iter(|| {
                dy.assign(&dy0);
                let dx = if i == 0 { None } else { Some(dx.view_mut()) };
                layer
                    .backward(&params, x.view(), y.view(), dy.view_mut(), &mut grads, dx)
                    .unwrap();
            });
        });
    }
    g.finish();
}

/// The first layer on real digits, dense against sparse, forward and forward + backward,
/// through the tower (whose second layer, 512 → 1, costs next to nothing).
fn bench_first_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("first_layer");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    let tower = Tower::new(TowerSpec {
        input: 784,
        hidden: vec![512],
        embedding: 1,
        final_activation: false,
    })
    .unwrap();
    let params = tower.init_params(Init::GlorotUniform, 1).unwrap();
    let x = mnist_batch(ROWS);
    let csr = CsrBatch::from_dense(x.view());
    let upstream = random_matrix(ROWS, 1, 5);
    let mut ws = tower.workspace(ROWS);
    let mut grads = vec![0.0f32; tower.num_params()];
    g.throughput(Throughput::Elements((2 * ROWS * 784 * 512) as u64));
    for (name, input) in [
        ("dense", Input::Dense(x.view())),
        ("sparse", Input::Sparse(&csr)),
    ] {
        g.bench_function(format!("{name}/forward"), |b| {
            b.iter(|| {
                tower.forward(&params, black_box(input), &mut ws).unwrap();
            });
        });
        g.bench_function(format!("{name}/forward_backward"), |b| {
            b.iter(|| {
                tower.forward(&params, black_box(input), &mut ws).unwrap();
                tower
                    .backward(&params, input, &mut ws, upstream.view(), &mut grads, None)
                    .unwrap();
            });
        });
    }
    g.bench_function("csr_from_dense", |b| {
        b.iter(|| CsrBatch::from_dense(black_box(x.view())));
    });
    g.finish();
}

fn bench_relu(c: &mut Criterion) {
    let mut g = c.benchmark_group("relu");
    let mut x = random_matrix(ROWS, 512, 4);
    let y = x.clone();
    g.bench_function("forward_256x512", |b| {
        b.iter(|| Relu::forward(black_box(x.view_mut())));
    });
    g.bench_function("backward_256x512", |b| {
        b.iter(|| Relu::backward(y.view(), black_box(x.view_mut())));
    });
    g.finish();
}

criterion_group!(benches, bench_dense, bench_first_layer, bench_relu);
criterion_main!(benches);
