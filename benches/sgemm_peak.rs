//! Measures the single-precision matrix-multiply throughput of this machine at the eight
//! matrix shapes of a training step (784→512→256→128 tower, 256 rows = both towers of 128
//! pairs), one independent product per thread as the trainer's shards run them, with two
//! kernels: matrixmultiply (ndarray's `general_mat_mul`, AVX2/FMA at most) and the `gemm`
//! crate through `siamese_gemm::matmul` (the trainer's kernel: AVX-512 where the CPU has
//! it, picked at run time).
//!
//! Prints one JSON object: the CPU (model name and family from `/proc/cpuinfo`, the vector
//! extensions detected at run time), each kernel's figures, and as `peak_gflops` / `kernel`
//! the faster of the two, which is this machine's sgemm peak at these shapes.
//!
//! Usage: `sgemm-peak [THREADS] [SECONDS_PER_SHAPE]` (defaults 2 and 1).

use std::time::{Duration, Instant};

use ndarray::Array2;
use ndarray::linalg::general_mat_mul;
use serde_json::{Value, json};
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

fn gemm_crate(a: &Array2<f32>, b: &Array2<f32>, c: &mut Array2<f32>) {
    siamese_gemm::matmul(1.0, a.view(), b.view(), 0.0, c.view_mut()).expect("shapes fit"); // ok: run_shape makes A m×k, B k×n, C m×n
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut numbers = args.iter().filter(|a| !a.starts_with("--"));
    let threads: usize = numbers
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2)
        .max(1);
    let seconds: f64 = numbers.next().and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    let kernels: [(String, Kernel); 2] = [
        (
            "matrixmultiply (ndarray general_mat_mul)".to_owned(),
            matrixmultiply,
        ),
        (
            format!(
                "gemm 0.19 {} (siamese_gemm::matmul)",
                siamese_gemm::kernel_name()
            ),
            gemm_crate,
        ),
    ];
    let mut results = Vec::new();
    let (mut best_name, mut best) = (String::new(), f64::NEG_INFINITY);
    for (name, kernel) in kernels {
        let (peak, shapes) = measure(kernel, threads, budget);
        if peak > best {
            (best_name, best) = (name.clone(), peak);
        }
        results.push(json!({ "name": name, "peak_gflops": round2(peak), "shapes": shapes }));
    }
    let report = json!({
        "threads": threads,
        "seconds_per_shape": seconds,
        "cpu": cpu(),
        "kernel": best_name,
        "peak_gflops": round2(best),
        "kernels": results,
    });
    println!("{report}");
}

/// What the figures depend on: the CPU's name and family (Zen 4 is family 25 and runs
/// AVX-512 on a 256-bit datapath; Zen 5, family 26, at full width) and its vector
/// extensions as the program detects them, which decide the kernels used.
fn cpu() -> Value {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_owned())
    };
    json!({
        "model_name": field("model name"),
        "family": field("cpu family").and_then(|f| f.parse::<u32>().ok()),
        "vector_extensions": vector_extensions(),
    })
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn vector_extensions() -> Vec<&'static str> {
    use std::arch::is_x86_feature_detected as has;
    [
        ("avx", has!("avx")),
        ("avx2", has!("avx2")),
        ("fma", has!("fma")),
        ("avx512f", has!("avx512f")),
        ("avx512vl", has!("avx512vl")),
        ("avx512bw", has!("avx512bw")),
        ("avx512dq", has!("avx512dq")),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect()
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn vector_extensions() -> Vec<&'static str> {
    Vec::new()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// GFLOP/s of `kernel` over the eight shapes, each weighted once as in a training step,
/// and the per-shape figures.
fn measure(kernel: Kernel, threads: usize, budget: Duration) -> (f64, Vec<Value>) {
    let mut rows = Vec::new();
    let (mut total_flops, mut total_seconds) = (0.0f64, 0.0f64);
    for (name, m, k, n) in SHAPES {
        let flops_per_product = 2.0 * (m * k * n) as f64;
        let (products, elapsed) = run_shape(kernel, m, k, n, threads, budget);
        let gflops = products as f64 * flops_per_product / elapsed / 1e9;
        rows.push(json!({ "shape": name, "m": m, "k": k, "n": n, "gflops": round2(gflops) }));
        total_flops += flops_per_product;
        total_seconds += flops_per_product / (gflops * 1e9);
    }
    (total_flops / total_seconds / 1e9, rows)
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
