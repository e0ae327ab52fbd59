//! `siamese`: train a Siamese embedding network on MNIST-layout data or your own images, and
//! use the results: search, embed and score image files against a trained run.
//!
//! This binary only wires the library crates together: argument parsing, data fetching,
//! progress display and tables.

mod anomaly;
mod data;
mod embed;
mod eval;
mod import;
mod interrupt;
mod progress;
mod report;
mod search;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Learn embeddings of images with a Siamese network and the contrastive loss.
#[derive(Debug, Parser)]
#[command(name = "siamese", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train the experiment of a RON config into its run directory.
    ///
    /// Writes config.ron, metrics.jsonl and a checkpoint after every epoch, then
    /// tower.safetensors and summary.json. Missing MNIST files are downloaded first.
    Train(train::TrainArgs),
    /// Evaluate a trained run on the test set: pair accuracy (at the threshold and the tuned
    /// one), ROC AUC, EER, k-NN accuracy, precision@1, R-precision, MAP@R, learned vs raw
    /// pixels; writes eval.json.
    Eval(eval::EvalArgs),
    /// Write the embeddings of a split as .npy files and TensorBoard Projector TSV files,
    /// or of image files (--images a.png b.jpg, or a folder) as embeddings.npy and
    /// paths.txt.
    ///
    /// Image files of another size or channel count than the tower's are converted as
    /// training converted its images: resized (bilinear) and made gray or colour.
    Embed(embed::EmbedArgs),
    /// The k nearest training images of test images, of images in an IDX file, or of image
    /// files (--image query.png), with their class names and source files; writes
    /// search.json.
    ///
    /// Image files of another size or channel count than the tower's are converted as
    /// training converted its images.
    Search(search::SearchArgs),
    /// Novelty detection: AUROC of each test image's mean distance to its nearest training
    /// embeddings for held-out vs seen classes, learned vs raw pixels; writes anomaly.json.
    /// With --image x.png: that image's score and its percentile among the test images.
    Anomaly(anomaly::AnomalyArgs),
    /// Summarize a data directory (counts, shapes, class counts and names; fetch missing
    /// MNIST files), or import your own images into one (`siamese data import`).
    Data(data::DataArgs),
    /// Pictures of a trained run: pairs.png, embedding-map.png, curves.png, distances.png,
    /// neighbours.png and report.md, written into the run directory.
    Report(report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Search(args) => search::run(args),
        Command::Anomaly(args) => anomaly::run(args),
        Command::Data(args) => data::run(args),
        Command::Report(args) => report::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<interrupt::Stopped>() {
            Some(stopped) => {
                eprintln!("{stopped}");
                ExitCode::from(interrupt::EXIT_INTERRUPTED)
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
