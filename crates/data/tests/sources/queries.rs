//! What queries against a trained tower rely on: one image file converted exactly as a
//! collection's images are, and every image's origin kept through splits, the cache and
//! the importer.

use std::fs;

use siamese_data::sources::{
    Channels, ImageCollection, ImageSource, LoadOptions, read_image, read_images,
};
use siamese_data::{Compression, DataError, SourceError, TRAIN_ORIGINS};

use crate::fixtures::{self, Form, mnist_test};

#[test]
fn a_png_of_a_digit_reads_back_as_its_idx_pixels() {
    let dir = tempfile::tempdir().unwrap();
    for i in [0, 1, 4242] {
        let path = dir.path().join(format!("{i}.png"));
        fixtures::write_digit(i, Form::Png, &path);
        assert_eq!(
            read_image(&path, Channels::Gray, [28, 28]).unwrap(),
            mnist_test().image(i)
        );
    }
}

#[test]
fn single_images_convert_as_a_collection_does() {
    let dir = tempfile::tempdir().unwrap();
    let written = fixtures::write_folder(dir.path(), "", 0..20, |i| match i % 3 {
        0 => Form::Png32,
        1 => Form::RgbPng,
        _ => Form::Jpeg,
    });
    for (channels, size) in [(Channels::Gray, [28, 28]), (Channels::Rgb, [20, 24])] {
        let options = LoadOptions {
            channels,
            image_size: size,
            ..LoadOptions::default()
        };
        let c = ImageCollection::load(&ImageSource::Folder(dir.path().into()), &options)
            .unwrap()
            .collection;
        for (ds, origins) in [(&c.train, &c.train_origins), (&c.test, &c.test_origins)] {
            assert_eq!(origins.len(), ds.len());
            let pixels = read_images(origins, channels, size).unwrap();
            assert_eq!(pixels, ds.images(), "{channels:?} {size:?}");
        }
        let all: Vec<_> = c.train_origins.iter().chain(&c.test_origins).collect();
        assert_eq!(all.len(), written.len());
    }
}

#[test]
fn a_bad_query_image_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.png");
    fs::write(&bad, b"not a png at all").unwrap();
    let err = read_image(&bad, Channels::Gray, [28, 28]).unwrap_err();
    assert!(
        matches!(&err, DataError::Source(SourceError::BadImage { path, .. }) if *path == bad),
        "{err:?}"
    );
    assert!(err.to_string().contains(&*bad.to_string_lossy()), "{err}");
    let missing = dir.path().join("missing.png");
    let err = read_image(&missing, Channels::Gray, [28, 28]).unwrap_err();
    assert!(
        matches!(&err, DataError::MissingFile { path } if *path == missing),
        "{err:?}"
    );
    fixtures::write_digit(0, Form::Png, &dir.path().join("ok.png"));
    let err = read_image(&dir.path().join("ok.png"), Channels::Gray, [0, 28]).unwrap_err();
    assert!(err.to_string().contains("image_size"), "{err}");
}

#[test]
fn origins_survive_the_cache_the_npy_split_and_the_importer() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..60, |_| Form::Png);
    let options = LoadOptions {
        cache_dir: Some(cache.path().into()),
        ..LoadOptions::default()
    };
    let source = ImageSource::Folder(dir.path().into());
    let first = ImageCollection::load(&source, &options).unwrap();
    let again = ImageCollection::load(&source, &options).unwrap();
    assert!(again.report.from_cache);
    assert_eq!(
        again.collection.train_origins,
        first.collection.train_origins
    );
    let c = first.collection;
    // Each origin is the file its image came from.
    for (i, origin) in c.test_origins.iter().enumerate() {
        let pixels = read_image(origin.as_ref(), Channels::Gray, [28, 28]).unwrap();
        assert_eq!(pixels, c.test.image(i));
    }

    // The same folder spelled another way names its files that way, not by the cached spelling.
    let other = ImageSource::Folder(dir.path().join("zero/.."));
    let respelled = ImageCollection::load(&other, &options).unwrap();
    assert!(!respelled.report.from_cache);
    assert!(respelled.collection.train_origins[0].contains("zero/.."));

    let idx = dir.path().join("idx");
    c.save_idx(&idx, Compression::Gzip).unwrap();
    let lines = fs::read_to_string(idx.join(TRAIN_ORIGINS)).unwrap();
    assert_eq!(lines.lines().collect::<Vec<_>>(), c.train_origins);
    assert_eq!(ImageCollection::load_idx(&idx).unwrap(), c);

    // Arrays name their rows, through the seeded split.
    let npy = tempfile::tempdir().unwrap();
    let images =
        ndarray::Array3::from_shape_vec((10, 28, 28), mnist_test().images()[..10 * 784].to_vec())
            .unwrap();
    let labels = ndarray::Array1::from(vec![0u8, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    ndarray_npy::write_npy(npy.path().join("images.npy"), &images).unwrap();
    ndarray_npy::write_npy(npy.path().join("labels.npy"), &labels).unwrap();
    let c = ImageCollection::load(
        &ImageSource::detect(npy.path()).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap()
    .collection;
    for (ds, origins) in [(&c.train, &c.train_origins), (&c.test, &c.test_origins)] {
        for (i, origin) in origins.iter().enumerate() {
            let row: usize = origin
                .strip_prefix(&format!("{}[", npy.path().join("images.npy").display()))
                .and_then(|r| r.strip_suffix(']'))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(ds.image(i), mnist_test().image(row));
        }
    }
}
