//! Turning a list of image indices into the tower's input, for the training step and for
//! embedding alike.

use siamese_data::{Dataset, Normalizer};
use siamese_nn::CsrBatch;

use crate::{Result, TrainError};

/// Appends the non-zero pixels of the images at `indices` to `csr`, one row each, after
/// clearing it. Zero pixels must map to zero (see [`Normalizer::maps_zero_to_zero`]).
pub(crate) fn gather_sparse(
    normalizer: &Normalizer,
    data: &Dataset,
    indices: impl IntoIterator<Item = usize>,
    csr: &mut CsrBatch,
) {
    let images = indices.into_iter().map(|i| data.image(i));
    csr.refill_from_codes(data.image_len(), images, normalizer.lut());
}

/// Reads a byte of every cache line of the images at `indices`, so that all their lines
/// are in flight at once. A minibatch's images are scattered over the training set (47 MB
/// for MNIST), and compacted one after another each image waited on memory in turn: the
/// gather of a parity step took twice as long as the same compaction of images in cache.
pub(crate) fn fetch_images(data: &Dataset, indices: impl IntoIterator<Item = usize>) {
    const LINE: usize = 64;
    let mut touched = 0u8;
    for i in indices {
        if let Some(image) = data.get_image(i) {
            for &byte in image.iter().step_by(LINE).chain(image.last()) {
                touched ^= byte;
            }
        }
    }
    std::hint::black_box(touched);
}

/// The first `rows × cols` values of a reused buffer as a matrix.
pub(crate) fn view(
    buffer: &[f32],
    rows: usize,
    cols: usize,
) -> Result<ndarray::ArrayView2<'_, f32>> {
    ndarray::ArrayView2::from_shape((rows, cols), buffer)
        .map_err(|e| TrainError::Internal(format!("batch buffer: {e}")))
}

/// The non-zero features of images given as raw pixels (`image_len` each, back to back),
/// one CSR row per image, after clearing `csr`.
pub(crate) fn pixels_to_sparse(
    normalizer: &Normalizer,
    pixels: &[u8],
    image_len: usize,
    csr: &mut CsrBatch,
) {
    csr.refill_from_codes(image_len, pixels.chunks_exact(image_len), normalizer.lut());
}
