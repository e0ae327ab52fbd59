//! `cargo xtask bench`: the end-to-end speed measurement of the parity workload.
//!
//! Trains `configs/keras-parity.ron` with the release build, measures this machine's sgemm
//! peak at the training shapes (the faster of matrixmultiply and the trainer's `gemm`
//! kernel, see `benches/sgemm_peak.rs`) and writes `target/bench/bench.json`, with the CPU
//! (model name, family, vector extensions detected at run time) the figures were taken on.
//! With `--reference`, also runs the JAX (`JAX_SCAN=1`) and PyTorch references of
//! `../shared/reference` when their virtualenvs exist, and puts their medians and the ratios
//! beside ours. `--data fashion` runs the same workload on Fashion-MNIST (ours and the
//! references alike), where the sparse first layer has fewer zeros to skip. `--sweep`
//! trains a grid of shapes instead (see [`crate::sweep`]), and `--search` times embedding
//! and exact search beside FAISS and PyTorch (see [`search`]).

mod search;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::quality::{DATASETS, Dataset, data_dir};
use crate::{Failure, Result, cargo, describe, run_to_success, target_dir, workspace_root};

/// Matrix-product FLOPs of one epoch of the parity workload on MNIST (108,400 pairs),
/// forward and backward, counted densely as the reference implementations count them.
const GFLOP_PER_EPOCH: f64 = 561.22;

/// Classic pairs in an MNIST epoch; other data sets scale [`GFLOP_PER_EPOCH`] by their count.
const MNIST_PAIRS: f64 = 108_400.0;

/// A reference implementation of `../shared/reference` that `--reference` runs.
struct Reference {
    /// Key in bench.json.
    name: &'static str,
    /// Environment variable naming its virtualenv (as `setup.sh` exports it).
    venv_var: &'static str,
    /// The virtualenv under the temp dir that `setup.sh` makes when the variable is unset.
    default_venv: &'static str,
    /// The script.
    script: &'static str,
    /// An extra environment variable for the run.
    env: Option<(&'static str, &'static str)>,
}

const REFERENCES: [Reference; 2] = [
    Reference {
        name: "jax_scan",
        venv_var: "JAX_VENV",
        default_venv: "jaxvenv",
        script: "jax_siamese.py",
        env: Some(("JAX_SCAN", "1")),
    },
    Reference {
        name: "pytorch_eager",
        venv_var: "TORCH_VENV",
        default_venv: "refvenv",
        script: "torch_siamese.py",
        env: None,
    },
];

pub(crate) fn bench(args: &[OsString]) -> Result {
    if args.iter().any(|a| a == "--sweep") {
        return crate::sweep::sweep(args);
    }
    if args.iter().any(|a| a == "--search") {
        return search::bench_search(args);
    }
    if args.iter().any(|a| a == "--losses") {
        return crate::losses::losses(args);
    }
    let mut reference = false;
    let mut runs = 1usize;
    let mut dataset = &DATASETS[0];
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.to_str() {
            Some("--reference") => reference = true,
            Some("--runs") => runs = flag_number(iter.next(), "--runs", 1)?,
            Some("--data") => dataset = parse_dataset(iter.next())?,
            _ => return Err(Failure::usage(format!("`bench` does not take {arg:?}"))),
        }
    }
    let root = workspace_root()?;
    let data = data_dir(&root, dataset)?;
    build(&root, &["-p", "siamese-cli", "-p", "siamese-benches"])?;
    let release = target_dir(&root)?.join("release");
    let out_dir = target_dir(&root)?.join("bench");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| Failure::new(format!("{}: {e}", out_dir.display())))?;

    let sgemm = capture(
        Command::new(release.join("sgemm-peak")).args(["2", "1"]),
        "sgemm-peak",
    )?;
    let sgemm: Value = serde_json::from_str(&sgemm)
        .map_err(|e| Failure::new(format!("sgemm-peak output: {e}")))?;
    let peak = sgemm["peak_gflops"].as_f64().unwrap_or(f64::NAN);
    let kernel = sgemm["kernel"].as_str().unwrap_or("?").to_owned();
    let cpu = sgemm["cpu"].clone();
    println!(
        "xtask bench: sgemm peak at the training shapes, 2 threads: {peak:.1} GFLOP/s ({kernel}) \
         on {} (family {})",
        cpu["model_name"].as_str().unwrap_or("unknown CPU"),
        cpu["family"]
    );

    let mut ours = Vec::new();
    let mut references: Vec<(String, Vec<f64>)> = Vec::new();
    for run in 1..=runs {
        ours.push(run_ours(&root, &release, &out_dir, &data, run)?);
        if reference {
            for (name, median) in run_references(&root, &data)? {
                match references.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, medians)) => medians.push(median),
                    None => references.push((name, vec![median])),
                }
            }
        }
    }
    let steady = median(ours.iter().map(|r| r.steady_epoch_seconds).collect());
    let last = ours.last().ok_or_else(|| Failure::new("no run finished"))?;
    let pairs = last.train_pairs;
    let gflop_per_epoch = GFLOP_PER_EPOCH * pairs / MNIST_PAIRS;
    let mut report = json!({
        "workload": "configs/keras-parity.ron",
        "data": dataset.title,
        "data_dir": data,
        "runs": runs,
        "steady_epoch_seconds": steady,
        "steady_epoch_seconds_per_run": ours.iter().map(|r| r.steady_epoch_seconds).collect::<Vec<_>>(),
        "train_pairs": pairs,
        "pairs_per_second": pairs / steady,
        "gflops": gflop_per_epoch / steady,
        "cpu": cpu,
        "sgemm_peak_gflops": peak,
        "sgemm_peak_kernel": kernel,
        "share_of_sgemm_peak": gflop_per_epoch / steady / peak,
        "peak_rss_mb": last.peak_rss_mb,
        "test_accuracy": last.test_accuracy,
        "first_layer": last.first_layer,
        "sgemm": sgemm,
    });
    for (name, medians) in &references {
        let theirs = median(medians.clone());
        report[name.as_str()] = json!({
            "steady_epoch_seconds": theirs,
            "steady_epoch_seconds_per_run": medians,
            "speedup_of_ours": theirs / steady,
        });
    }
    let path = out_dir.join("bench.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(e.to_string()))?;
    siamese_io::write_atomically(&path, format!("{text}\n").as_bytes())
        .map_err(|e| Failure::new(e.to_string()))?;
    println!("{text}");
    println!("xtask bench: wrote {}", path.display());
    Ok(())
}

/// What one training run of ours measured.
pub(crate) struct OurRun {
    /// Training seconds of each epoch, from metrics.jsonl.
    pub(crate) epoch_seconds: Vec<f64>,
    /// The median of epochs 2 and later.
    pub(crate) steady_epoch_seconds: f64,
    /// Peak resident memory (`/usr/bin/time -v`), when GNU time is installed.
    pub(crate) peak_rss_mb: Option<f64>,
    /// Test pair accuracy at the default threshold, from summary.json.
    pub(crate) test_accuracy: f64,
    /// The first layer's arithmetic the run chose, from summary.json.
    pub(crate) first_layer: String,
    /// Training pairs per epoch, from summary.json.
    pub(crate) train_pairs: f64,
}

pub(crate) fn build(root: &Path, packages: &[&str]) -> Result {
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .args(packages);
    run_to_success(&mut cmd, "cargo build --release")
}

/// Runs a command, returning its stdout; stderr passes through.
pub(crate) fn capture(cmd: &mut Command, shown: &str) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::new(format!("could not run `{shown}`: {e}")))?;
    if !out.status.success() {
        return Err(Failure::new(format!(
            "`{shown}` failed ({})",
            describe(out.status)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value after `flag`, as text; a usage error naming `what` it takes when it is missing.
pub(crate) fn flag_text(value: Option<&OsString>, flag: &str, what: &str) -> Result<String> {
    value
        .and_then(|v| v.to_str())
        .map(str::to_owned)
        .ok_or_else(|| Failure::usage(format!("`{flag}` takes {what}")))
}

/// The number after `flag`, at least `min`; a usage error otherwise.
pub(crate) fn flag_number(value: Option<&OsString>, flag: &str, min: usize) -> Result<usize> {
    let what = format!("a number ≥ {min}");
    flag_text(value, flag, &what)?
        .parse()
        .ok()
        .filter(|&n| n >= min)
        .ok_or_else(|| Failure::usage(format!("`{flag}` takes {what}")))
}

/// The data set `--data` names.
fn parse_dataset(name: Option<&OsString>) -> Result<&'static Dataset> {
    let names = || DATASETS.map(|d| d.name).join(", ");
    let name = name
        .and_then(|n| n.to_str())
        .ok_or_else(|| Failure::usage(format!("`--data` takes one of: {}", names())))?;
    DATASETS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| Failure::usage(format!("`--data` takes one of: {}; got {name:?}", names())))
}

fn run_ours(
    root: &Path,
    release: &Path,
    out_dir: &Path,
    data: &Path,
    run: usize,
) -> Result<OurRun> {
    let run_dir = out_dir.join(format!("keras-parity-{run}"));
    let config = root.join("configs").join("keras-parity.ron");
    println!("xtask bench: run {run}: training {}", config.display());
    train_measured(
        release,
        &config,
        &run_dir,
        &["--data".into(), data.as_os_str().to_owned()],
    )
}

/// Trains `config` into `run_dir` with the release `siamese` (2 threads, under
/// `/usr/bin/time -v` when it exists, `extra` arguments appended) and reads back what the
/// run measured.
pub(crate) fn train_measured(
    release: &Path,
    config: &Path,
    run_dir: &Path,
    extra: &[OsString],
) -> Result<OurRun> {
    let siamese = release.join("siamese");
    let gnu_time = Path::new("/usr/bin/time");
    let mut cmd = if gnu_time.is_file() {
        let mut c = Command::new(gnu_time);
        c.arg("-v").arg(&siamese);
        c
    } else {
        Command::new(&siamese)
    };
    cmd.arg("train")
        .arg(config)
        .arg("--out")
        .arg(run_dir)
        .arg("--threads")
        .arg("2")
        .args(extra);
    let out = cmd
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Failure::new(format!("could not run {}: {e}", siamese.display())))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!(
        "{}",
        stderr
            .lines()
            .filter(|l| !l.starts_with('\t'))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    if !out.status.success() {
        return Err(Failure::new(format!(
            "training failed ({})",
            describe(out.status)
        )));
    }
    let peak_rss_mb = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0);

    // The names `siamese_train::RunDir` gives these files (and the README documents): xtask
    // reads them as plain JSON so that it links none of the library crates and builds in
    // seconds.
    let metrics = read(&run_dir.join("metrics.jsonl"))?;
    let seconds: Vec<f64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["seconds"].as_f64())
        .collect();
    let summary: Value = serde_json::from_str(&read(&run_dir.join("summary.json"))?)
        .map_err(|e| Failure::new(format!("summary.json: {e}")))?;
    Ok(OurRun {
        steady_epoch_seconds: steady_median(&seconds),
        epoch_seconds: seconds,
        peak_rss_mb,
        test_accuracy: summary["test_accuracy"].as_f64().unwrap_or(f64::NAN),
        first_layer: summary["first_layer"].as_str().unwrap_or("?").to_owned(),
        train_pairs: summary["train_pairs"].as_f64().unwrap_or(MNIST_PAIRS),
    })
}

/// Runs each reference whose virtualenv exists; returns (name, median steady epoch).
fn run_references(root: &Path, data: &Path) -> Result<Vec<(String, f64)>> {
    let dir = root.join("..").join("shared").join("reference");
    let mut results = Vec::new();
    for Reference {
        name,
        venv_var,
        default_venv,
        script,
        env: extra,
    } in REFERENCES
    {
        let python = venv_python(venv_var, default_venv);
        if !python.is_file() {
            println!(
                "xtask bench: skipping {name}: no {} (run `source {}/setup.sh`)",
                python.display(),
                dir.display()
            );
            continue;
        }
        println!("xtask bench: running the {name} reference ({script})");
        let mut cmd = Command::new(&python);
        // The references read `MNIST_DIR` (else `../data/mnist`), whatever the data set.
        cmd.arg(script).current_dir(&dir).env("MNIST_DIR", data);
        if let Some((key, value)) = extra {
            cmd.env(key, value);
        }
        let out = capture(&mut cmd, &format!("{} {script}", python.display()))?;
        print!("{out}");
        let seconds = reference_epoch_seconds(&out);
        if seconds.is_empty() {
            return Err(Failure::new(format!(
                "no epoch times in the output of {script}"
            )));
        }
        results.push((name.to_owned(), steady_median(&seconds)));
    }
    Ok(results)
}

/// The Python of the virtualenv named by `venv_var`, else of `<temp dir>/<default_venv>`.
pub(crate) fn venv_python(venv_var: &str, default_venv: &str) -> PathBuf {
    std::env::var_os(venv_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(default_venv))
        .join("bin")
        .join("python")
}

/// The epoch seconds a reference script prints, from lines like
/// `epoch 2: time 3.49s  train_loss ...`.
pub(crate) fn reference_epoch_seconds(out: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("epoch ")?;
            let time = rest.split("time ").nth(1)?;
            time.split('s').next()?.trim().parse().ok()
        })
        .collect()
}

pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

/// The median of epochs 2 and later (the first includes warm-up), or of all if only one.
pub(crate) fn steady_median(seconds: &[f64]) -> f64 {
    let steady = if seconds.len() > 1 {
        &seconds[1..]
    } else {
        seconds
    };
    median(steady.to_vec())
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}
