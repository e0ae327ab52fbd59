//! Arbitrary bytes as a RON config, through what `siamese train` does with its config file:
//! parse and validate, apply the (here empty) command-line overrides, then the round trip
//! of the run directory (`config.ron` written, and read again by eval, search and resume).
//! Any outcome but a panic is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siamese_train::{Config, Overrides};

fuzz_target!(|data: &[u8]| {
    // `Config::load` reads the file with `read_to_string`: non-UTF-8 never gets further.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut config) = Config::from_ron_str(text, "fuzz.ron") else {
        return;
    };
    if config.apply(&Overrides::default()).is_err() {
        return;
    }
    let _ = config.loss.threshold();
    if let Ok(written) = config.to_ron_string() {
        let _ = Config::from_ron_str(&written, "fuzz-roundtrip.ron");
    }
});
