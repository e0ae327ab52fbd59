//! Pictures of a trained Siamese run, because people would rather look than read.
//!
//! [`ReportInputs::load`] reads a run directory written by `siamese train` through
//! `siamese_train::RunDir` (config, metrics, summary, the trained model, `eval.json` when
//! present), prepares the data exactly as training did, embeds the training and test images
//! and indexes the training embeddings for neighbour search (`siamese_eval::Index`). [`write_report`] then writes into the run directory:
//!
//! | File | What it shows |
//! |---|---|
//! | `curves.png` | loss and pair accuracy per epoch, training vs validation |
//! | `pairs.png` | test pairs side by side, each image captioned with its class, with distance and prediction; the worst false positives and false negatives |
//! | `distances.png` | histograms of the distances of similar and dissimilar test pairs, thresholds marked |
//! | `embedding-map.png` | the test embeddings on their top two principal components, one color per class, named in a legend |
//! | `neighbours.png` | one test image per class with its nearest training images and their classes |
//! | `report.md` | the summary, the per-epoch table, a per-class table, the evaluation (`eval.json`, when present) and the pictures |
//!
//! Classes are shown by the names saved with the trained tower
//! ([`siamese_train::TrainedModel::class_name`]: folder names, manifest labels, a
//! `classes.txt`), by their numbers when the data named none; long names are shortened with
//! an ellipsis to fit. Images of any size, grayscale `[H, W]` or RGB `[H, W, 3]`, are
//! fitted into the same thumbnail cell; grayscale IDX images (MNIST's white ink on black)
//! are shown inverted, a user's own images as stored.
//!
//! Figures are drawn by plotters into an in-memory RGB buffer (images pasted and scaled by
//! `image`), encoded as PNG and written atomically. Text uses DejaVu Sans compiled into the
//! binary (the `dejavu` crate, through plotters' `ab_glyph` renderer), so pictures look the
//! same on every machine and need no system fonts.
//!
//! ```no_run
//! use siamese_report::{ReportInputs, write_report};
//! use siamese_train::RunDir;
//! let inputs = ReportInputs::load(RunDir::new("runs/base"), Some("data/mnist".into()))?;
//! for file in write_report(&inputs)? {
//!     println!("wrote {}", file.display());
//! }
//! # Ok::<(), siamese_report::ReportError>(())
//! ```
//!
//! The building blocks are public for reuse and testing: [`Pca`] (principal components by
//! Jacobi rotations), [`Histogram`], and the choice of pairs to show
//! ([`sample_pairs`], [`worst_false_positives`], [`worst_false_negatives`],
//! [`evenly_spaced`]).

mod canvas;
mod error;
mod figures;
mod histogram;
mod inputs;
mod look;
mod markdown;
mod pca;
mod select;

use std::path::PathBuf;

use ndarray::Axis;

use look::Look;

pub use error::{ReportError, Result};
pub use figures::{CURVES, DISTANCES, EMBEDDING_MAP, FIGURES, Figure, NEIGHBOURS, PAIRS};
pub use histogram::Histogram;
pub use inputs::ReportInputs;
pub use pca::Pca;
pub use select::{evenly_spaced, sample_pairs, worst_false_negatives, worst_false_positives};

/// File name of the Markdown report in the run directory.
pub const REPORT_MD: &str = "report.md";

/// Writes the five pictures and `report.md` into the run's directory and returns their
/// paths, pictures first.
///
/// # Errors
/// Drawing, encoding or writing a file failed, or the data cannot be pictured (for
/// instance images that are not two-dimensional).
pub fn write_report(run: &ReportInputs) -> Result<Vec<PathBuf>> {
    let dir = run.run.path();
    let data = &run.data;
    let look = Look::new(&run.model, &run.config.data.source);
    figures::curves(&run.metrics, dir)?;
    let pairs = figures::pairs(
        look,
        &data.test,
        &data.test_pairs,
        &run.test_distances,
        run.threshold(),
        dir,
    )?;
    figures::distances(
        &run.test_distances,
        &data.test_pairs,
        run.threshold(),
        run.summary.tuned_threshold,
        dir,
    )?;
    let pca = Pca::fit(run.test_embeddings.view(), 2)?;
    let explained = pca.explained();
    let explained = [explained[0], explained[1]];
    figures::embedding_map(
        look,
        &pca.project(run.test_embeddings.view())?,
        data.test.labels(),
        data.test.num_classes(),
        explained,
        dir,
    )?;
    let (queries, classes) = figures::neighbour_queries(&data.test);
    let query_embeddings = run.test_embeddings.select(Axis(0), &queries);
    let hits = run
        .train_index
        .search(query_embeddings.view(), figures::NEIGHBOURS_K)?;
    let found = hits
        .rows()
        .map(|row| row.iter().map(|n| (n.index as usize, n.distance)).collect())
        .collect();
    let neighbours = figures::Neighbours {
        queries,
        classes,
        found,
    };
    figures::neighbours(look, &data.test, &data.train, &neighbours, dir)?;

    let findings = markdown::Findings {
        pairs: &pairs,
        neighbours: &neighbours,
        explained,
    };
    let md = markdown::render(run, look, &findings);
    siamese_io::write_atomically(&dir.join(REPORT_MD), md.as_bytes())?;

    let mut written: Vec<PathBuf> = FIGURES.iter().map(|f| dir.join(f.file)).collect();
    written.push(dir.join(REPORT_MD));
    Ok(written)
}
