//! Training on a user's own images: a PNG folder, a CSV manifest and NumPy arrays, each
//! end to end on real MNIST digits, with class names kept and bad images reported.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::{data_dir, smoke_config, trained_params};
use siamese_data::{Compression, Dataset, IdxArray, Mnist};
use siamese_train::{Config, DataSource, OnBadImage, RunDir, RunOptions, Silent, train};

const WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

fn mnist_test() -> Dataset {
    Mnist::load(data_dir()).unwrap().test
}

fn save_png(ds: &Dataset, i: usize, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_raw(28, 28, ds.image(i).to_vec())
        .unwrap()
        .save(path)
        .unwrap();
}

/// Test digits `range` as `root/<split>/<digit>/<index>.png`.
fn write_split(ds: &Dataset, root: &Path, split: &str, range: std::ops::Range<usize>) {
    for i in range {
        save_png(
            ds,
            i,
            &root.join(format!("{split}/{}/{i:05}.png", ds.label(i))),
        );
    }
}

/// A smoke config for `source`, into `out`.
fn config_for(source: DataSource, out: &Path) -> Config {
    let mut config = smoke_config(out);
    config.data.source = source;
    config.data.train_limit = None;
    config.data.test_limit = None;
    config.data.validation = siamese_train::Validation::Holdout {
        count: 100,
        from: siamese_train::HoldoutFrom::Last,
    };
    config.training.epochs = 2;
    config.data.cache_dir = Some(out.parent().unwrap().join("cache"));
    config
}

/// The indices `range` in a folder's order: a class's files in name (= index) order, each
/// class spread evenly over the list (the k-th of n at (k + 0.5) / n, ties by class).
fn folder_order(ds: &Dataset, range: std::ops::Range<usize>) -> Vec<usize> {
    let mut classes: Vec<Vec<usize>> = vec![Vec::new(); 10];
    for i in range {
        classes[ds.label(i) as usize].push(i);
    }
    let mut placed: Vec<(f64, usize, usize)> = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        for (k, &i) in class.iter().enumerate() {
            placed.push(((k as f64 + 0.5) / class.len() as f64, label, i));
        }
    }
    placed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    placed.into_iter().map(|(_, _, i)| i).collect()
}

fn write_idx(ds: &Dataset, order: &[usize], images: &Path, labels: &Path) {
    let pixels: Vec<u8> = order.iter().flat_map(|&i| ds.image(i).to_vec()).collect();
    let classes: Vec<u8> = order.iter().map(|&i| ds.label(i) as u8).collect();
    IdxArray::new(vec![order.len(), 28, 28], pixels)
        .unwrap()
        .save(images, Compression::None)
        .unwrap();
    IdxArray::new(vec![order.len()], classes)
        .unwrap()
        .save(labels, Compression::None)
        .unwrap();
}

#[test]
fn a_png_folder_trains_to_the_tensors_of_the_same_pixels_read_from_idx() {
    let ds = mnist_test();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("digits");
    write_split(&ds, &root, "train", 0..800);
    write_split(&ds, &root, "test", 800..1000);

    // The same images, in the folder's order, as IDX files written here (not by the
    // loader under test).
    let idx = dir.path().join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    write_idx(
        &ds,
        &folder_order(&ds, 0..800),
        &idx.join("train-images-idx3-ubyte"),
        &idx.join("train-labels-idx1-ubyte"),
    );
    write_idx(
        &ds,
        &folder_order(&ds, 800..1000),
        &idx.join("t10k-images-idx3-ubyte"),
        &idx.join("t10k-labels-idx1-ubyte"),
    );

    let from_folder = dir.path().join("folder-run");
    let folder_summary = train(
        &config_for(DataSource::Folder(root.clone()), &from_folder),
        &RunOptions::default(),
        &mut Silent,
    )
    .unwrap();
    let from_idx = dir.path().join("idx-run");
    let mut idx_config = config_for(DataSource::Idx, &from_idx);
    idx_config.data.dir = idx;
    idx_config.data.cache_dir = None;
    let idx_summary = train(&idx_config, &RunOptions::default(), &mut Silent).unwrap();

    assert!(
        trained_params(&from_folder) == trained_params(&from_idx),
        "same pixels, different tensors"
    );
    assert_eq!(folder_summary.test_accuracy, idx_summary.test_accuracy);
    // Folder names are the class names; IDX files without classes.txt have none.
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(folder_summary.class_names.as_deref(), Some(&names[..]));
    assert_eq!(idx_summary.class_names, None);
    let source = folder_summary.data_source.unwrap();
    assert_eq!((source.images, source.skipped), (1000, 0));
    assert!(!source.from_cache);

    // The second run reads the decode cache.
    let again = dir.path().join("again");
    let summary = train(
        &config_for(DataSource::Folder(root), &again),
        &RunOptions::default(),
        &mut Silent,
    )
    .unwrap();
    assert!(summary.data_source.unwrap().from_cache);
    assert!(trained_params(&again) == trained_params(&from_folder));
}

#[test]
fn a_manifest_with_word_labels_trains_and_names_its_classes() {
    let ds = mnist_test();
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("path,label,split\n");
    for i in 0..1000 {
        let rel = format!("img/{i}.png");
        save_png(&ds, i, &dir.path().join(&rel));
        let split = if i < 800 { "train" } else { "test" };
        writeln!(csv, "{rel},{},{split}", WORDS[ds.label(i) as usize]).unwrap();
    }
    let manifest = dir.path().join("labels.csv");
    std::fs::write(&manifest, csv).unwrap();
    let out = dir.path().join("run");
    let summary = train(
        &config_for(DataSource::Manifest(manifest), &out),
        &RunOptions::default(),
        &mut Silent,
    )
    .unwrap();
    assert!(summary.test_accuracy_tuned > 0.6, "{summary:?}");
    let mut sorted = WORDS.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(summary.class_names.as_deref(), Some(&sorted[..]));
    let model = RunDir::new(&out).read_model().unwrap();
    assert_eq!(model.class_names(), Some(&sorted[..]));
    assert_eq!(model.class_name(0), "eight");
}

#[test]
fn npy_arrays_train_with_a_seeded_test_split() {
    let ds = mnist_test();
    let dir = tempfile::tempdir().unwrap();
    let n = 1000;
    let images =
        ndarray::Array3::from_shape_vec((n, 28, 28), ds.images()[..n * 784].to_vec()).unwrap();
    let labels = ndarray::Array1::from_iter((0..n).map(|i| i64::from(ds.label(i))));
    let (images_path, labels_path) = (dir.path().join("images.npy"), dir.path().join("labels.npy"));
    ndarray_npy::write_npy(&images_path, &images).unwrap();
    ndarray_npy::write_npy(&labels_path, &labels).unwrap();
    let source = DataSource::Npy {
        images: images_path,
        labels: labels_path,
        test: None,
    };
    let mut config = config_for(source, &dir.path().join("run"));
    config.data.test_fraction = Some(0.25);
    let summary = train(&config, &RunOptions::default(), &mut Silent).unwrap();
    assert!(summary.test_accuracy_tuned > 0.6, "{summary:?}");
    assert_eq!(summary.data_source.as_ref().unwrap().images, n);
    // A quarter of each class is held out for testing; the rest trains.
    let images = siamese_train::SourceImages::load(&config).unwrap();
    // (Rounded per class.)
    assert!(
        (240..=260).contains(&images.test.len()),
        "{}",
        images.test.len()
    );
    assert_eq!(images.train.len() + images.test.len(), n);
}

#[test]
fn bad_images_fail_naming_the_file_or_are_skipped_and_counted() {
    let ds = mnist_test();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("digits");
    write_split(&ds, &root, "train", 0..600);
    write_split(&ds, &root, "test", 600..700);
    let corrupt: PathBuf = root.join("train/3/corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(root.join("train/5/notes.png"), b"just text").unwrap();
    std::fs::write(root.join("train/README.txt"), b"ignored").unwrap();

    let config = config_for(DataSource::Folder(root.clone()), &dir.path().join("fail"));
    let err = train(&config, &RunOptions::default(), &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(
        (err.contains("corrupt.png") || err.contains("notes.png")) && err.contains("decode"),
        "{err}"
    );

    let mut config = config_for(DataSource::Folder(root), &dir.path().join("skip"));
    config.data.on_bad_image = OnBadImage::Skip;
    let summary = train(&config, &RunOptions::default(), &mut Silent).unwrap();
    let source = summary.data_source.unwrap();
    assert_eq!((source.images, source.skipped), (700, 2));
    assert_eq!(source.skipped_examples.len(), 2);
    assert!(
        source
            .skipped_examples
            .iter()
            .any(|s| s.contains("notes.png")),
        "{:?}",
        source.skipped_examples
    );
    assert_eq!(source.ignored_files, 1);
}

#[test]
fn image_settings_are_refused_for_idx_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smoke_config(dir.path());
    config.data.image_size = Some((32, 32));
    let err = config.validate().unwrap_err();
    assert_eq!(err.field, "data.image_size");
    config.data.image_size = None;
    config.data.source = DataSource::Folder("photos".into());
    config.data.channels = Some(2);
    assert_eq!(config.validate().unwrap_err().field, "data.channels");
}
