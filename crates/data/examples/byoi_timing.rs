//! Times bringing your own images at MNIST's scale: the 70,000 MNIST digits
//! written as PNG files in class folders, then loaded (decoded), imported to
//! IDX, and loaded again from the decode cache.
//!
//! Usage: `cargo run --release -p siamese-data --example byoi_timing [WORK_DIR]`.
//! MNIST comes from `SIAMESE_DATA_DIR` (else `data/mnist`). The PNG tree is
//! written once into `WORK_DIR/png` (a temporary folder without `WORK_DIR`) and
//! reused on later runs; writing it is not part of the timings.

use std::error::Error;
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use rayon::prelude::*;
use siamese_data::sources::{ImageCollection, ImageSource, LoadOptions};
use siamese_data::{Compression, Dataset, Mnist, default_data_dir};

/// Writes every image of `ds` as `dir/<label>/<index>.png`.
fn write_pngs(ds: &Dataset, dir: &Path) -> Result<(), Box<dyn Error + Send + Sync>> {
    for class in 0..ds.num_classes() {
        fs::create_dir_all(dir.join(class.to_string()))?;
    }
    let [h, w] = [ds.image_shape()[0] as u32, ds.image_shape()[1] as u32];
    (0..ds.len()).into_par_iter().try_for_each(|i| {
        let path = dir
            .join(ds.label(i).to_string())
            .join(format!("{i:05}.png"));
        let file = BufWriter::new(fs::File::create(path)?);
        PngEncoder::new(file).write_image(ds.image(i), w, h, image::ExtendedColorType::L8)?;
        Ok(())
    })
}

/// The seconds `f` takes, and its result.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!("{what:<44} {:>7.3} s", start.elapsed().as_secs_f64());
    out
}

/// Pixel sums and counts per class: equal for the same images in any order.
fn fingerprint(ds: &Dataset) -> Vec<(usize, u64)> {
    let mut per_class = vec![(0usize, 0u64); ds.num_classes()];
    for i in 0..ds.len() {
        let e = &mut per_class[ds.label(i) as usize];
        e.0 += 1;
        e.1 += ds.image(i).iter().map(|&p| u64::from(p)).sum::<u64>();
    }
    per_class
}

fn run() -> Result<(), Box<dyn Error + Send + Sync>> {
    let temp;
    let work = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let root = work.join("png");
    let mnist = Mnist::load(default_data_dir())?;
    let done = root.join(".complete");
    if !done.exists() {
        let start = Instant::now();
        write_pngs(&mnist.train, &root.join("train"))?;
        write_pngs(&mnist.test, &root.join("test"))?;
        fs::write(&done, "")?;
        println!(
            "setup: wrote 70,000 PNGs in {:.1} s (not timed below)",
            start.elapsed().as_secs_f64()
        );
    }
    println!("rayon threads: {}", rayon::current_num_threads());

    let source = ImageSource::Folder(root.clone());
    let cache = work.join("cache");
    let _ = fs::remove_dir_all(&cache);
    let idx = work.join("idx");
    let plain = LoadOptions::default();
    let cached = LoadOptions {
        cache_dir: Some(cache),
        ..LoadOptions::default()
    };

    let decoded = timed("load, decoding 70,000 PNGs (no cache)", || {
        ImageCollection::load(&source, &plain)
    })?;
    let c = &decoded.collection;
    assert_eq!((c.train.len(), c.test.len()), (60_000, 10_000));
    let first = timed("load, decoding and writing the cache", || {
        ImageCollection::load(&source, &cached)
    })?;
    assert!(!first.report.from_cache);
    timed("import: write IDX, gzip", || {
        c.save_idx(&idx, Compression::Gzip)
    })?;
    timed("import: write IDX, raw", || {
        c.save_idx(&idx, Compression::None)
    })?;
    let again = timed("load from the cache", || {
        ImageCollection::load(&source, &cached)
    })?;
    assert!(again.report.from_cache);
    assert_eq!(again.collection, *c);

    let back = Mnist::load(&idx)?;
    assert_eq!((&back.train, &back.test), (&c.train, &c.test));
    assert_eq!(fingerprint(&c.train), fingerprint(&mnist.train));
    assert_eq!(fingerprint(&c.test), fingerprint(&mnist.test));
    println!("checked: cache and IDX read back identical; same digits as MNIST");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
