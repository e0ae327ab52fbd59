//! The data source of the `data` section: the MNIST-layout IDX files, or a user's own
//! image collection (class folders, a CSV manifest, NumPy arrays) and how to convert it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a run's images come from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataSource {
    /// The four MNIST-layout IDX files in `data.dir` (with class names from an optional
    /// `classes.txt` beside them).
    #[default]
    Idx,
    /// Class folders in torchvision's `ImageFolder` layout: `root/<class>/<images>`, or
    /// `root/train/<class>/…` and `root/test/<class>/…`. PNG, JPEG, BMP, GIF, TIFF, WebP.
    Folder(PathBuf),
    /// A CSV file with a header and the columns `path,label` and optionally `split`
    /// (`train` or `test`); paths are relative to the CSV's folder.
    Manifest(PathBuf),
    /// NumPy arrays: `images` (`uint8`, `[N, H, W]` or `[N, H, W, C]`) and `labels`
    /// (integers, `[N]`), and optionally `test: Some(("test_images.npy",
    /// "test_labels.npy"))`.
    Npy {
        /// The image array.
        images: PathBuf,
        /// The label array.
        labels: PathBuf,
        /// The test arrays (images, labels); without them `test_fraction` is held out.
        #[serde(default)]
        test: Option<(PathBuf, PathBuf)>,
    },
}

/// What to do with an image that cannot be used: corrupt, truncated, not an image, a
/// manifest row pointing nowhere or with a bad label, an empty class folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnBadImage {
    /// Stop with an error naming the file (and the manifest line).
    #[default]
    Fail,
    /// Leave it out; the run's summary counts and names (the first 10) what was skipped.
    Skip,
}

impl From<OnBadImage> for siamese_data::OnBadImage {
    fn from(policy: OnBadImage) -> Self {
        match policy {
            OnBadImage::Fail => siamese_data::OnBadImage::Fail,
            OnBadImage::Skip => siamese_data::OnBadImage::Skip,
        }
    }
}

/// The defaults of the image-source fields: MNIST's shape.
pub(crate) const DEFAULT_IMAGE_SIZE: (usize, usize) = (28, 28);
pub(crate) const DEFAULT_CHANNELS: usize = 1;
pub(crate) const DEFAULT_TEST_FRACTION: f64 = 0.2;
