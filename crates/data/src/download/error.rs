//! The errors of a download: one mirror's failed attempt, and why the files could not be provided.

use std::fmt;
use std::io;
use std::path::PathBuf;

// Only the doc links name these; importing them unconditionally would be unused.
#[cfg(doc)]
use super::{Downloader, MAX_DOWNLOAD_BYTES};
use crate::mnist::DATA_DIR_ENV;

/// What went wrong with one download attempt from one mirror.
///
/// A variant that wraps a transport, I/O or decoder error returns it as its
/// [`source`](std::error::Error::source) and leaves it out of its own message;
/// [`Chain`] prints both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No response: connection refused, DNS failure, TLS error, timeout.
    #[error("{url}: request failed")]
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
    #[error("{url}: reading the body failed after {received} bytes")]
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
    #[error("{url}: corrupt gzip data for {file}")]
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

    /// The data directory is a file (or another non-directory), so nothing can go in it.
    #[error(
        "{} is a file, not a directory; expected a directory for the MNIST files",
        path.display()
    )]
    NotADirectory {
        /// The path given as the data directory.
        path: PathBuf,
    },

    /// Creating the directory or writing a file failed.
    #[error("{}: I/O error", path.display())]
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

/// One attempt per line, each with its causes, for [`DownloadError::Unavailable`].
struct Attempts<'a>(&'a [FetchError]);

impl fmt::Display for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for attempt in self.0 {
            write!(f, "\n  - {}", Chain(attempt))?;
        }
        Ok(())
    }
}

/// An error followed by each of its causes, joined by `": "`: the whole story of one
/// error, for a message that lists several (like a failed download's attempts) where no
/// error reporter walks the chain.
///
/// ```
/// use siamese_data::download::{Chain, FetchError};
/// let error = FetchError::Read {
///     url: "https://example.org/t10k-labels-idx1-ubyte.gz".into(),
///     received: 512,
///     source: std::io::Error::other("connection reset"),
/// };
/// assert_eq!(
///     Chain(&error).to_string(),
///     "https://example.org/t10k-labels-idx1-ubyte.gz: reading the body failed after 512 \
///      bytes: connection reset"
/// );
/// ```
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
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
