//! Arbitrary bytes, raw or gzipped, through the IDX reader and the dataset
//! builder: any outcome but a panic, a crash or a huge allocation is fine.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use siamese_data::{Compression, Dataset, IdxArray};

fuzz_target!(|data: &[u8]| {
    let Ok(array) = IdxArray::from_bytes(data, "fuzz") else {
        return;
    };
    // Whatever parses must survive a write/read round trip unchanged.
    let mut bytes = Vec::new();
    if array.write_to(&mut bytes, Compression::None).is_ok() {
        let again = IdxArray::from_bytes(&bytes, "fuzz-roundtrip");
        let mut bytes_again = Vec::new();
        let ok = again.is_ok_and(|a| a.write_to(&mut bytes_again, Compression::None).is_ok());
        assert!(
            ok && bytes_again == bytes,
            "write/read round trip changed the array"
        );
    }
    // Use the array as both images and labels to exercise the validation.
    let labels = array.clone();
    let _ = Dataset::from_idx(array, labels, None, Path::new("i"), Path::new("l"));
});
