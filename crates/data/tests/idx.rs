//! The IDX reader and writer: round trips and every error path, with the
//! content of the messages users see.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::header;
use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use siamese_data::{Compression, DataError, IdxArray, IdxData, IdxType};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), GzLevel::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn read_bytes(dir: &Path, name: &str, bytes: &[u8]) -> (String, Result<IdxArray, DataError>) {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    (path.display().to_string(), IdxArray::read(&path))
}

/// Reads `bytes` from a file, raw and gzipped, and returns both messages,
/// which must name the file.
fn errors(bytes: &[u8]) -> Vec<(DataError, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for (name, b) in [("raw-idx", bytes.to_vec()), ("gz-idx", gz(bytes))] {
        let (path, r) = read_bytes(dir.path(), name, &b);
        let e = r.expect_err("malformed input must be rejected");
        let msg = e.to_string();
        assert!(msg.contains(&path), "message does not name {path}: {msg}");
        out.push((e, msg));
    }
    out
}

fn samples() -> Vec<IdxArray> {
    vec![
        IdxArray::new(vec![2, 3], vec![0u8, 1, 127, 128, 254, 255]).unwrap(),
        IdxArray::new(vec![4], vec![i8::MIN, -1, 0, i8::MAX]).unwrap(),
        IdxArray::new(vec![1, 1, 3], vec![i16::MIN, 258, i16::MAX]).unwrap(),
        IdxArray::new(vec![3], vec![i32::MIN, 0x0102_0304, i32::MAX]).unwrap(),
        IdxArray::new(vec![2, 2], vec![1.5f32, -0.0, f32::MAX, f32::INFINITY]).unwrap(),
        IdxArray::new(vec![2], vec![std::f64::consts::PI, -1e300]).unwrap(),
        IdxArray::new(vec![0, 28, 28], Vec::<u8>::new()).unwrap(),
    ]
}

#[test]
fn round_trips_every_type_raw_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    for (k, a) in samples().into_iter().enumerate() {
        for compression in [Compression::None, Compression::Gzip] {
            let path = dir
                .path()
                .join(format!("{k}-{}-{compression:?}", a.elem_type().name()));
            a.save(&path, compression).unwrap();
            let raw = fs::read(&path).unwrap();
            assert_eq!(
                raw.starts_with(&[0x1f, 0x8b]),
                compression == Compression::Gzip
            );
            assert_eq!(IdxArray::read(&path).unwrap(), a);

            let mut mem = Vec::new();
            a.write_to(&mut mem, compression).unwrap();
            assert_eq!(mem, raw);
            assert_eq!(IdxArray::from_reader(&mem[..], "mem").unwrap(), a);
            assert_eq!(IdxArray::from_bytes(&mem, "mem").unwrap(), a);
        }
    }
    // No temporary files are left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 14);
}

#[test]
fn writes_big_endian_layout() {
    let a = IdxArray::new(vec![2], vec![0x0102i16, -2]).unwrap();
    let mut mem = Vec::new();
    a.write_to(&mut mem, Compression::None).unwrap();
    assert_eq!(mem, [0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE]);
}

#[test]
fn compression_is_detected_from_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let a = IdxArray::new(vec![3], vec![7u8, 8, 9]).unwrap();
    let misnamed_gz = dir.path().join("plain.idx");
    let misnamed_raw = dir.path().join("looks-compressed.gz");
    a.save(&misnamed_gz, Compression::Gzip).unwrap();
    a.save(&misnamed_raw, Compression::None).unwrap();
    assert_eq!(IdxArray::read(&misnamed_gz).unwrap(), a);
    assert_eq!(IdxArray::read(&misnamed_raw).unwrap(), a);
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let mut bytes = header(0x08, &[4]);
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    let mut two = gz(&bytes[..6]);
    two.extend(gz(&bytes[6..]));
    let a = IdxArray::from_bytes(&two, "mem").unwrap();
    assert_eq!(a.data(), &IdxData::U8(vec![1, 2, 3, 4]));
}

#[test]
fn save_replaces_atomically_and_reports_bad_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.idx");
    IdxArray::new(vec![1], vec![1u8])
        .unwrap()
        .save(&path, Compression::None)
        .unwrap();
    let b = IdxArray::new(vec![2], vec![5i32, 6]).unwrap();
    b.save(&path, Compression::Gzip).unwrap();
    assert_eq!(IdxArray::read(&path).unwrap(), b);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    let bad = dir.path().join("no-such-dir").join("x.idx");
    let e = b.save(&bad, Compression::None).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(
        msg.contains("no-such-dir") && msg.contains("I/O error"),
        "{msg}"
    );
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope-idx1-ubyte");
    let e = IdxArray::read(&path).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&*path.to_string_lossy()) && msg.contains("not found"),
        "{msg}"
    );
    assert!(msg.contains("put the file at this path"), "{msg}");
}

#[test]
fn io_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // Opening a directory succeeds on Unix; reading it fails.
    let e = IdxArray::read(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(
        msg.contains(&*dir.path().to_string_lossy()) && msg.contains("I/O error"),
        "{msg}"
    );
}

#[test]
fn corrupt_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = gz(&header(0x08, &[1000]));
    let n = bytes.len();
    // Overwrite the deflate data after the 10-byte gzip header.
    for b in &mut bytes[10..n - 8] {
        *b = 0xFF;
    }
    let (path, r) = read_bytes(dir.path(), "bad.gz", &bytes);
    let e = r.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
    assert!(
        msg.contains(&path) && msg.contains("corrupt gzip data"),
        "{msg}"
    );
}

#[test]
fn gzip_crc_mismatch_is_caught() {
    let mut payload = header(0x08, &[3]);
    payload.extend_from_slice(&[1, 2, 3]);
    let mut bytes = gz(&payload);
    let n = bytes.len();
    bytes[n - 8] ^= 0xFF; // CRC32 in the trailer
    let e = IdxArray::from_bytes(&bytes, "crc.gz").unwrap_err();
    assert!(e.to_string().contains("crc.gz"), "{e}");
}

#[test]
fn bad_magic() {
    for (e, msg) in errors(&[1, 2, 8, 1, 0, 0, 0, 0]) {
        assert!(matches!(e, DataError::BadMagic { .. }), "{e:?}");
        assert!(msg.contains("not an IDX file"), "{msg}");
        assert!(msg.contains("expected magic bytes 00 00"), "{msg}");
        assert!(msg.contains("found 01 02 08 01"), "{msg}");
    }
}

#[test]
fn unknown_element_type() {
    for (e, msg) in errors(&header(0x0A, &[1])) {
        assert!(
            matches!(e, DataError::UnknownElementType { code: 0x0A, .. }),
            "{e:?}"
        );
        assert!(msg.contains("unknown IDX element type 0x0A"), "{msg}");
        assert!(
            msg.contains("0x08 (u8)") && msg.contains("0x0E (f64)"),
            "{msg}"
        );
    }
}

#[test]
fn zero_dimensions() {
    for (e, msg) in errors(&[0, 0, 8, 0, 42]) {
        assert!(matches!(e, DataError::ZeroDimensions { .. }), "{e:?}");
        assert!(
            msg.contains("declares 0 dimensions; expected between 1 and 16"),
            "{msg}"
        );
    }
}

#[test]
fn too_many_dimensions() {
    for (e, msg) in errors(&header(0x08, &[1; 17])) {
        assert!(
            matches!(e, DataError::TooManyDimensions { found: 17, .. }),
            "{e:?}"
        );
        assert!(
            msg.contains("declares 17 dimensions; expected at most 16"),
            "{msg}"
        );
    }
}

#[test]
fn absurd_sizes_are_rejected_before_allocating() {
    // Overflows u64.
    let bytes = header(0x0E, &[u32::MAX, u32::MAX, u32::MAX]);
    for (e, msg) in errors(&bytes) {
        assert!(
            matches!(e, DataError::TooLarge { bytes: None, .. }),
            "{e:?}"
        );
        assert!(msg.contains("more than 2^64 bytes"), "{msg}");
        assert!(msg.contains("17179869184-byte cap"), "{msg}");
        assert!(msg.contains("f64 (0x0E)"), "{msg}");
    }
    // Fits u64 but exceeds the cap: 2^32 × 2^32 claimed over a 20-byte input.
    let mut bytes = header(0x08, &[u32::MAX, u32::MAX]);
    bytes.extend_from_slice(&[0; 8]);
    assert_eq!(bytes.len(), 20);
    for (e, msg) in errors(&bytes) {
        assert!(
            matches!(e, DataError::TooLarge { bytes: Some(_), .. }),
            "{e:?}"
        );
        assert!(msg.contains("18446744065119617025 bytes"), "{msg}");
        assert!(msg.contains("[4294967295, 4294967295]"), "{msg}");
    }
}

#[test]
fn truncated_header() {
    for (e, msg) in errors(&[0, 0, 8]) {
        assert!(
            matches!(e, DataError::Truncated { part: "header", .. }),
            "{e:?}"
        );
        assert!(
            msg.contains("truncated IDX header: expected 4 bytes, found 3"),
            "{msg}"
        );
    }
    let bytes = &header(0x08, &[60000, 28, 28])[..10];
    for (_, msg) in errors(bytes) {
        assert!(
            msg.contains("truncated IDX header: expected 16 bytes, found 10"),
            "{msg}"
        );
    }
}

#[test]
fn truncated_payload() {
    let mut bytes = header(0x0C, &[10]);
    bytes.extend_from_slice(&[0; 37]);
    for (e, msg) in errors(&bytes) {
        assert!(
            matches!(
                e,
                DataError::Truncated {
                    part: "payload",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            msg.contains("truncated IDX payload: expected 40 bytes, found 37"),
            "{msg}"
        );
    }
}

#[test]
fn truncated_gzip_stream() {
    let mut bytes = header(0x08, &[4096]);
    bytes.extend((0..4096u32).map(|i| (i * 7 % 251) as u8));
    let z = gz(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let (path, r) = read_bytes(dir.path(), "cut.gz", &z[..z.len() / 2]);
    let e = r.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&path), "{msg}");
    assert!(
        matches!(
            e,
            DataError::Truncated {
                part: "payload",
                expected: 4096,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn trailing_bytes() {
    let mut bytes = header(0x08, &[2]);
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    for (e, msg) in errors(&bytes) {
        assert!(
            matches!(e, DataError::TrailingBytes { trailing: 3, .. }),
            "{e:?}"
        );
        assert!(
            msg.contains("3 trailing bytes after the 2-byte payload"),
            "{msg}"
        );
    }
}

#[test]
fn checksum_mismatch_message() {
    let e = DataError::ChecksumMismatch {
        path: "data/mnist/train-images-idx3-ubyte.gz".into(),
        expected: "ab12".into(),
        found: "cd34".into(),
    };
    assert_eq!(
        e.to_string(),
        "data/mnist/train-images-idx3-ubyte.gz: sha256 checksum mismatch: expected ab12, found cd34"
    );
}

#[test]
fn array_constructor_errors() {
    let e = IdxArray::new(vec![2, 3], vec![0u8; 5]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape [2, 3] holds 6 elements, but the data has 5"
    );
    let e = IdxArray::new(vec![], vec![0u8]).unwrap_err();
    assert!(e.to_string().contains("expected 1 to 16 dimensions"), "{e}");
    let e = IdxArray::new(vec![1; 17], vec![0u8]).unwrap_err();
    assert!(matches!(e, DataError::UnrepresentableShape { .. }), "{e}");
    if usize::BITS > 32 {
        let e = IdxArray::new(vec![1 << 32, 0], Vec::<u8>::new()).unwrap_err();
        assert!(e.to_string().contains("each below 2^32"), "{e}");
    }
}

#[test]
fn element_type_metadata() {
    let sizes: Vec<usize> = IdxType::ALL.iter().map(|t| t.size()).collect();
    assert_eq!(sizes, [1, 1, 2, 4, 4, 8]);
    assert_eq!(IdxType::F32.to_string(), "f32 (0x0D)");
}

/// Returns at most one byte per `read`, as a pipe or socket may.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn gzip_is_detected_from_a_reader_that_returns_one_byte_at_a_time() {
    let a = IdxArray::new(vec![2, 2], vec![1i32, -2, 3, -4]).unwrap();
    let mut z = Vec::new();
    a.write_to(&mut z, Compression::Gzip).unwrap();
    assert_eq!(IdxArray::from_reader(Trickle(&z), "trickle").unwrap(), a);
    let e = IdxArray::from_reader(Trickle(&[0x1f]), "one-byte").unwrap_err();
    assert!(
        e.to_string().contains("one-byte: truncated IDX header"),
        "{e}"
    );
}

#[test]
fn gzip_cut_inside_the_idx_header() {
    let mut bytes = header(0x08, &[10, 10, 10]);
    bytes.extend_from_slice(&[0; 1000]);
    let z = gz(&bytes);
    // Keep the gzip header and a sliver of deflate data: not even the IDX
    // header decompresses.
    let cut = &z[..12];
    let e = IdxArray::from_bytes(cut, "cut-early.gz").unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("cut-early.gz: "), "{msg}");
    assert!(
        matches!(
            e,
            DataError::Gzip { .. } | DataError::Truncated { part: "header", .. }
        ),
        "{e:?}"
    );
}
