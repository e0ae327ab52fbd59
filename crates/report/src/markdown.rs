//! `report.md`: the run's figures and tables in one page that reads on its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use siamese_data::{Dataset, Pair};
use siamese_train::EvalReport;

use crate::ReportInputs;
use crate::canvas::DISTINCT_CLASSES;
use crate::figures::{CURVES, DISTANCES, EMBEDDING_MAP, NEIGHBOURS, Neighbours, PAIRS, PairsShown};
use crate::look::Look;

/// The most characters of a class name a table cell shows; longer ones end in an ellipsis.
const NAME_CHARS: usize = 40;

/// What the figures found that the text reports too.
pub(crate) struct Findings<'a> {
    pub pairs: &'a PairsShown,
    pub neighbours: &'a Neighbours,
    pub explained: [f64; 2],
}

/// The whole page.
pub(crate) fn render(run: &ReportInputs, look: Look<'_>, findings: &Findings<'_>) -> String {
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
        ("Images", image_kind(run.data.test.image_shape())),
        ("Seed", s.seed.to_string()),
    ];
    for (what, value) in rows {
        let _ = writeln!(md, "| {what} | {value} |");
    }
    if !run.config.data.exclude_classes.is_empty() {
        let names: Vec<String> = run
            .config
            .data
            .exclude_classes
            .iter()
            .map(|&c| cell(&look.class_name(c)))
            .collect();
        let _ = writeln!(
            md,
            "| Classes left out of training | {} |",
            names.join(", ")
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
         (different classes predicted the same) and {fn_} false negatives (the same class \
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
    let classes = run.data.test.num_classes();
    let _ = writeln!(
        md,
        "The {} test embeddings ({} values each) on their first two principal components, which \
         hold {:.1}% and {:.1}% of the variance; a black dot marks each class's median, labelled \
         with its class{}.",
        run.test_embeddings.nrows(),
        run.test_embeddings.ncols(),
        100.0 * findings.explained[0],
        100.0 * findings.explained[1],
        if classes > DISTINCT_CLASSES {
            format!(" (the first {DISTINCT_CLASSES} of the {classes} classes; the others are grey)")
        } else {
            String::new()
        },
    );
    let (same, all) = findings
        .neighbours
        .agreement(&run.data.test, &run.data.train);
    let _ = writeln!(
        md,
        "\n## Nearest neighbours\n\n![Test images and their nearest training images]({})\n",
        NEIGHBOURS.file
    );
    let which = if findings.neighbours.classes > findings.neighbours.queries.len() {
        format!(
            "of each of the first {} of the {} classes",
            findings.neighbours.queries.len(),
            findings.neighbours.classes
        )
    } else {
        "of each class".to_owned()
    };
    let _ = writeln!(
        md,
        "The first test image {which} and its {} nearest training images by Euclidean \
         distance between embeddings: {same} of the {all} neighbours shown have the query's class.",
        crate::figures::NEIGHBOURS_K,
    );

    let _ = writeln!(md, "\n## Classes\n");
    write_classes(&mut md, run, look);

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

/// One row per class: its images, and how its test pairs (at the run's threshold) were
/// judged, with the class it was most often taken for.
fn write_classes(md: &mut String, run: &ReportInputs, look: Look<'_>) {
    let (train, test) = (&run.data.train, &run.data.test);
    let classes = train.num_classes().max(test.num_classes());
    let judged = PairsByClass::count(
        test,
        &run.data.test_pairs,
        &run.test_distances,
        run.threshold(),
        classes,
    );
    let _ = writeln!(
        md,
        "Test pairs judged right at threshold {:.3}, by the classes of their images; \
         \"taken for\" is the class whose images were most often predicted the same as this \
         class's (false positives).\n\n\
         | Class | Training images | Test images | Same-class pairs judged same | Pairs with \
         another class judged different | Most often taken for |\n|---|---:|---:|---:|---:|---|",
        run.threshold()
    );
    let share = |(right, all): (usize, usize)| {
        if all == 0 {
            "–".to_owned()
        } else {
            format!("{:.1}% of {all}", 100.0 * right as f64 / all as f64)
        }
    };
    let count = |data: &Dataset, class: usize| {
        data.labels()
            .iter()
            .filter(|&&l| l as usize == class)
            .count()
    };
    for class in 0..classes {
        let label = class as u32;
        let mut name = cell(&look.class_name(label));
        if run.config.data.exclude_classes.contains(&label) {
            name.push_str(" (left out of training)");
        }
        let taken_for = judged.confused[class]
            .iter()
            // Most false positives first; ties to the lower label, so reports are stable.
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map_or_else(
                || "–".to_owned(),
                |(&other, &n)| format!("{} ({n})", cell(&look.class_name(other))),
            );
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {taken_for} |",
            count(train, class),
            count(test, class),
            share(judged.same[class]),
            share(judged.different[class]),
        );
    }
}

/// How the test pairs of each class were judged.
struct PairsByClass {
    /// Per class: same-class pairs predicted the same, and such pairs in all.
    same: Vec<(usize, usize)>,
    /// Per class: pairs with another class predicted different, and such pairs in all.
    different: Vec<(usize, usize)>,
    /// Per class: for each other class, the pairs of the two predicted the same.
    confused: Vec<BTreeMap<u32, usize>>,
}

impl PairsByClass {
    fn count(
        test: &Dataset,
        pairs: &[Pair],
        distances: &[f32],
        threshold: f32,
        classes: usize,
    ) -> Self {
        let mut judged = Self {
            same: vec![(0, 0); classes],
            different: vec![(0, 0); classes],
            confused: vec![BTreeMap::new(); classes],
        };
        let label = |i: u32| test.labels().get(i as usize).copied();
        for (pair, &d) in pairs.iter().zip(distances) {
            let (Some(a), Some(b)) = (label(pair.left), label(pair.right)) else {
                continue;
            };
            // As in training's accuracy: similar iff below the threshold (NaN is not).
            let predicted_same = d < threshold;
            if pair.similar {
                if let Some(same) = judged.same.get_mut(a as usize) {
                    same.0 += usize::from(predicted_same);
                    same.1 += 1;
                }
                continue;
            }
            for (this, other) in [(a, b), (b, a)] {
                if let Some(different) = judged.different.get_mut(this as usize) {
                    different.0 += usize::from(!predicted_same);
                    different.1 += 1;
                }
                if predicted_same && let Some(confused) = judged.confused.get_mut(this as usize) {
                    *confused.entry(other).or_default() += 1;
                }
            }
        }
        judged
    }
}

/// `[28, 28]` as "28 × 28, grayscale", `[16, 16, 3]` as "16 × 16, RGB".
fn image_kind(shape: &[usize]) -> String {
    match *shape {
        [h, w] | [h, w, 1] => format!("{h} × {w}, grayscale"),
        [h, w, 3] => format!("{h} × {w}, RGB"),
        ref other => format!("{other:?}"),
    }
}

/// A class name as a table cell: at most [`NAME_CHARS`] characters, and Markdown's
/// special characters escaped, so a folder called `a|b` or `__init__` neither splits the
/// row nor turns bold.
fn cell(name: &str) -> String {
    let mut shown: String = name.chars().take(NAME_CHARS).collect();
    if name.chars().count() > NAME_CHARS {
        shown = format!("{}…", shown.trim_end());
    }
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_escaped_and_shortened_for_tables() {
        assert_eq!(cell("seven"), "seven");
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("__init__"), "\\_\\_init\\_\\_");
        let long = "a very long class name that goes on and on and on";
        let shown = cell(long);
        assert!(shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().count(), NAME_CHARS);
    }

    #[test]
    fn pairs_are_counted_for_both_classes() {
        let test = Dataset::from_parts(vec![0; 4], vec![0, 0, 1, 2], vec![1], 3).unwrap();
        let pair = |left, right, similar| Pair {
            left,
            right,
            similar,
        };
        let pairs = [
            pair(0, 1, true),  // 0-0, judged same: right
            pair(0, 2, false), // 0-1, judged same: a false positive
            pair(1, 3, false), // 0-2, judged different: right
            pair(2, 3, false), // 1-2, NaN: judged different
        ];
        let judged = PairsByClass::count(&test, &pairs, &[0.1, 0.2, 0.9, f32::NAN], 0.5, 3);
        assert_eq!(judged.same, vec![(1, 1), (0, 0), (0, 0)]);
        assert_eq!(judged.different, vec![(1, 2), (1, 2), (2, 2)]);
        assert_eq!(judged.confused[0], BTreeMap::from([(1, 1)]));
        assert_eq!(judged.confused[1], BTreeMap::from([(0, 1)]));
        assert!(judged.confused[2].is_empty());
        assert_eq!(image_kind(&[16, 16, 3]), "16 × 16, RGB");
        assert_eq!(image_kind(&[28, 28]), "28 × 28, grayscale");
    }
}
