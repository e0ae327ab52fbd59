use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use siamese_eval::{EvalOptions, evaluate};
use siamese_train::{Config, EvalReport, RunDir, TrainedModel};

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Skip the raw-pixel baseline (a 784-d search, the slowest part).
    #[arg(long)]
    no_raw: bool,
}

/// A finished run opened for use: the run directory, its config with the data directory
/// resolved (`--data`, `SIAMESE_DATA_DIR`, the config) and its trained model.
pub(crate) struct OpenRun {
    pub(crate) dir: RunDir,
    pub(crate) config: Config,
    pub(crate) model: TrainedModel,
}

impl OpenRun {
    pub(crate) fn open(run_dir: &Path, data: Option<PathBuf>) -> Result<Self> {
        let dir = RunDir::open_trained(run_dir)?;
        let config = dir.read_config_with_data(data)?;
        let model = dir
            .read_model()
            .with_context(|| format!("loading the trained tower of {}", run_dir.display()))?;
        Ok(Self { dir, config, model })
    }
}

pub(crate) fn run(args: EvalArgs) -> Result<()> {
    let run = OpenRun::open(&args.run_dir, args.data)?;
    let options = EvalOptions {
        raw_baseline: !args.no_raw,
    };
    let report = evaluate(&run.model, &run.config, &options)?;
    run.dir.write_eval(&report)?;
    print_report(&args.run_dir, &report);
    println!("written              {}", run.dir.eval_path().display());
    Ok(())
}

fn print_report(run_dir: &Path, r: &EvalReport) {
    println!("run                  {}", run_dir.display());
    println!("distance             {}", r.distance);
    println!("test pairs           {}", r.test_pairs);
    println!(
        "test pair accuracy   {:.2}% (threshold {:.3})",
        100.0 * r.pair_accuracy,
        r.threshold
    );
    println!(
        "tuned on validation  {:.2}% (threshold {:.3}, validation {:.2}%)",
        100.0 * r.pair_accuracy_tuned,
        r.tuned_threshold,
        100.0 * r.val_pair_accuracy_tuned
    );
    println!("test loss            {:.5}", r.test_loss);
    println!("ROC AUC (pairs)      {:.4}", r.roc_auc);
    println!("equal error rate     {:.2}%", 100.0 * r.eer);
    println!();
    println!(
        "{} test images; k-NN index: {} training images",
        r.test_images, r.index_images
    );
    println!("{:<16} {:>10} {:>10}", "", "learned", "raw pixels");
    let pct = |v: f64| format!("{:.2}%", 100.0 * v);
    let num = |v: f64| format!("{v:.4}");
    let row = |name: &str, learned: f64, raw: Option<f64>, fmt: &dyn Fn(f64) -> String| {
        let raw = raw.map_or_else(|| "-".to_owned(), fmt);
        println!("{name:<16} {:>10} {raw:>10}", fmt(learned));
    };
    row("1-NN accuracy", r.knn1_accuracy, r.raw_knn1_accuracy, &pct);
    row("5-NN accuracy", r.knn5_accuracy, r.raw_knn5_accuracy, &pct);
    row("precision@1", r.precision_at_1, r.raw_precision_at_1, &num);
    row("R-precision", r.r_precision, r.raw_r_precision, &num);
    row("MAP@R", r.map_at_r, r.raw_map_at_r, &num);
    println!("seconds              {:.1}", r.seconds);
}
