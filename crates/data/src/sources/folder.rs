//! Listing an image folder: `root/<class>/<images>`, optionally under `train/` and `test/`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::listing::{Entry, Listing, Stamp};
use super::{LoadOptions, LoadReport, OnBadImage, SourceError};
use crate::error::{DataError, Result};

/// File extensions (lowercase) taken as images; the content decides the decoder.
pub(crate) const IMAGE_EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "jpe", "bmp", "gif", "tif", "tiff", "webp",
];

/// Whether `path` names an image by its extension.
pub(crate) fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// A file found in a folder, with its metadata.
struct Found {
    path: PathBuf,
    name: String,
    is_dir: bool,
    hidden: bool,
    meta: fs::Metadata,
}

/// The entries of `dir`, sorted by name so that listings (and so labels,
/// splits and cache keys) do not depend on the file system's order.
fn read_sorted(dir: &Path) -> Result<Vec<Found>> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let meta_error = |source| DataError::Io {
            path: path.clone(),
            source,
        };
        // The entry's own metadata saves resolving the path again; a symbolic
        // link is followed, so a linked file or class folder counts as one.
        let is_link = entry.file_type().map_err(meta_error)?.is_symlink();
        let meta = if is_link {
            fs::metadata(&path)
        } else {
            entry.metadata()
        }
        .map_err(meta_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        found.push(Found {
            hidden: name.starts_with('.'),
            is_dir: meta.is_dir(),
            path,
            name,
            meta,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// One split's class folders: class name → (folder, image files).
type Classes = BTreeMap<String, (PathBuf, Vec<Found>)>;

/// Lists the class folders of `dir`, counting what is ignored.
fn scan_classes(dir: &Path, cache: Option<&Path>, report: &mut LoadReport) -> Result<Classes> {
    let mut class_dirs = Vec::new();
    for class in read_sorted(dir)? {
        if is_cache(&class, cache) {
            continue;
        }
        if class.is_dir && !class.hidden {
            class_dirs.push(class);
        } else if class.is_dir {
            // Hidden folders (.git, .ipynb_checkpoints) are no classes.
            report.ignored_dirs += 1;
        } else {
            // Nor are files beside the class folders (a README, a manifest).
            report.ignored_files += 1;
        }
    }
    // Listing is a system call per file; with the cache it is most of a
    // load's time, so the class folders are listed in parallel.
    let listed: Vec<Vec<Found>> = class_dirs
        .par_iter()
        .map(|class| read_sorted(&class.path))
        .collect::<Result<_>>()?;
    let mut classes = Classes::new();
    for (class, files) in class_dirs.into_iter().zip(listed) {
        let mut images = Vec::new();
        for file in files {
            if file.is_dir {
                report.ignored_dirs += 1;
            } else if file.hidden || !is_image_name(&file.path) {
                // Hidden files include macOS's `._name.png` resource forks, which are not images.
                report.ignored_files += 1;
            } else {
                images.push(file);
            }
        }
        classes.insert(class.name, (class.path, images));
    }
    Ok(classes)
}

/// Whether `found` is the cache folder, which may sit inside the collection
/// but holds no class.
fn is_cache(found: &Found, cache: Option<&Path>) -> bool {
    found.is_dir && cache.is_some_and(|c| fs::canonicalize(&found.path).is_ok_and(|p| p == c))
}

/// Drops empty class folders (noting them) under `Skip`, or fails on the first under `Fail`.
fn drop_empty(classes: &mut Classes, policy: OnBadImage, report: &mut LoadReport) -> Result<()> {
    let empty: Vec<String> = classes
        .iter()
        .filter(|(_, (_, images))| images.is_empty())
        .map(|(name, _)| name.clone())
        .collect();
    for name in empty {
        if let Some((dir, _)) = classes.remove(&name) {
            match policy {
                OnBadImage::Fail => return Err(SourceError::EmptyClass { dir }.into()),
                OnBadImage::Skip => report.empty_class_folders.push(dir),
            }
        }
    }
    Ok(())
}

/// Lists an image folder: labels from the sorted class names (the union of
/// both splits' classes, for a `train/`+`test/` folder), entries split by the
/// folders or else by `options.test_split`.
pub(crate) fn list(root: &Path, options: &LoadOptions) -> Result<Listing> {
    let mut report = LoadReport::default();
    let cache = options
        .cache_dir
        .as_ref()
        .and_then(|c| fs::canonicalize(c).ok());
    let cache = cache.as_deref();
    let top = read_sorted(root)?;
    let has_dir = |name: &str| top.iter().any(|f| f.is_dir && f.name == name);
    let split_dirs = match (has_dir("train"), has_dir("test")) {
        (true, true) => true,
        (false, false) => false,
        (present, _) => {
            let (present, missing) = if present {
                ("train", "test")
            } else {
                ("test", "train")
            };
            return Err(SourceError::IncompleteSplit {
                root: root.to_path_buf(),
                present,
                missing,
            }
            .into());
        }
    };

    let mut splits: Vec<(bool, Classes)> = Vec::new();
    if split_dirs {
        for f in &top {
            if f.name != "train" && f.name != "test" && !is_cache(f, cache) {
                if f.is_dir {
                    report.ignored_dirs += 1;
                } else {
                    report.ignored_files += 1;
                }
            }
        }
        for (test, name) in [(false, "train"), (true, "test")] {
            let classes = scan_classes(&root.join(name), cache, &mut report)?;
            splits.push((test, classes));
        }
    } else {
        splits.push((false, scan_classes(root, cache, &mut report)?));
    }
    for (_, classes) in &mut splits {
        drop_empty(classes, options.on_bad_image, &mut report)?;
    }

    let mut class_names: Vec<String> = splits
        .iter()
        .flat_map(|(_, classes)| classes.keys().cloned())
        .collect();
    class_names.sort();
    class_names.dedup();
    if class_names.is_empty() {
        return Err(SourceError::NoClasses {
            root: root.to_path_buf(),
        }
        .into());
    }

    let mut entries = Vec::new();
    for (test, classes) in splits {
        let mut split_entries: Vec<(f64, Entry)> = Vec::new();
        for (name, (_, images)) in classes {
            // ok: every name in `classes` went into `class_names`.
            let label = class_names.binary_search(&name).unwrap_or(0) as u32;
            let count = images.len() as f64;
            for (k, file) in images.into_iter().enumerate() {
                let rel = file.path.strip_prefix(root).unwrap_or(&file.path);
                let rel = rel.to_string_lossy().into_owned();
                // Each class spread evenly over the whole list: listed class by class,
                // the first N images (a `train_limit`) or the last ones (a validation
                // holdout) would be one class; spread, every stretch holds each class in
                // proportion.
                let place = (k as f64 + 0.5) / count;
                split_entries.push((
                    place,
                    Entry {
                        stamp: Stamp::from_metadata(rel, &file.meta),
                        path: file.path,
                        label,
                        test,
                        line: None,
                    },
                ));
            }
        }
        split_entries.sort_by(|(a, x), (b, y)| a.total_cmp(b).then(x.label.cmp(&y.label)));
        entries.extend(split_entries.into_iter().map(|(_, entry)| entry));
    }
    let mut listing = Listing {
        origin: root.to_path_buf(),
        manifest: None,
        entries,
        class_names,
        extra_stamps: Vec::new(),
        report,
    };
    if !split_dirs {
        listing.split(options.test_split);
    }
    Ok(listing)
}

/// The image files under `dir`, recursively, sorted by path: what
/// `siamese embed --images FOLDER` embeds. Images are recognised by extension as
/// in class folders ([`ImageSource::Folder`](super::ImageSource::Folder));
/// hidden files and folders are left out, and linked folders are not entered
/// (a link back up the tree would never end), while linked files are listed.
///
/// # Errors
/// I/O errors naming the folder or file that could not be read.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let io = |source| DataError::Io {
            path: folder.clone(),
            source,
        };
        for entry in fs::read_dir(&folder).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(|source| DataError::Io {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                pending.push(path);
            } else if is_image_name(&path) && (kind.is_file() || path.is_file()) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
