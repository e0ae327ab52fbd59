//! Decoding image files and converting them to the requested channels and size,
//! in parallel.

use std::fs;
use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, ImageFormat, ImageReader, Limits, Pixel};
use rayon::prelude::*;

use super::listing::Listing;
use super::{Channels, ImageCollection, LoadOptions, Loaded, MAX_IMAGE_SIDE, OnBadImage};
use super::{LoadReport, SourceError};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// The most bytes a decoder may allocate for one image. Far above any photo a
/// camera takes (a 100-megapixel RGBA image is 400 MB, above it), yet a header
/// claiming 2^32 × 2^32 pixels is refused before anything is allocated.
const MAX_DECODE_BYTES: u64 = 256 << 20;

/// Resampling filter for images whose size differs from the requested one:
/// bilinear, which averages neighbouring pixels when shrinking (no aliasing
/// speckle on thin strokes, unlike nearest) without Lanczos's ringing.
pub(crate) const RESIZE_FILTER: FilterType = FilterType::Triangle;

fn limits() -> Limits {
    let mut limits = Limits::default();
    let side = MAX_IMAGE_SIDE as u32;
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// Decodes the image at `path` (format from its content, else its extension)
/// and converts it; the error is the reason, in words.
pub(crate) fn decode_file(
    path: &Path,
    options: &LoadOptions,
) -> std::result::Result<Vec<u8>, String> {
    let size = fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_DECODE_BYTES {
        return Err(format!(
            "file of {size} bytes exceeds the {MAX_DECODE_BYTES}-byte decoding limit"
        ));
    }
    // Whole-file reads: one system call for the small images collections are
    // made of, and the bytes are at hand for the JPEG check below.
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let mut reader = ImageReader::new(Cursor::new(&bytes[..]))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    if reader.format().is_none()
        && let Ok(format) = ImageFormat::from_path(path)
    {
        reader.set_format(format);
    }
    if reader.format() == Some(ImageFormat::Jpeg) {
        check_jpeg_end(&bytes)?;
    }
    reader.limits(limits());
    // A decoder bug on one hostile file should cost that file, not the whole
    // load; the Result API is the contract, this is the backstop.
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| reader.decode()))
        .map_err(|_| "the image decoder panicked on this file".to_owned())?;
    let image = decoded.map_err(|e| e.to_string().trim_end().to_owned())?;
    Ok(convert(image, options))
}

/// Reads one image file and converts it exactly as [`ImageCollection::load`]
/// converts a collection's images: the same decoders, limits, luma and filter, so
/// a query image meets the tower in the form its training images had.
///
/// ```
/// use siamese_data::sources::{Channels, read_image};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("dot.png");
/// image::GrayImage::from_pixel(28, 28, image::Luma([9])).save(&path)?;
/// assert_eq!(read_image(&path, Channels::Gray, [28, 28])?, vec![9; 784]);
/// assert_eq!(read_image(&path, Channels::Rgb, [2, 3])?, vec![9; 2 * 3 * 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`DataError::MissingFile`] for a file that is not there;
/// [`SourceError::BadImage`] naming the file when it cannot be read or decoded;
/// [`SourceError::InvalidOptions`] for a size outside `1..=`[`MAX_IMAGE_SIDE`].
pub fn read_image(path: &Path, channels: Channels, image_size: [usize; 2]) -> Result<Vec<u8>> {
    read_images(&[path], channels, image_size)
}

/// [`read_image`] for many files, decoded in parallel: their pixels back to
/// back, in the order given. The first file (in that order) that fails is the error.
///
/// # Errors
/// As [`read_image`].
pub fn read_images<P: AsRef<Path> + Sync>(
    paths: &[P],
    channels: Channels,
    image_size: [usize; 2],
) -> Result<Vec<u8>> {
    let options = LoadOptions {
        channels,
        image_size,
        ..LoadOptions::default()
    };
    options.validate()?;
    let decoded: Vec<_> = paths
        .par_iter()
        .map(|p| decode_file(p.as_ref(), &options))
        .collect();
    let mut pixels =
        Vec::with_capacity(paths.len() * options.image_shape().iter().product::<usize>());
    for (path, result) in paths.iter().zip(decoded) {
        let path = path.as_ref();
        let image = result.map_err(|reason| -> DataError {
            // A mistyped name deserves "not found" rather than a decoder's words.
            if path.try_exists().is_ok_and(|e| !e) {
                DataError::MissingFile {
                    path: path.to_path_buf(),
                }
            } else {
                SourceError::BadImage {
                    path: path.to_path_buf(),
                    reason,
                }
                .into()
            }
        })?;
        pixels.extend_from_slice(&image);
    }
    Ok(pixels)
}

/// The JPEG decoder fills a file cut off inside its image data with gray and
/// reports success; a complete file has an end-of-image marker (`FF D9`) after
/// the start of its last scan (`FF DA`). Scan data cannot hold `FF D9` (the
/// format escapes `FF` bytes there), and an embedded thumbnail's markers all
/// come before the main image's scans, so neither fools the check.
fn check_jpeg_end(bytes: &[u8]) -> std::result::Result<(), String> {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let ends = last_scan.is_some_and(|s| bytes[s..].windows(2).any(|w| w == [0xFF, 0xD9]));
    if ends {
        Ok(())
    } else {
        Err("truncated JPEG: no end-of-image marker after the image data".to_owned())
    }
}

/// Converts a decoded image to `options.channels`, then resizes it to
/// `options.image_size` unless it already has that size.
pub(crate) fn convert(image: DynamicImage, options: &LoadOptions) -> Vec<u8> {
    match options.channels {
        Channels::Gray => fit(image.into_luma8(), options),
        Channels::Rgb => fit(image.into_rgb8(), options),
    }
}

fn fit<P>(buffer: ImageBuffer<P, Vec<u8>>, options: &LoadOptions) -> Vec<u8>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    let [h, w] = options.image_size;
    // `validate` bounded both sides by MAX_IMAGE_SIDE, so they fit a u32.
    let (h, w) = (h as u32, w as u32);
    if buffer.dimensions() == (w, h) {
        buffer.into_raw()
    } else {
        imageops::resize(&buffer, w, h, RESIZE_FILTER).into_raw()
    }
}

/// Decodes every entry of a listing in parallel and gathers the pixels into
/// train and test datasets, in listing order. Under `Fail` the first bad entry
/// in that order is the error, whichever thread met it first.
pub(crate) fn decode_listing(listing: Listing, options: &LoadOptions) -> Result<Loaded> {
    let decoded: Vec<_> = listing
        .entries
        .par_iter()
        .map(|entry| decode_file(&entry.path, options))
        .collect();

    let image_len = options.image_shape().iter().product::<usize>();
    let mut report = listing.report;
    let mut parts = [Part::default(), Part::default()];
    for (entry, result) in listing.entries.into_iter().zip(decoded) {
        match result {
            Ok(pixels) => {
                debug_assert_eq!(pixels.len(), image_len);
                let part = &mut parts[usize::from(entry.test)];
                part.pixels.extend_from_slice(&pixels);
                part.labels.push(entry.label);
                part.origins.push(entry.path.to_string_lossy().into_owned());
            }
            Err(reason) if options.on_bad_image == OnBadImage::Skip => {
                let reason = match entry.line {
                    Some(line) => format!("line {line}: {reason}"),
                    None => reason,
                };
                report.skip(entry.path, reason);
            }
            Err(reason) => {
                return Err(match (&listing.manifest, entry.line) {
                    (Some(manifest), Some(line)) => SourceError::ManifestBadImage {
                        manifest: manifest.clone(),
                        line,
                        image: entry.path,
                        reason,
                    },
                    _ => SourceError::BadImage {
                        path: entry.path,
                        reason,
                    },
                }
                .into());
            }
        }
    }
    let [train, test] = parts;
    finish(
        train,
        test,
        listing.class_names,
        report,
        &listing.origin,
        options,
    )
}

/// The pixels, labels and origins of one split, as they are gathered.
#[derive(Default)]
pub(crate) struct Part {
    pub pixels: Vec<u8>,
    pub labels: Vec<u32>,
    pub origins: Vec<String>,
}

/// Builds the collection from its gathered splits; an empty collection is an error.
pub(crate) fn finish(
    train: Part,
    test: Part,
    class_names: Vec<String>,
    mut report: LoadReport,
    origin: &Path,
    options: &LoadOptions,
) -> Result<Loaded> {
    report.images = train.labels.len() + test.labels.len();
    if report.images == 0 {
        return Err(SourceError::NoImages {
            origin: origin.to_path_buf(),
            skipped: report.skipped_count,
        }
        .into());
    }
    let shape = options.image_shape();
    let n = class_names.len();
    debug_assert_eq!(train.origins.len(), train.labels.len());
    debug_assert_eq!(test.origins.len(), test.labels.len());
    let (train_origins, test_origins) = (train.origins, test.origins);
    let train = Dataset::from_parts(train.pixels, train.labels, shape.clone(), n)?;
    let test = Dataset::from_parts(test.pixels, test.labels, shape, n)?;
    Ok(Loaded {
        collection: ImageCollection {
            train,
            test,
            class_names,
            train_origins,
            test_origins,
        },
        report,
    })
}
