//! CSV manifests: the same images as the folder, split columns, and errors
//! naming the file, line and column.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use siamese_data::DataError;
use siamese_data::sources::{ImageCollection, ImageSource, LoadOptions, SourceError};

use crate::fixtures::{self, Form, WORDS, content, expected_content, label_of, sorted_words};

fn load(csv: &Path) -> Result<siamese_data::sources::Loaded, DataError> {
    ImageCollection::load(
        &ImageSource::Manifest(csv.to_path_buf()),
        &LoadOptions::default(),
    )
}

#[test]
fn manifest_reads_the_same_images_as_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let written = fixtures::write_folder(dir.path(), "imgs/", 0..1000, |_| Form::Png);
    // Rows in a shuffled order, paths relative to the CSV, one quoted with a comma.
    let mut csv = String::from("path,label,split\n");
    for w in written.iter().rev() {
        let split = if w.index % 5 == 0 { "test" } else { "train" };
        writeln!(csv, "{},{},{split}", w.rel, WORDS[w.digit as usize]).unwrap();
    }
    let odd = dir.path().join("imgs/with, comma.png");
    fixtures::write_digit(1000, Form::Png, &odd);
    let digit = fixtures::mnist_test().label(1000);
    writeln!(
        csv,
        "\"imgs/with, comma.png\",{},train",
        WORDS[digit as usize]
    )
    .unwrap();
    fs::write(dir.path().join("m.csv"), csv).unwrap();

    let c = load(&dir.path().join("m.csv")).unwrap().collection;
    assert_eq!(c.class_names, sorted_words());
    assert_eq!((c.train.len(), c.test.len()), (801, 200));
    let mut all = written.clone();
    all.push(fixtures::Written {
        index: 1000,
        path: odd,
        rel: String::new(),
        digit,
        form: Form::Png,
    });
    assert_eq!(content(&c), expected_content(&all));
    // The test rows, in manifest order (reversed index order).
    let first_test = written.iter().rev().find(|w| w.index % 5 == 0).unwrap();
    assert_eq!(c.test.label(0), label_of(first_test.digit));
    assert_eq!(
        c.test.image(0),
        fixtures::mnist_test().image(first_test.index)
    );
}

#[test]
fn without_a_split_column_the_seeded_split_applies() {
    let dir = tempfile::tempdir().unwrap();
    let written = fixtures::write_folder(dir.path(), "", 0..100, |_| Form::Png);
    let mut csv = String::from("label,path\n");
    for w in &written {
        writeln!(csv, "{},{}", WORDS[w.digit as usize], w.rel).unwrap();
    }
    fs::write(dir.path().join("m.csv"), csv).unwrap();
    let a = load(&dir.path().join("m.csv")).unwrap().collection;
    let b = load(&dir.path().join("m.csv")).unwrap().collection;
    assert_eq!(a, b);
    assert_eq!(a.train.len() + a.test.len(), 100);
    assert!(a.test.len() >= 15 && a.test.len() <= 25, "{}", a.test.len());
}

#[test]
fn malformed_manifests_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..3, |_| Form::Png);
    let cases = [
        (
            "file,label\nseven/00000.png,seven\n",
            1,
            Some("path"),
            "no path column",
        ),
        (
            "path,label,split\nseven/00000.png,seven,validation\n",
            2,
            Some("split"),
            "expected train or test",
        ),
        (
            "path,label\nseven/00000.png,seven\ntwo/00001.png\n",
            3,
            None,
            "found 1 fields, expected 2",
        ),
        ("path,label\n,seven\n", 2, Some("path"), "empty path"),
    ];
    for (text, line, column, needle) in cases {
        let csv = dir.path().join("bad.csv");
        fs::write(&csv, text).unwrap();
        let e = load(&csv).unwrap_err();
        let msg = e.to_string();
        match &e {
            DataError::Source(SourceError::Manifest {
                manifest,
                line: l,
                column: c,
                ..
            }) => {
                assert_eq!((manifest, *l, c.as_deref()), (&csv, line, column), "{msg}");
            }
            other => panic!("{text:?}: unexpected {other:?}"),
        }
        assert!(msg.contains(needle) && msg.contains("bad.csv"), "{msg}");
        assert!(msg.contains(&format!("line {line}")), "{msg}");
    }
}
