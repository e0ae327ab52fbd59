//! Layer costs at the training shapes: batch 256 rows (both towers of 128 pairs) through
//! 784→512→256→128, dense and sparse first layer, on real MNIST digits.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};
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
    // Aligned, as the trainer's shard gradients are.
    let mut grads = siamese_nn::zeroed_floats(tower.num_params());
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

/// The dense products a trained parity step still runs (its forward passes and weight
/// gradients go sparse), in the layouts `Dense` hands them over, with both kernels:
/// matrixmultiply (ndarray's `general_mat_mul`, the trainer's kernel before) and
/// `siamese_gemm::matmul` (the `gemm` crate, the trainer's kernel now).
/// - `input_grad_256x128`: dx[256 × 256] = dz[256 × 128] · W₃ᵀ, W₃ rows padded to 144.
/// - `live_input_grad_256x16`: dx[256 × 512] = dz[256 × 16] · W₂ᵀ over the ~16 of 256
///   second-layer units that are active in a batch (`Dense::backward_live`).
/// - `weight_grad_784x512`: gW[784 × 512] += xᵀ · dz, the dense first layer's weight gradient.
fn bench_products(c: &mut Criterion) {
    type Product = fn(ArrayView2<'_, f32>, ArrayView2<'_, f32>, f32, ArrayViewMut2<'_, f32>);
    fn matrixmultiply(
        a: ArrayView2<'_, f32>,
        b: ArrayView2<'_, f32>,
        beta: f32,
        mut c: ArrayViewMut2<'_, f32>,
    ) {
        general_mat_mul(1.0, &a, &b, beta, &mut c);
    }
    fn gemm(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, beta: f32, c: ArrayViewMut2<'_, f32>) {
        siamese_gemm::matmul(1.0, a, b, beta, c).unwrap();
    }
    let kernels: [(&str, Product); 2] = [("matrixmultiply", matrixmultiply), ("gemm", gemm)];
    let mut g = c.benchmark_group("products");
    g.sample_size(30).measurement_time(Duration::from_secs(2));
    let dz = random_matrix(ROWS, 128, 6);
    let w3 = random_matrix(256, 144, 7);
    let w3 = ArrayView2::from_shape((256, 128).strides((144, 1)), w3.as_slice().unwrap()).unwrap();
    let mut dx = Array2::<f32>::zeros((ROWS, 256));
    let dz_live = random_matrix(ROWS, 16, 8);
    let w_live = random_matrix(512, 16, 9);
    let mut dx_live = Array2::<f32>::zeros((ROWS, 512));
    let x = mnist_batch(ROWS);
    let dz1 = random_matrix(ROWS, 512, 10);
    let mut gw = Array2::<f32>::zeros((784, 528));
    for (name, product) in kernels {
        g.throughput(Throughput::Elements((2 * ROWS * 128 * 256) as u64));
        g.bench_function(format!("input_grad_256x128/{name}"), |b| {
            b.iter(|| product(dz.view(), w3.t(), 0.0, dx.view_mut()));
        });
        g.throughput(Throughput::Elements((2 * ROWS * 16 * 512) as u64));
        g.bench_function(format!("live_input_grad_256x16/{name}"), |b| {
            b.iter(|| product(dz_live.view(), w_live.t(), 0.0, dx_live.view_mut()));
        });
        g.throughput(Throughput::Elements((2 * ROWS * 784 * 512) as u64));
        g.bench_function(format!("weight_grad_784x512/{name}"), |b| {
            b.iter(|| {
                let gw = ArrayViewMut2::from_shape(
                    (784, 512).strides((528, 1)),
                    gw.as_slice_mut().unwrap(),
                )
                .unwrap();
                product(x.t(), dz1.view(), 1.0, gw);
            });
        });
    }
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

criterion_group!(
    benches,
    bench_dense,
    bench_products,
    bench_first_layer,
    bench_relu
);
criterion_main!(benches);
