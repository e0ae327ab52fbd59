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

use std::fmt::{self, Write as _};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::mnist::{
    DATA_DIR_ENV, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, missing_files,
};

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

/// What went wrong with one download attempt from one mirror.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No response: connection refused, DNS failure, TLS error, timeout.
    #[error("{url}: request failed: {source}")]
    Transport {
        /// The URL requested.
        url: String,
        /// ureq's error.
        source: Box<ureq::Error>,
    },

    /// The server answered with something other than 200 OK.
    #[error("{url}: HTTP status {status}, expected 200")]
    Status {
        /// The URL requested.
        url: String,
        /// The status code received.
        status: u16,
    },

    /// The connection ended before the announced `Content-Length` arrived.
    #[error("{url}: connection closed early: expected {expected} bytes, received {received}")]
    Truncated {
        /// The URL requested.
        url: String,
        /// The `Content-Length` of the response.
        expected: u64,
        /// The bytes received before the connection ended.
        received: u64,
    },

    /// Reading the body failed for another reason (e.g. a stalled transfer).
    #[error("{url}: reading the body failed after {received} bytes: {source}")]
    Read {
        /// The URL requested.
        url: String,
        /// The bytes received before the failure.
        received: u64,
        /// The I/O error.
        source: io::Error,
    },

    /// The body is larger than any MNIST file.
    #[error("{url}: body exceeds {limit} bytes, expected an MNIST file (at most 47 MB)")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// [`MAX_DOWNLOAD_BYTES`].
        limit: u64,
    },

    /// The body starts like gzip but does not decompress.
    #[error("{url}: corrupt gzip data for {file}: {source}")]
    Gzip {
        /// The URL requested.
        url: String,
        /// The file's standard name.
        file: &'static str,
        /// The decoder's error.
        source: io::Error,
    },

    /// The decompressed bytes do not have the pinned SHA-256.
    #[error("{url}: sha256 mismatch for {file} (decompressed): expected {expected}, found {found}")]
    ChecksumMismatch {
        /// The URL requested.
        url: String,
        /// The file's standard name.
        file: &'static str,
        /// The pinned digest, lowercase hex.
        expected: &'static str,
        /// The digest of what was received, lowercase hex.
        found: String,
    },
}

impl FetchError {
    /// The URL of the failed attempt.
    pub fn url(&self) -> &str {
        match self {
            Self::Transport { url, .. }
            | Self::Status { url, .. }
            | Self::Truncated { url, .. }
            | Self::Read { url, .. }
            | Self::TooLarge { url, .. }
            | Self::Gzip { url, .. }
            | Self::ChecksumMismatch { url, .. } => url,
        }
    }
}

/// Why [`Downloader::ensure`] could not provide the files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The downloader has an empty mirror list.
    #[error("no download mirror configured; expected at least one base URL")]
    NoMirrors,

    /// Creating the directory or writing a file failed.
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The directory or file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// Every mirror failed for `file`; the download stopped there.
    #[error(
        "could not download {file}.gz from any mirror:{attempts}\n\
         missing from {dir}: {missing}.\n\
         Download them by hand from {mirrors} (add the file name to the URL) and put them, \
         gzipped or not, in {dir}, or set {DATA_DIR_ENV} to a directory that has them.",
        file = .file,
        attempts = Attempts(.attempts),
        dir = .dir.display(),
        missing = list(.missing, ".gz"),
        mirrors = list(.mirrors, ""),
    )]
    Unavailable {
        /// The file that failed.
        file: &'static str,
        /// Each mirror's failure, in the order tried.
        attempts: Vec<FetchError>,
        /// The data directory.
        dir: PathBuf,
        /// Every file still missing from `dir`, this one included.
        missing: Vec<&'static str>,
        /// The mirrors' base URLs.
        mirrors: Vec<String>,
    },
}

/// One attempt per line, for [`DownloadError::Unavailable`].
struct Attempts<'a>(&'a [FetchError]);

impl fmt::Display for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for attempt in self.0 {
            write!(f, "\n  - {attempt}")?;
        }
        Ok(())
    }
}

fn list<S: AsRef<str>>(items: &[S], suffix: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item.as_ref());
        out.push_str(suffix);
    }
    out
}

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

/// A verified body and whether it is gzipped.
struct Body {
    bytes: Vec<u8>,
    gzipped: bool,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Downloads `url` into memory and verifies it against `file`'s checksum.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    file: &MnistFile,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Body, FetchError> {
    let response = agent
        .get(url)
        .call()
        .map_err(|source| FetchError::Transport {
            url: url.to_owned(),
            source: Box::new(source),
        })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status,
        });
    }
    // With a Content-Encoding, ureq decodes and Content-Length counts the
    // encoded bytes, which cannot be compared with what we read.
    let total = if response.headers().contains_key("content-encoding") {
        None
    } else {
        response.body().content_length()
    };
    let too_large = || FetchError::TooLarge {
        url: url.to_owned(),
        limit: MAX_DOWNLOAD_BYTES,
    };
    if total.is_some_and(|t| t > MAX_DOWNLOAD_BYTES) {
        return Err(too_large());
    }
    progress(Progress::Started {
        file: file.name,
        url,
        total,
    });

    let mut reader = response.into_body().into_reader();
    // The cast cannot truncate: `total` is at most MAX_DOWNLOAD_BYTES here.
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if (bytes.len() + n) as u64 > MAX_DOWNLOAD_BYTES {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&buf[..n]);
                progress(Progress::Received {
                    file: file.name,
                    received: bytes.len() as u64,
                    total,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                let received = bytes.len() as u64;
                return Err(match total {
                    // ureq reports a body cut short as an I/O error; the
                    // counts say more than its message.
                    Some(expected)
                        if received < expected && source.kind() != io::ErrorKind::TimedOut =>
                    {
                        FetchError::Truncated {
                            url: url.to_owned(),
                            expected,
                            received,
                        }
                    }
                    _ => FetchError::Read {
                        url: url.to_owned(),
                        received,
                        source,
                    },
                });
            }
        }
    }
    let received = bytes.len() as u64;
    if let Some(expected) = total {
        if received < expected {
            return Err(FetchError::Truncated {
                url: url.to_owned(),
                expected,
                received,
            });
        }
    }

    let gzipped = bytes.starts_with(&GZIP_MAGIC);
    let found = if gzipped {
        let mut hasher = HashWriter(Sha256::new());
        io::copy(&mut MultiGzDecoder::new(bytes.as_slice()), &mut hasher).map_err(|source| {
            FetchError::Gzip {
                url: url.to_owned(),
                file: file.name,
                source,
            }
        })?;
        hex(&hasher.0.finalize())
    } else {
        hex(&Sha256::digest(&bytes))
    };
    if found != file.sha256 {
        return Err(FetchError::ChecksumMismatch {
            url: url.to_owned(),
            file: file.name,
            expected: file.sha256,
            found,
        });
    }
    Ok(Body { bytes, gzipped })
}

/// Feeds written bytes to a hasher, so decompression can stream into it.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(2 * digest.len());
    for b in digest {
        let _ = write!(out, "{b:02x}"); // ok: writing to a String cannot fail
    }
    out
}

/// Writes a verified body to `dir` through a synced temporary file and a
/// rename, so the final name only ever holds a complete, verified file.
fn store(dir: &Path, file: &MnistFile, body: &Body) -> Result<PathBuf, DownloadError> {
    let path = if body.gzipped {
        dir.join(format!("{}.gz", file.name))
    } else {
        dir.join(file.name)
    };
    siamese_io::write_atomically(&path, &body.bytes)
        .map_err(|siamese_io::WriteError { path, source }| DownloadError::Io { path, source })?;
    Ok(path)
}
