//! `cargo xtask bench --sweep`: how an epoch's cost grows with the work.
//!
//! Trains the parity workload (`configs/keras-parity.ron`) for a few epochs at each of three
//! towers (hidden layers [512, 256], [1024, 512], [2048, 1024]; embedding 128), two batch
//! sizes (128 and 512 pairs) and both first-layer arithmetics (sparse and dense), and writes
//! a table of steady epoch seconds and dense-equivalent GFLOP/s: `target/bench/sweep.json`,
//! `target/bench/sweep.md`, and the markdown on stdout. With `--reference`, runs
//! `benches/reference/jax_sweep.py` (the JAX reference, whole epoch in one `lax.scan`) on
//! the same shapes; JAX has no sparse/dense choice, so one JAX run per (tower, batch) is
//! shown beside both of ours.
//!
//! With `--lock FILE`, every timed run (one of ours, or one JAX run) holds an exclusive
//! advisory lock (`flock`) on FILE while it runs and releases it in between, so that timings
//! on a shared machine never overlap with others taken under the same lock.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::bench::{
    OurRun, build, capture, flag_number, flag_text, read, reference_epoch_seconds, steady_median,
    train_measured, venv_python,
};
use crate::quality::{cpu, git_commit, now_utc};
use crate::{DATA_DIR_ENV, Failure, Result, default_ci_data_dir, target_dir, workspace_root};

/// The towers the sweep trains by default: hidden widths, embedding 128 after them.
const TOWERS: [[usize; 2]; 3] = [[512, 256], [1024, 512], [2048, 1024]];
/// Pairs per step the sweep trains by default.
const BATCHES: [usize; 2] = [128, 512];
/// The workload's input width (28 × 28 pixels) and embedding width.
const INPUT: usize = 784;
const EMBEDDING: usize = 128;
/// Training pairs per epoch of the classic MNIST recipe.
const PAIRS: usize = 108_400;
/// Steady epochs slower than this are called out as unreasonably slow for a sweep row.
const SLOW_EPOCH_SECONDS: f64 = 60.0;

/// The two first-layer arithmetics, as `training.first_layer` spells them.
const FIRST_LAYERS: [&str; 2] = ["Sparse", "Dense"];

/// The command line of `cargo xtask bench --sweep`, parsed.
#[derive(Debug, PartialEq)]
struct Options {
    /// Also run the JAX reference on each (tower, batch).
    reference: bool,
    /// Epochs per run (at least 2: the first, with warm-up, is not counted).
    epochs: usize,
    /// Hidden widths of the towers to train.
    towers: Vec<Vec<usize>>,
    /// Batch sizes to train.
    batches: Vec<usize>,
    /// A file to hold an exclusive lock on during each timed run.
    lock: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            reference: false,
            epochs: 2,
            towers: TOWERS.iter().map(|t| t.to_vec()).collect(),
            batches: BATCHES.to_vec(),
            lock: None,
        }
    }
}

/// Parses the arguments of `bench --sweep` (which is among them).
fn parse(args: &[OsString]) -> Result<Options> {
    let mut options = Options::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.to_str() {
            Some("--sweep") => {}
            Some("--reference") => options.reference = true,
            // At least 2: the first epoch, with warm-up, is not counted.
            Some("--epochs") => options.epochs = flag_number(iter.next(), "--epochs", 2)?,
            Some("--towers") => {
                let what = "hidden widths like 512x256,1024x512";
                options.towers = list(&flag_text(iter.next(), "--towers", what)?, |tower| {
                    list_of(tower, 'x', |w| w.parse().ok().filter(|&w: &usize| w > 0))
                })
                .ok_or_else(|| Failure::usage(format!("`--towers` takes {what}")))?;
            }
            Some("--batches") => {
                let what = "batch sizes like 128,512";
                options.batches = list(&flag_text(iter.next(), "--batches", what)?, |b| {
                    b.parse().ok().filter(|&b: &usize| b > 0)
                })
                .ok_or_else(|| Failure::usage(format!("`--batches` takes {what}")))?;
            }
            Some("--lock") => {
                options.lock = Some(PathBuf::from(flag_text(iter.next(), "--lock", "a file")?));
            }
            _ => {
                return Err(Failure::usage(format!(
                    "`bench --sweep` does not take {arg:?}"
                )));
            }
        }
    }
    Ok(options)
}

/// The comma-separated items of `text`, each parsed by `item`; `None` if any fails or
/// there are none.
fn list<T>(text: &str, item: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    list_of(text, ',', item)
}

fn list_of<T>(text: &str, separator: char, item: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    let items: Option<Vec<T>> = text.split(separator).map(|s| item(s.trim())).collect();
    items.filter(|items| !items.is_empty())
}

/// Matrix-product GFLOP of one epoch over `pairs` pairs through a tower 784 → `hidden` →
/// 128, counted densely as the references count them (`common.flops_per_epoch`): both
/// images of each pair are rows; forward 2·rows·in·out per layer; backward the weight
/// gradient of every layer (the same again) and the input gradient of every layer but the
/// first (the image needs none).
fn gflop_per_epoch(hidden: &[usize], pairs: usize) -> f64 {
    let rows = 2.0 * pairs as f64;
    let widths: Vec<usize> = std::iter::once(INPUT)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(EMBEDDING))
        .collect();
    let products: Vec<f64> = widths
        .windows(2)
        .map(|w| 2.0 * rows * w[0] as f64 * w[1] as f64)
        .collect();
    let forward: f64 = products.iter().sum();
    let input_gradients: f64 = products.iter().skip(1).sum();
    (2.0 * forward + input_gradients) / 1e9
}

/// `512x256`, the name of a tower in run directories and tables.
fn tower_name(hidden: &[usize]) -> String {
    hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("x")
}

pub(crate) fn sweep(args: &[OsString]) -> Result {
    let options = parse(args)?;
    let root = workspace_root()?;
    let data = std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| default_ci_data_dir(&root), PathBuf::from);
    let parity = read(&root.join("configs").join("keras-parity.ron"))?;
    let jax = options
        .reference
        .then(|| venv_python("JAX_VENV", "jaxvenv"))
        .filter(|python| {
            let there = python.is_file();
            if !there {
                println!(
                    "xtask bench --sweep: no JAX runs: no {} (set JAX_VENV, see benches/README.md)",
                    python.display()
                );
            }
            there
        });
    let jax_script = root.join("benches").join("reference").join("jax_sweep.py");
    // Checked before the build and the first (long) run.
    for tower in &options.towers {
        config_text(&parity, tower, FIRST_LAYERS[0], shard_pairs(128))?;
    }
    build(&root, &["-p", "siamese-cli"])?;
    let release = target_dir(&root)?.join("release");
    let out_dir = target_dir(&root)?.join("bench");
    let runs_dir = out_dir.join("sweep");
    fs::create_dir_all(&runs_dir)
        .map_err(|e| Failure::new(format!("{}: {e}", runs_dir.display())))?;
    let (started, _) = now_utc();

    let mut rows = Vec::new();
    for tower in &options.towers {
        let gflop = gflop_per_epoch(tower, PAIRS);
        for &batch in &options.batches {
            let name = format!("{}-b{batch}", tower_name(tower));
            let mut ours = serde_json::Map::new();
            for first_layer in FIRST_LAYERS {
                let key = first_layer.to_lowercase();
                let run_dir = runs_dir.join(format!("{name}-{key}"));
                let config = runs_dir.join(format!("{name}-{key}.ron"));
                write(
                    &config,
                    &config_text(&parity, tower, first_layer, shard_pairs(batch))?,
                )?;
                if run_dir.exists() {
                    fs::remove_dir_all(&run_dir)
                        .map_err(|e| Failure::new(format!("{}: {e}", run_dir.display())))?;
                }
                let extra: Vec<OsString> = vec![
                    "--epochs".into(),
                    options.epochs.to_string().into(),
                    "--batch-size".into(),
                    batch.to_string().into(),
                    "--data".into(),
                    data.clone().into(),
                    "--offline".into(),
                ];
                println!(
                    "\nxtask bench --sweep: {name}, first layer {first_layer}: training {}",
                    config.display()
                );
                let (run, load) = locked(options.lock.as_deref(), || {
                    let load = loadavg();
                    Ok((train_measured(&release, &config, &run_dir, &extra)?, load))
                })?;
                ours.insert(key, our_record(&run, gflop, load));
            }
            let jax_record = match &jax {
                Some(python) => {
                    println!("\nxtask bench --sweep: {name}: JAX (jax_sweep.py)");
                    let mut cmd = Command::new(python);
                    cmd.arg(&jax_script)
                        .env(
                            "HIDDEN",
                            tower
                                .iter()
                                .map(usize::to_string)
                                .collect::<Vec<_>>()
                                .join(","),
                        )
                        .env("BATCH", batch.to_string())
                        .env("EPOCHS", options.epochs.to_string())
                        .env("MNIST_DIR", &data);
                    let shown = format!("{} {}", python.display(), jax_script.display());
                    let (out, load) = locked(options.lock.as_deref(), || {
                        let load = loadavg();
                        Ok((capture(&mut cmd, &shown)?, load))
                    })?;
                    print!("{out}");
                    let seconds = reference_epoch_seconds(&out);
                    if seconds.is_empty() {
                        return Err(Failure::new(format!(
                            "no epoch times in the output of {shown}"
                        )));
                    }
                    let steady = steady_median(&seconds);
                    json!({
                        "epoch_seconds": seconds,
                        "steady_epoch_seconds": steady,
                        "gflops": gflop / steady,
                        "load_before": load,
                    })
                }
                None => Value::Null,
            };
            let mut row = json!({
                "hidden": tower,
                "embedding": EMBEDDING,
                "batch_size": batch,
                "shard_pairs": shard_pairs(batch),
                "gflop_per_epoch": gflop,
                "ours": ours,
                "jax_scan": jax_record,
            });
            for key in ["sparse", "dense"] {
                let ours = row["ours"][key]["steady_epoch_seconds"].as_f64();
                let theirs = row["jax_scan"]["steady_epoch_seconds"].as_f64();
                if let (Some(ours), Some(theirs)) = (ours, theirs) {
                    row["ours"][key]["speedup_over_jax"] = json!(theirs / ours);
                }
            }
            println!("\n{}", markdown(std::slice::from_ref(&row)));
            rows.push(row);
        }
    }

    let (finished, _) = now_utc();
    let report = json!({
        "workload": "configs/keras-parity.ron with model.hidden, training.batch_size and training.first_layer swept",
        "pairs_per_epoch": PAIRS,
        "epochs": options.epochs,
        "steady_epoch": "median of the epochs after the first",
        "gflop": "dense-equivalent: 2·rows·in·out per layer forward, weight gradients of every layer and input gradients of all but the first backward",
        "threads": 2,
        "started": started,
        "finished": finished,
        "commit": git_commit(&root),
        "cpu": cpu(),
        "lock": options.lock,
        "rows": rows,
    });
    let table = markdown(&rows);
    let json_path = out_dir.join("sweep.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(e.to_string()))?;
    write(&json_path, &format!("{text}\n"))?;
    let md_path = out_dir.join("sweep.md");
    write(&md_path, &table)?;
    println!("\n{table}");
    println!(
        "xtask bench --sweep: wrote {} and {}",
        json_path.display(),
        md_path.display()
    );
    Ok(())
}

/// Threads of every timed run (`train_measured` passes `--threads 2`).
const THREADS: usize = 2;

/// Pairs per shard for `batch`: one shard per thread, as a user tunes `training.shard_pairs`
/// for a machine. Every shard fills and zeroes a full-size gradient buffer that Adam sums,
/// so the default 64 costs batch 512 eight buffers per step on 2 cores (at [2048, 1024], 124
/// MB against a 32 MB L3). At batch 128 this is the default, 64.
fn shard_pairs(batch: usize) -> usize {
    batch.div_ceil(THREADS).max(1)
}

/// The parity config with `model.hidden`, `training.first_layer` and
/// `training.shard_pairs` replaced; an error if the parity config no longer reads the way
/// this expects.
fn config_text(
    parity: &str,
    hidden: &[usize],
    first_layer: &str,
    shard_pairs: usize,
) -> Result<String> {
    let replace = |text: &str, from: &str, to: &str| -> Result<String> {
        if text.matches(from).count() == 1 {
            Ok(text.replacen(from, to, 1))
        } else {
            Err(Failure::new(format!(
                "configs/keras-parity.ron no longer has exactly one `{from}` for the sweep to \
                 replace"
            )))
        }
    };
    let widths = hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let text = replace(
        parity,
        "hidden: [512, 256],",
        &format!("hidden: [{widths}],"),
    )?;
    replace(
        &text,
        "training: (",
        &format!(
            "training: (\n        first_layer: {first_layer},\n        shard_pairs: {shard_pairs},"
        ),
    )
}

/// Runs `f` holding an exclusive advisory lock on `lock` (when given), so that no other
/// timing taken under the same lock overlaps it.
pub(crate) fn locked<T>(lock: Option<&Path>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(path) = lock else { return f() };
    let file: File = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    if file.try_lock().is_err() {
        println!("xtask bench: waiting for the lock on {}", path.display());
        file.lock()
            .map_err(|e| Failure::new(format!("locking {}: {e}", path.display())))?;
    }
    let result = f();
    // Closing the file releases the lock; unlocking first says so explicitly.
    let _ = file.unlock();
    result
}

/// The 1-minute load average (`/proc/loadavg`), when there is one.
pub(crate) fn loadavg() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One run of ours as sweep.json records it.
fn our_record(run: &OurRun, gflop: f64, load: Option<f64>) -> Value {
    let steady = run.steady_epoch_seconds;
    if steady > SLOW_EPOCH_SECONDS {
        println!(
            "xtask bench --sweep: note: {steady:.1} s per epoch, beyond the \
             {SLOW_EPOCH_SECONDS} s a sweep row should take"
        );
    }
    json!({
        "first_layer": run.first_layer,
        "epoch_seconds": run.epoch_seconds,
        "steady_epoch_seconds": steady,
        "gflops": gflop / steady,
        "peak_rss_mb": run.peak_rss_mb,
        "test_accuracy": run.test_accuracy,
        "load_before": load,
        "slow": steady > SLOW_EPOCH_SECONDS,
    })
}

/// The sweep table: one line per (tower, batch, first layer), JAX beside both of ours.
fn markdown(rows: &[Value]) -> String {
    let mut out = String::from(
        "| hidden | batch | first layer | GFLOP / epoch | ours s / epoch | ours GFLOP/s \
         | JAX s / epoch | JAX GFLOP/s | ours ÷ JAX speed |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let fixed = |v: &Value, digits: usize| {
        v.as_f64()
            .map_or_else(|| "—".to_owned(), |x| format!("{x:.digits$}"))
    };
    for row in rows {
        let hidden = row["hidden"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|w| w.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        for key in ["sparse", "dense"] {
            let ours = &row["ours"][key];
            let speedup = ours["speedup_over_jax"]
                .as_f64()
                .map_or_else(|| "—".to_owned(), |x| format!("{x:.2}×"));
            let slow = if ours["slow"].as_bool() == Some(true) {
                " (slow)"
            } else {
                ""
            };
            out.push_str(&format!(
                "| [{hidden}] | {} | {key} | {} | {}{slow} | {} | {} | {} | {speedup} |\n",
                row["batch_size"],
                fixed(&row["gflop_per_epoch"], 2),
                fixed(&ours["steady_epoch_seconds"], 2),
                fixed(&ours["gflops"], 0),
                fixed(&row["jax_scan"]["steady_epoch_seconds"], 2),
                fixed(&row["jax_scan"]["gflops"], 0),
            ));
        }
    }
    out
}

pub(crate) fn write(path: &Path, text: &str) -> Result {
    siamese_io::write_atomically(path, text.as_bytes())
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn the_parity_shape_counts_the_references_561_22_gflop() {
        let gflop = gflop_per_epoch(&[512, 256], PAIRS);
        assert!((gflop - 561.224_089_6).abs() < 1e-6, "{gflop}");
        assert_eq!(format!("{gflop:.2}"), "561.22");
        // Wider towers: the hidden products grow with the square of the width.
        assert!(gflop_per_epoch(&[2048, 1024], PAIRS) > 7.0 * gflop);
    }

    #[test]
    fn the_default_sweep_is_three_towers_two_batches() {
        let options = parse(&args("--sweep")).unwrap();
        assert_eq!(options, Options::default());
        assert_eq!(
            options.towers,
            vec![vec![512, 256], vec![1024, 512], vec![2048, 1024]]
        );
        assert_eq!(options.batches, vec![128, 512]);
        assert_eq!(options.epochs, 2);
    }

    #[test]
    fn options_parse_and_bad_ones_are_usage_errors() {
        let options = parse(&args(
            "--sweep --reference --towers 1024x512,64x32x16 --batches 512 --epochs 3 --lock /tmp/l",
        ))
        .unwrap();
        assert!(options.reference);
        assert_eq!(options.towers, vec![vec![1024, 512], vec![64, 32, 16]]);
        assert_eq!(options.batches, vec![512]);
        assert_eq!(options.epochs, 3);
        assert_eq!(options.lock, Some(PathBuf::from("/tmp/l")));
        for bad in [
            "--sweep --epochs 1",
            "--sweep --towers 512x",
            "--sweep --batches",
            "--sweep --batches 0",
            "--sweep --runs 3",
        ] {
            assert_eq!(parse(&args(bad)).unwrap_err().code, 2, "{bad}");
        }
    }

    #[test]
    fn configs_replace_the_tower_and_first_layer() {
        let parity = "model: (\n    hidden: [512, 256],\n),\ntraining: (\n    epochs: 5,\n),";
        let text = config_text(parity, &[2048, 1024], "Dense", 256).unwrap();
        assert!(text.contains("hidden: [2048, 1024],"), "{text}");
        assert!(
            text.contains("training: (\n        first_layer: Dense,\n        shard_pairs: 256,"),
            "{text}"
        );
        assert!(config_text("model: ()", &[1], "Dense", 64).is_err());
        assert_eq!((shard_pairs(128), shard_pairs(512)), (64, 256));
    }

    #[test]
    fn the_real_parity_config_still_reads_as_expected() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let parity = read(&root.join("configs").join("keras-parity.ron")).unwrap();
        config_text(&parity, &[1024, 512], "Sparse", 64).unwrap();
    }

    #[test]
    fn the_table_has_a_line_per_first_layer() {
        let row = json!({
            "hidden": [512, 256], "batch_size": 128, "gflop_per_epoch": 561.224,
            "ours": {
                "sparse": {"steady_epoch_seconds": 1.5, "gflops": 374.1, "speedup_over_jax": 2.4},
                "dense": {"steady_epoch_seconds": 3.0, "gflops": 187.0, "slow": false},
            },
            "jax_scan": null,
        });
        let table = markdown(&[row]);
        assert!(
            table.contains("| [512, 256] | 128 | sparse | 561.22 | 1.50 | 374 | — | — | 2.40× |"),
            "{table}"
        );
        assert!(
            table.contains("| dense | 561.22 | 3.00 | 187 | — | — | — |"),
            "{table}"
        );
    }
}
