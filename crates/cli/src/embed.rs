use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use siamese_eval::{Split, export_embeddings, load_split};

use crate::eval::OpenRun;

#[derive(Debug, Args)]
pub(crate) struct EmbedArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Which images: train (the whole training file), test, or val (the validation images
    /// training used).
    #[arg(long, default_value = "test")]
    split: Split,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Output directory [default: <run-dir>/embeddings].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: EmbedArgs) -> Result<()> {
    let run = OpenRun::open(&args.run_dir, args.data)?;
    let data = load_split(&run.config, args.split)?;
    let start = Instant::now();
    let embeddings = run.model.embed(&data)?;
    let seconds = start.elapsed().as_secs_f64();
    let out = args.out.unwrap_or_else(|| run.dir.embeddings_dir());
    let written = export_embeddings(&out, args.split.name(), &embeddings, data.labels())
        .context("exporting the embeddings")?;
    println!(
        "embedded {} {} images into {} dimensions in {seconds:.2} s",
        data.len(),
        args.split,
        run.model.dim()
    );
    for path in [
        &written.embeddings_npy,
        &written.labels_npy,
        &written.vectors_tsv,
        &written.metadata_tsv,
    ] {
        println!("  {}", path.display());
    }
    Ok(())
}
