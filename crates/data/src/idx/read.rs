//! Parsing IDX input, raw or gzipped, into an [`IdxArray`], bounded against lying headers.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use super::{IdxArray, IdxData, IdxType, MAX_DIMS, MAX_PAYLOAD_BYTES, READ_BUFFER};
use crate::error::{DataError, Result};

/// Deflate cannot expand data by more than about 1032:1, so a gzip file of
/// `n` bytes cannot hold more than this many times `n` decompressed bytes.
/// Bounding the initial allocation by it keeps a lying header from reserving
/// memory the file cannot possibly fill.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Initial-capacity cap when the input's size is unknown (a plain reader);
/// the buffer still grows as real bytes arrive.
const UNKNOWN_SIZE_INITIAL_CAP: u64 = 1 << 16;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl IdxData {
    /// Decodes a big-endian payload; `bytes.len()` must be a multiple of the
    /// element size (the reader guarantees it).
    fn from_be_bytes(elem_type: IdxType, bytes: Vec<u8>) -> IdxData {
        fn decode<T, const N: usize>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
            bytes
                .chunks_exact(N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c);
                    f(a)
                })
                .collect()
        }
        match elem_type {
            IdxType::U8 => IdxData::U8(bytes),
            IdxType::I8 => IdxData::I8(bytes.iter().map(|&b| b as i8).collect()),
            IdxType::I16 => IdxData::I16(decode(&bytes, i16::from_be_bytes)),
            IdxType::I32 => IdxData::I32(decode(&bytes, i32::from_be_bytes)),
            IdxType::F32 => IdxData::F32(decode(&bytes, f32::from_be_bytes)),
            IdxType::F64 => IdxData::F64(decode(&bytes, f64::from_be_bytes)),
        }
    }
}

impl IdxArray {
    /// Reads an IDX file, raw or gzipped (detected from its first bytes).
    pub fn read(path: impl AsRef<Path>) -> Result<IdxArray> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| open_error(path, e))?;
        let len = file.metadata().map_err(|e| io_error(path, e))?.len();
        read_buffered(BufReader::with_capacity(READ_BUFFER, file), path, Some(len))
    }

    /// Parses IDX bytes held in memory, raw or gzipped. `origin` names the
    /// data in error messages.
    pub fn from_bytes(bytes: &[u8], origin: impl AsRef<Path>) -> Result<IdxArray> {
        read_buffered(bytes, origin.as_ref(), Some(bytes.len() as u64))
    }

    /// Reads IDX data, raw or gzipped, from any reader, which must hold
    /// exactly one array. `origin` names the data in error messages.
    pub fn from_reader<R: Read>(reader: R, origin: impl AsRef<Path>) -> Result<IdxArray> {
        read_buffered(
            BufReader::with_capacity(READ_BUFFER, reader),
            origin.as_ref(),
            None,
        )
    }
}

fn io_error(path: &Path, source: io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn open_error(path: &Path, source: io::Error) -> DataError {
    if source.kind() == io::ErrorKind::NotFound {
        DataError::MissingFile {
            path: path.to_path_buf(),
        }
    } else {
        io_error(path, source)
    }
}

/// Picks the right decoder from the first bytes and reads one array.
/// `input_len` is the size of the (possibly compressed) input, if known.
fn read_buffered<R: BufRead>(
    mut input: R,
    path: &Path,
    input_len: Option<u64>,
) -> Result<IdxArray> {
    // Peek by reading rather than `fill_buf`, which may legally return a
    // single byte from a slow reader and hide the gzip magic.
    let mut head = [0u8; 2];
    let n = read_full(&mut input, &mut head).map_err(|e| io_error(path, e))?;
    let input = (&head[..n]).chain(input);
    if head[..n] == GZIP_MAGIC {
        let cap = input_len.map(|n| n.saturating_mul(MAX_DEFLATE_RATIO));
        read_idx(MultiGzDecoder::new(input), path, cap, true)
    } else {
        read_idx(input, path, input_len, false)
    }
}

fn read_idx<R: Read>(
    mut r: R,
    path: &Path,
    max_possible_len: Option<u64>,
    gzip: bool,
) -> Result<IdxArray> {
    // Decoder failures are about the file's content, not the OS; saying so
    // tells the user to re-fetch the file rather than check permissions.
    let read_err = |e: io::Error| {
        if gzip
            && matches!(
                e.kind(),
                io::ErrorKind::InvalidInput
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::UnexpectedEof
            )
        {
            DataError::Gzip {
                path: path.to_path_buf(),
                source: e,
            }
        } else {
            io_error(path, e)
        }
    };

    let mut magic = [0u8; 4];
    let got = read_full(&mut r, &mut magic).map_err(read_err)?;
    if got < 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            part: "header",
            expected: 4,
            found: got as u64,
        });
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
        });
    }
    let elem_type = IdxType::from_code(magic[2]).ok_or_else(|| DataError::UnknownElementType {
        path: path.to_path_buf(),
        code: magic[2],
    })?;
    let ndims = usize::from(magic[3]);
    if ndims == 0 {
        return Err(DataError::ZeroDimensions {
            path: path.to_path_buf(),
        });
    }
    if ndims > MAX_DIMS {
        return Err(DataError::TooManyDimensions {
            path: path.to_path_buf(),
            found: ndims,
        });
    }

    let mut dims_bytes = [0u8; 4 * MAX_DIMS];
    let dims_bytes = &mut dims_bytes[..4 * ndims];
    let got = read_full(&mut r, dims_bytes).map_err(read_err)?;
    if got < dims_bytes.len() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            part: "header",
            expected: 4 + dims_bytes.len() as u64,
            found: 4 + got as u64,
        });
    }
    let dims: Vec<u32> = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();

    let payload_bytes = dims.iter().try_fold(elem_type.size() as u64, |acc, &d| {
        acc.checked_mul(u64::from(d))
    });
    let expected = match payload_bytes {
        Some(b) if b <= MAX_PAYLOAD_BYTES && usize::try_from(b).is_ok() => b,
        bytes => {
            return Err(DataError::TooLarge {
                path: path.to_path_buf(),
                shape: dims,
                elem_type,
                bytes,
            });
        }
    };

    // Never trust the header alone for the allocation: a 20-byte input may
    // claim gigabytes. Reserve at most what the input could really hold; the
    // buffer still grows (amortized) if the estimate was low.
    let header_len = 4 + 4 * ndims as u64;
    let initial = match max_possible_len {
        Some(n) if !gzip => n.saturating_sub(header_len),
        Some(n) => n,
        None => UNKNOWN_SIZE_INITIAL_CAP,
    }
    .min(expected);
    // `initial <= expected`, which was checked to fit in usize.
    let mut payload = Vec::with_capacity(initial as usize);
    let mut limited = r.take(expected);
    if let Err(e) = limited.read_to_end(&mut payload) {
        // A gzip stream cut short surfaces as UnexpectedEof from the decoder;
        // that is a truncated file, and the bytes read so far say by how much.
        return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
            DataError::Truncated {
                path: path.to_path_buf(),
                part: "payload",
                expected,
                found: payload.len() as u64,
            }
        } else {
            read_err(e)
        });
    }
    if (payload.len() as u64) < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            part: "payload",
            expected,
            found: payload.len() as u64,
        });
    }

    // Counting (not buffering) whatever follows keeps memory bounded while the
    // message can still say how much extra there is. For gzip this read also
    // makes the decoder check the stream's CRC and length trailer.
    let mut rest = limited.into_inner();
    let trailing = io::copy(&mut rest, &mut io::sink()).map_err(read_err)?;
    if trailing > 0 {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            trailing,
        });
    }

    let shape = dims.iter().map(|&d| d as usize).collect();
    Ok(IdxArray {
        shape,
        data: IdxData::from_be_bytes(elem_type, payload),
    })
}

/// Reads until `buf` is full or EOF; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
