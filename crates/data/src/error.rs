//! The crate's single error type.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

use crate::idx::{IdxType, MAX_DIMS, MAX_PAYLOAD_BYTES};

/// `Result` with [`DataError`] as the default error type.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading, validating or sampling data.
///
/// Messages name the file involved (when there is one) and state what was
/// expected and what was found, so they can be shown to users as they are. A
/// variant that wraps an operating-system or decoder error returns it as its
/// [`source`](std::error::Error::source) and leaves it out of its own message,
/// so a printed chain of causes says it once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A single file that was asked for does not exist.
    #[error("{path}: file not found; put the file at this path (or pass the right path)")]
    MissingFile {
        /// The path that was looked up.
        path: PathBuf,
    },

    /// The data directory is a file (or another non-directory).
    #[error("{path} is a file, not a directory; expected a directory of MNIST-layout files")]
    NotADirectory {
        /// The path given as the data directory.
        path: PathBuf,
    },

    /// The data directory does not exist.
    #[error(
        "{dir}: no such directory; expected one holding the four MNIST-layout files \
         (train-images-idx3-ubyte[.gz], ...), or set the SIAMESE_DATA_DIR environment \
         variable to one"
    )]
    NoDirectory {
        /// The path given as the data directory.
        dir: PathBuf,
    },

    /// Some of the four files of an MNIST-layout directory are missing.
    #[error(
        "MNIST-layout files missing from {dir}: {}; put them in that directory, \
         gzipped (with a .gz suffix) or raw, or set the SIAMESE_DATA_DIR environment \
         variable to a directory that has them",
        display_names(.missing)
    )]
    MissingMnistFiles {
        /// The directory that was searched.
        dir: PathBuf,
        /// The standard names (without `.gz`) of the files found in neither form.
        missing: Vec<&'static str>,
    },

    /// The operating system reported an error while reading or writing `path`.
    #[error("{path}: I/O error")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The gzip stream in `path` is corrupt.
    #[error("{path}: corrupt gzip data")]
    Gzip {
        /// The file being read.
        path: PathBuf,
        /// The decoder's error.
        source: io::Error,
    },

    /// The first two bytes are not the IDX magic `00 00`.
    #[error(
        "{path}: not an IDX file: expected magic bytes 00 00 <type> <ndims>, found {}",
        hex_bytes(.found)
    )]
    BadMagic {
        /// The file being read.
        path: PathBuf,
        /// The four bytes found at the start of the (decompressed) file.
        found: [u8; 4],
    },

    /// The third magic byte is not one of the six element types of the format.
    #[error(
        "{path}: unknown IDX element type 0x{code:02X}; expected one of 0x08 (u8), \
         0x09 (i8), 0x0B (i16), 0x0C (i32), 0x0D (f32), 0x0E (f64)"
    )]
    UnknownElementType {
        /// The file being read.
        path: PathBuf,
        /// The type byte found.
        code: u8,
    },

    /// The header declares zero dimensions.
    #[error("{path}: IDX header declares 0 dimensions; expected between 1 and {MAX_DIMS}")]
    ZeroDimensions {
        /// The file being read.
        path: PathBuf,
    },

    /// The header declares more dimensions than any sane file has.
    #[error("{path}: IDX header declares {found} dimensions; expected at most {MAX_DIMS}")]
    TooManyDimensions {
        /// The file being read.
        path: PathBuf,
        /// The number of dimensions in the header.
        found: usize,
    },

    /// The shape in the header implies an absurd payload (or overflows).
    #[error(
        "{path}: IDX header shape {shape:?} of {elem_type} elements implies {}, \
         more than the {MAX_PAYLOAD_BYTES}-byte cap",
        payload_size(*.bytes)
    )]
    TooLarge {
        /// The file being read.
        path: PathBuf,
        /// The dimensions in the header.
        shape: Vec<u32>,
        /// The element type in the header.
        elem_type: IdxType,
        /// The payload size in bytes, or `None` if it does not fit in a `u64`.
        bytes: Option<u64>,
    },

    /// The file ends before the header or the payload is complete.
    #[error("{path}: truncated IDX {part}: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file being read.
        path: PathBuf,
        /// `"header"` or `"payload"`.
        part: &'static str,
        /// The number of bytes the header implies.
        expected: u64,
        /// The number of bytes actually present.
        found: u64,
    },

    /// Bytes follow the payload, so the header and the data disagree.
    #[error(
        "{path}: {trailing} trailing bytes after the {expected}-byte payload that the \
         IDX header implies"
    )]
    TrailingBytes {
        /// The file being read.
        path: PathBuf,
        /// The payload size the header implies.
        expected: u64,
        /// How many bytes follow it.
        trailing: u64,
    },

    /// An image file and its label file hold different numbers of items.
    #[error(
        "{images} holds {image_count} images but {labels} holds {label_count} labels; \
         expected the same count"
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Number of images.
        image_count: usize,
        /// Number of labels.
        label_count: usize,
    },

    /// The test images' shape differs from the training images'.
    #[error(
        "{test}: images have shape {test_shape:?}, but the training images in {train} have \
         {train_shape:?}; expected the same"
    )]
    ImageShapeMismatch {
        /// The training image file.
        train: PathBuf,
        /// The test image file.
        test: PathBuf,
        /// Shape of one training image.
        train_shape: Vec<usize>,
        /// Shape of one test image.
        test_shape: Vec<usize>,
    },

    /// A label is negative or not below the number of classes.
    #[error(
        "{origin}: label {label} at index {index} is out of range; expected 0 <= label < \
         {num_classes} (the number of classes)"
    )]
    LabelOutOfRange {
        /// The label file, or a description of where the labels came from.
        origin: String,
        /// Position of the label.
        index: usize,
        /// The offending value.
        label: i64,
        /// The number of classes labels must stay below.
        num_classes: usize,
    },

    /// The labels imply more classes than [`MAX_CLASSES`](crate::MAX_CLASSES).
    #[error(
        "{origin}: {num_classes} classes requested or implied by the labels; expected at \
         most {max}"
    )]
    TooManyClasses {
        /// The label file, or a description of where the labels came from.
        origin: String,
        /// The requested or implied class count.
        num_classes: usize,
        /// The cap.
        max: usize,
    },

    /// An image or label file has the wrong element type.
    #[error("{path}: {role} must have element type {expected}, found {found}")]
    WrongElementType {
        /// The file being read.
        path: PathBuf,
        /// `"images"` or `"labels"`.
        role: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// What the header says.
        found: IdxType,
    },

    /// An image or label file has the wrong number of dimensions.
    #[error("{path}: {role} must have {expected}, found shape {found:?}")]
    WrongRank {
        /// The file being read.
        path: PathBuf,
        /// `"images"` or `"labels"`.
        role: &'static str,
        /// What is accepted, in words.
        expected: &'static str,
        /// The shape in the header.
        found: Vec<usize>,
    },

    /// A file's SHA-256 digest differs from the expected one.
    #[error("{path}: sha256 checksum mismatch: expected {expected}, found {found}")]
    ChecksumMismatch {
        /// The file checked.
        path: PathBuf,
        /// Expected digest, lowercase hex.
        expected: String,
        /// Actual digest, lowercase hex.
        found: String,
    },

    /// A shape and an element buffer disagree.
    #[error("shape {shape:?} holds {expected} elements, but the data has {found}")]
    ShapeMismatch {
        /// The shape given.
        shape: Vec<usize>,
        /// The product of the shape (saturated on overflow).
        expected: usize,
        /// The number of elements supplied.
        found: usize,
    },

    /// A shape that the IDX format cannot represent.
    #[error(
        "shape {shape:?} cannot be written as IDX: expected 1 to {MAX_DIMS} dimensions, \
         each below 2^32"
    )]
    UnrepresentableShape {
        /// The shape given.
        shape: Vec<usize>,
    },

    /// An image shape with no pixels (empty, or a zero-sized dimension).
    #[error("image shape {shape:?} has no pixels; expected at least one dimension, all non-zero")]
    EmptyImageShape {
        /// The shape given.
        shape: Vec<usize>,
    },

    /// A pixel buffer does not hold `labels × pixels per image` bytes.
    #[error(
        "image buffer holds {found} bytes, expected {expected} ({count} images of \
         {image_len} pixels)"
    )]
    ImageBufferLength {
        /// `count × image_len`.
        expected: usize,
        /// Bytes supplied.
        found: usize,
        /// Number of labels (images).
        count: usize,
        /// Pixels per image.
        image_len: usize,
    },

    /// An output buffer has the wrong length.
    #[error("output buffer holds {found} values, expected {expected}")]
    BufferLength {
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },

    /// A sample index is not below the dataset length.
    #[error("sample index {index} is out of range for a dataset of {len} samples")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The dataset length.
        len: usize,
    },

    /// A validation split would leave no training data.
    #[error(
        "cannot hold out {requested} validation samples from a dataset of {len}; expected \
         fewer than {len}"
    )]
    ValidationTooLarge {
        /// Samples requested.
        requested: usize,
        /// Samples available.
        len: usize,
    },

    /// Pair generation needs at least two usable classes.
    #[error("pair generation needs at least 2 classes with samples, found {found}")]
    NotEnoughClasses {
        /// Number of (non-empty) classes available.
        found: usize,
    },

    /// A class has too few samples to form pairs.
    #[error("class {class} has {count} samples; pair generation needs at least {needed}")]
    ClassTooSmall {
        /// The class.
        class: u32,
        /// Its sample count.
        count: usize,
        /// The minimum required.
        needed: usize,
    },

    /// Pair indices are `u32`, so datasets must not be larger than that.
    #[error(
        "dataset has {len} samples; pair indices are u32, expected at most {}",
        u32::MAX
    )]
    TooManySamples {
        /// The dataset length.
        len: usize,
    },

    /// A positive fraction outside `0..=1` (or NaN).
    #[error("positive fraction {value} is invalid; expected a number in 0..=1")]
    InvalidPositiveFraction {
        /// The value given.
        value: f64,
    },

    /// A class-balanced batch shape with no classes or no images per class.
    #[error(
        "class-balanced batches of {classes_per_batch} classes × {images_per_class} images \
         per class are empty; expected both numbers to be at least 1"
    )]
    EmptyBatchShape {
        /// Classes per batch (P).
        classes_per_batch: usize,
        /// Images per class (K).
        images_per_class: usize,
    },

    /// A class-balanced batch asks for more distinct classes than have images.
    #[error(
        "class-balanced batches of {classes_per_batch} distinct classes need at least \
         {classes_per_batch} classes with images, found {available}"
    )]
    NotEnoughClassesForBatch {
        /// Classes per batch requested (P).
        classes_per_batch: usize,
        /// Classes that have at least one image.
        available: usize,
    },

    /// Augmentation parameters that are not finite, negative, or out of order.
    #[error("invalid augmentation parameters: {reason}")]
    InvalidAugment {
        /// Which field is wrong, its value, and what is expected.
        reason: String,
    },

    /// A `classes.txt` line that does not name a class unambiguously.
    #[error("{path}: line {line}: {reason}")]
    ClassNames {
        /// The class-names file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line, and what is expected.
        reason: String,
    },

    /// An origins file (`train-origins.txt`, `t10k-origins.txt`) whose line count is not
    /// the number of images it describes.
    #[error(
        "{path} has {found} lines but its split holds {expected} images; expected one line \
         per image (the file belongs to other IDX files: remove or regenerate it)"
    )]
    OriginCount {
        /// The origins file.
        path: PathBuf,
        /// Its number of lines.
        found: usize,
        /// The number of images.
        expected: usize,
    },

    /// An image collection (folders, manifest, `.npy`) that cannot be read as asked.
    #[cfg(feature = "sources")]
    #[error(transparent)]
    Source(#[from] crate::sources::SourceError),

    /// Deserialized normalizer parameters are unusable or inconsistent.
    #[error("invalid normalizer parameters: {reason}")]
    InvalidNormalizer {
        /// What is wrong with them.
        reason: String,
    },
}

fn display_names(names: &[&str]) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{name}[.gz]");
    }
    out
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn payload_size(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{b} bytes"),
        None => "more than 2^64 bytes".to_owned(),
    }
}

impl From<siamese_io::WriteError> for DataError {
    fn from(siamese_io::WriteError { path, error }: siamese_io::WriteError) -> Self {
        DataError::Io {
            path,
            source: error,
        }
    }
}
