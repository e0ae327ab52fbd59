//! `cargo xtask quality`: what the embeddings of each shipped config are worth.
//!
//! Trains every selected config on MNIST and on Fashion-MNIST with the release CLI, runs
//! `siamese eval` on each run and writes one table of the figures (`quality.md`) and all of
//! them machine-readable (`quality.json`). With `--novelty`, also trains the novelty config
//! once per class with that class left out and reports `siamese anomaly`'s AUROC.
//!
//! Like `bench`, it reads the run files as plain JSON, so that xtask links none of the
//! library crates and keeps building while they change.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::{Failure, Result, absolute, describe, status, target_dir, workspace_root};

mod machine;
mod markdown;
mod options;

pub(crate) use machine::{cpu, git_commit, now_utc};
use markdown::{fixed4, markdown, percent, seconds};
pub(crate) use options::data_dir;
use options::{default_configs, named_config, parse};

/// Configs that `configs/*.ron` holds but the default selection leaves out: `smoke` is a
/// seconds-long test, `keras-parity` a speed workload with the recipe of `tutorial`, and
/// `novelty` has its own part (`--novelty`).
const NOT_BY_DEFAULT: [&str; 3] = ["smoke", "keras-parity", "novelty"];

/// Worker threads per run unless `--threads` says otherwise: the project's reference
/// machines have 2 cores, so the figures stay comparable with the README's.
const DEFAULT_THREADS: usize = 2;

/// The classes `--novelty` leaves out, one per run: both data sets have ten.
const CLASSES: u32 = 10;

/// The four files of the MNIST layout; each may also be gzipped.
const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Fields copied from a run's `summary.json` into quality.json.
const SUMMARY_FIELDS: [&str; 5] = [
    "test_accuracy",
    "test_accuracy_tuned",
    "train_seconds",
    "epochs",
    "image_passes",
];

/// Fields copied from a run's `eval.json` into quality.json.
const EVAL_FIELDS: [&str; 12] = [
    "pair_accuracy",
    "pair_accuracy_tuned",
    "roc_auc",
    "knn1_accuracy",
    "knn5_accuracy",
    "precision_at_1",
    "map_at_r",
    "raw_knn1_accuracy",
    "raw_knn5_accuracy",
    "raw_precision_at_1",
    "raw_map_at_r",
    "distance",
];

/// The raw-pixel baseline figures of `eval.json`: they depend on the data alone.
const RAW_FIELDS: [&str; 4] = [
    "raw_knn1_accuracy",
    "raw_knn5_accuracy",
    "raw_precision_at_1",
    "raw_map_at_r",
];

/// A data set in the MNIST layout that `--datasets` (and `bench --data`) can name.
pub(crate) struct Dataset {
    /// Name on the command line and in run-directory names.
    pub(crate) name: &'static str,
    /// Name in the tables.
    pub(crate) title: &'static str,
    /// Default directory, relative to the workspace root.
    default_dir: &'static str,
    /// Environment variable that overrides the directory.
    env: &'static str,
}

pub(crate) const DATASETS: [Dataset; 2] = [
    Dataset {
        name: "mnist",
        title: "MNIST",
        default_dir: "../shared/data/mnist",
        env: "SIAMESE_MNIST_DIR",
    },
    Dataset {
        name: "fashion",
        title: "Fashion-MNIST",
        default_dir: "../shared/data/fashion-mnist",
        env: "SIAMESE_FASHION_DIR",
    },
];

/// The command line of `cargo xtask quality`, parsed.
struct Options {
    /// Config names (`configs/<name>.ron`); `None` for the default selection.
    configs: Option<Vec<String>>,
    /// Data sets in the order given; `None` for both.
    datasets: Option<Vec<&'static Dataset>>,
    /// The config `--novelty` trains, when it was asked for.
    novelty: Option<String>,
    threads: usize,
    out: Option<PathBuf>,
}

pub(crate) fn quality(args: &[OsString]) -> Result {
    let options = parse(args)?;
    let root = workspace_root()?;
    // Everything is checked before the first (long) build and run, so that a typo fails in
    // a second rather than after an hour of training.
    let configs = match options.configs {
        Some(names) => names
            .into_iter()
            .map(|name| named_config(&root, &name))
            .collect::<Result<Vec<_>>>()?,
        None => default_configs(&root)?,
    };
    let novelty = options
        .novelty
        .map(|name| named_config(&root, &name))
        .transpose()?;
    let datasets = options
        .datasets
        .unwrap_or_else(|| DATASETS.iter().collect())
        .into_iter()
        .map(|dataset| data_dir(&root, dataset).map(|dir| (dataset, dir)))
        .collect::<Result<Vec<_>>>()?;
    let out = match options.out {
        Some(dir) => absolute(&dir)?,
        None => target_dir(&root)?.join("quality"),
    };
    fs::create_dir_all(&out).map_err(|e| Failure::new(format!("{}: {e}", out.display())))?;

    let novelty_runs = if novelty.is_some() { CLASSES } else { 0 };
    let mut runner = Runner {
        siamese: build_cli(&root)?,
        threads: options.threads.to_string(),
        done: 0,
        total: datasets.len() * (configs.len() + novelty_runs as usize),
    };
    let mut results = Vec::new();
    for (dataset, data) in &datasets {
        let mut runs = Vec::new();
        for (name, config) in &configs {
            runs.push(config_run(&mut runner, name, config, dataset, data, &out)?);
        }
        let mut result = json!({
            "name": dataset.name,
            "title": dataset.title,
            "data_dir": path_text(data),
            "raw_pixels": raw_pixels(&runs),
            "runs": runs,
        });
        if let Some((name, config)) = &novelty {
            result["novelty"] = novelty_run(&mut runner, name, config, dataset, data, &out)?;
        }
        results.push(result);
    }

    let (date, unix_seconds) = now_utc();
    let report = json!({
        "date": date,
        "unix_seconds": unix_seconds,
        "commit": git_commit(&root),
        "cpu": cpu(),
        "threads": options.threads,
        "datasets": results,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(e.to_string()))?;
    let json_path = out.join("quality.json");
    write_file(&json_path, &format!("{text}\n"))?;
    let markdown = markdown(&report);
    let md_path = out.join("quality.md");
    write_file(&md_path, &markdown)?;
    println!("\n{markdown}");
    println!(
        "xtask quality: wrote {} and {}",
        md_path.display(),
        json_path.display()
    );
    Ok(())
}

/// Runs the release CLI for every run of the task, numbering them for the progress lines.
struct Runner {
    siamese: PathBuf,
    threads: String,
    done: usize,
    total: usize,
}

impl Runner {
    /// `[n/total]` of the run that starts now.
    fn next(&mut self) -> String {
        self.done += 1;
        format!("[{}/{}]", self.done, self.total)
    }

    /// `siamese train`, offline (the data directories were checked), optionally with one
    /// class left out.
    fn train(&self, config: &Path, data: &Path, run_dir: &Path, exclude: Option<u32>) -> Result {
        let mut cmd = Command::new(&self.siamese);
        cmd.arg("train")
            .arg(config)
            .arg("--data")
            .arg(data)
            .arg("--out")
            .arg(run_dir)
            .arg("--offline")
            .args(["--threads", &self.threads]);
        if let Some(class) = exclude {
            cmd.args(["--exclude-classes", &class.to_string()]);
        }
        run_siamese(&mut cmd, "train")
    }

    /// `siamese eval` or `siamese anomaly` of a trained run, on the data it was trained on:
    /// without `--data`, a `SIAMESE_DATA_DIR` in the environment would beat the directory
    /// recorded in the run's config.
    fn inspect(&self, subcommand: &str, run_dir: &Path, data: &Path) -> Result {
        let mut cmd = Command::new(&self.siamese);
        cmd.arg(subcommand).arg(run_dir).arg("--data").arg(data);
        run_siamese(&mut cmd, subcommand)
    }
}

/// Trains and evaluates one config on one data set into `OUT/<config>-<data set>`; returns
/// its record for quality.json.
fn config_run(
    runner: &mut Runner,
    name: &str,
    config: &Path,
    dataset: &Dataset,
    data: &Path,
    out: &Path,
) -> Result<Value> {
    let step = runner.next();
    let title = dataset.title;
    let run_dir = out.join(format!("{name}-{}", dataset.name));
    println!(
        "\nxtask quality: {step} {name} on {title}: training into {}",
        run_dir.display()
    );
    runner.train(config, data, &run_dir, None)?;
    println!("xtask quality: {step} {name} on {title}: eval");
    runner.inspect("eval", &run_dir, data)?;
    let summary = read_json(&run_dir.join("summary.json"))?;
    let eval = read_json(&run_dir.join("eval.json"))?;
    println!(
        "xtask quality: {step} {name} on {title}: pair accuracy {} (tuned {}), 1-NN {}, \
         MAP@R {}, {} s of training",
        percent(&eval["pair_accuracy"]),
        percent(&eval["pair_accuracy_tuned"]),
        percent(&eval["knn1_accuracy"]),
        fixed4(&eval["map_at_r"]),
        seconds(&summary["train_seconds"]),
    );
    Ok(json!({
        "config": name,
        "config_file": path_text(config),
        "run_dir": path_text(&run_dir),
        "summary": pick(&summary, &SUMMARY_FIELDS),
        "eval": pick(&eval, &EVAL_FIELDS),
    }))
}

/// Trains the novelty config once per class with that class left out, into
/// `OUT/novelty-<data set>-<class>`, and runs `siamese anomaly` on each; returns the
/// per-class AUROCs and their means for quality.json.
fn novelty_run(
    runner: &mut Runner,
    name: &str,
    config: &Path,
    dataset: &Dataset,
    data: &Path,
    out: &Path,
) -> Result<Value> {
    let title = dataset.title;
    let mut classes = Vec::new();
    for class in 0..CLASSES {
        let step = runner.next();
        let run_dir = out.join(format!("novelty-{}-{class}", dataset.name));
        println!(
            "\nxtask quality: {step} novelty on {title}: {name} without class {class}, into {}",
            run_dir.display()
        );
        runner.train(config, data, &run_dir, Some(class))?;
        runner.inspect("anomaly", &run_dir, data)?;
        let anomaly = read_json(&run_dir.join("anomaly.json"))?;
        println!(
            "xtask quality: {step} novelty on {title}, class {class} unseen: AUROC {} (raw \
             pixels {})",
            fixed4(&anomaly["auroc"]),
            fixed4(&anomaly["raw_auroc"]),
        );
        classes.push(json!({
            "class": class,
            "run_dir": path_text(&run_dir),
            "auroc": anomaly["auroc"],
            "raw_auroc": anomaly["raw_auroc"],
        }));
    }
    Ok(json!({
        "config": name,
        "config_file": path_text(config),
        "mean_auroc": mean(&classes, "auroc"),
        "mean_raw_auroc": mean(&classes, "raw_auroc"),
        "classes": classes,
    }))
}

/// Builds the release CLI and returns the path of the binary.
fn build_cli(root: &Path) -> Result<PathBuf> {
    let shown = "cargo build --release -p siamese-cli";
    println!("xtask quality: {shown}");
    crate::bench::build(root, &["-p", "siamese-cli"])?;
    let binary = target_dir(root)?
        .join("release")
        .join(format!("siamese{}", env::consts::EXE_SUFFIX));
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(Failure::new(format!(
            "{shown} succeeded but {} does not exist",
            binary.display()
        )))
    }
}

/// Runs one `siamese` subcommand with its output passed through; a failure stops the task.
fn run_siamese(cmd: &mut Command, subcommand: &str) -> Result {
    let shown = format!("siamese {subcommand}");
    let ran = status(cmd, &shown)?;
    if ran.success() {
        Ok(())
    } else {
        Err(Failure::new(format!("{shown} failed ({})", describe(ran))))
    }
}

/// A path as text for quality.json (lossy only for paths that are not UTF-8).
fn path_text(path: &Path) -> String {
    path.display().to_string()
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        fs::read_to_string(path).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

/// The named fields of a JSON object; a missing one (e.g. `image_passes` in files of older
/// builds) becomes null, so every record has the same keys.
fn pick(object: &Value, fields: &[&str]) -> Value {
    let picked: Map<String, Value> = fields
        .iter()
        .map(|&field| (field.to_owned(), object[field].clone()))
        .collect();
    Value::Object(picked)
}

/// The raw-pixel figures of the first run that has them: they do not depend on the config,
/// so one run's are every run's.
fn raw_pixels(runs: &[Value]) -> Value {
    runs.iter()
        .find(|run| !run["eval"]["raw_knn1_accuracy"].is_null())
        .map_or(Value::Null, |run| {
            let mut raw = pick(&run["eval"], &RAW_FIELDS);
            raw["from_run"] = run["run_dir"].clone();
            raw
        })
}

/// The mean of a field over records; null when any record lacks it.
fn mean(records: &[Value], field: &str) -> Value {
    let values: Option<Vec<f64>> = records.iter().map(|r| r[field].as_f64()).collect();
    match values {
        Some(values) if !values.is_empty() => {
            json!(values.iter().sum::<f64>() / values.len() as f64)
        }
        _ => Value::Null,
    }
}

/// Writes `path` atomically with the workspace's one atomic writer.
fn write_file(path: &Path, text: &str) -> Result {
    siamese_io::write_atomically(path, text.as_bytes()).map_err(|e| Failure::new(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::machine::civil_from_days;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }
}
