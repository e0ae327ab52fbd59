//! `cargo xtask bench --search`: embedding and exact search, ours beside the standard tools.
//!
//! Trains `configs/keras-parity.ron` into `target/bench/search-run` (or reuses the tower
//! there), then, all with the same number of threads (2 unless `--threads`):
//!
//! 1. `search-bench` (benches/search_bench.rs) times, inside its process, our embedding of
//!    all 70,000 MNIST images and our exact k = 10 search of the 10,000 test embeddings
//!    against the 60,000 training embeddings, and writes the embeddings and neighbours as
//!    `.npy`;
//! 2. `siamese search <run> --query all -k 10` is timed as a whole process (wall), the way a
//!    user runs it (loading the index and the images, embedding the queries, the search,
//!    the JSON);
//! 3. `benches/reference/search_reference.py` times FAISS `IndexFlatL2` on the same
//!    embeddings and a PyTorch forward pass of the same tower over the same images, and
//!    checks both agree with ours (neighbour ids up to near-ties, embeddings to 1e-4).
//!
//! Medians of `--repeats` runs (5 by default). Writes `target/bench/search.json` and prints
//! a table. Timings are only worth comparing on an otherwise idle machine: on a shared one,
//! run it under a lock the other jobs respect (`flock /tmp/bench.lock cargo xtask bench
//! --search`, after a first call has built everything).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{build, capture, flag_number, median};
use crate::{DATA_DIR_ENV, Failure, Result, default_ci_data_dir, target_dir, workspace_root};

/// Embeddings from PyTorch may differ from ours by rounding only: the same weights, the
/// same float32 arithmetic in another order.
const EMBEDDING_TOLERANCE: f64 = 1e-4;

struct Options {
    threads: usize,
    repeats: usize,
    k: usize,
    run: Option<PathBuf>,
}

pub(crate) fn bench_search(args: &[OsString]) -> Result {
    let options = parse(args)?;
    let root = workspace_root()?;
    build(&root, &["-p", "siamese-cli", "-p", "siamese-benches"])?;
    let release = target_dir(&root)?.join("release");
    let out_dir = target_dir(&root)?.join("bench");
    let files = out_dir.join("search-files");
    std::fs::create_dir_all(&files)
        .map_err(|e| Failure::new(format!("{}: {e}", files.display())))?;
    let data_dir = std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| default_ci_data_dir(&root), PathBuf::from);
    let siamese = release.join(format!("siamese{}", std::env::consts::EXE_SUFFIX));
    let run = match &options.run {
        Some(run) => run.clone(),
        None => trained_run(&root, &siamese, &out_dir, &data_dir)?,
    };
    let (threads, repeats, k) = (options.threads, options.repeats, options.k);

    println!(
        "xtask bench --search: timing our embedding and search ({threads} threads, {repeats} repeats)"
    );
    let ours = capture(
        Command::new(release.join("search-bench"))
            .arg(&run)
            .arg(&files)
            .args([threads, repeats, k].map(|n| n.to_string()))
            .env(DATA_DIR_ENV, &data_dir)
            .env("RAYON_NUM_THREADS", threads.to_string()),
        "search-bench",
    )?;
    let ours: Value = serde_json::from_str(ours.trim())
        .map_err(|e| Failure::new(format!("search-bench output: {e}")))?;
    let embed = median(seconds(&ours["embed_seconds"]));
    let search = median(seconds(&ours["search_seconds"]));

    println!("xtask bench --search: timing `siamese search --query all -k {k}` (wall)");
    let cli = time_cli(&siamese, &run, &files, &data_dir, threads, repeats, k)?;
    let cli_wall = median(cli.iter().map(|c| c.0).collect());
    let cli_reported = median(cli.iter().map(|c| c.1).collect());

    let reference = run_reference(&root, &run, &files, &data_dir, threads, repeats)?;
    let faiss = reference["faiss_search_median"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let torch = reference["torch_forward_median"]
        .as_f64()
        .unwrap_or(f64::NAN);
    check_agreement(&reference)?;

    let report = json!({
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "cpu": crate::quality::cpu(),
        "threads": threads,
        "repeats": repeats,
        "k": ours["k"],
        "run": run.display().to_string(),
        "ours": {
            "embed_seconds_median": embed,
            "search_seconds_median": search,
            "cli_search_wall_seconds_median": cli_wall,
            "cli_search_reported_seconds_median": cli_reported,
            "cli_search_wall_seconds": cli.iter().map(|c| c.0).collect::<Vec<_>>(),
            "cli_search_reported_seconds": cli.iter().map(|c| c.1).collect::<Vec<_>>(),
            "search_bench": ours,
        },
        "reference": reference,
        "search_speedup_vs_faiss": faiss / search,
        "embed_speedup_vs_pytorch": torch / embed,
    });
    let path = out_dir.join("search.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(e.to_string()))?;
    siamese_io::write_atomically(&path, format!("{text}\n").as_bytes())
        .map_err(|e| Failure::new(e.to_string()))?;

    let n_train = ours["train_images"].as_u64().unwrap_or(0);
    let n_test = ours["test_images"].as_u64().unwrap_or(0);
    println!();
    println!(
        "| {threads} threads, median of {repeats} | siamese | reference | ours vs reference |"
    );
    println!("|---|---|---|---|");
    println!(
        "| embed {} images | {embed:.3} s | PyTorch forward {torch:.3} s | {} |",
        n_train + n_test,
        faster(torch, embed)
    );
    println!(
        "| exact search, {n_test} × {n_train}, k = {k} | {search:.3} s | FAISS IndexFlatL2 {faiss:.3} s | {} |",
        faster(faiss, search)
    );
    println!(
        "| `siamese search --query all -k {k}`, whole process | {cli_wall:.3} s wall ({cli_reported:.3} s embed + search as it reports) | | |"
    );
    println!();
    println!("xtask bench --search: wrote {}", path.display());
    Ok(())
}

fn parse(args: &[OsString]) -> Result<Options> {
    let mut options = Options {
        threads: 2,
        repeats: 5,
        k: 10,
        run: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let flag = arg.to_str().unwrap_or_default();
        match flag {
            "--search" => {}
            "--threads" => options.threads = flag_number(iter.next(), flag, 1)?,
            "--repeats" => options.repeats = flag_number(iter.next(), flag, 1)?,
            "-k" => options.k = flag_number(iter.next(), flag, 1)?,
            "--run" => {
                let dir = iter
                    .next()
                    .ok_or_else(|| Failure::usage("`--run` takes a run directory"))?;
                options.run = Some(PathBuf::from(dir));
            }
            _ => {
                return Err(Failure::usage(format!(
                    "`bench --search` does not take {arg:?}"
                )));
            }
        }
    }
    Ok(options)
}

/// `target/bench/search-run`, trained with the parity config unless a tower is there.
fn trained_run(root: &Path, siamese: &Path, out_dir: &Path, data_dir: &Path) -> Result<PathBuf> {
    let run = out_dir.join("search-run");
    if run.join("tower.safetensors").is_file() && run.join("summary.json").is_file() {
        println!(
            "xtask bench --search: reusing the trained run {}",
            run.display()
        );
        return Ok(run);
    }
    let config = root.join("configs").join("keras-parity.ron");
    println!(
        "xtask bench --search: training {} into {}",
        config.display(),
        run.display()
    );
    capture(
        Command::new(siamese)
            .arg("train")
            .arg(&config)
            .arg("--out")
            .arg(&run)
            .args(["--threads", "2"])
            .env(DATA_DIR_ENV, data_dir),
        "siamese train",
    )?;
    Ok(run)
}

/// Wall seconds of whole `siamese search` processes, and the seconds each reports for its
/// embedding and search; after one untimed run that builds (and saves) the index.
fn time_cli(
    siamese: &Path,
    run: &Path,
    files: &Path,
    data_dir: &Path,
    threads: usize,
    repeats: usize,
    k: usize,
) -> Result<Vec<(f64, f64)>> {
    let mut times = Vec::with_capacity(repeats);
    for i in 0..=repeats {
        let mut cmd = Command::new(siamese);
        cmd.arg("search")
            .arg(run)
            .args([
                "--query",
                "all",
                "-k",
                &k.to_string(),
                "--show",
                "0",
                "--json",
            ])
            .arg(files.join("cli-search.json"))
            .env(DATA_DIR_ENV, data_dir)
            .env("RAYON_NUM_THREADS", threads.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let out = cmd
            .output()
            .map_err(|e| Failure::new(format!("could not run `siamese search`: {e}")))?;
        let wall = start.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprint!("{stderr}");
            return Err(Failure::new(format!(
                "`siamese search` failed ({})",
                crate::describe(out.status)
            )));
        }
        // "searched 10000 queries against 60000 training images (k = 10) in 0.93 s"
        let reported = stderr
            .lines()
            .find_map(|l| {
                l.strip_prefix("searched ")?
                    .rsplit(" in ")
                    .next()?
                    .strip_suffix(" s")?
                    .parse()
                    .ok()
            })
            .ok_or_else(|| {
                Failure::new(format!(
                    "no search time in `siamese search`'s output: {stderr}"
                ))
            })?;
        if i > 0 {
            times.push((wall, reported));
        }
    }
    Ok(times)
}

/// Runs the FAISS and PyTorch reference in the PyTorch virtualenv (`TORCH_VENV`, else the
/// temp dir's `refvenv`, as for `--reference`).
fn run_reference(
    root: &Path,
    run: &Path,
    files: &Path,
    data_dir: &Path,
    threads: usize,
    repeats: usize,
) -> Result<Value> {
    let venv = std::env::var_os("TORCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("refvenv"));
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        return Err(Failure::new(format!(
            "no {}: make a virtualenv with `pip install faiss-cpu torch numpy` and set TORCH_VENV \
             to it (see benches/README.md)",
            python.display()
        )));
    }
    let script = root
        .join("benches")
        .join("reference")
        .join("search_reference.py");
    println!(
        "xtask bench --search: timing FAISS and PyTorch ({})",
        script.display()
    );
    let out = capture(
        Command::new(&python)
            .arg(&script)
            .arg(files)
            .arg(run.join("tower.safetensors"))
            .arg(data_dir)
            .args([threads, repeats].map(|n| n.to_string())),
        &format!("{} {}", python.display(), script.display()),
    )?;
    serde_json::from_str(out.trim())
        .map_err(|e| Failure::new(format!("search_reference.py output: {e}")))
}

/// Fails unless FAISS's neighbours differ from ours only by near-ties and PyTorch's
/// embeddings equal ours up to rounding: a speed comparison of different answers means
/// nothing.
fn check_agreement(reference: &Value) -> Result {
    let neighbors = &reference["neighbors"];
    let unexplained = neighbors["unexplained_by_ties"].as_u64();
    if unexplained != Some(0) {
        return Err(Failure::new(format!(
            "FAISS's neighbours differ from ours beyond near-ties: {neighbors}"
        )));
    }
    let embeddings = &reference["embeddings"];
    let gap = embeddings["max_abs_difference"]
        .as_f64()
        .unwrap_or(f64::INFINITY);
    if gap > EMBEDDING_TOLERANCE {
        return Err(Failure::new(format!(
            "PyTorch's embeddings differ from ours by {gap:e} (> {EMBEDDING_TOLERANCE:e})"
        )));
    }
    println!(
        "xtask bench --search: results agree: {} of {} neighbour ids differ from FAISS's, all \
         near-ties; embeddings within {gap:.1e} of PyTorch's",
        neighbors["differing_ids"],
        neighbors["queries"].as_u64().unwrap_or(0) * neighbors["k"].as_u64().unwrap_or(0)
    );
    Ok(())
}

fn seconds(values: &Value) -> Vec<f64> {
    values
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// "1.41× faster" or "1.20× slower": how ours compares with theirs.
fn faster(theirs: f64, ours: f64) -> String {
    if ours <= theirs {
        format!("{:.2}× faster", theirs / ours)
    } else {
        format!("{:.2}× slower", ours / theirs)
    }
}
