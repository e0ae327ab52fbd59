//! Writing an [`IdxArray`] as IDX bytes, raw or gzipped, to a writer or atomically to a file.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;

use super::{Compression, IdxArray, IdxData, READ_BUFFER};
use crate::error::{DataError, Result};

impl IdxData {
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

impl IdxArray {
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
