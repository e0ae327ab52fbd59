//! The command line of `cargo xtask quality`: which configs, data sets and threads.

use super::*;

pub(super) fn parse(args: &[OsString]) -> Result<Options> {
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
pub(super) fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The name and path of `configs/<name>.ron`, which must exist; `name` may carry the `.ron`.
pub(super) fn named_config(root: &Path, name: &str) -> Result<(String, PathBuf)> {
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
pub(super) fn default_configs(root: &Path) -> Result<Vec<(String, PathBuf)>> {
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
pub(crate) fn data_dir(root: &Path, dataset: &Dataset) -> Result<PathBuf> {
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
