//! Queries by image file through the real binary: `search --image`, `embed --images`,
//! `anomaly --image`, and `data import` then `data`, on a run trained on a folder of PNGs.

mod common;

use std::path::{Path, PathBuf};

use common::{data_dir, siamese, siamese_ok};
use image::{GrayImage, Rgb, RgbImage};
use siamese_data::Mnist;

/// Class folder names: words, so that printing them shows names were used, not labels.
const WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// Writes the first `n` MNIST test digits as `root/<word>/<i>.png`.
fn write_collection(root: &Path, n: usize) -> Mnist {
    let mnist = Mnist::load(data_dir()).unwrap();
    for i in 0..n {
        let dir = root.join(WORDS[mnist.test.label(i) as usize]);
        std::fs::create_dir_all(&dir).unwrap();
        GrayImage::from_raw(28, 28, mnist.test.image(i).to_vec())
            .unwrap()
            .save(dir.join(format!("{i:04}.png")))
            .unwrap();
    }
    mnist
}

/// A second-long run on the collection: one epoch of a small tower.
fn config(collection: &Path, run: &Path, cache: &Path) -> String {
    format!(
        r#"(
    data: (
        source: Folder({collection:?}),
        cache_dir: Some({cache:?}),
        validation: Holdout(count: 40, from: Last),
    ),
    model: (hidden: [32], embedding: 8),
    loss: (margin: 1.0),
    optimizer: (lr: 0.001),
    training: (epochs: 1, batch_size: 32, pairs: Classic, seed: 7, threads: 2),
    output: (dir: {run:?}),
)"#
    )
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The class word of a collection file: its folder's name.
fn class_of(path: &str) -> &str {
    Path::new(path)
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap()
}

#[test]
fn image_files_are_searched_embedded_and_scored_against_a_folder_run() {
    let tmp = tempfile::tempdir().unwrap();
    let collection = tmp.path().join("digits");
    let mnist = write_collection(&collection, 300);
    let run = tmp.path().join("run");
    let config_path = tmp.path().join("digits.ron");
    std::fs::write(
        &config_path,
        config(&collection, &run, &tmp.path().join("cache")),
    )
    .unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let run_dir = s(&run);
    siamese_ok(&["train", &s(&config_path), "--offline"]);

    // A test image's neighbours come with class names and the files they came from.
    let out = siamese_ok(&["search", &run_dir, "--query", "0", "-k", "3"]);
    assert!(out.contains("rank") && out.contains("source"), "{out}");
    let results = json(&run.join("search.json"));
    let query = &results["queries"][0];
    let class = query["class"].as_str().unwrap();
    assert!(WORDS.contains(&class), "{query}");
    let label = &query["label"];
    assert!(
        out.contains(&format!("query 0 (label {label}, {class}): ")),
        "{out}"
    );
    assert!(Path::new(query["source"].as_str().unwrap()).is_file());
    let top = &query["neighbors"][0];
    let train_image = top["source"].as_str().unwrap().to_owned();
    assert!(Path::new(&train_image).is_file(), "{top}");
    assert_eq!(top["class"], class_of(&train_image));

    // A training image's nearest training image is itself, at distance 0.
    let found = tmp.path().join("found.json");
    let out = siamese_ok(&[
        "search",
        &run_dir,
        "--image",
        &train_image,
        "-k",
        "5",
        "--json",
        &s(&found),
    ]);
    println!("{out}");
    assert!(out.contains(&format!("query 0: {train_image}")), "{out}");
    assert!(out.contains(class_of(&train_image)), "{out}");
    let results = json(&found);
    let query = &results["queries"][0];
    assert_eq!(query["source"], train_image.as_str());
    let hits = query["neighbors"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0]["source"], train_image.as_str());
    assert!(hits[0]["distance"].as_f64().unwrap() < 1e-3, "{}", hits[0]);
    for (rank, hit) in hits.iter().enumerate() {
        assert_eq!(hit["rank"], rank + 1);
        let source = hit["source"].as_str().unwrap();
        assert!(Path::new(source).is_file(), "{hit}");
        assert_eq!(hit["class"], class_of(source), "{hit}");
    }

    // An RGB 32×32 picture is converted for the gray 28×28 tower as training would.
    let digit = GrayImage::from_raw(28, 28, mnist.test.image(400).to_vec()).unwrap();
    let big = image::imageops::resize(&digit, 32, 32, image::imageops::FilterType::Triangle);
    let rgb = RgbImage::from_fn(32, 32, |x, y| {
        let v = big.get_pixel(x, y).0[0];
        Rgb([v, v / 2, v])
    });
    let rgb_path = tmp.path().join("colour.png");
    rgb.save(&rgb_path).unwrap();
    let out = siamese_ok(&["search", &run_dir, "--image", &s(&rgb_path), "-k", "2"]);
    assert!(out.contains("colour.png"), "{out}");

    // A corrupt query is an error naming the file, not a panic.
    let bad = tmp.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let (ok, _, stderr) = siamese(&["search", &run_dir, "--image", &s(&bad)]);
    assert!(!ok);
    assert!(
        stderr.starts_with("error: ") && stderr.contains(&s(&bad)) && stderr.contains("decode"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let missing = tmp.path().join("nothere.png");
    let (ok, _, stderr) = siamese(&["search", &run_dir, "--image", &s(&missing)]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{}: file not found", s(&missing))),
        "{stderr}"
    );

    // embed: a folder (recursively) and a file, one row and one path each.
    let emb = tmp.path().join("emb");
    let zero: Vec<PathBuf> = std::fs::read_dir(collection.join("zero"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let out = siamese_ok(&[
        "embed",
        &run_dir,
        "--images",
        &s(&collection.join("zero")),
        &s(&rgb_path),
        "--out",
        &s(&emb),
    ]);
    let rows = zero.len() + 1;
    assert!(out.contains(&format!("embedded {rows} images")), "{out}");
    let array: ndarray::Array2<f32> = ndarray_npy::read_npy(emb.join("embeddings.npy")).unwrap();
    assert_eq!(array.dim(), (rows, 8));
    let paths = std::fs::read_to_string(emb.join("paths.txt")).unwrap();
    let paths: Vec<&str> = paths.lines().collect();
    assert_eq!(paths.len(), rows);
    assert_eq!(paths[rows - 1], s(&rgb_path));
    assert!(paths[..rows - 1].iter().all(|p| class_of(p) == "zero"));
    // By default beside the run's other embeddings.
    siamese_ok(&["embed", &run_dir, "--images", &train_image]);
    assert!(run.join("embeddings/images/paths.txt").is_file());

    // anomaly: a score and its percentile among the test images.
    let out = siamese_ok(&["anomaly", &run_dir, "--image", &train_image, &s(&rgb_path)]);
    println!("{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&train_image))
        .unwrap_or_else(|| panic!("{out}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((words[1], words[3]), ("score", "percentile"), "{line}");
    let score: f64 = words[2].parse().unwrap();
    let percentile: f64 = words[4].parse().unwrap();
    assert!(score >= 0.0, "{line}");
    assert!((0.0..=100.0).contains(&percentile), "{line}");
}

#[test]
fn imported_collections_are_summarized_with_their_class_names() {
    let tmp = tempfile::tempdir().unwrap();
    let collection = tmp.path().join("digits");
    write_collection(&collection, 100);
    std::fs::write(collection.join("zero/notes.txt"), "not an image").unwrap();
    std::fs::write(collection.join("one/bad.png"), "not a png").unwrap();
    let idx = tmp.path().join("idx");
    let s = |p: &Path| p.to_str().unwrap().to_owned();

    // Fails on the bad image by default, naming it; skips it when asked.
    let (ok, _, stderr) = siamese(&["data", "import", &s(&collection), "--out", &s(&idx)]);
    assert!(!ok && stderr.contains("bad.png"), "{stderr}");
    let out = siamese_ok(&[
        "data",
        "import",
        &s(&collection),
        "--out",
        &s(&idx),
        "--on-bad-image",
        "skip",
        "--test-fraction",
        "0.25",
        "--size",
        "14",
        "14",
    ]);
    println!("{out}");
    assert!(out.contains("imported 100 images"), "{out}");
    assert!(
        out.contains("skipped 1 image:") && out.contains("bad.png"),
        "{out}"
    );
    assert!(out.contains("ignored 1 files"), "{out}");
    assert!(out.contains("seven"), "{out}");

    let out = siamese_ok(&["data", "--offline", &s(&idx)]);
    assert!(out.contains("images of [14, 14]"), "{out}");
    assert!(
        out.contains("classes: eight, five, four, nine, one, seven, six, three, two, zero"),
        "{out}"
    );
    let origins = std::fs::read_to_string(idx.join("train-origins.txt")).unwrap();
    assert!(origins.lines().all(|l| Path::new(l).is_file()), "{origins}");
}
