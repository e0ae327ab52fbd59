//! The decode cache: one file per source and options, holding the converted
//! images, labels, class names and load report, keyed by the source's file
//! stamps so that any change to the source makes it stale.
//!
//! Layout (integers little-endian): magic `SIAMBYOI`, format version `u32`,
//! key (32 bytes), CRC-32 of the body (`u32`), body length `u64`, body.
//! The body holds the class names, the image shape, each split's origins,
//! each split's labels and pixels, and the report. Origins are paths as the source
//! was spelled, so the key holds that spelling too: the same folder named
//! another way (relative, through a link) decodes afresh rather than naming its
//! files by a path that may not resolve from here. Every count is checked against the bytes present
//! before it is used, and the checksum catches a damaged file, so a cache is
//! never trusted further than it checks out. (CRC-32 rather than SHA-256: it
//! guards against accidents, not adversaries, and checks 55 MB in milliseconds.)

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::listing::Stamp;
use super::{ImageCollection, ImageSource, LoadOptions, LoadReport, Loaded, SkippedImage};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};

const MAGIC: &[u8; 8] = b"SIAMBYOI";

/// Bumped whenever the layout or the conversion (decoders, filter, limits)
/// changes, so that caches written before are rebuilt rather than misread.
/// Version 2 added the origins; 3 lists folders one image of each class in turn.
const FORMAT_VERSION: u32 = 3;

const HEADER_LEN: usize = 8 + 4 + 32 + 4 + 8;

/// A SHA-256 over length-prefixed fields, so that no two field lists hash alike.
struct KeyHasher(Sha256);

impl KeyHasher {
    fn new(domain: &str) -> Self {
        let mut h = KeyHasher(Sha256::new());
        h.bytes(domain.as_bytes());
        h.u64(u64::from(FORMAT_VERSION));
        h
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
    }
    fn u64(&mut self, x: u64) {
        self.0.update(x.to_le_bytes());
    }
    fn options(&mut self, o: &LoadOptions) {
        self.bytes(format!("{:?}", o.channels).as_bytes());
        self.u64(o.image_size[0] as u64);
        self.u64(o.image_size[1] as u64);
        self.bytes(format!("{:?}", o.on_bad_image).as_bytes());
        self.u64(o.test_split.fraction.to_bits());
        self.u64(o.test_split.seed);
    }
    fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// Where one source's cache lives.
pub(crate) struct Slot {
    path: PathBuf,
    /// The source as given, whose paths the origins are spelled with.
    spelling: String,
}

impl Slot {
    /// The cache file for `source` read with `options`, in `dir` (created if
    /// needed). Named by the source's canonical path and the options, so each
    /// source and conversion keeps one file, overwritten when stale.
    pub fn open(dir: &Path, source: &ImageSource, options: &LoadOptions) -> Result<Slot> {
        fs::create_dir_all(dir).map_err(|source| DataError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut h = KeyHasher::new("siamese-data cache name");
        h.bytes(source.kind().as_bytes());
        let mut paths = vec![source.path()];
        if let ImageSource::Npy {
            labels,
            test: Some((ti, tl)),
            ..
        } = source
        {
            paths.extend([labels.as_path(), ti, tl]);
        }
        for p in paths {
            let p = fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            h.bytes(p.to_string_lossy().as_bytes());
        }
        h.options(options);
        let name = h.finish()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        Ok(Slot {
            path: dir.join(format!("{}-{name}.cache", source.kind())),
            spelling: format!("{source:?}"),
        })
    }

    /// The key of the source's current content: the options and every stamp.
    pub fn key(&self, options: &LoadOptions, stamps: &[Stamp]) -> [u8; 32] {
        let mut h = KeyHasher::new("siamese-data cache key");
        h.bytes(self.spelling.as_bytes());
        h.options(options);
        h.u64(stamps.len() as u64);
        for s in stamps {
            h.bytes(s.rel.as_bytes());
            h.u64(s.size.map_or(u64::MAX, |n| n));
            h.0.update(s.mtime_ns.to_le_bytes());
        }
        h.finish()
    }

    /// The cached collection if the file exists, is whole and has this key;
    /// `Ok(None)` if there is no file; `Err(why)` if one is there but unusable.
    pub fn read(&self, key: &[u8; 32]) -> std::result::Result<Option<Loaded>, String> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: unreadable: {e}", self.path.display())),
        };
        parse(file, key)
            .map(Some)
            .map_err(|why| format!("{}: {why}; rebuilt", self.path.display()))
    }

    /// Writes the collection under `key`, atomically.
    pub fn write(
        &self,
        key: &[u8; 32],
        loaded: &Loaded,
    ) -> std::result::Result<(), siamese_io::WriteError> {
        let body = body(loaded);
        let checksum = crc32(&body);
        siamese_io::write_atomically_with(&self.path, |file| {
            let mut header = Vec::with_capacity(HEADER_LEN);
            header.extend_from_slice(MAGIC);
            header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            header.extend_from_slice(key);
            header.extend_from_slice(&checksum.to_le_bytes());
            header.extend_from_slice(&(body.len() as u64).to_le_bytes());
            file.write_all(&header)?;
            file.write_all(&body)
        })
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_u64(out: &mut Vec<u8>, x: usize) {
    out.extend_from_slice(&(x as u64).to_le_bytes());
}

fn put_dataset(out: &mut Vec<u8>, ds: &Dataset) {
    put_u64(out, ds.len());
    for &l in ds.labels() {
        out.extend_from_slice(&l.to_le_bytes());
    }
    out.extend_from_slice(ds.images());
}

fn body(loaded: &Loaded) -> Vec<u8> {
    let c = &loaded.collection;
    let r = &loaded.report;
    let mut out = Vec::with_capacity(c.train.images().len() + c.test.images().len() + 4096);
    put_u64(&mut out, c.class_names.len());
    for name in &c.class_names {
        put_str(&mut out, name);
    }
    put_u64(&mut out, c.train.image_shape().len());
    for &d in c.train.image_shape() {
        put_u64(&mut out, d);
    }
    for origins in [&c.train_origins, &c.test_origins] {
        put_u64(&mut out, origins.len());
        for origin in origins {
            put_str(&mut out, origin);
        }
    }
    put_dataset(&mut out, &c.train);
    put_dataset(&mut out, &c.test);
    for n in [r.ignored_files, r.ignored_dirs, r.skipped_count] {
        put_u64(&mut out, n);
    }
    put_u64(&mut out, r.empty_class_folders.len());
    for p in &r.empty_class_folders {
        put_str(&mut out, &p.to_string_lossy());
    }
    put_u64(&mut out, r.skipped.len());
    for s in &r.skipped {
        put_str(&mut out, &s.path.to_string_lossy());
        put_str(&mut out, &s.reason);
    }
    out
}

/// Reads the body's fields straight from the file into their final buffers,
/// each checked against the bytes left and folded into the running checksum.
struct Fields {
    file: BufReader<File>,
    left: u64,
    crc: flate2::Crc,
}

type Parsed<T> = std::result::Result<T, String>;

impl Fields {
    fn take(&mut self, n: usize) -> Parsed<Vec<u8>> {
        if n as u64 > self.left {
            return Err(format!("truncated: {n} bytes wanted, {} left", self.left));
        }
        // Bounded by the file's real size just above, whatever a count claimed.
        let mut buf = vec![0; n];
        self.file
            .read_exact(&mut buf)
            .map_err(|e| format!("unreadable: {e}"))?;
        self.crc.update(&buf);
        self.left -= n as u64;
        Ok(buf)
    }
    fn count(&mut self) -> Parsed<usize> {
        let b = self.take(8)?;
        let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(n).map_err(|_| format!("count {n} too large"))
    }
    /// A count of items of at least `size` bytes each that the bytes left could hold.
    fn bounded_count(&mut self, size: u64) -> Parsed<usize> {
        let n = self.count()?;
        match (n as u64).checked_mul(size.max(1)) {
            Some(bytes) if bytes <= self.left => Ok(n),
            _ => Err(format!("count {n} exceeds the {} bytes left", self.left)),
        }
    }
    fn string(&mut self) -> Parsed<String> {
        let n = self.count()?;
        String::from_utf8(self.take(n)?).map_err(|_| "a name is not UTF-8".to_owned())
    }
    /// One split's origins.
    fn origins(&mut self) -> Parsed<Vec<String>> {
        let n = self.bounded_count(8)?;
        (0..n).map(|_| self.string()).collect()
    }
    fn dataset(&mut self, shape: &[usize], classes: usize) -> Parsed<Dataset> {
        let n = self.bounded_count(4)?;
        let labels = self.take(n * 4)?;
        let labels = labels
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let image_len = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let bytes = image_len
            .and_then(|l| l.checked_mul(n))
            .ok_or("image size overflows")?;
        let pixels = self.take(bytes)?;
        Dataset::from_parts(pixels, labels, shape.to_vec(), classes).map_err(|e| e.to_string())
    }
}

/// Reads a cache file: the header first, so a stale cache costs 84 bytes of
/// reading, then the body, which must check out to the last byte.
fn parse(file: File, key: &[u8; 32]) -> Parsed<Loaded> {
    let len = file
        .metadata()
        .map_err(|e| format!("unreadable: {e}"))?
        .len();
    let mut file = BufReader::new(file);
    let mut header = [0u8; HEADER_LEN];
    if len < HEADER_LEN as u64 || file.read_exact(&mut header).is_err() || &header[..8] != MAGIC {
        return Err("not a siamese-data cache file".to_owned());
    }
    let le32 = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let version = le32(8);
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, expected {FORMAT_VERSION}"
        ));
    }
    if header[12..44] != key[..] {
        return Err("the source or options changed since it was written".to_owned());
    }
    let checksum = le32(44);
    let mut body_len = [0u8; 8];
    body_len.copy_from_slice(&header[48..56]);
    let body_len = u64::from_le_bytes(body_len);
    let left = len - HEADER_LEN as u64;
    if body_len != left {
        return Err(format!("body of {left} bytes, header says {body_len}"));
    }
    let mut f = Fields {
        file,
        left,
        crc: flate2::Crc::new(),
    };

    let classes = f.bounded_count(8)?;
    let class_names = (0..classes)
        .map(|_| f.string())
        .collect::<Parsed<Vec<_>>>()?;
    let rank = f.bounded_count(8)?;
    let shape = (0..rank).map(|_| f.count()).collect::<Parsed<Vec<_>>>()?;
    let train_origins = f.origins()?;
    let test_origins = f.origins()?;
    let train = f.dataset(&shape, classes)?;
    let test = f.dataset(&shape, classes)?;
    for (origins, ds) in [(&train_origins, &train), (&test_origins, &test)] {
        if origins.len() != ds.len() {
            return Err(format!("{} origins for {} images", origins.len(), ds.len()));
        }
    }
    let mut report = LoadReport {
        images: train.len() + test.len(),
        ignored_files: f.count()?,
        ignored_dirs: f.count()?,
        skipped_count: f.count()?,
        ..LoadReport::default()
    };
    let empty = f.bounded_count(8)?;
    for _ in 0..empty {
        report.empty_class_folders.push(PathBuf::from(f.string()?));
    }
    let skipped = f.bounded_count(16)?;
    for _ in 0..skipped {
        let path = PathBuf::from(f.string()?);
        report.skipped.push(SkippedImage {
            path,
            reason: f.string()?,
        });
    }
    if f.left != 0 {
        return Err(format!("{} bytes after the report", f.left));
    }
    if f.crc.sum() != checksum {
        return Err("checksum mismatch (damaged file)".to_owned());
    }
    Ok(Loaded {
        collection: ImageCollection {
            train,
            test,
            class_names,
            train_origins,
            test_origins,
        },
        report,
    })
}
