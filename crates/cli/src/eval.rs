use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use siamese_data::Normalizer;
use siamese_loss::Contrastive;
use siamese_train::{
    Config, NORMALIZER_KEY, PreparedData, best_threshold, embed, files, pair_distances, score_pairs,
};

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

pub(crate) fn run(args: EvalArgs) -> Result<()> {
    let config_path = args.run_dir.join(files::CONFIG);
    let mut config = Config::load(&config_path)?;
    config.data.dir = crate::resolve_data_dir(args.data, config.data.dir.clone());
    let tower_path = args.run_dir.join(files::TOWER);
    let saved = siamese_nn::load_tower(&tower_path)?;
    let normalizer: Normalizer = match saved.metadata.get(NORMALIZER_KEY) {
        Some(json) => serde_json::from_str(json)
            .with_context(|| format!("normalizer in {}", tower_path.display()))?,
        None => Normalizer::unit_range(),
    };
    let data = PreparedData::load(&config)?;
    let sparse =
        data.sparse_first_layer(config.training.first_layer) && normalizer.maps_zero_to_zero();
    let loss = Contrastive::new(config.loss.margin)?;
    let threshold = config.loss.threshold();

    let val = embed(
        &saved.tower,
        &saved.params,
        &normalizer,
        &data.validation,
        sparse,
    )?;
    let val_d = pair_distances(&val, &data.validation_pairs, loss.eps);
    let (tuned, val_acc) = best_threshold(&val_d, &data.validation_pairs);
    let test = embed(&saved.tower, &saved.params, &normalizer, &data.test, sparse)?;
    let test_d = pair_distances(&test, &data.test_pairs, loss.eps);
    let at_threshold = score_pairs(&test_d, &data.test_pairs, &loss, threshold);
    let at_tuned = score_pairs(&test_d, &data.test_pairs, &loss, tuned);

    println!("run                  {}", args.run_dir.display());
    println!("test pairs           {}", data.test_pairs.len());
    println!(
        "test pair accuracy   {:.2}% (threshold {threshold:.3})",
        100.0 * at_threshold.accuracy
    );
    println!(
        "tuned on validation  {:.2}% (threshold {tuned:.3}, validation {:.2}%)",
        100.0 * at_tuned.accuracy,
        100.0 * val_acc
    );
    println!("test loss            {:.5}", at_threshold.loss);
    Ok(())
}
