//! Raw pixels as embeddings: the baseline every learned figure is shown beside.

use ndarray::Array2;
use rayon::prelude::*;
use siamese_data::{Dataset, Normalizer};

/// Images per parallel chunk of [`pixel_features`]; fixed, so the work split does not
/// depend on the thread count.
const PIXEL_CHUNK: usize = 1024;

/// Raw pixels as "embeddings" (`p / 255`, one row per image): the baseline that shows what
/// learning added. Any affine pixel normalization with one mean and one deviation for all
/// pixels ranks neighbours the same way, so this one stands for all of them.
pub fn pixel_features(data: &Dataset) -> Array2<f32> {
    let len = data.image_len();
    let mut out = Array2::<f32>::zeros((data.len(), len));
    let unit = Normalizer::unit_range();
    let lut = unit.lut();
    if let Some(slice) = out.as_slice_mut() {
        slice
            .par_chunks_mut(PIXEL_CHUNK * len.max(1))
            .zip(data.images().par_chunks(PIXEL_CHUNK * len.max(1)))
            .for_each(|(dst, src)| {
                for (d, &p) in dst.iter_mut().zip(src) {
                    *d = lut[usize::from(p)];
                }
            });
    }
    out
}
