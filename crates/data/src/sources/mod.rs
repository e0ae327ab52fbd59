//! Bring your own images: class folders, CSV manifests and NumPy arrays read into
//! the same [`Dataset`]s as MNIST, with a decode cache and an IDX importer.
//!
//! - **Image folders** ([`ImageSource::Folder`], torchvision's `ImageFolder`
//!   layout): `root/<class name>/<image files>`, either under `root/train/` and
//!   `root/test/` or as one tree split by [`TestSplit`]. PNG, JPEG, BMP, GIF
//!   (first frame), TIFF and WebP, recognised by extension and decoded by content.
//!   Class names are the folder names, sorted; the label is the index. Each
//!   class is spread evenly over the list (files of a class in name order), so that
//!   the first N, or the last N, hold every class in proportion, as MNIST's files do. Hidden
//!   files, other files and folders nested below a class folder are ignored and
//!   counted in the [`LoadReport`].
//! - **CSV manifests** ([`ImageSource::Manifest`]): a header with `path` and
//!   `label` columns and an optional `split` column (`train` or `test`); paths
//!   are relative to the CSV's folder. Labels are class names, numbered in sorted
//!   order. Errors name the file, line and column.
//! - **NumPy arrays** ([`ImageSource::Npy`]): `uint8` images `[N, H, W]` or
//!   `[N, H, W, C]` (C = 1, 3 or 4) and labels of any integer type, with class
//!   names from a `classes.txt` beside the images if there is one.
//!
//! Every image is converted to the [`LoadOptions`]: grayscale (`image`'s
//! `to_luma8`, Rec. 709 luma) or RGB (stored interleaved, shape `[H, W, 3]`),
//! then resized with a triangle (bilinear) filter to `image_size`, ignoring the
//! aspect ratio; an image already of that size and kind is copied unchanged, to
//! the bit. Alpha is dropped. Decoding runs in parallel on rayon's pool.
//!
//! Bad images follow [`OnBadImage`]: `Fail` stops at the first (in listing
//! order) with a [`SourceError`] naming the file, `Skip` leaves it out and counts
//! it. With a [`LoadOptions::cache_dir`], the converted collection is kept in
//! one file there and read back instead of decoding while no source file
//! changed (see [`LoadReport::from_cache`]). [`ImageCollection::save_idx`]
//! writes MNIST-layout IDX files plus `classes.txt` and the images' origins,
//! which [`Mnist::load`](crate::Mnist::load) and [`ImageCollection::load_idx`] read.
//!
//! Every image keeps its origin (its file, or `images.npy[i]`) through the
//! split and the cache ([`ImageCollection::train_origins`]), so whatever is
//! found among the images can be named. [`read_image`] converts one more file
//! exactly as a collection's images were, for queries against a trained tower.
//!
//! # Example
//!
//! ```
//! use siamese_data::sources::{ImageCollection, ImageSource, LoadOptions};
//!
//! // Two classes of four 28×28 grayscale PNGs each.
//! let root = tempfile::tempdir()?;
//! for (class, shade) in [("circle", 50u8), ("square", 200)] {
//!     std::fs::create_dir(root.path().join(class))?;
//!     for i in 0..4u8 {
//!         let img = image::GrayImage::from_pixel(28, 28, image::Luma([shade + i]));
//!         img.save(root.path().join(class).join(format!("{i}.png")))?;
//!     }
//! }
//!
//! // The cache may live inside the collection: it is not taken for a class.
//! let options = LoadOptions { cache_dir: Some(root.path().join("cache")), ..Default::default() };
//! let loaded = ImageCollection::load(&ImageSource::Folder(root.path().into()), &options)?;
//! let c = &loaded.collection;
//! assert_eq!(c.class_names, ["circle", "square"]);
//! assert_eq!((c.train.len(), c.test.len()), (6, 2)); // a fifth of each class held out
//! assert_eq!(c.train.image_shape(), &[28, 28]);
//! assert!(!loaded.report.from_cache);
//!
//! // Nothing changed: the second load reads the cache.
//! let again = ImageCollection::load(&ImageSource::Folder(root.path().into()), &options)?;
//! assert!(again.report.from_cache);
//! assert_eq!(again.collection, loaded.collection);
//!
//! // As MNIST-layout IDX files, for every tool that reads MNIST.
//! let idx = root.path().join("idx");
//! c.save_idx(&idx, siamese_data::Compression::Gzip)?;
//! assert_eq!(ImageCollection::load_idx(&idx)?, *c);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

mod cache;
mod convert;
mod error;
mod export;
mod folder;
mod listing;
mod manifest;
mod npy;
mod split;

pub use convert::{read_image, read_images};
pub use error::SourceError;
pub use folder::image_files;

/// How many skipped images a [`LoadReport`] lists by name (all are counted).
pub const MAX_REPORTED_SKIPS: usize = 10;

/// Where a collection of images comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A folder of class folders (`root/<class>/<images>`), optionally under
    /// `root/train/` and `root/test/`.
    Folder(PathBuf),
    /// A CSV file with `path,label[,split]` columns; paths relative to its folder.
    Manifest(PathBuf),
    /// NumPy arrays: `images` (`uint8`, `[N, H, W]` or `[N, H, W, C]`) and
    /// `labels` (integers, `[N]`), and optionally a separate test pair.
    Npy {
        /// The image array.
        images: PathBuf,
        /// The label array.
        labels: PathBuf,
        /// Test images and labels; without them the test split is drawn by [`TestSplit`].
        test: Option<(PathBuf, PathBuf)>,
    },
}

impl ImageSource {
    /// The source a path names: a `.csv` file is a manifest; a folder holding
    /// `images.npy` and `labels.npy` is a NumPy source (with `test_images.npy` and
    /// `test_labels.npy` as its test split, if both are there); any other folder
    /// is an image folder.
    pub fn detect(path: impl AsRef<Path>) -> Result<ImageSource> {
        let path = path.as_ref();
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if path.is_file() && is_csv {
            return Ok(ImageSource::Manifest(path.to_path_buf()));
        }
        if !path.is_dir() {
            return Err(SourceError::UnknownSource {
                path: path.to_path_buf(),
            }
            .into());
        }
        let (images, labels) = (path.join("images.npy"), path.join("labels.npy"));
        if images.is_file() && labels.is_file() {
            let test = (path.join("test_images.npy"), path.join("test_labels.npy"));
            let test = (test.0.is_file() && test.1.is_file()).then_some(test);
            return Ok(ImageSource::Npy {
                images,
                labels,
                test,
            });
        }
        Ok(ImageSource::Folder(path.to_path_buf()))
    }

    /// `"folder"`, `"manifest"` or `"npy"`.
    pub fn kind(&self) -> &'static str {
        match self {
            ImageSource::Folder(_) => "folder",
            ImageSource::Manifest(_) => "manifest",
            ImageSource::Npy { .. } => "npy",
        }
    }

    /// The folder, manifest or image array the source is named by.
    pub fn path(&self) -> &Path {
        match self {
            ImageSource::Folder(p) | ImageSource::Manifest(p) => p,
            ImageSource::Npy { images, .. } => images,
        }
    }
}

/// The pixel format of the loaded images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Channels {
    /// One channel, shape `[H, W]`: `image`'s `to_luma8` (Rec. 709 luma).
    #[default]
    Gray,
    /// Three channels, stored interleaved (HWC), shape `[H, W, 3]`.
    Rgb,
}

impl Channels {
    /// 1 or 3.
    pub fn count(self) -> usize {
        match self {
            Channels::Gray => 1,
            Channels::Rgb => 3,
        }
    }
}

/// What to do with an image that cannot be used (corrupt, truncated, not an
/// image, a manifest row pointing nowhere or with a bad label, an empty class folder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnBadImage {
    /// Stop with an error naming the first bad file (and manifest line).
    #[default]
    Fail,
    /// Leave it out and go on; the [`LoadReport`] counts and names it. An empty
    /// class folder is dropped and listed in [`LoadReport::empty_class_folders`].
    Skip,
}

/// How a source without its own train/test split is split: per class, a seeded
/// random `fraction` of its images (rounded to the nearest whole image) goes to test.
///
/// The draw depends only on the seed and each class's sorted list of files, so
/// the same collection and seed give the same split on every machine, and a
/// file added to one class leaves the other classes' splits as they were.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestSplit {
    /// Share of each class held out for testing, in `0..=1`.
    pub fraction: f64,
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for TestSplit {
    /// A fifth held out, seed 0.
    fn default() -> Self {
        TestSplit {
            fraction: 0.2,
            seed: 0,
        }
    }
}

/// How to read and convert a collection.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Gray or RGB.
    pub channels: Channels,
    /// The `[height, width]` every image is resized to (each 1 to 16384).
    pub image_size: [usize; 2],
    /// What to do with bad images.
    pub on_bad_image: OnBadImage,
    /// The split of a source that has none of its own.
    pub test_split: TestSplit,
    /// A folder for the decode cache (created if missing); `None` decodes every time.
    pub cache_dir: Option<PathBuf>,
}

impl Default for LoadOptions {
    /// Gray 28×28 (MNIST's shape), fail on bad images, a fifth for testing, no cache.
    fn default() -> Self {
        LoadOptions {
            channels: Channels::Gray,
            image_size: [28, 28],
            on_bad_image: OnBadImage::Fail,
            test_split: TestSplit::default(),
            cache_dir: None,
        }
    }
}

/// The largest image side [`LoadOptions::image_size`] accepts, and that a decoder
/// may report before it is refused.
pub const MAX_IMAGE_SIDE: usize = 1 << 14;

impl LoadOptions {
    /// The shape of one converted image: `[H, W]` for gray, `[H, W, 3]` for RGB.
    pub fn image_shape(&self) -> Vec<usize> {
        let [h, w] = self.image_size;
        match self.channels {
            Channels::Gray => vec![h, w],
            Channels::Rgb => vec![h, w, 3],
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(SourceError::InvalidOptions { reason }.into());
        if self
            .image_size
            .iter()
            .any(|&s| s == 0 || s > MAX_IMAGE_SIDE)
        {
            return bad(format!(
                "image_size {:?}; expected height and width in 1..={MAX_IMAGE_SIDE}",
                self.image_size
            ));
        }
        let f = self.test_split.fraction;
        if !(0.0..=1.0).contains(&f) {
            return bad(format!("test fraction {f}; expected a number in 0..=1"));
        }
        Ok(())
    }
}

/// Train and test images of one collection, with the names of its classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageCollection {
    /// The training images.
    pub train: Dataset,
    /// The test images; same shape and class count as `train`.
    pub test: Dataset,
    /// The name of each class, indexed by label.
    pub class_names: Vec<String>,
    /// Where each training image came from, by row: its file's path as found (for a
    /// folder, the root joined with the file's place in it; for a manifest, the CSV's
    /// folder joined with its `path`), or `images.npy[i]` for row `i` of an array.
    pub train_origins: Vec<String>,
    /// Where each test image came from, as [`train_origins`](Self::train_origins).
    pub test_origins: Vec<String>,
}

/// An image left out under [`OnBadImage::Skip`], and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedImage {
    /// The image file (for a manifest row without a usable path, the manifest).
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: String,
}

impl fmt::Display for SkippedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What a load found besides the images.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Images loaded (train and test).
    pub images: usize,
    /// Files that are not images by their extension (or are hidden), ignored.
    pub ignored_files: usize,
    /// Folders nested below class folders (and hidden folders), ignored.
    pub ignored_dirs: usize,
    /// Class folders without images, dropped under [`OnBadImage::Skip`].
    pub empty_class_folders: Vec<PathBuf>,
    /// How many images (or manifest rows) were skipped.
    pub skipped_count: usize,
    /// The first [`MAX_REPORTED_SKIPS`] of them, in the order found.
    pub skipped: Vec<SkippedImage>,
    /// Whether the images came from the decode cache rather than the sources.
    pub from_cache: bool,
    /// Why a cache file that was there could not be used, if it could not.
    pub cache_note: Option<String>,
}

impl LoadReport {
    fn skip(&mut self, path: PathBuf, reason: String) {
        self.skipped_count += 1;
        if self.skipped.len() < MAX_REPORTED_SKIPS {
            self.skipped.push(SkippedImage { path, reason });
        }
    }
}

/// A loaded collection and the report of its load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The images and class names.
    pub collection: ImageCollection,
    /// What was ignored, skipped or cached.
    pub report: LoadReport,
}

impl ImageCollection {
    /// Reads a collection, converting every image to `options`; see the
    /// [module docs](self) for the source kinds and the conversion.
    ///
    /// With a cache folder, a source whose files (paths, sizes and modification
    /// times) and options are unchanged since the last load is read from the
    /// cache alone; anything else, including a damaged cache file, decodes
    /// afresh and rewrites the cache.
    ///
    /// # Errors
    /// A [`SourceError`] for a bad image under [`OnBadImage::Fail`] (naming the
    /// file and, for a manifest, the line), an unparsable manifest or array, or
    /// invalid options; [`DataError::CountMismatch`] when image and label arrays
    /// differ in length (under either policy: nothing pairs the rest); I/O errors
    /// naming the path.
    pub fn load(source: &ImageSource, options: &LoadOptions) -> Result<Loaded> {
        options.validate()?;
        let cache = match &options.cache_dir {
            Some(dir) => Some(cache::Slot::open(dir, source, options)?),
            None => None,
        };
        let loaded = match source {
            ImageSource::Folder(_) | ImageSource::Manifest(_) => {
                let listing = match source {
                    ImageSource::Manifest(csv) => manifest::list(csv, options)?,
                    _ => folder::list(source.path(), options)?,
                };
                // Stamps are only for the key: no cache, no need to gather them.
                let stamps = if cache.is_some() {
                    listing.stamps()
                } else {
                    Vec::new()
                };
                cached(cache, options, stamps, || {
                    convert::decode_listing(listing, options)
                })?
            }
            ImageSource::Npy {
                images,
                labels,
                test,
            } => {
                let files = npy::NpyFiles::new(images, labels, test.as_ref());
                cached(cache, options, files.stamps(), || {
                    npy::load(&files, options)
                })?
            }
        };
        Ok(loaded)
    }
}

/// Looks the source up in the cache, else builds it and stores it there.
fn cached(
    slot: Option<cache::Slot>,
    options: &LoadOptions,
    stamps: Vec<listing::Stamp>,
    build: impl FnOnce() -> Result<Loaded>,
) -> Result<Loaded> {
    let Some(slot) = slot else {
        return build();
    };
    let key = slot.key(options, &stamps);
    let note = match slot.read(&key) {
        Ok(Some(mut hit)) => {
            hit.report.from_cache = true;
            return Ok(hit);
        }
        Ok(None) => None,
        Err(reason) => Some(reason),
    };
    let mut loaded = build()?;
    loaded.report.cache_note = note;
    slot.write(&key, &loaded).map_err(DataError::from)?;
    Ok(loaded)
}
