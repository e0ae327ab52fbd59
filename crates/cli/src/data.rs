use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use siamese_data::download::{Chain, Downloader, Progress};
use siamese_data::{ImageCollection, Mnist, check_data_dir, missing_files, read_class_names};

use crate::import::{self, ImportArgs};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct DataArgs {
    #[command(subcommand)]
    command: Option<DataCommand>,
    /// Data directory in the MNIST layout (as --data).
    #[arg(value_name = "DIR", conflicts_with = "data")]
    dir: Option<PathBuf>,
    /// Data directory in the MNIST layout [default: $SIAMESE_DATA_DIR or data/mnist].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Do not download missing files.
    #[arg(long)]
    offline: bool,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Convert your own images (a folder of class folders, a CSV manifest, or a folder
    /// with images.npy and labels.npy) into an MNIST-layout directory: the four IDX files,
    /// classes.txt, and train-origins.txt / t10k-origins.txt naming each image's file.
    Import(ImportArgs),
}

pub(crate) fn run(args: DataArgs) -> Result<()> {
    if let Some(DataCommand::Import(args)) = args.command {
        return import::run(args);
    }
    let dir = siamese_data::resolve_data_dir(
        args.dir.or(args.data),
        PathBuf::from(siamese_data::DEFAULT_DATA_DIR),
    );
    if !args.offline {
        ensure_data(&dir)?;
    }
    // Every error of loading names the directory or file concerned.
    check_data_dir(&dir)?;
    let names = read_class_names(&dir)?;
    let mnist = match &names {
        // The class count from classes.txt, so a class without training images counts.
        Some(_) => {
            let c = ImageCollection::load_idx(&dir)?;
            Mnist {
                train: c.train,
                test: c.test,
            }
        }
        None => Mnist::load(&dir)?,
    };
    println!("data directory: {}", dir.display());
    if let Some(names) = &names {
        println!("classes: {}", names.join(", "));
    }
    for (name, ds) in [("train", &mnist.train), ("test", &mnist.test)] {
        println!(
            "{name:>5}: {} images of {:?} ({} values), {} classes",
            ds.len(),
            ds.image_shape(),
            ds.image_len(),
            ds.num_classes()
        );
        let counts: Vec<String> = ds.class_counts().iter().map(usize::to_string).collect();
        println!("       class counts: {}", counts.join(" "));
    }
    Ok(())
}

/// Downloads whatever MNIST files `dir` lacks, with a progress bar; does nothing when all
/// four are there, and refuses a `dir` that is a file before announcing any download.
pub(crate) fn ensure_data(dir: &Path) -> Result<()> {
    check_data_dir(dir)?;
    if missing_files(dir).is_empty() {
        return Ok(());
    }
    eprintln!("{}: MNIST files missing, downloading", dir.display());
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:32} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut on_progress = |event: Progress<'_>| match event {
        Progress::Started { file, total, .. } => {
            bar.set_message(file.to_string());
            bar.set_length(total.unwrap_or(0));
            bar.set_position(0);
        }
        Progress::Received { received, .. } => bar.set_position(received),
        Progress::MirrorFailed { error, .. } => {
            bar.println(format!("mirror failed: {}", Chain(error)));
        }
        _ => {}
    };
    let result = Downloader::default().ensure(dir, &mut on_progress);
    bar.finish_and_clear();
    // Not naming `dir`: every download error names the directory or file concerned.
    result.context("downloading MNIST")?;
    Ok(())
}
