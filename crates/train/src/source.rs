//! The images of a run's data source, loaded the same way for training, evaluation and
//! queries: IDX files, or a user's own collection decoded (or read from its cache) into
//! the same `u8` datasets.

use std::path::{Path, PathBuf};

use siamese_data::{
    Channels, Dataset, ImageCollection, ImageSource, LoadOptions, LoadReport, Mnist, TestSplit,
    epoch_seed, idx_origins, read_class_names,
};

use crate::config::{
    Config, DEFAULT_CHANNELS, DEFAULT_IMAGE_SIZE, DEFAULT_TEST_FRACTION, DataSource,
};
use crate::{Result, seeds};

/// The folder `.siamese-cache` beside the run directory, shared by the runs next to it.
const CACHE_FOLDER: &str = ".siamese-cache";

/// A run's training and test images, the config's limits applied.
#[derive(Clone, Debug)]
pub struct SourceImages {
    /// The training images (validation images not yet held out), in the source's order
    /// (a folder's: one image of each class in turn).
    pub train: Dataset,
    /// The test images.
    pub test: Dataset,
    /// Where each training image came from, by row (in the order of `train`): a file's
    /// path, `images.npy[i]`, or a row of an IDX file (`train-images-idx3-ubyte[i]`,
    /// unless a `train-origins.txt` written by the importer names the files).
    pub train_origins: Vec<String>,
    /// Where each test image came from, as `train_origins`.
    pub test_origins: Vec<String>,
    /// The name of each class, by label: folder names, manifest labels, or the lines of a
    /// `classes.txt` beside IDX files or arrays; `None` when nothing names them.
    pub class_names: Option<Vec<String>>,
    /// What loading an image collection skipped, ignored or took from the cache; `None`
    /// for IDX files.
    pub report: Option<LoadReport>,
}

impl SourceImages {
    /// Loads the images of `config`'s data source and applies `train_limit` and
    /// `test_limit` (refusing limits beyond the data).
    ///
    /// # Errors
    /// The data's errors (each naming its file), and [`crate::TrainError::ConfigVsData`]
    /// for a limit beyond the data.
    pub fn load(config: &Config) -> Result<Self> {
        let mut images = match source(config) {
            None => {
                let dir = &config.data.dir;
                let Mnist { train, test } = Mnist::load(dir)?;
                let (train_origins, test_origins) = idx_origins(dir, train.len(), test.len())?;
                Self {
                    train,
                    test,
                    train_origins,
                    test_origins,
                    class_names: read_class_names(dir)?,
                    report: None,
                }
            }
            Some(source) => {
                let loaded = ImageCollection::load(&source, &load_options(config))?;
                let c = loaded.collection;
                Self {
                    train: c.train,
                    test: c.test,
                    train_origins: c.train_origins,
                    test_origins: c.test_origins,
                    class_names: Some(c.class_names),
                    report: Some(loaded.report),
                }
            }
        };
        config.check_data_limits(&images.train, &images.test)?;
        if let Some(n) = config.data.train_limit {
            images.train.truncate(n);
            images.train_origins.truncate(n);
        }
        if let Some(n) = config.data.test_limit {
            images.test.truncate(n);
            images.test_origins.truncate(n);
        }
        Ok(images)
    }

    /// The origin of training image `i` (a row of [`SourceImages::train`]), or `"?"` past
    /// the end.
    pub fn train_origin(&self, i: usize) -> &str {
        self.train_origins.get(i).map_or("?", String::as_str)
    }

    /// The origin of test image `i`, as [`SourceImages::train_origin`].
    pub fn test_origin(&self, i: usize) -> &str {
        self.test_origins.get(i).map_or("?", String::as_str)
    }
}

/// The image collection a config names, or `None` for IDX files.
fn source(config: &Config) -> Option<ImageSource> {
    Some(match &config.data.source {
        DataSource::Idx => return None,
        DataSource::Folder(root) => ImageSource::Folder(root.clone()),
        DataSource::Manifest(csv) => ImageSource::Manifest(csv.clone()),
        DataSource::Npy {
            images,
            labels,
            test,
        } => ImageSource::Npy {
            images: images.clone(),
            labels: labels.clone(),
            test: test.clone(),
        },
    })
}

/// How a config's image collection is decoded and converted.
pub fn load_options(config: &Config) -> LoadOptions {
    let data = &config.data;
    let (height, width) = data.image_size.unwrap_or(DEFAULT_IMAGE_SIZE);
    LoadOptions {
        channels: if data.channels.unwrap_or(DEFAULT_CHANNELS) == 3 {
            Channels::Rgb
        } else {
            Channels::Gray
        },
        image_size: [height, width],
        on_bad_image: data.on_bad_image.into(),
        test_split: TestSplit {
            fraction: data.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION),
            seed: epoch_seed(config.training.seed, seeds::TEST_SPLIT),
        },
        cache_dir: Some(cache_dir(config)),
    }
}

/// `data.cache_dir`, else `.siamese-cache` beside the run directory.
fn cache_dir(config: &Config) -> PathBuf {
    config.data.cache_dir.clone().unwrap_or_else(|| {
        config
            .output
            .dir
            .parent()
            .unwrap_or(Path::new("."))
            .join(CACHE_FOLDER)
    })
}
