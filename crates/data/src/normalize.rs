//! Pixel normalization: `u8` pixels to `f32` features, per batch.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// An affine map from `u8` pixels to `f32` features:
/// `x = (p / 255 − mean) / std`, i.e. `x = p · scale + offset`.
///
/// Both supported normalizations are affine per pixel and there are only 256
/// pixel values, so conversion is a table lookup. Convert per batch into a
/// buffer you reuse ([`gather`](Self::gather), [`write_image`](Self::write_image))
/// rather than keeping an `f32` copy of the dataset (4× its memory).
///
/// Serializes as `{ mean, std, scale, offset }` so a trained model can store
/// the exact preprocessing it was trained with; on deserialization `scale`
/// and `offset` are optional but, if present, must agree with `mean`/`std`.
///
/// ```
/// use siamese_data::{Dataset, Normalizer};
/// let ds = Dataset::from_parts(vec![0, 255, 51, 0], vec![0, 1], vec![2], 2)?;
/// let norm = Normalizer::unit_range();
/// let mut batch = vec![0.0f32; 2 * ds.image_len()];
/// norm.gather(&ds, [1, 0], &mut batch)?;
/// assert_eq!(batch, [0.2, 0.0, 0.0, 1.0]);
/// # Ok::<(), siamese_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "NormalizerParams", try_from = "NormalizerParams")]
pub struct Normalizer {
    mean: f64,
    std: f64,
    lut: [f32; 256],
}

/// The serialized form of a [`Normalizer`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct NormalizerParams {
    mean: f64,
    std: f64,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    offset: Option<f64>,
}

impl From<Normalizer> for NormalizerParams {
    fn from(n: Normalizer) -> Self {
        NormalizerParams {
            mean: n.mean,
            std: n.std,
            scale: Some(n.scale()),
            offset: Some(n.offset()),
        }
    }
}

impl TryFrom<NormalizerParams> for Normalizer {
    type Error = DataError;

    fn try_from(p: NormalizerParams) -> Result<Self> {
        let n = Normalizer::new(p.mean, p.std)?;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        for (name, stored, derived) in [
            ("scale", p.scale, n.scale()),
            ("offset", p.offset, n.offset()),
        ] {
            if let Some(stored) = stored.filter(|&s| !close(s, derived)) {
                return Err(DataError::InvalidNormalizer {
                    reason: format!(
                        "{name} {stored} disagrees with mean {} and std {}, which imply {derived}",
                        p.mean, p.std
                    ),
                });
            }
        }
        Ok(n)
    }
}

impl Normalizer {
    /// `x = (p / 255 − mean) / std`, with `mean` and `std` in units of
    /// `p / 255`. `std` must be positive and both finite.
    pub fn new(mean: f64, std: f64) -> Result<Normalizer> {
        if !(mean.is_finite() && std.is_finite() && std > 0.0) {
            return Err(DataError::InvalidNormalizer {
                reason: format!("mean {mean} and std {std}; expected finite values and std > 0"),
            });
        }
        let mut lut = [0f32; 256];
        for (p, x) in lut.iter_mut().enumerate() {
            *x = ((p as f64 / 255.0 - mean) / std) as f32;
        }
        Ok(Normalizer { mean, std, lut })
    }

    /// `x = p / 255`, into `[0, 1]`: the default, and what the classic
    /// Siamese MNIST tutorial uses. Maps 0 to 0.
    pub fn unit_range() -> Normalizer {
        Normalizer {
            mean: 0.0,
            std: 1.0,
            lut: std::array::from_fn(|p| (p as f64 / 255.0) as f32),
        }
    }

    /// Standardization with the mean and standard deviation of every pixel
    /// of `train` (after `/255`). Compute it on the training split only, and
    /// apply the result to validation and test data, so no statistics leak
    /// from held-out data.
    ///
    /// Like scikit-learn's `StandardScaler`, a zero standard deviation
    /// (constant images) is replaced by 1, and an empty dataset gives the
    /// unit-range normalizer.
    pub fn standardize_from(train: &Dataset) -> Normalizer {
        // A histogram makes the statistics exact and a single cheap pass.
        let mut hist = [0u64; 256];
        for &p in train.images() {
            hist[usize::from(p)] += 1;
        }
        let n: u64 = hist.iter().sum();
        if n == 0 {
            return Normalizer::unit_range();
        }
        let n = n as f64;
        let value = |p: usize| p as f64 / 255.0;
        let mean = hist
            .iter()
            .enumerate()
            .map(|(p, &c)| c as f64 * value(p))
            .sum::<f64>()
            / n;
        let var = hist
            .iter()
            .enumerate()
            .map(|(p, &c)| c as f64 * (value(p) - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
        let mut lut = [0f32; 256];
        for (p, x) in lut.iter_mut().enumerate() {
            *x = ((value(p) - mean) / std) as f32;
        }
        Normalizer { mean, std, lut }
    }

    /// The mean subtracted, in units of `p / 255`.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The standard deviation divided by, in units of `p / 255`.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// `1 / (255 · std)`: the factor in `x = p · scale + offset`.
    pub fn scale(&self) -> f64 {
        1.0 / (255.0 * self.std)
    }

    /// `−mean / std`: the constant in `x = p · scale + offset`.
    pub fn offset(&self) -> f64 {
        -self.mean / self.std
    }

    /// The feature for every pixel value.
    pub fn lut(&self) -> &[f32; 256] {
        &self.lut
    }

    /// The feature for one pixel value.
    pub fn apply(&self, pixel: u8) -> f32 {
        self.lut[usize::from(pixel)]
    }

    /// Whether pixel 0 maps to exactly 0.0, so a first layer may skip zero
    /// pixels (most of an MNIST image) as sparse input. True for
    /// [`unit_range`](Self::unit_range), false after standardization.
    pub fn maps_zero_to_zero(&self) -> bool {
        self.lut[0] == 0.0
    }

    /// Converts one image into `out`, which must have the same length.
    pub fn write_image(&self, pixels: &[u8], out: &mut [f32]) -> Result<()> {
        if out.len() != pixels.len() {
            return Err(DataError::BufferLength {
                expected: pixels.len(),
                found: out.len(),
            });
        }
        for (x, &p) in out.iter_mut().zip(pixels) {
            *x = self.lut[usize::from(p)];
        }
        Ok(())
    }

    /// Converts the images at `indices`, in order, into consecutive rows of
    /// `out`, which must hold exactly `count × ds.image_len()` values (slice
    /// a larger buffer for a short last batch). Does not allocate.
    pub fn gather(
        &self,
        ds: &Dataset,
        indices: impl IntoIterator<Item = usize>,
        out: &mut [f32],
    ) -> Result<()> {
        let image_len = ds.image_len();
        let out_len = out.len();
        let mut rows = out.chunks_exact_mut(image_len);
        let mut written = 0usize;
        for index in indices {
            let pixels = ds.get_image(index).ok_or(DataError::IndexOutOfRange {
                index,
                len: ds.len(),
            })?;
            let row = rows.next().ok_or(DataError::BufferLength {
                expected: (written + 1) * image_len,
                found: out_len,
            })?;
            for (x, &p) in row.iter_mut().zip(pixels) {
                *x = self.lut[usize::from(p)];
            }
            written += 1;
        }
        if written * image_len != out_len {
            return Err(DataError::BufferLength {
                expected: written * image_len,
                found: out_len,
            });
        }
        Ok(())
    }
}

impl Default for Normalizer {
    /// [`Normalizer::unit_range`].
    fn default() -> Self {
        Normalizer::unit_range()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds() -> Dataset {
        Dataset::from_parts(vec![0, 255, 51, 0, 10, 20], vec![0, 1, 1], vec![2], 2).unwrap()
    }

    #[test]
    fn unit_range_values() {
        let n = Normalizer::unit_range();
        assert_eq!(n.apply(0), 0.0);
        assert_eq!(n.apply(255), 1.0);
        assert!(n.maps_zero_to_zero());
        assert_eq!((n.scale(), n.offset()), (1.0 / 255.0, 0.0));
        assert_eq!(n, Normalizer::new(0.0, 1.0).unwrap());
    }

    #[test]
    fn affine_matches_lut() {
        let n = Normalizer::new(0.1307, 0.3081).unwrap();
        assert!(!n.maps_zero_to_zero());
        for p in 0..=255u8 {
            let affine = f64::from(p) * n.scale() + n.offset();
            assert!((f64::from(n.apply(p)) - affine).abs() < 1e-5, "{p}");
        }
    }

    #[test]
    fn standardized_training_pixels_have_zero_mean_unit_std() {
        let d = ds();
        let n = Normalizer::standardize_from(&d);
        let xs: Vec<f64> = d.images().iter().map(|&p| f64::from(n.apply(p))).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
            "{mean} {var}"
        );
    }

    #[test]
    fn constant_and_empty_datasets() {
        let c = Dataset::from_parts(vec![7; 4], vec![0, 0], vec![2], 1).unwrap();
        let n = Normalizer::standardize_from(&c);
        assert_eq!(n.std(), 1.0);
        assert_eq!(n.apply(7), 0.0);
        let e = Dataset::from_parts(vec![], vec![], vec![2], 1).unwrap();
        assert_eq!(Normalizer::standardize_from(&e), Normalizer::unit_range());
    }

    #[test]
    fn gather_and_errors() {
        let d = ds();
        let n = Normalizer::unit_range();
        let mut out = [9.0f32; 4];
        n.gather(&d, [2, 0], &mut out).unwrap();
        assert_eq!(out, [10.0 / 255.0, 20.0 / 255.0, 0.0, 1.0]);

        let e = n.gather(&d, [0, 3], &mut out).unwrap_err();
        assert!(
            e.to_string()
                .contains("index 3 is out of range for a dataset of 3"),
            "{e}"
        );
        let e = n.gather(&d, [0, 1, 2], &mut out).unwrap_err();
        assert!(e.to_string().contains("holds 4 values, expected 6"), "{e}");
        let e = n.gather(&d, [0], &mut out).unwrap_err();
        assert!(e.to_string().contains("holds 4 values, expected 2"), "{e}");
        let e = n.write_image(d.image(0), &mut out).unwrap_err();
        assert!(e.to_string().contains("holds 4 values, expected 2"), "{e}");
        n.write_image(d.image(1), &mut out[..2]).unwrap();
        assert_eq!(out[..2], [0.2, 0.0]);
    }

    #[test]
    fn invalid_parameters() {
        let e = Normalizer::new(0.0, 0.0).unwrap_err();
        assert!(e.to_string().contains("std 0"), "{e}");
        assert!(Normalizer::new(f64::NAN, 1.0).is_err());
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let n = Normalizer::standardize_from(&ds());
        let json = serde_json::to_string(&n).unwrap();
        for key in ["\"mean\"", "\"std\"", "\"scale\"", "\"offset\""] {
            assert!(json.contains(key), "{json}");
        }
        let back: Normalizer = serde_json::from_str(&json).unwrap();
        assert_eq!(back, n);

        let minimal: Normalizer = serde_json::from_str(r#"{"mean":0.5,"std":0.25}"#).unwrap();
        assert_eq!(minimal.offset(), -2.0);

        let e = serde_json::from_str::<Normalizer>(r#"{"mean":0.5,"std":0.25,"offset":1.0}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("offset 1 disagrees with mean 0.5 and std 0.25"),
            "{e}"
        );
        let e = serde_json::from_str::<Normalizer>(r#"{"mean":0.5,"std":-1.0}"#).unwrap_err();
        assert!(e.to_string().contains("std > 0"), "{e}");
    }
}
