use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use siamese_report::{Run, write_report};

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

pub(crate) fn run(args: ReportArgs) -> Result<()> {
    // The run's config is read by `Run::load`; only an explicit choice overrides its data dir.
    let data = args.data.or_else(siamese_data::data_dir_from_env);
    let run = Run::load(&args.run_dir, data.as_deref())
        .with_context(|| format!("loading the run in {}", args.run_dir.display()))?;
    for file in write_report(&run)? {
        println!("wrote {}", file.display());
    }
    Ok(())
}
