//! `siamese embed`, `search`, `eval` and `anomaly` end to end on a small real-data run.

mod common;

use common::{data_dir, siamese_ok};

use std::path::Path;

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn in_unit(v: &serde_json::Value, key: &str) -> f64 {
    let x = v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"));
    assert!((0.0..=1.0).contains(&x), "{key} = {x}");
    x
}

/// One smoke run (1 epoch, 4,000 training images, digit 9 left out) serves every command.
#[test]
fn embed_search_eval_and_anomaly_on_a_smoke_run() {
    let run = tempfile::tempdir().unwrap();
    let run_dir = run.path().to_str().unwrap();
    let data = data_dir();
    let data = data.to_str().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The smoke config with digit 9 left out of training, as configs/novelty.ron does.
    let config = std::fs::read_to_string(root.join("configs/smoke.ron"))
        .unwrap()
        .replace(
            "validation: Holdout(count: 500, from: Last),",
            "validation: Holdout(count: 500, from: Last),\n        exclude_classes: [9],",
        );
    assert!(config.contains("exclude_classes: [9]"));
    let config_path = run.path().join("smoke-novelty.ron");
    std::fs::write(&config_path, config).unwrap();
    siamese_ok(&[
        "train",
        config_path.to_str().unwrap(),
        "--data",
        data,
        "--out",
        run_dir,
        "--epochs",
        "1",
        "--offline",
    ]);

    // embed: .npy and Projector files with one row per test image.
    let out = run.path().join("emb");
    let stdout = siamese_ok(&[
        "embed",
        run_dir,
        "--split",
        "test",
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("embedded 1000 test images into 32 dimensions"),
        "{stdout}"
    );
    let emb: ndarray::Array2<f32> = ndarray_npy::read_npy(out.join("test_embeddings.npy")).unwrap();
    assert_eq!(emb.dim(), (1000, 32));
    let labels: ndarray::Array1<u32> = ndarray_npy::read_npy(out.join("test_labels.npy")).unwrap();
    assert_eq!(labels.len(), 1000);
    let vectors = std::fs::read_to_string(out.join("test_vectors.tsv")).unwrap();
    assert_eq!(vectors.lines().count(), 1000);
    assert!(vectors.lines().all(|l| l.split('\t').count() == 32));
    let meta = std::fs::read_to_string(out.join("test_metadata.tsv")).unwrap();
    assert_eq!(meta.lines().next(), Some("index\tlabel"));
    assert_eq!(meta.lines().count(), 1001);

    // search: builds and saves the index, a table and JSON; the second time loads it.
    let stdout = siamese_ok(&[
        "search", run_dir, "--query", "0..20", "-k", "4", "--data", data,
    ]);
    assert!(stdout.contains("query 0 (label 7)"), "{stdout}");
    assert!(run.path().join("index.safetensors").exists());
    let results = json(&run.path().join("search.json"));
    assert_eq!(results["index_images"], 4000);
    let queries = results["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 20);
    let first = queries[0]["neighbors"].as_array().unwrap();
    assert_eq!(first.len(), 4);
    let d: Vec<f64> = first
        .iter()
        .map(|n| n["distance"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    let again = siamese_ok(&["search", run_dir, "--query", "5", "--data", data]);
    assert!(again.contains("query 5"), "{again}");

    // eval: every figure in range, raw pixels beside the learned ones.
    let stdout = siamese_ok(&["eval", run_dir, "--data", data]);
    assert!(stdout.contains("MAP@R"), "{stdout}");
    let eval = json(&run.path().join("eval.json"));
    for key in [
        "pair_accuracy",
        "pair_accuracy_tuned",
        "roc_auc",
        "eer",
        "knn1_accuracy",
        "knn5_accuracy",
        "precision_at_1",
        "r_precision",
        "map_at_r",
        "raw_knn1_accuracy",
        "raw_knn5_accuracy",
        "raw_map_at_r",
    ] {
        in_unit(&eval, key);
    }
    // Even one epoch on 3,600 images separates pairs far better than chance, and raw
    // pixels classify MNIST digits well by 1-NN.
    assert!(in_unit(&eval, "roc_auc") > 0.6, "{eval}");
    assert!(in_unit(&eval, "raw_knn1_accuracy") > 0.8, "{eval}");
    assert_eq!(eval["test_images"], 1000);
    // Precision@1 over the test set is its own leave-one-out 1-NN: not above 1, not 0.
    assert!(in_unit(&eval, "precision_at_1") > 0.1);

    // anomaly: the held-out class from the run's config, AUROCs learned and raw.
    let stdout = siamese_ok(&["anomaly", run_dir, "-k", "3", "--data", data]);
    assert!(stdout.contains("9 (held out)"), "{stdout}");
    let anomaly = json(&run.path().join("anomaly.json"));
    assert_eq!(anomaly["held_out_classes"], serde_json::json!([9]));
    assert_eq!(anomaly["k"], 3);
    in_unit(&anomaly, "auroc");
    in_unit(&anomaly, "raw_auroc");
    assert!(anomaly["novel_images"].as_u64().unwrap() > 50);
}
