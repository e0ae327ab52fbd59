//! The importer: a loaded collection written as MNIST-layout IDX files plus
//! `classes.txt`, and read back.

use std::fs;
use std::io;
use std::path::Path;

use super::ImageCollection;
use crate::classes::{read_class_names, write_class_names};
use crate::error::{DataError, Result};
use crate::idx::Compression;
use crate::mnist::{self, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use crate::origins::{idx_origins, write_idx_origins};

impl ImageCollection {
    /// Writes the collection into `dir` (created if needed) as the four
    /// MNIST-layout files — `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, with `.gz` when
    /// gzipped — plus `classes.txt` and the origins of the images
    /// ([`TRAIN_ORIGINS`](crate::TRAIN_ORIGINS), [`TEST_ORIGINS`](crate::TEST_ORIGINS)),
    /// each atomically.
    ///
    /// Images are `u8` of shape `[N, H, W]`, or `[N, H, W, 3]` for RGB (the file
    /// names keep MNIST's `idx3` either way, so MNIST tools find them); labels are
    /// `u8` up to 256 classes, `i32` beyond. [`Mnist::load`](crate::Mnist::load)
    /// reads the files back to the same pixels and labels, and
    /// [`load_idx`](Self::load_idx) also restores the class names, count and origins.
    ///
    /// A file of the same name in the other compression is removed, since the
    /// readers prefer the raw file and would otherwise read a stale one.
    pub fn save_idx(&self, dir: impl AsRef<Path>, compression: Compression) -> Result<()> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|source| DataError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = |base: &str, gz: bool| {
            if gz {
                dir.join(format!("{base}.gz"))
            } else {
                dir.join(base)
            }
        };
        let gz = compression == Compression::Gzip;
        for (ds, images, labels) in [
            (&self.train, TRAIN_IMAGES, TRAIN_LABELS),
            (&self.test, TEST_IMAGES, TEST_LABELS),
        ] {
            ds.save_idx(name(images, gz), name(labels, gz), compression)?;
            for stale in [name(images, !gz), name(labels, !gz)] {
                match fs::remove_file(&stale) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(DataError::Io {
                            path: stale,
                            source: e,
                        });
                    }
                    _ => {}
                }
            }
        }
        write_class_names(dir, &self.class_names)?;
        write_idx_origins(dir, &self.train_origins, &self.test_origins)
    }

    /// Reads an MNIST-layout directory as a collection: the class names and
    /// count from its `classes.txt` if it has one (so a class without training
    /// images keeps its label), else `1 + max training label` classes named by
    /// their numbers; the origins from the origins files if it has them, else
    /// numbered rows of the image files ([`idx_origins`]).
    pub fn load_idx(dir: impl AsRef<Path>) -> Result<ImageCollection> {
        let dir = dir.as_ref();
        let names = read_class_names(dir)?;
        let m = mnist::load_dir(dir, names.as_ref().map(Vec::len))?;
        let class_names =
            names.unwrap_or_else(|| (0..m.train.num_classes()).map(|i| i.to_string()).collect());
        let (train_origins, test_origins) = idx_origins(dir, m.train.len(), m.test.len())?;
        Ok(ImageCollection {
            train: m.train,
            test: m.test,
            class_names,
            train_origins,
            test_origins,
        })
    }
}
