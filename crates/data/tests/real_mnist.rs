//! Checks against the real MNIST files and the facts published with them.
//! These fail (never skip) when the files cannot be found; see
//! `common::real_mnist_dir`.

mod common;

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use siamese_data::{
    Holdout, MNIST_FILES, Mnist, Normalizer, Pair, classic_pairs, epoch_seed, random_pairs,
    resolve_file,
};

fn mnist() -> &'static Mnist {
    static MNIST: OnceLock<Mnist> = OnceLock::new();
    MNIST.get_or_init(|| Mnist::load(common::real_mnist_dir()).unwrap())
}

/// The decompressed bytes of one of the four files.
fn decompressed(name: &str) -> Vec<u8> {
    let path = resolve_file(&common::real_mnist_dir(), name).unwrap();
    let bytes = fs::read(&path).unwrap();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn shapes_labels_and_class_counts() {
    let m = mnist();
    assert_eq!((m.train.len(), m.test.len()), (60_000, 10_000));
    assert_eq!(m.train.image_shape(), &[28, 28]);
    assert_eq!(m.test.image_shape(), &[28, 28]);
    assert_eq!(m.train.image_len(), 784);
    assert_eq!(m.train.images().len(), 60_000 * 784);
    assert_eq!((m.train.num_classes(), m.test.num_classes()), (10, 10));
    assert_eq!(m.train.labels()[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(m.test.labels()[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(
        m.train.class_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        m.test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
}

#[test]
fn decompressed_files_match_published_sha256() {
    let expected = [
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ];
    for (name, want) in MNIST_FILES.iter().zip(expected) {
        assert_eq!(hex(&Sha256::digest(decompressed(name))), want, "{name}");
    }
}

#[test]
fn our_payload_is_the_file_minus_its_header() {
    // Ties the checksummed bytes to what the reader returns.
    let m = mnist();
    assert_eq!(&decompressed(MNIST_FILES[0])[16..], m.train.images());
    assert_eq!(&decompressed(MNIST_FILES[2])[16..], m.test.images());
    let labels: Vec<u32> = decompressed(MNIST_FILES[1])[8..]
        .iter()
        .map(|&b| u32::from(b))
        .collect();
    assert_eq!(labels, m.train.labels());
}

#[test]
fn agrees_byte_for_byte_with_the_mnist_crate() {
    // The `mnist` crate reads only raw files under fixed names, from a
    // `&str` base path ending in a separator.
    let dir = tempfile::tempdir().unwrap();
    for name in MNIST_FILES {
        fs::write(dir.path().join(name), decompressed(name)).unwrap();
    }
    let base = format!("{}/", dir.path().display());
    let theirs = mnist::MnistBuilder::new()
        .base_path(&base)
        .training_set_length(60_000)
        .validation_set_length(0)
        .test_set_length(10_000)
        .finalize();
    let ours = mnist();
    assert!(theirs.trn_img == ours.train.images());
    assert!(theirs.tst_img == ours.test.images());
    let widen = |v: &[u8]| v.iter().map(|&b| u32::from(b)).collect::<Vec<_>>();
    assert_eq!(widen(&theirs.trn_lbl), ours.train.labels());
    assert_eq!(widen(&theirs.tst_lbl), ours.test.labels());
    // And our raw-file path reads the same as our gzip path.
    assert_eq!(&Mnist::load(dir.path()).unwrap(), ours);
}

#[test]
fn pixel_statistics() {
    let n = Normalizer::standardize_from(&mnist().train);
    assert!((n.mean() - 0.13066).abs() < 5e-6, "{}", n.mean());
    assert!((n.std() - 0.30811).abs() < 5e-6, "{}", n.std());
    assert!(!n.maps_zero_to_zero());
    assert!(Normalizer::unit_range().maps_zero_to_zero());
}

fn check_pairs(pairs: &[Pair], labels: &[u32]) {
    for p in pairs {
        let (a, b) = (labels[p.left as usize], labels[p.right as usize]);
        assert_eq!(a == b, p.similar, "{p:?}: labels {a} and {b}");
        assert_eq!(p.target(), if a == b { 1.0 } else { 0.0 });
    }
}

#[test]
fn classic_pairs_on_real_data() {
    let m = mnist();
    for (ds, want) in [(&m.train, 108_400), (&m.test, 17_820)] {
        let pairs = classic_pairs(ds.labels(), ds.num_classes(), 1).unwrap();
        assert_eq!(pairs.len(), want);
        assert_eq!(pairs.iter().filter(|p| p.similar).count(), want / 2);
        check_pairs(&pairs, ds.labels());
        assert_eq!(
            pairs,
            classic_pairs(ds.labels(), ds.num_classes(), 1).unwrap()
        );
        let other = classic_pairs(ds.labels(), ds.num_classes(), 2).unwrap();
        assert_ne!(pairs, other);
        // Only the negatives' partner classes depend on the seed.
        let positives = |v: &[Pair]| v.iter().filter(|p| p.similar).copied().collect::<Vec<_>>();
        assert_eq!(positives(&pairs), positives(&other));
    }
}

#[test]
fn random_pairs_on_real_data() {
    let train = &mnist().train;
    let (labels, c) = (train.labels(), train.num_classes());
    let e0 = random_pairs(labels, c, 20_000, 0.5, epoch_seed(7, 0)).unwrap();
    let e1 = random_pairs(labels, c, 20_000, 0.5, epoch_seed(7, 1)).unwrap();
    assert_eq!(e0.len(), 20_000);
    assert_eq!(e0.iter().filter(|p| p.similar).count(), 10_000);
    check_pairs(&e0, labels);
    check_pairs(&e1, labels);
    assert_eq!(
        e0,
        random_pairs(labels, c, 20_000, 0.5, epoch_seed(7, 0)).unwrap()
    );
    assert_ne!(e0, e1);
    // Balanced by class: every class shows up in positives about 1/10 of the time.
    let mut per_class = vec![0usize; c];
    for p in e0.iter().filter(|p| p.similar) {
        per_class[labels[p.left as usize] as usize] += 1;
    }
    assert!(
        per_class.iter().all(|&n| (800..1200).contains(&n)),
        "{per_class:?}"
    );
}

#[test]
fn validation_split_on_real_data() {
    let train = mnist().train.clone();
    let (t, v) = train
        .clone()
        .split_off_validation(10_000, Holdout::Last)
        .unwrap();
    assert_eq!((t.len(), v.len()), (50_000, 10_000));
    assert_eq!(v.image(0), train.image(50_000));
    let (t, v) = train
        .split_off_validation(10_000, Holdout::Random { seed: 3 })
        .unwrap();
    assert_eq!((t.len(), v.len()), (50_000, 10_000));
    let distinct: HashSet<&[u8]> = (0..v.len()).map(|i| v.image(i)).collect();
    assert!(distinct.len() > 9_900);
    assert_eq!(v.class_counts().iter().sum::<usize>(), 10_000);
}
