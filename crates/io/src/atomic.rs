use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file that could not be written; the previous file at `path`, if any, is intact and no
/// temporary file is left beside it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", path.display())]
pub struct WriteError {
    /// The file that was to be written.
    pub path: PathBuf,
    /// What the operating system said, e.g. `No space left on device (os error 28)`. Part
    /// of the message and so not also a `source()`: a chain printer (`{:#}` of anyhow)
    /// would show it twice.
    pub error: io::Error,
}

/// Writes `bytes` to `path` atomically: see [`write_atomically_with`].
///
/// # Errors
/// A [`WriteError`] naming `path` when the directory cannot take the file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically_with(path, |file| file.write_all(bytes))
}

/// Writes a file through a temporary sibling (`.{name}.{pid}-{n}.tmp` in the same
/// directory), which `write` fills, is synced to disk and then renamed over `path`: readers
/// see the old file or the whole new one, never part of it. On any error (no space left, a
/// read-only file system, no permission) the temporary file is removed and `path` is left
/// as it was.
///
/// The new file gets the permissions of any new file (`0o666` less the umask).
///
/// # Errors
/// A [`WriteError`] naming `path` when creating, writing, syncing or renaming fails.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), WriteError> {
    write_through_temporary(path, write, File::sync_all)
}

/// [`write_atomically_with`] with the sync step given, so that tests can make it fail: no
/// file system at hand fails `fsync` on demand (tmpfs reports a full disk at `write`).
fn write_through_temporary(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
    sync: impl FnOnce(&File) -> io::Result<()>,
) -> Result<(), WriteError> {
    let error = |error| WriteError {
        path: path.to_owned(),
        error,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let (mut file, temporary) = Temporary::create(dir, &name).map_err(error)?;
    // Every `?` from here on drops `temporary`, which removes the file.
    write(&mut file).map_err(error)?;
    sync(&file).map_err(error)?;
    drop(file);
    std::fs::rename(&temporary.path, path).map_err(error)?;
    temporary.keep();
    Ok(())
}

/// A temporary file that is removed when dropped, unless kept. Not `tempfile`'s: its
/// errors append `at path ".name.XXXXXX.tmp"` (a file that never came to be) to the
/// operating system's message and hide the OS error code.
struct Temporary {
    path: PathBuf,
    keep: bool,
}

impl Temporary {
    fn create(dir: &Path, name: &str) -> io::Result<(File, Self)> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // The pid keeps processes apart, the counter threads; a name left by a dead
        // process with the same pid is skipped.
        for _ in 0..64 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((file, Self { path, keep: false })),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary file name",
        ))
    }

    /// The file was renamed into place: nothing to remove.
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.keep {
            // Nothing more to do if this fails too: the error being returned says why.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, b"old").unwrap();
        let err = write_atomically_with(&path, |file| {
            file.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.path, path);
        assert_eq!(err.to_string(), format!("{}: disk full", path.display()));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failed_sync_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, b"old").unwrap();
        let err = write_through_temporary(
            &path,
            |file| file.write_all(b"new"),
            |_| Err(io::Error::from_raw_os_error(28)),
        )
        .unwrap_err();
        assert_eq!(err.path, path);
        assert_eq!(err.error.raw_os_error(), Some(28));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[test]
    fn a_failed_rename_keeps_what_is_there_and_removes_the_temporary() {
        // A non-empty directory where the file should go: rename(2) itself fails.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"kept").unwrap();
        let err = write_atomically(&path, b"new").unwrap_err();
        assert_eq!(err.path, path);
        assert_eq!(std::fs::read(path.join("inside")).unwrap(), b"kept");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[test]
    fn the_reason_is_in_the_message_and_not_repeated_as_a_source() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomically(&dir.path().join("no/dir/out.txt"), b"x").unwrap_err();
        assert!(std::error::Error::source(&err).is_none());
        let file_error = crate::FileError::from(err);
        assert!(std::error::Error::source(&file_error).is_none());
        assert!(
            file_error.to_string().contains("No such file"),
            "{file_error}"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/out.txt");
        let err = write_atomically(&path, b"x").unwrap_err();
        assert!(err.to_string().contains("out.txt"), "{err}");
    }
}
