//! Collections written from the real MNIST test set: folders, manifests and arrays.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, ImageFormat, RgbImage};
use siamese_data::{Dataset, TEST_IMAGES, TEST_LABELS, resolve_file};

/// Class folder names, chosen so that sorted order differs from digit order:
/// digit `d` gets label `LABEL_OF[d]`.
pub const WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// The label each digit gets from the sorted class names.
pub fn label_of(digit: u32) -> u32 {
    let mut sorted = WORDS.to_vec();
    sorted.sort_unstable();
    sorted
        .iter()
        .position(|w| *w == WORDS[digit as usize])
        .unwrap() as u32
}

/// The sorted class names.
pub fn sorted_words() -> Vec<String> {
    let mut v: Vec<String> = WORDS.iter().map(|w| (*w).to_owned()).collect();
    v.sort();
    v
}

/// The real MNIST test set (10,000 digits).
pub fn mnist_test() -> &'static Dataset {
    static TEST: OnceLock<Dataset> = OnceLock::new();
    TEST.get_or_init(|| {
        let dir = crate::common::real_mnist_dir();
        let images = resolve_file(&dir, TEST_IMAGES).unwrap();
        let labels = resolve_file(&dir, TEST_LABELS).unwrap();
        Dataset::load(images, labels, None).unwrap()
    })
}

/// The 28×28 grayscale image of MNIST test digit `i`.
pub fn digit(i: usize) -> GrayImage {
    GrayImage::from_raw(28, 28, mnist_test().image(i).to_vec()).unwrap()
}

/// How a digit is written to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// 28×28 grayscale PNG: must load back bit-exact.
    Png,
    /// 28×28 grayscale JPEG at quality 90: close.
    Jpeg,
    /// Upscaled to 32×32 (nearest), grayscale PNG: resized back on load.
    Png32,
    /// 28×28 RGB PNG with R = G = B: luma gives the gray back exactly.
    RgbPng,
}

impl Form {
    pub fn extension(self) -> &'static str {
        match self {
            Form::Jpeg => "jpg",
            _ => "png",
        }
    }
}

/// Writes digit `i` to `path` in `form`.
pub fn write_digit(i: usize, form: Form, path: &Path) {
    let img = digit(i);
    match form {
        Form::Png => img.save_with_format(path, ImageFormat::Png).unwrap(),
        Form::Jpeg => {
            let file = fs::File::create(path).unwrap();
            img.write_with_encoder(JpegEncoder::new_with_quality(file, 90))
                .unwrap();
        }
        Form::Png32 => image::imageops::resize(&img, 32, 32, image::imageops::FilterType::Nearest)
            .save_with_format(path, ImageFormat::Png)
            .unwrap(),
        Form::RgbPng => RgbImage::from_fn(28, 28, |x, y| {
            let v = img.get_pixel(x, y).0[0];
            image::Rgb([v, v, v])
        })
        .save_with_format(path, ImageFormat::Png)
        .unwrap(),
    }
}

/// One written digit: where it is and what it was.
#[derive(Clone, Debug)]
pub struct Written {
    pub index: usize,
    pub path: PathBuf,
    pub rel: String,
    pub digit: u32,
    pub form: Form,
}

/// Writes the first `n` test digits under `root` as `<prefix><word>/<index>.<ext>`,
/// each in the form `form_of(index)`.
pub fn write_folder(
    root: &Path,
    prefix: &str,
    range: std::ops::Range<usize>,
    form_of: impl Fn(usize) -> Form,
) -> Vec<Written> {
    let ds = mnist_test();
    let mut out = Vec::new();
    for i in range {
        let digit = ds.label(i);
        let form = form_of(i);
        let rel = format!(
            "{prefix}{}/{i:05}.{}",
            WORDS[digit as usize],
            form.extension()
        );
        let path = root.join(&rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_digit(i, form, &path);
        out.push(Written {
            index: i,
            path,
            rel,
            digit,
            form,
        });
    }
    out
}

/// `(label, pixels)` of every image of both splits, sorted: a split-independent
/// view of a collection's content.
pub fn content(c: &siamese_data::ImageCollection) -> Vec<(u32, Vec<u8>)> {
    let mut v: Vec<(u32, Vec<u8>)> = [&c.train, &c.test]
        .into_iter()
        .flat_map(|ds| (0..ds.len()).map(move |i| (ds.label(i), ds.image(i).to_vec())))
        .collect();
    v.sort();
    v
}

/// The expected `(label, pixels)` of written 28×28 gray digits, sorted.
pub fn expected_content(written: &[Written]) -> Vec<(u32, Vec<u8>)> {
    let mut v: Vec<(u32, Vec<u8>)> = written
        .iter()
        .map(|w| (label_of(w.digit), mnist_test().image(w.index).to_vec()))
        .collect();
    v.sort();
    v
}

/// `written` in the order a folder lists it: files of a class in name order, each class
/// spread evenly over the list (the k-th of n at (k + 0.5) / n, ties by class).
pub fn folder_order(written: &[Written]) -> Vec<Written> {
    let mut sorted = written.to_vec();
    sorted.sort_by_key(|w| (label_of(w.digit), w.rel.clone()));
    let mut placed: Vec<(f64, u32, Written)> = Vec::new();
    for w in sorted {
        let label = label_of(w.digit);
        let count = written
            .iter()
            .filter(|x| label_of(x.digit) == label)
            .count() as f64;
        let k = placed.iter().filter(|(_, l, _)| *l == label).count() as f64;
        placed.push(((k + 0.5) / count, label, w));
    }
    placed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    placed.into_iter().map(|(_, _, w)| w).collect()
}
