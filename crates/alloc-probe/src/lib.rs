//! Test support: [`PeakAlloc`], a global allocator that passes every call to the system
//! allocator and records the largest single allocation of the current thread, so a test
//! can check that a reader never reserves what a lying header claims (even where the OS
//! would lazily grant the memory).
//!
//! ```
//! use siamese_alloc_probe::{PeakAlloc, largest_allocation};
//!
//! #[global_allocator]
//! static ALLOC: PeakAlloc = PeakAlloc;
//!
//! let largest = largest_allocation(|| drop(std::hint::black_box(vec![0u8; 4096])));
//! assert!(largest >= 4096);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, recording the largest single allocation per thread. Install it
/// with `#[global_allocator]` in a test binary, then measure with [`largest_allocation`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PeakAlloc;

thread_local! {
    // Const-initialized and without a destructor, so using it from inside
    // the allocator cannot recurse into the allocator.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

/// The largest single allocation `f` makes on this thread (0 unless [`PeakAlloc`] is the
/// global allocator).
pub fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.with(|m| m.set(0));
    f();
    LARGEST.with(Cell::get)
}

// `unsafe` because `GlobalAlloc` is an unsafe trait (the workspace's other `unsafe` is the
// one call into `gemm` in `siamese-gemm`).
// SAFETY: delegates every call to `System` unchanged; only records sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
