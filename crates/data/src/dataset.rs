//! In-memory labelled image datasets.

use std::path::Path;

use rand::SeedableRng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::idx::{Compression, IdxArray, IdxData, IdxType};

/// The most classes a dataset may have. Labels are read from files, and a
/// single corrupt label such as 2^31 must not make `class_counts` allocate
/// gigabytes; no real classification dataset comes near this.
pub const MAX_CLASSES: usize = 1 << 20;

const FROM_PARTS_ORIGIN: &str = "labels passed to Dataset::from_parts";

/// Labelled images, all of one shape, stored as raw `u8` pixels.
///
/// Images live in one row-major buffer, one row of [`image_len`](Self::image_len)
/// bytes per image; conversion to `f32` happens per batch through a
/// [`Normalizer`](crate::Normalizer). Labels are class indices below
/// [`num_classes`](Self::num_classes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    images: Vec<u8>,
    labels: Vec<u32>,
    image_shape: Vec<usize>,
    image_len: usize,
    num_classes: usize,
}

/// Which training samples [`Dataset::split_off_validation`] holds out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holdout {
    /// The last `n` samples (the common MNIST convention: 50k/10k).
    Last,
    /// `n` samples drawn uniformly without replacement, reproducibly from `seed`.
    Random {
        /// Seed for the ChaCha8 generator.
        seed: u64,
    },
}

impl Dataset {
    /// Builds a dataset from its parts, checking that they agree.
    ///
    /// `images` must hold `labels.len()` rows of `image_shape.iter().product()`
    /// pixels, every label must be below `num_classes`, and `num_classes` must
    /// not exceed [`MAX_CLASSES`].
    ///
    /// ```
    /// use siamese_data::Dataset;
    /// let ds = Dataset::from_parts(vec![0, 255, 7, 8], vec![1, 0], vec![2], 2)?;
    /// assert_eq!(ds.image(0), &[0, 255]);
    /// # Ok::<(), siamese_data::DataError>(())
    /// ```
    pub fn from_parts(
        images: Vec<u8>,
        labels: Vec<u32>,
        image_shape: Vec<usize>,
        num_classes: usize,
    ) -> Result<Dataset> {
        let image_len = image_len_of(&image_shape)?;
        check_num_classes(num_classes, FROM_PARTS_ORIGIN)?;
        let expected = labels.len().checked_mul(image_len);
        if expected != Some(images.len()) {
            return Err(DataError::ImageBufferLength {
                expected: expected.unwrap_or(usize::MAX),
                found: images.len(),
                count: labels.len(),
                image_len,
            });
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= num_classes)
        {
            return Err(DataError::LabelOutOfRange {
                origin: FROM_PARTS_ORIGIN.to_owned(),
                index,
                label: i64::from(label),
                num_classes,
            });
        }
        Ok(Dataset {
            images,
            labels,
            image_shape,
            image_len,
            num_classes,
        })
    }

    /// Builds a dataset from an image array (`u8`, rank ≥ 2, first dimension
    /// = count) and a label array (any integer type, rank 1).
    ///
    /// With `num_classes: None` the class count is `1 + max label` (the
    /// training split); pass the training split's count for the test split, so
    /// a test label it has never seen is an error. The paths only name the
    /// sources in error messages.
    pub fn from_idx(
        images: IdxArray,
        labels: IdxArray,
        num_classes: Option<usize>,
        images_path: &Path,
        labels_path: &Path,
    ) -> Result<Dataset> {
        // Element-type errors come first: a file of the wrong type is usually
        // the wrong file altogether, which says more than its shape would.
        if images.elem_type() != IdxType::U8 {
            return Err(DataError::WrongElementType {
                path: images_path.to_path_buf(),
                role: "images",
                expected: "u8 (0x08)",
                found: images.elem_type(),
            });
        }
        if images.shape().len() < 2 {
            return Err(DataError::WrongRank {
                path: images_path.to_path_buf(),
                role: "images",
                expected: "at least 2 dimensions (count, then the image's own)",
                found: images.shape().to_vec(),
            });
        }
        if matches!(labels.elem_type(), IdxType::F32 | IdxType::F64) {
            return Err(DataError::WrongElementType {
                path: labels_path.to_path_buf(),
                role: "labels",
                expected: "an integer type (u8, i8, i16 or i32)",
                found: labels.elem_type(),
            });
        }
        if labels.shape().len() != 1 {
            return Err(DataError::WrongRank {
                path: labels_path.to_path_buf(),
                role: "labels",
                expected: "exactly 1 dimension",
                found: labels.shape().to_vec(),
            });
        }
        let (shape, data) = images.into_parts();
        let image_count = shape[0];
        let image_shape = shape[1..].to_vec();
        if image_count != labels.shape()[0] {
            return Err(DataError::CountMismatch {
                images: images_path.to_path_buf(),
                labels: labels_path.to_path_buf(),
                image_count,
                label_count: labels.shape()[0],
            });
        }
        let image_len = image_len_of(&image_shape).map_err(|_| DataError::WrongRank {
            path: images_path.to_path_buf(),
            role: "images",
            expected: "non-zero image dimensions",
            found: shape.clone(),
        })?;
        let pixels = match data {
            IdxData::U8(p) => p,
            other => {
                return Err(DataError::WrongElementType {
                    path: images_path.to_path_buf(),
                    role: "images",
                    expected: "u8 (0x08)",
                    found: other.elem_type(),
                });
            }
        };
        let origin = labels_path.display().to_string();
        let (labels, num_classes) = convert_labels(labels.data(), num_classes, &origin)?;
        // ok: the IDX shape matched the payload and the counts were compared.
        debug_assert_eq!(pixels.len(), labels.len() * image_len);
        Ok(Dataset {
            images: pixels,
            labels,
            image_shape,
            image_len,
            num_classes,
        })
    }

    /// Reads an image file and a label file (raw or gzipped IDX); see
    /// [`from_idx`](Self::from_idx) for `num_classes`.
    pub fn load(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
        num_classes: Option<usize>,
    ) -> Result<Dataset> {
        let (ip, lp) = (images_path.as_ref(), labels_path.as_ref());
        let images = IdxArray::read(ip)?;
        let labels = IdxArray::read(lp)?;
        Dataset::from_idx(images, labels, num_classes, ip, lp)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (the product of [`image_shape`](Self::image_shape)).
    pub fn image_len(&self) -> usize {
        self.image_len
    }

    /// The shape of one image, e.g. `[28, 28]`.
    pub fn image_shape(&self) -> &[usize] {
        &self.image_shape
    }

    /// Number of classes; every label is below it.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The pixels of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing; see [`get_image`](Self::get_image).
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * self.image_len..(i + 1) * self.image_len]
    }

    /// The pixels of image `i`, or `None` if out of range.
    pub fn get_image(&self, i: usize) -> Option<&[u8]> {
        let start = i.checked_mul(self.image_len)?;
        self.images.get(start..start.checked_add(self.image_len)?)
    }

    /// All pixels, one row per image.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// All labels.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The label of sample `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing.
    pub fn label(&self, i: usize) -> u32 {
        self.labels[i]
    }

    /// How many samples each class has, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// A new dataset with copies of the selected samples, in the given order
    /// (indices may repeat). Keeps the class count.
    ///
    /// # Panics
    /// If an index is out of range, like slice indexing.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.image_len);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Dataset {
            images,
            labels,
            image_shape: self.image_shape.clone(),
            image_len: self.image_len,
            num_classes: self.num_classes,
        }
    }

    /// Keeps only the first `n` samples (no-op if there are fewer). Keeps the
    /// class count, so a quick run on a prefix still sees every class id.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.labels.truncate(n);
            self.images.truncate(n * self.image_len);
        }
    }

    /// Splits off `n` samples as a validation set: returns `(train, validation)`.
    ///
    /// Both keep the original order of their samples and this dataset's class
    /// count. `n == 0` gives an empty validation set; `n >= len` is an error,
    /// since nothing would be left to train on.
    pub fn split_off_validation(self, n: usize, holdout: Holdout) -> Result<(Dataset, Dataset)> {
        let len = self.len();
        if n >= len {
            return Err(DataError::ValidationTooLarge { requested: n, len });
        }
        match holdout {
            Holdout::Last => {
                let mut train = self;
                let split = len - n;
                let val = Dataset {
                    images: train.images.split_off(split * train.image_len),
                    labels: train.labels.split_off(split),
                    image_shape: train.image_shape.clone(),
                    image_len: train.image_len,
                    num_classes: train.num_classes,
                };
                Ok((train, val))
            }
            Holdout::Random { seed } => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut held = vec![false; len];
                for i in index::sample(&mut rng, len, n) {
                    held[i] = true;
                }
                let (val_idx, train_idx): (Vec<usize>, Vec<usize>) =
                    (0..len).partition(|&i| held[i]);
                Ok((self.subset(&train_idx), self.subset(&val_idx)))
            }
        }
    }

    /// The dataset as two IDX arrays: images `u8` of shape `[len, image_shape..]`,
    /// labels of shape `[len]`, `u8` when every class id fits (as in MNIST),
    /// `i32` otherwise.
    pub fn to_idx(&self) -> Result<(IdxArray, IdxArray)> {
        let mut shape = Vec::with_capacity(1 + self.image_shape.len());
        shape.push(self.len());
        shape.extend_from_slice(&self.image_shape);
        let images = IdxArray::new(shape, self.images.clone())?;
        let labels = if self.num_classes <= 256 {
            IdxArray::new(
                vec![self.len()],
                self.labels.iter().map(|&l| l as u8).collect::<Vec<u8>>(),
            )?
        } else {
            // MAX_CLASSES < 2^31, so every label fits an i32.
            IdxArray::new(
                vec![self.len()],
                self.labels.iter().map(|&l| l as i32).collect::<Vec<i32>>(),
            )?
        };
        Ok((images, labels))
    }

    /// Exports the dataset as an image file and a label file in IDX format
    /// (each written atomically), e.g. to share a subset.
    pub fn save_idx(
        &self,
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
        compression: Compression,
    ) -> Result<()> {
        let (images, labels) = self.to_idx()?;
        images.save(images_path, compression)?;
        labels.save(labels_path, compression)
    }
}

fn image_len_of(shape: &[usize]) -> Result<usize> {
    let len = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n > 0 && !shape.is_empty());
    len.ok_or_else(|| DataError::EmptyImageShape {
        shape: shape.to_vec(),
    })
}

fn check_num_classes(num_classes: usize, origin: &str) -> Result<()> {
    if num_classes > MAX_CLASSES {
        return Err(DataError::TooManyClasses {
            origin: origin.to_owned(),
            num_classes,
            max: MAX_CLASSES,
        });
    }
    Ok(())
}

/// Widens integer labels to `u32`, checking them against the class count
/// (or deriving it as `1 + max`).
fn convert_labels(
    data: &IdxData,
    num_classes: Option<usize>,
    origin: &str,
) -> Result<(Vec<u32>, usize)> {
    let bound = match num_classes {
        Some(c) => {
            check_num_classes(c, origin)?;
            c
        }
        None => MAX_CLASSES,
    };
    let mut labels = Vec::with_capacity(data.len());
    let mut max = None;
    for index in 0..data.len() {
        let label = data.get_i64(index).unwrap_or(-1);
        if label < 0 || label as u64 >= bound as u64 {
            return Err(if label >= 0 && num_classes.is_none() {
                DataError::TooManyClasses {
                    origin: origin.to_owned(),
                    num_classes: (label as usize).saturating_add(1),
                    max: MAX_CLASSES,
                }
            } else {
                DataError::LabelOutOfRange {
                    origin: origin.to_owned(),
                    index,
                    label,
                    num_classes: bound,
                }
            });
        }
        // In range of `bound <= MAX_CLASSES < 2^32`, so the cast is lossless.
        let label = label as u32;
        max = max.max(Some(label));
        labels.push(label);
    }
    let num_classes = num_classes.unwrap_or_else(|| max.map_or(0, |m| m as usize + 1));
    Ok((labels, num_classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // 5 images of 2 pixels; pixel 0 = index, so rows are recognizable.
        let images = (0..5u8).flat_map(|i| [i, 100 + i]).collect();
        Dataset::from_parts(images, vec![0, 1, 2, 1, 0], vec![2], 3).unwrap()
    }

    #[test]
    fn accessors() {
        let ds = tiny();
        assert_eq!(ds.len(), 5);
        assert!(!ds.is_empty());
        assert_eq!(ds.image_len(), 2);
        assert_eq!(ds.image(3), &[3, 103]);
        assert_eq!(ds.get_image(5), None);
        assert_eq!(ds.label(2), 2);
        assert_eq!(ds.class_counts(), vec![2, 2, 1]);
    }

    #[test]
    fn subset_and_truncate() {
        let mut ds = tiny();
        let s = ds.subset(&[4, 0, 4]);
        assert_eq!(s.images(), &[4, 104, 0, 100, 4, 104]);
        assert_eq!(s.labels(), &[0, 0, 0]);
        assert_eq!(s.num_classes(), 3);
        ds.truncate(2);
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.images(), &[0, 100, 1, 101]);
        ds.truncate(10);
        assert_eq!(ds.len(), 2);
    }

    #[test]
    fn split_last() {
        let (train, val) = tiny().split_off_validation(2, Holdout::Last).unwrap();
        assert_eq!(train.labels(), &[0, 1, 2]);
        assert_eq!(val.labels(), &[1, 0]);
        assert_eq!(val.image(0), &[3, 103]);
        let (train, val) = tiny().split_off_validation(0, Holdout::Last).unwrap();
        assert_eq!((train.len(), val.len()), (5, 0));
    }

    #[test]
    fn split_random_is_seeded_and_disjoint() {
        let a = tiny()
            .split_off_validation(2, Holdout::Random { seed: 7 })
            .unwrap();
        let b = tiny()
            .split_off_validation(2, Holdout::Random { seed: 7 })
            .unwrap();
        assert_eq!(a, b);
        let mut seen: Vec<u8> = a.0.images().iter().chain(a.1.images()).copied().collect();
        seen.retain(|&p| p < 100);
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert_eq!(a.1.len(), 2);
    }

    #[test]
    fn split_too_large() {
        let e = tiny().split_off_validation(5, Holdout::Last).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("hold out 5") && msg.contains("dataset of 5"),
            "{msg}"
        );
    }

    #[test]
    fn from_parts_errors() {
        let e = Dataset::from_parts(vec![0; 5], vec![0, 0], vec![2], 1).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("holds 5 bytes, expected 4"), "{msg}");

        let e = Dataset::from_parts(vec![0; 4], vec![0, 3], vec![2], 3).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("label 3 at index 1") && msg.contains("< 3") && msg.contains("from_parts"),
            "{msg}"
        );

        let e = Dataset::from_parts(vec![], vec![], vec![28, 0], 3).unwrap_err();
        assert!(e.to_string().contains("[28, 0] has no pixels"), "{e}");
        let e = Dataset::from_parts(vec![], vec![], vec![], 3).unwrap_err();
        assert!(e.to_string().contains("[] has no pixels"), "{e}");

        let e = Dataset::from_parts(vec![], vec![], vec![1], MAX_CLASSES + 1).unwrap_err();
        assert!(e.to_string().contains("at most 1048576"), "{e}");
    }

    #[test]
    fn labels_of_every_integer_type() {
        let imgs = || IdxArray::new(vec![3, 1], vec![1u8, 2, 3]).unwrap();
        let p = Path::new("x");
        for labels in [
            IdxArray::new(vec![3], vec![0u8, 4, 2]).unwrap(),
            IdxArray::new(vec![3], vec![0i8, 4, 2]).unwrap(),
            IdxArray::new(vec![3], vec![0i16, 4, 2]).unwrap(),
            IdxArray::new(vec![3], vec![0i32, 4, 2]).unwrap(),
        ] {
            let ds = Dataset::from_idx(imgs(), labels, None, p, p).unwrap();
            assert_eq!(ds.labels(), &[0, 4, 2]);
            assert_eq!(ds.num_classes(), 5);
        }
        let neg = IdxArray::new(vec![3], vec![0i16, -4, 2]).unwrap();
        let e = Dataset::from_idx(imgs(), neg, None, p, Path::new("lbl")).unwrap_err();
        assert!(e.to_string().contains("lbl: label -4 at index 1"), "{e}");
        let huge = IdxArray::new(vec![3], vec![0i32, i32::MAX, 2]).unwrap();
        let e = Dataset::from_idx(imgs(), huge, None, p, Path::new("lbl")).unwrap_err();
        assert!(matches!(e, DataError::TooManyClasses { .. }), "{e}");
        assert!(e.to_string().contains("2147483648 classes"), "{e}");
    }

    #[test]
    fn idx_round_trip() {
        let ds = tiny();
        let (i, l) = ds.to_idx().unwrap();
        let back = Dataset::from_idx(i, l, Some(3), Path::new("a"), Path::new("b")).unwrap();
        assert_eq!(back, ds);
    }
}
