//! Property tests: arbitrary and mutated input never panics the reader or
//! makes it allocate what a lying header claims, and valid arrays of every
//! type round-trip.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::header;
use proptest::prelude::*;
use siamese_alloc_probe::{PeakAlloc, largest_allocation};
use siamese_data::{Compression, Dataset, IdxArray, IdxData};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// No read of a small input may allocate more than this at once (the
/// decoder's own state and I/O buffers are well below it).
const ALLOC_LIMIT: usize = 256 << 10;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Reads both raw and gzipped, exercising dataset validation on success.
/// Any error is fine; a panic fails the property.
fn read_any(bytes: &[u8]) {
    for input in [bytes.to_vec(), gz(bytes)] {
        let start = Instant::now();
        let largest = largest_allocation(|| {
            if let Ok(a) = IdxArray::from_bytes(&input, "prop") {
                let l = a.clone();
                let _ = Dataset::from_idx(a, l, None, "i".as_ref(), "l".as_ref());
            }
            let _ = IdxArray::from_reader(&input[..], "prop");
        });
        assert!(
            largest <= ALLOC_LIMIT,
            "allocated {largest} bytes for a {}-byte input",
            input.len()
        );
        // Reading tiny inputs can only be slow if something allocates or
        // loops according to the header.
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

fn arb_array() -> impl Strategy<Value = IdxArray> {
    let shape = prop::collection::vec(1usize..5, 1..4);
    (shape, 0u8..6, any::<u64>()).prop_map(|(shape, t, seed)| {
        let n: usize = shape.iter().product();
        // Cheap deterministic element values, including negatives and
        // non-integral floats.
        let v = |i: usize| (seed.wrapping_mul(i as u64 + 1) >> 7) as i64 - (1 << 40);
        let data = match t {
            0 => IdxData::U8((0..n).map(|i| v(i) as u8).collect()),
            1 => IdxData::I8((0..n).map(|i| v(i) as i8).collect()),
            2 => IdxData::I16((0..n).map(|i| v(i) as i16).collect()),
            3 => IdxData::I32((0..n).map(|i| v(i) as i32).collect()),
            4 => IdxData::F32((0..n).map(|i| v(i) as f32 / 3.0).collect()),
            _ => IdxData::F64((0..n).map(|i| v(i) as f64 / 7.0).collect()),
        };
        IdxArray::new(shape, data).unwrap()
    })
}

fn encode(a: &IdxArray) -> Vec<u8> {
    let mut v = Vec::new();
    a.write_to(&mut v, Compression::None).unwrap();
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { to: usize },
    Extend { bytes: Vec<u8> },
    SetDim { dim: usize, value: u32 },
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        any::<usize>().prop_map(|to| Mutation::Truncate { to }),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(|bytes| Mutation::Extend { bytes }),
        (
            0usize..4,
            prop_oneof![Just(0u32), Just(u32::MAX), Just(1 << 31), any::<u32>()]
        )
            .prop_map(|(dim, value)| Mutation::SetDim { dim, value }),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::Flip { at, xor } => {
            let i = at % bytes.len();
            bytes[i] ^= xor;
        }
        Mutation::Truncate { to } => bytes.truncate(to % bytes.len()),
        Mutation::Extend { bytes: extra } => bytes.extend_from_slice(extra),
        Mutation::SetDim { dim, value } => {
            let ndims = usize::from(bytes[3]);
            let d = dim % ndims;
            bytes[4 + 4 * d..8 + 4 * d].copy_from_slice(&value.to_be_bytes());
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        read_any(&bytes);
    }

    #[test]
    fn random_headers_never_panic(
        code in prop_oneof![Just(0x08u8), Just(0x09), Just(0x0B), Just(0x0C), Just(0x0D), Just(0x0E), any::<u8>()],
        dims in prop::collection::vec(prop_oneof![0u32..4, Just(u32::MAX), any::<u32>()], 0..20),
        payload in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let mut bytes = header(code, &dims);
        bytes.extend_from_slice(&payload);
        read_any(&bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        a in arb_array(),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
    ) {
        let mut bytes = encode(&a);
        for m in &mutations {
            if bytes.len() < 4 + 4 * usize::from(bytes.get(3).copied().unwrap_or(0)).max(1) {
                break;
            }
            bytes = apply(bytes, m);
        }
        read_any(&bytes);
    }

    #[test]
    fn valid_arrays_round_trip(a in arb_array(), gzip in any::<bool>()) {
        let c = if gzip { Compression::Gzip } else { Compression::None };
        let mut bytes = Vec::new();
        a.write_to(&mut bytes, c).unwrap();
        let b = IdxArray::from_bytes(&bytes, "rt").unwrap();
        // Compare encodings: NaN-free here, but this is exact regardless.
        prop_assert_eq!(encode(&b), encode(&a));
        prop_assert_eq!(b.shape(), a.shape());
    }
}

#[test]
fn huge_claim_over_tiny_input_fails_fast() {
    // 2^31 × 2^2 bytes = 8 GiB claimed (under the cap), 12 bytes present.
    let mut bytes = header(0x08, &[1 << 31, 4]);
    bytes.extend_from_slice(&[0; 12]);
    let start = Instant::now();
    for input in [bytes.clone(), gz(&bytes)] {
        let largest = largest_allocation(|| {
            assert!(IdxArray::from_bytes(&input, "x").is_err());
            assert!(IdxArray::from_reader(&input[..], "x").is_err());
        });
        assert!(largest <= ALLOC_LIMIT, "allocated {largest} bytes");
    }
    assert!(start.elapsed() < Duration::from_millis(500));
}
