//! `cargo xtask bench --losses`: what each in-batch objective costs a training step, ours
//! beside PyTorch with pytorch-metric-learning (PML).
//!
//! The recommended recipe, `configs/base.ron` (class-balanced batches of 10 classes × 25
//! images, unit-length embeddings, tower 784 → 512 → 256 → 128, Adam with a cosine schedule),
//! is trained for a few epochs once per objective (SupCon, MultiSimilarity, Triplet with each
//! mining, AllPairs), with augmentation off, and once more as SupCon with augmentation always
//! on. Each run's config is base.ron with `loss.objective` and `training.augment` /
//! `training.augment_schedule` replaced, written beside its run directory
//! (`target/bench/losses/<row>.ron`). With `--reference`,
//! `benches/reference/torch_losses.py` trains the same recipe with the PML equivalent of each
//! row. The steady epoch (median of the epochs after the first), images per second and test
//! pair accuracy of both sides go to `target/bench/losses.json` and a printed markdown table.
//!
//! With `--lock FILE`, every timed run holds an exclusive `flock` on FILE while it runs and
//! releases it in between (see [`crate::sweep::locked`]).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::bench::{
    build, capture, flag_number, flag_text, median, read, reference_epoch_seconds, steady_median,
    train_measured, venv_python,
};
use crate::quality::{cpu, git_commit, now_utc};
use crate::sweep::{loadavg, locked, write};
use crate::{DATA_DIR_ENV, Failure, Result, default_ci_data_dir, target_dir, workspace_root};

/// One row of the table: an objective of ours and its PML counterpart.
#[derive(Debug, PartialEq)]
struct Row {
    /// Short name: run directory, `--rows` and the JSON key.
    key: &'static str,
    /// The objective as the table shows it.
    title: &'static str,
    /// `loss.objective` in RON.
    objective: &'static str,
    /// Augmentation always on (else off).
    augment: bool,
    /// `LOSS` of torch_losses.py.
    torch_loss: &'static str,
    /// The PML side, and how it differs from ours.
    pml: &'static str,
}

/// Every row, in table order.
const ROWS: [Row; 7] = [
    Row {
        key: "supcon",
        title: "SupCon(τ 0.1)",
        objective: "SupCon(temperature: 0.1)",
        augment: false,
        torch_loss: "supcon",
        pml: "SupConLoss(temperature=0.1): same loss",
    },
    Row {
        key: "multi-similarity",
        title: "MultiSimilarity(2, 50, 0.5, ε 0.1)",
        objective: "MultiSimilarity(alpha: 2.0, beta: 50.0, base: 0.5, epsilon: 0.1)",
        augment: false,
        torch_loss: "multi-similarity",
        pml: "MultiSimilarityLoss(2, 50, 0.5) + MultiSimilarityMiner(0.1): same loss",
    },
    Row {
        key: "triplet-batch-hard",
        title: "Triplet(0.2, BatchHard)",
        objective: "Triplet(margin: 0.2, mining: BatchHard)",
        augment: false,
        torch_loss: "triplet-batch-hard",
        pml: "TripletMarginLoss(0.2, MeanReducer) + BatchHardMiner: same loss",
    },
    Row {
        key: "triplet-semihard",
        title: "Triplet(0.2, SemiHard)",
        objective: "Triplet(margin: 0.2, mining: SemiHard)",
        augment: false,
        torch_loss: "triplet-semihard",
        pml: "TripletMarginLoss(0.2) + TripletMarginMiner(0.2, \"semihard\"): every \
              semi-hard triplet, not one per positive pair",
    },
    Row {
        key: "triplet-batch-all",
        title: "Triplet(0.2, BatchAll)",
        objective: "Triplet(margin: 0.2, mining: BatchAll)",
        augment: false,
        torch_loss: "triplet-all",
        pml: "TripletMarginLoss(0.2) on all triplets: same loss",
    },
    Row {
        key: "all-pairs",
        title: "AllPairs (margin 1.4)",
        objective: "AllPairs",
        augment: false,
        torch_loss: "all-pairs",
        pml: "ContrastiveLoss(0, 1.4, MeanReducer): unsquared terms, ours squared",
    },
    Row {
        key: "supcon-augment",
        title: "SupCon + augmentation always on",
        objective: "SupCon(temperature: 0.1)",
        augment: true,
        torch_loss: "supcon",
        pml: "SupConLoss(0.1), batched affine_grid + grid_sample",
    },
];

/// The command line of `cargo xtask bench --losses`, parsed.
#[derive(Debug, PartialEq)]
struct Options {
    /// Also run the PyTorch + PML reference of each row.
    reference: bool,
    /// Epochs per run (at least 2: the first, with warm-up, is not counted).
    epochs: usize,
    /// Runs of each side per row, alternating; a side's figure is the median over its runs.
    runs: usize,
    /// A file to hold an exclusive lock on during each timed run.
    lock: Option<PathBuf>,
    /// Indices into [`ROWS`] of the rows to run, in table order.
    rows: Vec<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            reference: false,
            epochs: 2,
            runs: 1,
            lock: None,
            rows: (0..ROWS.len()).collect(),
        }
    }
}

/// Parses the arguments of `bench --losses` (which is among them).
fn parse(args: &[OsString]) -> Result<Options> {
    let mut options = Options::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.to_str() {
            Some("--losses") => {}
            Some("--reference") => options.reference = true,
            // At least 2: the first epoch, with warm-up, is not counted.
            Some("--epochs") => options.epochs = flag_number(iter.next(), "--epochs", 2)?,
            Some("--runs") => options.runs = flag_number(iter.next(), "--runs", 1)?,
            Some("--lock") => {
                options.lock = Some(PathBuf::from(flag_text(iter.next(), "--lock", "a file")?));
            }
            Some("--rows") => {
                let keys = ROWS.map(|r| r.key).join(",");
                let what = format!("some of {keys}");
                let wanted = flag_text(iter.next(), "--rows", &what)?;
                let mut rows = Vec::new();
                for key in wanted.split(',').map(str::trim) {
                    let index = ROWS.iter().position(|r| r.key == key).ok_or_else(|| {
                        Failure::usage(format!("`--rows` takes {what}; got {key:?}"))
                    })?;
                    rows.push(index);
                }
                // Table order, each once, whatever order they were asked in.
                rows.sort_unstable();
                rows.dedup();
                options.rows = rows;
            }
            _ => {
                return Err(Failure::usage(format!(
                    "`bench --losses` does not take {arg:?}"
                )));
            }
        }
    }
    Ok(options)
}

/// Replaces the value of the one field `name:` of a RON text (a line starting with it,
/// comments aside) by `value`; the old value runs to the first `,` outside brackets, so a
/// value over several lines (`augment: Some((\n ... \n)),`) goes whole. An error unless the
/// field is there exactly once: a base.ron that no longer reads the way this expects must
/// stop the benchmark, not silently train something else.
fn replace_field(text: &str, name: &str, value: &str) -> Result<String> {
    let key = format!("{name}:");
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with(&key) {
            starts.push(offset + indent);
        }
        offset += line.len();
    }
    let [start] = starts[..] else {
        return Err(Failure::new(format!(
            "configs/base.ron has {} fields `{name}` where the benchmark expects one",
            starts.len()
        )));
    };
    let value_start = start + key.len();
    let end = value_end(&text[value_start..])
        .map(|n| value_start + n)
        .ok_or_else(|| Failure::new(format!("configs/base.ron: `{name}` has no end")))?;
    // A last field without a comma keeps the line break before its parent's `)`.
    let end = value_start + text[value_start..end].trim_end().len();
    Ok(format!("{}{key} {value}{}", &text[..start], &text[end..]))
}

/// The byte length of a RON value: up to its `,` (or the `)`/`]` closing its parent) at
/// bracket depth 0, skipping `//` comments and strings.
fn value_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '/' if chars.peek().is_some_and(|&(_, n)| n == '/') => {
                chars.find(|&(_, n)| n == '\n');
            }
            '"' => {
                // No escapes in the values this replaces; skip to the closing quote.
                chars.find(|&(_, n)| n == '"');
            }
            '(' | '[' => depth += 1,
            ')' | ']' if depth == 0 => return Some(i),
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// base.ron with this row's objective, and augmentation always on or off.
fn config_text(base: &str, row: &Row) -> Result<String> {
    let text = replace_field(base, "objective", row.objective)?;
    if row.augment {
        replace_field(&text, "augment_schedule", "Always")
    } else {
        replace_field(&text, "augment", "None")
    }
}

/// What one timed run measured, on either side.
struct Measured {
    epoch_seconds: Vec<f64>,
    images_per_epoch: f64,
    test_accuracy: f64,
    peak_rss_mb: Option<f64>,
    load_before: Option<f64>,
}

/// One side of a row in losses.json: every run, and the median of their steady epochs.
fn record(runs: &[Measured]) -> Value {
    let steadies: Vec<f64> = runs
        .iter()
        .map(|r| steady_median(&r.epoch_seconds))
        .collect();
    let steady = median(steadies.clone());
    let last = runs.last();
    let images = last.map_or(f64::NAN, |r| r.images_per_epoch);
    json!({
        "steady_epoch_seconds": steady,
        "steady_epoch_seconds_per_run": steadies,
        "epoch_seconds_per_run": runs.iter().map(|r| r.epoch_seconds.clone()).collect::<Vec<_>>(),
        "images_per_epoch": images,
        "images_per_second": images / steady,
        "test_pair_accuracy": last.map(|r| r.test_accuracy),
        "peak_rss_mb": last.and_then(|r| r.peak_rss_mb),
        "load_before_per_run": runs.iter().map(|r| r.load_before).collect::<Vec<_>>(),
    })
}

/// Trains one of our runs under the lock and reads what it measured.
fn run_ours(
    release: &Path,
    config: &Path,
    run_dir: &Path,
    extra: &[OsString],
    options: &Options,
) -> Result<Measured> {
    if run_dir.exists() {
        fs::remove_dir_all(run_dir)
            .map_err(|e| Failure::new(format!("{}: {e}", run_dir.display())))?;
    }
    let (run, load) = locked(options.lock.as_deref(), || {
        let load = loadavg();
        Ok((train_measured(release, config, run_dir, extra)?, load))
    })?;
    let summary: Value = serde_json::from_str(&read(&run_dir.join("summary.json"))?)
        .map_err(|e| Failure::new(format!("summary.json: {e}")))?;
    // Images through the tower per epoch, as the summary counts them.
    let passes = summary["image_passes"].as_f64().unwrap_or(f64::NAN);
    let epochs = summary["epochs"].as_f64().unwrap_or(f64::NAN);
    Ok(Measured {
        images_per_epoch: passes / epochs,
        epoch_seconds: run.epoch_seconds,
        test_accuracy: run.test_accuracy,
        peak_rss_mb: run.peak_rss_mb,
        load_before: load,
    })
}

pub(crate) fn losses(args: &[OsString]) -> Result {
    let options = parse(args)?;
    let root = workspace_root()?;
    let data = std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| default_ci_data_dir(&root), PathBuf::from);
    let base = read(&root.join("configs").join("base.ron"))?;
    // Checked before the build and the first (long) run.
    for row in &ROWS {
        config_text(&base, row)?;
    }
    let torch = options
        .reference
        .then(|| venv_python("TORCH_VENV", "refvenv"))
        .filter(|python| {
            let there = python.is_file();
            if !there {
                println!(
                    "xtask bench --losses: no PyTorch runs: no {} (set TORCH_VENV, see \
                     benches/README.md)",
                    python.display()
                );
            }
            there
        });
    let script = root
        .join("benches")
        .join("reference")
        .join("torch_losses.py");
    build(&root, &["-p", "siamese-cli"])?;
    let release = target_dir(&root)?.join("release");
    let out_dir = target_dir(&root)?.join("bench");
    let runs_dir = out_dir.join("losses");
    fs::create_dir_all(&runs_dir)
        .map_err(|e| Failure::new(format!("{}: {e}", runs_dir.display())))?;
    let (started, _) = now_utc();

    let mut rows = Vec::new();
    for row in options.rows.iter().map(|&i| &ROWS[i]) {
        let config = runs_dir.join(format!("{}.ron", row.key));
        let run_dir = runs_dir.join(row.key);
        write(&config, &config_text(&base, row)?)?;
        let extra: Vec<OsString> = vec![
            "--epochs".into(),
            options.epochs.to_string().into(),
            "--data".into(),
            data.clone().into(),
            "--offline".into(),
        ];
        println!(
            "\nxtask bench --losses: {}: training {}",
            row.title,
            config.display()
        );
        // Ours and theirs alternate, so that a slow stretch of the machine falls on both.
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 1..=options.runs {
            if options.runs > 1 {
                println!(
                    "xtask bench --losses: {}: run {run} of {}",
                    row.title, options.runs
                );
            }
            ours.push(run_ours(&release, &config, &run_dir, &extra, &options)?);
            if let Some(python) = &torch {
                theirs.push(run_torch(python, &script, row, &options, &data, &root)?);
            }
        }
        let ours_record = record(&ours);
        let theirs_record = if theirs.is_empty() {
            Value::Null
        } else {
            record(&theirs)
        };
        let ratio = match (
            ours_record["steady_epoch_seconds"].as_f64(),
            theirs_record["steady_epoch_seconds"].as_f64(),
        ) {
            (Some(ours), Some(theirs)) => json!(theirs / ours),
            _ => Value::Null,
        };
        let record = json!({
            "key": row.key,
            "objective": row.title,
            "config_objective": row.objective,
            "augment": if row.augment { "Always" } else { "None" },
            "config": config,
            "ours": ours_record,
            "pytorch_pml": theirs_record,
            "pml_equivalent": row.pml,
            "pml_seconds_over_ours": ratio,
        });
        println!("\n{}", markdown(std::slice::from_ref(&record)));
        rows.push(record);
    }

    let (finished, _) = now_utc();
    let report = json!({
        "workload": "configs/base.ron with loss.objective, training.augment and training.augment_schedule replaced per row",
        "epochs": options.epochs,
        "runs": options.runs,
        "steady_epoch": "median of the epochs after the first; with several runs, the median of the runs' figures",
        "test_pair_accuracy": "Keras-style test pairs (ours: summary.json test_accuracy; PyTorch: common.create_pairs), similar when the distance between unit embeddings is below 0.8",
        "threads": 2,
        "started": started,
        "finished": finished,
        "commit": git_commit(&root),
        "cpu": cpu(),
        "lock": options.lock,
        "rows": rows,
    });
    let table = markdown(&rows);
    let json_path = out_dir.join("losses.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(e.to_string()))?;
    write(&json_path, &format!("{text}\n"))?;
    println!("\n{table}");
    println!("xtask bench --losses: wrote {}", json_path.display());
    Ok(())
}

/// Runs torch_losses.py for `row` under the lock and reads what it printed.
fn run_torch(
    python: &Path,
    script: &Path,
    row: &Row,
    options: &Options,
    data: &Path,
    root: &Path,
) -> Result<Measured> {
    println!(
        "\nxtask bench --losses: {}: PyTorch + PML (LOSS={}{})",
        row.title,
        row.torch_loss,
        if row.augment { " AUGMENT=1" } else { "" }
    );
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .current_dir(root)
        .env("LOSS", row.torch_loss)
        .env("AUGMENT", if row.augment { "1" } else { "0" })
        .env("EPOCHS", options.epochs.to_string())
        .env("THREADS", "2")
        .env("MNIST_DIR", data);
    let shown = format!("{} {}", python.display(), script.display());
    let (out, load) = locked(options.lock.as_deref(), || {
        let load = loadavg();
        Ok((capture(&mut cmd, &shown)?, load))
    })?;
    print!("{out}");
    parse_torch(&out, load).ok_or_else(|| {
        Failure::new(format!(
            "no epoch times, images per epoch or accuracy in the output of {shown}"
        ))
    })
}

/// Epoch seconds, images per epoch and the last test pair accuracy from torch_losses.py's
/// output (`images_per_epoch N`, `epoch N: time S.SSSs ... test_pair_acc A% ...`).
fn parse_torch(out: &str, load_before: Option<f64>) -> Option<Measured> {
    let epoch_seconds = reference_epoch_seconds(out);
    let images_per_epoch = out
        .lines()
        .find_map(|l| l.strip_prefix("images_per_epoch "))?
        .trim()
        .parse()
        .ok()?;
    let accuracy: f64 = out
        .lines()
        .rev()
        .filter(|l| l.starts_with("epoch "))
        .find_map(|l| {
            let rest = l.split("test_pair_acc ").nth(1)?;
            rest.split('%').next()?.trim().parse().ok()
        })?;
    let peak_rss_mb = out
        .lines()
        .find_map(|l| l.split("peak_rss_self_MB ").nth(1))
        .and_then(|v| v.trim().parse().ok());
    (!epoch_seconds.is_empty()).then_some(Measured {
        epoch_seconds,
        images_per_epoch,
        test_accuracy: accuracy / 100.0,
        peak_rss_mb,
        load_before,
    })
}

/// The table: one line per row, ours beside PyTorch + PML.
fn markdown(rows: &[Value]) -> String {
    let mut out = String::from(
        "| objective | ours s / epoch | PyTorch+PML s / epoch | PML ÷ ours | ours images/s \
         | PML images/s | ours test pair acc | PML test pair acc | PML equivalent |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let fixed = |v: &Value, digits: usize| {
        v.as_f64()
            .filter(|x| x.is_finite())
            .map_or_else(|| "—".to_owned(), |x| format!("{x:.digits$}"))
    };
    let percent = |v: &Value| {
        v.as_f64()
            .filter(|x| x.is_finite())
            .map_or_else(|| "—".to_owned(), |x| format!("{:.2}%", 100.0 * x))
    };
    for row in rows {
        let (ours, theirs) = (&row["ours"], &row["pytorch_pml"]);
        let ratio = row["pml_seconds_over_ours"]
            .as_f64()
            .map_or_else(|| "—".to_owned(), |x| format!("{x:.2}×"));
        out.push_str(&format!(
            "| {} | {} | {} | {ratio} | {} | {} | {} | {} | {} |\n",
            row["objective"].as_str().unwrap_or("?"),
            fixed(&ours["steady_epoch_seconds"], 2),
            fixed(&theirs["steady_epoch_seconds"], 2),
            fixed(&ours["images_per_second"], 0),
            fixed(&theirs["images_per_second"], 0),
            percent(&ours["test_pair_accuracy"]),
            percent(&theirs["test_pair_accuracy"]),
            row["pml_equivalent"].as_str().unwrap_or(""),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    fn base() -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        read(&root.join("configs").join("base.ron")).unwrap()
    }

    #[test]
    fn the_default_is_every_row_for_two_epochs() {
        let options = parse(&args("--losses")).unwrap();
        assert_eq!(options, Options::default());
        assert_eq!(options.rows, (0..ROWS.len()).collect::<Vec<_>>());
        assert_eq!((options.epochs, options.runs), (2, 1));
        assert!(!options.reference);
        assert_eq!(options.lock, None);
    }

    #[test]
    fn options_parse_and_bad_ones_are_usage_errors() {
        let options = parse(&args(
            "--losses --reference --epochs 3 --runs 2 --lock /tmp/l --rows supcon-augment,supcon,supcon",
        ))
        .unwrap();
        assert!(options.reference);
        assert_eq!(options.epochs, 3);
        assert_eq!(options.runs, 2);
        assert_eq!(options.lock, Some(PathBuf::from("/tmp/l")));
        assert_eq!(options.rows, vec![0, 6]);
        for bad in [
            "--losses --epochs 1",
            "--losses --epochs",
            "--losses --runs 0",
            "--losses --lock",
            "--losses --rows",
            "--losses --rows supcon,nope",
            "--losses --towers 512x256",
        ] {
            assert_eq!(parse(&args(bad)).unwrap_err().code, 2, "{bad}");
        }
    }

    #[test]
    fn every_row_replaces_the_objective_exactly_once() {
        let base = base();
        for row in &ROWS {
            let text = config_text(&base, row).unwrap();
            let objectives: Vec<&str> = text
                .lines()
                .filter(|l| l.trim_start().starts_with("objective:"))
                .collect();
            assert_eq!(
                objectives,
                vec![format!("        objective: {},", row.objective)],
                "{}",
                row.key
            );
            // Nothing else changed: with the three fields blanked, both texts are equal.
            let blank = |t: &str| -> String {
                let t = replace_field(t, "objective", "_").unwrap();
                let t = replace_field(&t, "augment", "_").unwrap();
                replace_field(&t, "augment_schedule", "_").unwrap()
            };
            assert_eq!(blank(&text), blank(&base), "{}", row.key);
        }
    }

    #[test]
    fn augmentation_is_off_or_always_on() {
        let base = base();
        let plain = config_text(&base, &ROWS[0]).unwrap();
        assert!(plain.contains("        augment: None,\n"), "{plain}");
        assert!(!plain.contains("max_shift"), "{plain}");
        // The schedule stays (it is inert without augmentation).
        assert!(plain.contains("augment_schedule: WhenFitting("), "{plain}");

        let augmented = config_text(&base, &ROWS[6]).unwrap();
        assert!(
            augmented.contains("augment_schedule: Always,\n"),
            "{augmented}"
        );
        assert!(augmented.contains("max_shift: 2.0,"), "{augmented}");
        assert!(
            !augmented.contains("augment_schedule: WhenFitting"),
            "{augmented}"
        );
    }

    #[test]
    fn replacing_a_missing_or_repeated_field_is_an_error() {
        assert!(replace_field("(\n    a: 1,\n)", "b", "2").is_err());
        assert!(replace_field("(\n    a: 1,\n    a: 2,\n)", "a", "3").is_err());
        // A comment naming the field is not the field.
        let text = "(\n    // a: 0\n    a: Some((\n        x: 1, // (\n    )),\n    b: 2,\n)";
        assert_eq!(
            replace_field(text, "a", "None").unwrap(),
            "(\n    // a: 0\n    a: None,\n    b: 2,\n)"
        );
        // The last field before the closing parenthesis, with no trailing comma.
        assert_eq!(
            replace_field("(\n    a: [1, 2]\n)", "a", "[3]").unwrap(),
            "(\n    a: [3]\n)"
        );
    }

    #[test]
    fn torch_output_parses() {
        let out = "torch_losses: LOSS=supcon\nimages_per_epoch 55000\n\
                   epoch 1: time 9.100s  train_loss 4.1  test_pair_acc 96.77%  images/s 6044\n\
                   epoch 2: time 5.000s  train_loss 3.9  test_pair_acc 97.50%  images/s 11000\n\
                   torch 2.15.0, threads 2, peak_rss_self_MB 1032\n";
        let m = parse_torch(out, Some(1.5)).unwrap();
        assert_eq!(m.epoch_seconds, vec![9.1, 5.0]);
        assert_eq!(m.images_per_epoch, 55_000.0);
        assert!((m.test_accuracy - 0.975).abs() < 1e-12);
        assert_eq!(m.peak_rss_mb, Some(1032.0));
        assert!(parse_torch("epoch 1: time 1.0s\n", None).is_none());
    }

    #[test]
    fn the_table_has_a_line_per_row() {
        let row = json!({
            "objective": "SupCon(τ 0.1)",
            "ours": {"steady_epoch_seconds": 1.25, "images_per_second": 44000.0,
                     "test_pair_accuracy": 0.9712},
            "pytorch_pml": {"steady_epoch_seconds": 5.0, "images_per_second": 11000.0,
                            "test_pair_accuracy": 0.975},
            "pml_seconds_over_ours": 4.0,
            "pml_equivalent": "SupConLoss(temperature=0.1): same loss",
        });
        let table = markdown(&[row]);
        assert!(
            table.contains(
                "| SupCon(τ 0.1) | 1.25 | 5.00 | 4.00× | 44000 | 11000 | 97.12% | 97.50% | \
                 SupConLoss(temperature=0.1): same loss |"
            ),
            "{table}"
        );
    }
}
