//! Embeddings to files: `.npy` for NumPy, TSV for TensorBoard's Embedding Projector.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ndarray::{Array1, ArrayBase, Data, Dimension};
use ndarray_npy::{WritableElement, WriteNpyExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use siamese_io::FileError;

use crate::error::{Result, mismatch};

/// Rows per parallel chunk when formatting TSV.
const TSV_CHUNK: usize = 1024;

/// Writes an array as a `.npy` file (NumPy's `np.load` reads it), atomically.
pub fn write_npy<A, S, D>(path: &Path, array: &ArrayBase<S, D>) -> Result<()>
where
    A: WritableElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    let mut bytes = Vec::new();
    array
        .write_npy(&mut bytes)
        .map_err(|e| FileError::format(path, format!("cannot encode .npy: {e}")))?;
    siamese_io::write_atomically(path, &bytes)?;
    Ok(())
}

/// The files [`export_embeddings`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingFiles {
    /// `{name}_embeddings.npy`: `float32 [n, dim]`.
    pub embeddings_npy: PathBuf,
    /// `{name}_labels.npy`: `uint32 [n]`.
    pub labels_npy: PathBuf,
    /// `{name}_vectors.tsv`: one embedding per line, tab-separated, no header.
    pub vectors_tsv: PathBuf,
    /// `{name}_metadata.tsv`: header `index\tlabel`, then one line per embedding.
    pub metadata_tsv: PathBuf,
}

/// Writes embeddings and labels into `dir` as `.npy` files and as the vectors/metadata TSV
/// pair TensorBoard's Embedding Projector loads, all named after `name` (e.g. `"test"`).
pub fn export_embeddings(
    dir: &Path,
    name: &str,
    embeddings: &ndarray::Array2<f32>,
    labels: &[u32],
) -> Result<EmbeddingFiles> {
    if embeddings.nrows() != labels.len() {
        return Err(mismatch(
            "labels for the embeddings",
            embeddings.nrows(),
            labels.len(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| FileError::io(dir, source))?;
    let files = EmbeddingFiles {
        embeddings_npy: dir.join(format!("{name}_embeddings.npy")),
        labels_npy: dir.join(format!("{name}_labels.npy")),
        vectors_tsv: dir.join(format!("{name}_vectors.tsv")),
        metadata_tsv: dir.join(format!("{name}_metadata.tsv")),
    };
    write_npy(&files.embeddings_npy, embeddings)?;
    write_npy(&files.labels_npy, &Array1::from(labels.to_vec()))?;
    siamese_io::write_atomically(&files.vectors_tsv, vectors_tsv(embeddings).as_bytes())?;
    siamese_io::write_atomically(&files.metadata_tsv, metadata_tsv(labels).as_bytes())?;
    Ok(files)
}

/// The files [`export_image_embeddings`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEmbeddingFiles {
    /// `embeddings.npy`: `float32 [n, dim]`.
    pub embeddings_npy: PathBuf,
    /// `paths.txt`: the image of each row, one per line.
    pub paths_txt: PathBuf,
}

/// Writes the embeddings of image files into `dir` as `embeddings.npy` and, naming the
/// image of each row, `paths.txt` (one per line; a line break inside a path becomes
/// U+FFFD, so rows and lines stay one to one). Each file is written atomically.
pub fn export_image_embeddings(
    dir: &Path,
    embeddings: &ndarray::Array2<f32>,
    paths: &[String],
) -> Result<ImageEmbeddingFiles> {
    if embeddings.nrows() != paths.len() {
        return Err(mismatch(
            "paths for the embeddings",
            embeddings.nrows(),
            paths.len(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| FileError::io(dir, source))?;
    let files = ImageEmbeddingFiles {
        embeddings_npy: dir.join("embeddings.npy"),
        paths_txt: dir.join("paths.txt"),
    };
    let mut text = String::new();
    for path in paths {
        text.extend(path.chars().map(|c| {
            if matches!(c, '\n' | '\r') {
                '\u{FFFD}'
            } else {
                c
            }
        }));
        text.push('\n');
    }
    write_npy(&files.embeddings_npy, embeddings)?;
    siamese_io::write_atomically(&files.paths_txt, text.as_bytes())?;
    Ok(files)
}

/// The Projector's vectors file: tab-separated values, one row per line, no header.
pub fn vectors_tsv(embeddings: &ndarray::Array2<f32>) -> String {
    let rows: Vec<_> = embeddings.outer_iter().collect();
    let chunks: Vec<String> = rows
        .par_chunks(TSV_CHUNK)
        .map(|chunk| {
            let mut s = String::new();
            for row in chunk {
                for (i, v) in row.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "\t" };
                    // ok: writing to a String cannot fail.
                    let _ = write!(s, "{sep}{v}");
                }
                s.push('\n');
            }
            s
        })
        .collect();
    chunks.concat()
}

/// The Projector's metadata file: with two columns it needs a header line.
pub fn metadata_tsv(labels: &[u32]) -> String {
    let mut s = String::with_capacity(16 + labels.len() * 10);
    s.push_str("index\tlabel\n");
    for (i, l) in labels.iter().enumerate() {
        // ok: writing to a String cannot fail.
        let _ = writeln!(s, "{i}\t{l}");
    }
    s
}
