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
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::{Failure, Result, absolute, cargo, describe, status, target_dir, workspace_root};

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

/// A data set in the MNIST layout that `--datasets` can name.
struct Dataset {
    /// Name on the command line and in run-directory names.
    name: &'static str,
    /// Name in the tables.
    title: &'static str,
    /// Default directory, relative to the workspace root.
    default_dir: &'static str,
    /// Environment variable that overrides the directory.
    env: &'static str,
}

const DATASETS: [Dataset; 2] = [
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
    write_atomic(&json_path, &format!("{text}\n"))?;
    let markdown = markdown(&report);
    let md_path = out.join("quality.md");
    write_atomic(&md_path, &markdown)?;
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

fn parse(args: &[OsString]) -> Result<Options> {
    let mut options = Options {
        configs: None,
        datasets: None,
        novelty: None,
        threads: DEFAULT_THREADS,
        out: None,
    };
    let mut novelty = false;
    let mut novelty_config = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let flag = arg.to_str().unwrap_or_default();
        // Every flag but `--novelty` takes a value.
        let mut value = || {
            iter.next()
                .and_then(|v| v.to_str())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Failure::usage(format!("`{flag}` needs a value")))
        };
        match flag {
            "--configs" => options.configs = Some(list(value()?)),
            "--datasets" => {
                let datasets = list(value()?)
                    .iter()
                    .map(|name| {
                        DATASETS.iter().find(|d| d.name == name).ok_or_else(|| {
                            Failure::usage(format!(
                                "unknown data set `{name}` (known: mnist, fashion)"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                options.datasets = Some(datasets);
            }
            "--novelty" => novelty = true,
            "--novelty-config" => novelty_config = Some(value()?.to_owned()),
            "--threads" => {
                options.threads = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| Failure::usage("`--threads` takes a positive number"))?;
            }
            "--out" => options.out = Some(PathBuf::from(value()?)),
            _ => return Err(Failure::usage(format!("`quality` does not take {arg:?}"))),
        }
    }
    options.novelty = match (novelty, novelty_config) {
        (true, config) => Some(config.unwrap_or_else(|| "novelty".to_owned())),
        (false, None) => None,
        (false, Some(_)) => {
            return Err(Failure::usage("`--novelty-config` needs `--novelty`"));
        }
    };
    if options.configs.as_ref().is_some_and(Vec::is_empty) {
        return Err(Failure::usage("`--configs` needs at least one config"));
    }
    if options.datasets.as_ref().is_some_and(Vec::is_empty) {
        return Err(Failure::usage("`--datasets` needs at least one data set"));
    }
    Ok(options)
}

/// A comma-separated list, blanks dropped.
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The name and path of `configs/<name>.ron`, which must exist; `name` may carry the `.ron`.
fn named_config(root: &Path, name: &str) -> Result<(String, PathBuf)> {
    let name = name.strip_suffix(".ron").unwrap_or(name);
    let path = root.join("configs").join(format!("{name}.ron"));
    if path.is_file() {
        Ok((name.to_owned(), path))
    } else {
        Err(Failure::usage(format!(
            "no config `{name}`: {} does not exist",
            path.display()
        )))
    }
}

/// Every `configs/*.ron` but those of [`NOT_BY_DEFAULT`], sorted by name.
fn default_configs(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = root.join("configs");
    let entries =
        fs::read_dir(&dir).map_err(|e| Failure::new(format!("{}: {e}", dir.display())))?;
    let mut configs = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Failure::new(format!("{}: {e}", dir.display())))?
            .path();
        let name = match (path.extension(), path.file_stem().and_then(|s| s.to_str())) {
            (Some(ext), Some(name)) if ext == "ron" => name.to_owned(),
            _ => continue,
        };
        if !NOT_BY_DEFAULT.contains(&name.as_str()) {
            configs.push((name, path));
        }
    }
    configs.sort();
    if configs.is_empty() {
        return Err(Failure::new(format!(
            "no configs to train in {}",
            dir.display()
        )));
    }
    Ok(configs)
}

/// The data set's directory: its environment variable, else the default beside the
/// workspace. It must hold the four IDX files, since the runs are `--offline`.
fn data_dir(root: &Path, dataset: &Dataset) -> Result<PathBuf> {
    let (dir, from) = match env::var_os(dataset.env).filter(|v| !v.is_empty()) {
        Some(dir) => (absolute(Path::new(&dir))?, format!("${}", dataset.env)),
        None => (
            root.join(dataset.default_dir),
            format!("the default; set {} to use another", dataset.env),
        ),
    };
    if !dir.is_dir() {
        return Err(Failure::new(format!(
            "{} data directory {} ({from}) does not exist",
            dataset.title,
            dir.display()
        )));
    }
    let missing: Vec<&str> = IDX_FILES
        .into_iter()
        .filter(|name| !dir.join(name).is_file() && !dir.join(format!("{name}.gz")).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(Failure::new(format!(
            "{} data directory {} ({from}) lacks {} (raw or .gz); the runs do not download",
            dataset.title,
            dir.display(),
            missing.join(", ")
        )));
    }
    // Canonical, so that quality.json names the directory without `..`.
    fs::canonicalize(&dir).map_err(|e| Failure::new(format!("{}: {e}", dir.display())))
}

/// Builds the release CLI and returns the path of the binary.
fn build_cli(root: &Path) -> Result<PathBuf> {
    let shown = "cargo build --release -p siamese-cli";
    println!("xtask quality: {shown}");
    let mut cmd = cargo();
    cmd.args(["build", "--release", "-p", "siamese-cli", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    let built = status(&mut cmd, shown)?;
    if !built.success() {
        return Err(Failure::new(format!(
            "{shown} failed ({})",
            describe(built)
        )));
    }
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

/// The short commit of HEAD, when this is a git checkout and git is installed.
fn git_commit(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

/// The CPU's model name and family from /proc/cpuinfo (the first core's); nulls elsewhere.
fn cpu() -> Value {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == key).then(|| value.trim().to_owned())
        })
    };
    // The family is a number in /proc/cpuinfo; kept as one so that it compares as one.
    let family = field("cpu family").map(|f| f.parse::<u64>().map_or(json!(f), |n| json!(n)));
    json!({
        "model_name": field("model name"),
        "family": family,
    })
}

/// Now as an ISO 8601 UTC date-time and as seconds since the Unix epoch.
fn now_utc() -> (String, u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days(secs / 86_400);
    let time = secs % 86_400;
    let date = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    );
    (date, secs)
}

/// The (year, month, day) of a count of days since 1970-01-01: Howard Hinnant's
/// `civil_from_days`, here because std has no calendar and a dependency for one date is
/// not worth it. Days are counted in 400-year eras of 146,097 days, with years starting on
/// 1 March so that the leap day falls at the end.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153; // month counted from March
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// Writes `path` through a temporary file in the same directory and a rename, so a reader
/// sees the old file or the new one, never half of one.
fn write_atomic(path: &Path, text: &str) -> Result {
    let name = path
        .file_name()
        .map_or_else(|| "quality".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(&tmp, path));
    renamed.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Failure::new(format!("{}: {e}", path.display()))
    })
}

/// quality.md, made from the JSON report alone so that both files always agree.
fn markdown(report: &Value) -> String {
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
fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{:.2}%", 100.0 * v))
}

/// A figure in 0..=1 (AUC, P@1, MAP@R) with 4 decimals; a dash when missing.
fn fixed4(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.4}"))
}

fn seconds(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

/// An integer with thousands separators (`1,084,000`), as the README writes counts.
fn thousands(v: &Value) -> String {
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

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }

    #[test]
    fn counts() {
        assert_eq!(thousands(&json!(0)), "0");
        assert_eq!(thousands(&json!(108_400)), "108,400");
        assert_eq!(thousands(&json!(1_084_000)), "1,084,000");
        assert_eq!(thousands(&Value::Null), "–");
    }
}
