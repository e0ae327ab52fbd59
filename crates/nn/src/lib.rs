//! Dense layers, ReLU and MLP "towers" with hand-written backpropagation, no autograd.
//!
//! A [`Tower`] describes layers; the numbers live elsewhere: parameters and their gradients
//! in two flat `f32` buffers of the same layout (so an optimizer walks them without knowing
//! the layers), activations in a per-thread [`Workspace`] allocated once. Forward keeps what
//! backward needs; backward accumulates parameter gradients, so the two towers of a Siamese
//! pair (stacked into one batch) and parallel shards add up naturally. The first layer also
//! takes sparse input ([`CsrBatch`]) and then skips the zero pixels.
//!
//! ```
//! use siamese_nn::{Init, Input, Tower, TowerSpec};
//! let spec = TowerSpec { input: 784, hidden: vec![512, 256], embedding: 128, final_activation: false };
//! let tower = Tower::new(spec)?;
//! let params = tower.init_params(Init::GlorotUniform, 42)?;
//! let mut ws = tower.workspace(256);
//! let images = ndarray::Array2::<f32>::zeros((256, 784));
//! let embeddings = tower.forward(&params, Input::Dense(images.view()), &mut ws)?;
//! assert_eq!(embeddings.dim(), (256, 128));
//! # Ok::<(), siamese_nn::NnError>(())
//! ```
//!
//! Towers are saved as safetensors files with [`save_tower`] and read back with
//! [`load_tower`].

mod dense;
mod error;
mod floats;
mod io;
mod kernels;
mod sparse;
mod spec;
mod tower;

pub use dense::{Dense, Relu};
pub use error::{NnError, Result};
pub use floats::{Floats, floats_from, zeroed_floats};
pub use io::{FORMAT_VERSION, SavedTower, load_tower, save_tower};
pub use sparse::{CsrBatch, SparseScratch};
pub use spec::{Init, TowerSpec};
pub use tower::{DEFAULT_SPARSE_THRESHOLD, Input, Tower, Workspace};
