//! Writes a seed corpus for every fuzz target into `DIR/<target>/`, each input made by the
//! project's own writers, so that the fuzzer starts from files that parse and mutates its
//! way into their corners: the shipped `configs/*.ron`, IDX files (raw and gzipped), and the
//! tower, checkpoint and search index of a real (tiny) training run on synthetic 6×6
//! images. Nothing here is committed as a binary; `cargo xtask fuzz` runs this first.
//!
//! Usage: `cargo run --manifest-path fuzz/Cargo.toml --example seeds -- DIR`

use std::error::Error;
use std::path::{Path, PathBuf};

use siamese_data::{Compression, IdxArray, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use siamese_eval::{Split, build_index, load_split};
use siamese_train::{Config, Normalization, RunDir, RunOptions, Silent, Validation};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Side of the synthetic square images: small, so every seed is a few KB at most.
const SIDE: usize = 6;
const CLASSES: usize = 3;

fn main() -> Result {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        return Err("usage: seeds DIR".into());
    };
    let out = PathBuf::from(out);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = tempfile::tempdir()?;

    let data = work.path().join("data");
    std::fs::create_dir_all(&data)?;
    write_split(&data, TRAIN_IMAGES, TRAIN_LABELS, 48, 1)?;
    write_split(&data, TEST_IMAGES, TEST_LABELS, 12, 2)?;

    let idx = target_dir(&out, "idx_reader")?;
    std::fs::copy(data.join(TRAIN_LABELS), idx.join("labels.idx"))?;
    std::fs::copy(data.join(TEST_IMAGES), idx.join("images.idx"))?;
    images(12, 3)?.save(idx.join("images.idx.gz"), Compression::Gzip)?;

    let configs = target_dir(&out, "ron_config")?;
    for entry in std::fs::read_dir(repo.join("configs"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "ron")
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, configs.join(name))?;
        }
    }

    let config = tiny_config(&repo, &data, &work.path().join("run"))?;
    siamese_train::train(&config, &RunOptions::default(), &mut Silent)?;
    let run = RunDir::new(&config.output.dir);
    let model = run.read_model()?;
    build_index(&model, &load_split(&config, Split::Train)?)?.save(&run.index_path())?;
    for (target, file) in [
        ("tower_file", run.tower_path()),
        ("checkpoint_file", run.checkpoint_path()),
        ("search_index", run.index_path()),
    ] {
        let name = file.file_name().ok_or("run file without a name")?;
        std::fs::copy(&file, target_dir(&out, target)?.join(name))?;
    }
    image_seeds(&out, &data)?;
    println!("seeds written to {}", out.display());
    Ok(())
}

/// `DIR/<target>`, created.
fn target_dir(out: &Path, target: &str) -> Result<PathBuf> {
    let dir = out.join(target);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `count` images, each its class's pattern plus a little deterministic noise.
fn images(count: usize, seed: u32) -> Result<IdxArray> {
    let mut state = seed.wrapping_mul(2_654_435_761);
    let mut pixels = Vec::with_capacity(count * SIDE * SIDE);
    for i in 0..count {
        let class = i % CLASSES;
        for p in 0..SIDE * SIDE {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let lit = (p / SIDE + p % SIDE) % CLASSES == class;
            let noise = (state >> 27) as u8;
            pixels.push(if lit { 200 + noise } else { noise / 4 });
        }
    }
    Ok(IdxArray::new(vec![count, SIDE, SIDE], pixels)?)
}

/// Writes a split of `count` images and their labels (class `i % CLASSES`), raw.
fn write_split(
    dir: &Path,
    images_name: &str,
    labels_name: &str,
    count: usize,
    seed: u32,
) -> Result {
    images(count, seed)?.save(dir.join(images_name), Compression::None)?;
    let labels: Vec<u8> = (0..count).map(|i| (i % CLASSES) as u8).collect();
    IdxArray::new(vec![count], labels)?.save(dir.join(labels_name), Compression::None)?;
    Ok(())
}

/// `configs/smoke.ron` shrunk to the synthetic data: one epoch of a tiny tower, with
/// standardized pixels and unit-length embeddings so that the tower file's header carries
/// every key it can.
fn tiny_config(repo: &Path, data: &Path, out: &Path) -> Result<Config> {
    let mut config = Config::load(&repo.join("configs").join("smoke.ron"))?;
    config.data.dir = data.to_owned();
    config.data.train_limit = None;
    config.data.test_limit = None;
    config.data.validation = match config.data.validation {
        Validation::Holdout { from, .. } => Validation::Holdout { count: 6, from },
        Validation::TestSet => Validation::TestSet,
    };
    config.data.normalization = Normalization::Standardize;
    config.model.hidden = vec![8];
    config.model.embedding = 4;
    config.model.normalize = true;
    config.training.epochs = 1;
    config.training.batch_size = 8;
    config.training.shard_pairs = 4;
    config.training.threads = 1;
    config.output.dir = out.to_owned();
    config.validate()?;
    Ok(config)
}

/// Seeds of the collection readers: the first test image in each image format (after the
/// byte the `image_file` target reads its options from), a manifest naming the two images
/// the `csv_manifest` target writes, and the test images and labels as `.npy` files (after
/// the two bytes that say where the images end).
fn image_seeds(out: &Path, data: &Path) -> Result {
    let test = siamese_data::Dataset::load(&data.join(TEST_IMAGES), &data.join(TEST_LABELS), None)?;
    let side = SIDE as u32;
    let gray = image::GrayImage::from_raw(side, side, test.image(0).to_vec())
        .ok_or("image of the wrong size")?;
    let dir = target_dir(out, "image_file")?;
    for (choice, format) in [
        (0u8, image::ImageFormat::Png),
        (0x31, image::ImageFormat::Png),
    ] {
        let mut bytes = std::io::Cursor::new(vec![choice]);
        bytes.set_position(1);
        gray.write_to(&mut bytes, format)?;
        std::fs::write(dir.join(format!("seed-{choice}.png")), bytes.into_inner())?;
    }
    std::fs::write(
        target_dir(out, "csv_manifest")?.join("manifest.csv"),
        "path,label,split\na.png,cat,train\nb.png,dog,train\na.png,cat,test\nb.png,dog,test\n",
    )?;
    let n = test.len();
    let images = ndarray::Array3::from_shape_vec((n, SIDE, SIDE), test.images().to_vec())?;
    let labels = ndarray::Array1::from_iter((0..n).map(|i| i64::from(test.label(i))));
    let work = tempfile::tempdir()?;
    ndarray_npy::write_npy(work.path().join("i.npy"), &images)?;
    ndarray_npy::write_npy(work.path().join("l.npy"), &labels)?;
    let images = std::fs::read(work.path().join("i.npy"))?;
    let mut seed = u16::try_from(images.len())?.to_le_bytes().to_vec();
    seed.extend_from_slice(&images);
    seed.extend_from_slice(&std::fs::read(work.path().join("l.npy"))?);
    std::fs::write(target_dir(out, "npy_arrays")?.join("seed.bin"), seed)?;
    Ok(())
}
