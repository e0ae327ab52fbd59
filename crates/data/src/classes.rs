//! Class names beside IDX files: `classes.txt`, one name per line, line `i` naming label `i`.

use std::fs;
use std::io;
use std::path::Path;

use crate::error::{DataError, Result};

/// The name of the class-names file in a data directory: `classes.txt`.
pub const CLASSES_FILE: &str = "classes.txt";

/// Reads `dir/classes.txt`, if it exists: one class name per line, the line number
/// (from 0) being the label. `None` when the file is absent.
///
/// A final newline and Windows line ends are accepted. An empty name, one with
/// surrounding whitespace or one named twice is an error naming the line, since it
/// would make a label's name ambiguous.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// assert_eq!(siamese_data::read_class_names(dir.path())?, None);
/// std::fs::write(dir.path().join("classes.txt"), "cat\ndog\n")?;
/// let names = siamese_data::read_class_names(dir.path())?;
/// assert_eq!(names, Some(vec!["cat".to_owned(), "dog".to_owned()]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_class_names(dir: impl AsRef<Path>) -> Result<Option<Vec<String>>> {
    let path = dir.as_ref().join(CLASSES_FILE);
    let text = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(DataError::Io { path, source }),
    };
    let bad = |line: usize, reason: String| DataError::ClassNames {
        path: path.clone(),
        line,
        reason,
    };
    let text = String::from_utf8(text).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        bad(line, "not valid UTF-8".to_owned())
    })?;
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let mut names: Vec<String> = Vec::new();
    if body.is_empty() {
        return Ok(Some(names));
    }
    for (i, raw) in body.split('\n').enumerate() {
        let name = raw.strip_suffix('\r').unwrap_or(raw);
        check_class_name(name).map_err(|reason| bad(i + 1, reason))?;
        if let Some(first) = names.iter().position(|n| n == name) {
            return Err(bad(
                i + 1,
                format!("class {name:?} is already named on line {}", first + 1),
            ));
        }
        names.push(name.to_owned());
    }
    Ok(Some(names))
}

/// Writes `dir/classes.txt` atomically, one name per line, so that
/// [`read_class_names`] reads the same names back.
///
/// A name that could not be read back the same (empty, with a line break or
/// surrounding whitespace, or repeated) is an error written nowhere.
pub fn write_class_names(dir: impl AsRef<Path>, names: &[String]) -> Result<()> {
    let path = dir.as_ref().join(CLASSES_FILE);
    let mut text = String::new();
    for (i, name) in names.iter().enumerate() {
        let bad = |reason| DataError::ClassNames {
            path: path.clone(),
            line: i + 1,
            reason,
        };
        check_class_name(name).map_err(bad)?;
        if names[..i].contains(name) {
            return Err(bad(format!("class {name:?} is named twice")));
        }
        text.push_str(name);
        text.push('\n');
    }
    siamese_io::write_atomically(&path, text.as_bytes())?;
    Ok(())
}

/// Why `name` cannot stand on a line of `classes.txt`, if it cannot.
pub(crate) fn check_class_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        Err("empty class name; expected a name on every line".to_owned())
    } else if name.chars().any(char::is_control) {
        Err(format!(
            "class name {name:?} has a control character (line break or tab); expected \
             printable text"
        ))
    } else if name.trim() != name {
        Err(format!(
            "class name {name:?} has leading or trailing whitespace; expected none"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn round_trip_and_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        write_class_names(dir.path(), &names(&["T-shirt/top", "Ankle boot"])).unwrap();
        let back = read_class_names(dir.path()).unwrap().unwrap();
        assert_eq!(back, names(&["T-shirt/top", "Ankle boot"]));
        fs::write(dir.path().join(CLASSES_FILE), "a\r\nb").unwrap();
        assert_eq!(
            read_class_names(dir.path()).unwrap(),
            Some(names(&["a", "b"]))
        );
        fs::write(dir.path().join(CLASSES_FILE), "").unwrap();
        assert_eq!(read_class_names(dir.path()).unwrap(), Some(vec![]));
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (text, line, needle) in [
            ("a\n\nb\n", 2, "empty class name"),
            ("a\nb\na\n", 3, "already named on line 1"),
            ("a\n b\n", 2, "whitespace"),
            ("a\tb\n", 1, "control character"),
        ] {
            fs::write(dir.path().join(CLASSES_FILE), text).unwrap();
            let e = read_class_names(dir.path()).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, DataError::ClassNames { line: l, .. } if l == line),
                "{text:?}: {msg}"
            );
            assert!(msg.contains(needle) && msg.contains("classes.txt"), "{msg}");
        }
        let e = write_class_names(dir.path(), &names(&["a", "x\ny"])).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
