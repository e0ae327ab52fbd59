//! Times the two halves of `siamese search` on real MNIST, inside one process: embedding all
//! 70,000 images (the 60,000 training images, then the 10,000 test images, in one call of
//! `TrainedModel::embed`) and the exact k-nearest-neighbour search of the 10,000 test
//! embeddings against an [`Index`] of the 60,000 training embeddings.
//!
//! Each is run once to warm up (page in, fill the allocators' and `gemm`'s buffers), then
//! `REPEATS` times; every repetition is timed on its own so the caller can take the median.
//! The results of the last repetition are written beside the timings for the reference
//! script (`benches/reference/search_reference.py`) to check against:
//!
//! - `embeddings.npy`: `float32 [70000, dim]`, training rows first;
//! - `neighbors.npy`: `uint32 [10000, k]`, rows of the training set, nearest first;
//! - `distances.npy`: `float32 [10000, k]`, the Euclidean distances.
//!
//! Prints one JSON object (seconds per repetition, sizes, threads, the kernel `gemm` runs).
//!
//! Usage: `search-bench RUN_DIR OUT_DIR [THREADS] [REPEATS] [K]` (defaults 2, 5, 10); the
//! images come from the run's data directory or `SIAMESE_DATA_DIR`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array2, Axis, Slice};
use serde_json::json;
use siamese_data::Dataset;
use siamese_eval::{Index, write_npy};
use siamese_train::{RunDir, SourceImages};

use anyhow::{Context, Result, anyhow, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [run_dir, out_dir, rest @ ..] = &args[..] else {
        bail!("usage: search-bench RUN_DIR OUT_DIR [THREADS] [REPEATS] [K]");
    };
    let number = |i: usize, default: usize| -> Result<usize> {
        match rest.get(i) {
            None => Ok(default),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(anyhow!("expected a positive number, found {s:?}")),
            },
        }
    };
    let (threads, repeats, k) = (number(0, 2)?, number(1, 5)?, number(2, 10)?);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let out_dir = PathBuf::from(out_dir);
    std::fs::create_dir_all(&out_dir).with_context(|| out_dir.display().to_string())?;

    let run = RunDir::open_trained(run_dir)?;
    let config = run.read_config_with_data(None)?;
    let model = run.read_model()?;
    let data = SourceImages::load(&config)?;
    let (n_train, n_test) = (data.train.len(), data.test.len());
    let all = concat(&data.train, &data.test)?;

    // (a) Embedding: the whole 70,000 in one call, as `siamese embed` does one split.
    let mut embeddings = model.embed(&all)?;
    let mut embed_seconds = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        embeddings = model.embed(&all)?;
        embed_seconds.push(start.elapsed().as_secs_f64());
    }

    // (b) Search: the index as `siamese search` builds it (its construction, the squared
    // norms of the rows, is timed apart), then the 10,000 test queries.
    let start = Instant::now();
    let train = embeddings
        .slice_axis(Axis(0), Slice::from(..n_train))
        .to_owned();
    let index = Index::new(train, data.train.labels().to_vec())?;
    let index_seconds = start.elapsed().as_secs_f64();
    let queries = embeddings.slice_axis(Axis(0), Slice::from(n_train..));
    let mut hits = index.search(queries, k)?;
    let mut search_seconds = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        hits = index.search(queries, k)?;
        search_seconds.push(start.elapsed().as_secs_f64());
    }

    let k = hits.k();
    let ids: Vec<u32> = hits.rows().flatten().map(|n| n.index).collect();
    let distances: Vec<f32> = hits.rows().flatten().map(|n| n.distance).collect();
    let paths = [
        out_dir.join("embeddings.npy"),
        out_dir.join("neighbors.npy"),
        out_dir.join("distances.npy"),
    ];
    write_npy(&paths[0], &embeddings)?;
    write_npy(&paths[1], &Array2::from_shape_vec((n_test, k), ids)?)?;
    write_npy(&paths[2], &Array2::from_shape_vec((n_test, k), distances)?)?;

    let report = json!({
        "threads": threads,
        "repeats": repeats,
        "k": k,
        "train_images": n_train,
        "test_images": n_test,
        "dim": model.dim(),
        "first_layer": if model.sparse_input_for(all.images()) { "sparse" } else { "dense" },
        "gemm_kernel": siamese_gemm::kernel_name(),
        "embed_seconds": embed_seconds,
        "index_seconds": index_seconds,
        "search_seconds": search_seconds,
        "files": paths.iter().map(|p| display(p)).collect::<Vec<_>>(),
    });
    println!("{report}");
    Ok(())
}

/// The training images followed by the test images, as one data set.
fn concat(train: &Dataset, test: &Dataset) -> Result<Dataset> {
    let images = [train.images(), test.images()].concat();
    let labels = [train.labels(), test.labels()].concat();
    Ok(Dataset::from_parts(
        images,
        labels,
        train.image_shape().to_vec(),
        train.num_classes().max(test.num_classes()),
    )?)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
