//! The run directory's records, written so that a crash loses nothing:
//!
//! * `trajectory.jsonl` — the durable log: a `start` line, then one `step` line per
//!   step (state, raw response, thought, action, observation, timings, score, the
//!   snapshot `--resume` needs), each appended and fsynced before the next step;
//! * `<task>.traj` and `results.json` — MLGym's formats, rewritten atomically (temp file
//!   and rename) so MLGym's tooling and ours read each other's runs;
//! * `run.json` — our metadata: task, agent, model, seed, sandbox, versions, totals,
//!   exit status, every score with its step.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::{HistoryItem, ModelStats};
use crate::episode::{ScoreRecord, Snapshot};
use mlgym_tasks::Metrics;

/// Writes `bytes` to `path` through a temporary file and a rename (optionally fsynced).
pub fn atomic_write(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)
}

/// The first line of `trajectory.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StartRecord {
    /// Always `start`.
    pub kind: String,
    /// The conversation before the first step (system prompt, task prompt).
    pub history: Vec<HistoryItem>,
}

/// One step of `trajectory.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepRecord {
    /// Always `step`.
    pub kind: String,
    /// 1-based step number.
    pub step: usize,
    /// The agent's state before the action (MLGym's `state`, as JSON text).
    pub state: String,
    /// The model's raw response.
    pub response: String,
    /// The parsed thought.
    pub thought: String,
    /// The parsed action.
    pub action: String,
    /// The observation (without the footer).
    pub observation: String,
    /// The full user message sent back (observation and footer).
    pub user_message: String,
    /// Seconds for the environment step (MLGym's `execution_time`).
    pub execution_time: f64,
    /// Milliseconds waiting for the model (all queries of this step).
    pub model_ms: f64,
    /// Milliseconds of runtime overhead (everything but the model and the command).
    pub overhead_ms: f64,
    /// Responses that failed to parse and were re-asked in this step.
    pub format_retries: u32,
    /// The score this step produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreRecord>,
    /// Whether the episode ended here.
    pub done: bool,
    /// The exit status, when it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<String>,
    /// The evaluated submission so far (agent's view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<String>,
    /// Model totals after this step.
    pub model_stats: ModelStats,
    /// What `--resume` needs.
    pub snapshot: Snapshot,
}

/// The durable log.
pub struct Journal {
    file: File,
}

impl Journal {
    /// Opens (creating or appending to) `trajectory.jsonl` in `run_dir`.
    pub fn open(run_dir: &Path) -> std::io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(run_dir.join("trajectory.jsonl"))?;
        Ok(Journal { file })
    }

    /// Appends one JSON line and fsyncs.
    pub fn append<T: Serialize>(&mut self, value: &T) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }
}

/// Reads `trajectory.jsonl`: the start record and every complete step line. A torn last
/// line (the process died while writing it) is ignored.
pub fn read_journal(run_dir: &Path) -> Result<(StartRecord, Vec<StepRecord>), String> {
    let path = run_dir.join("trajectory.jsonl");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let first = lines
        .first()
        .ok_or_else(|| format!("{} is empty", path.display()))?;
    let start: StartRecord =
        serde_json::from_str(first).map_err(|e| format!("{} line 1: {e}", path.display()))?;
    let mut steps = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(1) {
        match serde_json::from_str::<StepRecord>(l) {
            Ok(s) => steps.push(s),
            // Only the last line can be torn by a crash.
            Err(_) if i + 1 == lines.len() => break,
            Err(e) => return Err(format!("{} line {}: {e}", path.display(), i + 1)),
        }
    }
    Ok((start, steps))
}

/// One entry of an MLGym `.traj` `trajectory` list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrajStep {
    /// The action.
    pub action: String,
    /// The observation.
    pub observation: String,
    /// The raw response.
    pub response: String,
    /// The state before the action (JSON text).
    pub state: String,
    /// The thought.
    pub thought: String,
    /// Seconds of `env.step`.
    pub execution_time: f64,
}

/// MLGym's `info`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrajInfo {
    /// Model totals.
    pub model_stats: ModelStats,
    /// Exit status (`""` while running).
    pub exit_status: String,
    /// The evaluated submission.
    pub submission: Option<String>,
    /// Every successful evaluation's metrics, in order.
    pub score: Vec<Metrics>,
    /// Unused (MLGym keeps it empty).
    pub summarizer: serde_json::Map<String, serde_json::Value>,
}

/// A whole `.traj` document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrajDoc {
    /// `mlgym_main`.
    pub environment: String,
    /// Steps.
    pub trajectory: Vec<TrajStep>,
    /// The conversation.
    pub history: Vec<HistoryItem>,
    /// Final info.
    pub info: TrajInfo,
}

/// `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Every successful evaluation, in order.
    pub agent: Vec<Metrics>,
    /// The task's baseline scores.
    pub baseline: Metrics,
}

/// `run.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunMeta {
    /// Task id.
    pub task: String,
    /// Agent spec as given (`baseline`, `replay:FILE`, `openai:MODEL`, ...).
    pub agent: String,
    /// Model name, when the agent is a model.
    pub model: Option<String>,
    /// Seed of all evaluations.
    pub seed: u64,
    /// Step budget.
    pub max_steps: usize,
    /// `running` or `finished`.
    pub status: String,
    /// MLGym's exit status, once finished.
    pub exit_status: Option<String>,
    /// Steps taken.
    pub steps: usize,
    /// Every score with the step it came from.
    pub scores: Vec<ScoreRecord>,
    /// Model totals.
    pub model_stats: ModelStats,
    /// Sandbox mode and landlock status.
    pub sandbox: serde_json::Value,
    /// GPUs leased (none yet).
    pub gpus: Vec<String>,
    /// Versions of mlgym and the interpreter.
    pub versions: serde_json::Value,
    /// Baseline used for comparisons.
    pub baseline: Metrics,
    /// Start and (when finished) end time, seconds since the Unix epoch.
    pub started_at: f64,
    /// End time.
    pub finished_at: Option<f64>,
    /// Mean and worst per-step runtime overhead in milliseconds.
    pub overhead_ms: serde_json::Value,
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Writes a JSON document atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T, sync: bool) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    atomic_write(path, &bytes, sync)
}

/// The `.traj` path of a run.
pub fn traj_path(run_dir: &Path, task: &str) -> PathBuf {
    run_dir.join(format!("{task}.traj"))
}
