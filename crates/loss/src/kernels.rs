//! Small numeric kernels shared by the pair-wise and the in-batch losses.

/// Sum of squared differences, with independent partial sums so that LLVM can
/// keep them in SIMD lanes (a single f32 accumulator forbids reordering).
#[inline]
pub(crate) fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut acc = [0.0f32; LANES];
    let a_chunks = a.chunks_exact(LANES);
    let b_chunks = b.chunks_exact(LANES);
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for k in 0..LANES {
            let t = ca[k] - cb[k];
            acc[k] += t * t;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Distance from a squared distance, clamped as in the Keras example, and the
/// factor `1/d` of its gradient: zero where the clamp is active, because
/// there the clamped function is constant.
#[inline]
pub(crate) fn clamped_sqrt(sum_sq: f32, eps: f32) -> (f32, f32) {
    if sum_sq < eps {
        (eps.sqrt(), 0.0)
    } else {
        let d = sum_sq.sqrt();
        (d, 1.0 / d)
    }
}
