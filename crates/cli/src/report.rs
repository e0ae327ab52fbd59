use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use siamese_report::{ReportInputs, write_report};
use siamese_train::RunDir;

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

pub(crate) fn run(args: ReportArgs) -> Result<()> {
    let inputs = ReportInputs::load(RunDir::open_trained(&args.run_dir)?, args.data)
        .with_context(|| format!("loading the run in {}", args.run_dir.display()))?;
    for file in write_report(&inputs)? {
        println!("wrote {}", file.display());
    }
    Ok(())
}
