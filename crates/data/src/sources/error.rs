//! What can be wrong with an image collection, each naming the file (and manifest line).

use std::path::PathBuf;

/// An image collection that cannot be read as asked: a bad image under
/// [`OnBadImage::Fail`](super::OnBadImage::Fail), a malformed manifest or array
/// file, or options that make no sense. Reached through
/// [`DataError::Source`](crate::DataError::Source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// An image file that cannot be decoded: corrupt, truncated, not an image
    /// at all, or larger than the decoding limits.
    #[error("{path}: cannot decode image: {reason}")]
    BadImage {
        /// The image file.
        path: PathBuf,
        /// The decoder's complaint.
        reason: String,
    },

    /// A class folder with no image files in it.
    #[error(
        "{dir}: class folder holds no image files (png, jpg/jpeg, bmp, gif, tif/tiff, webp); \
         add images, remove the folder, or load with OnBadImage::Skip to drop the class"
    )]
    EmptyClass {
        /// The class folder.
        dir: PathBuf,
    },

    /// A folder with no class folders in it.
    #[error(
        "{root}: no class folders found; expected root/<class name>/<image files> \
         (optionally under train/ and test/)"
    )]
    NoClasses {
        /// The folder searched.
        root: PathBuf,
    },

    /// A folder that has `train/` but no `test/`, or the reverse.
    #[error(
        "{root}: has a {present}/ folder but no {missing}/ folder; expected both (a split \
         collection) or neither (one tree, split by the test fraction)"
    )]
    IncompleteSplit {
        /// The collection's root folder.
        root: PathBuf,
        /// The split folder found.
        present: &'static str,
        /// The split folder missing.
        missing: &'static str,
    },

    /// Nothing could be loaded: every image was bad and skipped.
    #[error("{origin}: no image could be loaded ({skipped} skipped); expected at least one")]
    NoImages {
        /// The collection.
        origin: PathBuf,
        /// How many images were skipped.
        skipped: usize,
    },

    /// A manifest that cannot be parsed, or a row with a bad field.
    #[error("{manifest}: line {line}{}: {reason}", column_suffix(.column.as_deref()))]
    Manifest {
        /// The CSV file.
        manifest: PathBuf,
        /// The 1-based line the row starts on.
        line: u64,
        /// The column's header name, when one field is at fault.
        column: Option<String>,
        /// What is wrong, and what is expected.
        reason: String,
    },

    /// A manifest row naming an image file that does not exist.
    #[error("{manifest}: line {line}, column path: image {image} not found")]
    ManifestMissingImage {
        /// The CSV file.
        manifest: PathBuf,
        /// The 1-based line the row starts on.
        line: u64,
        /// The image path, resolved against the manifest's folder.
        image: PathBuf,
    },

    /// A manifest row whose image file cannot be decoded.
    #[error("{manifest}: line {line}: cannot decode image {image}: {reason}")]
    ManifestBadImage {
        /// The CSV file.
        manifest: PathBuf,
        /// The 1-based line the row starts on.
        line: u64,
        /// The image path, resolved against the manifest's folder.
        image: PathBuf,
        /// The decoder's complaint.
        reason: String,
    },

    /// A `.npy` file that cannot be read, or whose type or shape does not fit its role.
    #[error("{path}: {reason}")]
    Npy {
        /// The `.npy` file.
        path: PathBuf,
        /// What is wrong, and what is expected.
        reason: String,
    },

    /// Options that cannot be honoured (e.g. a zero image size).
    #[error("invalid image-collection options: {reason}")]
    InvalidOptions {
        /// Which option is wrong, its value, and what is expected.
        reason: String,
    },

    /// A path that is none of the source kinds [`ImageSource::detect`](super::ImageSource::detect) knows.
    #[error(
        "{path}: not an image collection; expected a .csv manifest, a folder with \
         images.npy and labels.npy, or a folder of class folders"
    )]
    UnknownSource {
        /// The path given.
        path: PathBuf,
    },
}

fn column_suffix(column: Option<&str>) -> String {
    column.map_or_else(String::new, |c| format!(", column {c}"))
}
