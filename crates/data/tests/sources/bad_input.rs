//! Every kind of bad input: the stated error under `Fail`, the stated count under `Skip`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use siamese_data::DataError;
use siamese_data::sources::{
    ImageCollection, ImageSource, LoadOptions, LoadReport, MAX_REPORTED_SKIPS, OnBadImage,
    SourceError,
};

use crate::fixtures::{self, Form, WORDS};

fn options(policy: OnBadImage) -> LoadOptions {
    LoadOptions {
        on_bad_image: policy,
        ..LoadOptions::default()
    }
}

fn load(source: ImageSource, policy: OnBadImage) -> Result<LoadReport, DataError> {
    ImageCollection::load(&source, &options(policy)).map(|l| l.report)
}

/// A PNG whose header claims `side × side` pixels, followed by no image data.
fn lying_png(side: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale
    let mut crc = flate2::Crc::new();
    crc.update(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc.sum().to_be_bytes());
    png
}

/// The bad image files, by name, and what their error says.
fn bad_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>, &'static str)> {
    let mut good = Vec::new();
    fixtures::digit(0)
        .write_to(
            &mut std::io::Cursor::new(&mut good),
            image::ImageFormat::Png,
        )
        .unwrap();
    let mut corrupt = good.clone();
    let n = corrupt.len();
    corrupt[40..n - 20].fill(0xA5);
    let mut jpeg = Vec::new();
    fixtures::digit(0)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    // Cut inside the image data, where the decoder alone would fill in gray.
    let truncated_jpeg = jpeg[..jpeg.len() * 9 / 10].to_vec();
    let class = dir.join("seven");
    vec![
        (class.join("corrupt.png"), corrupt, ""),
        (
            class.join("truncated.jpg"),
            truncated_jpeg,
            "truncated JPEG",
        ),
        (
            class.join("text.png"),
            b"not an image at all\n".to_vec(),
            "Invalid PNG signature",
        ),
        (class.join("huge.png"), lying_png(100_000), "limit"),
    ]
}

#[test]
fn bad_images_in_folders() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..30, |_| Form::Png);
    let source = || ImageSource::Folder(dir.path().to_path_buf());
    let bad = bad_files(dir.path());

    // Fail: each bad file alone is an error naming it.
    for (path, bytes, needle) in &bad {
        fs::write(path, bytes).unwrap();
        let e = load(source(), OnBadImage::Fail).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(&e, DataError::Source(SourceError::BadImage { path: p, .. }) if p == path),
            "{}: {msg}",
            path.display()
        );
        assert!(
            msg.contains("cannot decode image") && msg.contains(needle),
            "{msg}"
        );
        fs::remove_file(path).unwrap();
    }
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let e = load(source(), OnBadImage::Fail).unwrap_err();
    assert!(
        matches!(&e, DataError::Source(SourceError::EmptyClass { dir }) if *dir == empty),
        "{e}"
    );

    // Skip: all of them at once are counted, named and left out.
    for (path, bytes, _) in &bad {
        fs::write(path, bytes).unwrap();
    }
    let r = load(source(), OnBadImage::Skip).unwrap();
    assert_eq!((r.images, r.skipped_count), (30, bad.len()));
    assert_eq!(r.empty_class_folders, vec![empty]);
    let mut named: Vec<&PathBuf> = r.skipped.iter().map(|s| &s.path).collect();
    named.sort();
    let mut expected: Vec<&PathBuf> = bad.iter().map(|b| &b.0).collect();
    expected.sort();
    assert_eq!(named, expected);
}

#[test]
fn only_the_first_skips_are_named() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_folder(dir.path(), "", 0..5, |_| Form::Png);
    for i in 0..12 {
        fs::write(dir.path().join(format!("seven/bad{i:02}.png")), "x").unwrap();
    }
    let r = load(ImageSource::Folder(dir.path().into()), OnBadImage::Skip).unwrap();
    assert_eq!(r.skipped_count, 12);
    assert_eq!(r.skipped.len(), MAX_REPORTED_SKIPS);
    assert!(
        r.skipped[0].path.ends_with("seven/bad00.png"),
        "{}",
        r.skipped[0]
    );

    // Nothing loadable at all is an error, not an empty collection.
    let only_bad = tempfile::tempdir().unwrap();
    fs::create_dir(only_bad.path().join("a")).unwrap();
    fs::write(only_bad.path().join("a/x.png"), "x").unwrap();
    let e = load(
        ImageSource::Folder(only_bad.path().into()),
        OnBadImage::Skip,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("no image could be loaded (1 skipped)"),
        "{e}"
    );
}

/// Whether an error is the one a case expects.
type Check = dyn Fn(&DataError) -> bool;

#[test]
fn bad_manifest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let written = fixtures::write_folder(dir.path(), "", 0..20, |_| Form::Png);
    fs::write(dir.path().join("seven/text.png"), "not an image").unwrap();
    let row = |w: &fixtures::Written| format!("{},{}\n", w.rel, WORDS[w.digit as usize]);
    let good: String = written.iter().map(row).collect();
    let csv = dir.path().join("m.csv");
    let source = || ImageSource::Manifest(csv.clone());
    // Line numbers: the header is line 1, so the bad row is line 22.
    let cases: [(&str, &Check); 3] = [
        ("nowhere/missing.png,seven", &|e| {
            matches!(e, DataError::Source(SourceError::ManifestMissingImage { line: 22, image, .. })
                if image.ends_with("nowhere/missing.png"))
        }),
        ("seven/00000.png,", &|e| {
            matches!(e, DataError::Source(SourceError::Manifest { line: 22, column: Some(c), .. })
                if c == "label")
        }),
        ("seven/text.png,seven", &|e| {
            matches!(
                e,
                DataError::Source(SourceError::ManifestBadImage { line: 22, .. })
            )
        }),
    ];
    for (bad_row, is_expected) in cases {
        fs::write(&csv, format!("path,label\n{good}{bad_row}\n")).unwrap();
        let e = load(source(), OnBadImage::Fail).unwrap_err();
        assert!(is_expected(&e), "{bad_row}: {e}");
        assert!(e.to_string().contains("m.csv: line 22"), "{e}");
    }

    let mut all = format!("path,label\n{good}");
    for (bad_row, _) in cases {
        writeln!(all, "{bad_row}").unwrap();
    }
    fs::write(&csv, all).unwrap();
    let r = load(source(), OnBadImage::Skip).unwrap();
    assert_eq!((r.images, r.skipped_count), (20, 3));
    let reasons: Vec<String> = r.skipped.iter().map(|s| s.reason.clone()).collect();
    assert!(
        reasons[0].starts_with("line 22: image not found"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("line 23: empty class name"),
        "{reasons:?}"
    );
    assert!(reasons[2].starts_with("line 24: "), "{reasons:?}");
}
