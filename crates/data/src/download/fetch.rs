//! Fetching one file from one mirror, verifying its checksum, and storing the verified body.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::{DownloadError, FetchError, MAX_DOWNLOAD_BYTES, MnistFile, Progress};

/// A verified body and whether it is gzipped.
pub(super) struct Body {
    pub(super) bytes: Vec<u8>,
    gzipped: bool,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Downloads `url` into memory and verifies it against `file`'s checksum.
pub(super) fn fetch(
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
    if let Some(expected) = total
        && received < expected
    {
        return Err(FetchError::Truncated {
            url: url.to_owned(),
            expected,
            received,
        });
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
pub(super) fn store(dir: &Path, file: &MnistFile, body: &Body) -> Result<PathBuf, DownloadError> {
    let path = if body.gzipped {
        dir.join(format!("{}.gz", file.name))
    } else {
        dir.join(file.name)
    };
    siamese_io::write_atomically(&path, &body.bytes).map_err(
        |siamese_io::WriteError { path, error }| DownloadError::Io {
            path,
            source: error,
        },
    )?;
    Ok(path)
}
