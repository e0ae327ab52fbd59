//! What a report records about where it ran: the commit, the CPU and the time.

use super::*;

/// The short commit of HEAD, when this is a git checkout and git is installed.
pub(crate) fn git_commit(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

/// The CPU the figures were taken on, from /proc/cpuinfo: model name, family and model (the
/// first core's) and the number of logical CPUs; nulls (and 0) elsewhere.
pub(crate) fn cpu() -> Value {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == key).then(|| value.trim().to_owned())
        })
    };
    // The family is a number in /proc/cpuinfo; kept as one so that it compares as one.
    let family = field("cpu family").map(|f| f.parse::<u64>().map_or(json!(f), |n| json!(n)));
    json!({
        "model_name": field("model name"),
        "family": family,
        "model": field("model").and_then(|m| m.parse::<u64>().ok()),
        "logical_cpus": info.lines().filter(|l| l.starts_with("processor")).count(),
    })
}

/// Now as an ISO 8601 UTC date-time and as seconds since the Unix epoch.
pub(crate) fn now_utc() -> (String, u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days(secs / 86_400);
    let time = secs % 86_400;
    let date = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    );
    (date, secs)
}

/// The (year, month, day) of a count of days since 1970-01-01: Howard Hinnant's
/// `civil_from_days`, here because std has no calendar and a dependency for one date is
/// not worth it. Days are counted in 400-year eras of 146,097 days, with years starting on
/// 1 March so that the leap day falls at the end.
pub(super) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153; // month counted from March
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}
