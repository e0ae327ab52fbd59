//! `siamese`: train a Siamese embedding network on MNIST-layout data and inspect the results.
//!
//! This binary only wires the library crates together: argument parsing, data fetching,
//! progress display and tables.

mod data;
mod eval;
mod progress;
mod train;

use std::path::PathBuf;
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
    /// Test pair accuracy of a trained run, at its threshold and at the tuned one.
    Eval(eval::EvalArgs),
    /// Summarize a data directory: counts, shapes, class counts; fetch missing files.
    Data(data::DataArgs),
}

/// Where the data lives: `--data`, else `SIAMESE_DATA_DIR`, else the config's (or default).
pub(crate) fn resolve_data_dir(flag: Option<PathBuf>, fallback: PathBuf) -> PathBuf {
    flag.or_else(siamese_data::data_dir_from_env)
        .unwrap_or(fallback)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Data(args) => data::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
