//! Listing a CSV manifest: `path,label[,split]`, paths relative to the CSV's folder.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use csv::{ErrorKind, ReaderBuilder, StringRecord, Trim};

use super::listing::{Entry, Listing, Stamp};
use super::{LoadOptions, LoadReport, OnBadImage, SourceError};
use crate::classes::check_class_name;
use crate::error::{DataError, Result};
use crate::idx::read::open_error;

/// A row that passed the field checks, before labels are numbered.
struct Row {
    line: u64,
    rel: String,
    path: PathBuf,
    label: String,
    test: Option<bool>,
    meta: fs::Metadata,
}

/// Which column holds what: indices into each record.
struct Columns {
    path: usize,
    label: usize,
    split: Option<usize>,
}

fn manifest_error(manifest: &Path, line: u64, column: Option<&str>, reason: String) -> DataError {
    SourceError::Manifest {
        manifest: manifest.to_path_buf(),
        line,
        column: column.map(str::to_owned),
        reason,
    }
    .into()
}

fn find_columns(manifest: &Path, header: &StringRecord) -> Result<Columns> {
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing = |name: &str| {
        manifest_error(
            manifest,
            1,
            Some(name),
            format!(
                "the header has no {name} column; expected a header row \
                 path,label[,split], found {:?}",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        )
    };
    Ok(Columns {
        path: find("path").ok_or_else(|| missing("path"))?,
        label: find("label").ok_or_else(|| missing("label"))?,
        split: find("split"),
    })
}

/// Checks one record's fields; `Err((column, reason))` names what is wrong.
fn check_record(
    record: &StringRecord,
    columns: &Columns,
) -> std::result::Result<(String, String, Option<bool>), (&'static str, String)> {
    let field = |i: usize| record.get(i).unwrap_or("");
    let path = field(columns.path);
    if path.is_empty() {
        return Err((
            "path",
            "empty path; expected an image file's path".to_owned(),
        ));
    }
    let label = field(columns.label);
    check_class_name(label).map_err(|reason| ("label", reason))?;
    let test = match columns.split.map(field) {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("train") => Some(false),
        Some(s) if s.eq_ignore_ascii_case("test") => Some(true),
        Some(s) => {
            return Err(("split", format!("split {s:?}; expected train or test")));
        }
    };
    Ok((path.to_owned(), label.to_owned(), test))
}

/// Lists a manifest's rows. Labels are numbered by their sorted unique names;
/// without a `split` column the rows are split by `options.test_split`.
/// A bad row (empty or missing path, bad label or split) fails or is skipped
/// by `options.on_bad_image`; malformed CSV always fails.
pub(crate) fn list(manifest: &Path, options: &LoadOptions) -> Result<Listing> {
    let bytes = fs::read(manifest).map_err(|e| open_error(manifest, e))?;
    let meta = fs::metadata(manifest).map_err(|e| open_error(manifest, e))?;
    let base = manifest.parent().unwrap_or(Path::new(""));
    // Spreadsheet programs write a byte-order mark that would otherwise become
    // part of the first header name.
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = ReaderBuilder::new().trim(Trim::All).from_reader(body);
    let header = reader
        .headers()
        .map_err(|e| csv_error(manifest, 1, e))?
        .clone();
    let columns = find_columns(manifest, &header)?;

    let mut report = LoadReport::default();
    let mut extra_stamps = vec![Stamp::from_metadata(String::new(), &meta)];
    let mut rows = Vec::new();
    let mut record = StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(manifest, line, e)),
        }
        let line = record.position().map_or(line, |p| p.line());
        let (rel, label, test) = match check_record(&record, &columns) {
            Ok(fields) => fields,
            Err((column, reason)) => {
                let error = manifest_error(manifest, line, Some(column), reason.clone());
                match options.on_bad_image {
                    OnBadImage::Fail => return Err(error),
                    OnBadImage::Skip => {
                        report.skip(manifest.to_path_buf(), format!("line {line}: {reason}"));
                        continue;
                    }
                }
            }
        };
        let path = base.join(&rel);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => rows.push(Row {
                line,
                rel,
                path,
                label,
                test,
                meta,
            }),
            found => {
                let missing = matches!(&found, Err(e) if e.kind() == std::io::ErrorKind::NotFound);
                let reason = match found {
                    Ok(_) => "a folder, not an image file".to_owned(),
                    Err(e) => e.to_string(),
                };
                if options.on_bad_image == OnBadImage::Fail {
                    return Err(if missing {
                        SourceError::ManifestMissingImage {
                            manifest: manifest.to_path_buf(),
                            line,
                            image: path,
                        }
                    } else {
                        SourceError::ManifestBadImage {
                            manifest: manifest.to_path_buf(),
                            line,
                            image: path,
                            reason,
                        }
                    }
                    .into());
                }
                // The cache must notice when the missing file appears.
                extra_stamps.push(Stamp::of(rel, &path));
                let reason = if missing {
                    "image not found".to_owned()
                } else {
                    reason
                };
                report.skip(path, format!("line {line}: {reason}"));
            }
        }
    }

    let class_names: Vec<String> = rows
        .iter()
        .map(|r| r.label.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let split_given = columns.split.is_some();
    let entries = rows
        .into_iter()
        .map(|row| Entry {
            // ok: every row's label went into `class_names`.
            label: class_names.binary_search(&row.label).unwrap_or(0) as u32,
            test: row.test.unwrap_or(false),
            line: Some(row.line),
            stamp: Stamp::from_metadata(row.rel, &row.meta),
            path: row.path,
        })
        .collect();
    let mut listing = Listing {
        origin: manifest.to_path_buf(),
        manifest: Some(manifest.to_path_buf()),
        entries,
        class_names,
        extra_stamps,
        report,
    };
    if !split_given {
        listing.split(options.test_split);
    }
    Ok(listing)
}

/// A CSV syntax error, in words and at the line where the record started.
fn csv_error(manifest: &Path, line: u64, e: csv::Error) -> DataError {
    let line = e.position().map_or(line, |p| p.line());
    let reason = match e.kind() {
        ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("found {len} fields, expected {expected_len} like the header row"),
        ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        _ => e.to_string(),
    };
    manifest_error(manifest, line, None, reason)
}
