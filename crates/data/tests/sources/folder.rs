//! Image folders: exact pixels, formats, sizes, channels, class names and splits.

use std::fs;

use image::imageops::{self, FilterType};
use siamese_data::sources::{Channels, ImageCollection, ImageSource, LoadOptions, TestSplit};

use crate::fixtures::{self, Form, content, expected_content, label_of, sorted_words};

fn load(root: &std::path::Path, options: &LoadOptions) -> siamese_data::sources::Loaded {
    ImageCollection::load(&ImageSource::Folder(root.to_path_buf()), options).unwrap()
}

#[test]
fn png_folder_equals_the_idx_pixels_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let written = fixtures::write_folder(dir.path(), "", 0..1000, |_| Form::Png);
    let loaded = load(dir.path(), &LoadOptions::default());
    let c = &loaded.collection;
    assert_eq!(c.class_names, sorted_words());
    assert_eq!(c.train.image_shape(), &[28, 28]);
    assert_eq!(c.train.len() + c.test.len(), 1000);
    assert_eq!(content(c), expected_content(&written));
    assert_eq!(loaded.report.images, 1000);
    assert_eq!(loaded.report.skipped_count, 0);
    assert!(!loaded.report.from_cache);
}

#[test]
fn train_and_test_folders_keep_their_split_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let train = fixtures::write_folder(dir.path(), "train/", 0..150, |_| Form::Png);
    let test = fixtures::write_folder(dir.path(), "test/", 150..200, |_| Form::Png);
    let c = load(dir.path(), &LoadOptions::default()).collection;
    // Within a split: one image of each class in turn, files of a class in name order.
    for (ds, written) in [(&c.train, train), (&c.test, test)] {
        let expected = fixtures::folder_order(&written);
        assert_eq!(ds.len(), expected.len());
        for (i, w) in expected.iter().enumerate() {
            assert_eq!(ds.label(i), label_of(w.digit));
            assert_eq!(ds.image(i), fixtures::mnist_test().image(w.index));
        }
    }
}

#[test]
fn formats_sizes_and_channels_are_converted() {
    let dir = tempfile::tempdir().unwrap();
    let forms = [Form::Png, Form::Jpeg, Form::Png32, Form::RgbPng];
    let written = fixtures::write_folder(dir.path(), "", 0..200, |i| forms[i % 4]);
    let c = load(
        dir.path(),
        &LoadOptions {
            test_split: TestSplit {
                fraction: 0.0,
                seed: 0,
            },
            ..LoadOptions::default()
        },
    )
    .collection;
    assert_eq!(c.test.len(), 0);
    let order = fixtures::folder_order(&written);
    for (i, w) in order.iter().enumerate() {
        let got = c.train.image(i);
        let original = fixtures::mnist_test().image(w.index);
        match w.form {
            Form::Png | Form::RgbPng => assert_eq!(got, original, "{}", w.rel),
            Form::Jpeg => {
                let mean_err = got
                    .iter()
                    .zip(original)
                    .map(|(&a, &b)| f64::from(a.abs_diff(b)))
                    .sum::<f64>()
                    / 784.0;
                assert!(mean_err < 4.0, "{}: mean error {mean_err}", w.rel);
            }
            Form::Png32 => {
                let big = imageops::resize(&fixtures::digit(w.index), 32, 32, FilterType::Nearest);
                let back = imageops::resize(&big, 28, 28, FilterType::Triangle);
                assert_eq!(got, back.as_raw().as_slice(), "{}", w.rel);
            }
        }
    }

    // RGB at 14×16: shape [H, W, 3], gray digits give R = G = B.
    let options = LoadOptions {
        channels: Channels::Rgb,
        image_size: [14, 16],
        ..LoadOptions::default()
    };
    let rgb = load(dir.path(), &options).collection;
    assert_eq!(rgb.train.image_shape(), &[14, 16, 3]);
    assert_eq!(rgb.train.len() + rgb.test.len(), 200);
    let px = rgb.train.image(0);
    assert!(px.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
    assert!(px.iter().any(|&v| v > 100), "a digit, not a blank");
}

#[test]
fn other_image_formats_decode() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("a");
    fs::create_dir(&class).unwrap();
    let img = fixtures::digit(0);
    for fmt in [
        image::ImageFormat::Bmp,
        image::ImageFormat::Gif,
        image::ImageFormat::Tiff,
        image::ImageFormat::WebP,
    ] {
        let name = format!("0.{}", fmt.extensions_str()[0]);
        image::DynamicImage::ImageLuma8(img.clone())
            .to_rgba8()
            .save_with_format(class.join(&name), fmt)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let options = LoadOptions {
        test_split: TestSplit {
            fraction: 0.0,
            seed: 0,
        },
        ..LoadOptions::default()
    };
    let c = load(dir.path(), &options).collection;
    assert_eq!(c.train.len(), 4);
    for i in 0..4 {
        let err: u32 = c
            .train
            .image(i)
            .iter()
            .zip(img.as_raw())
            .map(|(&a, &b)| u32::from(a.abs_diff(b)))
            .max()
            .unwrap();
        assert!(err <= 8, "image {i}: max error {err}");
    }
}

#[test]
fn ignored_files_and_nested_folders_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..20, |_| Form::Png);
    fs::write(dir.path().join("README.md"), "hello").unwrap();
    fs::write(dir.path().join("seven/notes.txt"), "x").unwrap();
    fs::write(dir.path().join("seven/.hidden.png"), "x").unwrap();
    fs::create_dir_all(dir.path().join("seven/nested/deeper")).unwrap();
    fixtures::write_digit(0, Form::Png, &dir.path().join("seven/nested/x.png"));
    fs::create_dir(dir.path().join(".ipynb_checkpoints")).unwrap();
    let loaded = load(dir.path(), &LoadOptions::default());
    let r = &loaded.report;
    assert_eq!((r.images, r.ignored_files, r.ignored_dirs), (20, 3, 2));
}

#[test]
fn split_is_seeded_stratified_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..300, |_| Form::Png);
    let with = |seed| LoadOptions {
        test_split: TestSplit {
            fraction: 0.25,
            seed,
        },
        ..LoadOptions::default()
    };
    let a = load(dir.path(), &with(5)).collection;
    let b = load(dir.path(), &with(5)).collection;
    let other = load(dir.path(), &with(6)).collection;
    assert_eq!(a, b);
    assert_ne!(a.test, other.test);
    let (train, test) = (a.train.class_counts(), a.test.class_counts());
    for class in 0..10 {
        let n = train[class] + test[class];
        assert_eq!(
            test[class],
            (n as f64 * 0.25).round() as usize,
            "class {class}"
        );
    }
}

#[test]
fn train_without_test_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "train/", 0..5, |_| Form::Png);
    let source = ImageSource::Folder(dir.path().to_path_buf());
    let e = ImageCollection::load(&source, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no test/ folder"), "{e}");
}

#[test]
fn source_detection() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(
        ImageSource::detect(p).unwrap(),
        ImageSource::Folder(p.to_path_buf())
    );
    fs::write(p.join("m.csv"), "path,label\n").unwrap();
    assert_eq!(
        ImageSource::detect(p.join("m.csv")).unwrap(),
        ImageSource::Manifest(p.join("m.csv"))
    );
    fs::write(p.join("images.npy"), "").unwrap();
    fs::write(p.join("labels.npy"), "").unwrap();
    assert_eq!(ImageSource::detect(p).unwrap().kind(), "npy");
    assert!(ImageSource::detect(p.join("nope")).is_err());
}
