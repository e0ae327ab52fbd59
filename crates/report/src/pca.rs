//! Principal component analysis of embeddings, for the 2-D embedding map.
//!
//! The covariance of 128-dimensional embeddings is a small symmetric matrix, so its full
//! eigendecomposition by the cyclic Jacobi method is cheap (a few million operations) and,
//! unlike power iteration, needs no care when two eigenvalues are close.

use ndarray::{Array2, ArrayView2};

use crate::{ReportError, Result};

/// The top principal components of a set of row vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// The mean row, subtracted before projecting.
    pub mean: Vec<f64>,
    /// Unit-length principal directions, largest variance first; each one's entry of largest
    /// magnitude is positive, so the result does not depend on the solver's sign choices.
    pub components: Vec<Vec<f64>>,
    /// Variance along each component (the covariance's eigenvalues, divided by `n`).
    pub variances: Vec<f64>,
    /// Total variance (trace of the covariance), for explained-variance shares.
    pub total_variance: f64,
}

impl Pca {
    /// Fits the top `k` components of the rows of `data` (one sample per row).
    ///
    /// # Errors
    /// [`ReportError::Unsuitable`] when there are no rows, or `k` is zero or exceeds the
    /// number of columns.
    ///
    /// ```
    /// use ndarray::array;
    /// let data = array![[-2.0f32, -2.0], [2.0, 2.0], [-1.0, 1.0], [1.0, -1.0]];
    /// let pca = siamese_report::Pca::fit(data.view(), 1)?;
    /// assert!((pca.variances[0] - 4.0).abs() < 1e-9);
    /// # Ok::<(), siamese_report::ReportError>(())
    /// ```
    pub fn fit(data: ArrayView2<'_, f32>, k: usize) -> Result<Self> {
        let (n, d) = data.dim();
        if n == 0 || k == 0 || k > d {
            return Err(ReportError::Unsuitable {
                what: format!("PCA of {k} components asked of {n} rows of {d} values"),
            });
        }
        let mut mean = vec![0.0f64; d];
        for row in data.rows() {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += f64::from(x);
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        // Upper triangle of the covariance, accumulated in f64 so 10,000 rows lose nothing.
        let mut cov = vec![0.0f64; d * d];
        let mut centered = vec![0.0f64; d];
        for row in data.rows() {
            for ((c, &x), m) in centered.iter_mut().zip(row).zip(&mean) {
                *c = f64::from(x) - m;
            }
            for i in 0..d {
                let ci = centered[i];
                for j in i..d {
                    cov[i * d + j] += ci * centered[j];
                }
            }
        }
        for i in 0..d {
            for j in i..d {
                let v = cov[i * d + j] / n as f64;
                cov[i * d + j] = v;
                cov[j * d + i] = v;
            }
        }
        let total_variance = (0..d).map(|i| cov[i * d + i]).sum();
        let (values, vectors) = jacobi_eigen(cov, d);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let mut components = Vec::with_capacity(k);
        let mut variances = Vec::with_capacity(k);
        for &col in order.iter().take(k) {
            let mut v: Vec<f64> = (0..d).map(|row| vectors[row * d + col]).collect();
            let largest = v
                .iter()
                .copied()
                .max_by(|a, b| a.abs().total_cmp(&b.abs()))
                .unwrap_or(0.0);
            if largest < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            components.push(v);
            // Rounding can leave a tiny negative eigenvalue for a flat direction.
            variances.push(values[col].max(0.0));
        }
        Ok(Self {
            mean,
            components,
            variances,
            total_variance,
        })
    }

    /// Share of the total variance along each component (0 when the data has none).
    pub fn explained(&self) -> Vec<f64> {
        self.variances
            .iter()
            .map(|v| {
                if self.total_variance > 0.0 {
                    v / self.total_variance
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Coordinates of every row of `data` along the components: `n × k`.
    ///
    /// # Errors
    /// [`ReportError::Unsuitable`] when the rows are not as long as the fitted mean.
    pub fn project(&self, data: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let (n, d) = data.dim();
        if d != self.mean.len() {
            return Err(ReportError::Unsuitable {
                what: format!(
                    "PCA fitted on {} values per row cannot project rows of {d}",
                    self.mean.len()
                ),
            });
        }
        let k = self.components.len();
        let mut out = Array2::<f32>::zeros((n, k));
        for (row, mut dst) in data.rows().into_iter().zip(out.rows_mut()) {
            for (c, component) in self.components.iter().enumerate() {
                let dot: f64 = row
                    .iter()
                    .zip(&self.mean)
                    .zip(component)
                    .map(|((&x, m), w)| (f64::from(x) - m) * w)
                    .sum();
                dst[c] = dot as f32;
            }
        }
        Ok(out)
    }
}

/// Eigenvalues and eigenvectors (columns of the returned row-major `d × d` matrix) of the
/// symmetric row-major matrix `a`, by cyclic Jacobi rotations.
fn jacobi_eigen(mut a: Vec<f64>, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    // Jacobi converges quadratically; 100 sweeps is far beyond what a 128 × 128 matrix needs.
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-14 * scale || off == 0.0 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let app = a[p * d + p];
                let aqq = a[q * d + q];
                // The rotation angle that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.4.1).
                let tau = (aqq - app) / (2.0 * apq);
                let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let values = (0..d).map(|i| a[i * d + i]).collect();
    (values, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn finds_the_known_axes_of_a_toy_set() {
        // Covariance [[2.5, 1.5], [1.5, 2.5]]: eigenvalues 4 along (1, 1), 1 along (1, -1).
        let data = array![[-2.0f32, -2.0], [2.0, 2.0], [-1.0, 1.0], [1.0, -1.0]];
        let pca = Pca::fit(data.view(), 2).unwrap();
        assert!((pca.variances[0] - 4.0).abs() < 1e-12);
        assert!((pca.variances[1] - 1.0).abs() < 1e-12);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let first = &pca.components[0];
        assert!((first[0] - h).abs() < 1e-12 && (first[1] - h).abs() < 1e-12);
        let second = &pca.components[1];
        assert!((second[0].abs() - h).abs() < 1e-12);
        assert!((second[0] + second[1]).abs() < 1e-12);
        let explained = pca.explained();
        assert!((explained[0] - 0.8).abs() < 1e-12 && (explained[1] - 0.2).abs() < 1e-12);
        let projected = pca.project(data.view()).unwrap();
        assert!((f64::from(projected[[1, 0]]) - 2.0 * std::f64::consts::SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn orders_components_by_variance_and_subtracts_the_mean() {
        // Axis-aligned spreads 1, 9, 4 around (10, 20, 30): components are the axes 1, 2, 0.
        let mut rows = Vec::new();
        for (axis, spread) in [(0usize, 1.0f32), (1, 3.0), (2, 2.0)] {
            for sign in [-1.0, 1.0] {
                let mut r = [10.0f32, 20.0, 30.0];
                r[axis] += sign * spread;
                rows.extend_from_slice(&r);
            }
        }
        let data = Array2::from_shape_vec((6, 3), rows).unwrap();
        let pca = Pca::fit(data.view(), 2).unwrap();
        assert!((pca.mean[1] - 20.0).abs() < 1e-9);
        assert!((pca.components[0][1] - 1.0).abs() < 1e-12);
        assert!((pca.components[1][2] - 1.0).abs() < 1e-12);
        // Variance along axis 1: two of six rows at ±3.
        assert!((pca.variances[0] - 3.0).abs() < 1e-12);
        assert!((pca.total_variance - (2.0 + 18.0 + 8.0) / 6.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_impossible_requests() {
        let data = Array2::<f32>::zeros((0, 3));
        assert!(Pca::fit(data.view(), 2).is_err());
        let data = Array2::<f32>::zeros((4, 3));
        assert!(Pca::fit(data.view(), 4).is_err());
        let pca = Pca::fit(data.view(), 1).unwrap();
        assert_eq!(pca.explained(), vec![0.0]);
        assert!(pca.project(Array2::<f32>::zeros((1, 2)).view()).is_err());
    }
}
