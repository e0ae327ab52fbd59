//! Arbitrary bytes as a pair of NumPy files, `images.npy` and `labels.npy` (the first two
//! bytes say where the images end), through the collection reader, in gray and RGB. Any
//! outcome but a panic is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siamese_data::sources::{Channels, ImageCollection, ImageSource, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((split, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*split)).min(rest.len());
    let (images, labels) = rest.split_at(at);
    let images = siamese_fuzz::scratch_file("images.npy", images);
    let labels = siamese_fuzz::scratch_file("labels.npy", labels);
    for channels in [Channels::Gray, Channels::Rgb] {
        let options = LoadOptions {
            channels,
            image_size: [4, 4],
            ..LoadOptions::default()
        };
        let source = ImageSource::Npy {
            images: images.clone(),
            labels: labels.clone(),
            test: None,
        };
        let _ = ImageCollection::load(&source, &options);
    }
});
