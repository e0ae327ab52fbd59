//! Measures the single-precision matrix-multiply throughput of this machine at the eight
//! matrix shapes of a training step (784→512→256→128 tower, 256 rows = both towers of 128
//! pairs), with the kernel the trainer uses (ndarray's `general_mat_mul`, i.e.
//! matrixmultiply), one independent product per thread as the trainer's shards run them.
//! Prints one JSON object; `peak_gflops` is the trainer's kernel.
//!
//! Usage: `sgemm-peak [THREADS] [SECONDS_PER_SHAPE] [--compare]` (defaults 2 and 1);
//! `--compare` also measures the `gemm` crate (single-threaded per product, as a shard
//! would call it), to check the choice of kernel.

use std::time::{Duration, Instant};

use ndarray::Array2;
use ndarray::linalg::general_mat_mul;
use siamese_benches::random_matrix;

/// (m, k, n) of C[m×n] = A[m×k]·B[k×n] for the forward, weight-gradient and input-gradient
/// products of the three layers (the first layer needs no input gradient).
const SHAPES: [(&str, usize, usize, usize); 8] = [
    ("forward 784x512", 256, 784, 512),
    ("forward 512x256", 256, 512, 256),
    ("forward 256x128", 256, 256, 128),
    ("weight grad 784x512", 784, 256, 512),
    ("weight grad 512x256", 512, 256, 256),
    ("weight grad 256x128", 256, 256, 128),
    ("input grad 512x256", 256, 256, 512),
    ("input grad 256x128", 256, 128, 256),
];

/// A single-threaded product C = A·B of row-major matrices.
type Kernel = fn(&Array2<f32>, &Array2<f32>, &mut Array2<f32>);

fn matrixmultiply(a: &Array2<f32>, b: &Array2<f32>, c: &mut Array2<f32>) {
    general_mat_mul(1.0, a, b, 0.0, c);
}

#[allow(unsafe_code)] // the gemm crate has only a raw-pointer API
fn gemm_crate(a: &Array2<f32>, b: &Array2<f32>, c: &mut Array2<f32>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let (a, b) = (a.as_ptr(), b.as_ptr());
    // SAFETY: all three arrays are fresh, contiguous and row-major with the dimensions given
    // (A m×k, B k×n, C m×n), C does not alias A or B, and the strides are in elements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a,
            1,
            k as isize,
            b,
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let compare = args.iter().any(|a| a == "--compare");
    let mut numbers = args.iter().filter(|a| !a.starts_with("--"));
    let threads: usize = numbers
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2)
        .max(1);
    let seconds: f64 = numbers.next().and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    let (peak, rows) = measure(matrixmultiply, threads, budget);
    let mut extra = String::new();
    if compare {
        let (gemm_peak, gemm_rows) = measure(gemm_crate, threads, budget);
        extra = format!(
            ", \"gemm_crate\": {{\"peak_gflops\": {gemm_peak:.2}, \"shapes\": [{gemm_rows}]}}"
        );
    }
    println!(
        "{{\"threads\": {threads}, \"kernel\": \"matrixmultiply (ndarray general_mat_mul)\", \
         \"peak_gflops\": {peak:.2}, \"shapes\": [{rows}]{extra}}}"
    );
}

/// GFLOP/s of `kernel` over the eight shapes, each weighted once as in a training step,
/// and the per-shape figures as JSON objects.
fn measure(kernel: Kernel, threads: usize, budget: Duration) -> (f64, String) {
    let mut rows = Vec::new();
    let (mut total_flops, mut total_seconds) = (0.0f64, 0.0f64);
    for (name, m, k, n) in SHAPES {
        let flops_per_product = 2.0 * (m * k * n) as f64;
        let (products, elapsed) = run_shape(kernel, m, k, n, threads, budget);
        let gflops = products as f64 * flops_per_product / elapsed / 1e9;
        rows.push(format!(
            "{{\"shape\": \"{name}\", \"m\": {m}, \"k\": {k}, \"n\": {n}, \"gflops\": {gflops:.2}}}"
        ));
        total_flops += flops_per_product;
        total_seconds += flops_per_product / (gflops * 1e9);
    }
    (total_flops / total_seconds / 1e9, rows.join(", "))
}

/// Runs independent products of one shape on `threads` threads for about `budget`;
/// returns the products done in all and the wall time.
fn run_shape(
    kernel: Kernel,
    m: usize,
    k: usize,
    n: usize,
    threads: usize,
    budget: Duration,
) -> (usize, f64) {
    let start = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let a = random_matrix(m, k, 1 + t as u64);
                    let b = random_matrix(k, n, 100 + t as u64);
                    let mut c = Array2::<f32>::zeros((m, n));
                    // Warm-up: page in the buffers and the kernel's packing space.
                    kernel(&a, &b, &mut c);
                    let mut count = 0;
                    let begin = Instant::now();
                    while begin.elapsed() < budget {
                        kernel(&a, &b, &mut c);
                        count += 1;
                    }
                    std::hint::black_box(&c);
                    count
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    (done, start.elapsed().as_secs_f64())
}
