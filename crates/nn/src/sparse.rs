use ndarray::ArrayView2;

use crate::{Floats, zeroed_floats};

/// A batch of input rows in compressed sparse row form: only the non-zero features.
///
/// MNIST pixels are 81% zeros, so a first layer that walks only the lit pixels does about a
/// fifth of the dense arithmetic. The buffers keep their capacity across [`CsrBatch::clear`], so
/// a trainer fills the same batch every step without allocating.
///
/// ```
/// use siamese_nn::CsrBatch;
/// let mut batch = CsrBatch::new(4);
/// batch.push_row([(1, 0.5), (3, 1.0)]);
/// batch.push_row([]);
/// assert_eq!(batch.rows(), 2);
/// assert_eq!(batch.row(0).collect::<Vec<_>>(), vec![(1, 0.5), (3, 1.0)]);
/// assert_eq!(batch.density(), 2.0 / 8.0);
/// ```
#[derive(Clone)]
pub struct CsrBatch {
    cols: usize,
    row_start: Vec<u32>,
    /// Column and value of every non-zero: the first `nnz` slots. The slots after them are
    /// room kept from earlier, larger batches (stale values), so that refilling a batch
    /// writes into memory it already has instead of zero-filling it first.
    col_index: Vec<u32>,
    values: Vec<f32>,
    nnz: usize,
}

/// An empty batch of rows without features, as [`CsrBatch::new`]`(0)`: a derived default
/// would lack the first row start that every batch carries, and `rows()` would underflow.
impl Default for CsrBatch {
    fn default() -> Self {
        Self::new(0)
    }
}

impl PartialEq for CsrBatch {
    fn eq(&self, other: &Self) -> bool {
        self.cols == other.cols
            && self.row_start == other.row_start
            && self.col_index[..self.nnz] == other.col_index[..other.nnz]
            && self.values[..self.nnz] == other.values[..other.nnz]
    }
}

impl std::fmt::Debug for CsrBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrBatch")
            .field("cols", &self.cols)
            .field("row_start", &self.row_start)
            .field("col_index", &&self.col_index[..self.nnz])
            .field("values", &&self.values[..self.nnz])
            .finish()
    }
}

impl CsrBatch {
    /// An empty batch of rows with `cols` features each.
    pub fn new(cols: usize) -> Self {
        Self {
            cols,
            row_start: vec![0],
            col_index: Vec::new(),
            values: Vec::new(),
            nnz: 0,
        }
    }

    /// An empty batch with room for `rows` rows of `nnz` non-zeros in all.
    pub fn with_capacity(cols: usize, rows: usize, nnz: usize) -> Self {
        let mut row_start = Vec::with_capacity(rows + 1);
        row_start.push(0);
        Self {
            cols,
            row_start,
            col_index: Vec::with_capacity(nnz),
            values: Vec::with_capacity(nnz),
            nnz: 0,
        }
    }

    /// The non-zeros of a dense batch.
    pub fn from_dense(dense: ArrayView2<'_, f32>) -> Self {
        let mut batch = Self::new(dense.ncols());
        for row in dense.rows() {
            batch.push_row(
                row.iter()
                    .enumerate()
                    .filter(|&(_, &v)| v != 0.0)
                    .map(|(c, &v)| (c, v)),
            );
        }
        batch
    }

    /// Replaces the contents with the non-zeros of `dense`, reusing the buffers.
    pub fn refill_from_dense(&mut self, dense: ArrayView2<'_, f32>) {
        self.clear();
        self.cols = dense.ncols();
        // Branch-free compaction: every value is written, and the write position advances
        // only past non-zeros. At ~15% density a branch per value mispredicts often enough
        // to cost more than the writes.
        let total = dense.len();
        self.make_room(total);
        let mut n = 0usize;
        for row in dense.rows() {
            for (c, &v) in row.iter().enumerate() {
                self.col_index[n] = c as u32;
                self.values[n] = v;
                n += usize::from(v != 0.0);
            }
            self.row_start.push(n as u32);
        }
        self.nnz = n;
    }

    /// Replaces the contents with rows of coded features, reusing the buffers: feature `c`
    /// of a row is `table[codes[c]]`, kept when `codes[c] != 0` (pixels through a
    /// normalizer's lookup table, say). Every row should have `cols` codes: a longer one
    /// makes a batch that the layers reject (see [`CsrBatch::push_row`]).
    ///
    /// ```
    /// use siamese_nn::CsrBatch;
    /// let mut table = [0.0f32; 256];
    /// table[255] = 1.0;
    /// table[51] = 0.2;
    /// let mut batch = CsrBatch::new(1);
    /// let image: [u8; 10] = [0, 0, 255, 0, 0, 0, 0, 0, 0, 51];
    /// batch.refill_from_codes(10, [&image[..], &[0; 10]], &table);
    /// assert_eq!(batch.row(0).collect::<Vec<_>>(), vec![(2, 1.0), (9, 0.2)]);
    /// assert_eq!(batch.rows(), 2);
    /// assert_eq!(batch.nnz(), 2);
    /// ```
    pub fn refill_from_codes<'a>(
        &mut self,
        cols: usize,
        rows: impl IntoIterator<Item = &'a [u8]>,
        table: &[f32; 256],
    ) {
        self.clear();
        self.cols = cols;
        let mut n = 0usize;
        for codes in rows {
            // Room for every code of the row to be kept, so that the compaction writes
            // without checks; grown geometrically.
            if self.values.len() < n + codes.len() {
                self.make_room((n + codes.len()).max(2 * self.values.len()));
            }
            n += compact_codes(
                codes,
                table,
                &mut self.col_index[n..],
                &mut self.values[n..],
            );
            self.row_start.push(n as u32);
        }
        self.nnz = n;
    }

    /// At least `slots` writable slots for non-zeros; kept ones stay.
    fn make_room(&mut self, slots: usize) {
        if self.values.len() < slots {
            self.col_index.resize(slots, 0);
            self.values.resize(slots, 0.0);
        }
    }

    /// Forgets all rows, keeping the capacity.
    pub fn clear(&mut self) {
        self.row_start.truncate(1);
        self.nnz = 0;
    }

    /// Appends a row given as `(column, value)` pairs in increasing column order.
    ///
    /// Columns must be `< cols()`; layers check this before they index with them.
    pub fn push_row(&mut self, entries: impl IntoIterator<Item = (usize, f32)>) {
        for (c, v) in entries {
            self.push(c, v);
        }
        self.finish_row();
    }

    /// Appends one non-zero to the row being built; [`CsrBatch::finish_row`] closes the row.
    #[inline]
    pub fn push(&mut self, col: usize, value: f32) {
        if self.nnz < self.values.len() {
            self.col_index[self.nnz] = col as u32;
            self.values[self.nnz] = value;
        } else {
            self.col_index.push(col as u32);
            self.values.push(value);
        }
        self.nnz += 1;
    }

    /// Closes the row being built by [`CsrBatch::push`].
    pub fn finish_row(&mut self) {
        self.row_start.push(self.nnz as u32);
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.row_start.len() - 1
    }

    /// Features per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of stored non-zeros.
    pub fn nnz(&self) -> usize {
        self.nnz
    }

    /// Share of entries that are non-zero, in [0, 1].
    pub fn density(&self) -> f64 {
        let total = self.rows() * self.cols;
        if total == 0 {
            0.0
        } else {
            self.nnz() as f64 / total as f64
        }
    }

    /// The `(column, value)` pairs of row `i`.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let (cols, vals) = self.row_slices(i);
        cols.iter().zip(vals).map(|(&c, &v)| (c as usize, v))
    }

    pub(crate) fn row_slices(&self, i: usize) -> (&[u32], &[f32]) {
        let range = self.row_start[i] as usize..self.row_start[i + 1] as usize;
        (&self.col_index[range.clone()], &self.values[range])
    }

    pub(crate) fn compressed(&self) -> crate::kernels::Compressed<'_> {
        crate::kernels::Compressed {
            starts: &self.row_start,
            index: &self.col_index[..self.nnz],
            values: &self.values[..self.nnz],
        }
    }

    /// Whether every row's columns are strictly increasing and below `cols()`, as the
    /// layers' kernels rely on.
    pub(crate) fn is_well_formed(&self) -> bool {
        (0..self.rows()).all(|r| {
            let (cols, _) = self.row_slices(r);
            cols.windows(2).all(|w| w[0] < w[1])
                && cols.last().is_none_or(|&c| (c as usize) < self.cols)
        })
    }
}

/// Writes the position and `table` value of every non-zero code to the front of `cols` and
/// `values` and returns how many there were. Both must hold `codes.len()` values.
///
/// Images are mostly zero runs, and whether one pixel is lit is too irregular for a branch
/// per pixel to predict: eight zero codes are skipped with one test, and the rest compacted
/// without branches (every slot is written, the end advances past kept ones). Half the
/// time of a branch per pixel on MNIST (`benches/README.md`).
fn compact_codes(codes: &[u8], table: &[f32; 256], cols: &mut [u32], values: &mut [f32]) -> usize {
    const GROUP: usize = 8;
    let mut n = 0usize;
    let (groups, rest) = codes.as_chunks::<GROUP>();
    for (g, group) in groups.iter().enumerate() {
        if u64::from_ne_bytes(*group) == 0 {
            continue;
        }
        // n ≤ GROUP·g: the group's slots lie inside the `codes.len()` given.
        let group_cols = &mut cols[n..n + GROUP];
        let group_values = &mut values[n..n + GROUP];
        let mut k = 0usize;
        for (o, &code) in group.iter().enumerate() {
            // k ≤ o < GROUP; the mask only spares the bounds check.
            group_cols[k % GROUP] = (GROUP * g + o) as u32;
            group_values[k % GROUP] = table[usize::from(code)];
            k += usize::from(code != 0);
        }
        n += k;
    }
    let base = GROUP * groups.len();
    for (o, &code) in rest.iter().enumerate() {
        cols[n] = (base + o) as u32;
        values[n] = table[usize::from(code)];
        n += usize::from(code != 0);
    }
    n
}

/// Buffers a layer reuses from step to step for its sparse paths: the batch by column, where
/// its entries cross tile boundaries, the packed output gradient, and the compacted copies
/// used when most output units are inactive.
#[derive(Clone, Debug)]
pub struct SparseScratch {
    pub(crate) csc: CscScratch,
    pub(crate) bounds: Vec<u32>,
    pub(crate) packed: Floats,
    /// Output columns of the layer being backpropagated that are non-zero in some row.
    pub(crate) live: Vec<u32>,
    pub(crate) live_flags: Vec<u8>,
    /// The output gradient, the weights and the weight gradient restricted to `live`.
    pub(crate) dz_live: Vec<f32>,
    pub(crate) w_live: Vec<f32>,
    pub(crate) gw_live: Vec<f32>,
}

impl Default for SparseScratch {
    fn default() -> Self {
        Self {
            csc: CscScratch::default(),
            bounds: Vec::new(),
            packed: zeroed_floats(0),
            live: Vec::new(),
            live_flags: Vec::new(),
            dz_live: Vec::new(),
            w_live: Vec::new(),
            gw_live: Vec::new(),
        }
    }
}

/// Column-major scratch copy of a [`CsrBatch`], for the weight gradient of a sparse layer:
/// walking the batch by input feature lets each weight row be accumulated while it sits in
/// cache. Kept in the workspace so it is built without allocating after the first step.
#[derive(Clone, Debug, Default)]
pub(crate) struct CscScratch {
    pub(crate) col_start: Vec<u32>,
    pub(crate) row_index: Vec<u32>,
    pub(crate) values: Vec<f32>,
    fill: Vec<u32>,
}

impl CscScratch {
    pub(crate) fn build(&mut self, csr: &CsrBatch) {
        let cols = csr.cols;
        self.col_start.clear();
        self.col_start.resize(cols + 1, 0);
        for &c in &csr.col_index[..csr.nnz] {
            self.col_start[c as usize + 1] += 1;
        }
        for c in 0..cols {
            self.col_start[c + 1] += self.col_start[c];
        }
        self.fill.clear();
        self.fill.extend_from_slice(&self.col_start[..cols]);
        // Every one of the first nnz slots is written below; only missing room is added.
        if self.row_index.len() < csr.nnz() {
            self.row_index.resize(csr.nnz(), 0);
            self.values.resize(csr.nnz(), 0.0);
        }
        for r in 0..csr.rows() {
            let (cs, vs) = csr.row_slices(r);
            for (&c, &v) in cs.iter().zip(vs) {
                let slot = &mut self.fill[c as usize];
                self.row_index[*slot as usize] = r as u32;
                self.values[*slot as usize] = v;
                *slot += 1;
            }
        }
    }

    pub(crate) fn compressed(&self) -> crate::kernels::Compressed<'_> {
        crate::kernels::Compressed {
            starts: &self.col_start,
            index: &self.row_index,
            values: &self.values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain loop the compaction must match: a branch per code.
    fn plain(cols: usize, rows: &[Vec<u8>], table: &[f32; 256]) -> CsrBatch {
        let mut batch = CsrBatch::new(cols);
        for codes in rows {
            batch.push_row(
                codes
                    .iter()
                    .enumerate()
                    .filter(|&(_, &code)| code != 0)
                    .map(|(c, &code)| (c, table[usize::from(code)])),
            );
        }
        batch
    }

    #[test]
    fn coded_rows_compact_like_a_plain_loop() {
        let mut table = [0.0f32; 256];
        for (code, t) in table.iter_mut().enumerate() {
            *t = code as f32 / 255.0;
        }
        // One buffer reused across batches of different shapes: it shrinks and grows.
        let mut batch = CsrBatch::new(0);
        let mut state = 7u32;
        for (cols, rows, lit_in) in [(784, 5, 5), (13, 4, 2), (8, 3, 1), (29, 6, 9), (784, 9, 3)] {
            let rows: Vec<Vec<u8>> = (0..rows)
                .map(|r| {
                    (0..cols)
                        .map(|c| {
                            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                            // Runs of zeros, an all-zero row, a lit last code (in the tail
                            // after the groups of eight), and scattered lit codes.
                            let lit =
                                r != 1 && (c + 1 == cols || (state >> 16).is_multiple_of(lit_in));
                            if lit { (state >> 8) as u8 | 1 } else { 0 }
                        })
                        .collect()
                })
                .collect();
            batch.refill_from_codes(cols, rows.iter().map(Vec::as_slice), &table);
            assert_eq!(batch, plain(cols, &rows, &table), "{cols} columns");
            assert!(batch.is_well_formed());
        }

        let empty = CsrBatch::default();
        assert_eq!((empty.rows(), empty.nnz(), empty.density()), (0, 0, 0.0));

        // Rows pushed one by one into the room a larger batch left behind.
        batch.clear();
        batch.push_row([(1, 0.5), (3, 1.0)]);
        let mut fresh = CsrBatch::new(784);
        fresh.push_row([(1, 0.5), (3, 1.0)]);
        assert_eq!(batch, fresh);
        assert_eq!(batch.nnz(), 2);
        assert_eq!(format!("{batch:?}"), format!("{fresh:?}"));
    }
}
