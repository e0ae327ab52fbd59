//! `report.md`: the run's figures and tables in one page that reads on its own.

use std::fmt::Write as _;

use siamese_train::EvalReport;

use crate::ReportInputs;
use crate::figures::{CURVES, DISTANCES, EMBEDDING_MAP, NEIGHBOURS, Neighbours, PAIRS, PairsShown};

/// What the figures found that the text reports too.
pub(crate) struct Findings<'a> {
    pub pairs: &'a PairsShown,
    pub neighbours: &'a Neighbours,
    pub explained: [f64; 2],
}

/// The whole page.
pub(crate) fn render(run: &ReportInputs, findings: &Findings<'_>) -> String {
    let s = &run.summary;
    let dir = run.run.path();
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let pct = |x: f64| format!("{:.2}%", 100.0 * x);
    let mut md = String::new();
    // `write!` to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(md, "# Run report: {name}\n");
    let model = &run.config.model;
    let hidden: Vec<String> = model.hidden.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        md,
        "A Siamese tower {} → {} → {} trained for {} epoch{} with the contrastive loss (margin {}); \
         pictures made by `siamese report`.\n",
        run.data.test.image_len(),
        hidden.join(" → "),
        model.embedding,
        s.epochs,
        if s.epochs == 1 { "" } else { "s" },
        run.config.loss.margin,
    );
    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let rows = [
        (
            "Test pair accuracy",
            format!("{} at threshold {:.3}", pct(s.test_accuracy), s.threshold),
        ),
        (
            "Test pair accuracy, tuned threshold",
            format!(
                "{} at threshold {:.3} (validation {})",
                pct(s.test_accuracy_tuned),
                s.tuned_threshold,
                pct(s.val_accuracy_tuned)
            ),
        ),
        ("Test loss", format!("{:.5}", s.test_loss)),
        ("Test pairs", s.test_pairs.to_string()),
        ("Training pairs per epoch", s.train_pairs.to_string()),
        (
            "Training images / test images",
            format!("{} / {}", run.data.train.len(), run.data.test.len()),
        ),
        (
            "Training time",
            format!(
                "{:.1} s ({:.0} pairs/s, {} threads, {} first layer)",
                s.train_seconds, s.pairs_per_second, s.threads, s.first_layer
            ),
        ),
        ("Seed", s.seed.to_string()),
    ];
    for (what, value) in rows {
        let _ = writeln!(md, "| {what} | {value} |");
    }
    if !run.config.data.exclude_classes.is_empty() {
        let _ = writeln!(
            md,
            "| Classes left out of training | {:?} |",
            run.config.data.exclude_classes
        );
    }

    let _ = writeln!(
        md,
        "\n## Learning curves\n\n![Loss and pair accuracy per epoch]({})\n",
        CURVES.file
    );
    let _ = writeln!(
        md,
        "| Epoch | Train loss | Train accuracy | Validation loss | Validation accuracy | Seconds |\n|---:|---:|---:|---:|---:|---:|"
    );
    for m in &run.metrics {
        let _ = writeln!(
            md,
            "| {} | {:.5} | {} | {:.5} | {} | {:.1} |",
            m.epoch,
            m.train_loss,
            pct(m.train_accuracy),
            m.val_loss,
            pct(m.val_accuracy),
            m.seconds
        );
    }

    let threshold = run.threshold();
    let (mut fp, mut fn_) = (0usize, 0usize);
    for (&d, p) in run.test_distances.iter().zip(&run.data.test_pairs) {
        let predicted_same = d < threshold;
        fp += usize::from(predicted_same && !p.similar);
        fn_ += usize::from(!predicted_same && p.similar);
    }
    let _ = writeln!(
        md,
        "\n## Test pairs\n\n![Test pairs with distance, prediction and truth]({})\n",
        PAIRS.file
    );
    let _ = writeln!(
        md,
        "At threshold {threshold:.3}, {} of {} test pairs are misjudged: {fp} false positives \
         (different digits predicted the same) and {fn_} false negatives (the same digit \
         predicted different). The picture shows {} pairs sampled evenly (similar and dissimilar in turn), then the {} closest \
         false positives and the {} farthest false negatives.",
        fp + fn_,
        run.test_distances.len(),
        findings.pairs.sample.len(),
        findings.pairs.false_positives.len(),
        findings.pairs.false_negatives.len(),
    );
    let _ = writeln!(
        md,
        "\n## Distances\n\n![Histograms of test pair distances]({})\n",
        DISTANCES.file
    );
    let _ = writeln!(
        md,
        "Distances of similar and dissimilar test pairs, each as a share of its kind (the \
         translucent bars mix to grey where both kinds fall); the solid line is the threshold \
         {threshold:.3}, the dashed one the threshold tuned on validation ({:.3}).",
        s.tuned_threshold
    );
    let _ = writeln!(
        md,
        "\n## Embedding map\n\n![Test embeddings projected to 2-D]({})\n",
        EMBEDDING_MAP.file
    );
    let _ = writeln!(
        md,
        "The {} test embeddings ({} values each) on their first two principal components, which \
         hold {:.1}% and {:.1}% of the variance; a black dot marks each class's median, labelled \
         with its digit.",
        run.test_embeddings.nrows(),
        run.test_embeddings.ncols(),
        100.0 * findings.explained[0],
        100.0 * findings.explained[1],
    );
    let (same, all) = findings
        .neighbours
        .agreement(&run.data.test, &run.data.train);
    let _ = writeln!(
        md,
        "\n## Nearest neighbours\n\n![Test digits and their nearest training images]({})\n",
        NEIGHBOURS.file
    );
    let _ = writeln!(
        md,
        "The first test image of each class and its {} nearest training images by Euclidean \
         distance between embeddings: {same} of the {all} neighbours shown have the query's label.",
        crate::figures::NEIGHBOURS_K,
    );

    let _ = writeln!(md, "\n## Evaluation\n");
    match &run.eval {
        Some(eval) => write_evaluation(&mut md, eval, &run.run.eval_path().display().to_string()),
        None => {
            let _ = writeln!(
                md,
                "No `eval.json` in the run directory yet: `siamese eval {}` (or `cargo xtask eval`) \
                 writes it (ROC AUC, k-NN accuracy, MAP@R); run `siamese report` again afterwards \
                 to include it here.",
                dir.display()
            );
        }
    }
    md
}

/// The figures of `eval.json`, each learned one beside its raw-pixel baseline.
fn write_evaluation(md: &mut String, e: &EvalReport, path: &str) {
    let pct = |x: f64| format!("{:.2}%", 100.0 * x);
    let num = |x: f64| format!("{x:.4}");
    let raw = |x: Option<f64>, f: &dyn Fn(f64) -> String| x.map_or_else(String::new, f);
    let _ = writeln!(
        md,
        "From `{path}`: {} test pairs; k-NN of {} test images against {} training images; \
         retrieval (precision@1, R-precision, MAP@R) of each test image among the others; \
         distance: {}. Raw pixels are the same figures with `p / 255` pixels as the \
         embedding.\n\n\
         | Figure | Learned | Raw pixels |\n|---|---:|---:|",
        e.test_pairs,
        e.test_images,
        e.index_images,
        if e.distance.is_empty() {
            "euclidean"
        } else {
            &e.distance
        }
    );
    let rows = [
        (
            format!("pair accuracy (threshold {:.3})", e.threshold),
            pct(e.pair_accuracy),
            String::new(),
        ),
        (
            format!("pair accuracy (tuned threshold {:.3})", e.tuned_threshold),
            pct(e.pair_accuracy_tuned),
            String::new(),
        ),
        (
            "test loss".into(),
            format!("{:.5}", e.test_loss),
            String::new(),
        ),
        ("ROC AUC".into(), num(e.roc_auc), String::new()),
        ("equal error rate".into(), pct(e.eer), String::new()),
        (
            "1-NN accuracy".into(),
            pct(e.knn1_accuracy),
            raw(e.raw_knn1_accuracy, &pct),
        ),
        (
            "5-NN accuracy".into(),
            pct(e.knn5_accuracy),
            raw(e.raw_knn5_accuracy, &pct),
        ),
        (
            "precision@1".into(),
            num(e.precision_at_1),
            raw(e.raw_precision_at_1, &num),
        ),
        (
            "R-precision".into(),
            num(e.r_precision),
            raw(e.raw_r_precision, &num),
        ),
        ("MAP@R".into(), num(e.map_at_r), raw(e.raw_map_at_r, &num)),
    ];
    for (figure, learned, raw) in rows {
        let _ = writeln!(md, "| {figure} | {learned} | {raw} |");
    }
}
