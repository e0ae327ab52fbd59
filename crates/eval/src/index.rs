//! Exact k-nearest-neighbour search over embeddings.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use multiversion::multiversion;
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

/// Queries per parallel block, at most and at least (see [`query_block`]).
const QUERY_BLOCK_MAX: usize = 1024;
const QUERY_BLOCK_MIN: usize = 64;
/// Index rows per matrix product: a block of at most `QUERY_BLOCK_MAX × ITEM_BLOCK` dot
/// products (1 MiB) stays in the core's L2 cache between the product that writes it and the
/// scan that reads it. Measured on the 10,000 × 60,000 MNIST search (dim 128, 2 threads):
/// 1,024 × 256 ≈ 1,024 × 512 < 512 × 512 < 128 × 2,048 (the old blocks) < 2,048 × 128.
const ITEM_BLOCK: usize = 256;

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
/// ‖q‖² + ‖x‖² − 2 q·x clamped at 0, and a small sorted array per query keeps the `k`
/// nearest (one comparison rejects almost every item). Queries run in parallel (rayon) in
/// blocks whose size depends on the number of queries only; ties are broken by the lower
/// index, so results are deterministic whatever the thread count.
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
        let block = query_block(queries.nrows());
        let mut items = vec![Neighbor::default(); queries.nrows() * k];
        items
            .par_chunks_mut(block * k)
            .enumerate()
            .try_for_each_init(
                || {
                    (
                        Array2::<f32>::zeros((block, ITEM_BLOCK)),
                        vec![TopK::new(k); block],
                    )
                },
                |(dots, tops), (b, out)| {
                    let q0 = b * block;
                    let rows = out.len() / k;
                    // `slice_axis` rather than `s![..]`: the macro expands to an
                    // `allow(unsafe_code)` that the workspace's `forbid` rejects.
                    let qb = queries.slice_axis(Axis(0), Slice::from(q0..q0 + rows));
                    for top in tops.iter_mut() {
                        top.clear();
                    }
                    // Item blocks in increasing order: each query sees the items by
                    // increasing index, which the top-k's tie rule relies on.
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
                        let x_norms = &self.sq_norms[i0..i0 + cols];
                        for (r, (dot_row, top)) in d.outer_iter().zip(tops.iter_mut()).enumerate() {
                            let qi = q0 + r;
                            let dot_row = dot_row.as_slice().ok_or_else(|| {
                                mismatch("search block layout", "contiguous rows", "strided rows")
                            })?;
                            let skip = exclude_self.then_some(qi as u32);
                            scan(dot_row, x_norms, q_norms[qi], i0 as u32, skip, top);
                        }
                    }
                    for (top, dst) in tops.iter().zip(out.chunks_exact_mut(k)) {
                        for (slot, c) in dst.iter_mut().zip(&top.best) {
                            *slot = Neighbor {
                                index: c.index,
                                label: self.labels[c.index as usize],
                                distance: c.d2.sqrt(),
                            };
                        }
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

/// Queries per block for a search of `queries` queries: the unit of parallel work and the
/// `m` of each product.
///
/// Large blocks make the products efficient (`gemm` packs each slice of the index once per
/// block, so a block of 1,024 queries amortizes that over 1,024 rows); but at least 8 blocks
/// when the queries allow it, so both cores (and a few more) get work. It depends on the
/// number of queries only, never on the thread count, so results do not either.
fn query_block(queries: usize) -> usize {
    queries
        .div_ceil(8)
        .next_multiple_of(QUERY_BLOCK_MIN)
        .clamp(QUERY_BLOCK_MIN, QUERY_BLOCK_MAX)
}

/// A candidate neighbour, ordered by squared distance, then index.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    d2: f32,
    index: u32,
}

impl Candidate {
    /// Ascending (distance, index), with `total_cmp` so the order is total.
    fn cmp(&self, other: &Self) -> Ordering {
        self.d2
            .total_cmp(&other.d2)
            .then(self.index.cmp(&other.index))
    }
}

/// The `k` best candidates of one query so far, nearest first.
///
/// A sorted array rather than a heap: with k around 10 an insertion moves a few elements,
/// and the scan needs only the worst distance, `best[k − 1]`, to reject almost every
/// candidate with one comparison.
#[derive(Clone, Debug)]
struct TopK {
    k: usize,
    best: Vec<Candidate>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            best: Vec::with_capacity(k + 1),
        }
    }

    fn clear(&mut self) {
        self.best.clear();
    }

    fn is_full(&self) -> bool {
        self.best.len() >= self.k
    }

    /// The squared distance a newcomer must beat (strictly: see [`scan`]); infinite until
    /// `k` candidates are in.
    fn threshold(&self) -> f32 {
        match self.best.get(self.k.wrapping_sub(1)) {
            Some(c) if self.is_full() => c.d2,
            _ => f32::INFINITY,
        }
    }

    /// Inserts `c` in order if it is among the best `k`.
    fn insert(&mut self, c: Candidate) {
        let pos = self
            .best
            .partition_point(|b| b.cmp(&c) != Ordering::Greater);
        if pos < self.k {
            if self.is_full() {
                self.best.pop();
            }
            self.best.insert(pos, c);
        }
    }
}

/// Lanes of the scan's filter: one AVX-512 register of `f32`, two of AVX2.
const LANES: usize = 16;

/// Offers one query the items of one block: `dots[c]` = q·x and `x_norms[c]` = ‖x‖² of item
/// `first + c`, `q_norm` = ‖q‖²; the item `skip` (the query itself) is left out.
///
/// Squared distances are `(‖q‖² + ‖x‖² − 2 q·x).max(0)`, the same expression for every
/// item, so the result does not depend on the path an item takes. Items come in increasing
/// index, so a newcomer that only ties the current worst has the larger index and loses:
/// `d² < threshold`, strictly, decides. Once `top` is full, a whole group of [`LANES`]
/// items is tested against the threshold at once (vectorized; without the clamp at 0, which
/// can only let more through), and only a group with a possible hit is looked at one by one.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn scan(dots: &[f32], x_norms: &[f32], q_norm: f32, first: u32, skip: Option<u32>, top: &mut TopK) {
    let d2 = |c: usize| (q_norm + x_norms[c] - 2.0 * dots[c]).max(0.0);
    let offer = |top: &mut TopK, c: usize| {
        let index = first + c as u32;
        if Some(index) != skip {
            top.insert(Candidate { d2: d2(c), index });
        }
    };
    let n = dots.len().min(x_norms.len());
    // Until k candidates are in, every one is.
    let mut c = 0;
    while c < n && !top.is_full() {
        offer(top, c);
        c += 1;
    }
    let mut threshold = top.threshold();
    let (groups, rest) = (dots[c..n].chunks_exact(LANES), c + (n - c) / LANES * LANES);
    for (g, (group, norms)) in groups.zip(x_norms[c..n].chunks_exact(LANES)).enumerate() {
        let mut hit = false;
        for (&dot, &x_norm) in group.iter().zip(norms) {
            hit |= q_norm + x_norm - 2.0 * dot < threshold;
        }
        if hit {
            let base = c + g * LANES;
            for i in base..base + LANES {
                if d2(i) < threshold {
                    offer(top, i);
                    threshold = top.threshold();
                }
            }
        }
    }
    for i in rest..n {
        if d2(i) < threshold {
            offer(top, i);
            threshold = top.threshold();
        }
    }
}

fn squared_norms(rows: ArrayView2<'_, f32>) -> Vec<f32> {
    rows.outer_iter()
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect()
}
