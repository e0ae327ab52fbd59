//! Loading MNIST-layout directories built on the fly (so these run
//! anywhere), including every dataset-level error message.

use std::fs;
use std::path::Path;

use siamese_data::{
    Compression, DataError, Dataset, IdxArray, MNIST_FILES, Mnist, TEST_IMAGES, TEST_LABELS,
    TRAIN_IMAGES, TRAIN_LABELS, missing_files, resolve_file,
};

/// Writes `n` images of `shape` (pixel = index) and the given labels.
fn write_split(dir: &Path, images: &str, labels: &str, shape: &[usize], lbl: &[u8], gz: bool) {
    let c = if gz {
        Compression::Gzip
    } else {
        Compression::None
    };
    let suffix = if gz { ".gz" } else { "" };
    let pixels: usize = shape.iter().product();
    let data: Vec<u8> = (0..lbl.len() * pixels).map(|i| i as u8).collect();
    let mut full = vec![lbl.len()];
    full.extend_from_slice(shape);
    IdxArray::new(full, data)
        .unwrap()
        .save(dir.join(format!("{images}{suffix}")), c)
        .unwrap();
    IdxArray::new(vec![lbl.len()], lbl.to_vec())
        .unwrap()
        .save(dir.join(format!("{labels}{suffix}")), c)
        .unwrap();
}

fn fake_dir(train_labels: &[u8], test_labels: &[u8], gz: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_split(
        dir.path(),
        TRAIN_IMAGES,
        TRAIN_LABELS,
        &[3, 2],
        train_labels,
        gz,
    );
    write_split(
        dir.path(),
        TEST_IMAGES,
        TEST_LABELS,
        &[3, 2],
        test_labels,
        gz,
    );
    dir
}

#[test]
fn loads_raw_and_gzipped_layouts_without_assuming_mnist_sizes() {
    for gz in [false, true] {
        let dir = fake_dir(&[0, 3, 1, 3, 2], &[3, 0], gz);
        let m = Mnist::load(dir.path()).unwrap();
        assert_eq!(m.train.len(), 5);
        assert_eq!(m.train.image_shape(), &[3, 2]);
        assert_eq!(m.train.num_classes(), 4);
        assert_eq!(m.test.num_classes(), 4);
        assert_eq!(m.train.class_counts(), [1, 1, 1, 2]);
        assert_eq!(m.test.labels(), &[3, 0]);
        assert_eq!(m.train.image(1), &[6, 7, 8, 9, 10, 11]);
        assert!(missing_files(dir.path()).is_empty());
        assert_eq!(siamese_data::load_mnist_dir(dir.path()).unwrap(), m);
    }
}

#[test]
fn mixed_raw_and_gzipped_files() {
    let dir = fake_dir(&[0, 1], &[1], true);
    let gz = dir.path().join(format!("{TRAIN_LABELS}.gz"));
    let raw = dir.path().join(TRAIN_LABELS);
    // Raw is preferred when both exist, so make the raw one different.
    IdxArray::new(vec![2], vec![1u8, 0])
        .unwrap()
        .save(&raw, Compression::None)
        .unwrap();
    assert_eq!(resolve_file(dir.path(), TRAIN_LABELS), Some(raw.clone()));
    assert_eq!(Mnist::load(dir.path()).unwrap().train.labels(), &[1, 0]);
    fs::remove_file(&raw).unwrap();
    assert_eq!(resolve_file(dir.path(), TRAIN_LABELS), Some(gz));
    assert_eq!(Mnist::load(dir.path()).unwrap().train.labels(), &[0, 1]);
}

#[test]
fn missing_files_are_all_listed_with_where_to_put_them() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(missing_files(dir.path()), MNIST_FILES);
    let e = Mnist::load(dir.path()).unwrap_err();
    let msg = e.to_string();
    for name in MNIST_FILES {
        assert!(msg.contains(&format!("{name}[.gz]")), "{msg}");
    }
    assert!(msg.contains(&*dir.path().to_string_lossy()), "{msg}");
    assert!(msg.contains("put them in that directory"), "{msg}");
    assert!(msg.contains("SIAMESE_DATA_DIR"), "{msg}");

    write_split(dir.path(), TRAIN_IMAGES, TRAIN_LABELS, &[1], &[0, 1], false);
    assert_eq!(missing_files(dir.path()), [TEST_IMAGES, TEST_LABELS]);
    let msg = Mnist::load(dir.path()).unwrap_err().to_string();
    assert!(
        !msg.contains(TRAIN_IMAGES) && msg.contains(TEST_LABELS),
        "{msg}"
    );
}

#[test]
fn a_file_or_a_missing_path_is_not_taken_for_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    fs::write(&file, "root:x:0:0").unwrap();
    let e = Mnist::load(&file).unwrap_err();
    assert!(matches!(e, DataError::NotADirectory { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{} is a file, not a directory; expected a directory of MNIST-layout files",
            file.display()
        )
    );
    assert!(siamese_data::check_data_dir(&file).is_err());

    let nowhere = dir.path().join("nowhere");
    assert!(
        siamese_data::check_data_dir(&nowhere).is_ok(),
        "a download may create it"
    );
    let e = Mnist::load(&nowhere).unwrap_err();
    assert!(matches!(e, DataError::NoDirectory { .. }), "{e:?}");
    assert!(e.to_string().contains("no such directory"), "{e}");
}

#[test]
fn test_label_beyond_training_classes() {
    let dir = fake_dir(&[0, 1, 2], &[1, 3], false);
    let e = Mnist::load(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::LabelOutOfRange { .. }), "{e:?}");
    assert!(msg.contains(TEST_LABELS), "{msg}");
    assert!(msg.contains("label 3 at index 1 is out of range"), "{msg}");
    assert!(msg.contains("label < 3 (the number of classes)"), "{msg}");
}

#[test]
fn image_label_count_mismatch() {
    let dir = fake_dir(&[0, 1, 2], &[1, 0], false);
    IdxArray::new(vec![2], vec![0u8, 1])
        .unwrap()
        .save(dir.path().join(TRAIN_LABELS), Compression::None)
        .unwrap();
    let e = Mnist::load(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::CountMismatch { .. }), "{e:?}");
    assert!(
        msg.contains(TRAIN_IMAGES) && msg.contains(TRAIN_LABELS),
        "{msg}"
    );
    assert!(
        msg.contains("holds 3 images") && msg.contains("holds 2 labels"),
        "{msg}"
    );
}

#[test]
fn test_and_train_image_shapes_differ() {
    let dir = fake_dir(&[0, 1], &[1], false);
    write_split(dir.path(), TEST_IMAGES, TEST_LABELS, &[2, 3], &[1], false);
    let e = Mnist::load(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::ImageShapeMismatch { .. }), "{e:?}");
    assert!(
        msg.contains("shape [2, 3]") && msg.contains("have [3, 2]"),
        "{msg}"
    );
}

#[test]
fn wrong_element_types_and_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let save = |n: &str, a: IdxArray| a.save(p(n), Compression::None).unwrap();
    save("img-u8", IdxArray::new(vec![2, 2], vec![0u8; 4]).unwrap());
    save("img-i16", IdxArray::new(vec![2, 2], vec![0i16; 4]).unwrap());
    save("img-rank1", IdxArray::new(vec![2], vec![0u8; 2]).unwrap());
    save(
        "img-zero",
        IdxArray::new(vec![2, 0], Vec::<u8>::new()).unwrap(),
    );
    save("lbl-u8", IdxArray::new(vec![2], vec![0u8, 1]).unwrap());
    save("lbl-f32", IdxArray::new(vec![2], vec![0f32, 1.0]).unwrap());
    save(
        "lbl-rank2",
        IdxArray::new(vec![2, 1], vec![0u8, 1]).unwrap(),
    );
    save("lbl-neg", IdxArray::new(vec![2], vec![0i8, -1]).unwrap());

    let msg = |i: &str, l: &str| Dataset::load(p(i), p(l), None).unwrap_err().to_string();
    let m = msg("img-i16", "lbl-u8");
    assert!(
        m.contains("img-i16: images must have element type u8 (0x08), found i16 (0x0B)"),
        "{m}"
    );
    let m = msg("img-rank1", "lbl-u8");
    assert!(
        m.contains("img-rank1: images must have at least 2 dimensions"),
        "{m}"
    );
    assert!(m.contains("found shape [2]"), "{m}");
    let m = msg("img-zero", "lbl-u8");
    assert!(
        m.contains("img-zero: images must have non-zero image dimensions"),
        "{m}"
    );
    let m = msg("img-u8", "lbl-f32");
    assert!(
        m.contains("lbl-f32: labels must have element type an integer type"),
        "{m}"
    );
    assert!(m.contains("found f32 (0x0D)"), "{m}");
    let m = msg("img-u8", "lbl-rank2");
    assert!(
        m.contains("lbl-rank2: labels must have exactly 1 dimension, found shape [2, 1]"),
        "{m}"
    );
    let m = msg("img-u8", "lbl-neg");
    assert!(
        m.contains("lbl-neg: label -1 at index 1 is out of range"),
        "{m}"
    );

    let ok = Dataset::load(p("img-u8"), p("lbl-u8"), None).unwrap();
    assert_eq!((ok.len(), ok.num_classes()), (2, 2));
}

#[test]
fn exported_subset_reloads() {
    let dir = fake_dir(&[0, 1, 2, 1], &[1], false);
    let m = Mnist::load(dir.path()).unwrap();
    let sub = m.train.subset(&[3, 1]);
    let out = tempfile::tempdir().unwrap();
    let (i, l) = (
        out.path().join("sub-images.gz"),
        out.path().join("sub-labels.gz"),
    );
    sub.save_idx(&i, &l, Compression::Gzip).unwrap();
    let back = Dataset::load(&i, &l, Some(m.train.num_classes())).unwrap();
    assert_eq!(back, sub);
}
