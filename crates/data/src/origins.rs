//! Where each image came from: one line of text per image, so that a search hit or an
//! outlier can be traced back to its file.
//!
//! An image collection knows each image's file (or array row); written as IDX files its
//! origins go into `train-origins.txt` and `t10k-origins.txt` beside them, which
//! [`idx_origins`] reads back. IDX files without them (MNIST itself) name the row of the
//! image file: `…/train-images-idx3-ubyte.gz[41]`.

use std::fs;
use std::io;
use std::path::Path;

use crate::error::{DataError, Result};
use crate::mnist::{TEST_IMAGES, TRAIN_IMAGES, resolve_file};

/// The origins of the training images of an MNIST-layout directory, one per line.
pub const TRAIN_ORIGINS: &str = "train-origins.txt";
/// The origins of the test images of an MNIST-layout directory, one per line.
pub const TEST_ORIGINS: &str = "t10k-origins.txt";

/// `file[0]`, `file[1]`, …: the origins of the rows of one array or IDX file.
///
/// ```
/// let o = siamese_data::numbered_origins("x/images.npy".as_ref(), 2);
/// assert_eq!(o, ["x/images.npy[0]", "x/images.npy[1]"]);
/// ```
pub fn numbered_origins(file: &Path, count: usize) -> Vec<String> {
    let file = file.display();
    (0..count).map(|i| format!("{file}[{i}]")).collect()
}

/// The origins of both splits of the MNIST-layout directory `dir` holding `train` and
/// `test` images: from [`TRAIN_ORIGINS`] and [`TEST_ORIGINS`] where they exist, else
/// [`numbered_origins`] of the image files.
///
/// # Errors
/// [`DataError::OriginCount`] when an origins file has another number of lines than its
/// split has images (it belongs to other files), and I/O errors naming the file.
pub fn idx_origins(dir: &Path, train: usize, test: usize) -> Result<(Vec<String>, Vec<String>)> {
    let one = |origins: &str, images: &str, count: usize| -> Result<Vec<String>> {
        match read_lines(&dir.join(origins), count)? {
            Some(lines) => Ok(lines),
            None => {
                let file = resolve_file(dir, images).unwrap_or_else(|| dir.join(images));
                Ok(numbered_origins(&file, count))
            }
        }
    };
    Ok((
        one(TRAIN_ORIGINS, TRAIN_IMAGES, train)?,
        one(TEST_ORIGINS, TEST_IMAGES, test)?,
    ))
}

/// Writes both splits' origins into `dir` as [`TRAIN_ORIGINS`] and [`TEST_ORIGINS`], each
/// atomically. A line break inside an origin (a file name can hold one) becomes U+FFFD,
/// as undecodable bytes of a path already do: origins are for people to read.
pub fn write_idx_origins(dir: &Path, train: &[String], test: &[String]) -> Result<()> {
    for (name, origins) in [(TRAIN_ORIGINS, train), (TEST_ORIGINS, test)] {
        let mut text = String::with_capacity(origins.iter().map(|o| o.len() + 1).sum());
        for origin in origins {
            text.extend(origin.chars().map(|c| {
                if matches!(c, '\n' | '\r') {
                    '\u{FFFD}'
                } else {
                    c
                }
            }));
            text.push('\n');
        }
        siamese_io::write_atomically(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// The lines of `path` (without the final line break), `None` if it does not exist.
fn read_lines(path: &Path, expected: usize) -> Result<Option<Vec<String>>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DataError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let lines: Vec<String> = if body.is_empty() && expected == 0 {
        Vec::new()
    } else {
        body.split('\n').map(str::to_owned).collect()
    };
    if lines.len() != expected {
        return Err(DataError::OriginCount {
            path: path.to_path_buf(),
            found: lines.len(),
            expected,
        });
    }
    Ok(Some(lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_origins_read_back_and_absent_ones_are_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let (train, test) = idx_origins(dir.path(), 2, 0).unwrap();
        assert_eq!(
            train[1],
            format!("{}[1]", dir.path().join(TRAIN_IMAGES).display())
        );
        assert!(test.is_empty());

        let train = vec!["a/1.png".to_owned(), "odd\nname.png".to_owned()];
        write_idx_origins(dir.path(), &train, &[]).unwrap();
        let (back, test) = idx_origins(dir.path(), 2, 0).unwrap();
        assert_eq!(back, ["a/1.png", "odd\u{FFFD}name.png"]);
        assert!(test.is_empty());

        let err = idx_origins(dir.path(), 3, 0).unwrap_err().to_string();
        assert!(err.contains("2 lines") && err.contains("3 images"), "{err}");
    }
}
