//! Reading and writing IDX files, the format of MNIST and its relatives.
//!
//! An IDX file is a 4-byte magic `00 00 <type> <ndims>`, then `ndims`
//! big-endian `u32` dimension sizes, then the elements in row-major order,
//! big-endian. Files may be gzip-compressed; compression is detected from the
//! content (bytes `1f 8b`), never from the file name.

use std::fmt;

use crate::error::{DataError, Result};

pub(crate) mod read;
mod write;

/// The most dimensions a header may declare. The format allows 255, but no
/// real file has more than a handful, so more is taken as corruption.
pub const MAX_DIMS: usize = 16;

/// The largest payload (in bytes) a header may imply: 16 GiB. Larger claims
/// are rejected before anything is allocated.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 34;

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
