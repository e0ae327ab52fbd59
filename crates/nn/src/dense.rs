use ndarray::{ArrayView2, ArrayViewMut2, Zip, linalg::general_mat_mul};

use crate::error::shape_error;
use crate::sparse::{CscScratch, CsrBatch};
use crate::{NnError, Result};

/// A fully connected layer `y = x·W + b`, optionally followed by ReLU (fused into the same pass).
///
/// The layer owns no numbers: its weights live in a caller's flat parameter buffer at
/// `offset`, `W` row-major `[input, output]` then `b` `[output]`, and its gradients at the same
/// place in a gradient buffer of the same length. That lets an optimizer walk one contiguous
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
    offset: usize,
    relu: bool,
}

impl Dense {
    /// A layer of `input → output` units whose parameters start at `offset`.
    pub fn new(input: usize, output: usize, offset: usize, relu: bool) -> Self {
        Self {
            input,
            output,
            offset,
            relu,
        }
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

    /// Weights plus biases.
    pub fn num_params(&self) -> usize {
        self.input * self.output + self.output
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
        Ok(own.split_at(self.input * self.output))
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
        Ok(own.split_at_mut(self.input * self.output))
    }

    fn weight_view<'a>(&self, weights: &'a [f32]) -> ArrayView2<'a, f32> {
        // ok: `split` cut exactly input*output values.
        ArrayView2::from_shape((self.input, self.output), weights).expect("weight slice length")
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
        general_mat_mul(1.0, &x, &self.weight_view(w), 0.0, &mut y);
        for mut row in y.rows_mut() {
            if self.relu {
                Zip::from(&mut row).and(b).for_each(|v, &bias| {
                    let z = *v + bias;
                    *v = if z > 0.0 { z } else { 0.0 };
                });
            } else {
                Zip::from(&mut row).and(b).for_each(|v, &bias| *v += bias);
            }
        }
        Ok(())
    }

    /// The same as [`Dense::forward`] for a sparse batch: each output row is the bias plus the
    /// weight rows of the input's non-zero features, scaled by their values.
    pub fn forward_sparse(
        &self,
        params: &[f32],
        x: &CsrBatch,
        mut y: ArrayViewMut2<'_, f32>,
    ) -> Result<()> {
        self.check_batch(x.rows(), &[x.rows(), x.cols()], y.shape())?;
        if !x.columns_in_range() {
            return Err(shape_error(
                "sparse column index",
                &[self.input],
                &[x.cols()],
            ));
        }
        let (w, b) = self.split(params, "parameter")?;
        let out = self.output;
        for (i, mut y_row) in y.rows_mut().into_iter().enumerate() {
            let Some(y_row) = y_row.as_slice_mut() else {
                return Err(NnError::Shape {
                    what: "sparse layer output",
                    expected: "rows contiguous in memory".into(),
                    found: "strided rows".into(),
                });
            };
            y_row.copy_from_slice(b);
            let (cols, vals) = x.row_slices(i);
            for (&c, &v) in cols.iter().zip(vals) {
                let c = c as usize;
                axpy(v, &w[c * out..(c + 1) * out], y_row);
            }
            if self.relu {
                for v in y_row.iter_mut() {
                    *v = if *v > 0.0 { *v } else { 0.0 };
                }
            }
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
        mut dy: ArrayViewMut2<'_, f32>,
        grads: &mut [f32],
        dx: Option<ArrayViewMut2<'_, f32>>,
    ) -> Result<()> {
        self.check_batch(x.nrows(), x.shape(), y.shape())?;
        if dy.shape() != y.shape() {
            return Err(shape_error("output gradient", y.shape(), dy.shape()));
        }
        self.relu_backward(y, dy.view_mut());
        let (gw, gb) = self.split_mut(grads)?;
        let mut gw = ArrayViewMut2::from_shape((self.input, self.output), gw)
            .expect("gradient slice length"); // ok: `split_mut` cut exactly input*output values.
        general_mat_mul(1.0, &x.t(), &dy, 1.0, &mut gw);
        accumulate_column_sums(dy.view(), gb);
        if let Some(mut dx) = dx {
            if dx.shape() != x.shape() {
                return Err(shape_error("input gradient", x.shape(), dx.shape()));
            }
            let (w, _) = self.split(params, "parameter")?;
            general_mat_mul(1.0, &dy, &self.weight_view(w).t(), 0.0, &mut dx);
        }
        Ok(())
    }

    /// [`Dense::backward`] for a sparse input batch; the input gradient is never needed here
    /// because a sparse input is the data itself.
    pub(crate) fn backward_sparse(
        &self,
        x: &CsrBatch,
        csc: &mut CscScratch,
        y: ArrayView2<'_, f32>,
        mut dy: ArrayViewMut2<'_, f32>,
        grads: &mut [f32],
    ) -> Result<()> {
        self.check_batch(x.rows(), &[x.rows(), x.cols()], y.shape())?;
        if dy.shape() != y.shape() {
            return Err(shape_error("output gradient", y.shape(), dy.shape()));
        }
        self.relu_backward(y, dy.view_mut());
        let Some(dz) = dy.as_slice() else {
            return Err(NnError::Shape {
                what: "sparse layer output gradient",
                expected: "rows contiguous in memory".into(),
                found: "strided rows".into(),
            });
        };
        let (gw, gb) = self.split_mut(grads)?;
        let out = self.output;
        csc.build(x);
        for (c, gw_row) in gw.chunks_exact_mut(out).enumerate() {
            let (rows, vals) = csc.column(c);
            for (&r, &v) in rows.iter().zip(vals) {
                let r = r as usize;
                axpy(v, &dz[r * out..(r + 1) * out], gw_row);
            }
        }
        accumulate_column_sums(dy.view(), gb);
        Ok(())
    }

    fn relu_backward(&self, y: ArrayView2<'_, f32>, dy: ArrayViewMut2<'_, f32>) {
        if self.relu {
            Relu::backward(y, dy);
        }
    }
}

/// The rectifier `max(x, 0)`, as a separate layer; [`Dense`] fuses it into its own passes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relu;

impl Relu {
    /// `x ← max(x, 0)` in place.
    pub fn forward(mut x: ArrayViewMut2<'_, f32>) {
        x.mapv_inplace(|v| if v > 0.0 { v } else { 0.0 });
    }

    /// Zeroes the gradient where the output `y` was clamped. Using the output instead of the
    /// input is exact for ReLU (y > 0 ⇔ x > 0) and saves keeping the pre-activations.
    /// The derivative at exactly 0 is taken as 0.
    pub fn backward(y: ArrayView2<'_, f32>, mut dy: ArrayViewMut2<'_, f32>) {
        Zip::from(&mut dy).and(&y).for_each(|d, &out| {
            if out <= 0.0 {
                *d = 0.0;
            }
        });
    }
}

#[inline]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv += alpha * xv;
    }
}

fn accumulate_column_sums(dz: ArrayView2<'_, f32>, sums: &mut [f32]) {
    for row in dz.rows() {
        Zip::from(&mut *sums).and(&row).for_each(|s, &v| *s += v);
    }
}
