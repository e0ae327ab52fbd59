use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder, Zip};
use siamese_gemm::matmul;

use crate::error::shape_error;
use crate::kernels;
use crate::sparse::{CsrBatch, SparseScratch};
use crate::{NnError, Result};

/// A fully connected layer `y = x·W + b`, optionally followed by ReLU (fused into the same pass).
///
/// The layer owns no numbers: its weights live in a caller's flat parameter buffer at
/// `offset`, `W` row-major `[input, output]` with rows [`Dense::stride`] values apart, then
/// `b` `[output]`, and its gradients at the same place in a gradient buffer of the same
/// length. That lets an optimizer walk one contiguous
/// buffer without knowing the layers, and lets parallel shards share the weights read-only.
///
/// ```
/// use ndarray::array;
/// use siamese_nn::Dense;
/// let layer = Dense::new(2, 1, 0, false);
/// let params = [2.0, 3.0, 0.5]; // W = [[2], [3]], b = [0.5]
/// let mut y = ndarray::Array2::zeros((1, 1));
/// layer.forward(&params, array![[1.0, 1.0]].view(), y.view_mut())?;
/// assert_eq!(y[[0, 0]], 5.5);
/// # Ok::<(), siamese_nn::NnError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dense {
    input: usize,
    output: usize,
    stride: usize,
    offset: usize,
    relu: bool,
}

/// Distance between weight rows: the output width, plus 16 unused values when rows would
/// otherwise be a multiple of 256 bytes apart. Rows 2 KB apart all fall into a few cache
/// sets, so the sparse first layer, which reads a 64-column strip of every row, evicted its
/// own strip; the padding spreads the strip over all sets. Padding stays zero: its
/// gradient is zero, so Adam never moves it.
fn padded_stride(output: usize) -> usize {
    if output >= 64 && output.is_multiple_of(64) {
        output + 16
    } else {
        output
    }
}

impl Dense {
    /// A layer of `input → output` units whose parameters start at `offset`.
    pub fn new(input: usize, output: usize, offset: usize, relu: bool) -> Self {
        Self {
            input,
            output,
            stride: padded_stride(output),
            offset,
            relu,
        }
    }

    /// Values from one weight row to the next in the parameter buffer (≥ `output`).
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Where the bias starts in the parameter buffer.
    pub fn bias_offset(&self) -> usize {
        self.offset + self.input * self.stride
    }

    /// The weights `[input, output]` as a (strided) view into `params`.
    pub fn weights<'a>(&self, params: &'a [f32]) -> Result<ArrayView2<'a, f32>> {
        let (w, _) = self.split(params, "parameter")?;
        Ok(self.weight_view(w))
    }

    /// The bias `[output]` inside `params`.
    pub fn bias<'a>(&self, params: &'a [f32]) -> Result<&'a [f32]> {
        Ok(self.split(params, "parameter")?.1)
    }

    /// Input features.
    pub fn input(&self) -> usize {
        self.input
    }

    /// Output units.
    pub fn output(&self) -> usize {
        self.output
    }

    /// Whether ReLU follows the affine map.
    pub fn relu(&self) -> bool {
        self.relu
    }

    /// Length of this layer's part of the parameter buffer: weights (with row padding, see
    /// [`Dense::stride`]) plus biases.
    pub fn num_params(&self) -> usize {
        self.input * self.stride + self.output
    }

    /// Where this layer's weights start in the parameter buffer.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn split<'a>(&self, buffer: &'a [f32], what: &'static str) -> Result<(&'a [f32], &'a [f32])> {
        let end = self.offset + self.num_params();
        let own = buffer.get(self.offset..end).ok_or(NnError::BufferLength {
            what,
            expected: end,
            found: buffer.len(),
        })?;
        Ok(own.split_at(self.input * self.stride))
    }

    fn split_mut<'a>(&self, buffer: &'a mut [f32]) -> Result<(&'a mut [f32], &'a mut [f32])> {
        let end = self.offset + self.num_params();
        let found = buffer.len();
        let own = buffer
            .get_mut(self.offset..end)
            .ok_or(NnError::BufferLength {
                what: "gradient",
                expected: end,
                found,
            })?;
        Ok(own.split_at_mut(self.input * self.stride))
    }

    fn weight_view<'a>(&self, weights: &'a [f32]) -> ArrayView2<'a, f32> {
        ArrayView2::from_shape((self.input, self.output).strides((self.stride, 1)), weights)
            .expect("weight slice length") // ok: `split` cut input*stride values, stride ≥ output
    }

    fn check_batch(&self, rows: usize, x_shape: &[usize], y_shape: &[usize]) -> Result<()> {
        if x_shape != [rows, self.input] {
            return Err(shape_error("layer input", &[rows, self.input], x_shape));
        }
        if y_shape != [rows, self.output] {
            return Err(shape_error("layer output", &[rows, self.output], y_shape));
        }
        Ok(())
    }

    /// `y = act(x·W + b)` for a dense batch `x` of shape `[rows, input]`.
    pub fn forward(
        &self,
        params: &[f32],
        x: ArrayView2<'_, f32>,
        mut y: ArrayViewMut2<'_, f32>,
    ) -> Result<()> {
        self.check_batch(x.nrows(), x.shape(), y.shape())?;
        let (w, b) = self.split(params, "parameter")?;
        matmul(1.0, x, self.weight_view(w), 0.0, y.view_mut())?;
        kernels::add_bias_activate(contiguous_mut(&mut y, "layer output")?, b, self.relu);
        Ok(())
    }

    /// The same as [`Dense::forward`] for a sparse batch: each output row is the bias plus the
    /// weight rows of the input's non-zero features, scaled by their values. `scratch` holds
    /// buffers reused between calls.
    pub fn forward_sparse(
        &self,
        params: &[f32],
        x: &CsrBatch,
        mut y: ArrayViewMut2<'_, f32>,
        scratch: &mut SparseScratch,
    ) -> Result<()> {
        self.check_batch(x.rows(), &[x.rows(), x.cols()], y.shape())?;
        if !x.is_well_formed() {
            return Err(NnError::Shape {
                what: "sparse input",
                expected: format!(
                    "strictly increasing columns below {} in every row",
                    self.input
                ),
                found: "unsorted or out-of-range columns".into(),
            });
        }
        let (w, b) = self.split(params, "parameter")?;
        let out = self.output;
        let y = contiguous_mut(&mut y, "layer output")?;
        if kernels::tiled_width(out) {
            for row in y.chunks_exact_mut(out) {
                row.copy_from_slice(b);
            }
            let tiles = self.input.div_ceil(kernels::TILE_ROWS);
            kernels::tile_bounds(x.compressed(), tiles, &mut scratch.bounds);
            let strips = kernels::Strips {
                data: w,
                row_stride: self.stride,
                block_stride: kernels::BLOCK,
            };
            kernels::sparse_times_dense_tiled(
                x.compressed(),
                &scratch.bounds,
                strips,
                y,
                out,
                out / kernels::BLOCK,
            );
        } else {
            kernels::sparse_times_matrix(x.compressed(), w, self.stride, b, y);
        }
        if self.relu {
            kernels::relu(y);
        }
        Ok(())
    }

    /// Turns `dy` (∂L/∂y) into ∂L/∂z in place (through the ReLU, using the outputs `y` it
    /// kept), then adds ∂L/∂W and ∂L/∂b into this layer's slice of `grads` and, when asked,
    /// writes ∂L/∂x into `dx`.
    ///
    /// Gradients accumulate, so shards or towers that share weights can add into one buffer.
    pub fn backward(
        &self,
        params: &[f32],
        x: ArrayView2<'_, f32>,
        y: ArrayView2<'_, f32>,
        dy: ArrayViewMut2<'_, f32>,
        grads: &mut [f32],
        dx: Option<ArrayViewMut2<'_, f32>>,
    ) -> Result<()> {
        let mut scratch = SparseScratch::default();
        self.backward_with(params, LayerInput::Dense(x), &mut scratch, y, dy, grads, dx)
    }

    /// [`Dense::backward`] for a dense or sparse input batch, with buffers reused between
    /// calls. A sparse input (the data, or ReLU activations that are mostly zero) makes the
    /// weight gradient walk only its non-zeros; the input gradient is a dense product.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_with(
        &self,
        params: &[f32],
        x: LayerInput<'_>,
        scratch: &mut SparseScratch,
        y: ArrayView2<'_, f32>,
        mut dy: ArrayViewMut2<'_, f32>,
        grads: &mut [f32],
        dx: Option<ArrayViewMut2<'_, f32>>,
    ) -> Result<()> {
        let (rows, cols) = x.dim();
        self.check_batch(rows, &[rows, cols], y.shape())?;
        if dy.shape() != y.shape() {
            return Err(shape_error("output gradient", y.shape(), dy.shape()));
        }
        if let Some(dx) = &dx
            && dx.shape() != [rows, cols]
        {
            return Err(shape_error("input gradient", &[rows, cols], dx.shape()));
        }
        self.relu_backward(y, dy.view_mut());
        let dz = dy.view();
        let dz_slice = contiguous(&dz, "output gradient")?;
        if self.few_live_columns(dz_slice, scratch) {
            return self.backward_live(params, x, dz_slice, scratch, grads, dx);
        }
        let (gw, gb) = self.split_mut(grads)?;
        match x {
            LayerInput::Dense(x) => {
                let gw = ArrayViewMut2::from_shape(
                    (self.input, self.output).strides((self.stride, 1)),
                    gw,
                )
                .expect("gradient slice length"); // ok: `split_mut` cut input*stride values
                matmul(1.0, x.t(), dz, 1.0, gw)?;
            }
            LayerInput::Sparse(x) => self.sparse_weight_gradient(x, dz_slice, scratch, gw),
        }
        kernels::accumulate_column_sums(dz_slice, gb);
        if let Some(dx) = dx {
            let (w, _) = self.split(params, "parameter")?;
            matmul(1.0, dz, self.weight_view(w).t(), 0.0, dx)?;
        }
        Ok(())
    }

    /// `gw += xᵀ·dz` for a sparse `x`, walking its non-zeros column by column.
    fn sparse_weight_gradient(
        &self,
        x: &CsrBatch,
        dz: &[f32],
        scratch: &mut SparseScratch,
        gw: &mut [f32],
    ) {
        let csc = &mut scratch.csc;
        csc.build(x);
        let out = self.output;
        if kernels::tiled_width(out) {
            let rows = x.rows();
            let blocks = out / kernels::BLOCK;
            kernels::pack_strips(dz, rows, blocks, &mut scratch.packed);
            kernels::tile_bounds(
                csc.compressed(),
                rows.div_ceil(kernels::TILE_ROWS),
                &mut scratch.bounds,
            );
            let strips = kernels::Strips {
                data: &scratch.packed,
                row_stride: kernels::BLOCK,
                block_stride: rows * kernels::BLOCK,
            };
            kernels::sparse_times_dense_tiled(
                csc.compressed(),
                &scratch.bounds,
                strips,
                gw,
                self.stride,
                blocks,
            );
        } else {
            kernels::sparse_transpose_times_matrix(csc.compressed(), dz, gw, self.stride, out);
        }
    }

    /// Finds the output columns of `dz` that are non-zero in some row (into
    /// `scratch.live`) and says whether they are few enough for [`Dense::backward_live`]:
    /// units that are inactive for the whole batch contribute nothing, and after a few
    /// hundred steps most units of the second hidden layer are (about 14 of 256 stay live).
    fn few_live_columns(&self, dz: &[f32], scratch: &mut SparseScratch) -> bool {
        let out = self.output;
        let flags = &mut scratch.live_flags;
        flags.clear();
        flags.resize(out, 0);
        for row in dz.chunks_exact(out) {
            for (f, &v) in flags.iter_mut().zip(row) {
                *f |= u8::from(v != 0.0);
            }
        }
        scratch.live.clear();
        scratch
            .live
            .extend((0..out as u32).filter(|&c| flags[c as usize] != 0));
        2 * scratch.live.len() <= out
    }

    /// The backward pass restricted to the live output columns found by
    /// [`Dense::few_live_columns`]: the products shrink from `out` to `live` columns; the
    /// gradients of the other columns are exactly zero and are left untouched.
    fn backward_live(
        &self,
        params: &[f32],
        x: LayerInput<'_>,
        dz: &[f32],
        scratch: &mut SparseScratch,
        grads: &mut [f32],
        dx: Option<ArrayViewMut2<'_, f32>>,
    ) -> Result<()> {
        let (out, input, stride) = (self.output, self.input, self.stride);
        let rows = dz.len() / out.max(1);
        let live = &scratch.live;
        let n = live.len();
        if n == 0 {
            // No unit is active for any row: every gradient is zero.
            if let Some(mut dx) = dx {
                dx.fill(0.0);
            }
            return Ok(());
        }
        let dz_live = &mut scratch.dz_live;
        dz_live.clear();
        for row in dz.chunks_exact(out) {
            dz_live.extend(live.iter().map(|&c| row[c as usize]));
        }
        let (gw, gb) = self.split_mut(grads)?;
        for row in dz_live.chunks_exact(n) {
            for (&c, &v) in live.iter().zip(row) {
                gb[c as usize] += v;
            }
        }
        let gw_live = &mut scratch.gw_live;
        gw_live.clear();
        gw_live.resize(input * n, 0.0);
        match x {
            LayerInput::Dense(x) => {
                let dzv = ArrayView2::from_shape((rows, n), &dz_live[..]).expect("live gradient"); // ok: rows × n values
                let g = ArrayViewMut2::from_shape((input, n), &mut gw_live[..])
                    .expect("live weight gradient"); // ok: input × n values
                matmul(1.0, x.t(), dzv, 0.0, g)?;
            }
            LayerInput::Sparse(x) => {
                scratch.csc.build(x);
                kernels::sparse_transpose_times_matrix(
                    scratch.csc.compressed(),
                    dz_live,
                    gw_live,
                    n,
                    n,
                );
            }
        }
        for (i, g_row) in gw_live.chunks_exact(n).enumerate() {
            let dst = &mut gw[i * stride..i * stride + out];
            for (&c, &g) in live.iter().zip(g_row) {
                dst[c as usize] += g;
            }
        }
        if let Some(dx) = dx {
            let (w, _) = self.split(params, "parameter")?;
            let w_live = &mut scratch.w_live;
            w_live.clear();
            for r in 0..input {
                let w_row = &w[r * stride..r * stride + out];
                w_live.extend(live.iter().map(|&c| w_row[c as usize]));
            }
            let dzv = ArrayView2::from_shape((rows, n), &dz_live[..]).expect("live gradient"); // ok: rows × n values
            let wv = ArrayView2::from_shape((input, n), &w_live[..]).expect("live weights"); // ok: input × n values
            matmul(1.0, dzv, wv.t(), 0.0, dx)?;
        }
        Ok(())
    }

    fn relu_backward(&self, y: ArrayView2<'_, f32>, dy: ArrayViewMut2<'_, f32>) {
        if self.relu {
            Relu::backward(y, dy);
        }
    }
}

/// A layer's input batch, dense or as its non-zeros.
#[derive(Clone, Copy)]
pub(crate) enum LayerInput<'a> {
    Dense(ArrayView2<'a, f32>),
    Sparse(&'a CsrBatch),
}

impl LayerInput<'_> {
    fn dim(&self) -> (usize, usize) {
        match self {
            LayerInput::Dense(x) => x.dim(),
            LayerInput::Sparse(x) => (x.rows(), x.cols()),
        }
    }
}

/// The rectifier `max(x, 0)`, as a separate layer; [`Dense`] fuses it into its own passes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relu;

impl Relu {
    /// `x ← max(x, 0)` in place.
    pub fn forward(mut x: ArrayViewMut2<'_, f32>) {
        match x.as_slice_mut() {
            Some(x) => kernels::relu(x),
            None => x.mapv_inplace(|v| if v > 0.0 { v } else { 0.0 }),
        }
    }

    /// Zeroes the gradient where the output `y` was clamped. Using the output instead of the
    /// input is exact for ReLU (y > 0 ⇔ x > 0) and saves keeping the pre-activations.
    /// The derivative at exactly 0 is taken as 0.
    pub fn backward(y: ArrayView2<'_, f32>, mut dy: ArrayViewMut2<'_, f32>) {
        match (y.as_slice(), dy.as_slice_mut()) {
            (Some(y), Some(dy)) => kernels::relu_mask(y, dy),
            _ => Zip::from(&mut dy).and(&y).for_each(|d, &out| {
                if out <= 0.0 {
                    *d = 0.0;
                }
            }),
        }
    }
}

fn contiguous<'a>(a: &'a ArrayView2<'_, f32>, what: &'static str) -> Result<&'a [f32]> {
    a.as_slice().ok_or_else(|| not_contiguous(what))
}

fn contiguous_mut<'a>(
    a: &'a mut ArrayViewMut2<'_, f32>,
    what: &'static str,
) -> Result<&'a mut [f32]> {
    a.as_slice_mut().ok_or_else(|| not_contiguous(what))
}

fn not_contiguous(what: &'static str) -> NnError {
    NnError::Shape {
        what,
        expected: "rows contiguous in memory (standard layout)".into(),
        found: "a strided view".into(),
    }
}
