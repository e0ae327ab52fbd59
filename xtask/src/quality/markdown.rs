//! `quality.md`, made from the JSON report alone so that both files always agree.

use std::fmt::Write as _;

use serde_json::Value;

use super::CLASSES;

/// The Markdown page of a `quality.json` report.
pub(super) fn markdown(report: &Value) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "unknown".to_owned(),
        other => other.to_string(),
    };
    let cpu = &report["cpu"];
    let mut md = String::from("# Embedding quality\n\n");
    let _ = writeln!(
        md,
        "`cargo xtask quality`, {}, commit {}, {} (family {}), {} threads.\n",
        text(&report["date"]),
        text(&report["commit"]),
        text(&cpu["model_name"]),
        text(&cpu["family"]),
        report["threads"],
    );
    md.push_str(
        "Test set figures of `siamese eval`: pair accuracy at the config's threshold (in \
         brackets: at the threshold tuned on validation), ROC AUC of the test pairs, k-NN \
         accuracy, precision@1 and MAP@R of the test images among the training embeddings. \
         *train s* is training wall time, *image passes* the images through the tower in \
         training. The raw-pixel row searches the pixels themselves.\n",
    );

    let datasets = report["datasets"].as_array().map_or(&[][..], Vec::as_slice);
    for dataset in datasets {
        let _ = writeln!(
            md,
            "\n## {}\n\n| config | pair acc (tuned) | ROC AUC | 1-NN | 5-NN | P@1 | MAP@R | train s | image passes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            text(&dataset["title"])
        );
        for run in dataset["runs"].as_array().into_iter().flatten() {
            let (s, e) = (&run["summary"], &run["eval"]);
            let _ = writeln!(
                md,
                "| {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
                text(&run["config"]),
                percent(&e["pair_accuracy"]),
                percent(&e["pair_accuracy_tuned"]),
                fixed4(&e["roc_auc"]),
                percent(&e["knn1_accuracy"]),
                percent(&e["knn5_accuracy"]),
                fixed4(&e["precision_at_1"]),
                fixed4(&e["map_at_r"]),
                seconds(&s["train_seconds"]),
                thousands(&s["image_passes"]),
            );
        }
        let raw = &dataset["raw_pixels"];
        let _ = writeln!(
            md,
            "| raw pixels | – | – | {} | {} | {} | {} | – | – |",
            percent(&raw["raw_knn1_accuracy"]),
            percent(&raw["raw_knn5_accuracy"]),
            fixed4(&raw["raw_precision_at_1"]),
            fixed4(&raw["raw_map_at_r"]),
        );
    }

    // One novelty table, a pair of columns per data set, so the data sets sit side by side.
    let novelty: Vec<&Value> = datasets
        .iter()
        .filter(|d| !d["novelty"].is_null())
        .collect();
    if let Some(first) = novelty.first() {
        let _ = writeln!(
            md,
            "\n## Novelty detection\n\n`configs/{}.ron` trained ten times, each time with one \
             class left out (`--exclude-classes`); `siamese anomaly` AUROC of that class \
             against the nine seen ones, learned embeddings vs raw pixels.\n",
            text(&first["novelty"]["config"])
        );
        let mut header = String::from("| class left out |");
        let mut rule = String::from("|---|");
        for dataset in &novelty {
            let title = text(&dataset["title"]);
            let _ = write!(header, " {title} learned | {title} raw pixels |");
            rule.push_str("---:|---:|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for class in 0..CLASSES as usize {
            let _ = write!(md, "| {class} |");
            for dataset in &novelty {
                let record = &dataset["novelty"]["classes"][class];
                let _ = write!(
                    md,
                    " {} | {} |",
                    fixed4(&record["auroc"]),
                    fixed4(&record["raw_auroc"])
                );
            }
            md.push('\n');
        }
        md.push_str("| mean |");
        for dataset in &novelty {
            let _ = write!(
                md,
                " {} | {} |",
                fixed4(&dataset["novelty"]["mean_auroc"]),
                fixed4(&dataset["novelty"]["mean_raw_auroc"])
            );
        }
        md.push('\n');
    }
    md
}

/// A fraction as a percentage with 2 decimals; a dash when missing.
pub(super) fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{:.2}%", 100.0 * v))
}

/// A figure in 0..=1 (AUC, P@1, MAP@R) with 4 decimals; a dash when missing.
pub(super) fn fixed4(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.4}"))
}

pub(super) fn seconds(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

/// An integer with thousands separators (`1,084,000`), as the README writes counts.
pub(super) fn thousands(v: &Value) -> String {
    let Some(n) = v.as_u64() else {
        return "–".to_owned();
    };
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts() {
        assert_eq!(thousands(&json!(0)), "0");
        assert_eq!(thousands(&json!(108_400)), "108,400");
        assert_eq!(thousands(&json!(1_084_000)), "1,084,000");
        assert_eq!(thousands(&Value::Null), "–");
    }
}
