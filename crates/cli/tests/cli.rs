//! The `siamese` binary end to end on a small real-data run.

mod common;

use common::{data_dir, siamese, siamese_ok};

use std::path::Path;

#[test]
fn train_then_eval_a_smoke_run() {
    let run = tempfile::tempdir().unwrap();
    let data = data_dir();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.ron");
    let (ok, stdout, stderr) = siamese(&[
        "train",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        run.path().to_str().unwrap(),
        "--epochs",
        "1",
        "--offline",
    ]);
    assert!(ok, "train failed: {stderr}");
    assert!(stdout.contains("test pair accuracy"), "{stdout}");
    // Not a terminal: one plain line per epoch on stderr.
    assert!(stderr.contains("epoch   1: train loss"), "{stderr}");

    let (ok, stdout, stderr) = siamese(&[
        "eval",
        run.path().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "eval failed: {stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.path().join("summary.json")).unwrap())
            .unwrap();
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    // eval recomputes exactly what training reported.
    assert!(
        stdout.contains(&format!("{:.2}%", 100.0 * accuracy)),
        "eval output {stdout} does not show {accuracy}"
    );
}

#[test]
fn data_summarizes_a_directory() {
    let data = data_dir();
    let stdout = siamese_ok(&["data", "--offline", "--data", data.to_str().unwrap()]);
    assert!(stdout.contains("60000 images of [28, 28]"), "{stdout}");
    assert!(
        stdout.contains("5923 6742 5958 6131 5842 5421 5918 6265 5851 5949"),
        "{stdout}"
    );
}

#[test]
fn errors_are_reported_not_panicked() {
    let (ok, _, stderr) = siamese(&["train", "no/such.ron"]);
    assert!(!ok);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("no/such.ron"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let empty = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = siamese(&[
        "data",
        "--offline",
        "--data",
        empty.path().to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(stderr.contains("train-images-idx3-ubyte"), "{stderr}");
}
