//! Reading a tower file allocates what its tensors hold, never what its header claims.

use siamese_alloc_probe::{PeakAlloc, largest_allocation};
use siamese_nn::load_tower;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// A crash input of the `tower_file` fuzz target (out of memory): 130 bytes whose header
/// declares a 65536 → 65535 tower (2^32 − 1 parameters, 16 GiB) and holds no tensors. The
/// reader made the parameter buffer before looking for the tensors.
#[test]
fn fuzz_regression_header_declaring_a_huge_tower_without_tensors_allocates_nothing_big() {
    const HEADER: &str = r#"{"__metadata__":{"siamese.format_version":"1","siamese.tower_spec":"{\"input\":65536,\"hidden\":[],\"embedding\":65535}"}}"#;
    let bytes = [&(HEADER.len() as u64).to_le_bytes()[..], HEADER.as_bytes()].concat();
    assert_eq!(bytes.len(), 130);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.safetensors");
    std::fs::write(&path, &bytes).unwrap();

    let mut result = None;
    let largest = largest_allocation(|| result = Some(load_tower(&path)));
    let err = result.unwrap().unwrap_err().to_string();
    assert!(
        err.contains("huge.safetensors") && err.contains("dense_0.kernel"),
        "{err}"
    );
    assert!(
        largest < 1 << 20,
        "allocated {largest} bytes for a 130-byte file"
    );
}
