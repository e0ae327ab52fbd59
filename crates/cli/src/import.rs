//! `siamese data import`: a user's image collection written as an MNIST-layout directory.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use siamese_data::sources::{
    Channels, ImageCollection, ImageSource, LoadOptions, OnBadImage, TestSplit,
};
use siamese_data::{Compression, Dataset};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The collection: a folder of class folders (root/<class>/<images>, optionally under
    /// train/ and test/), a .csv manifest (path,label[,split]), or a folder holding
    /// images.npy and labels.npy.
    source: PathBuf,
    /// The directory to write (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Height and width every image is resized to (bilinear, ignoring the aspect ratio).
    #[arg(long, num_args = 2, value_names = ["H", "W"], default_values_t = [28, 28])]
    size: Vec<usize>,
    /// 1 (grayscale, Rec. 709 luma) or 3 (RGB).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    channels: u8,
    /// What to do with an image that cannot be used: fail (naming it) or skip it.
    #[arg(long, value_enum, default_value_t = BadImage::Fail)]
    on_bad_image: BadImage,
    /// Share of each class held out for testing, for a collection without its own split.
    #[arg(long, default_value_t = 0.2, value_name = "F")]
    test_fraction: f64,
    /// Seed of the test split's draw.
    #[arg(long, default_value_t = 0, value_name = "S")]
    seed: u64,
    /// Write the IDX files uncompressed rather than gzipped.
    #[arg(long)]
    raw: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BadImage {
    Fail,
    Skip,
}

pub(crate) fn run(args: ImportArgs) -> Result<()> {
    let channels = match args.channels {
        1 => Channels::Gray,
        3 => Channels::Rgb,
        other => bail!("--channels {other}: expected 1 (gray) or 3 (RGB)"),
    };
    let [height, width] = <[usize; 2]>::try_from(args.size.as_slice())
        .context("--size: expected a height and a width")?;
    let source = ImageSource::detect(&args.source)?;
    let options = LoadOptions {
        channels,
        image_size: [height, width],
        on_bad_image: match args.on_bad_image {
            BadImage::Fail => OnBadImage::Fail,
            BadImage::Skip => OnBadImage::Skip,
        },
        test_split: TestSplit {
            fraction: args.test_fraction,
            seed: args.seed,
        },
        // An import reads the collection once: a cache would only take disk space.
        cache_dir: None,
    };
    let start = Instant::now();
    let loaded = ImageCollection::load(&source, &options)?;
    let compression = if args.raw {
        Compression::None
    } else {
        Compression::Gzip
    };
    let c = &loaded.collection;
    c.save_idx(&args.out, compression)
        .with_context(|| format!("writing the IDX files into {}", args.out.display()))?;

    let kind = match channels {
        Channels::Gray => "gray",
        Channels::Rgb => "RGB",
    };
    println!(
        "imported {} images from {} ({}) in {:.1} s: {} train, {} test, {height}×{width} {kind}",
        c.train.len() + c.test.len(),
        args.source.display(),
        source.kind(),
        start.elapsed().as_secs_f64(),
        c.train.len(),
        c.test.len(),
    );
    print_classes(c);
    let r = &loaded.report;
    if r.ignored_files + r.ignored_dirs > 0 {
        println!(
            "ignored {} files and {} folders (not images, hidden, or nested below a class)",
            r.ignored_files, r.ignored_dirs
        );
    }
    for dir in &r.empty_class_folders {
        println!("dropped empty class folder {}", dir.display());
    }
    if r.skipped_count > 0 {
        let noun = if r.skipped_count == 1 {
            "image"
        } else {
            "images"
        };
        println!("skipped {} {noun}:", r.skipped_count);
        for s in &r.skipped {
            println!("  {s}");
        }
        if r.skipped_count > r.skipped.len() {
            println!("  ... and {} more", r.skipped_count - r.skipped.len());
        }
    }
    println!("written {}", args.out.display());
    Ok(())
}

/// The classes with their image counts in each split.
fn print_classes(c: &ImageCollection) {
    let counts = |ds: &Dataset| {
        let mut counts = ds.class_counts();
        counts.resize(c.class_names.len(), 0);
        counts
    };
    let (train, test) = (counts(&c.train), counts(&c.test));
    let width = c
        .class_names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max("class".len());
    println!(
        "{} classes:\n  {:>5}  {:<width$}  {:>7}  {:>7}",
        c.class_names.len(),
        "label",
        "class",
        "train",
        "test"
    );
    for (label, name) in c.class_names.iter().enumerate() {
        println!(
            "  {label:>5}  {name:<width$}  {:>7}  {:>7}",
            train[label], test[label]
        );
    }
}
