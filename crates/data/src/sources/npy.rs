//! NumPy sources: `uint8` image arrays and integer label arrays, via `ndarray-npy`.

use std::fs;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};
use ndarray::{ArrayD, ArrayViewD};
use ndarray_npy::npy::header::Header;
use ndarray_npy::{ReadNpyExt, ReadableElement, ViewNpyError, ViewNpyExt};
use rayon::prelude::*;

use super::convert::{self, Part};
use super::listing::Stamp;
use super::{LoadOptions, LoadReport, Loaded, SourceError, split};
use crate::classes::{CLASSES_FILE, read_class_names};
use crate::dataset::MAX_CLASSES;
use crate::error::{DataError, Result};
use crate::idx::read::open_error;
use crate::origins::numbered_origins;

/// The files of a NumPy source.
pub(crate) struct NpyFiles<'a> {
    pub train: (&'a Path, &'a Path),
    pub test: Option<(&'a Path, &'a Path)>,
}

impl<'a> NpyFiles<'a> {
    pub fn new(images: &'a Path, labels: &'a Path, test: Option<&'a (PathBuf, PathBuf)>) -> Self {
        NpyFiles {
            train: (images, labels),
            test: test.map(|(i, l)| (i.as_path(), l.as_path())),
        }
    }

    /// Where the class names may be: beside the training images.
    fn dir(&self) -> &Path {
        self.train.0.parent().unwrap_or(Path::new(""))
    }

    /// The arrays and the class-names file, for the cache key.
    pub fn stamps(&self) -> Vec<Stamp> {
        let mut files = vec![self.train.0, self.train.1];
        if let Some((i, l)) = self.test {
            files.extend([i, l]);
        }
        let mut stamps: Vec<Stamp> = files
            .into_iter()
            .map(|p| Stamp::of(p.to_string_lossy().into_owned(), p))
            .collect();
        let classes = self.dir().join(CLASSES_FILE);
        stamps.push(Stamp::of(CLASSES_FILE.to_owned(), &classes));
        stamps
    }
}

fn npy_error(path: &Path, reason: impl Into<String>) -> DataError {
    SourceError::Npy {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
    .into()
}

/// Images as read: `[N, H, W, C]` and the pixels in row-major order.
struct Images {
    shape: [usize; 4],
    pixels: Vec<u8>,
}

/// Refuses a header whose stated length runs past the end of the file. `ndarray-npy`
/// allocates the stated length before reading it, so a 4-byte field could ask for 4 GiB.
fn check_header_length(bytes: &[u8], path: &Path) -> Result<()> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        // Not a .npy file at all: the reader says so without allocating.
        return Ok(());
    }
    let (start, length) = match bytes[6] {
        1 => (10, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        _ => return Ok(()),
    };
    if start + length > bytes.len() {
        return Err(npy_error(
            path,
            format!(
                "header of {length} bytes runs past the end of the file ({} bytes)",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

fn read_images(path: &Path) -> Result<Images> {
    let bytes = fs::read(path).map_err(|e| open_error(path, e))?;
    check_header_length(&bytes, path)?;
    // A view checks the header against the bytes present before anything is
    // allocated, so a lying header cannot ask for gigabytes.
    let view = ArrayViewD::<u8>::view_npy(&bytes).map_err(|e| {
        npy_error(
            path,
            match e {
                ViewNpyError::WrongDescriptor(d) => {
                    format!("images must have dtype uint8 ('|u1'), found {d}")
                }
                other => format!("not a readable .npy array: {other}"),
            },
        )
    })?;
    let shape = match *view.shape() {
        [n, h, w] => [n, h, w, 1],
        [n, h, w, c] if matches!(c, 1 | 3 | 4) => [n, h, w, c],
        ref other => {
            return Err(npy_error(
                path,
                format!(
                    "images must have shape [N, H, W] or [N, H, W, C] with C = 1, 3 or 4, \
                     found {other:?}"
                ),
            ));
        }
    };
    if shape[1] == 0 || shape[2] == 0 {
        return Err(npy_error(
            path,
            format!("images of shape {shape:?} have no pixels"),
        ));
    }
    // `iter` walks in logical (C) order, so Fortran-ordered files come out right too.
    let pixels = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    Ok(Images { shape, pixels })
}

fn read_ints<T>(bytes: &[u8], path: &Path) -> Result<Vec<i64>>
where
    T: ReadableElement + Copy + TryInto<i64>,
{
    let array = ArrayD::<T>::read_npy(bytes)
        .map_err(|e| npy_error(path, format!("not a readable .npy array: {e}")))?;
    // A u64 beyond i64 is out of any class range; -1 makes it fail as such.
    Ok(array.iter().map(|&x| x.try_into().unwrap_or(-1)).collect())
}

fn read_labels(path: &Path) -> Result<Vec<i64>> {
    let bytes = fs::read(path).map_err(|e| open_error(path, e))?;
    check_header_length(&bytes, path)?;
    let mut rest = &bytes[..];
    let header = Header::from_reader(&mut rest)
        .map_err(|e| npy_error(path, format!("not a readable .npy array: {e}")))?;
    if header.shape.len() != 1 {
        return Err(npy_error(
            path,
            format!("labels must have shape [N], found {:?}", header.shape),
        ));
    }
    // Reading allocates what the header claims; every element takes a byte
    // at least, so a claim beyond the bytes present is a lie to refuse first.
    if header.shape[0] > rest.len() {
        return Err(npy_error(
            path,
            format!(
                "header claims {} labels but only {} bytes of data follow",
                header.shape[0],
                rest.len()
            ),
        ));
    }
    let descr = header.type_descriptor.to_string();
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let kind = descr.trim_start_matches(['<', '>', '|', '=']);
    match kind {
        "u1" | "B" => read_ints::<u8>(&bytes, path),
        "i1" | "b" => read_ints::<i8>(&bytes, path),
        "u2" => read_ints::<u16>(&bytes, path),
        "i2" => read_ints::<i16>(&bytes, path),
        "u4" => read_ints::<u32>(&bytes, path),
        "i4" => read_ints::<i32>(&bytes, path),
        "u8" => read_ints::<u64>(&bytes, path),
        "i8" => read_ints::<i64>(&bytes, path),
        _ => Err(npy_error(
            path,
            format!("labels must have an integer dtype (int8 to uint64), found {descr:?}"),
        )),
    }
}

/// One image/label pair of files, read and checked against each other.
fn read_pair(images: &Path, labels: &Path) -> Result<(Images, Vec<i64>)> {
    let imgs = read_images(images)?;
    let lbls = read_labels(labels)?;
    if imgs.shape[0] != lbls.len() {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            labels: labels.to_path_buf(),
            image_count: imgs.shape[0],
            label_count: lbls.len(),
        });
    }
    Ok((imgs, lbls))
}

/// Checks labels against the class count (or the cap) and narrows them.
fn check_labels(labels: &[i64], bound: usize, origin: &Path) -> Result<Vec<u32>> {
    labels
        .iter()
        .enumerate()
        .map(|(index, &label)| {
            if label < 0 || label as u64 >= bound as u64 {
                Err(DataError::LabelOutOfRange {
                    origin: origin.display().to_string(),
                    index,
                    label,
                    num_classes: bound,
                })
            } else {
                Ok(label as u32)
            }
        })
        .collect()
}

/// Converts every image of an array to the options' channels and size.
fn convert_all(images: Images, path: &Path, options: &LoadOptions) -> Result<Vec<u8>> {
    let [_, h, w, c] = images.shape;
    if c == options.channels.count() && [h, w] == options.image_size {
        return Ok(images.pixels);
    }
    let row = h * w * c;
    let (hu, wu) = (
        u32::try_from(h).map_err(|_| npy_error(path, format!("image height {h} too large")))?,
        u32::try_from(w).map_err(|_| npy_error(path, format!("image width {w} too large")))?,
    );
    let rows: Vec<Option<Vec<u8>>> = images
        .pixels
        .par_chunks_exact(row)
        .map(|px| {
            let px = px.to_vec();
            let image = match c {
                1 => GrayImage::from_raw(wu, hu, px).map(DynamicImage::from),
                3 => RgbImage::from_raw(wu, hu, px).map(DynamicImage::from),
                _ => RgbaImage::from_raw(wu, hu, px).map(DynamicImage::from),
            };
            image.map(|i| convert::convert(i, options))
        })
        .collect();
    let mut out = Vec::with_capacity(rows.len() * options.image_shape().iter().product::<usize>());
    for r in rows {
        // ok: each chunk is exactly h × w × c bytes, which `from_raw` accepts;
        // an error rather than a panic should that ever change.
        out.extend(r.ok_or_else(|| npy_error(path, "image row does not fit its shape"))?);
    }
    Ok(out)
}

/// Loads a NumPy source: labels kept as they are, class names from
/// `classes.txt` beside the images (which then bounds the labels) or else the
/// label numbers as text. Without a test pair, split by `options.test_split`.
pub(crate) fn load(files: &NpyFiles<'_>, options: &LoadOptions) -> Result<Loaded> {
    let (images, labels) = files.train;
    let (train_imgs, train_lbls) = read_pair(images, labels)?;
    let test = files.test.map(|(i, l)| read_pair(i, l)).transpose()?;
    let names = read_class_names(files.dir())?;
    let bound = names.as_ref().map_or(MAX_CLASSES, Vec::len);
    let train_labels = check_labels(&train_lbls, bound, labels)?;
    let test_labels = match (&test, files.test) {
        (Some((_, l)), Some((_, path))) => check_labels(l, bound, path)?,
        _ => Vec::new(),
    };
    let class_names = names.unwrap_or_else(|| {
        let max = train_labels.iter().chain(&test_labels).max();
        (0..max.map_or(0, |&m| m + 1))
            .map(|i| i.to_string())
            .collect()
    });

    let image_len: usize = options.image_shape().iter().product();
    let train_origins = numbered_origins(images, train_labels.len());
    let (train, test) = match (test, files.test) {
        (Some((test_imgs, _)), Some((test_path, _))) => (
            Part {
                pixels: convert_all(train_imgs, images, options)?,
                labels: train_labels,
                origins: train_origins,
            },
            Part {
                pixels: convert_all(test_imgs, test_path, options)?,
                origins: numbered_origins(test_path, test_labels.len()),
                labels: test_labels,
            },
        ),
        _ => {
            let mask = split::test_mask(&train_labels, class_names.len(), options.test_split);
            let pixels = convert_all(train_imgs, images, options)?;
            let mut parts = [Part::default(), Part::default()];
            let rows = pixels.chunks_exact(image_len).zip(&train_labels);
            for (((px, &label), origin), test) in rows.zip(train_origins).zip(mask) {
                let part = &mut parts[usize::from(test)];
                part.pixels.extend_from_slice(px);
                part.labels.push(label);
                part.origins.push(origin);
            }
            let [train, test] = parts;
            (train, test)
        }
    };
    convert::finish(
        train,
        test,
        class_names,
        LoadReport::default(),
        images,
        options,
    )
}
