//! Arbitrary bytes as `tower.safetensors`, through `TrainedModel::load`; a tower that loads
//! small enough to run then embeds a blank and a white image (the sparse and the dense
//! first layer). Any outcome but a panic is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siamese_train::TrainedModel;

/// Towers past these sizes load but are not run: an input is a few KB, so only a header
/// that declares a huge image could get there, and embedding it would time out, not crash.
const MAX_IMAGE_LEN: usize = 1 << 14;
const MAX_PARAMS: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let path = siamese_fuzz::scratch_file("tower.safetensors", data);
    let Ok(model) = TrainedModel::load(&path) else {
        return;
    };
    let _ = model.fingerprint();
    let image_len = model.image_len();
    if image_len > MAX_IMAGE_LEN || model.params().len() > MAX_PARAMS {
        return;
    }
    let _ = model.embed_images(&vec![0; image_len], image_len);
    let _ = model.embed_images(&vec![255; image_len], image_len);
});
