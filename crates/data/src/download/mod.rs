//! Fetching the four MNIST files from public mirrors when they are missing.
//!
//! [`Downloader::ensure`] looks at a data directory, downloads only the files
//! found there neither raw nor gzipped, tries the mirrors in order, verifies
//! each file against a pinned SHA-256, and writes it atomically (temporary
//! file in the same directory, fsync, rename), so an interrupted or failed
//! download never leaves a partial file under the final name.
//!
//! The checksums are of the *decompressed* IDX bytes, the ones published
//! with the data set: a mirror that recompresses the files, or serves them
//! with `Content-Encoding: gzip` so they arrive decompressed, still verifies.
//! A body that starts with the gzip magic is stored as `<name>.gz`, anything
//! else as `<name>`; the loader accepts both.
//!
//! Progress is reported through a callback taking [`Progress`] events, so a
//! command-line tool can drive a progress bar without this crate depending
//! on one.
//!
//! ```no_run
//! use siamese_data::download::{Downloader, Progress};
//!
//! let dir = siamese_data::default_data_dir();
//! let fetched = Downloader::default().ensure(&dir, &mut |event| {
//!     if let Progress::Finished { file, bytes, .. } = event {
//!         eprintln!("{file}: {bytes} bytes");
//!     }
//! })?;
//! println!("downloaded {} files into {}", fetched.downloaded.len(), dir.display());
//! # Ok::<(), siamese_data::download::DownloadError>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mnist::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, missing_files};

mod error;
mod fetch;

pub use error::{Chain, DownloadError, FetchError};
use fetch::{fetch, store};

/// The public mirrors, in the order tried: the one torchvision uses, then
/// Google's copy. Each serves `<name>.gz` under its base URL.
pub const DEFAULT_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// How long to wait for a TCP (and TLS) connection: short, so that a machine
/// without network fails within seconds rather than minutes.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a single read may stall (and how long to wait for the response
/// headers) before the mirror is given up.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest body accepted. The biggest file is 9.9 MB gzipped and 47 MB
/// raw; anything much larger is not MNIST and must not exhaust memory.
pub const MAX_DOWNLOAD_BYTES: u64 = 64 << 20;

/// One of the four files and the SHA-256 of its decompressed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MnistFile {
    /// Standard name without `.gz`, e.g. `train-images-idx3-ubyte`.
    pub name: &'static str,
    /// Lowercase hex SHA-256 of the decompressed (raw IDX) bytes.
    pub sha256: &'static str,
}

/// The four files with their published checksums, in download order.
pub const FILES: [MnistFile; 4] = [
    MnistFile {
        name: TRAIN_IMAGES,
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    MnistFile {
        name: TRAIN_LABELS,
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    MnistFile {
        name: TEST_IMAGES,
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    MnistFile {
        name: TEST_LABELS,
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// A step of [`Downloader::ensure`], for progress reporting.
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// The file is already in the directory (raw or gzipped); not downloaded.
    Present {
        /// The file's standard name.
        file: &'static str,
    },
    /// A request succeeded and the body is about to be read.
    Started {
        /// The file's standard name.
        file: &'static str,
        /// The URL being read.
        url: &'a str,
        /// The body length, if the server announced it.
        total: Option<u64>,
    },
    /// More of the body arrived (reported after each read of at most 64 KiB).
    Received {
        /// The file's standard name.
        file: &'static str,
        /// Bytes received so far from this URL.
        received: u64,
        /// The body length, if the server announced it.
        total: Option<u64>,
    },
    /// An attempt failed; the next mirror is tried, if any.
    MirrorFailed {
        /// The file's standard name.
        file: &'static str,
        /// What went wrong (it names the URL).
        error: &'a FetchError,
    },
    /// The file was verified and is in place.
    Finished {
        /// The file's standard name.
        file: &'static str,
        /// Where it was written.
        path: &'a Path,
        /// Its size on disk.
        bytes: u64,
    },
}

/// What [`Downloader::ensure`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The files that were already there.
    pub present: Vec<&'static str>,
    /// The paths written, in download order.
    pub downloaded: Vec<PathBuf>,
}

/// Downloads the MNIST files that are missing from a directory.
#[derive(Clone, Debug)]
pub struct Downloader {
    mirrors: Vec<String>,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl Default for Downloader {
    /// The [`DEFAULT_MIRRORS`] and timeouts.
    fn default() -> Self {
        Self {
            mirrors: DEFAULT_MIRRORS.iter().map(|m| (*m).to_owned()).collect(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

impl Downloader {
    /// Replaces the mirror list. Each entry is a base URL (`http://` or
    /// `https://`) under which `<name>.gz` is requested; a trailing slash is
    /// optional.
    pub fn with_mirrors<I, S>(mut self, mirrors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.mirrors = mirrors.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how long to wait for each connection.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long the response headers, and each read of the body, may take.
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The mirrors' base URLs, in the order tried.
    pub fn mirrors(&self) -> &[String] {
        &self.mirrors
    }

    /// Makes sure the four MNIST files are in `dir`, downloading those that
    /// are missing (creating `dir` if needed).
    ///
    /// Files already present, raw or gzipped, are neither downloaded nor
    /// checked. For a missing file each mirror is tried in order until one
    /// serves bytes with the pinned checksum; a mirror that could not be
    /// reached at all is tried last for the remaining files.
    ///
    /// # Errors
    /// [`DownloadError::NotADirectory`] when `dir` is a file;
    /// [`DownloadError::Unavailable`] as soon as one file fails on every
    /// mirror (files already downloaded are kept), listing each attempt, the
    /// files still missing, and where to put them by hand;
    /// [`DownloadError::Io`] if the directory or a file cannot be written;
    /// [`DownloadError::NoMirrors`] with an empty mirror list and something
    /// to download.
    pub fn ensure(
        &self,
        dir: &Path,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Fetched, DownloadError> {
        if crate::check_data_dir(dir).is_err() {
            return Err(DownloadError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let missing = missing_files(dir);
        let mut fetched = Fetched::default();
        for file in &FILES {
            if !missing.contains(&file.name) {
                fetched.present.push(file.name);
                progress(Progress::Present { file: file.name });
            }
        }
        if missing.is_empty() {
            return Ok(fetched);
        }
        if self.mirrors.is_empty() {
            return Err(DownloadError::NoMirrors);
        }
        std::fs::create_dir_all(dir).map_err(|source| DownloadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;

        let agent = self.agent();
        // Mirror indices, reachable ones first: a mirror that could not be
        // reached for one file would only cost another timeout for the next.
        let mut order: Vec<usize> = (0..self.mirrors.len()).collect();
        for file in FILES.iter().filter(|f| missing.contains(&f.name)) {
            let mut attempts = Vec::new();
            let mut unreachable = Vec::new();
            let mut stored = None;
            for &m in &order {
                let url = format!("{}/{}.gz", self.mirrors[m].trim_end_matches('/'), file.name);
                match fetch(&agent, &url, file, progress) {
                    Ok(body) => {
                        stored = Some(body);
                        break;
                    }
                    Err(error) => {
                        if matches!(error, FetchError::Transport { .. }) {
                            unreachable.push(m);
                        }
                        progress(Progress::MirrorFailed {
                            file: file.name,
                            error: &error,
                        });
                        attempts.push(error);
                    }
                }
            }
            order.sort_by_key(|m| unreachable.contains(m));
            let Some(body) = stored else {
                return Err(DownloadError::Unavailable {
                    file: file.name,
                    attempts,
                    dir: dir.to_path_buf(),
                    missing: missing_files(dir),
                    mirrors: self.mirrors.clone(),
                });
            };
            let path = store(dir, file, &body)?;
            progress(Progress::Finished {
                file: file.name,
                path: &path,
                bytes: body.bytes.len() as u64,
            });
            fetched.downloaded.push(path);
        }
        Ok(fetched)
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_connect(Some(self.connect_timeout))
            .timeout_recv_response(Some(self.read_timeout))
            .timeout_per_read(Some(self.read_timeout))
            // Statuses are reported by us, with the URL and what was expected.
            .http_status_as_error(false)
            .user_agent(concat!("siamese-data/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent()
    }
}
