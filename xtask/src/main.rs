//! `cargo xtask`: the project's automation, in plain Rust instead of shell scripts.
//!
//! Run `cargo xtask` (an alias from `.cargo/config.toml`) for the list of tasks. The most
//! important one is `cargo xtask ci`, which runs exactly what CI runs: formatting check,
//! clippy with warnings denied, and the whole test suite.
//!
//! Only the standard library, serde_json (to read run files), tempfile and `siamese-io`'s
//! atomic writer are used, so this builds in seconds. Cargo is always invoked through the
//! `CARGO` environment variable (set by `cargo run`), falling back to `cargo`, so the
//! toolchain that started the xtask is the one that does the work.

mod bench;
mod fuzz;
mod losses;
mod quality;
mod sweep;

use std::env;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Instant;

const HELP: &str = "\
cargo xtask: project automation for the siamese workspace

USAGE:
    cargo xtask <TASK> [ARGS...]

TASKS:
    ci                  Run exactly what CI runs, in order, stopping at the first failure:
                          cargo fmt --all -- --check
                          cargo fmt --manifest-path fuzz/Cargo.toml -- --check
                          cargo clippy --workspace --all-targets -- -D warnings
                          cargo test --workspace
                        Sets SIAMESE_DATA_DIR for the tests if it is unset: ../shared/data/mnist
                        beside the workspace when present (CI's layout), else data/mnist.
    train <CONFIG> [..] Build the release CLI and run `siamese train <CONFIG> [..]`,
                        e.g. `cargo xtask train configs/base.ron --epochs 1`.
    eval <RUN-DIR> [..] Build the release CLI and run `siamese eval <RUN-DIR> [..]`.
    report <RUN-DIR> [..]
                        Build the release CLI and run `siamese report <RUN-DIR> [..]`: PNG
                        pictures and report.md in the run directory.
    data [..]           Build the release CLI and run `siamese data [..]`,
                        e.g. `cargo xtask data --offline --data /path/to/mnist`.
    bench [--reference] [--runs N] [--data mnist|fashion]
                        Train configs/keras-parity.ron in release, measure the sgemm peak at
                        the training shapes, write target/bench/bench.json (steady epoch =
                        median of epochs 2-5, GFLOP/s, peak RSS, test accuracy). --reference
                        also runs the JAX and PyTorch references of ../shared/reference when
                        their virtualenvs exist; --runs repeats everything back to back;
                        --data picks the data set (default mnist; directories as for
                        `quality`).
    bench --sweep [--reference] [--epochs N] [--towers 512x256,..] [--batches 128,..]
                  [--lock FILE]
                        How cost grows with the work: trains the parity workload for N
                        (default 2) epochs at hidden layers [512, 256], [1024, 512] and
                        [2048, 1024], batch 128 and 512, first layer sparse and dense, and
                        writes target/bench/sweep.json and sweep.md (steady epoch seconds,
                        dense-equivalent GFLOP/s; also printed). --reference runs
                        benches/reference/jax_sweep.py (JAX, lax.scan epoch) on each tower and
                        batch; --lock FILE holds an exclusive flock on FILE during each timed
                        run and releases it in between.
    bench --search [--threads N] [--repeats N] [-k K] [--run RUN-DIR]
                        Time our embedding of all 70,000 MNIST images and our exact k-NN
                        search (10,000 test x 60,000 training embeddings, k = 10) inside the
                        process, and `siamese search --query all` as a whole process, beside
                        FAISS IndexFlatL2 and a PyTorch forward pass of the same tower
                        (benches/reference/search_reference.py in $TORCH_VENV or
                        $TMPDIR/refvenv); checks the answers agree; medians of 5 on 2
                        threads; writes target/bench/search.json. Trains
                        target/bench/search-run unless it exists or --run names one.
    bench --losses [--reference] [--epochs N] [--runs N] [--rows KEY,..] [--lock FILE]
                        What each in-batch objective costs: trains configs/base.ron for N
                        (default 2) epochs once per objective (SupCon, MultiSimilarity,
                        Triplet BatchHard / SemiHard / BatchAll, AllPairs; augmentation off)
                        and once as SupCon with augmentation always on, and writes
                        target/bench/losses.json (steady epoch seconds, images/s, test pair
                        accuracy; the table is printed). --reference runs
                        benches/reference/torch_losses.py (PyTorch + pytorch-metric-learning,
                        $TORCH_VENV, else /tmp/refvenv) on each row; --runs N alternates N
                        runs of each side per row (median reported); --rows picks rows
                        (supcon, multi-similarity, triplet-batch-hard, triplet-semihard,
                        triplet-batch-all, all-pairs, supcon-augment); --lock FILE as for
                        --sweep.
    quality [--configs A,B] [--datasets mnist,fashion] [--novelty [--novelty-config NAME]]
            [--threads N] [--out DIR]
                        Train each shipped config (default: configs/*.ron but smoke,
                        keras-parity and novelty) on MNIST and Fashion-MNIST, `siamese eval`
                        each run and write quality.md (one table per data set: pair accuracy,
                        ROC AUC, k-NN, P@1, MAP@R, training time, raw-pixel baseline) and
                        quality.json into DIR (default target/quality). Data from
                        ../shared/data/{mnist,fashion-mnist} or $SIAMESE_MNIST_DIR /
                        $SIAMESE_FASHION_DIR; 2 threads unless --threads. --novelty also
                        trains configs/novelty.ron (or NAME) once per class with that class
                        left out and reports `siamese anomaly` AUROC, learned vs raw.
    fuzz [--target NAME] [SECONDS]
                        Run each cargo-fuzz target of fuzz/ (or only NAME: idx_reader,
                        ron_config, tower_file, checkpoint_file, search_index) for SECONDS
                        (default 60), from seeds that fuzz/examples/seeds.rs writes with the
                        project's own writers into fuzz/seeds/. Prints each target's
                        executions, corpus size and whether it crashed; exits non-zero on a
                        crash (inputs in fuzz/artifacts/<target>/). Needs `cargo install
                        cargo-fuzz`; RUSTC_BOOTSTRAP=1 lets it run on stable.
    help                Print this help.
";

/// The CI steps, in order: each is the argument list of one cargo invocation.
const CI_STEPS: &[&[&str]] = &[
    &["fmt", "--all", "--", "--check"],
    // The fuzz crate is a workspace of its own, which `--all` does not reach.
    &["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"],
    &[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ],
    &["test", "--workspace"],
];

/// The environment variable naming the MNIST directory (read by the data crate and tests).
const DATA_DIR_ENV: &str = "SIAMESE_DATA_DIR";

/// Why a task failed: a message for the user and the exit code to leave with.
#[derive(Debug)]
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// A failure with exit code 1.
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }

    /// A misuse of the command line: exit code 2, with a pointer to the help.
    fn usage(message: impl fmt::Display) -> Self {
        Self {
            message: format!("{message}\nrun `cargo xtask help` for the list of tasks"),
            code: 2,
        }
    }
}

type Result<T = ()> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("xtask: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(args: &[OsString]) -> Result {
    let Some((task, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(());
    };
    let task = task
        .to_str()
        .ok_or_else(|| Failure::usage(format!("task {task:?} is not valid UTF-8")))?;
    match task {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "ci" => ci(rest),
        "train" => siamese("train", rest, Some("a config, e.g. configs/base.ron")),
        "eval" => siamese("eval", rest, Some("a run directory, e.g. runs/base")),
        "report" => siamese("report", rest, Some("a run directory, e.g. runs/base")),
        "data" => siamese("data", rest, None),
        "fuzz" => fuzz::fuzz(rest),
        "bench" => bench::bench(rest),
        "quality" => quality::quality(rest),
        other => Err(Failure::usage(format!("unknown task `{other}`"))),
    }
}

/// `cargo xtask ci`: the CI steps in order, failing fast with the failing step named.
fn ci(args: &[OsString]) -> Result {
    if let Some(arg) = args.first() {
        return Err(Failure::usage(format!(
            "`ci` takes no arguments, got {arg:?}"
        )));
    }
    let root = workspace_root()?;
    let data_dir = match env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            println!(
                "xtask ci: {DATA_DIR_ENV}={} (from the environment)",
                dir.display()
            );
            dir
        }
        None => {
            let dir = default_ci_data_dir(&root);
            println!("xtask ci: {DATA_DIR_ENV}={} (set by xtask)", dir.display());
            dir
        }
    };
    if !data_dir.is_dir() {
        println!(
            "xtask ci: note: {} does not exist; the tests on the real MNIST files will fail \
             (set {DATA_DIR_ENV} to a directory holding them)",
            data_dir.display()
        );
    }

    let total = Instant::now();
    for (i, step) in CI_STEPS.iter().enumerate() {
        let shown = format!("cargo {}", step.join(" "));
        println!("\nxtask ci: [{}/{}] {shown}", i + 1, CI_STEPS.len());
        let started = Instant::now();
        let mut cmd = cargo();
        cmd.args(*step)
            .current_dir(&root)
            .env(DATA_DIR_ENV, &data_dir);
        let status = status(&mut cmd, &shown)?;
        if !status.success() {
            return Err(Failure::new(format!(
                "CI step {}/{} failed ({}): {shown}",
                i + 1,
                CI_STEPS.len(),
                describe(status)
            )));
        }
        println!(
            "xtask ci: [{}/{}] ok in {:.1} s",
            i + 1,
            CI_STEPS.len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "\nxtask ci: all {} steps passed in {:.1} s",
        CI_STEPS.len(),
        total.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Where CI keeps MNIST: `../shared/data/mnist` beside the workspace when it exists (a fresh
/// clone next to the shared, read-only data), else the default download location.
fn default_ci_data_dir(root: &Path) -> PathBuf {
    let shared = root
        .parent()
        .map(|parent| parent.join("shared").join("data").join("mnist"));
    match shared {
        Some(dir) if dir.is_dir() => dir,
        _ => root.join("data").join("mnist"),
    }
}

/// `cargo xtask <train|eval|report|data> ...`: builds the release CLI, then runs
/// `siamese <subcommand> <args>` from the current directory (so relative paths mean what
/// the user typed) and leaves with its exit code.
fn siamese(subcommand: &str, args: &[OsString], required: Option<&str>) -> Result {
    if let (Some(what), true) = (required, args.is_empty()) {
        return Err(Failure::usage(format!("`{subcommand}` needs {what}")));
    }
    let root = workspace_root()?;
    let manifest = root.join("Cargo.toml");
    let build = "cargo build --release -p siamese-cli";
    let mut cmd = cargo();
    cmd.args(["build", "--release", "-p", "siamese-cli", "--manifest-path"])
        .arg(&manifest);
    let built = status(&mut cmd, build)?;
    if !built.success() {
        return Err(Failure::new(format!(
            "{build} failed ({})",
            describe(built)
        )));
    }

    let binary = target_dir(&root)?
        .join("release")
        .join(format!("siamese{}", env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        return Err(Failure::new(format!(
            "{build} succeeded but {} does not exist (is `build.target-dir` set in a cargo \
             config? set CARGO_TARGET_DIR instead)",
            binary.display()
        )));
    }
    let shown = format!("{} {subcommand}", binary.display());
    run_to_success(Command::new(&binary).arg(subcommand).args(args), &shown)
}

/// Runs `cmd`; a failure becomes this task's, with the child's exit code.
fn run_to_success(cmd: &mut Command, shown: &str) -> Result {
    let ran = status(cmd, shown)?;
    if ran.success() {
        Ok(())
    } else {
        Err(Failure {
            message: format!("{shown} failed ({})", describe(ran)),
            code: exit_code(ran),
        })
    }
}

/// A `Command` for cargo: `$CARGO` when set (it is, under `cargo run`), else `cargo`.
fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Runs `cmd` to completion, inheriting stdio; `shown` names it in the error if it cannot
/// be started at all.
fn status(cmd: &mut Command, shown: &str) -> Result<ExitStatus> {
    cmd.status()
        .map_err(|e| Failure::new(format!("could not run `{shown}`: {e}")))
}

/// "exit code N" or, for a process killed by a signal, what the platform says.
fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}

/// The exit code to pass on for a failed child: its own when it has one in 1..=255, else 1.
fn exit_code(status: ExitStatus) -> u8 {
    status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .filter(|&c| c != 0)
        .unwrap_or(1)
}

/// The workspace root: the parent of this package's directory. Read at run time from
/// `CARGO_MANIFEST_DIR` (set by `cargo run`), else the path this binary was built from.
fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .filter(|root| root.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            Failure::new(format!(
                "cannot find the workspace root above {} (expected a Cargo.toml in its parent)",
                manifest_dir.display()
            ))
        })
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the current directory, as
/// cargo reads it) when set, else `<root>/target`.
fn target_dir(root: &Path) -> Result<PathBuf> {
    match env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => absolute(Path::new(&dir)),
        None => Ok(root.join("target")),
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| Failure::new(format!("cannot resolve {}: {e}", path.display())))
}
