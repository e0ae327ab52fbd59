//! The importer: a collection written as MNIST-layout IDX files reads back identical.

use std::fs;

use siamese_data::sources::{Channels, ImageCollection, ImageSource, LoadOptions};
use siamese_data::{
    CLASSES_FILE, Compression, Mnist, TEST_IMAGES, TEST_ORIGINS, TRAIN_IMAGES, TRAIN_ORIGINS,
    read_class_names, resolve_file,
};

use crate::fixtures::{self, Form, sorted_words};

fn load_folder(root: &std::path::Path, options: &LoadOptions) -> ImageCollection {
    ImageCollection::load(&ImageSource::Folder(root.to_path_buf()), options)
        .unwrap()
        .collection
}

#[test]
fn gray_round_trip_through_mnist_load() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..300, |_| Form::Png);
    let c = load_folder(dir.path(), &LoadOptions::default());
    let idx = dir.path().join("idx");
    for compression in [Compression::Gzip, Compression::None] {
        c.save_idx(&idx, compression).unwrap();
        let m = Mnist::load(&idx).unwrap();
        assert_eq!((&m.train, &m.test), (&c.train, &c.test));
        assert_eq!(read_class_names(&idx).unwrap(), Some(sorted_words()));
        assert_eq!(ImageCollection::load_idx(&idx).unwrap(), c);
        // Only one form of each file is left, so readers cannot pick a stale one.
        let gz = compression == Compression::Gzip;
        assert_eq!(idx.join(format!("{TRAIN_IMAGES}.gz")).exists(), gz);
        assert_eq!(idx.join(TRAIN_IMAGES).exists(), !gz);
    }
    let mut names: Vec<String> = fs::read_dir(&idx)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Four IDX files, the class names and both splits' origins.
    assert_eq!(names.len(), 7);
    for name in [CLASSES_FILE, TRAIN_ORIGINS, TEST_ORIGINS] {
        assert!(names.contains(&name.to_owned()), "{names:?}");
    }
}

#[test]
fn rgb_round_trip_is_rank_four() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..40, |i| {
        if i % 2 == 0 { Form::RgbPng } else { Form::Jpeg }
    });
    let options = LoadOptions {
        channels: Channels::Rgb,
        image_size: [20, 24],
        ..LoadOptions::default()
    };
    let c = load_folder(dir.path(), &options);
    let idx = dir.path().join("idx");
    c.save_idx(&idx, Compression::Gzip).unwrap();
    let images = siamese_data::IdxArray::read(resolve_file(&idx, TEST_IMAGES).unwrap()).unwrap();
    assert_eq!(images.shape(), &[c.test.len(), 20, 24, 3]);
    let m = Mnist::load(&idx).unwrap();
    assert_eq!(m.train.image_shape(), &[20, 24, 3]);
    assert_eq!((&m.train, &m.test), (&c.train, &c.test));
}

#[test]
fn a_class_without_training_images_keeps_its_label() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "train/", 0..30, |_| Form::Png);
    fixtures::write_folder(dir.path(), "test/", 30..40, |_| Form::Png);
    // "zzz" sorts last and has test images only.
    fs::create_dir(dir.path().join("test/zzz")).unwrap();
    fixtures::write_digit(0, Form::Png, &dir.path().join("test/zzz/a.png"));
    let c = load_folder(dir.path(), &LoadOptions::default());
    assert_eq!(c.class_names.last().unwrap(), "zzz");
    let idx = dir.path().join("idx");
    c.save_idx(&idx, Compression::None).unwrap();
    // Mnist::load counts classes from the training labels and so refuses the
    // test-only class; load_idx takes the count from classes.txt.
    assert!(Mnist::load(&idx).is_err());
    assert_eq!(ImageCollection::load_idx(&idx).unwrap(), c);
}
