//! Bad invocations of the real binary, as a table: flags, configs, data directories and run
//! directories that cannot work. Each must be refused quickly with a non-zero exit code (2
//! for usage errors, 1 otherwise) and a message naming the culprit (field, file or number),
//! never a panic, and saying each cause once.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{data_dir, siamese_ok, siamese_within};

/// Longest any row may take: refusals are immediate (well under a second), a few load the
/// data first; a row that hangs (like 100,000 threads starting) is killed and fails.
const ROW_LIMIT: Duration = Duration::from_secs(10);

/// A tiny experiment: a few hundred images, one epoch. `{data}` and `{tmp}` are filled in.
const TINY: &str = r#"(
    data: (
        dir: "{data}",
        train_limit: Some(600),
        test_limit: Some(200),
        validation: Holdout(count: 100, from: Last),
    ),
    model: (hidden: [32], embedding: 8),
    loss: (margin: 1.0),
    optimizer: (lr: 0.001),
    training: (epochs: 1, batch_size: 32, pairs: Classic, seed: 7, threads: 1, shard_pairs: 16),
    output: (dir: "{tmp}/run"),
)"#;

/// [`TINY`] with `from` replaced by `to` (which must occur).
fn tiny(from: &str, to: &str) -> String {
    assert!(TINY.contains(from), "{from:?} not in the tiny config");
    TINY.replacen(from, to, 1)
}

/// One bad invocation and what it must print.
struct Row {
    /// What is wrong, for failure messages.
    name: &'static str,
    /// Files written under the row's temporary directory first: (relative path, contents).
    files: Vec<(&'static str, String)>,
    /// The arguments; `{tmp}`, `{data}`, `{run}` and `{smoke}` are filled in.
    args: Vec<&'static str>,
    /// The exit code expected.
    code: i32,
    /// What stderr must contain (after filling in the same placeholders).
    says: Vec<&'static str>,
    /// What stderr must not contain.
    never: Vec<&'static str>,
}

impl Row {
    fn new(name: &'static str, args: &[&'static str]) -> Self {
        Self {
            name,
            files: Vec::new(),
            args: args.to_vec(),
            code: 1,
            says: Vec::new(),
            never: Vec::new(),
        }
    }

    fn file(mut self, path: &'static str, contents: impl Into<String>) -> Self {
        self.files.push((path, contents.into()));
        self
    }

    fn usage(mut self) -> Self {
        self.code = 2;
        self
    }

    fn says(mut self, texts: &[&'static str]) -> Self {
        self.says.extend_from_slice(texts);
        self
    }

    fn never(mut self, texts: &[&'static str]) -> Self {
        self.never.extend_from_slice(texts);
        self
    }
}

/// `train` of the tiny config in `{tmp}/c.ron`, with more arguments.
fn train_tiny(name: &'static str, config: String, more: &[&'static str]) -> Row {
    let mut args = vec!["train", "{tmp}/c.ron", "--offline"];
    args.extend_from_slice(more);
    Row::new(name, &args).file("c.ron", config)
}

/// `train configs/smoke.ron --offline` with more arguments, by default (unless they say
/// otherwise) on the real data and into `{tmp}/run`.
fn train_smoke(name: &'static str, more: &[&'static str]) -> Row {
    let mut args = vec!["train", "{smoke}", "--offline"];
    for (flag, default) in [("--data", "{data}"), ("--out", "{tmp}/run")] {
        if !more.contains(&flag) {
            args.extend([flag, default]);
        }
    }
    args.extend_from_slice(more);
    Row::new(name, &args)
}

fn rows() -> Vec<Row> {
    vec![
        // Usage errors: clap exits with 2.
        Row::new("no command", &[])
            .usage()
            .says(&["Usage: siamese"]),
        Row::new("unknown command", &["frobnicate"])
            .usage()
            .says(&["frobnicate"]),
        Row::new("train without a config", &["train"])
            .usage()
            .says(&["<CONFIG>"]),
        train_smoke("unknown flag", &["--bogus"])
            .usage()
            .says(&["--bogus"]),
        train_smoke("negative epochs", &["--epochs", "-1"])
            .usage()
            .says(&["-1"]),
        train_smoke("batch size not a number", &["--batch-size", "many"])
            .usage()
            .says(&["many", "--batch-size"]),
        train_smoke("learning rate not a number", &["--lr", "fast"])
            .usage()
            .says(&["fast", "--lr"]),
        Row::new("search without a query", &["search", "{run}"])
            .usage()
            .says(&["--query"]),
        Row::new(
            "embed of an unknown split",
            &["embed", "{run}", "--split", "nope"],
        )
        .usage()
        .says(&["nope"]),
        // Flags with values no run can use.
        train_smoke("100,000 threads", &["--threads", "100000"]).says(&[
            "`training.threads` = 100000",
            "at most",
            "per core",
        ]),
        train_smoke("zero epochs", &["--epochs", "0"]).says(&["`training.epochs` = 0"]),
        train_smoke("zero batch", &["--batch-size", "0"]).says(&["`training.batch_size` = 0"]),
        train_smoke("zero learning rate", &["--lr", "0"]).says(&["`optimizer.lr` = 0"]),
        train_smoke("NaN learning rate", &["--lr", "NaN"]).says(&["`optimizer.lr` = NaN"]),
        train_smoke("batch beyond the pairs", &["--batch-size", "1000000"])
            .says(&["`training.batch_size` = 1000000", "training pairs"]),
        train_smoke("a class the data lacks", &["--exclude-classes", "42"])
            .says(&["`data.exclude_classes` = [42]", "0 to 9"]),
        // Config files.
        Row::new("missing config", &["train", "{tmp}/none.ron"])
            .says(&["{tmp}/none.ron", "No such file or directory"]),
        train_tiny("RON syntax error", "(data: (dir: ".into(), &[]).says(&["c.ron:1:"]),
        train_tiny("empty config", String::new(), &[]).says(&["c.ron:"]),
        train_tiny(
            "unknown field",
            tiny("seed: 7,", "seed: 7, colour: 3,"),
            &[],
        )
        .says(&["c.ron:", "colour"]),
        train_tiny(
            "a checkpoint interval of zero steps",
            tiny("seed: 7,", "seed: 7, checkpoint_every: Some(Steps(0)),"),
            &[],
        )
        .says(&["`training.checkpoint_every` = Steps(0)", "n ≥ 1"]),
        train_tiny("negative epochs", tiny("epochs: 1,", "epochs: -1,"), &[]).says(&["c.ron:11:"]),
        train_tiny("zero embedding", tiny("embedding: 8", "embedding: 0"), &[])
            .says(&["`model.embedding` = 0"]),
        train_tiny("wrong type", tiny("lr: 0.001", "lr: \"fast\""), &[]).says(&["c.ron:10:"]),
        train_tiny(
            "a billion-wide layer",
            tiny("hidden: [32]", "hidden: [1000000000]"),
            &[],
        )
        .says(&["training would need", "available", "784 → 1000000000 → 8"]),
        train_tiny(
            "a tower under 2^32 parameters but beyond memory",
            tiny("hidden: [32]", "hidden: [5000000]"),
            &[],
        )
        .says(&["training would need", "available", "model.hidden"]),
        train_tiny(
            "train_limit beyond the data",
            tiny("Some(600)", "Some(100000)"),
            &[],
        )
        .says(&["`data.train_limit` = 100000", "60000 training images"]),
        train_tiny(
            "test_limit beyond the data",
            tiny("Some(200)", "Some(20000)"),
            &[],
        )
        .says(&["`data.test_limit` = 20000", "10000 test images"]),
        train_tiny(
            "holdout of every image",
            tiny("count: 100", "count: 600"),
            &[],
        )
        .says(&["`data.validation.count` = 600", "fewer than the 600"]),
        train_tiny(
            "ten trillion random pairs",
            tiny(
                "pairs: Classic",
                "pairs: Random(count: 10000000000000, positive_fraction: 0.5, \
                 fresh_each_epoch: false)",
            ),
            &[],
        )
        .says(&["the training pairs would need", "training.pairs.count"]),
        train_tiny(
            "class-balanced batch beyond the images",
            tiny("margin: 1.0", "margin: 1.0, objective: AllPairs").replacen(
                "batch_size: 32,",
                "batch_size: 10000, batches: ClassBalanced(images_per_class: 2),",
                1,
            ),
            &[],
        )
        .says(&["`training.batch_size` = 10000", "500 training images"]),
        // Data directories.
        Row::new(
            "data flag naming a file",
            &[
                "train",
                "{smoke}",
                "--data",
                "{tmp}/passwd",
                "--out",
                "{tmp}/run",
            ],
        )
        .file("passwd", "root:x:0:0")
        .says(&["{tmp}/passwd is a file, not a directory"])
        .never(&["downloading"]),
        Row::new("config whose data dir is a file", &["train", "{tmp}/c.ron"])
            .file("c.ron", tiny("\"{data}\"", "\"{tmp}/passwd\""))
            .file("passwd", "root:x:0:0")
            .says(&["{tmp}/passwd is a file, not a directory"])
            .never(&["downloading"]),
        Row::new(
            "data command on a file",
            &["data", "--data", "{tmp}/passwd"],
        )
        .file("passwd", "root:x:0:0")
        .says(&["{tmp}/passwd is a file, not a directory"])
        .never(&["downloading"]),
        train_smoke("missing data dir", &["--data", "{tmp}/nowhere"])
            .says(&["{tmp}/nowhere: no such directory"]),
        Row::new(
            "empty data dir",
            &["data", "--offline", "--data", "{tmp}/empty"],
        )
        .file("empty/.keep", "")
        .says(&["train-images-idx3-ubyte[.gz]", "{tmp}/empty"]),
        train_smoke("data files that are not IDX", &["--data", "{tmp}/junk"])
            .file("junk/train-images-idx3-ubyte", "garbage!")
            .file("junk/train-labels-idx1-ubyte", "garbage!")
            .file("junk/t10k-images-idx3-ubyte", "garbage!")
            .file("junk/t10k-labels-idx1-ubyte", "garbage!")
            .says(&["not an IDX file", "idx"]),
        // Run directories to write.
        Row::new(
            "run dir that cannot be created",
            &[
                "train",
                "{smoke}",
                "--data",
                "{data}",
                "--out",
                "/proc/nope",
                "--offline",
            ],
        )
        .says(&[
            "cannot create the run directory /proc/nope",
            "No such file or directory",
        ]),
        train_smoke("run dir that is a file", &["--out", "{tmp}/passwd"])
            .file("passwd", "root:x:0:0")
            .says(&["{tmp}/passwd is a file, not a directory"]),
        train_smoke("run dir under a file", &["--out", "{tmp}/passwd/run"])
            .file("passwd", "root:x:0:0")
            .says(&["{tmp}/passwd/run", "Not a directory"]),
        // Run directories to read.
        Row::new("eval of a missing run", &["eval", "{tmp}/nothing"])
            .says(&["{tmp}/nothing: no such run directory; train it first"]),
        Row::new("eval of a file", &["eval", "{tmp}/passwd"])
            .file("passwd", "root:x:0:0")
            .says(&["{tmp}/passwd is a file, not a directory"]),
        Row::new("eval of an empty dir", &["eval", "{tmp}/empty"])
            .file("empty/.keep", "")
            .says(&["has no trained tower (tower.safetensors): train it first"]),
        Row::new(
            "eval of a run that stopped early",
            &["eval", "{tmp}/stopped"],
        )
        .file("stopped/checkpoint.safetensors", "x")
        .says(&["stopped before the end", "--out {tmp}/stopped --resume"]),
        Row::new("eval of a truncated tower", &["eval", "{tmp}/run"])
            .file("run/config.ron", TINY)
            .file("run/tower.safetensors", "\u{8}\0\0")
            .says(&["{tmp}/run/tower.safetensors"]),
        Row::new("eval of a broken config.ron", &["eval", "{tmp}/run"])
            .file("run/config.ron", "(")
            .file("run/tower.safetensors", "x")
            .says(&["{tmp}/run/config.ron:"]),
        Row::new("report of a missing run", &["report", "{tmp}/nothing"])
            .says(&["no such run directory; train it first"]),
        Row::new("report of a file", &["report", "{tmp}/passwd"])
            .file("passwd", "root:x:0:0")
            .says(&["{tmp}/passwd is a file, not a directory"]),
        Row::new(
            "search of a missing run",
            &["search", "{tmp}/nothing", "-q", "0"],
        )
        .says(&["no such run directory; train it first"]),
        Row::new("embed of an empty dir", &["embed", "{tmp}/empty"])
            .file("empty/.keep", "")
            .says(&["has no trained tower"]),
        Row::new("anomaly of a missing run", &["anomaly", "{tmp}/nothing"])
            .says(&["no such run directory; train it first"]),
        // A trained run asked for what it cannot give.
        Row::new(
            "search beyond the test images",
            &["search", "{run}", "-q", "5000"],
        )
        .says(&["query 5000", "within 0..200"]),
        Row::new(
            "search of an empty range",
            &["search", "{run}", "-q", "5..3"],
        )
        .says(&["found 5..3"]),
        Row::new(
            "search for no neighbours",
            &["search", "{run}", "-q", "0", "-k", "0"],
        )
        .says(&["k = 0"]),
        Row::new(
            "search of a query file that is not IDX",
            &["search", "{run}", "-q", "{tmp}/junk"],
        )
        .file("junk", "garbage!")
        .says(&["{tmp}/junk: not an IDX file"]),
        Row::new(
            "search with an index file that is not one",
            &["search", "{run}", "-q", "0", "--index", "{tmp}/junk"],
        )
        .file("junk", "garbage!")
        .says(&["{tmp}/junk"]),
        Row::new("anomaly with no held-out classes", &["anomaly", "{run}"])
            .says(&["held-out classes = []"]),
        Row::new(
            "anomaly of a class the data lacks",
            &["anomaly", "{run}", "--classes", "42"],
        )
        .says(&["held-out classes = [42]", "0 to 9"]),
        Row::new(
            "embeddings into an impossible dir",
            &["embed", "{run}", "--out", "/proc/nope"],
        )
        .says(&["/proc/nope", "No such file or directory"]),
        Row::new(
            "eval with a file for data",
            &["eval", "{run}", "--data", "{tmp}/passwd"],
        )
        .file("passwd", "root:x:0:0")
        .says(&["{tmp}/passwd is a file, not a directory"]),
    ]
}

/// Why `stderr` repeats itself, if it does: a line twice, a `": "`-separated part of a
/// message twice (a cause printed by two layers), or the operating system's text twice.
fn repetition(stderr: &str) -> Option<String> {
    let mut lines = HashSet::new();
    let mut parts = HashSet::new();
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !lines.insert(line) {
            return Some(format!("line {line:?} twice"));
        }
        for part in line.split(": ").filter(|p| p.len() > 3) {
            if !parts.insert(part) {
                return Some(format!("{part:?} twice"));
            }
        }
    }
    (stderr.matches("(os error").count() > 1).then(|| "OS error text twice".to_owned())
}

#[test]
fn the_repetition_check_catches_a_cause_said_twice() {
    let os = "No such file or directory (os error 2)";
    assert!(repetition(&format!("error: /proc/nope: {os}: {os}")).is_some());
    assert!(repetition("error: a\nerror: a\n").is_some());
    assert!(
        repetition(&format!(
            "error: cannot create the run directory /proc/nope: {os}"
        ))
        .is_none()
    );
}

#[test]
fn bad_invocations_are_refused_quickly_and_clearly() {
    let data = data_dir();
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.ron");
    let shared = tempfile::tempdir().unwrap();
    let fill = |text: &str, tmp: &Path| {
        text.replace("{tmp}", tmp.to_str().unwrap())
            .replace("{data}", data.to_str().unwrap())
            .replace("{run}", shared.path().join("run").to_str().unwrap())
            .replace("{smoke}", smoke.to_str().unwrap())
    };
    let config = shared.path().join("tiny.ron");
    std::fs::write(&config, fill(TINY, shared.path())).unwrap();
    siamese_ok(&["train", config.to_str().unwrap(), "--offline"]);

    let rows = rows();
    assert!(rows.len() >= 30, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let tmp = tempfile::tempdir().unwrap();
        for (path, contents) in &row.files {
            let path = tmp.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, fill(contents, tmp.path())).unwrap();
        }
        let args: Vec<String> = row.args.iter().map(|a| fill(a, tmp.path())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let start = Instant::now();
        let out = siamese_within(&args, ROW_LIMIT);
        let seconds = start.elapsed().as_secs_f64();
        let stderr = &out.stderr;
        let mut wrong = Vec::new();
        match out.code {
            None => wrong.push(format!("killed after {seconds:.1} s")),
            Some(code) if code != row.code => {
                wrong.push(format!("exit code {code}, expected {}", row.code));
            }
            Some(_) => {}
        }
        for text in &row.says {
            let text = fill(text, tmp.path());
            if !stderr.contains(&text) {
                wrong.push(format!("does not say {text:?}"));
            }
        }
        for text in row.never.iter().chain(&["panicked", "RUST_BACKTRACE"]) {
            if stderr.contains(text) {
                wrong.push(format!("says {text:?}"));
            }
        }
        if let Some(why) = repetition(stderr) {
            wrong.push(why);
        }
        if !out.stdout.is_empty() {
            wrong.push(format!("prints on stdout: {:?}", out.stdout));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} ({args:?}, {seconds:.2} s): {}\n{stderr}",
                row.name,
                wrong.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows wrong:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
