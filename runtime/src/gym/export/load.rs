//! Finding episodes on disk and reading them, from our run directories and MLGym
//! `.traj` files alike.

use std::path::{Path, PathBuf};

use mlgym_tasks::Direction;
use serde_json::Value;

use super::{io, parse_err, ExportError, Message, Metadata, Record};
use crate::report::collect::{is_traj_name, parse_json_lenient, read_text_maybe_gz};

/// An input found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Our run directory.
    Run(PathBuf),
    /// An MLGym `.traj` or `.traj.gz` file.
    Traj(PathBuf),
}

fn is_traj(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(is_traj_name)
}

/// Finds the episodes under `paths`, in a stable order.
pub fn find_sources(paths: &[PathBuf]) -> Result<Vec<Source>, ExportError> {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(ExportError::Missing(p.clone()));
        }
        walk(p, &mut out)?;
    }
    Ok(out)
}

fn walk(p: &Path, out: &mut Vec<Source>) -> Result<(), ExportError> {
    if p.is_file() {
        if is_traj(p) {
            out.push(Source::Traj(p.to_path_buf()));
        }
        return Ok(());
    }
    if p.join("run.json").is_file() || p.join("trajectory.jsonl").is_file() {
        out.push(Source::Run(p.to_path_buf()));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(io(p))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        // Workspaces hold agent files, not trajectories.
        if e.file_name()
            .is_some_and(|n| n == "workspace" || n == "evals")
        {
            continue;
        }
        walk(&e, out)?;
    }
    Ok(())
}

/// MLGym's primary metrics of tasks this runtime may not register (spec §6.1).
const MLGYM_METRICS: &[(&str, &str, Direction)] = &[
    ("imageClassificationCifar10", "accuracy", Direction::Max),
    ("imageClassificationCifar10L1", "accuracy", Direction::Max),
    ("imageClassificationFMnist", "accuracy", Direction::Max),
    ("imageCaptioningCOCO", "BLEU Score", Direction::Max),
    ("languageModelingFineWeb", "val_loss", Direction::Min),
    (
        "naturalLanguageInferenceMNLI",
        "validation_accuracy",
        Direction::Max,
    ),
    ("regressionKaggleHousePriceL1", "r2", Direction::Max),
    (
        "rlMountainCarContinuousReinforce",
        "Reward Mean",
        Direction::Max,
    ),
];

/// The primary metric, its direction and the baseline's value for `task`.
fn primary(task: &str) -> Option<(String, Direction, Option<f64>)> {
    if let Ok(t) = mlgym_tasks::registry::get(task) {
        let m = t.def.primary_metric();
        let base = crate::episode::scoring::baseline_scores(t)
            .get(&m.name)
            .copied();
        return Some((m.name.clone(), m.direction, base));
    }
    MLGYM_METRICS
        .iter()
        .find(|(id, _, _)| *id == task)
        .map(|(_, m, d)| (m.to_string(), *d, None))
}

fn read_text(path: &Path) -> Result<String, ExportError> {
    read_text_maybe_gz(path).map_err(io(path))
}

fn messages_of(history: &[Value]) -> Vec<Message> {
    history
        .iter()
        .filter(|h| !h.get("is_demo").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|h| {
            let role = h.get("role")?.as_str()?.to_string();
            let content = match h.get("content")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(Message { role, content })
        })
        .collect()
}

fn metrics_list(v: Option<&Value>) -> Vec<serde_json::Map<String, Value>> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m.as_object().cloned()).collect())
        .unwrap_or_default()
}

/// A `.traj` document's parts, from either format.
struct Parsed {
    task: String,
    model: Option<String>,
    agent: Option<String>,
    seed: Option<u64>,
    exit_status: String,
    history: Vec<Value>,
    scores: Vec<serde_json::Map<String, Value>>,
    steps: usize,
}

fn parse_traj_doc(path: &Path, text: &str) -> Result<(Vec<Value>, Value, usize), ExportError> {
    // MLGym's `json.dump` writes bare NaN/Infinity (e.g. a failed score); read them as null.
    let doc: Value = parse_json_lenient(text)
        .map_err(|e| parse_err(path, format!("not a .traj JSON document: {e}")))?;
    let history = doc
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| parse_err(path, "no `history` list: not a .traj document"))?;
    let steps = doc
        .get("trajectory")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    Ok((
        history,
        doc.get("info").cloned().unwrap_or(Value::Null),
        steps,
    ))
}

fn load_traj(path: &Path) -> Result<Parsed, ExportError> {
    let (history, info, steps) = parse_traj_doc(path, &read_text(path)?)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.trim_end_matches(".gz").trim_end_matches(".traj");
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    // `model__task__...` in the file's name (flattened corpus) or its folder's.
    let (model, task) = match stem.split("__").collect::<Vec<_>>().as_slice() {
        [m, t, ..] => (Some(m.to_string()), t.to_string()),
        _ => (
            parent
                .split("__")
                .next()
                .filter(|_| parent.contains("__"))
                .map(str::to_string),
            stem.to_string(),
        ),
    };
    Ok(Parsed {
        task,
        model,
        agent: None,
        seed: None,
        exit_status: info
            .get("exit_status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        history,
        scores: metrics_list(info.get("score")),
        steps,
    })
}

fn load_run(dir: &Path) -> Result<Parsed, ExportError> {
    let meta_path = dir.join("run.json");
    let meta: Value = match std::fs::read(&meta_path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| parse_err(&meta_path, format!("not a run record: {e}")))?,
        Err(_) => Value::Null,
    };
    let journal = crate::record::read_journal(dir).ok();
    let task = meta
        .get("task")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            dir.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split("__").nth(1))
                .map(str::to_string)
        })
        .ok_or_else(|| parse_err(dir, "run.json names no task"))?;
    let traj_path = crate::record::traj_path(dir, &task);
    let (history, steps) = if traj_path.is_file() {
        let (h, _, n) = parse_traj_doc(&traj_path, &read_text(&traj_path)?)?;
        (h, n)
    } else if let Some((start, done)) = &journal {
        let mut h: Vec<Value> = start
            .history
            .iter()
            .filter_map(|x| serde_json::to_value(x).ok())
            .collect();
        for s in done {
            h.push(serde_json::json!({ "role": "assistant", "content": s.response }));
            h.push(serde_json::json!({ "role": "user", "content": s.user_message }));
        }
        (h, done.len())
    } else {
        return Err(parse_err(
            dir,
            "neither a .traj nor a readable trajectory.jsonl",
        ));
    };
    let scores = match meta.get("scores").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(|s| s.get("metrics").and_then(Value::as_object).cloned())
            .collect(),
        None => journal
            .iter()
            .flat_map(|(_, d)| {
                d.iter()
                    .filter_map(|s| s.score.as_ref())
                    .filter_map(|s| serde_json::to_value(&s.metrics).ok()?.as_object().cloned())
            })
            .collect(),
    };
    let exit_status = meta
        .get("exit_status")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            journal
                .as_ref()
                .and_then(|(_, d)| d.last().and_then(|s| s.exit_status.clone()))
        })
        .unwrap_or_default();
    Ok(Parsed {
        task,
        model: meta
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_string),
        agent: meta
            .get("agent")
            .and_then(Value::as_str)
            .map(str::to_string),
        seed: meta.get("seed").and_then(Value::as_u64),
        exit_status,
        history,
        scores,
        steps,
    })
}

/// Reads one episode into a record (the whole conversation).
pub fn load(source: &Source) -> Result<Record, ExportError> {
    let (p, path, format) = match source {
        Source::Run(d) => (load_run(d)?, d, "mlgym-run"),
        Source::Traj(f) => (load_traj(f)?, f, "mlgym-traj"),
    };
    let prim = primary(&p.task);
    let values: Vec<f64> = match &prim {
        Some((m, _, _)) => p
            .scores
            .iter()
            .filter_map(|s| s.get(m).and_then(Value::as_f64))
            .filter(|v| v.is_finite())
            .collect(),
        None => Vec::new(),
    };
    let best = prim.as_ref().and_then(|(_, d, _)| {
        values
            .iter()
            .copied()
            .reduce(|a, b| if d.better(b, a) { b } else { a })
    });
    Ok(Record {
        messages: messages_of(&p.history),
        metadata: Metadata {
            source: path.clone(),
            format: format.into(),
            task: p.task,
            model: p.model,
            agent: p.agent,
            seed: p.seed,
            exit_status: p.exit_status,
            score: values.last().copied(),
            best_score: best,
            primary_metric: prim.as_ref().map(|(m, _, _)| m.clone()),
            direction: prim.as_ref().map(|(_, d, _)| d.as_str().to_string()),
            baseline: prim.as_ref().and_then(|(_, _, b)| *b),
            scores: p.scores,
            steps: p.steps,
            step: None,
        },
    })
}
