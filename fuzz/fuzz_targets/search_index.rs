//! Arbitrary bytes as a search index (`index.safetensors` or `siamese search --index`),
//! through `Index::load`; an index that loads small enough is then searched, by itself and
//! by a zero query. Any outcome but a panic is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::Array2;
use siamese_eval::Index;

/// Indexes past this many values load but are not searched (leave-one-out is quadratic).
const MAX_VALUES: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let path = siamese_fuzz::scratch_file("index.safetensors", data);
    let Ok(index) = Index::load(&path) else {
        return;
    };
    if index.len().saturating_mul(index.dim().max(1)) > MAX_VALUES {
        return;
    }
    let _ = index.search_self(3);
    let _ = index.search(Array2::zeros((1, index.dim())).view(), 3);
});
