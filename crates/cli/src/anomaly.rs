use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use siamese_eval::{AnomalyOptions, detect_anomalies, score_images};

use crate::eval::OpenRun;

#[derive(Debug, Args)]
pub(crate) struct AnomalyArgs {
    /// A run directory written by `siamese train`, normally of configs/novelty.ron.
    run_dir: PathBuf,
    /// Neighbours whose mean distance is an image's novelty score.
    #[arg(short, long, default_value_t = 5)]
    k: usize,
    /// Novel classes [default: the run's data.exclude_classes].
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<u32>>,
    /// Score these image files instead: each one's novelty score and its percentile among
    /// the test images' scores (the share scoring lower). Each is converted as training
    /// converted its images (resized, made gray or colour to fit the tower). The training
    /// images of the novel classes, if any, are left out as in the AUROC.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    image: Vec<PathBuf>,
    /// Skip the raw-pixel baseline.
    #[arg(long)]
    no_raw: bool,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

pub(crate) fn run(args: AnomalyArgs) -> Result<()> {
    let run = OpenRun::open(&args.run_dir, args.data)?;
    let options = AnomalyOptions {
        k: args.k,
        classes: args.classes,
        raw_baseline: !args.no_raw,
    };
    if !args.image.is_empty() {
        return score_files(&run, &args.image, &options);
    }
    let report = detect_anomalies(&run.model, &run.config, &options)?;
    run.dir.write_anomaly(&report)?;
    let out = run.dir.anomaly_path();

    println!("run                  {}", args.run_dir.display());
    println!("held-out classes     {:?}", report.held_out_classes);
    println!(
        "score                mean distance to the {} nearest of {} training images",
        report.k, report.index_images
    );
    println!(
        "test images          {} ({} of held-out classes)",
        report.test_images, report.novel_images
    );
    let raw = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    println!("{:<26} {:>10} {:>10}", "", "learned", "raw pixels");
    println!(
        "{:<26} {:>10.4} {:>10}",
        "AUROC (novel vs seen)",
        report.auroc,
        raw(report.raw_auroc)
    );
    for c in &report.per_class {
        let tag = if c.novel { " (held out)" } else { "" };
        println!(
            "{:<26} {:>10.4} {:>10}",
            format!("mean score, {}{tag}", c.class),
            c.mean_score,
            raw(c.raw_mean_score)
        );
    }
    println!("seconds              {:.1}", report.seconds);
    println!("written              {}", out.display());
    Ok(())
}

/// `--image`: the novelty score and test percentile of each file.
fn score_files(run: &OpenRun, paths: &[PathBuf], options: &AnomalyOptions) -> Result<()> {
    let images = run
        .model
        .read_images(paths)
        .context("reading the images to score")?;
    let novelty = score_images(&run.model, &run.config, &images, options)?;
    println!(
        "score: mean distance to the {} nearest of {} training images; percentile: share of \
         the {} test images scoring lower",
        novelty.k, novelty.index_images, novelty.test_images
    );
    for ((path, score), percentile) in paths.iter().zip(&novelty.scores).zip(&novelty.percentiles) {
        let percentile = percentile.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}"));
        println!(
            "{}  score {score:.4}  percentile {percentile}",
            path.display()
        );
    }
    Ok(())
}
