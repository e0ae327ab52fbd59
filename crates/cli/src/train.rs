use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use siamese_train::{Config, DataSource, Overrides, RunOptions, Summary, TrainError};

use crate::progress::TrainingProgress;

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// The experiment config (RON), e.g. configs/base.ron.
    config: PathBuf,
    /// Continue from the run directory's last checkpoint; ends with exactly the weights of
    /// an uninterrupted run.
    #[arg(long)]
    resume: bool,
    /// Override training.epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override training.batch_size (pairs per step).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Override optimizer.lr.
    #[arg(long)]
    lr: Option<f32>,
    /// Override training.threads (0 = one per core; at most 4 per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Override training.seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override output.dir, the run directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Override data.dir [also: $SIAMESE_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Override data.exclude_classes: classes left out of training and validation, e.g.
    /// `--exclude-classes 3` or `--exclude-classes 3,7` (for `siamese anomaly`).
    #[arg(long, value_name = "CLASSES", value_delimiter = ',')]
    exclude_classes: Option<Vec<u32>>,
    /// Do not download missing data files.
    #[arg(long)]
    offline: bool,
}

pub(crate) fn run(args: TrainArgs) -> Result<()> {
    let mut config = Config::load(&args.config)?;
    let data_dir = siamese_data::resolve_data_dir(args.data, config.data.dir.clone());
    config
        .apply(&Overrides {
            epochs: args.epochs,
            batch_size: args.batch_size,
            lr: args.lr,
            threads: args.threads,
            seed: args.seed,
            output_dir: args.out,
            data_dir: Some(data_dir.clone()),
            exclude_classes: args.exclude_classes,
        })
        .with_context(|| format!("command-line overrides of {}", args.config.display()))?;
    // Only IDX files can be fetched; a user's own collection is there or it is an error.
    if !args.offline && config.data.source == DataSource::Idx {
        crate::data::ensure_data(&data_dir)?;
    }
    crate::interrupt::install()?;
    let result = siamese_train::train(
        &config,
        &RunOptions {
            resume: args.resume,
        },
        &mut TrainingProgress::new(crate::interrupt::requested),
    );
    if let Err(TrainError::Stopped {
        epoch,
        step,
        run_dir,
    }) = &result
    {
        return Err(crate::interrupt::Stopped {
            what: format!(
                "stopped {} (checkpoint in {})",
                siamese_train::stop_point(*epoch, *step),
                run_dir.display()
            ),
            resume_command: resume_command(),
        }
        .into());
    }
    let summary = result.with_context(|| format!("training {}", args.config.display()))?;
    print_summary(&summary);
    Ok(())
}

/// This very command line with `--resume`, quoted for a POSIX shell where needed.
fn resume_command() -> String {
    let mut words: Vec<String> = std::env::args().collect();
    if let Some(program) = words.first_mut() {
        *program = "siamese".into();
    }
    if !words.iter().any(|w| w == "--resume") {
        words.push("--resume".into());
    }
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_summary(s: &Summary) {
    let rows = [
        (
            "test pair accuracy",
            format!(
                "{:.2}% (threshold {:.3})",
                100.0 * s.test_accuracy,
                s.threshold
            ),
        ),
        (
            "tuned on validation",
            format!(
                "{:.2}% (threshold {:.3})",
                100.0 * s.test_accuracy_tuned,
                s.tuned_threshold
            ),
        ),
        ("test loss", format!("{:.5}", s.test_loss)),
        ("epochs", s.epochs.to_string()),
        (
            "training time",
            format!(
                "{:.1} s ({:.2} s/epoch)",
                s.train_seconds,
                s.train_seconds / s.epochs.max(1) as f64
            ),
        ),
        ("pairs per second", format!("{:.0}", s.pairs_per_second)),
        ("threads", s.threads.to_string()),
        ("first layer", s.first_layer.clone()),
        ("tower", s.tower.display().to_string()),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in rows {
        println!("{key:<width$}  {value}");
    }
}
