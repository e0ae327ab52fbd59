//! Loading MNIST-layout directories (MNIST, Fashion-MNIST, KMNIST,
//! EMNIST-digits, ...) and locating them.

use std::path::{Path, PathBuf};
use std::thread;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// Standard name of the training images file (without `.gz`).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Standard name of the training labels file (without `.gz`).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Standard name of the test images file (without `.gz`).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Standard name of the test labels file (without `.gz`).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// The four standard file names, in the order above.
pub const MNIST_FILES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// Where the data is looked for when neither a path nor
/// [`DATA_DIR_ENV`] is given, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "data/mnist";

/// The environment variable naming the data directory: `SIAMESE_DATA_DIR`.
pub const DATA_DIR_ENV: &str = "SIAMESE_DATA_DIR";

/// The data directory named by the `SIAMESE_DATA_DIR` environment variable,
/// if it is set and non-empty.
pub fn data_dir_from_env() -> Option<PathBuf> {
    std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `SIAMESE_DATA_DIR` if set, else [`DEFAULT_DATA_DIR`].
pub fn default_data_dir() -> PathBuf {
    resolve_data_dir(None, PathBuf::from(DEFAULT_DATA_DIR))
}

/// Where the data lives, by the one precedence every command follows: the directory the
/// user named (`--data`), else `SIAMESE_DATA_DIR`, else the `configured` one (a config's
/// `data.dir`).
///
/// ```
/// use std::path::PathBuf;
/// let chosen = siamese_data::resolve_data_dir(Some("here".into()), "data/mnist".into());
/// assert_eq!(chosen, PathBuf::from("here"));
/// ```
pub fn resolve_data_dir(flag: Option<PathBuf>, configured: PathBuf) -> PathBuf {
    flag.or_else(data_dir_from_env).unwrap_or(configured)
}

/// The path of file `name` in `dir`, raw or gzipped, whichever exists.
///
/// When both exist the raw file wins: it is the same data and skips
/// decompression.
pub fn resolve_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Some(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    gz.is_file().then_some(gz)
}

/// Refuses a data directory path that names something other than a directory, before
/// anything looks for files in it or tries to create it.
///
/// # Errors
/// [`DataError::NotADirectory`] when `dir` exists and is not a directory; a `dir` that does
/// not exist yet passes (a download creates it).
pub fn check_data_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(DataError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// The standard files (names from [`MNIST_FILES`]) found in `dir` neither raw
/// nor gzipped.
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    MNIST_FILES
        .into_iter()
        .filter(|name| resolve_file(dir, name).is_none())
        .collect()
}

/// The training and test splits of an MNIST-layout directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mnist {
    /// The `train-*` files.
    pub train: Dataset,
    /// The `t10k-*` files; same class count as `train`.
    pub test: Dataset,
}

impl Mnist {
    /// Loads the four standard files from `dir`, each raw or gzipped.
    ///
    /// The class count is `1 + max training label`; a test label at or above
    /// it is an error. Image shapes come from the files, not from MNIST's
    /// 28×28. If files are missing, the error lists all of them.
    ///
    /// # Errors
    /// [`DataError::NotADirectory`] or [`DataError::NoDirectory`] when `dir` is not a
    /// directory, [`DataError::MissingMnistFiles`] when files are missing, and the errors of
    /// reading IDX files.
    pub fn load(dir: impl AsRef<Path>) -> Result<Mnist> {
        let dir = dir.as_ref();
        check_data_dir(dir)?;
        if !dir.exists() {
            return Err(DataError::NoDirectory {
                dir: dir.to_path_buf(),
            });
        }
        load_dir(dir, None)
    }
}

/// [`Mnist::load`] with the class count given (e.g. by a `classes.txt`), so that
/// classes without training images still count and bound the test labels.
pub(crate) fn load_dir(dir: &Path, num_classes: Option<usize>) -> Result<Mnist> {
    let paths: Vec<PathBuf> = MNIST_FILES
        .iter()
        .filter_map(|name| resolve_file(dir, name))
        .collect();
    let [train_images, train_labels, test_images, test_labels] = <[PathBuf; 4]>::try_from(paths)
        .map_err(|_| DataError::MissingMnistFiles {
            dir: dir.to_path_buf(),
            missing: missing_files(dir),
        })?;

    // Decompressing the training images dominates; doing it on a second
    // thread while the rest loads roughly halves the wall time.
    let (train, test) = thread::scope(|s| {
        let train = s.spawn(|| Dataset::load(&train_images, &train_labels, num_classes));
        let test_arrays = crate::IdxArray::read(&test_images)
            .and_then(|i| Ok((i, crate::IdxArray::read(&test_labels)?)));
        let train = match train.join() {
            Ok(r) => r,
            // ok: loading does not panic; if it ever did, that bug should
            // surface unchanged rather than as a data error.
            Err(payload) => std::panic::resume_unwind(payload),
        };
        (train, test_arrays)
    });
    let train = train?;
    let (ti, tl) = test?;
    let test = Dataset::from_idx(
        ti,
        tl,
        Some(train.num_classes()),
        &test_images,
        &test_labels,
    )?;
    if test.image_shape() != train.image_shape() {
        return Err(DataError::ImageShapeMismatch {
            train: train_images,
            test: test_images,
            train_shape: train.image_shape().to_vec(),
            test_shape: test.image_shape().to_vec(),
        });
    }
    Ok(Mnist { train, test })
}

/// Same as [`Mnist::load`].
pub fn load_mnist_dir(dir: &Path) -> Result<Mnist> {
    Mnist::load(dir)
}
