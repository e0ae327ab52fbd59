//! The run layer: a run directory, what each of its files is called and holds, and the one
//! way to read or write each. Training writes a run; evaluation, search, reports and the
//! CLI only read it (and add their own figures beside it).

mod checkpoint;
mod lock;
mod open;
mod records;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use siamese_io::FileError;

pub use checkpoint::CheckpointInfo;
pub(crate) use checkpoint::{Checkpoint, PartialEpoch};
pub use lock::RunLock;
pub use records::{AnomalyReport, ClassScore, EpochMetrics, EvalReport, SourceSummary, Summary};

use crate::config::Config;
use crate::model::TrainedModel;
use crate::{Result, TrainError};

/// File names inside a run directory.
mod file {
    pub(super) const CONFIG: &str = "config.ron";
    pub(super) const METRICS: &str = "metrics.jsonl";
    pub(super) const SUMMARY: &str = "summary.json";
    pub(super) const TOWER: &str = "tower.safetensors";
    pub(super) const CHECKPOINT: &str = "checkpoint.safetensors";
    pub(super) const EVAL: &str = "eval.json";
    pub(super) const ANOMALY: &str = "anomaly.json";
    pub(super) const INDEX: &str = "index.safetensors";
    pub(super) const SEARCH: &str = "search.json";
    pub(super) const EMBEDDINGS: &str = "embeddings";
    pub(super) const LOCK: &str = ".lock";
}

/// A run directory: the resolved `config.ron`, `metrics.jsonl` (one line per finished
/// epoch), `checkpoint.safetensors`, and once training has finished `tower.safetensors`
/// ([`TrainedModel`]) and `summary.json`; later `eval.json`, `anomaly.json`, the search
/// index and exported embeddings. Every file is written atomically.
///
/// A run directory has one writer: training holds [`RunDir::lock`] from its start to its
/// end, and the readers of a trained run ([`RunDir::read_model`]) refuse one that is still
/// being trained ([`RunDir::check_not_training`]).
///
/// ```no_run
/// use siamese_train::RunDir;
/// let run = RunDir::new("runs/base");
/// let summary = run.read_summary()?;
/// let model = run.read_model()?;
/// println!("{:.2}% with {}-d embeddings", 100.0 * summary.test_accuracy, model.dim());
/// # Ok::<(), siamese_train::TrainError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The run directory at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Creates the directory (and its parents) if needed.
    ///
    /// # Errors
    /// [`TrainError::NotADirectory`] when `path` is a file, [`TrainError::CreateRunDir`]
    /// when it cannot be created.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self> {
        let run = Self::new(path);
        std::fs::create_dir_all(&run.path)
            .map_err(|source| open::create_error(&run.path, source))?;
        Ok(run)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `.lock`: the lock file of [`RunDir::lock`], holding the pid of the training run
    /// that last took it.
    pub fn lock_path(&self) -> PathBuf {
        self.path.join(file::LOCK)
    }

    /// Takes the directory for a training run: an advisory lock on `.lock` (with this
    /// process's pid in it), held until the [`RunLock`] is dropped or the process ends,
    /// however it ends. Does not wait.
    ///
    /// # Errors
    /// [`TrainError::RunInUse`] (with the holder's pid) when another training run holds
    /// the directory; [`TrainError::File`] when `.lock` cannot be created, e.g. in a
    /// read-only directory.
    pub fn lock(&self) -> Result<RunLock> {
        lock::acquire(self)
    }

    /// Fails when a training run holds the directory, whose files are then not final. A
    /// directory without `.lock` passes. Needs no write access.
    ///
    /// # Errors
    /// [`TrainError::RunBeingTrained`] (with the trainer's pid); [`TrainError::File`] when
    /// `.lock` exists but cannot be opened.
    pub fn check_not_training(&self) -> Result<()> {
        lock::check_not_training(self)
    }

    /// `config.ron`: the resolved config of the run.
    pub fn config_path(&self) -> PathBuf {
        self.path.join(file::CONFIG)
    }

    /// `metrics.jsonl`: one [`EpochMetrics`] per finished epoch.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join(file::METRICS)
    }

    /// `summary.json`: the final [`Summary`].
    pub fn summary_path(&self) -> PathBuf {
        self.path.join(file::SUMMARY)
    }

    /// `tower.safetensors`: the [`TrainedModel`].
    pub fn tower_path(&self) -> PathBuf {
        self.path.join(file::TOWER)
    }

    /// `checkpoint.safetensors`: the state after the last finished epoch.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join(file::CHECKPOINT)
    }

    /// `eval.json`: the [`EvalReport`] of `siamese eval`.
    pub fn eval_path(&self) -> PathBuf {
        self.path.join(file::EVAL)
    }

    /// `anomaly.json`: the [`AnomalyReport`] of `siamese anomaly`.
    pub fn anomaly_path(&self) -> PathBuf {
        self.path.join(file::ANOMALY)
    }

    /// `index.safetensors`: the search index of the training embeddings.
    pub fn index_path(&self) -> PathBuf {
        self.path.join(file::INDEX)
    }

    /// `search.json`: the results of the last `siamese search`.
    pub fn search_path(&self) -> PathBuf {
        self.path.join(file::SEARCH)
    }

    /// `embeddings/`: where `siamese embed` exports embeddings by default.
    pub fn embeddings_dir(&self) -> PathBuf {
        self.path.join(file::EMBEDDINGS)
    }

    /// The run's config as recorded.
    ///
    /// # Errors
    /// A missing or invalid `config.ron`.
    pub fn read_config(&self) -> Result<Config> {
        Config::load(&self.config_path())
    }

    /// The run's config with its data directory resolved for reading the run again: the
    /// `data` given (a `--data` flag), else `SIAMESE_DATA_DIR`, else the recorded one
    /// ([`siamese_data::resolve_data_dir`]).
    ///
    /// # Errors
    /// A missing or invalid `config.ron`.
    pub fn read_config_with_data(&self, data: Option<PathBuf>) -> Result<Config> {
        let mut config = self.read_config()?;
        config.data.dir = siamese_data::resolve_data_dir(data, config.data.dir);
        Ok(config)
    }

    /// Records the resolved config.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_config(&self, config: &Config) -> Result<()> {
        self.write(&self.config_path(), config.to_ron_string()?.as_bytes())
    }

    /// The epochs recorded so far; a missing file has none.
    ///
    /// # Errors
    /// An unreadable file, or a line that is not an [`EpochMetrics`] (named by number).
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        let path = self.metrics_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(FileError::io(path, source).into()),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .map_err(|e| FileError::format(&path, format!("line {}: {e}", i + 1)).into())
            })
            .collect()
    }

    /// Writes every epoch's figures, one JSON object per line.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_metrics(&self, epochs: &[EpochMetrics]) -> Result<()> {
        let mut lines = String::new();
        for m in epochs {
            lines.push_str(&serde_json::to_string(m).map_err(internal)?);
            lines.push('\n');
        }
        self.write(&self.metrics_path(), lines.as_bytes())
    }

    /// The final figures of training.
    ///
    /// # Errors
    /// A missing file (the run has not finished) or one that is not a [`Summary`].
    pub fn read_summary(&self) -> Result<Summary> {
        read_json(&self.summary_path())
    }

    /// Records the final figures of training.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_summary(&self, summary: &Summary) -> Result<()> {
        write_json(&self.summary_path(), summary)
    }

    /// The figures of `siamese eval`.
    ///
    /// # Errors
    /// A missing file (the run was not evaluated) or one that is not an [`EvalReport`].
    pub fn read_eval(&self) -> Result<EvalReport> {
        read_json(&self.eval_path())
    }

    /// Records the figures of `siamese eval`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_eval(&self, report: &EvalReport) -> Result<()> {
        write_json(&self.eval_path(), report)
    }

    /// The figures of `siamese anomaly`.
    ///
    /// # Errors
    /// A missing file or one that is not an [`AnomalyReport`].
    pub fn read_anomaly(&self) -> Result<AnomalyReport> {
        read_json(&self.anomaly_path())
    }

    /// Records the figures of `siamese anomaly`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_anomaly(&self, report: &AnomalyReport) -> Result<()> {
        write_json(&self.anomaly_path(), report)
    }

    /// The trained model, fed the way training fed it: the tower file's normalizer and
    /// image shape, and the first-layer choice of the run's config when there is one.
    ///
    /// # Errors
    /// [`TrainError::RunBeingTrained`] while a training run holds the directory (its tower
    /// is missing or an earlier one); a missing or malformed tower file or config.
    pub fn read_model(&self) -> Result<TrainedModel> {
        self.check_not_training()?;
        let model = TrainedModel::load(&self.tower_path())?;
        let config_path = self.config_path();
        Ok(if config_path.exists() {
            model.with_first_layer(Config::load(&config_path)?.training.first_layer)
        } else {
            model
        })
    }

    /// Writes the trained model.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_model(&self, model: &TrainedModel) -> Result<()> {
        model.save(&self.tower_path())
    }

    /// The checkpoint, or `None` when there is none yet.
    pub(crate) fn read_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let path = self.checkpoint_path();
        if !path.exists() {
            return Ok(None);
        }
        Checkpoint::load(&path).map(Some)
    }

    /// Where the checkpoint says the run stopped, or `None` when there is none yet. The file
    /// is read and checked whole, as `--resume` reads it (header, tensors, Adam state), but
    /// not compared with any config.
    ///
    /// # Errors
    /// An unreadable checkpoint, or one that is not a siamese checkpoint of this version.
    pub fn read_checkpoint_info(&self) -> Result<Option<CheckpointInfo>> {
        Ok(self
            .read_checkpoint()?
            .map(|checkpoint| CheckpointInfo::from(&checkpoint)))
    }

    pub(crate) fn write_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        checkpoint.save(&self.checkpoint_path())
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        siamese_io::write_atomically(path, bytes)?;
        Ok(())
    }
}

/// Writes `value` as pretty JSON (with a final newline) into `path`, atomically: the format
/// of every JSON file of a run, also for results written elsewhere (`--json FILE`).
///
/// # Errors
/// When the file cannot be written.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut json = serde_json::to_string_pretty(value).map_err(internal)?;
    json.push('\n');
    siamese_io::write_atomically(path, json.as_bytes())?;
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::io(path, source))?;
    Ok(serde_json::from_str(&text).map_err(|e| FileError::format(path, e.to_string()))?)
}

fn internal(e: serde_json::Error) -> TrainError {
    TrainError::Internal(e.to_string())
}
