//! `report.md`: the run's figures and tables in one page that reads on its own.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::figures::{CURVES, DISTANCES, EMBEDDING_MAP, NEIGHBOURS, Neighbours, PAIRS, PairsShown};
use crate::{Result, Run};

/// File name of the evaluation written by `siamese eval`.
const EVAL_JSON: &str = siamese_eval::files::EVAL;

/// What the figures found that the text reports too.
pub(crate) struct Findings<'a> {
    pub pairs: &'a PairsShown,
    pub neighbours: &'a Neighbours,
    pub explained: [f64; 2],
}

/// The whole page. `eval` is `eval.json`, when the run has one.
pub(crate) fn render(run: &Run, findings: &Findings<'_>, eval: Option<&Value>) -> Result<String> {
    let s = &run.summary;
    let name = run.dir.file_name().map_or_else(
        || run.dir.display().to_string(),
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
    match eval {
        Some(value) => {
            let _ = writeln!(
                md,
                "From `{EVAL_JSON}`; where it has a `raw_` twin (the same figure on raw pixels \
                 instead of embeddings), both are shown:\n\n| Figure | Value | Raw pixels |\n|---|---:|---:|"
            );
            for (key, value, raw) in eval_rows(value) {
                let _ = writeln!(md, "| {key} | {value} | {} |", raw.unwrap_or_default());
            }
        }
        None => {
            let _ = writeln!(
                md,
                "No `{EVAL_JSON}` in the run directory yet: `siamese eval {}` (or `cargo xtask eval`) \
                 writes it (ROC AUC, k-NN accuracy, MAP@R); run `siamese report` again afterwards \
                 to include it here.",
                run.dir.display()
            );
        }
    }
    Ok(md)
}

/// Reads `eval.json` from `dir` if it is there and parses.
///
/// # Errors
/// A file that exists but cannot be read or is not JSON.
pub(crate) fn read_eval(dir: &Path) -> Result<Option<Value>> {
    let path = dir.join(EVAL_JSON);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| crate::ReportError::Json { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(crate::ReportError::Read { path, source }),
    }
}

/// `(figure, value, raw-pixel value)` rows of `eval.json`: every scalar, with the `raw_`
/// figures moved beside the figure they are the baseline of.
fn eval_rows(value: &Value) -> Vec<(String, String, Option<String>)> {
    let mut flat = Vec::new();
    flatten("", value, &mut flat);
    let raw = |key: &str| {
        flat.iter()
            .find(|(k, _)| k.strip_prefix("raw_") == Some(key))
            .map(|(_, v)| v.clone())
    };
    flat.iter()
        .filter(|(k, _)| {
            !k.strip_prefix("raw_")
                .is_some_and(|twin| flat.iter().any(|(k, _)| k == twin))
        })
        .map(|(k, v)| (k.clone(), v.clone(), raw(k)))
        .collect()
}

/// Table rows for the scalars of a JSON value, keys joined with dots; long arrays are
/// summarized by their length so a per-class list does not drown the table.
fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(k), v, rows);
            }
        }
        Value::Array(items) if items.len() <= 12 && items.iter().all(|v| !v.is_object()) => {
            let shown: Vec<String> = items.iter().map(scalar).collect();
            rows.push((prefix.to_string(), shown.join(", ")));
        }
        Value::Array(items) => {
            rows.push((prefix.to_string(), format!("({} entries)", items.len())));
        }
        other => rows.push((prefix.to_string(), scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("{x:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_figures_sit_beside_their_twins() {
        let value: Value =
            serde_json::from_str(r#"{"map": 0.9, "raw_map": 0.3, "raw_only": 1, "k": 5}"#).unwrap();
        let rows = eval_rows(&value);
        assert!(rows.contains(&("map".into(), "0.9000".into(), Some("0.3000".into()))));
        assert!(rows.contains(&("raw_only".into(), "1".into(), None)));
        assert!(rows.contains(&("k".into(), "5".into(), None)));
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn flattens_nested_json_into_rows() {
        let value: Value = serde_json::from_str(
            r#"{"auc": 0.98765, "knn": {"k": 5, "accuracy": 0.9}, "per_class": [1, 2], "big": [1,2,3,4,5,6,7,8,9,10,11,12,13], "name": "x"}"#,
        )
        .unwrap();
        let mut rows = Vec::new();
        flatten("", &value, &mut rows);
        let rows: std::collections::BTreeMap<_, _> = rows.into_iter().collect();
        assert_eq!(rows["auc"], "0.9877");
        assert_eq!(rows["knn.k"], "5");
        assert_eq!(rows["knn.accuracy"], "0.9000");
        assert_eq!(rows["per_class"], "1, 2");
        assert_eq!(rows["big"], "(13 entries)");
        assert_eq!(rows["name"], "x");
    }
}
