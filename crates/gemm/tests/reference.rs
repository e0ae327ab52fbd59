//! `matmul` against a naive triple loop in f64, over many shapes, memory layouts and
//! (alpha, beta) pairs.
//!
//! Tolerance: each element may differ from the f64 reference by at most
//! `(k + 3)·ε·(|alpha|·Σ_l |a_il·b_lj| + |beta·c_ij|) + 1e-30`, with ε = `f32::EPSILON`.
//! That is the textbook forward-error bound of a sum of k products in single precision
//! (γ_k ≈ k·ε/2) with a factor 2 and three more roundings (alpha, beta, the final add) of
//! slack; it holds for any summation order, so it does not depend on which kernel ran.

use ndarray::{Array2, ArrayBase, ArrayView2, Axis, Ix2, RawData, Slice};
use proptest::prelude::*;
use siamese_gemm::{ShapeError, kernel_name, matmul};

/// How a logical `rows × cols` matrix sits in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Standard row-major, contiguous.
    RowMajor,
    /// Column-major: the transpose (`.t()`) of a row-major `cols × rows` array.
    ColMajor,
    /// A window of a larger row-major array (row stride > cols, offset start).
    Padded,
    /// Every 2nd row and 3rd column of a larger array (no unit stride at all).
    Stepped,
    /// Both axes reversed (negative strides).
    Reversed,
    /// A transposed window with rows reversed: column-major, padded and one negative stride.
    ColMajorReversedPadded,
    /// One row repeated (row stride 0); for inputs only, since a mutable view cannot alias.
    Broadcast,
}

const OUTPUT_LAYOUTS: [Layout; 6] = [
    Layout::RowMajor,
    Layout::ColMajor,
    Layout::Padded,
    Layout::Stepped,
    Layout::Reversed,
    Layout::ColMajorReversedPadded,
];

const INPUT_LAYOUTS: [Layout; 7] = [
    Layout::RowMajor,
    Layout::ColMajor,
    Layout::Padded,
    Layout::Stepped,
    Layout::Reversed,
    Layout::ColMajorReversedPadded,
    Layout::Broadcast,
];

/// A small deterministic generator (xorshift64*), so the tests need no rand crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        bits as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Backing storage for a `rows × cols` matrix in `layout`, filled with random values.
fn backing(layout: Layout, rows: usize, cols: usize, rng: &mut Rng) -> Array2<f32> {
    let shape = match layout {
        Layout::RowMajor | Layout::Reversed => (rows, cols),
        Layout::ColMajor => (cols, rows),
        Layout::Padded => (rows + 1, cols + 5),
        Layout::Stepped => (2 * rows, 3 * cols),
        Layout::ColMajorReversedPadded => (cols + 2, rows + 3),
        Layout::Broadcast => (1, cols),
    };
    Array2::from_shape_simple_fn(shape, || rng.next())
}

/// The `rows × cols` view of `storage` (made by [`backing`]) in `layout`. Broadcast is
/// handled by the caller, as it only exists for read-only views.
fn arrange<S: RawData>(
    mut v: ArrayBase<S, Ix2>,
    layout: Layout,
    rows: usize,
    cols: usize,
) -> ArrayBase<S, Ix2> {
    match layout {
        Layout::RowMajor | Layout::Broadcast => v,
        Layout::ColMajor => v.reversed_axes(),
        Layout::Padded => {
            v.slice_axis_inplace(Axis(0), Slice::from(1..1 + rows));
            v.slice_axis_inplace(Axis(1), Slice::from(2..2 + cols));
            v
        }
        Layout::Stepped => {
            v.slice_axis_inplace(Axis(0), Slice::new(0, None, 2));
            v.slice_axis_inplace(Axis(1), Slice::new(0, None, 3));
            v
        }
        Layout::Reversed => {
            v.invert_axis(Axis(0));
            v.invert_axis(Axis(1));
            v
        }
        Layout::ColMajorReversedPadded => {
            v.slice_axis_inplace(Axis(0), Slice::from(1..1 + cols));
            v.slice_axis_inplace(Axis(1), Slice::from(3..3 + rows));
            let mut t = v.reversed_axes();
            t.invert_axis(Axis(0));
            t
        }
    }
}

fn input_view(
    storage: &Array2<f32>,
    layout: Layout,
    rows: usize,
    cols: usize,
) -> ArrayView2<'_, f32> {
    if layout == Layout::Broadcast {
        // A 1 × cols array broadcasts to any rows × cols.
        storage.broadcast((rows, cols)).expect("broadcast 1 × cols")
    } else {
        arrange(storage.view(), layout, rows, cols)
    }
}

/// `alpha·a·b + beta·c0` in f64, and the error bound of each element (see the file docs).
fn reference(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    c0: &Array2<f32>,
) -> (Array2<f64>, Array2<f64>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let mut want = Array2::<f64>::zeros((m, n));
    let mut bound = Array2::<f64>::zeros((m, n));
    let eps = f64::from(f32::EPSILON);
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut magnitude) = (0.0f64, 0.0f64);
            if alpha != 0.0 {
                for l in 0..k {
                    let p = f64::from(a[[i, l]]) * f64::from(b[[l, j]]);
                    sum += p;
                    magnitude += p.abs();
                }
            }
            let mut value = f64::from(alpha) * sum;
            let mut scale = f64::from(alpha).abs() * magnitude;
            if beta != 0.0 {
                let old = f64::from(beta) * f64::from(c0[[i, j]]);
                value += old;
                scale += old.abs();
            }
            want[[i, j]] = value;
            bound[[i, j]] = (k as f64 + 3.0) * eps * scale + 1e-30;
        }
    }
    (want, bound)
}

/// Runs one case and checks every element; returns a description of the first failure.
#[allow(clippy::too_many_arguments)]
fn check(
    (m, k, n): (usize, usize, usize),
    (la, lb, lc): (Layout, Layout, Layout),
    alpha: f32,
    beta: f32,
    nan_c: bool,
    seed: u64,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let a_store = backing(la, m, k, &mut rng);
    let b_store = backing(lb, k, n, &mut rng);
    let mut c_store = backing(lc, m, n, &mut rng);
    if nan_c {
        c_store.fill(f32::NAN);
    }
    let a = input_view(&a_store, la, m, k);
    let b = input_view(&b_store, lb, k, n);
    let c0 = arrange(c_store.view(), lc, m, n).to_owned();
    // Elements of the backing store outside the view must not change.
    let outside_before = c_store.clone();
    let (want, bound) = reference(alpha, a, b, beta, &c0);
    matmul(alpha, a, b, beta, arrange(c_store.view_mut(), lc, m, n))
        .map_err(|e| format!("unexpected error: {e}"))?;
    let got = arrange(c_store.view(), lc, m, n).to_owned();
    let case = format!(
        "m={m} k={k} n={n} a:{la:?} b:{lb:?} c:{lc:?} alpha={alpha} beta={beta} nan_c={nan_c}"
    );
    for ((i, j), &g) in got.indexed_iter() {
        let (w, tol) = (want[[i, j]], bound[[i, j]]);
        if !g.is_finite() || (f64::from(g) - w).abs() > tol {
            return Err(format!("{case}: c[{i},{j}] = {g}, want {w} ± {tol}"));
        }
    }
    // Mark the view's elements, then every other element of the store must be as before.
    let mut touched = Array2::<bool>::from_elem(c_store.dim(), false);
    arrange(touched.view_mut(), lc, m, n).fill(true);
    for ((idx, &after), (&before, &inside)) in c_store
        .indexed_iter()
        .zip(outside_before.iter().zip(touched.iter()))
    {
        if !inside && after.to_bits() != before.to_bits() {
            return Err(format!("{case}: wrote outside the view at {idx:?}"));
        }
    }
    Ok(())
}

const SCALARS: [(f32, f32); 7] = [
    (1.0, 0.0),
    (1.0, 1.0),
    (-1.0, 0.0),
    (0.5, -2.0),
    (2.0, 1.0),
    (0.0, 0.5),
    (0.0, 0.0),
];

/// Sizes around the kernels' register tiles (16 floats for AVX-512, 8 for AVX2, tiles of a
/// few vectors by up to 6 columns), the small-matrix fast paths (m·n ≤ 256, k ≤ 2, n = 1)
/// and the packing thresholds.
const SIZES: [usize; 12] = [1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 48, 65];

#[test]
fn every_layout_of_a_b_and_c_matches_the_reference() {
    let mut seed = 0;
    for &(m, k, n) in &[
        (17, 33, 9),
        (5, 3, 48),
        (33, 1, 2),
        (64, 16, 65),
        (2, 70, 1),
    ] {
        for la in INPUT_LAYOUTS {
            for lb in INPUT_LAYOUTS {
                for lc in OUTPUT_LAYOUTS {
                    for (alpha, beta) in [(1.0, 0.0), (0.5, -2.0)] {
                        seed += 1;
                        check((m, k, n), (la, lb, lc), alpha, beta, false, seed).unwrap();
                    }
                }
            }
        }
    }
}

#[test]
fn many_shapes_match_the_reference() {
    let mut seed = 1000;
    for &m in &SIZES {
        for &k in &SIZES {
            for &n in &SIZES {
                seed += 1;
                let layouts = [
                    (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor),
                    (Layout::ColMajor, Layout::RowMajor, Layout::Padded),
                    (Layout::RowMajor, Layout::ColMajor, Layout::ColMajor),
                ][seed as usize % 3];
                let (alpha, beta) = SCALARS[seed as usize % SCALARS.len()];
                check((m, k, n), layouts, alpha, beta, false, seed).unwrap();
            }
        }
    }
}

#[test]
fn every_alpha_beta_pair_matches_the_reference() {
    for (i, &(alpha, beta)) in SCALARS.iter().enumerate() {
        for lc in OUTPUT_LAYOUTS {
            check(
                (40, 37, 29),
                (Layout::RowMajor, Layout::ColMajor, lc),
                alpha,
                beta,
                false,
                i as u64,
            )
            .unwrap();
        }
    }
}

/// The products of one training step at their real sizes (256 rows: both towers of 128
/// pairs through 784→512→256→128), in the layouts `siamese-nn` uses: weights in rows padded
/// to a stride of output + 16, the weight gradient as xᵀ·dz accumulated into such rows,
/// the input gradient as dz·Wᵀ.
#[test]
fn training_shapes_match_the_reference() {
    for (i, &(input, output)) in [(784, 512), (512, 256), (256, 128)].iter().enumerate() {
        let seed = 50 + i as u64;
        // forward: y[256 × out] = x[256 × in] · W[in × out] (padded rows)
        check(
            (256, input, output),
            (Layout::RowMajor, Layout::Padded, Layout::RowMajor),
            1.0,
            0.0,
            true,
            seed,
        )
        .unwrap();
        // weight gradient: gW[in × out] (padded rows) += xᵀ · dz
        check(
            (input, 256, output),
            (Layout::ColMajor, Layout::RowMajor, Layout::Padded),
            1.0,
            1.0,
            false,
            seed,
        )
        .unwrap();
        // input gradient: dx[256 × in] = dz · Wᵀ
        check(
            (256, output, input),
            (Layout::RowMajor, Layout::ColMajor, Layout::RowMajor),
            1.0,
            0.0,
            true,
            seed,
        )
        .unwrap();
    }
}

#[test]
fn beta_zero_never_reads_nan_in_c() {
    let mut seed = 2000;
    for &(m, k, n) in &[
        (1, 1, 1),
        (16, 2, 16),
        (3, 1, 7),
        (64, 1, 1),
        (9, 40, 1),
        (1, 40, 9),
        (100, 100, 100),
    ] {
        for lc in OUTPUT_LAYOUTS {
            for lb in [Layout::RowMajor, Layout::ColMajor] {
                seed += 1;
                check((m, k, n), (Layout::RowMajor, lb, lc), 1.0, 0.0, true, seed).unwrap();
                check(
                    (m, k, n),
                    (Layout::ColMajor, lb, lc),
                    -0.25,
                    0.0,
                    true,
                    seed,
                )
                .unwrap();
            }
        }
    }
}

#[test]
fn k_zero_scales_c_by_beta() {
    for (alpha, beta) in SCALARS {
        for lc in OUTPUT_LAYOUTS {
            check(
                (7, 0, 5),
                (Layout::RowMajor, Layout::RowMajor, lc),
                alpha,
                beta,
                false,
                3,
            )
            .unwrap();
        }
    }
    // beta = 0 with k = 0 clears NaN.
    check(
        (7, 0, 5),
        (Layout::RowMajor, Layout::RowMajor, Layout::Stepped),
        1.0,
        0.0,
        true,
        4,
    )
    .unwrap();
}

#[test]
fn alpha_zero_does_not_read_a_or_b() {
    let a = Array2::from_elem((3, 4), f32::NAN);
    let b = Array2::from_elem((4, 2), f32::INFINITY);
    let mut c = Array2::from_elem((3, 2), 2.0f32);
    matmul(0.0, a.view(), b.view(), 1.5, c.view_mut()).unwrap();
    assert!(c.iter().all(|&v| v == 3.0));
}

#[test]
fn empty_products_are_no_ops() {
    for &(m, k, n) in &[(0, 0, 0), (0, 5, 3), (4, 5, 0), (0, 0, 3), (4, 0, 0)] {
        let a = Array2::<f32>::ones((m, k));
        let b = Array2::<f32>::ones((k, n));
        let mut c = Array2::<f32>::ones((m, n));
        matmul(1.0, a.view(), b.view(), 0.0, c.view_mut()).unwrap();
        assert_eq!(c.dim(), (m, n));
    }
}

#[test]
fn mismatched_shapes_are_errors_and_leave_c_alone() {
    let a = Array2::<f32>::ones((3, 4));
    let b = Array2::<f32>::ones((5, 2));
    let mut c = Array2::<f32>::from_elem((3, 2), 7.0);
    let err = matmul(1.0, a.view(), b.view(), 0.0, c.view_mut()).unwrap_err();
    assert_eq!(
        err,
        ShapeError {
            a: (3, 4),
            b: (5, 2),
            c: (3, 2)
        }
    );
    assert!(err.to_string().contains("a 3×4, b 5×2 and c 3×2"), "{err}");
    let b = Array2::<f32>::ones((4, 2));
    for shape in [(2, 2), (3, 3), (4, 1), (0, 0)] {
        let mut c = Array2::<f32>::from_elem(shape, 7.0);
        let err = matmul(1.0, a.view(), b.view(), 1.0, c.view_mut()).unwrap_err();
        assert_eq!(err.c, shape);
        assert!(c.iter().all(|&v| v == 7.0));
    }
    // Empty but mismatched is still an error.
    let e = Array2::<f32>::zeros((0, 4));
    let mut c = Array2::<f32>::zeros((1, 2));
    assert!(matmul(1.0, e.view(), b.view(), 0.0, c.view_mut()).is_err());
    assert!(c.iter().all(|&v| v == 0.0));
}

/// Same inputs, same bits: the trainer's thread-count independence rests on this.
#[test]
fn repeated_products_are_bit_identical() {
    let mut rng = Rng::new(9);
    let a = backing(Layout::RowMajor, 256, 512, &mut rng);
    let b = backing(Layout::RowMajor, 512, 256, &mut rng);
    let mut first = Array2::<f32>::zeros((256, 256));
    matmul(1.0, a.view(), b.view(), 0.0, first.view_mut()).unwrap();
    let again = std::thread::spawn(move || {
        let mut c = Array2::<f32>::zeros((256, 256));
        matmul(1.0, a.view(), b.view(), 0.0, c.view_mut()).unwrap();
        c
    })
    .join()
    .unwrap();
    assert!(
        first
            .iter()
            .zip(&again)
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
}

#[test]
fn kernel_name_is_one_of_the_documented_ones() {
    assert!(["avx512f", "avx2+fma", "neon", "scalar"].contains(&kernel_name()));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        assert_eq!(kernel_name(), "avx512f");
    }
}

fn layout(options: &'static [Layout]) -> impl Strategy<Value = Layout> {
    (0..options.len()).prop_map(move |i| options[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_products_match_the_reference(
        m in 0usize..40,
        k in 0usize..40,
        n in 0usize..40,
        la in layout(&INPUT_LAYOUTS),
        lb in layout(&INPUT_LAYOUTS),
        lc in layout(&OUTPUT_LAYOUTS),
        scalars in 0..SCALARS.len(),
        nan_c in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (alpha, beta) = SCALARS[scalars];
        // NaN in c is only defined to vanish when c is not read.
        let nan_c = nan_c && beta == 0.0;
        if let Err(e) = check((m, k, n), (la, lb, lc), alpha, beta, nan_c, seed) {
            prop_assert!(false, "{}", e);
        }
    }
}
