use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use siamese_data::{Dataset, IdxArray};
use siamese_eval::{INDEX_TOWER_KEY, Index, Neighbor, Split, build_index, load_split};
use siamese_train::{Config, TrainedModel, write_json};

use crate::eval::OpenRun;

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Test images to look up: an index (`42`), a range (`0..100`), `all`, or the path of
    /// an IDX image file (`u8`, any count).
    #[arg(long, short)]
    query: String,
    /// Neighbours per query.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// The index file: loaded when it matches the run's tower, else built from the
    /// training images and saved there [default: <run-dir>/index.safetensors].
    #[arg(long, value_name = "FILE")]
    index: Option<PathBuf>,
    /// Rebuild the index even if a matching one exists.
    #[arg(long)]
    rebuild: bool,
    /// Where to write the results as JSON [default: <run-dir>/search.json].
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Queries to print as tables (all are in the JSON).
    #[arg(long, default_value_t = 5)]
    show: usize,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// The JSON output.
#[derive(Serialize)]
struct SearchResults<'a> {
    index_images: usize,
    k: usize,
    seconds: f64,
    queries: Vec<QueryResult<'a>>,
}

#[derive(Serialize)]
struct QueryResult<'a> {
    /// Test image index, or position in the query file.
    query: usize,
    /// Known for test images only.
    label: Option<u32>,
    neighbors: &'a [Neighbor],
}

pub(crate) fn run(args: SearchArgs) -> Result<()> {
    let run = OpenRun::open(&args.run_dir, args.data)?;
    let index_path = args.index.unwrap_or_else(|| run.dir.index_path());
    let index = open_index(&index_path, &run.config, &run.model, args.rebuild)?;

    let (queries, labelled, first) = load_queries(&args.query, &run.config, &run.model)?;
    let start = Instant::now();
    let embedded = run.model.embed(&queries)?;
    let hits = index.search(embedded.view(), args.k)?;
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "searched {} queries against {} training images (k = {}) in {seconds:.2} s",
        hits.len(),
        index.len(),
        hits.k()
    );

    for (q, row) in hits.rows().enumerate().take(args.show) {
        match labelled {
            true => println!("query {} (label {})", first + q, queries.label(q)),
            false => println!("query {}", first + q),
        }
        println!(
            "  {:>4} {:>8} {:>6} {:>10}",
            "rank", "train", "label", "distance"
        );
        for (rank, n) in row.iter().enumerate() {
            println!(
                "  {:>4} {:>8} {:>6} {:>10.4}",
                rank + 1,
                n.index,
                n.label,
                n.distance
            );
        }
    }
    if hits.len() > args.show {
        println!("... {} more queries in the JSON", hits.len() - args.show);
    }
    let results = SearchResults {
        index_images: index.len(),
        k: hits.k(),
        seconds,
        queries: hits
            .rows()
            .enumerate()
            .map(|(q, neighbors)| QueryResult {
                query: first + q,
                label: labelled.then(|| queries.label(q)),
                neighbors,
            })
            .collect(),
    };
    let json = args.json.unwrap_or_else(|| run.dir.search_path());
    write_json(&json, &results)?;
    println!("written {}", json.display());
    Ok(())
}

/// Loads the saved index if it was built by this tower, else builds and saves it.
fn open_index(path: &Path, config: &Config, model: &TrainedModel, rebuild: bool) -> Result<Index> {
    if path.exists() && !rebuild {
        let index = Index::load(path)?;
        if index.metadata().get(INDEX_TOWER_KEY) == Some(&model.fingerprint()) {
            return Ok(index);
        }
        eprintln!("{} was built by another tower: rebuilding", path.display());
    }
    let start = Instant::now();
    let train = load_split(config, Split::Train)?;
    let index = build_index(model, &train)?;
    index.save(path)?;
    eprintln!(
        "indexed {} training images in {:.2} s: {}",
        index.len(),
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(index)
}

/// The query images, whether their labels are known, and the number of the first one.
fn load_queries(
    spec: &str,
    config: &Config,
    model: &TrainedModel,
) -> Result<(Dataset, bool, usize)> {
    let range = if spec == "all" {
        Some(None)
    } else if let Some((a, b)) = spec.split_once("..") {
        Some(Some((a.parse::<usize>()?, b.parse::<usize>()?)))
    } else if let Ok(i) = spec.parse::<usize>() {
        Some(Some((i, i + 1)))
    } else {
        None
    };
    if let Some(range) = range {
        let test = load_split(config, Split::Test)?;
        let (a, b) = range.unwrap_or((0, test.len()));
        if a >= b || b > test.len() {
            bail!(
                "query {spec}: expected test images within 0..{}, found {a}..{b}",
                test.len()
            );
        }
        let indices: Vec<usize> = (a..b).collect();
        return Ok((test.subset(&indices), true, a));
    }
    let path = Path::new(spec);
    let idx = IdxArray::read(path).with_context(|| format!("query file {spec}"))?;
    let (shape, data) = idx.into_parts();
    let Some(pixels) = data.as_u8().map(<[u8]>::to_vec) else {
        bail!("{spec}: expected u8 images, found {:?}", data.elem_type());
    };
    let count = shape.first().copied().unwrap_or(0);
    let image_len: usize = shape.iter().skip(1).product();
    if image_len != model.image_len() {
        bail!(
            "{spec}: expected images of {} pixels, found shape {shape:?}",
            model.image_len()
        );
    }
    let data = Dataset::from_parts(pixels, vec![0; count], shape[1..].to_vec(), 1)?;
    Ok((data, false, 0))
}
