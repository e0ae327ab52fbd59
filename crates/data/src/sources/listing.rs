//! The image files a folder or manifest names, before anything is decoded.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::{LoadReport, split};
use crate::sources::TestSplit;

/// What identifies one file's content for the cache: where it is (relative
/// to the collection), its size and its modification time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The path relative to the collection (as the manifest writes it).
    pub rel: String,
    /// Size in bytes, `None` if the file is missing.
    pub size: Option<u64>,
    /// Modification time in nanoseconds since the Unix epoch (negative before
    /// it), 0 where the platform has none.
    pub mtime_ns: i128,
}

impl Stamp {
    /// The stamp of the file at `path`, named `rel`.
    pub fn of(rel: String, path: &Path) -> Stamp {
        match std::fs::metadata(path) {
            Ok(meta) => Stamp::from_metadata(rel, &meta),
            Err(_) => Stamp {
                rel,
                size: None,
                mtime_ns: 0,
            },
        }
    }

    pub fn from_metadata(rel: String, meta: &Metadata) -> Stamp {
        let mtime_ns = meta
            .modified()
            .map_or(0, |t| match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_nanos() as i128,
                Err(before) => -(before.duration().as_nanos() as i128),
            });
        Stamp {
            rel,
            size: Some(meta.len()),
            mtime_ns,
        }
    }
}

/// One image file to decode.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Where to open it.
    pub path: PathBuf,
    /// Its class index.
    pub label: u32,
    /// Whether it belongs to the test split.
    pub test: bool,
    /// The manifest line naming it, for manifest sources.
    pub line: Option<u64>,
    /// Its identity for the cache.
    pub stamp: Stamp,
}

/// The files of a folder or manifest source, labelled and split.
#[derive(Debug)]
pub(crate) struct Listing {
    /// The folder or manifest, for messages.
    pub origin: PathBuf,
    /// The manifest, for manifest sources (errors name its lines).
    pub manifest: Option<PathBuf>,
    pub entries: Vec<Entry>,
    pub class_names: Vec<String>,
    /// Files other than the images whose change invalidates the cache (the manifest).
    pub extra_stamps: Vec<Stamp>,
    /// Ignored and skipped files found while listing.
    pub report: LoadReport,
}

impl Listing {
    /// Marks a seeded per-class share of the entries as test, for sources
    /// without a split of their own.
    pub fn split(&mut self, split: TestSplit) {
        let labels: Vec<u32> = self.entries.iter().map(|e| e.label).collect();
        let test = split::test_mask(&labels, self.class_names.len(), split);
        for (entry, test) in self.entries.iter_mut().zip(test) {
            entry.test = test;
        }
    }

    /// Everything that identifies the source's content, for the cache key:
    /// the extra files, then each image with its label and split.
    pub fn stamps(&self) -> Vec<Stamp> {
        let mut stamps = self.extra_stamps.clone();
        for name in &self.class_names {
            stamps.push(Stamp {
                rel: format!("class:{name}"),
                size: None,
                mtime_ns: 0,
            });
        }
        stamps.extend(self.entries.iter().map(|e| Stamp {
            rel: format!("{}:{}:{}", e.label, u8::from(e.test), e.stamp.rel),
            ..e.stamp.clone()
        }));
        stamps
    }
}
