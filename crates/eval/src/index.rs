//! Exact k-nearest-neighbour search over embeddings.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::Path;

use ndarray::{Array2, ArrayView2, Axis, Slice};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use siamese_io::{F32Tensor, TensorFile, write_tensors};

use crate::error::{EvalError, Result, mismatch};

/// Version of the index file layout, stored in its header and checked on load.
pub const INDEX_FORMAT_VERSION: u32 = 1;

const VERSION_KEY: &str = "siamese.index_version";
const EMBEDDINGS: &str = "embeddings";
const LABELS: &str = "labels";

/// Queries per parallel block: the unit of work, fixed so results do not depend on threads.
const QUERY_BLOCK: usize = 128;
/// Index rows per matrix product: a `QUERY_BLOCK × ITEM_BLOCK` block of dot products
/// (1 MiB) stays in cache while the heaps consume it.
const ITEM_BLOCK: usize = 2048;

/// One search result: a row of the index, its label and its Euclidean distance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Neighbor {
    /// Row of the index (for an index of a whole split: the image's position in it).
    pub index: u32,
    /// Label of that row.
    pub label: u32,
    /// Euclidean distance to the query.
    pub distance: f32,
}

/// The `k` nearest neighbours of each query, nearest first, in one flat buffer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Neighbors {
    k: usize,
    items: Vec<Neighbor>,
}

impl Neighbors {
    /// Results of `items.len() / k` queries, `k` each, nearest first.
    pub fn from_flat(k: usize, items: Vec<Neighbor>) -> Result<Self> {
        if k == 0 || !items.len().is_multiple_of(k) {
            return Err(mismatch(
                "neighbour count",
                format!("a multiple of k = {k} (k ≥ 1)"),
                items.len(),
            ));
        }
        Ok(Self { k, items })
    }

    /// Neighbours per query.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.items.len().checked_div(self.k).unwrap_or(0)
    }

    /// Whether there are no queries.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The neighbours of query `q`, nearest first; empty past the last query.
    pub fn row(&self, q: usize) -> &[Neighbor] {
        self.items
            .get(q * self.k..(q + 1) * self.k)
            .unwrap_or_default()
    }

    /// The rows of all queries in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, Neighbor> {
        self.items.chunks_exact(self.k.max(1))
    }

    /// The first `k` neighbours of every query (`k` at most [`Self::k`]).
    pub fn truncate(&self, k: usize) -> Result<Neighbors> {
        if k == 0 || k > self.k {
            return Err(EvalError::Invalid {
                what: "k",
                value: k.to_string(),
                expected: format!("1..={}", self.k),
            });
        }
        let items = self.rows().flat_map(|r| &r[..k]).copied().collect();
        Ok(Neighbors { k, items })
    }
}

/// Embeddings with their labels, searchable by Euclidean distance.
///
/// Search is exact: squared distances come from blocked matrix products,
/// ‖q‖² + ‖x‖² − 2 q·x clamped at 0, and a bounded heap per query keeps the `k` nearest.
/// Queries run in parallel (rayon) in fixed blocks; ties are broken by the lower index, so
/// results are deterministic.
///
/// ```
/// use ndarray::array;
/// use siamese_eval::Index;
/// let index = Index::new(array![[0.0f32, 0.0], [3.0, 4.0], [1.0, 0.0]], vec![7, 8, 7])?;
/// let hits = index.search(array![[0.9f32, 0.0]].view(), 2)?;
/// let row = hits.row(0);
/// assert_eq!((row[0].index, row[0].label), (2, 7));
/// assert!((row[1].distance - 0.9).abs() < 1e-6);
/// # Ok::<(), siamese_eval::EvalError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    embeddings: Array2<f32>,
    labels: Vec<u32>,
    sq_norms: Vec<f32>,
    metadata: BTreeMap<String, String>,
}

impl Index {
    /// An index of `embeddings` (one row per item) labelled by `labels`.
    pub fn new(embeddings: Array2<f32>, labels: Vec<u32>) -> Result<Self> {
        if embeddings.nrows() != labels.len() {
            return Err(mismatch(
                "labels for the index rows",
                embeddings.nrows(),
                labels.len(),
            ));
        }
        if u32::try_from(labels.len()).is_err() {
            return Err(EvalError::Invalid {
                what: "index size",
                value: labels.len().to_string(),
                expected: format!("at most {} rows", u32::MAX),
            });
        }
        // Contiguous rows, so the products read memory in order.
        let embeddings = embeddings.as_standard_layout().into_owned();
        let sq_norms = squared_norms(embeddings.view());
        Ok(Self {
            embeddings,
            labels,
            sq_norms,
            metadata: BTreeMap::new(),
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the index holds no items.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Length of each embedding.
    pub fn dim(&self) -> usize {
        self.embeddings.ncols()
    }

    /// The embeddings, one row per item.
    pub fn embeddings(&self) -> ArrayView2<'_, f32> {
        self.embeddings.view()
    }

    /// The labels, one per item.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Free-form string metadata saved with the index (e.g. where it came from).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Mutable access to the metadata.
    pub fn metadata_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.metadata
    }

    /// The `k` nearest items of each query row, nearest first (`k` is capped at the index
    /// size).
    pub fn search(&self, queries: ArrayView2<'_, f32>, k: usize) -> Result<Neighbors> {
        self.search_impl(queries, k, false)
    }

    /// Every item of the index as a query against all the others (leave-one-out): what
    /// retrieval metrics over one set of embeddings need. `k` is capped at `len − 1`.
    pub fn search_self(&self, k: usize) -> Result<Neighbors> {
        self.search_impl(self.embeddings.view(), k, true)
    }

    fn search_impl(
        &self,
        queries: ArrayView2<'_, f32>,
        k: usize,
        exclude_self: bool,
    ) -> Result<Neighbors> {
        if queries.ncols() != self.dim() {
            return Err(mismatch("query dimension", self.dim(), queries.ncols()));
        }
        let available = self.len().saturating_sub(usize::from(exclude_self));
        let k = k.min(available);
        if k == 0 {
            return Err(EvalError::Invalid {
                what: "k",
                value: k.to_string(),
                expected: format!("at least 1, with an index of {} items", self.len()),
            });
        }
        let queries = queries.as_standard_layout();
        let q_norms = squared_norms(queries.view());
        let n = self.len();
        let mut items = vec![Neighbor::default(); queries.nrows() * k];
        items
            .par_chunks_mut(QUERY_BLOCK * k)
            .enumerate()
            .try_for_each_init(
                || {
                    (
                        Array2::<f32>::zeros((QUERY_BLOCK, ITEM_BLOCK)),
                        (0..QUERY_BLOCK)
                            .map(|_| BinaryHeap::with_capacity(k + 1))
                            .collect::<Vec<BinaryHeap<Candidate>>>(),
                    )
                },
                |(dots, heaps), (block, out)| {
                    let q0 = block * QUERY_BLOCK;
                    let rows = out.len() / k;
                    // `slice_axis` rather than `s![..]`: the macro expands to an
                    // `allow(unsafe_code)` that the workspace's `forbid` rejects.
                    let qb = queries.slice_axis(Axis(0), Slice::from(q0..q0 + rows));
                    for heap in heaps.iter_mut() {
                        heap.clear();
                    }
                    for i0 in (0..n).step_by(ITEM_BLOCK) {
                        let cols = ITEM_BLOCK.min(n - i0);
                        let items_block = self
                            .embeddings
                            .slice_axis(Axis(0), Slice::from(i0..i0 + cols));
                        let mut d = dots.view_mut();
                        d.slice_axis_inplace(Axis(0), Slice::from(..rows));
                        d.slice_axis_inplace(Axis(1), Slice::from(..cols));
                        siamese_gemm::matmul(1.0, qb, items_block.t(), 0.0, d.view_mut())
                            .map_err(|e| mismatch("search product", "m×k · k×n → m×n", e))?;
                        for (r, (dot_row, heap)) in d.outer_iter().zip(heaps.iter_mut()).enumerate()
                        {
                            let qi = q0 + r;
                            let qn = q_norms[qi];
                            for (c, (&dot, &xn)) in dot_row
                                .iter()
                                .zip(&self.sq_norms[i0..i0 + cols])
                                .enumerate()
                            {
                                let j = i0 + c;
                                if exclude_self && j == qi {
                                    continue;
                                }
                                let d2 = (qn + xn - 2.0 * dot).max(0.0);
                                push_bounded(
                                    heap,
                                    k,
                                    Candidate {
                                        d2,
                                        index: j as u32,
                                    },
                                );
                            }
                        }
                    }
                    for (heap, dst) in heaps.iter_mut().zip(out.chunks_exact_mut(k)) {
                        // Ascending (distance, index): the heap's order, nearest first.
                        let sorted = std::mem::take(heap).into_sorted_vec();
                        for (slot, c) in dst.iter_mut().zip(&sorted) {
                            *slot = Neighbor {
                                index: c.index,
                                label: self.labels[c.index as usize],
                                distance: c.d2.sqrt(),
                            };
                        }
                        // Give the buffer back so the next block reuses it.
                        *heap = BinaryHeap::from(sorted);
                        heap.clear();
                    }
                    Ok::<(), EvalError>(())
                },
            )?;
        Neighbors::from_flat(k, items)
    }

    /// Writes the index as a safetensors file (`embeddings` F32 `[n, dim]`, `labels` U32
    /// `[n]`, the format version and the metadata in the header), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let embeddings = F32Tensor {
            name: EMBEDDINGS,
            shape: vec![self.len(), self.dim()],
            values: self
                .embeddings
                .as_slice()
                .ok_or_else(|| mismatch("index layout", "contiguous rows", "strided rows"))?,
        };
        let labels = (LABELS, vec![self.len()], &self.labels[..]);
        let version = INDEX_FORMAT_VERSION.to_string();
        write_tensors(
            path,
            (VERSION_KEY, &version),
            &[embeddings],
            &[labels],
            &self.metadata,
        )?;
        Ok(())
    }

    /// Reads a file written by [`Index::save`], checking its version, dtypes and shapes.
    pub fn load(path: &Path) -> Result<Self> {
        let version = INDEX_FORMAT_VERSION.to_string();
        let mut file = TensorFile::read(path, (VERSION_KEY, &version), "index file")?;
        let (n, dim) = match file.shape(EMBEDDINGS)?[..] {
            [n, dim] => (n, dim),
            ref other => {
                return Err(file
                    .format_error(format!(
                        "tensor `{EMBEDDINGS}`: expected rank 2 [n, dim], found shape {other:?}"
                    ))
                    .into());
            }
        };
        let values = file.f32_tensor(EMBEDDINGS, Some(&[n, dim]))?;
        let labels = file.u32_tensor(LABELS, Some(&[n]))?;
        let embeddings = Array2::from_shape_vec((n, dim), values).map_err(|e| {
            EvalError::from(file.format_error(format!("tensor `{EMBEDDINGS}`: {e}")))
        })?;
        let mut index = Self::new(embeddings, labels)?;
        index.metadata = file.take_metadata();
        Ok(index)
    }
}

/// A candidate neighbour, ordered by squared distance, then index: the heap's top is the
/// worst of the current best `k`.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    d2: f32,
    index: u32,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.d2
            .total_cmp(&other.d2)
            .then(self.index.cmp(&other.index))
    }
}

/// Keeps the `k` smallest candidates: once full, one comparison rejects most newcomers.
#[inline]
fn push_bounded(heap: &mut BinaryHeap<Candidate>, k: usize, c: Candidate) {
    if heap.len() < k {
        heap.push(c);
    } else if let Some(mut worst) = heap.peek_mut()
        && c < *worst
    {
        *worst = c;
    }
}

fn squared_norms(rows: ArrayView2<'_, f32>) -> Vec<f32> {
    rows.outer_iter()
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect()
}
