//! Float buffers that start on a cache line.

/// A growable buffer of `f32` whose first element starts on a cache line (128 bytes on
/// x86-64), for parameters, gradients and activations.
///
/// The kernels read and write 64-byte vectors at offsets that are multiples of 16 floats
/// from a buffer's start. From a plain `Vec`, which the allocator aligns to 16 bytes only,
/// most of those vectors straddle two cache lines: on a Zen 4 the sparse first-layer
/// kernels then took 1.4–1.6× as long (`benches/README.md`, "Aligned buffers").
///
/// ```
/// let weights = siamese_nn::floats_from(&[1.0, 2.0, 3.0]);
/// assert_eq!(weights.as_ptr().align_offset(64), 0);
/// assert_eq!(&weights[..], &[1.0, 2.0, 3.0]);
/// assert_eq!(siamese_nn::zeroed_floats(4).len(), 4);
/// ```
pub type Floats = aligned_vec::AVec<f32>;

/// `len` zeros, cache-line aligned.
pub fn zeroed_floats(len: usize) -> Floats {
    aligned_vec::avec![0.0; len]
}

/// A cache-line-aligned copy of `values`.
pub fn floats_from(values: &[f32]) -> Floats {
    // The alignment argument is ignored for the default compile-time alignment.
    Floats::from_slice(0, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_start_on_a_cache_line_whatever_their_length() {
        for len in [0, 1, 15, 16, 17, 1000, 1 << 20] {
            let zeros = zeroed_floats(len);
            assert_eq!(zeros.len(), len);
            assert!(zeros.iter().all(|&v| v == 0.0));
            let values: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let copy = floats_from(&values);
            assert_eq!(&copy[..], &values[..]);
            if len > 0 {
                assert_eq!(zeros.as_ptr().align_offset(64), 0, "zeros of {len}");
                assert_eq!(copy.as_ptr().align_offset(64), 0, "copy of {len}");
                assert_eq!(copy.clone().as_ptr().align_offset(64), 0, "clone of {len}");
            }
        }
    }
}
