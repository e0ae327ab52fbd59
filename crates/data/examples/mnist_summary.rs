//! Loads an MNIST-layout directory and prints what is in it.
//!
//! Usage: `cargo run -p siamese-data --example mnist_summary [DIR]`; without
//! `DIR`, uses `SIAMESE_DATA_DIR` or else `data/mnist`.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use siamese_data::{
    Dataset, Mnist, Normalizer, classic_pairs, default_data_dir, epoch_seed, random_pairs,
};

fn describe(name: &str, ds: &Dataset) {
    println!(
        "{name}: {} images of shape {:?} ({} pixels), {} classes",
        ds.len(),
        ds.image_shape(),
        ds.image_len(),
        ds.num_classes()
    );
    println!("  class counts: {:?}", ds.class_counts());
}

fn run() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(default_data_dir);
    let start = Instant::now();
    let mnist = Mnist::load(&dir)?;
    println!(
        "loaded {} in {:.3} s",
        dir.display(),
        start.elapsed().as_secs_f64()
    );
    describe("train", &mnist.train);
    describe("test", &mnist.test);

    let norm = Normalizer::standardize_from(&mnist.train);
    println!(
        "training pixels /255: mean {:.5}, std {:.5}",
        norm.mean(),
        norm.std()
    );

    let seed = 42;
    let classic = classic_pairs(mnist.train.labels(), mnist.train.num_classes(), seed)?;
    println!(
        "classic pairs (train): {} (1 = similar, 0 = dissimilar)",
        classic.len()
    );
    for p in &classic[..4] {
        println!(
            "  {:>5} (label {}) - {:>5} (label {}): target {}",
            p.left,
            mnist.train.label(p.left as usize),
            p.right,
            mnist.train.label(p.right as usize),
            p.target()
        );
    }
    for epoch in 0..2 {
        let pairs = random_pairs(
            mnist.train.labels(),
            mnist.train.num_classes(),
            3,
            0.5,
            epoch_seed(seed, epoch),
        )?;
        println!("random pairs, epoch {epoch}: {pairs:?}");
    }
    Ok(())
}

fn main() -> ExitCode {
    // Print errors with Display: the library's messages are written for users.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
