//! Test support (feature `testing`, Linux only): small tmpfs mounts on which tests make the
//! disk really full or really read-only, to check what the writers do then.
//!
//! Mounting needs root (CI runs as root). Elsewhere [`Tmpfs::mount_or_skip`] prints why the
//! test is skipped and returns `None`: such a test is skipped visibly, never silently.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let Some(disk) = siamese_io::testing::Tmpfs::mount_or_skip("full-disk test", "size=256k")
//! else {
//!     return Ok(());
//! };
//! let filler = disk.fill(0)?; // every byte taken: the next write fails with ENOSPC
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A tmpfs mounted on a new temporary directory; unmounted (and the directory removed) on
/// drop, also when the test panics.
#[derive(Debug)]
pub struct Tmpfs {
    /// `None` once dropped; dropped after the unmount, so it removes the empty mount point.
    dir: Option<TempDir>,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (e.g. `size=256k` or `size=1m,nr_inodes=8`).
    ///
    /// # Errors
    /// Why not, in words for a skip message: not root, or what `mount` said.
    pub fn mount(options: &str) -> Result<Self, String> {
        match effective_uid() {
            Some(0) => {}
            Some(uid) => return Err(format!("not root (uid {uid}); needs mount -t tmpfs")),
            None => return Err("uid unknown (no /proc/self/status); needs root".into()),
        }
        let dir = tempfile::Builder::new()
            .prefix("siamese-tmpfs-")
            .tempdir()
            .map_err(|e| format!("no mount point: {e}"))?;
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path()))?;
        Ok(Self { dir: Some(dir) })
    }

    /// [`Tmpfs::mount`], or `None` after printing `SKIPPED {test}: {reason}` to stderr.
    pub fn mount_or_skip(test: &str, options: &str) -> Option<Self> {
        match Self::mount(options) {
            Ok(fs) => Some(fs),
            Err(reason) => {
                eprintln!("SKIPPED {test}: {reason}");
                None
            }
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), TempDir::path)
    }

    /// Remounts with `options`, e.g. `ro` (fails while a file is open for writing) or `rw`.
    ///
    /// # Errors
    /// What `mount` said.
    pub fn remount(&self, options: &str) -> Result<(), String> {
        run(Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path()))
    }

    /// Fills the file system with `.filler` until it is full, then gives back `leave`
    /// bytes (whole 4 KiB pages, as tmpfs counts); returns the filler's path.
    ///
    /// # Errors
    /// Any error other than the expected "no space left".
    pub fn fill(&self, leave: u64) -> io::Result<PathBuf> {
        let path = self.path().join(".filler");
        let mut file = File::create(&path)?;
        let chunk = vec![0xa5u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(ENOSPC) => break,
                Err(e) => return Err(e),
            }
        }
        file.set_len(written.saturating_sub(leave.div_ceil(4096) * 4096))?;
        Ok(path)
    }

    /// The read-only bind mount of `dir` onto itself: the directory turns read-only while
    /// files already open in it stay writable (a remount of the whole tmpfs would refuse).
    ///
    /// # Errors
    /// What `mount` said.
    pub fn bind_read_only(dir: &Path) -> Result<BindMount, String> {
        run(Command::new("mount").arg("--bind").arg(dir).arg(dir))?;
        let bind = BindMount {
            path: dir.to_owned(),
        };
        run(Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir))?;
        Ok(bind)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        unmount(self.path());
        // Removing a directory that is still a mount point fails harmlessly.
        drop(self.dir.take());
    }
}

/// A bind mount from [`Tmpfs::bind_read_only`]; unmounted on drop.
#[derive(Debug)]
pub struct BindMount {
    path: PathBuf,
}

impl Drop for BindMount {
    fn drop(&mut self) {
        unmount(&self.path);
    }
}

/// `ENOSPC` on Linux: "No space left on device".
pub const ENOSPC: i32 = 28;
/// `EROFS` on Linux: "Read-only file system".
pub const EROFS: i32 = 30;

/// The effective uid of this process, from `/proc/self/status` (no libc binding needed).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Real, effective, saved, file-system uid.
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Every file name under `dir` (recursively) that looks like a temporary file of
/// [`crate::write_atomically`]: `.{name}.XXXXXX.tmp`.
///
/// # Errors
/// When `dir` cannot be listed.
pub fn temporary_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(temporary_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "tmp") {
            found.push(path);
        }
    }
    Ok(found)
}

fn unmount(path: &Path) {
    if run(Command::new("umount").arg(path)).is_err() {
        // Busy (a file still open): detach it now, the kernel frees it once closed.
        if let Err(e) = run(Command::new("umount").arg("-l").arg(path)) {
            eprintln!("cannot unmount {}: {e}", path.display());
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
