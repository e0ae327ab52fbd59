//! `siamese report` end to end on a small real-data run.

mod common;

use common::siamese_ok;

use std::path::Path;

#[test]
fn report_draws_every_picture_of_a_smoke_run() {
    let run = tempfile::tempdir().unwrap();
    let run_dir = run.path().to_str().unwrap();
    let data = common::data_dir();
    let data = data.to_str().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.ron");
    let config = config.to_str().unwrap();
    siamese_ok(&[
        "train",
        config,
        "--epochs",
        "1",
        "--out",
        run_dir,
        "--data",
        data,
        "--offline",
    ]);

    let stdout = siamese_ok(&["report", run_dir, "--data", data]);
    for figure in siamese_report::FIGURES {
        let path = run.path().join(figure.file);
        assert!(stdout.contains(figure.file), "{stdout}");
        let picture = image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8();
        assert_eq!(picture.dimensions(), figure.size, "{}", figure.file);
        // Something was drawn: a blank canvas (or one black box) fails this.
        let pixels = picture.pixels().count();
        let inked = picture.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(
            inked * 100 > pixels && inked * 2 < pixels,
            "{}: {inked} of {pixels} pixels not white",
            figure.file
        );
    }

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.path().join("summary.json")).unwrap())
            .unwrap();
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    let report = std::fs::read_to_string(run.path().join(siamese_report::REPORT_MD)).unwrap();
    assert!(
        report.contains(&format!("{:.2}%", 100.0 * accuracy)),
        "report.md does not show the test accuracy {accuracy}:\n{report}"
    );
    for figure in siamese_report::FIGURES {
        assert!(
            report.contains(&format!("]({})", figure.file)),
            "{}",
            figure.file
        );
    }
    assert!(
        report.contains("siamese eval"),
        "no hint how to get eval.json"
    );
    // MNIST's IDX files name no class: the per-class table shows the digits.
    for digit in 0..10 {
        assert!(
            report.contains(&format!("\n| {digit} | ")),
            "no row for {digit}"
        );
    }

    // After `siamese eval`, the report shows its figures, learned beside raw pixels.
    siamese_ok(&["eval", run_dir, "--data", data]);
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.path().join("eval.json")).unwrap())
            .unwrap();
    let figure = |key: &str| eval[key].as_f64().unwrap();
    siamese_ok(&["report", run_dir, "--data", data]);
    let report = std::fs::read_to_string(run.path().join(siamese_report::REPORT_MD)).unwrap();
    let row = format!("| ROC AUC | {:.4} |  |", figure("roc_auc"));
    assert!(report.contains(&row), "no `{row}` in\n{report}");
    let row = format!(
        "| MAP@R | {:.4} | {:.4} |",
        figure("map_at_r"),
        figure("raw_map_at_r")
    );
    assert!(report.contains(&row), "no `{row}` in\n{report}");
    assert!(!report.contains("siamese eval"), "{report}");
}
