use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use siamese_data::{Dataset, IdxArray, numbered_origins};
use siamese_eval::{INDEX_TOWER_KEY, Index, Neighbor, build_index};
use siamese_train::{SourceImages, TrainedModel, write_json};

use crate::eval::OpenRun;

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Test images to look up: an index (`42`), a range (`0..100`), `all`, or the path of
    /// an IDX image file (`u8`, any count).
    #[arg(
        long,
        short,
        required_unless_present = "image",
        conflicts_with = "image"
    )]
    query: Option<String>,
    /// Image files to look up (PNG, JPEG, BMP, GIF, TIFF, WebP). Each is converted as
    /// training converted its images: another size is resized and colour made gray (or
    /// gray made colour) to the tower's input.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    image: Vec<PathBuf>,
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
struct SearchResults {
    index_images: usize,
    k: usize,
    seconds: f64,
    queries: Vec<QueryResult>,
}

#[derive(Serialize)]
struct QueryResult {
    /// Test image index, or position in the query file or among the `--image` files.
    query: usize,
    /// Known for test images only.
    label: Option<u32>,
    /// The class name of `label`.
    class: Option<String>,
    /// Where the query came from: its file, or the row of an IDX file.
    source: String,
    neighbors: Vec<Hit>,
}

/// One neighbour, named.
#[derive(Serialize)]
struct Hit {
    rank: usize,
    /// Row of the training images.
    index: u32,
    label: u32,
    class: String,
    distance: f32,
    /// Where that training image came from.
    source: String,
}

/// The images to look up, with what is known of them.
struct Queries {
    images: Dataset,
    /// Whether the labels are real (test images).
    labelled: bool,
    /// The number of the first query.
    first: usize,
    /// Where each came from.
    sources: Vec<String>,
}

pub(crate) fn run(args: SearchArgs) -> Result<()> {
    let run = OpenRun::open(&args.run_dir, args.data)?;
    // The images themselves are needed to name the neighbours' sources, even when the
    // index is loaded; with a decode cache this is a read of one file.
    let data = SourceImages::load(&run.config)?;
    let index_path = args.index.unwrap_or_else(|| run.dir.index_path());
    let index = open_index(&index_path, &data.train, &run.model, args.rebuild)?;

    let queries = match &args.query {
        Some(spec) => load_queries(spec, &data, &run.model)?,
        None => Queries {
            images: run
                .model
                .read_images(&args.image)
                .context("reading the query images")?,
            labelled: false,
            first: 0,
            sources: args.image.iter().map(|p| p.display().to_string()).collect(),
        },
    };
    let start = Instant::now();
    let embedded = run.model.embed(&queries.images)?;
    let hits = index.search(embedded.view(), args.k)?;
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "searched {} queries against {} training images (k = {}) in {seconds:.2} s",
        hits.len(),
        index.len(),
        hits.k()
    );

    let model = &run.model;
    let results: Vec<QueryResult> = hits
        .rows()
        .enumerate()
        .map(|(q, row)| {
            let label = queries.labelled.then(|| queries.images.label(q));
            QueryResult {
                query: queries.first + q,
                label,
                class: label.map(|l| model.class_name(l)),
                source: queries.sources.get(q).cloned().unwrap_or_default(),
                neighbors: named(row, model, &data),
            }
        })
        .collect();
    let named = model.class_names().is_some();
    for result in results.iter().take(args.show) {
        print_table(result, named);
    }
    if results.len() > args.show {
        println!("... {} more queries in the JSON", results.len() - args.show);
    }
    let json = args.json.unwrap_or_else(|| run.dir.search_path());
    write_json(
        &json,
        &SearchResults {
            index_images: index.len(),
            k: hits.k(),
            seconds,
            queries: results,
        },
    )?;
    println!("written {}", json.display());
    Ok(())
}

/// The neighbours of one query with their class names and sources.
fn named(row: &[Neighbor], model: &TrainedModel, data: &SourceImages) -> Vec<Hit> {
    row.iter()
        .enumerate()
        .map(|(rank, n)| Hit {
            rank: rank + 1,
            index: n.index,
            label: n.label,
            class: model.class_name(n.label),
            distance: n.distance,
            source: data.train_origin(n.index as usize).to_owned(),
        })
        .collect()
}

/// Prints one query's neighbours; `named` says whether the tower knows class names (else
/// a class is its label, not worth saying twice).
fn print_table(result: &QueryResult, named: bool) {
    match (&result.label, &result.class) {
        (Some(label), Some(class)) if named => println!(
            "query {} (label {label}, {class}): {}",
            result.query, result.source
        ),
        (Some(label), _) => println!("query {} (label {label}): {}", result.query, result.source),
        _ => println!("query {}: {}", result.query, result.source),
    }
    let width = result
        .neighbors
        .iter()
        .map(|h| h.class.chars().count())
        .max()
        .unwrap_or(0)
        .max("class".len());
    println!(
        "  {:>4} {:>10} {:>8}  {:<width$}  source",
        "rank", "distance", "train", "class"
    );
    for h in &result.neighbors {
        println!(
            "  {:>4} {:>10.4} {:>8}  {:<width$}  {}",
            h.rank, h.distance, h.index, h.class, h.source
        );
    }
}

/// Loads the saved index if it was built by this tower from these images, else builds and
/// saves it.
fn open_index(path: &Path, train: &Dataset, model: &TrainedModel, rebuild: bool) -> Result<Index> {
    if path.exists() && !rebuild {
        let index = Index::load(path)?;
        let same_tower = index.metadata().get(INDEX_TOWER_KEY) == Some(&model.fingerprint());
        // Another count means other training images (the data changed): its rows would
        // name the wrong sources.
        if same_tower && index.len() == train.len() {
            return Ok(index);
        }
        eprintln!(
            "{} was built by another tower or from other images: rebuilding",
            path.display()
        );
    }
    let start = Instant::now();
    let index = build_index(model, train)?;
    index.save(path)?;
    eprintln!(
        "indexed {} training images in {:.2} s: {}",
        index.len(),
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(index)
}

/// The query images of `--query`: test images or the images of an IDX file.
fn load_queries(spec: &str, data: &SourceImages, model: &TrainedModel) -> Result<Queries> {
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
        let test = &data.test;
        let (a, b) = range.unwrap_or((0, test.len()));
        if a >= b || b > test.len() {
            bail!(
                "query {spec}: expected test images within 0..{}, found {a}..{b}",
                test.len()
            );
        }
        let indices: Vec<usize> = (a..b).collect();
        return Ok(Queries {
            images: test.subset(&indices),
            labelled: true,
            first: a,
            sources: (a..b).map(|i| data.test_origin(i).to_owned()).collect(),
        });
    }
    let path = Path::new(spec);
    let idx = IdxArray::read(path).with_context(|| format!("query file {spec}"))?;
    let (shape, idx_data) = idx.into_parts();
    let Some(pixels) = idx_data.as_u8().map(<[u8]>::to_vec) else {
        bail!(
            "{spec}: expected u8 images, found {:?}",
            idx_data.elem_type()
        );
    };
    let count = shape.first().copied().unwrap_or(0);
    let image_len: usize = shape.iter().skip(1).product();
    if image_len != model.image_len() {
        bail!(
            "{spec}: expected images of {} pixels, found shape {shape:?}",
            model.image_len()
        );
    }
    Ok(Queries {
        images: Dataset::from_parts(pixels, vec![0; count], shape[1..].to_vec(), 1)?,
        labelled: false,
        first: 0,
        sources: numbered_origins(path, count),
    })
}
