use ndarray::{ArrayView2, ArrayViewMut2};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::{Normal, Uniform};
use rand_chacha::ChaCha8Rng;

use crate::dense::LayerInput;
use crate::error::shape_error;
use crate::sparse::{CsrBatch, SparseScratch};
use crate::{Dense, Floats, Init, NnError, Result, TowerSpec, zeroed_floats};

/// One batch of input rows for a tower: dense, or the non-zeros of the data.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// Rows of `spec.input` features.
    Dense(ArrayView2<'a, f32>),
    /// The same rows, only their non-zero features (see [`CsrBatch`]).
    Sparse(&'a CsrBatch),
}

impl Input<'_> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Input::Dense(x) => x.nrows(),
            Input::Sparse(x) => x.rows(),
        }
    }

    fn cols(&self) -> usize {
        match self {
            Input::Dense(x) => x.ncols(),
            Input::Sparse(x) => x.cols(),
        }
    }
}

/// A multilayer perceptron of [`Dense`] layers: the shared "tower" of a Siamese network.
///
/// The tower describes the layers; the numbers live in a flat parameter buffer (see
/// [`Tower::init_params`]) and the activations in a [`Workspace`], so one tower serves any
/// number of threads, each with its own workspace.
///
/// ```
/// use siamese_nn::{Init, Input, Tower, TowerSpec};
/// let tower = Tower::new(TowerSpec { input: 4, hidden: vec![8], embedding: 2, final_activation: false })?;
/// let params = tower.init_params(Init::GlorotUniform, 7)?;
/// let mut ws = tower.workspace(3);
/// let x = ndarray::Array2::<f32>::ones((3, 4));
/// let embedding = tower.forward(&params, Input::Dense(x.view()), &mut ws)?;
/// assert_eq!(embedding.shape(), &[3, 2]);
///
/// // Backward: ∂L/∂embedding in, parameter gradients accumulated into `grads`.
/// let mut grads = vec![0.0; tower.num_params()];
/// let upstream = ndarray::Array2::<f32>::ones((3, 2));
/// tower.backward(&params, Input::Dense(x.view()), &mut ws, upstream.view(), &mut grads, None)?;
/// assert!(grads.iter().any(|&g| g != 0.0));
/// # Ok::<(), siamese_nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Tower {
    spec: TowerSpec,
    layers: Vec<Dense>,
    num_params: usize,
}

impl Tower {
    /// Lays the layers of `spec` out one after another in a parameter buffer.
    pub fn new(spec: TowerSpec) -> Result<Self> {
        spec.validate()?;
        let sizes = spec.layer_sizes();
        let last = sizes.len() - 2;
        let mut offset = 0;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let relu = i < last || spec.final_activation;
                let layer = Dense::new(w[0], w[1], offset, relu);
                offset += layer.num_params();
                layer
            })
            .collect();
        Ok(Self {
            spec,
            layers,
            num_params: offset,
        })
    }

    /// The spec the tower was built from.
    pub fn spec(&self) -> &TowerSpec {
        &self.spec
    }

    /// The layers, input first.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// Length of the parameter (and gradient) buffer.
    pub fn num_params(&self) -> usize {
        self.num_params
    }

    /// Floating-point operations of one forward and backward pass over `rows` rows, counted
    /// densely (2 per multiply-add; forward, weight gradient and input gradient except for
    /// the first layer), the way framework benchmarks count them.
    pub fn dense_flops(&self, rows: usize) -> f64 {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let products = if i == 0 { 2.0 } else { 3.0 };
                products * 2.0 * (rows * l.input() * l.output()) as f64
            })
            .sum()
    }

    /// A fresh parameter buffer: weights drawn by `init` from a generator seeded with `seed`,
    /// layer by layer, biases zero. Cache-line aligned, as the layers' kernels want it (see
    /// [`Floats`]).
    pub fn init_params(&self, init: Init, seed: u64) -> Result<Floats> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = zeroed_floats(self.num_params);
        for layer in &self.layers {
            let (fan_in, fan_out) = (layer.input(), layer.output());
            let shape = (fan_in, fan_out);
            let bad = |_| NnError::InvalidSpec {
                field: "init",
                value: format!("{init:?}"),
                reason: "cannot build the distribution for this layer",
            };
            let weights = match init {
                Init::GlorotUniform => {
                    let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
                    let dist =
                        Uniform::new_inclusive(-limit, limit).map_err(|e| bad(e.to_string()))?;
                    ndarray::Array2::random_using(shape, dist, &mut rng)
                }
                Init::HeNormal => {
                    let std = (2.0 / fan_in as f32).sqrt();
                    let dist = Normal::new(0.0, std).map_err(|e| bad(e.to_string()))?;
                    ndarray::Array2::random_using(shape, dist, &mut rng)
                }
            };
            let start = layer.offset();
            let stride = layer.stride();
            for (r, row) in weights.rows().into_iter().enumerate() {
                let dst = &mut params[start + r * stride..start + r * stride + fan_out];
                for (d, &w) in dst.iter_mut().zip(row) {
                    *d = w;
                }
            }
        }
        Ok(params)
    }

    /// Buffers for batches of up to `max_rows` rows.
    pub fn workspace(&self, max_rows: usize) -> Workspace {
        let widest = self.layers.iter().map(Dense::output).max().unwrap_or(0);
        Workspace {
            max_rows,
            rows: 0,
            activations: self
                .layers
                .iter()
                .map(|l| zeroed_floats(max_rows * l.output()))
                .collect(),
            delta: zeroed_floats(max_rows * widest),
            delta_next: zeroed_floats(max_rows * widest),
            sparse: SparseScratch::default(),
            hidden_inputs: self
                .layers
                .iter()
                .map(|l| CsrBatch::with_capacity(l.input(), max_rows, max_rows * l.input() / 4))
                .collect(),
            hidden_sparse: vec![false; self.layers.len()],
            sparse_threshold: DEFAULT_SPARSE_THRESHOLD,
        }
    }

    fn check_input(&self, input: &Input<'_>, ws: &Workspace) -> Result<()> {
        let rows = input.rows();
        if input.cols() != self.spec.input {
            return Err(shape_error(
                "tower input",
                &[rows, self.spec.input],
                &[rows, input.cols()],
            ));
        }
        if rows > ws.max_rows {
            return Err(shape_error(
                "tower input rows (workspace capacity)",
                &[ws.max_rows],
                &[rows],
            ));
        }
        Ok(())
    }

    fn check_params(&self, params: &[f32]) -> Result<()> {
        if params.len() != self.num_params {
            return Err(NnError::BufferLength {
                what: "parameter",
                expected: self.num_params,
                found: params.len(),
            });
        }
        Ok(())
    }

    /// Runs the batch through every layer, keeping each layer's output in `ws` for
    /// [`Tower::backward`], and returns the embeddings `[rows, embedding]`.
    pub fn forward<'w>(
        &self,
        params: &[f32],
        input: Input<'_>,
        ws: &'w mut Workspace,
    ) -> Result<ArrayView2<'w, f32>> {
        self.check_params(params)?;
        self.check_input(&input, ws)?;
        let rows = input.rows();
        ws.rows = rows;
        for (i, layer) in self.layers.iter().enumerate() {
            let (done, rest) = ws.activations.split_at_mut(i);
            let y = matrix_mut(&mut rest[0], rows, layer.output());
            if i == 0 {
                match input {
                    Input::Dense(x) => layer.forward(params, x, y)?,
                    Input::Sparse(x) => layer.forward_sparse(params, x, y, &mut ws.sparse)?,
                }
            } else {
                let x = matrix(&done[i - 1], rows, layer.input());
                // The compaction counts the non-zeros: one pass instead of a count and then
                // a compaction, in the trained state where the sparse path wins. Early on,
                // when activations are dense, the compacted copy goes unused.
                ws.hidden_inputs[i].refill_from_dense(x);
                let sparse = ws.hidden_inputs[i].density() < ws.sparse_threshold;
                ws.hidden_sparse[i] = sparse;
                if sparse {
                    layer.forward_sparse(params, &ws.hidden_inputs[i], y, &mut ws.sparse)?;
                } else {
                    layer.forward(params, x, y)?;
                }
            }
        }
        Ok(ws.output())
    }

    /// Backpropagates `grad_output` (∂L/∂embedding for the batch of the last
    /// [`Tower::forward`] with this workspace) and adds every parameter's gradient into `grads`.
    /// `input_grad`, when given, receives ∂L/∂input (dense inputs only; the data needs none).
    pub fn backward(
        &self,
        params: &[f32],
        input: Input<'_>,
        ws: &mut Workspace,
        grad_output: ArrayView2<'_, f32>,
        grads: &mut [f32],
        input_grad: Option<ArrayViewMut2<'_, f32>>,
    ) -> Result<()> {
        self.check_params(params)?;
        self.check_input(&input, ws)?;
        if grads.len() != self.num_params {
            return Err(NnError::BufferLength {
                what: "gradient",
                expected: self.num_params,
                found: grads.len(),
            });
        }
        let rows = ws.rows;
        if input.rows() != rows {
            return Err(shape_error(
                "tower input rows (as in forward)",
                &[rows],
                &[input.rows()],
            ));
        }
        let embedding = self.spec.embedding;
        if grad_output.shape() != [rows, embedding] {
            return Err(shape_error(
                "embedding gradient",
                &[rows, embedding],
                grad_output.shape(),
            ));
        }
        matrix_mut(&mut ws.delta, rows, embedding).assign(&grad_output);
        let mut input_grad = input_grad;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let y = matrix(&ws.activations[i], rows, layer.output());
            let dy = matrix_mut(&mut ws.delta, rows, layer.output());
            if i == 0 {
                match input {
                    Input::Dense(x) => {
                        let dx = input_grad.take();
                        let x = LayerInput::Dense(x);
                        layer.backward_with(params, x, &mut ws.sparse, y, dy, grads, dx)?;
                    }
                    Input::Sparse(x) => {
                        if input_grad.is_some() {
                            return Err(NnError::Shape {
                                what: "input gradient",
                                expected: "a dense input".into(),
                                found: "a sparse input".into(),
                            });
                        }
                        let x = LayerInput::Sparse(x);
                        layer.backward_with(params, x, &mut ws.sparse, y, dy, grads, None)?;
                    }
                }
            } else {
                let dx = matrix_mut(&mut ws.delta_next, rows, layer.input());
                let x = if ws.hidden_sparse[i] {
                    LayerInput::Sparse(&ws.hidden_inputs[i])
                } else {
                    LayerInput::Dense(matrix(&ws.activations[i - 1], rows, layer.input()))
                };
                layer.backward_with(params, x, &mut ws.sparse, y, dy, grads, Some(dx))?;
                std::mem::swap(&mut ws.delta, &mut ws.delta_next);
            }
        }
        Ok(())
    }
}

/// The buffers one thread needs to run a [`Tower`] forward and backward: every layer's
/// output and two gradient buffers, allocated once for a maximum batch size.
#[derive(Clone, Debug)]
pub struct Workspace {
    max_rows: usize,
    rows: usize,
    activations: Vec<Floats>,
    delta: Floats,
    delta_next: Floats,
    sparse: SparseScratch,
    /// Per layer, its input in sparse form when the last forward pass took the sparse path.
    hidden_inputs: Vec<CsrBatch>,
    hidden_sparse: Vec<bool>,
    sparse_threshold: f64,
}

/// Hidden layers whose input has fewer non-zeros than this share skip the zeros. ReLU
/// activations of a trained tower are mostly zero (about 14% of the first hidden layer's and
/// 2% of the second's are lit after two epochs on MNIST), and the sparse product beats the
/// dense one below roughly 40% density.
pub const DEFAULT_SPARSE_THRESHOLD: f64 = 0.3;

impl Workspace {
    /// Sets the share of non-zero inputs below which a hidden layer takes the sparse path
    /// (default [`DEFAULT_SPARSE_THRESHOLD`]); 0 never does, anything above 1 always does.
    /// Both paths compute the same function; only rounding and speed differ.
    pub fn set_sparse_threshold(&mut self, share: f64) {
        self.sparse_threshold = share;
    }

    /// The largest batch this workspace holds.
    pub fn max_rows(&self) -> usize {
        self.max_rows
    }

    /// The embeddings of the last forward pass.
    pub fn output(&self) -> ArrayView2<'_, f32> {
        let last = self.activations.last().map_or(&[][..], |a| &a[..]);
        let cols = last.len().checked_div(self.max_rows).unwrap_or(0);
        matrix(last, self.rows, cols)
    }
}

fn matrix(buffer: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    // Workspaces are sized for max_rows × width, and rows ≤ max_rows is checked first.
    ArrayView2::from_shape((rows, cols), &buffer[..rows * cols]).expect("workspace buffer") // ok: sized
}

fn matrix_mut(buffer: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    // As for `matrix`.
    ArrayViewMut2::from_shape((rows, cols), &mut buffer[..rows * cols]).expect("workspace buffer") // ok: sized
}
