//! The checks of a config against what only a run reveals: the data's size, this machine's
//! cores and its free memory. Each runs before anything big is allocated or started and
//! refuses at once, naming the field, the number asked for and the limit.

use siamese_data::{Dataset, Pair};

use super::{BatchRecipe, Config, InvalidField, PairRecipe};
use crate::{Result, TrainError};

/// Most worker threads per core that `training.threads` may ask for.
///
/// Results do not depend on the thread count (fixed-size shards, summed in a fixed order,
/// decide every sum), so threads beyond the cores only add scheduling and stacks. A few per
/// core let a config written for a somewhat larger machine run unchanged, while an absurd
/// count (`--threads 100000`) is refused at once instead of the process stalling while it
/// starts them. Refused rather than clamped: `summary.json` records the count asked for.
pub const MAX_THREADS_PER_CORE: usize = 4;

/// The number of worker threads `training.threads` asks for on this machine (0 = one per
/// core).
///
/// # Errors
/// [`TrainError::ConfigVsData`] naming `training.threads` when it asks for more than
/// [`MAX_THREADS_PER_CORE`] threads per core.
pub fn resolve_threads(requested: usize) -> Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let limit = MAX_THREADS_PER_CORE.saturating_mul(cores);
    match requested {
        0 => Ok(cores),
        n if n <= limit => Ok(n),
        n => Err(vs_data(
            "training.threads",
            n,
            format!(
                "at most {limit} ({MAX_THREADS_PER_CORE} per core, {cores} cores here), or 0 \
                 for one per core"
            ),
        )),
    }
}

fn vs_data(field: &'static str, value: impl ToString, expected: String) -> TrainError {
    TrainError::ConfigVsData(InvalidField {
        field,
        value: value.to_string(),
        expected,
    })
}

impl Config {
    /// Refuses `data.train_limit`, `data.test_limit` and `data.exclude_classes` beyond the
    /// data just loaded from `data.dir`.
    pub(crate) fn check_data_limits(&self, train: &Dataset, test: &Dataset) -> Result<()> {
        let dir = self.data.dir.display();
        for (field, limit, data, which) in [
            ("data.train_limit", self.data.train_limit, train, "training"),
            ("data.test_limit", self.data.test_limit, test, "test"),
        ] {
            if let Some(n) = limit.filter(|&n| n > data.len()) {
                return Err(vs_data(
                    field,
                    n,
                    format!(
                        "at most the {} {which} images in {dir}, or None for all",
                        data.len()
                    ),
                ));
            }
        }
        let classes = train.num_classes();
        if self
            .data
            .exclude_classes
            .iter()
            .any(|&c| c as usize >= classes)
        {
            return Err(vs_data(
                "data.exclude_classes",
                format!("{:?}", self.data.exclude_classes),
                format!(
                    "classes of the data in {dir}: 0 to {}",
                    classes.saturating_sub(1)
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a `training.batch_size` larger than what a step draws from: the training
    /// pairs for pair batches, the training images for class-balanced ones.
    pub(crate) fn check_batch_size(&self, train_images: usize, train_pairs: usize) -> Result<()> {
        let batch = self.training.batch_size;
        let (available, what) = match self.training.batches {
            BatchRecipe::Pairs => (train_pairs, "training pairs"),
            BatchRecipe::ClassBalanced { .. } => (train_images, "training images"),
        };
        if batch > available {
            return Err(vs_data(
                "training.batch_size",
                batch,
                format!("at most the {available} {what}"),
            ));
        }
        Ok(())
    }

    /// Refuses `training.pairs: Random(count: N)` whose pairs (the recipe's, the epoch's
    /// shuffled copy and a fresh epoch's) would not fit in the memory available.
    pub(crate) fn check_pairs_memory(&self) -> Result<()> {
        let PairRecipe::Random { count, .. } = self.training.pairs else {
            return Ok(());
        };
        let needed = 3.0 * count as f64 * size_of::<Pair>() as f64;
        check_memory("the training pairs", needed, || {
            format!(
                "{count} random pairs (training.pairs.count) × {} bytes × 3 copies",
                size_of::<Pair>()
            )
        })
    }

    /// Refuses a tower whose training would not fit in the memory available, before any of
    /// it is allocated.
    ///
    /// The estimate counts, in `f32`s: the weights, Adam's two moments, one gradient per
    /// shard of a minibatch (gradients are per shard, not per thread, so that sums do not
    /// depend on the thread count), the checkpoint's copy of all three and its file bytes;
    /// each shard's inputs and activations; and for class-balanced batches the `n × n`
    /// matrices of the in-batch loss.
    pub(crate) fn check_training_memory(&self, image_len: usize) -> Result<()> {
        let model = &self.model;
        let training = &self.training;
        let sizes: Vec<f64> = std::iter::once(image_len)
            .chain(model.hidden.iter().copied())
            .chain(std::iter::once(model.embedding))
            .map(|s| s as f64)
            .collect();
        let params: f64 = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        let widest = sizes.iter().copied().fold(0.0, f64::max);
        let batch = training.batch_size.max(1);
        let (shard_rows, rows_per_item) = match training.batches {
            BatchRecipe::Pairs => (training.shard_pairs.min(batch), 2),
            BatchRecipe::ClassBalanced { .. } => {
                (training.shard_pairs.saturating_mul(2).clamp(1, batch), 1)
            }
        };
        let shards = batch.div_ceil(shard_rows.max(1)) as f64;
        let rows = (rows_per_item * shard_rows) as f64;
        // Weights, 2 moments, a gradient per shard, and at every checkpoint a copy of the
        // three (3) plus the file's bytes (3 more).
        let copies = 3.0 + shards + 6.0;
        let activations = shards * rows * (2.0 * sizes.iter().sum::<f64>() + 2.0 * widest);
        let batch_matrices = match training.batches {
            BatchRecipe::Pairs => 0.0,
            BatchRecipe::ClassBalanced { .. } => {
                let n = batch as f64;
                4.0 * n * n + 5.0 * n * model.embedding as f64
            }
        };
        let needed = 4.0 * (params * copies + activations + batch_matrices);
        check_memory("training", needed, || {
            let shape: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
            format!(
                "the tower {} (model.hidden, model.embedding) has {params} parameters, kept \
                 {copies} times (weights, 2 Adam moments, {shards} shard gradients for \
                 training.batch_size {batch} in shards of training.shard_pairs {}, 6 for \
                 checkpoints), plus activations",
                shape.join(" → "),
                training.shard_pairs
            )
        })
    }
}

/// Refuses `needed` bytes beyond the memory available, or beyond what can be addressed
/// where the available memory is unknown; `what` needs them, for the `details` reasons.
fn check_memory(what: &'static str, needed: f64, details: impl FnOnce() -> String) -> Result<()> {
    let (limit, limit_kind) = match available_memory() {
        Some(bytes) => (bytes, "available"),
        None => (isize::MAX as u64, "addressable"),
    };
    if needed > limit as f64 {
        return Err(TrainError::Memory {
            what,
            details: details(),
            // Saturates: a need beyond u64 is reported as u64::MAX bytes.
            needed: needed as u64,
            limit,
            limit_kind,
        });
    }
    Ok(())
}

/// The memory this process may still take: `MemAvailable` of `/proc/meminfo`, capped by a
/// cgroup (v2) limit when one is set. `None` where neither can be read (systems without
/// procfs), where only what cannot be addressed at all is refused.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let available = kib.saturating_mul(1024);
    let read = |name: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{name}"))
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    // "max" (no limit) does not parse, and leaves MemAvailable alone.
    Some(match (read("memory.max"), read("memory.current")) {
        (Some(max), Some(current)) => available.min(max.saturating_sub(current)),
        _ => available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_beyond_four_per_core_are_refused_naming_the_limit() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(resolve_threads(0).unwrap(), cores);
        assert_eq!(resolve_threads(1).unwrap(), 1);
        let limit = MAX_THREADS_PER_CORE * cores;
        assert_eq!(resolve_threads(limit).unwrap(), limit);
        let err = resolve_threads(100_000).unwrap_err().to_string();
        assert!(
            err.contains("`training.threads` = 100000")
                && err.contains(&format!("at most {limit}")),
            "{err}"
        );
    }

    #[test]
    fn the_available_memory_is_read_where_procfs_exists() {
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(available_memory().is_some_and(|b| b > 0));
        }
    }
}
