use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_data::download::{Chain, Downloader, Progress};
use siamese_data::{Mnist, check_data_dir, missing_files};

#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// Data directory in the MNIST layout [default: $SIAMESE_DATA_DIR or data/mnist].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Do not download missing files.
    #[arg(long)]
    offline: bool,
}

pub(crate) fn run(args: DataArgs) -> Result<()> {
    let dir =
        siamese_data::resolve_data_dir(args.data, PathBuf::from(siamese_data::DEFAULT_DATA_DIR));
    if !args.offline {
        ensure_data(&dir)?;
    }
    // Every error of loading names the directory or file concerned.
    let mnist = Mnist::load(&dir)?;
    println!("data directory: {}", dir.display());
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
