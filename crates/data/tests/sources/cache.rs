//! The decode cache: hit when nothing changed, rebuilt when a file's size or
//! modification time changed or the cache file is damaged.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use siamese_data::sources::{
    Channels, ImageCollection, ImageSource, LoadOptions, Loaded, OnBadImage,
};

use crate::fixtures::{self, Form};

fn options(cache: &Path) -> LoadOptions {
    LoadOptions {
        cache_dir: Some(cache.to_path_buf()),
        ..LoadOptions::default()
    }
}

fn load(source: &ImageSource, options: &LoadOptions) -> Loaded {
    ImageCollection::load(source, options).unwrap()
}

fn cache_files(cache: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn hit_then_invalidated_by_mtime_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let written = fixtures::write_folder(dir.path(), "", 0..200, |_| Form::Png);
    let source = ImageSource::Folder(dir.path().to_path_buf());
    let opts = options(cache.path());

    let first = load(&source, &opts);
    assert!(!first.report.from_cache);
    assert_eq!(first.report.cache_note, None);
    let second = load(&source, &opts);
    assert!(second.report.from_cache);
    assert_eq!(second.collection, first.collection);
    assert_eq!(cache_files(cache.path()).len(), 1);

    // Same bytes, new modification time: stale.
    let file = fs::File::options()
        .write(true)
        .open(&written[7].path)
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    drop(file);
    let third = load(&source, &opts);
    assert!(!third.report.from_cache);
    assert!(
        third
            .report
            .cache_note
            .as_deref()
            .unwrap()
            .contains("changed"),
        "{:?}",
        third.report.cache_note
    );
    assert!(load(&source, &opts).report.from_cache);

    // Another image in its place (new size): stale, and the new pixels are read.
    fixtures::write_digit(500, Form::Png, &written[7].path);
    let fourth = load(&source, &opts);
    assert!(!fourth.report.from_cache);
    assert_ne!(fourth.collection, first.collection);
    // Still one cache file per source and options: stale ones are overwritten.
    assert_eq!(cache_files(cache.path()).len(), 1);

    // Other options: a cache of their own, both kept.
    let rgb = LoadOptions {
        channels: Channels::Rgb,
        ..opts.clone()
    };
    assert!(!load(&source, &rgb).report.from_cache);
    assert!(load(&source, &rgb).report.from_cache);
    assert!(load(&source, &opts).report.from_cache);
    assert_eq!(cache_files(cache.path()).len(), 2);
}

#[test]
fn damaged_cache_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..50, |_| Form::Png);
    let source = ImageSource::Folder(dir.path().to_path_buf());
    let opts = options(cache.path());
    let good = load(&source, &opts).collection;
    let file = cache_files(cache.path()).remove(0);
    let bytes = fs::read(&file).unwrap();

    let mut flipped = bytes.clone();
    let last = flipped.len() - 1000;
    flipped[last] ^= 0xFF;
    for (damaged, needle) in [
        (flipped, "checksum"),
        (bytes[..bytes.len() / 2].to_vec(), "body of"),
        (b"garbage".to_vec(), "not a siamese-data cache"),
    ] {
        fs::write(&file, damaged).unwrap();
        let l = load(&source, &opts);
        assert!(!l.report.from_cache);
        let note = l.report.cache_note.unwrap();
        assert!(note.contains(needle), "{note}");
        assert_eq!(l.collection, good);
        assert!(load(&source, &opts).report.from_cache);
    }
}

#[test]
fn skip_reports_are_cached_and_manifests_notice_a_missing_file_appearing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let written = fixtures::write_folder(dir.path(), "", 0..10, |_| Form::Png);
    let mut csv = String::from("path,label\n");
    for w in &written {
        csv.push_str(&format!(
            "{},{}\n",
            w.rel,
            fixtures::WORDS[w.digit as usize]
        ));
    }
    csv.push_str("later.png,seven\n");
    fs::write(dir.path().join("m.csv"), csv).unwrap();
    let source = ImageSource::Manifest(dir.path().join("m.csv"));
    let opts = LoadOptions {
        on_bad_image: OnBadImage::Skip,
        ..options(cache.path())
    };
    let first = load(&source, &opts);
    let second = load(&source, &opts);
    assert!(second.report.from_cache);
    assert_eq!(second.report.skipped, first.report.skipped);
    assert_eq!(second.report.skipped_count, 1);

    fixtures::write_digit(0, Form::Png, &dir.path().join("later.png"));
    let third = load(&source, &opts);
    assert!(!third.report.from_cache);
    assert_eq!((third.report.images, third.report.skipped_count), (11, 0));
}

#[test]
fn npy_sources_are_cached_too() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let images = ndarray::Array3::from_shape_vec(
        (5, 28, 28),
        fixtures::mnist_test().images()[..5 * 784].to_vec(),
    )
    .unwrap();
    let labels = ndarray::Array1::from(vec![0u8, 1, 2, 1, 0]);
    ndarray_npy::write_npy(dir.path().join("images.npy"), &images).unwrap();
    ndarray_npy::write_npy(dir.path().join("labels.npy"), &labels).unwrap();
    let source = ImageSource::detect(dir.path()).unwrap();
    let opts = LoadOptions {
        image_size: [14, 14],
        ..options(cache.path())
    };
    let first = load(&source, &opts);
    assert!(load(&source, &opts).report.from_cache);
    fs::write(dir.path().join("classes.txt"), "a\nb\nc\n").unwrap();
    let named = load(&source, &opts);
    assert!(!named.report.from_cache);
    assert_eq!(named.collection.class_names, ["a", "b", "c"]);
    assert_eq!(named.collection.train, first.collection.train);
}
