//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/` in turn, each from a seed corpus
//! written by the project's own writers, with a line per target saying how many inputs ran
//! and whether one crashed.
//!
//! cargo-fuzz needs nightly-only flags (sanitizers); `RUSTC_BOOTSTRAP=1` unlocks them on a
//! stable toolchain. Each target keeps what it learns in `fuzz/corpus/<target>/` (ignored
//! by git) and reads the seeds from `fuzz/seeds/<target>/`, regenerated on every run by
//! `fuzz/examples/seeds.rs`; crashes land in `fuzz/artifacts/<target>/`.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::{Failure, Result, cargo, describe, exit_code, run_to_success, workspace_root};

/// Seconds each target runs when not told otherwise.
const DEFAULT_SECONDS: u64 = 60;

/// The targets, in the order they run: the binaries of `fuzz/Cargo.toml`.
const TARGETS: &[&str] = &[
    "idx_reader",
    "ron_config",
    "tower_file",
    "checkpoint_file",
    "search_index",
    "image_file",
    "csv_manifest",
    "npy_arrays",
];

/// What one target's run came to.
struct Outcome {
    target: &'static str,
    /// From libFuzzer's final `Done N runs in S second(s)`, else its last status line.
    executions: Option<u64>,
    seconds: Option<u64>,
    /// Files in the target's corpus directory afterwards, and their total size.
    corpus: (usize, u64),
    /// The crashing input libFuzzer wrote, if any.
    crash: Option<String>,
}

pub(crate) fn fuzz(args: &[OsString]) -> Result {
    let (targets, seconds) = parse_args(args)?;
    let root = workspace_root()?;
    let fuzz_dir = root.join("fuzz");

    let installed = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        return Err(Failure::new(
            "cargo-fuzz is not installed; install it with `cargo install cargo-fuzz`",
        ));
    }

    let seeds = fuzz_dir.join("seeds");
    write_seeds(&fuzz_dir, &seeds)?;
    // The targets hand their input to the file readers through a scratch file in a
    // directory of their own that libFuzzer's `exit` never removes: under this TMPDIR it
    // goes when the xtask ends.
    let scratch = tempfile::Builder::new()
        .prefix("siamese-xtask-fuzz-")
        .tempdir()
        .map_err(|e| Failure::new(format!("cannot create a scratch directory: {e}")))?;

    let mut outcomes = Vec::with_capacity(targets.len());
    for target in targets {
        let outcome = run_target(&fuzz_dir, &seeds, scratch.path(), target, seconds)?;
        println!("xtask fuzz: {}", describe_outcome(&outcome));
        outcomes.push(outcome);
    }

    println!(
        "\nxtask fuzz: {} target(s), {seconds} s each",
        outcomes.len()
    );
    for outcome in &outcomes {
        println!("  {}", describe_outcome(outcome));
    }
    let reproduce: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let artifact = o.crash.as_deref()?;
            Some(format!(
                "RUSTC_BOOTSTRAP=1 cargo fuzz run {} {artifact}",
                o.target
            ))
        })
        .collect();
    if reproduce.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{} target(s) crashed; reproduce in {} with\n  {}",
            reproduce.len(),
            fuzz_dir.display(),
            reproduce.join("\n  ")
        )))
    }
}

/// `[--target NAME] [SECONDS]`, in any order.
fn parse_args(args: &[OsString]) -> Result<(Vec<&'static str>, u64)> {
    let mut target = None;
    let mut seconds = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .to_str()
            .ok_or_else(|| Failure::usage(format!("`fuzz`: {arg:?} is not valid UTF-8")))?;
        let name = if arg == "--target" {
            let name = args
                .next()
                .ok_or_else(|| Failure::usage("`fuzz --target` needs a target name"))?;
            Some(name.to_string_lossy().into_owned())
        } else {
            arg.strip_prefix("--target=").map(str::to_owned)
        };
        if let Some(name) = name {
            let known = TARGETS.iter().find(|&&t| t == name).ok_or_else(|| {
                Failure::usage(format!(
                    "`fuzz`: no target `{name}`; the targets are {}",
                    TARGETS.join(", ")
                ))
            })?;
            if target.replace(*known).is_some() {
                return Err(Failure::usage("`fuzz` takes --target once"));
            }
        } else if seconds.is_none() {
            let s = arg.parse::<u64>().ok().filter(|&s| s > 0).ok_or_else(|| {
                Failure::usage(format!(
                    "`fuzz` takes [--target NAME] [SECONDS], SECONDS a positive number, \
                     got {arg:?}"
                ))
            })?;
            seconds = Some(s);
        } else {
            return Err(Failure::usage(format!(
                "`fuzz` takes at most one number of seconds, got also {arg:?}"
            )));
        }
    }
    let targets = target.map_or_else(|| TARGETS.to_vec(), |t| vec![t]);
    Ok((targets, seconds.unwrap_or(DEFAULT_SECONDS)))
}

/// Regenerates `seeds/<target>/` with the fuzz crate's `seeds` example, an ordinary build
/// (no sanitizer), so that the seeds always match what this build writes.
fn write_seeds(fuzz_dir: &Path, seeds: &Path) -> Result {
    match std::fs::remove_dir_all(seeds) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot clear {}: {e}",
                seeds.display()
            )));
        }
    }
    let shown = "cargo run --manifest-path fuzz/Cargo.toml --example seeds";
    println!("xtask fuzz: {shown} -- {}", seeds.display());
    let mut cmd = cargo();
    cmd.args(["run", "--manifest-path"])
        .arg(fuzz_dir.join("Cargo.toml"))
        .args(["--example", "seeds", "--"])
        .arg(seeds);
    run_to_success(&mut cmd, shown)
}

/// Runs one target for `seconds`, echoing libFuzzer's output and reading its figures.
fn run_target(
    fuzz_dir: &Path,
    seeds: &Path,
    scratch: &Path,
    target: &'static str,
    seconds: u64,
) -> Result<Outcome> {
    // libFuzzer adds new inputs to the first corpus directory only, so the seeds stay
    // as generated.
    let corpus = fuzz_dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", corpus.display())))?;
    let limit = format!("-max_total_time={seconds}");
    let shown = format!(
        "RUSTC_BOOTSTRAP=1 cargo fuzz run {target} corpus/{target} seeds/{target} -- {limit}"
    );
    println!("\nxtask fuzz: {shown} (in {})", fuzz_dir.display());
    let mut child = cargo()
        .args(["fuzz", "run", target])
        .arg(&corpus)
        .arg(seeds.join(target))
        .arg("--")
        .arg(&limit)
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("TMPDIR", scratch)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::new(format!("could not run `{shown}`: {e}")))?;

    let mut figures = Figures::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).split(b'\n') {
            let line = line.map_err(|e| Failure::new(format!("reading `{shown}`: {e}")))?;
            let line = String::from_utf8_lossy(&line);
            eprintln!("{line}");
            figures.read(&line);
        }
    }
    let ran = child
        .wait()
        .map_err(|e| Failure::new(format!("waiting for `{shown}`: {e}")))?;
    if !ran.success() && figures.crash.is_none() {
        // No input was blamed: the build or cargo-fuzz itself failed.
        return Err(Failure {
            message: format!("{shown} failed ({})", describe(ran)),
            code: exit_code(ran),
        });
    }
    Ok(Outcome {
        target,
        executions: figures.done_runs.or(figures.last_status_runs),
        seconds: figures.done_seconds,
        corpus: corpus_size(&corpus),
        crash: figures.crash.filter(|_| !ran.success()),
    })
}

/// The figures read off libFuzzer's output as it goes by.
#[derive(Default)]
struct Figures {
    done_runs: Option<u64>,
    done_seconds: Option<u64>,
    last_status_runs: Option<u64>,
    crash: Option<String>,
}

impl Figures {
    fn read(&mut self, line: &str) {
        // "Done 123456 runs in 61 second(s)": the last line of a run that found nothing.
        if let Some(rest) = line.strip_prefix("Done ") {
            let mut words = rest.split_whitespace();
            self.done_runs = words.next().and_then(|n| n.parse().ok());
            self.done_seconds = words.nth(2).and_then(|n| n.parse().ok());
        // Status lines: "#123456\tpulse  cov: ...", "#123456\tNEW ...".
        } else if let Some(rest) = line.strip_prefix('#') {
            let runs = rest.split(|c: char| !c.is_ascii_digit()).next();
            if let Some(runs) = runs.and_then(|n| n.parse().ok()) {
                self.last_status_runs = Some(runs);
            }
        // "artifact_prefix='...'; Test unit written to fuzz/artifacts/<target>/crash-..."
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.crash = Some(path.trim().to_owned());
        }
    }
}

/// Files and bytes in `dir` (0 and 0 when it cannot be read).
fn corpus_size(dir: &Path) -> (usize, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .fold((0, 0), |(n, bytes), m| (n + 1, bytes + m.len()))
}

fn describe_outcome(o: &Outcome) -> String {
    // Without libFuzzer's final count (a crash), its last status line is a lower bound.
    let runs = match (o.executions, o.seconds) {
        (Some(n), Some(s)) => format!("{n} executions in {s} s"),
        (Some(n), None) => format!("at least {n} executions"),
        // A crash while libFuzzer was still reading the corpus, before its first status line.
        (None, _) => "executions unknown".to_owned(),
    };
    let result = match &o.crash {
        Some(artifact) => format!("CRASH: {}", PathBuf::from(artifact).display()),
        None => "no crash".to_owned(),
    };
    format!(
        "{:<16} {runs}, corpus {} files ({} KB), {result}",
        o.target,
        o.corpus.0,
        o.corpus.1.div_ceil(1024)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments_in_any_order() {
        let (targets, seconds) = parse_args(&args(&[])).unwrap();
        assert_eq!((targets, seconds), (TARGETS.to_vec(), DEFAULT_SECONDS));
        let (targets, seconds) = parse_args(&args(&["300", "--target", "ron_config"])).unwrap();
        assert_eq!((targets, seconds), (vec!["ron_config"], 300));
        let (targets, seconds) = parse_args(&args(&["--target=tower_file", "5"])).unwrap();
        assert_eq!((targets, seconds), (vec!["tower_file"], 5));
        for bad in [
            &["--target", "nope"][..],
            &["--target"],
            &["0"],
            &["5", "6"],
            &["--target", "idx_reader", "--target", "ron_config"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn figures_from_libfuzzer_output() {
        let mut ok = Figures::default();
        for line in [
            "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#4096\tpulse  cov: 3057 ft: 6516 corp: 230/350Kb lim: 1976 exec/s: 292 rss: 201Mb",
            "#4685\tDONE   cov: 3062 ft: 6525 corp: 237/363Kb lim: 1976 exec/s: 292 rss: 221Mb",
            "Done 4685 runs in 16 second(s)",
        ] {
            ok.read(line);
        }
        assert_eq!((ok.done_runs, ok.done_seconds), (Some(4685), Some(16)));
        assert_eq!(ok.crash, None);

        let mut crashed = Figures::default();
        for line in [
            "#700\tNEW    cov: 12 ft: 13 corp: 3/9b lim: 4 exec/s: 0 rss: 31Mb L: 3/3 MS: 1",
            "==1234== ERROR: libFuzzer: deadly signal",
            "artifact_prefix='/f/artifacts/t/'; Test unit written to /f/artifacts/t/crash-ab12",
        ] {
            crashed.read(line);
        }
        assert_eq!(
            (crashed.done_runs, crashed.last_status_runs),
            (None, Some(700))
        );
        assert_eq!(crashed.crash.as_deref(), Some("/f/artifacts/t/crash-ab12"));
    }
}
