//! Arbitrary bytes as one image file of a class folder, through the collection reader
//! (`ImageCollection::load`): any decoder the extension or content picks, the size and
//! channel conversion, and both bad-image policies. The first byte chooses the options.
//! Any outcome but a panic is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siamese_data::sources::{
    Channels, ImageCollection, ImageSource, LoadOptions, OnBadImage, TestSplit,
};

/// Extensions the folder reader takes as images: the decoder is picked by content, but a
/// file named otherwise is ignored.
const NAMES: [&str; 6] = ["x.png", "x.jpg", "x.bmp", "x.gif", "x.tiff", "x.webp"];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let root = siamese_fuzz::scratch_dir().join("folder");
    let class = root.join("class");
    let _ = std::fs::remove_dir_all(&root);
    if std::fs::create_dir_all(&class).is_err() {
        return;
    }
    let name = NAMES[usize::from(choice) % NAMES.len()];
    if std::fs::write(class.join(name), bytes).is_err() {
        return;
    }
    let options = LoadOptions {
        channels: if choice & 0x10 == 0 {
            Channels::Gray
        } else {
            Channels::Rgb
        },
        image_size: if choice & 0x20 == 0 {
            [28, 28]
        } else {
            [7, 13]
        },
        on_bad_image: if choice & 0x40 == 0 {
            OnBadImage::Fail
        } else {
            OnBadImage::Skip
        },
        test_split: TestSplit {
            fraction: 0.0,
            seed: 0,
        },
        cache_dir: None,
    };
    let _ = ImageCollection::load(&ImageSource::Folder(root), &options);
});
