//! Finding run directories and reading what each one recorded.
//!
//! A run directory holds `results.json` (MLGym's `{"agent": [...], "baseline": {...}}`)
//! and, for our own runs, `run.json` and `<task>.traj`. MLGym's run directories are named
//! `<model>__<task>__...__run_N`; ours `<model>__<task>__<agent>__seed-<n>__run_<k>`.
//! Nothing here fails: every input that cannot be used becomes an [`Issue`] that says why.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::tasks::lookup_task;

/// Metric name → value of one evaluation. Non-numeric and non-finite values are dropped.
pub type Metrics = BTreeMap<String, f64>;

/// How deep below a given folder run directories are searched for.
const MAX_DEPTH: usize = 4;

/// A path that was skipped or only partly usable, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What was wrong and what was done about it.
    pub reason: String,
}

impl Issue {
    fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// The scores one run recorded: `results.json`, or `run.json`'s `scores` when
/// `results.json` is missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunResults {
    /// One metrics map per successful evaluation, in order (validations, then the final
    /// submission or autosubmission).
    pub agent: Vec<Metrics>,
    /// The task's baseline metrics (empty when unknown).
    pub baseline: Metrics,
}

/// Where a run's steps, tokens and cost were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsSource {
    /// Our `run.json`.
    RunJson,
    /// The `info` of an MLGym `.traj` file.
    Traj,
}

/// Everything the report uses from one run directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The run directory.
    pub dir: PathBuf,
    /// Model name with MLGym's `metagen-` prefix removed.
    pub model: String,
    /// Task id.
    pub task: String,
    /// `N` of a trailing `run_N` in the directory name.
    pub run_index: Option<u32>,
    /// Scores, or `None` when neither `results.json` nor `run.json` scores were readable.
    pub results: Option<RunResults>,
    /// Exit status from `run.json` or the `.traj` `info`.
    pub exit_status: Option<String>,
    /// Number of agent steps.
    pub steps: Option<u64>,
    /// Tokens sent to the model.
    pub tokens_sent: Option<u64>,
    /// Tokens received from the model.
    pub tokens_received: Option<u64>,
    /// Model API calls.
    pub api_calls: Option<u64>,
    /// Cost in dollars as recorded by the run.
    pub cost: Option<f64>,
    /// Where steps/tokens/cost came from.
    pub stats_source: Option<StatsSource>,
}

/// All runs found, plus what was skipped and what was only partly readable.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Collection {
    /// Usable runs (their task is known), in path order.
    pub runs: Vec<RunRecord>,
    /// Inputs left out entirely, with the reason.
    pub skipped: Vec<Issue>,
    /// Runs kept with a problem (a corrupt `run.json`, an unreadable `.traj`, ...).
    pub warnings: Vec<Issue>,
}

/// Normalises a model name as found in a run directory name: MLGym's
/// `metagen-claude-35-sonnet-new` becomes `claude-35-sonnet-new`. Our own baseline agent's
/// runs (`baseline`) become `baseline-agent` so that they do not collide with the task
/// baseline row that comes from `results.json`.
pub fn normalize_model_name(raw: &str) -> String {
    let name = raw.strip_prefix("metagen-").unwrap_or(raw);
    if name == "baseline" {
        "baseline-agent".to_string()
    } else {
        name.to_string()
    }
}

/// Model, task and run index parsed from a run directory name
/// (`<model>__<task>__...__run_N`); `None` when the name has no `__` separator.
pub fn parse_run_dir_name(name: &str) -> Option<(String, String, Option<u32>)> {
    let parts: Vec<&str> = name.split("__").collect();
    if parts.len() < 2 || parts[0].is_empty() || parts[1].is_empty() {
        return None;
    }
    let run_index = parts.last().and_then(|last| {
        let pos = last.rfind("run_")?;
        last[pos + 4..].parse::<u32>().ok()
    });
    Some((parts[0].to_string(), parts[1].to_string(), run_index))
}

/// Parses JSON that may contain Python's bare `NaN`, `Infinity` and `-Infinity` (which
/// `json.dump` writes); those become `null`.
pub fn parse_json_lenient(text: &str) -> Result<Value, serde_json::Error> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(e) => {
            if text.contains("NaN") || text.contains("Infinity") {
                serde_json::from_str(&replace_non_finite(text))
            } else {
                Err(e)
            }
        }
    }
}

fn replace_non_finite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else {
            let token = ["-Infinity", "Infinity", "NaN"]
                .into_iter()
                .find(|t| rest.starts_with(t));
            if let Some(t) = token {
                out.push_str("null");
                rest = &rest[t.len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Reads a whole file, gunzipping it when its name ends in `.gz`.
pub fn read_text_maybe_gz(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file).read_to_string(&mut text)?;
    } else {
        std::io::BufReader::new(file).read_to_string(&mut text)?;
    }
    Ok(text)
}

/// Numeric entries of a JSON object (others dropped); `None` if `v` is not an object.
pub fn metrics_of(v: &Value) -> Option<Metrics> {
    let obj = v.as_object()?;
    Some(
        obj.iter()
            .filter_map(|(k, v)| v.as_f64().filter(|x| x.is_finite()).map(|x| (k.clone(), x)))
            .collect(),
    )
}

/// Parses a `results.json` text.
pub fn parse_results(text: &str) -> Result<RunResults, String> {
    let v = parse_json_lenient(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let agent = v
        .get("agent")
        .ok_or("has no \"agent\" field")?
        .as_array()
        .ok_or("its \"agent\" field is not a list")?
        .iter()
        .map(|e| metrics_of(e).unwrap_or_default())
        .collect();
    let baseline = v.get("baseline").and_then(metrics_of).unwrap_or_default();
    Ok(RunResults { agent, baseline })
}

/// Fields of our `run.json` that the report uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunJson {
    /// Task id.
    pub task: Option<String>,
    /// Model name (`null` for agents without a model).
    pub model: Option<String>,
    /// Exit status.
    pub exit_status: Option<String>,
    /// Number of steps.
    pub steps: Option<u64>,
    /// `scores[].metrics`, in order.
    pub scores: Option<Vec<Metrics>>,
    /// `model_stats`.
    pub stats: ModelStats,
}

/// `model_stats` of a `run.json` or of a `.traj` `info`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelStats {
    /// `tokens_sent`.
    pub tokens_sent: Option<u64>,
    /// `tokens_received`.
    pub tokens_received: Option<u64>,
    /// `api_calls`.
    pub api_calls: Option<u64>,
    /// `total_cost` (dollars).
    pub total_cost: Option<f64>,
}

impl ModelStats {
    fn from_value(v: Option<&Value>) -> Self {
        let get_u = |k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_u64);
        Self {
            tokens_sent: get_u("tokens_sent"),
            tokens_received: get_u("tokens_received"),
            api_calls: get_u("api_calls"),
            total_cost: v
                .and_then(|v| v.get("total_cost"))
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite()),
        }
    }
}

/// Parses a `run.json` text.
pub fn parse_run_json(text: &str) -> Result<RunJson, String> {
    let v = parse_json_lenient(text).map_err(|e| format!("not valid JSON ({e})"))?;
    if !v.is_object() {
        return Err("is not a JSON object".into());
    }
    let string = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let scores = v.get("scores").and_then(Value::as_array).map(|list| {
        list.iter()
            .map(|s| s.get("metrics").and_then(metrics_of).unwrap_or_default())
            .collect()
    });
    Ok(RunJson {
        task: string("task"),
        model: string("model"),
        exit_status: string("exit_status"),
        steps: v.get("steps").and_then(Value::as_u64),
        scores,
        stats: ModelStats::from_value(v.get("model_stats")),
    })
}

/// What the report takes from an MLGym `.traj`: its `info` and its number of steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrajInfo {
    /// `info.exit_status`.
    pub exit_status: Option<String>,
    /// Length of `trajectory`.
    pub steps: u64,
    /// `info.model_stats`.
    pub stats: ModelStats,
}

/// Parses the parts of a `.traj` text the report uses.
pub fn parse_traj_info(text: &str) -> Result<TrajInfo, String> {
    let v = parse_json_lenient(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let info = v.get("info").ok_or("has no \"info\" field")?;
    Ok(TrajInfo {
        exit_status: info
            .get("exit_status")
            .and_then(Value::as_str)
            .map(str::to_string),
        steps: v
            .get("trajectory")
            .and_then(Value::as_array)
            .map_or(0, |t| t.len() as u64),
        stats: ModelStats::from_value(info.get("model_stats")),
    })
}

/// Whether a file name is an MLGym trajectory (`.traj`, `.traj.gz`).
pub fn is_traj_name(name: &str) -> bool {
    name.ends_with(".traj") || name.ends_with(".traj.gz")
}

fn is_run_dir(dir: &Path) -> bool {
    if dir.join("results.json").is_file() || dir.join("run.json").is_file() {
        return true;
    }
    list_dir(dir).0.iter().any(|p| {
        p.is_file()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_traj_name)
    })
}

/// Sorted entries of `dir`, or the error message.
fn list_dir(dir: &Path) -> (Vec<PathBuf>, Option<String>) {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            (v, None)
        }
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

fn find_run_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>, issues: &mut Vec<Issue>) {
    if is_run_dir(dir) {
        out.push(dir.to_path_buf());
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let (entries, err) = list_dir(dir);
    if let Some(e) = err {
        issues.push(Issue::new(dir, format!("cannot list the folder ({e})")));
    }
    for p in entries.iter().filter(|p| p.is_dir()) {
        find_run_dirs(p, depth + 1, out, issues);
    }
}

/// Finds the `.traj` of a run: inside the run directory (`<task>.traj` first), beside it
/// (`<run dir name>.traj[.gz]`), or in one of `traj_dirs` under the run directory's name.
pub fn find_traj(dir: &Path, task: Option<&str>, traj_dirs: &[PathBuf]) -> Option<PathBuf> {
    if let Some(t) = task {
        for ext in ["traj", "traj.gz"] {
            let p = dir.join(format!("{t}.{ext}"));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let inside = list_dir(dir).0.into_iter().find(|p| {
        p.is_file()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_traj_name)
    });
    if inside.is_some() {
        return inside;
    }
    let name = dir.file_name()?.to_str()?;
    let mut places: Vec<PathBuf> = dir.parent().map(Path::to_path_buf).into_iter().collect();
    places.extend(traj_dirs.iter().cloned());
    for place in places {
        for ext in ["traj", "traj.gz"] {
            let p = place.join(format!("{name}.{ext}"));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Reads one run directory. `Err` is the reason the run is skipped.
fn read_run(
    dir: &Path,
    traj_dirs: &[PathBuf],
    warnings: &mut Vec<Issue>,
) -> Result<RunRecord, String> {
    let run_json_path = dir.join("run.json");
    let run_json = if run_json_path.is_file() {
        match std::fs::read_to_string(&run_json_path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_run_json(&t))
        {
            Ok(r) => Some(r),
            Err(e) => {
                warnings.push(Issue::new(
                    &run_json_path,
                    format!(
                        "run.json ignored: {e}; model and task are taken from the directory name"
                    ),
                ));
                None
            }
        }
    } else {
        None
    };

    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parsed = parse_run_dir_name(dir_name);
    let task = run_json
        .as_ref()
        .and_then(|r| r.task.clone())
        .or_else(|| parsed.as_ref().map(|p| p.1.clone()));
    let raw_model = run_json
        .as_ref()
        .and_then(|r| r.model.clone())
        .or_else(|| parsed.as_ref().map(|p| p.0.clone()));
    let (Some(task), Some(raw_model)) = (task, raw_model) else {
        return Err("cannot tell the model and task: the directory name is not \
                    <model>__<task>__...__run_N and there is no readable run.json with \
                    \"task\" and \"model\""
            .into());
    };
    if lookup_task(&task).is_none() {
        return Err(format!(
            "task {task:?} is unknown to the report's task table (no primary metric or \
             direction); the run is left out"
        ));
    }

    let results_path = dir.join("results.json");
    let results = if results_path.is_file() {
        let parsed = std::fs::read_to_string(&results_path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_results(&t));
        match parsed {
            Ok(r) => Some(r),
            Err(e) => return Err(format!("corrupt results.json: {e}")),
        }
    } else {
        run_json
            .as_ref()
            .and_then(|r| r.scores.clone())
            .map(|agent| RunResults {
                agent,
                baseline: Metrics::new(),
            })
    };

    let mut record = RunRecord {
        dir: dir.to_path_buf(),
        model: normalize_model_name(&raw_model),
        task: task.clone(),
        run_index: parsed.and_then(|p| p.2),
        results,
        exit_status: None,
        steps: None,
        tokens_sent: None,
        tokens_received: None,
        api_calls: None,
        cost: None,
        stats_source: None,
    };
    if let Some(r) = &run_json {
        record.exit_status = r.exit_status.clone();
        record.steps = r.steps;
        apply_stats(&mut record, &r.stats);
        record.stats_source = Some(StatsSource::RunJson);
    } else if let Some(traj) = find_traj(dir, Some(&task), traj_dirs) {
        match read_text_maybe_gz(&traj)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_traj_info(&t))
        {
            Ok(info) => {
                record.exit_status = info.exit_status;
                record.steps = Some(info.steps);
                apply_stats(&mut record, &info.stats);
                record.stats_source = Some(StatsSource::Traj);
            }
            Err(e) => warnings.push(Issue::new(
                &traj,
                format!(".traj ignored for diagnostics: {e}"),
            )),
        }
    }
    Ok(record)
}

fn apply_stats(record: &mut RunRecord, stats: &ModelStats) {
    record.tokens_sent = stats.tokens_sent;
    record.tokens_received = stats.tokens_received;
    record.api_calls = stats.api_calls;
    record.cost = stats.total_cost;
}

/// Collects the runs under `paths` (run directories, or folders holding run directories at
/// any depth up to 4). `traj_dirs` are extra folders holding `<run dir name>.traj[.gz]`
/// files for the diagnostics of runs without `run.json`.
pub fn collect_runs(paths: &[PathBuf], traj_dirs: &[PathBuf]) -> Collection {
    let mut col = Collection::default();
    let mut seen = BTreeSet::new();
    for path in paths {
        if !path.exists() {
            col.skipped.push(Issue::new(
                path,
                "does not exist; give run directories or folders of them",
            ));
            continue;
        }
        if path.is_file() {
            col.skipped.push(Issue::new(
                path,
                "is a file; give the run directory that holds it, or a folder of run directories",
            ));
            continue;
        }
        let mut dirs = Vec::new();
        find_run_dirs(path, 0, &mut dirs, &mut col.skipped);
        if dirs.is_empty() {
            col.skipped.push(Issue::new(
                path,
                "no run directories found (a run directory holds results.json, run.json or a .traj file)",
            ));
        }
        for dir in dirs {
            let key = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            if !seen.insert(key) {
                continue;
            }
            match read_run(&dir, traj_dirs, &mut col.warnings) {
                Ok(r) => col.runs.push(r),
                Err(reason) => col.skipped.push(Issue::new(&dir, reason)),
            }
        }
    }
    col
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mlgym_and_our_dir_names() {
        let p = parse_run_dir_name(
            "metagen-gpt-o1__blotto__default__t-0.00__p-0.95__c-4.00__install-0__parallel_agents_run_3",
        );
        assert_eq!(p, Some(("metagen-gpt-o1".into(), "blotto".into(), Some(3))));
        let p = parse_run_dir_name("replay__battleOfSexes__replay__seed-7__run_12");
        assert_eq!(p, Some(("replay".into(), "battleOfSexes".into(), Some(12))));
        assert_eq!(parse_run_dir_name("just-a-folder"), None);
        assert_eq!(normalize_model_name("metagen-gpt4o2"), "gpt4o2");
        assert_eq!(normalize_model_name("baseline"), "baseline-agent");
    }

    #[test]
    fn lenient_json_maps_python_non_finite_to_null() {
        let v =
            parse_json_lenient(r#"{"a": NaN, "b": -Infinity, "c": "NaN inside", "d": 1}"#).unwrap();
        assert!(v["a"].is_null());
        assert!(v["b"].is_null());
        assert_eq!(v["c"], "NaN inside");
        let r = parse_results(
            r#"{"agent": [{"Score": NaN}, {"Score": 1.5}], "baseline": {"Score": 1}}"#,
        )
        .unwrap();
        assert!(r.agent[0].is_empty());
        assert_eq!(r.agent[1]["Score"], 1.5);
        assert_eq!(r.baseline["Score"], 1.0);
    }

    #[test]
    fn corrupt_results_are_errors_not_panics() {
        assert!(parse_results("{\"agent\": [").is_err());
        assert!(parse_results("{\"baseline\": {}}").is_err());
        assert!(parse_results("{\"agent\": 3}").is_err());
    }
}
