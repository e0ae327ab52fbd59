//! Reading `.npy` files allocates what they hold, never what their header claims.

use siamese_alloc_probe::{PeakAlloc, largest_allocation};
use siamese_data::sources::{ImageCollection, ImageSource, LoadOptions};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// A crash input of the `npy_arrays` fuzz target (out of memory): a version-2 header whose
/// 4-byte length field says 3,452,816,653 bytes, in a 192-byte file. `ndarray-npy`
/// allocates the stated length before reading it.
#[test]
fn fuzz_regression_npy_header_length_past_the_end_allocates_nothing_big() {
    let mut bytes = b"\x93NUMPY\x02\x00\x0d\xcd\xcd\xcd".to_vec();
    bytes.resize(192, 0xcd);
    let dir = tempfile::tempdir().unwrap();
    for lying in ["images.npy", "labels.npy"] {
        let (images, labels) = (dir.path().join("images.npy"), dir.path().join("labels.npy"));
        ndarray_npy::write_npy(&images, &ndarray::Array3::<u8>::zeros((2, 2, 2))).unwrap();
        ndarray_npy::write_npy(&labels, &ndarray::Array1::<i64>::zeros(2)).unwrap();
        std::fs::write(dir.path().join(lying), &bytes).unwrap();
        let source = ImageSource::Npy {
            images,
            labels,
            test: None,
        };
        let mut result = None;
        let largest = largest_allocation(|| {
            result = Some(ImageCollection::load(&source, &LoadOptions::default()));
        });
        let err = result.unwrap().unwrap_err().to_string();
        assert!(
            err.contains(lying) && err.contains("past the end of the file"),
            "{err}"
        );
        assert!(largest < 1 << 20, "allocated {largest} bytes for {lying}");
    }
}
