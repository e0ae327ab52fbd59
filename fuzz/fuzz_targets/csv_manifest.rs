//! Arbitrary bytes as a CSV manifest (`path,label[,split]`), through the collection reader,
//! beside two real images it may name (`a.png`, `b.png`) so that rows can get past the
//! file lookup. Any outcome but a panic is fine.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use siamese_data::sources::{ImageCollection, ImageSource, LoadOptions, OnBadImage};

/// A 2×2 gray PNG, written once per process beside the manifest.
fn images_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let dir = siamese_fuzz::scratch_dir();
        let png = image::GrayImage::from_raw(2, 2, vec![0, 64, 128, 255]);
        png.is_some_and(|png| {
            png.save(dir.join("a.png")).is_ok() && png.save(dir.join("b.png")).is_ok()
        })
    })
}

fuzz_target!(|data: &[u8]| {
    if !images_ready() {
        return;
    }
    let manifest = siamese_fuzz::scratch_file("manifest.csv", data);
    for on_bad_image in [OnBadImage::Fail, OnBadImage::Skip] {
        let options = LoadOptions {
            image_size: [2, 2],
            on_bad_image,
            ..LoadOptions::default()
        };
        let _ = ImageCollection::load(&ImageSource::Manifest(manifest.clone()), &options);
    }
});
