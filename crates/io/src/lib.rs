//! The two file chores every siamese crate shares, written once: writing a file so that
//! no reader ever sees half of it, and reading and writing versioned safetensors files
//! (towers, checkpoints, search indexes).
//!
//! ```
//! use std::collections::BTreeMap;
//! use siamese_io::{F32Tensor, TensorFile, write_tensor_file};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("weights.safetensors");
//! let kernel = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let tensors = [F32Tensor { name: "kernel", shape: vec![2, 3], values: &kernel }];
//! write_tensor_file(&path, ("example.version", "1"), &tensors, &BTreeMap::new())?;
//!
//! let file = TensorFile::read(&path, ("example.version", "1"), "an example file")?;
//! assert_eq!(file.f32_tensor("kernel", Some(&[2, 3]))?, kernel);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod atomic;
#[cfg(feature = "tensors")]
mod tensors;

pub use atomic::{WriteError, write_atomically, write_atomically_with};
#[cfg(feature = "tensors")]
pub use tensors::{F32Tensor, TensorFile, write_tensor_file, write_tensors};

#[cfg(all(any(test, feature = "testing"), target_os = "linux"))]
pub mod testing;

#[cfg(all(test, target_os = "linux"))]
mod full_disk_tests;

use std::path::PathBuf;

/// A file that could not be read or written, or whose content is not what it should be.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The operating system refused a read or write.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said. Part of the message and so not also a
        /// `source()`: a chain printer (`{:#}` of anyhow) would show it twice.
        error: std::io::Error,
    },
    /// The bytes are not a file of the expected kind or version.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. ``tensor `params`: expected F32 [10], found F32 [12]``.
        message: String,
    },
}

impl FileError {
    /// A read or write of `path` that the operating system refused.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        FileError::Io {
            path: path.into(),
            error,
        }
    }

    /// A `path` whose content is not what it should be.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        FileError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<WriteError> for FileError {
    fn from(WriteError { path, error }: WriteError) -> Self {
        FileError::Io { path, error }
    }
}
