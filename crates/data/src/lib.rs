//! Data for training Siamese networks on MNIST-style image sets.
//!
//! - **IDX files**, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST:
//!   [`IdxArray`] reads every element type and rank the format defines, raw or
//!   gzipped (detected from content), and writes them back atomically.
//!   Malformed input gives a typed [`DataError`], never a panic or an
//!   allocation a lying header asked for.
//! - **Datasets**: [`Dataset`] keeps images as `u8` rows and labels as `u32`;
//!   [`Mnist::load`] reads an MNIST-layout directory into train and test
//!   splits; [`Dataset::split_off_validation`] holds out a validation set.
//! - **Your own images** (feature `sources`, on by default): [`sources`] reads
//!   class folders (torchvision's `ImageFolder` layout), CSV manifests and NumPy
//!   arrays into an [`ImageCollection`] of the same [`Dataset`]s, converted to
//!   gray or RGB at one size, with bad images failing or skipped by
//!   [`OnBadImage`], a decode cache, and [`ImageCollection::save_idx`] to write
//!   MNIST-layout IDX files. [`read_class_names`] reads the `classes.txt` that
//!   names an IDX directory's labels.
//! - **Normalization**: [`Normalizer`] turns pixels into `f32` per batch, into
//!   a buffer you reuse (`/255`, or standardized with training statistics).
//! - **Pairs**: [`classic_pairs`] (the Keras `mnist_siamese` recipe) and
//!   [`random_pairs`] produce seeded [`Pair`]s of sample indices.
//!   **`similar == true` means target 1.0** — the opposite of Hadsell, Chopra
//!   & LeCun's `Y`; see [`pairs`].
//! - **Class-balanced batches**: [`ClassBalancedSampler`] draws seeded
//!   batches of P classes × K images for in-batch mining losses.
//! - **Augmentation**: [`Augment`] applies a seeded random shift, rotation,
//!   scaling and optional flip to `u8` images; [`augment_seed`] derives
//!   per-image seeds that do not depend on threading.
//!
//! The data directory is an argument everywhere; [`default_data_dir`] reads
//! the `SIAMESE_DATA_DIR` environment variable and falls back to
//! [`DEFAULT_DATA_DIR`].
//!
//! # Example
//!
//! ```
//! use siamese_data::{classic_pairs, Compression, Dataset, IdxArray, Normalizer};
//!
//! // Six 2×2 "images" of three classes, written as gzipped IDX files.
//! let dir = tempfile::tempdir()?;
//! let (images_path, labels_path) = (dir.path().join("img.gz"), dir.path().join("lbl"));
//! let pixels: Vec<u8> = (0..24).map(|p| p * 10).collect();
//! IdxArray::new(vec![6, 2, 2], pixels)?.save(&images_path, Compression::Gzip)?;
//! IdxArray::new(vec![6], vec![0u8, 1, 2, 0, 1, 2])?.save(&labels_path, Compression::None)?;
//!
//! let ds = Dataset::load(&images_path, &labels_path, None)?;
//! assert_eq!((ds.len(), ds.image_shape(), ds.num_classes()), (6, &[2, 2][..], 3));
//! assert_eq!(ds.class_counts(), [2, 2, 2]);
//!
//! let pairs = classic_pairs(ds.labels(), ds.num_classes(), 42)?;
//! assert_eq!(pairs.len(), 6); // 2 × 3 classes × (2 − 1)
//! assert!(pairs[0].similar && pairs[0].target() == 1.0);
//!
//! let norm = Normalizer::unit_range();
//! let mut batch = vec![0.0f32; 2 * ds.image_len()];
//! norm.gather(&ds, [pairs[1].left as usize, pairs[1].right as usize], &mut batch)?;
//! assert_eq!(batch[1], 10.0 / 255.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod augment;
mod classes;
mod dataset;
mod error;
mod idx;
mod mnist;
mod normalize;
mod origins;
pub mod pairs;
mod sampler;
#[cfg(feature = "sources")]
pub mod sources;

#[cfg(feature = "download")]
pub mod download;

pub use augment::{Augment, augment_seed};
pub use classes::{CLASSES_FILE, read_class_names, write_class_names};
pub use dataset::{Dataset, Holdout, MAX_CLASSES};
pub use error::{DataError, Result};
pub use idx::{Compression, IdxArray, IdxData, IdxType, MAX_DIMS, MAX_PAYLOAD_BYTES};
pub use mnist::{
    DATA_DIR_ENV, DEFAULT_DATA_DIR, MNIST_FILES, Mnist, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,
    TRAIN_LABELS, check_data_dir, data_dir_from_env, default_data_dir, load_mnist_dir,
    missing_files, resolve_data_dir, resolve_file,
};
pub use normalize::Normalizer;
pub use origins::{TEST_ORIGINS, TRAIN_ORIGINS, idx_origins, numbered_origins, write_idx_origins};
pub use pairs::{Pair, classic_pairs, epoch_seed, random_pairs};
pub use sampler::ClassBalancedSampler;
#[cfg(feature = "sources")]
pub use sources::{
    Channels, ImageCollection, ImageSource, LoadOptions, LoadReport, Loaded, OnBadImage,
    SourceError, TestSplit,
};
