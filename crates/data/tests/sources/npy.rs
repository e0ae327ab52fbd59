//! NumPy arrays: exact pixels, label dtypes, RGB, class names and length mismatches.

use std::fs;
use std::path::Path;

use ndarray::{Array, Array1, Array3, Array4};
use ndarray_npy::WriteNpyExt;
use siamese_data::DataError;
use siamese_data::sources::{
    Channels, ImageCollection, ImageSource, LoadOptions, OnBadImage, SourceError, TestSplit,
};

use crate::fixtures::mnist_test;

fn write<T: WriteNpyExt>(path: &Path, array: &T) {
    array.write_npy(fs::File::create(path).unwrap()).unwrap();
}

/// The first `n` MNIST test digits as a `[n, 28, 28]` array.
fn digits(n: usize) -> Array3<u8> {
    Array::from_shape_vec((n, 28, 28), mnist_test().images()[..n * 784].to_vec()).unwrap()
}

fn labels(n: usize) -> Vec<u32> {
    mnist_test().labels()[..n].to_vec()
}

fn source(dir: &Path) -> ImageSource {
    ImageSource::detect(dir).unwrap()
}

fn no_split() -> LoadOptions {
    LoadOptions {
        test_split: TestSplit {
            fraction: 0.0,
            seed: 0,
        },
        ..LoadOptions::default()
    }
}

#[test]
fn arrays_load_exactly_with_any_integer_labels() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("images.npy"), &digits(1000));
    let lbl = labels(1000);
    for case in 0..3 {
        let path = dir.path().join("labels.npy");
        match case {
            0 => write(&path, &Array1::from_iter(lbl.iter().map(|&l| i64::from(l)))),
            1 => write(&path, &Array1::from_iter(lbl.iter().map(|&l| l as u8))),
            _ => write(&path, &Array1::from_iter(lbl.iter().map(|&l| l as i16))),
        }
        let c = ImageCollection::load(&source(dir.path()), &no_split())
            .unwrap()
            .collection;
        assert_eq!(c.train.images(), &mnist_test().images()[..1000 * 784]);
        assert_eq!(c.train.labels(), &lbl[..]);
        assert_eq!(
            c.class_names,
            (0..10).map(|d| d.to_string()).collect::<Vec<_>>()
        );
    }

    // classes.txt beside the arrays names the classes; the default split holds out a fifth.
    let names: String = (0..10).map(|d| format!("digit {d}\n")).collect();
    fs::write(dir.path().join("classes.txt"), names).unwrap();
    let c = ImageCollection::load(&source(dir.path()), &LoadOptions::default())
        .unwrap()
        .collection;
    assert_eq!(c.class_names[3], "digit 3");
    assert_eq!(c.train.len() + c.test.len(), 1000);
    assert!((190..=210).contains(&c.test.len()), "{}", c.test.len());
}

#[test]
fn rgb_arrays_convert_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let gray = digits(20);
    let rgb = Array4::from_shape_fn((20, 28, 28, 3), |(n, y, x, _)| gray[[n, y, x]]);
    write(&dir.path().join("images.npy"), &rgb);
    write(
        &dir.path().join("labels.npy"),
        &Array1::from_iter(labels(20).iter().map(|&l| i32::try_from(l).unwrap())),
    );
    let as_gray = ImageCollection::load(&source(dir.path()), &no_split())
        .unwrap()
        .collection;
    assert_eq!(as_gray.train.images(), &mnist_test().images()[..20 * 784]);
    let options = LoadOptions {
        channels: Channels::Rgb,
        ..no_split()
    };
    let as_rgb = ImageCollection::load(&source(dir.path()), &options)
        .unwrap()
        .collection;
    assert_eq!(as_rgb.train.image_shape(), &[28, 28, 3]);
    assert_eq!(as_rgb.train.images(), rgb.as_slice().unwrap());
}

#[test]
fn separate_test_arrays_are_the_test_split() {
    let dir = tempfile::tempdir().unwrap();
    let px = &mnist_test().images()[..30 * 784];
    let train = Array3::from_shape_vec((20, 28, 28), px[..20 * 784].to_vec()).unwrap();
    let test = Array3::from_shape_vec((10, 28, 28), px[20 * 784..].to_vec()).unwrap();
    write(&dir.path().join("images.npy"), &train);
    write(&dir.path().join("test_images.npy"), &test);
    let lbl: Vec<i64> = labels(30).iter().map(|&l| i64::from(l)).collect();
    write(
        &dir.path().join("labels.npy"),
        &Array1::from(lbl[..20].to_vec()),
    );
    write(
        &dir.path().join("test_labels.npy"),
        &Array1::from(lbl[20..].to_vec()),
    );
    let c = ImageCollection::load(&source(dir.path()), &LoadOptions::default())
        .unwrap()
        .collection;
    assert_eq!((c.train.len(), c.test.len()), (20, 10));
    assert_eq!(c.test.images(), &mnist_test().images()[20 * 784..30 * 784]);
}

#[test]
fn length_mismatch_names_both_files_under_either_policy() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("images.npy"), &digits(10));
    write(
        &dir.path().join("labels.npy"),
        &Array1::from_iter(labels(9).iter().map(|&l| i64::from(l))),
    );
    for policy in [OnBadImage::Fail, OnBadImage::Skip] {
        let options = LoadOptions {
            on_bad_image: policy,
            ..LoadOptions::default()
        };
        let e = ImageCollection::load(&source(dir.path()), &options).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(
                e,
                DataError::CountMismatch {
                    image_count: 10,
                    label_count: 9,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(msg.contains("images.npy holds 10 images"), "{msg}");
        assert!(msg.contains("labels.npy holds 9 labels"), "{msg}");
    }
}

#[test]
fn wrong_dtypes_and_shapes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels_path) = (dir.path().join("images.npy"), dir.path().join("labels.npy"));
    write(&labels_path, &Array1::from(vec![0i64, 1]));
    write(&images, &Array3::<f32>::zeros((2, 4, 4)));
    let e = ImageCollection::load(&source(dir.path()), &no_split()).unwrap_err();
    assert!(
        matches!(&e, DataError::Source(SourceError::Npy { path, .. }) if *path == images),
        "{e}"
    );
    assert!(e.to_string().contains("must have dtype uint8"), "{e}");

    write(
        &images,
        &Array::from_shape_vec((2, 4), vec![0u8; 8]).unwrap(),
    );
    let e = ImageCollection::load(&source(dir.path()), &no_split()).unwrap_err();
    assert!(e.to_string().contains("found [2, 4]"), "{e}");

    write(&images, &Array3::<u8>::zeros((2, 4, 4)));
    write(&labels_path, &Array1::from(vec![0.5f64, 1.0]));
    let e = ImageCollection::load(&source(dir.path()), &no_split()).unwrap_err();
    assert!(e.to_string().contains("integer dtype"), "{e}");

    write(&labels_path, &Array1::from(vec![0i64, -3]));
    let e = ImageCollection::load(&source(dir.path()), &no_split()).unwrap_err();
    assert!(e.to_string().contains("label -3 at index 1"), "{e}");

    // A header claiming far more data than the file has is refused before reading.
    let mut lying = fs::read(&labels_path).unwrap();
    let text = String::from_utf8_lossy(&lying).replace("(2,)", "(9999999999,)");
    lying = text.into_bytes();
    fs::write(&labels_path, lying).unwrap();
    let e = ImageCollection::load(&source(dir.path()), &no_split()).unwrap_err();
    assert!(e.to_string().contains("labels.npy"), "{e}");
}
