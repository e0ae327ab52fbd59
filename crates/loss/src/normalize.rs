//! L2 normalization of rows, forward and backward, to put between the tower
//! and the similarity losses.

use crate::error::{LossError, check_len, rows_len};

/// Lower clamp on a row's norm in [`l2_normalize`], as the default `eps` of
/// PyTorch's `torch.nn.functional.normalize`.
pub const NORM_EPS: f32 = 1e-12;

/// Scales every row of `input` (row-major `n × dim`, `n = norms.len()`) to unit
/// L2 norm:
///
/// `norms[i] = max(|x_i|, NORM_EPS)`, `out_i = x_i / norms[i]`
///
/// The clamp keeps an all-zero row at zero instead of NaN (as PyTorch's
/// `normalize`). Norms are accumulated in f64, so no finite row overflows;
/// `norms` is what [`l2_normalize_backward`] needs.
///
/// # Errors
/// [`LossError::ZeroDim`], or [`LossError::ShapeMismatch`] when `input` or
/// `out` is not `n × dim`. Nothing is written on error.
pub fn l2_normalize(
    input: &[f32],
    dim: usize,
    out: &mut [f32],
    norms: &mut [f32],
) -> Result<(), LossError> {
    if dim == 0 {
        return Err(LossError::ZeroDim);
    }
    let n = norms.len();
    rows_len("input (n × dim)", n, dim, input.len())?;
    rows_len("out (n × dim)", n, dim, out.len())?;
    for ((x, y), norm) in input
        .chunks_exact(dim)
        .zip(out.chunks_exact_mut(dim))
        .zip(norms.iter_mut())
    {
        let sq: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let r = sq.sqrt().max(f64::from(NORM_EPS));
        *norm = r as f32;
        for (yk, &xk) in y.iter_mut().zip(x) {
            *yk = (f64::from(xk) / r) as f32;
        }
    }
    Ok(())
}

/// Backward pass of [`l2_normalize`]: from its outputs `out` (`y`), its
/// `norms` (`r`) and `grad_out = ∂L/∂y`, writes (overwriting)
///
/// `grad_in_i = (g_i − y_i·(y_i · g_i)) / r_i`,
///
/// the Jacobian of `x/|x|` (the projection of `g` orthogonal to `y`, scaled
/// by `1/r`). Where the clamp was active (`r_i = NORM_EPS`), `y = x/NORM_EPS`
/// is linear in `x`, so the gradient there is `g_i / NORM_EPS`.
///
/// # Errors
/// [`LossError::ZeroDim`], or [`LossError::ShapeMismatch`] when `out`,
/// `grad_out` or `grad_in` is not `n × dim` with `n = norms.len()`. Nothing
/// is written on error.
pub fn l2_normalize_backward(
    out: &[f32],
    norms: &[f32],
    grad_out: &[f32],
    dim: usize,
    grad_in: &mut [f32],
) -> Result<(), LossError> {
    if dim == 0 {
        return Err(LossError::ZeroDim);
    }
    let n = norms.len();
    rows_len("out (n × dim)", n, dim, out.len())?;
    rows_len("grad_out (n × dim)", n, dim, grad_out.len())?;
    check_len("grad_in (n × dim)", out.len(), grad_in.len())?;
    for (((y, g), gi), &r) in out
        .chunks_exact(dim)
        .zip(grad_out.chunks_exact(dim))
        .zip(grad_in.chunks_exact_mut(dim))
        .zip(norms)
    {
        let proj: f64 = if r <= NORM_EPS {
            0.0
        } else {
            y.iter()
                .zip(g)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum()
        };
        let inv_r = 1.0 / f64::from(r);
        for ((gik, &yk), &gk) in gi.iter_mut().zip(y).zip(g) {
            *gik = ((f64::from(gk) - f64::from(yk) * proj) * inv_r) as f32;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{FD_TOL, Tol, values};

    #[test]
    fn known_answer() {
        let x = [3.0f32, 4.0, 0.0, 0.0];
        let (mut y, mut r) = ([f32::NAN; 4], [f32::NAN; 2]);
        l2_normalize(&x, 2, &mut y, &mut r).unwrap();
        assert_eq!(y, [0.6, 0.8, 0.0, 0.0]);
        assert_eq!(r, [5.0, NORM_EPS]);
        // y = (0.6, 0.8), g = (1, 0): y·g = 0.6, (g − 0.6·y)/5 = (0.64, −0.48)/5.
        // The zero row: g/NORM_EPS.
        let g = [1.0f32, 0.0, 1e-12, -2e-12];
        let mut gi = [f32::NAN; 4];
        l2_normalize_backward(&y, &r, &g, 2, &mut gi).unwrap();
        let expected = [0.128, -0.096, 1.0, -2.0];
        for (a, e) in gi.iter().zip(expected) {
            assert!((a - e).abs() < 1e-6, "{gi:?}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // L = Σ w·y for fixed random weights w; central differences with
        // the tolerance of the losses' checks (FD_TOL: h = 1e-3,
        // |numeric − analytic| ≤ 1e-4 + 5e-4·|analytic|).
        let (n, dim) = (6, 5);
        let x = values(21, n * dim);
        let w = values(22, n * dim);
        let objective = |x: &[f32]| -> f64 {
            let (mut y, mut r) = (vec![0.0; n * dim], vec![0.0; n]);
            l2_normalize(x, dim, &mut y, &mut r).unwrap();
            y.iter()
                .zip(&w)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum()
        };
        let (mut y, mut r, mut gi) = (vec![0.0; n * dim], vec![0.0; n], vec![0.0; n * dim]);
        l2_normalize(&x, dim, &mut y, &mut r).unwrap();
        l2_normalize_backward(&y, &r, &w, dim, &mut gi).unwrap();
        let Tol { h, atol, rtol } = FD_TOL;
        for k in 0..x.len() {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[k] += h;
            xm[k] -= h;
            let num = (objective(&xp) - objective(&xm)) / (f64::from(xp[k]) - f64::from(xm[k]));
            let ana = f64::from(gi[k]);
            assert!(
                (num - ana).abs() <= atol + rtol * ana.abs(),
                "d/dx[{k}]: numeric {num} vs analytic {ana}"
            );
        }
    }

    #[test]
    fn outputs_have_unit_norm_and_gradient_is_orthogonal_to_them() {
        let (n, dim) = (5, 7);
        let x: Vec<f32> = values(23, n * dim).iter().map(|v| v * 1e3).collect();
        let g = values(24, n * dim);
        let (mut y, mut r, mut gi) = (vec![0.0; n * dim], vec![0.0; n], vec![0.0; n * dim]);
        l2_normalize(&x, dim, &mut y, &mut r).unwrap();
        l2_normalize_backward(&y, &r, &g, dim, &mut gi).unwrap();
        for ((yr, gr), xr) in y.chunks(dim).zip(gi.chunks(dim)).zip(x.chunks(dim)) {
            let norm: f32 = yr.iter().map(|v| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-6);
            // Scaling x does not change y, so the gradient has no component along x.
            // Terms are of order 1 (gradient ~1/|x| = 1e-3 times x ~ 1e3), each
            // off by f32 rounding, ~1e-7.
            let along: f64 = gr
                .iter()
                .zip(xr)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            assert!(along.abs() < 1e-5, "{along}");
        }
    }

    #[test]
    fn extreme_rows_stay_finite() {
        let x = [f32::MAX, f32::MAX, 1e-30, -1e-30];
        let (mut y, mut r) = ([0.0; 4], [0.0; 2]);
        l2_normalize(&x, 2, &mut y, &mut r).unwrap();
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
        assert!((y[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        // Norm √2·f32::MAX does not fit in f32: stored as +∞, gradient 0.
        let mut gi = [f32::NAN; 4];
        l2_normalize_backward(&y, &r, &[1.0; 4], 2, &mut gi).unwrap();
        assert!(gi.iter().all(|v| v.is_finite()), "{gi:?}");
    }

    #[test]
    fn shape_errors() {
        let (mut y, mut r) = ([0.0; 4], [0.0; 2]);
        assert_eq!(
            l2_normalize(&[0.0; 3], 2, &mut y, &mut r),
            Err(LossError::ShapeMismatch {
                what: "input (n × dim)",
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            l2_normalize(&[0.0; 4], 2, &mut y[..2], &mut r),
            Err(LossError::ShapeMismatch {
                what: "out (n × dim)",
                expected: 4,
                found: 2
            })
        );
        assert_eq!(
            l2_normalize(&[], 0, &mut [], &mut []),
            Err(LossError::ZeroDim)
        );
        let mut gi = [0.0; 3];
        assert!(matches!(
            l2_normalize_backward(&[0.0; 4], &[1.0; 2], &[0.0; 4], 2, &mut gi),
            Err(LossError::ShapeMismatch {
                what: "grad_in (n × dim)",
                ..
            })
        ));
        assert!(l2_normalize_backward(&[0.0; 4], &[1.0; 2], &[0.0; 5], 2, &mut [0.0; 4]).is_err());
        assert!(l2_normalize_backward(&[0.0; 4], &[1.0; 2], &[0.0; 4], 0, &mut [0.0; 4]).is_err());
    }
}
