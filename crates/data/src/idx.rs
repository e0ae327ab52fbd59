//! Reading and writing IDX files, the format of MNIST and its relatives.
//!
//! An IDX file is a 4-byte magic `00 00 <type> <ndims>`, then `ndims`
//! big-endian `u32` dimension sizes, then the elements in row-major order,
//! big-endian. Files may be gzip-compressed; compression is detected from the
//! content (bytes `1f 8b`), never from the file name.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression as GzLevel;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::error::{DataError, Result};

/// The most dimensions a header may declare. The format allows 255, but no
/// real file has more than a handful, so more is taken as corruption.
pub const MAX_DIMS: usize = 16;

/// The largest payload (in bytes) a header may imply: 16 GiB. Larger claims
/// are rejected before anything is allocated.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 34;

/// Deflate cannot expand data by more than about 1032:1, so a gzip file of
/// `n` bytes cannot hold more than this many times `n` decompressed bytes.
/// Bounding the initial allocation by it keeps a lying header from reserving
/// memory the file cannot possibly fill.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Initial-capacity cap when the input's size is unknown (a plain reader);
/// the buffer still grows as real bytes arrive.
const UNKNOWN_SIZE_INITIAL_CAP: u64 = 1 << 16;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

const READ_BUFFER: usize = 1 << 16;

/// The six element types of the IDX format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdxType {
    /// `0x08`: unsigned byte.
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: big-endian `i16`.
    I16,
    /// `0x0C`: big-endian `i32`.
    I32,
    /// `0x0D`: big-endian IEEE-754 `f32`.
    F32,
    /// `0x0E`: big-endian IEEE-754 `f64`.
    F64,
}

impl IdxType {
    /// All six types, in code order.
    pub const ALL: [IdxType; 6] = [
        IdxType::U8,
        IdxType::I8,
        IdxType::I16,
        IdxType::I32,
        IdxType::F32,
        IdxType::F64,
    ];

    /// The type for a magic-number type byte, if it is one of the six.
    pub fn from_code(code: u8) -> Option<IdxType> {
        match code {
            0x08 => Some(IdxType::U8),
            0x09 => Some(IdxType::I8),
            0x0B => Some(IdxType::I16),
            0x0C => Some(IdxType::I32),
            0x0D => Some(IdxType::F32),
            0x0E => Some(IdxType::F64),
            _ => None,
        }
    }

    /// The type byte written in the magic number.
    pub fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    /// The Rust name of the element type (`"u8"`, `"f32"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            IdxType::U8 => "u8",
            IdxType::I8 => "i8",
            IdxType::I16 => "i16",
            IdxType::I32 => "i32",
            IdxType::F32 => "f32",
            IdxType::F64 => "f64",
        }
    }
}

impl fmt::Display for IdxType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), self.code())
    }
}

/// The elements of an IDX array, in row-major order, one variant per type.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// `0x08` elements.
    U8(Vec<u8>),
    /// `0x09` elements.
    I8(Vec<i8>),
    /// `0x0B` elements.
    I16(Vec<i16>),
    /// `0x0C` elements.
    I32(Vec<i32>),
    /// `0x0D` elements.
    F32(Vec<f32>),
    /// `0x0E` elements.
    F64(Vec<f64>),
}

impl IdxData {
    /// The element type.
    pub fn elem_type(&self) -> IdxType {
        match self {
            IdxData::U8(_) => IdxType::U8,
            IdxData::I8(_) => IdxType::I8,
            IdxData::I16(_) => IdxType::I16,
            IdxData::I32(_) => IdxType::I32,
            IdxData::F32(_) => IdxType::F32,
            IdxData::F64(_) => IdxType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements if they are `u8`.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match self {
            IdxData::U8(v) => Some(v),
            _ => None,
        }
    }

    /// The element at `i` widened to `i64`, if the type is an integer type and
    /// `i` is in range. Used to read labels of any integer type.
    pub fn get_i64(&self, i: usize) -> Option<i64> {
        match self {
            IdxData::U8(v) => v.get(i).map(|&x| i64::from(x)),
            IdxData::I8(v) => v.get(i).map(|&x| i64::from(x)),
            IdxData::I16(v) => v.get(i).map(|&x| i64::from(x)),
            IdxData::I32(v) => v.get(i).map(|&x| i64::from(x)),
            IdxData::F32(_) | IdxData::F64(_) => None,
        }
    }

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

    /// Writes the elements big-endian, converting through a bounded buffer
    /// so that exporting a large array does not double its memory.
    fn write_be<W: Write>(&self, w: &mut W) -> io::Result<()> {
        fn encode<T: Copy, W: Write, const N: usize>(
            w: &mut W,
            data: &[T],
            f: fn(T) -> [u8; N],
        ) -> io::Result<()> {
            let mut buf = Vec::with_capacity(READ_BUFFER);
            for chunk in data.chunks(READ_BUFFER / N) {
                buf.clear();
                for &x in chunk {
                    buf.extend_from_slice(&f(x));
                }
                w.write_all(&buf)?;
            }
            Ok(())
        }
        match self {
            IdxData::U8(v) => w.write_all(v),
            IdxData::I8(v) => encode(w, v, i8::to_be_bytes),
            IdxData::I16(v) => encode(w, v, i16::to_be_bytes),
            IdxData::I32(v) => encode(w, v, i32::to_be_bytes),
            IdxData::F32(v) => encode(w, v, f32::to_be_bytes),
            IdxData::F64(v) => encode(w, v, f64::to_be_bytes),
        }
    }
}

macro_rules! impl_from_vec {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<Vec<$t>> for IdxData {
            fn from(v: Vec<$t>) -> IdxData {
                IdxData::$variant(v)
            }
        }
    )*};
}
impl_from_vec!(u8 => U8, i8 => I8, i16 => I16, i32 => I32, f32 => F32, f64 => F64);

/// Whether [`IdxArray::save`] gzips the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Plain IDX bytes.
    #[default]
    None,
    /// Gzip at the default level.
    Gzip,
}

/// An n-dimensional array read from or to be written to an IDX file.
///
/// The shape always matches the number of elements and is representable in
/// IDX (1 to [`MAX_DIMS`] dimensions, each below 2^32).
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    shape: Vec<usize>,
    data: IdxData,
}

impl IdxArray {
    /// Builds an array, checking that `shape` fits IDX and matches `data`.
    ///
    /// ```
    /// use siamese_data::{IdxArray, IdxType};
    /// let a = IdxArray::new(vec![2, 3], vec![1i16, -2, 3, -4, 5, -6])?;
    /// assert_eq!(a.elem_type(), IdxType::I16);
    /// # Ok::<(), siamese_data::DataError>(())
    /// ```
    pub fn new(shape: Vec<usize>, data: impl Into<IdxData>) -> Result<IdxArray> {
        let data = data.into();
        if shape.is_empty()
            || shape.len() > MAX_DIMS
            || shape.iter().any(|&d| u32::try_from(d).is_err())
        {
            return Err(DataError::UnrepresentableShape { shape });
        }
        let expected = shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d));
        if expected != data.len() {
            return Err(DataError::ShapeMismatch {
                shape,
                expected,
                found: data.len(),
            });
        }
        Ok(IdxArray { shape, data })
    }

    /// The dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements.
    pub fn data(&self) -> &IdxData {
        &self.data
    }

    /// The element type.
    pub fn elem_type(&self) -> IdxType {
        self.data.elem_type()
    }

    /// Splits the array into its shape and elements.
    pub fn into_parts(self) -> (Vec<usize>, IdxData) {
        (self.shape, self.data)
    }

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

    /// Writes the array in IDX format, optionally gzipped, to `w`.
    pub fn write_to<W: Write>(&self, w: W, compression: Compression) -> io::Result<()> {
        let mut w = BufWriter::with_capacity(READ_BUFFER, w);
        match compression {
            Compression::None => {
                self.write_raw(&mut w)?;
            }
            Compression::Gzip => {
                let mut gz = GzEncoder::new(&mut w, GzLevel::default());
                self.write_raw(&mut gz)?;
                gz.finish()?;
            }
        }
        w.flush()
    }

    /// Writes the array to `path` atomically: the bytes go to a temporary file
    /// in the same directory, which is synced and then renamed over `path`, so
    /// readers never see a half-written file.
    pub fn save(&self, path: impl AsRef<Path>, compression: Compression) -> Result<()> {
        let path = path.as_ref();
        siamese_io::write_atomically_with(path, |file| self.write_to(file, compression))
            .map_err(DataError::from)
    }

    fn write_raw<W: Write>(&self, w: &mut W) -> io::Result<()> {
        // ok: `new` guarantees 1..=MAX_DIMS dims, so the count fits a byte.
        let ndims = self.shape.len() as u8;
        w.write_all(&[0, 0, self.elem_type().code(), ndims])?;
        for &d in &self.shape {
            // ok: `new` guarantees every dimension is below 2^32.
            w.write_all(&(d as u32).to_be_bytes())?;
        }
        self.data.write_be(w)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header(code: u8, dims: &[u32]) -> Vec<u8> {
        let mut v = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn codes_round_trip() {
        for t in IdxType::ALL {
            assert_eq!(IdxType::from_code(t.code()), Some(t));
        }
        assert_eq!(IdxType::from_code(0x0A), None);
    }

    #[test]
    fn reads_big_endian_i32() {
        let mut bytes = header(0x0C, &[2]);
        bytes.extend_from_slice(&(-2i32).to_be_bytes());
        bytes.extend_from_slice(&70000i32.to_be_bytes());
        let a = IdxArray::from_bytes(&bytes, "mem").unwrap();
        assert_eq!(a.shape(), &[2]);
        assert_eq!(a.data(), &IdxData::I32(vec![-2, 70000]));
    }

    #[test]
    fn lying_header_does_not_reserve_its_claim() {
        // 2^32-1 × 2^32-1 bytes claimed, over a 20-byte input.
        let mut bytes = header(0x08, &[u32::MAX, u32::MAX]);
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let e = IdxArray::from_bytes(&bytes, "mem").unwrap_err();
        assert!(matches!(e, DataError::TooLarge { .. }), "{e}");
        // Just under the cap: must fail as truncated, without a 16 GiB reservation.
        let mut bytes = header(0x08, &[1 << 17, 1 << 17]);
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let e = IdxArray::from_bytes(&bytes, "mem").unwrap_err();
        assert!(matches!(e, DataError::Truncated { found: 4, .. }), "{e}");
    }
}
