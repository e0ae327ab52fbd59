//! One safe single-precision matrix product, `c = alpha·a·b + beta·c`, on ndarray views of
//! any layout, computed by the [`gemm`](https://docs.rs/gemm/0.19) crate.
//!
//! Why a crate of its own: `gemm` picks its kernel when the program runs (AVX-512 where the
//! CPU has it, else AVX2/FMA, else scalar), so one portable binary uses the whole vector
//! width, where ndarray's `general_mat_mul` (matrixmultiply) stops at AVX2. But `gemm` has
//! only a raw-pointer API. This crate is the one place in the workspace that calls it: the
//! shape checks, the empty and `k = 0` cases and the mapping from ndarray's strides to
//! `gemm`'s live here, next to the reasoning that makes the `unsafe` call sound, and every
//! other crate keeps `unsafe_code = "forbid"`.
//!
//! [`matmul`] has the semantics of ndarray's `general_mat_mul` and BLAS's `sgemm`: `a` is
//! `m × k`, `b` is `k × n`, `c` is `m × n`; transposed views (`x.t()`), sub-views and
//! negative or zero strides in `a` and `b` are all accepted as they are, without copies.
//! With `beta == 0` the old contents of `c` are never read (so they may be NaN), and with
//! `alpha == 0` (or `k == 0`) `a` and `b` are not read. A shape mismatch is a
//! [`ShapeError`], not a panic.
//!
//! The product always runs on the calling thread (`gemm::Parallelism::None`): the trainer
//! parallelizes over fixed shards of a batch, so nesting threads inside a product would
//! oversubscribe the cores and make results depend on the thread count.
//!
//! ```
//! use ndarray::{Array2, array};
//!
//! let a = array![[1.0f32, 2.0], [3.0, 4.0]];
//! let b = array![[5.0f32], [6.0]];
//! // beta = 0: whatever `c` held is ignored, even NaN.
//! let mut c = Array2::from_elem((2, 1), f32::NAN);
//! siamese_gemm::matmul(1.0, a.view(), b.view(), 0.0, c.view_mut())?;
//! assert_eq!(c, array![[17.0], [39.0]]);
//!
//! // c = 2·aᵀ·b + c, with the transpose as a view.
//! siamese_gemm::matmul(2.0, a.t(), b.view(), 1.0, c.view_mut())?;
//! assert_eq!(c, array![[17.0 + 2.0 * 23.0], [39.0 + 2.0 * 34.0]]);
//!
//! // Shapes that do not fit are an error.
//! let err = siamese_gemm::matmul(1.0, a.view(), a.view(), 0.0, c.view_mut()).unwrap_err();
//! assert_eq!(err.c, (2, 1));
//! # Ok::<(), siamese_gemm::ShapeError>(())
//! ```

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

/// The shapes of a product whose dimensions do not fit: `a` must be `m × k`, `b` `k × n` and
/// `c` `m × n`. Each field is `(rows, columns)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "matrix product c = a·b with a {}×{}, b {}×{} and c {}×{}: a must be m×k, b k×n and c m×n",
    a.0, a.1, b.0, b.1, c.0, c.1
)]
pub struct ShapeError {
    /// The shape of `a`.
    pub a: (usize, usize),
    /// The shape of `b`.
    pub b: (usize, usize),
    /// The shape of `c`.
    pub c: (usize, usize),
}

/// `c ← alpha·a·b + beta·c` in single precision, on the calling thread.
///
/// `a` is `m × k`, `b` is `k × n` and `c` is `m × n`, each in any memory layout (row- or
/// column-major, transposed, strided, reversed; `a` and `b` may also be broadcast). As in
/// BLAS, `c` is not read when `beta == 0` and `a` and `b` are not read when `alpha == 0`
/// or `k == 0` (then `c ← beta·c`). Nothing is allocated beyond `gemm`'s per-thread packing
/// buffers, which are reused from call to call.
///
/// Results equal the exact product up to ordinary single-precision rounding; the order of
/// the additions (and so the last bits) is the kernel's and may differ between CPUs, but a
/// given CPU gives the same bits for the same inputs every time.
///
/// # Errors
///
/// [`ShapeError`] when the inner dimensions differ or `c` is not `m × n`; `c` is then left
/// unchanged.
#[allow(unsafe_code)] // the one call into gemm's raw-pointer API; see the SAFETY comment
pub fn matmul(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    mut c: ArrayViewMut2<'_, f32>,
) -> Result<(), ShapeError> {
    let (m, k) = a.dim();
    let (k_b, n) = b.dim();
    if k_b != k || c.dim() != (m, n) {
        return Err(ShapeError {
            a: a.dim(),
            b: b.dim(),
            c: c.dim(),
        });
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 || alpha == 0.0 {
        // The product term is zero (or, for alpha = 0, defined as not computed, so that NaN
        // or infinity in `a` or `b` cannot leak into `c`, as in BLAS).
        scale(beta, c);
        return Ok(());
    }
    let (a_rs, a_cs) = (a.stride_of(Axis(0)), a.stride_of(Axis(1)));
    let (b_rs, b_cs) = (b.stride_of(Axis(0)), b.stride_of(Axis(1)));
    let (c_rs, c_cs) = (c.stride_of(Axis(0)), c.stride_of(Axis(1)));
    let c_ptr = c.as_mut_ptr();
    // SAFETY: `gemm::gemm` dereferences lhs + i·lhs_rs + l·lhs_cs for i < m, l < k,
    // rhs + l·rhs_rs + j·rhs_cs for l < k, j < n and dst + i·dst_rs + j·dst_cs for i < m,
    // j < n, and writes only the last. Those are exactly the elements of the views `a`,
    // `b` and `c`: the dimensions were checked above to be (m, k), (k, n) and (m, n), the
    // strides are ndarray's, in elements as `gemm` counts them, and `as_ptr` /
    // `as_mut_ptr` point at each view's element [0, 0]. Every ndarray view guarantees that
    // all such offsets stay inside the memory it borrows, for any sign of stride.
    // - `c` is borrowed mutably for this call and `a`, `b` shared, so the borrow checker
    //   rules out `c` overlapping `a` or `b`; and ndarray builds no mutable view whose
    //   distinct indices share an element, so no write clobbers another element of `c`.
    // - `read_dst` is false when `beta == 0`, so the old contents of `c` are then not read
    //   (they are initialized `f32`s anyway, being behind a view).
    // - `Parallelism::None`: the product runs on this thread only, inside the borrows, so
    //   nothing outlives the views and no raw pointer crosses threads.
    // - `f32` is one of the element types `gemm` supports (it panics on others).
    // - `gemm` names the scalars the other way round from BLAS: it computes
    //   dst = alpha·dst + beta·lhs·rhs, so our `beta` is its `alpha` and our `alpha` its
    //   `beta`; the conjugation flags mean nothing for real numbers and stay false.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c_ptr,
            c_cs,
            c_rs,
            beta != 0.0,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

/// `c ← beta·c`, with `beta == 0` writing zeros without reading `c`.
fn scale(beta: f32, mut c: ArrayViewMut2<'_, f32>) {
    if beta == 0.0 {
        c.fill(0.0);
    } else if beta != 1.0 {
        c.mapv_inplace(|v| v * beta);
    }
}

/// The name of the kernel family [`matmul`] runs on this CPU: `"avx512f"` (16 floats per
/// vector), `"avx2+fma"` (8), `"neon"` or `"scalar"`.
///
/// `gemm` does not report its choice, so this repeats its rule (gemm 0.19 with its
/// `x86-v4` feature, which this crate enables): AVX-512F if the CPU has it, else FMA (with
/// AVX2), else scalar code; NEON on aarch64.
pub fn kernel_name() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            "avx512f"
        } else if std::arch::is_x86_feature_detected!("fma") {
            "avx2+fma"
        } else {
            "scalar"
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            "neon"
        } else {
            "scalar"
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}
