//! The atomic writer on a really full disk, a read-only file system and a directory without
//! write permission: the error names the file and says why once, the previous file is kept
//! byte for byte, and no temporary file is left. The tmpfs tests need root (CI has it);
//! elsewhere they print why they are skipped.

use std::error::Error;
use std::io::{self, Write};
use std::path::Path;
use std::process::Command;

use crate::testing::{ENOSPC, EROFS, Tmpfs, effective_uid, temporary_files};
use crate::{FileError, WriteError, write_atomically, write_atomically_with};

/// The message as `{:#}` of anyhow prints it: every error of the chain, joined by ": ".
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// What every failed write must leave: an error naming `path` with `os_error`, said once
/// (also through [`FileError`], the way the run files report it), the old bytes at `path`,
/// and no temporary file in `dir`.
fn assert_clean_failure(err: WriteError, path: &Path, os_error: i32, dir: &Path, old: &[u8]) {
    assert_eq!(err.path, path);
    assert_eq!(err.error.raw_os_error(), Some(os_error), "{err}");
    let reason = io::Error::from_raw_os_error(os_error).to_string();
    let reason = reason
        .split(" (os error")
        .next()
        .unwrap_or(&reason)
        .to_owned();
    assert_eq!(chain(&err).matches(&reason).count(), 1, "{err}");
    let message = chain(&FileError::from(err));
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert_eq!(message.matches(&reason).count(), 1, "{message}");
    assert_eq!(std::fs::read(path).unwrap(), old);
    assert_eq!(
        temporary_files(dir).unwrap(),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn no_space_while_writing_keeps_the_old_file() {
    let Some(disk) = Tmpfs::mount_or_skip("full-disk write test", "size=256k") else {
        return;
    };
    let path = disk.path().join("out.bin");
    write_atomically(&path, b"old").unwrap();
    let err = write_atomically(&path, &vec![7u8; 512 * 1024]).unwrap_err();
    eprintln!("full disk on write: {err}");
    assert_clean_failure(err, &path, ENOSPC, disk.path(), b"old");
    // The removed temporary gave its pages back: a write that fits goes through.
    write_atomically(&path, &vec![8u8; 128 * 1024]).unwrap();
    assert_eq!(std::fs::read(&path).unwrap().len(), 128 * 1024);
}

#[test]
fn no_space_in_a_streamed_write_keeps_the_old_file() {
    let Some(disk) = Tmpfs::mount_or_skip("full-disk streamed write test", "size=256k") else {
        return;
    };
    let path = disk.path().join("out.bin");
    write_atomically(&path, b"old").unwrap();
    let _filler = disk.fill(8 * 1024).unwrap();
    let err = write_atomically_with(&path, |file| {
        for _ in 0..16 {
            file.write_all(&[1u8; 4096])?;
        }
        Ok(())
    })
    .unwrap_err();
    assert_clean_failure(err, &path, ENOSPC, disk.path(), b"old");
}

#[test]
fn no_inode_left_for_the_temporary_keeps_the_old_file() {
    let Some(disk) = Tmpfs::mount_or_skip("full-disk create test", "size=256k,nr_inodes=8") else {
        return;
    };
    let path = disk.path().join("out.bin");
    write_atomically(&path, b"old").unwrap();
    let mut taken = 0;
    loop {
        match std::fs::File::create(disk.path().join(format!("inode-{taken}"))) {
            Ok(_) => taken += 1,
            Err(e) if e.raw_os_error() == Some(ENOSPC) => break,
            Err(e) => panic!("filling the inodes: {e}"),
        }
        assert!(taken < 100, "nr_inodes=8 is not enforced");
    }
    let err = write_atomically(&path, b"new").unwrap_err();
    assert_clean_failure(err, &path, ENOSPC, disk.path(), b"old");
}

#[test]
fn a_read_only_file_system_keeps_the_old_file() {
    let Some(disk) = Tmpfs::mount_or_skip("read-only file system test", "size=256k") else {
        return;
    };
    let path = disk.path().join("out.bin");
    write_atomically(&path, b"old").unwrap();
    disk.remount("ro").unwrap();
    let err = write_atomically(&path, b"new").unwrap_err();
    eprintln!("read-only file system: {err}");
    assert_clean_failure(err, &path, EROFS, disk.path(), b"old");
}

/// Set in the child that [`a_directory_without_write_permission_keeps_the_old_file`]
/// starts as an unprivileged user: the directory to try.
const EACCES_CHILD_DIR: &str = "SIAMESE_IO_TEST_EACCES_DIR";
const EACCES_CHECKED: &str = "EACCES checked";

#[test]
fn a_directory_without_write_permission_keeps_the_old_file() {
    if let Some(dir) = std::env::var_os(EACCES_CHILD_DIR) {
        let message = check_permission_denied(Path::new(&dir));
        println!("{EACCES_CHECKED} (uid {:?}): {message}", effective_uid());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_atomically(&dir.path().join("out.bin"), b"old").unwrap();
    set_mode(dir.path(), 0o555);
    let uid = effective_uid();
    if uid != Some(0) {
        eprintln!("no permission: {}", check_permission_denied(dir.path()));
        set_mode(dir.path(), 0o755);
        return;
    }
    // Root may write anywhere: run this test again as `nobody`.
    let name = "full_disk_tests::a_directory_without_write_permission_keeps_the_old_file";
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(EACCES_CHILD_DIR, dir.path())
        .output();
    set_mode(dir.path(), 0o755);
    let out = match child {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIPPED permission test: as root, and setpriv cannot run: {e}");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stdout.contains("running 1 test") {
        // The harness never started, e.g. `nobody` may not enter the target directory.
        eprintln!(
            "SKIPPED permission test: as root, and the test cannot run as nobody: {}",
            stderr.trim()
        );
        return;
    }
    // The harness prints `test … ... ` before the test's own output, on the same line.
    let checked = stdout
        .lines()
        .find_map(|l| l.find(EACCES_CHECKED).map(|at| &l[at..]));
    assert!(
        out.status.success() && checked.is_some(),
        "as nobody:\n{stdout}\n{stderr}"
    );
    eprintln!("{}", checked.unwrap_or_default());
}

/// Checks a write into `dir` (mode 555, as an unprivileged user); returns the message.
fn check_permission_denied(dir: &Path) -> String {
    let path = dir.join("out.bin");
    let err = write_atomically(&path, b"new").unwrap_err();
    let message = err.to_string();
    assert_clean_failure(err, &path, 13, dir, b"old");
    message
}

fn set_mode(dir: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
}
