//! Arbitrary bytes as a run's `checkpoint.safetensors`, read and checked the way
//! `siamese train --resume` reads it. Any outcome but a panic is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siamese_train::RunDir;

fuzz_target!(|data: &[u8]| {
    let run = RunDir::new(siamese_fuzz::scratch_dir());
    std::fs::write(run.checkpoint_path(), data).expect("cannot write the scratch checkpoint");
    let _ = run.read_checkpoint_info();
});
