//! What the fuzz targets share: the one scratch file through which the file readers, which
//! take a path, get the fuzzer's bytes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A directory of this process's own, made once: a fresh directory per input would cost
/// more than the reader under test. Kept when the process ends (libFuzzer leaves through
/// `exit`, which runs no destructors); `cargo xtask fuzz` points `TMPDIR` at a directory it
/// removes afterwards.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("siamese-fuzz-")
            .tempdir()
            .expect("cannot create the fuzzer's scratch directory")
            .keep()
    })
}

/// Overwrites `name` in [`scratch_dir`] with `data` and returns its path.
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, data).expect("cannot write the fuzzer's scratch file");
    path
}
