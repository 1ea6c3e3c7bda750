//! The agent loop (MLGym's `BaseAgent.run`): ask the model, parse, step the episode,
//! record, until the episode ends — and `--resume` after a crash.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mlgym_tasks::Task;

use crate::agent::parse::thought_action;
use crate::agent::prompt::{self, Footer};
use crate::agent::{EpisodeInfo, HistoryItem, Model, Role};
use crate::commands;
use crate::episode::{scoring, Episode, EpisodeConfig, ScoreRecord};
use crate::record::{self, Journal, Results, RunMeta, StartRecord, StepRecord, TrajDoc, TrajInfo, TrajStep};

/// Most re-asks after unparsable responses before the step becomes `exit_format`.
const MAX_FORMAT_RETRIES: u32 = 2;

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The run directory.
    pub run_dir: PathBuf,
    /// MLGym's exit status.
    pub exit_status: String,
    /// Every score, in order.
    pub scores: Vec<ScoreRecord>,
    /// Steps taken.
    pub steps: usize,
}

/// Errors that stop a run (the episode's own failures are exit statuses, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The episode could not start.
    #[error(transparent)]
    Episode(#[from] crate::episode::EpisodeError),
    /// A record could not be written.
    #[error("writing the run's records in {dir}: {source}")]
    Record {
        /// The run directory.
        dir: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `--resume` found nothing usable.
    #[error("cannot resume {dir}: {message}")]
    Resume {
        /// The run directory.
        dir: PathBuf,
        /// Why.
        message: String,
    },
}

/// What a response turned into.
struct Decision {
    response: String,
    thought: String,
    action: String,
    model_ms: f64,
    retries: u32,
}

/// Asks the model until a response parses (MLGym's requery loop), or gives up with an
/// `exit_*` action.
fn decide(model: &mut dyn Model, history: &[HistoryItem]) -> Decision {
    let t0 = Instant::now();
    let mut temp: Vec<HistoryItem> = history.to_vec();
    let mut retries = 0;
    loop {
        let response = match model.query(&temp) {
            Ok(r) => r,
            Err(e) => {
                return Decision {
                    response: String::new(),
                    thought: format!("Exit due to {e}"),
                    action: e.exit_label().to_string(),
                    model_ms: t0.elapsed().as_secs_f64() * 1000.0,
                    retries,
                }
            }
        };
        let parsed = if model.raw_actions() { Ok((String::new(), response.clone())) } else { thought_action(&response) };
        match parsed {
            Ok((thought, action)) => {
                return Decision { response, thought, action, model_ms: t0.elapsed().as_secs_f64() * 1000.0, retries }
            }
            Err(e) if retries < MAX_FORMAT_RETRIES => {
                retries += 1;
                temp.push(HistoryItem::new(Role::Assistant, response));
                temp.push(HistoryItem::new(Role::User, prompt::format_error(&e.to_string())));
            }
            Err(_) => {
                return Decision {
                    response,
                    thought: "Exit due to format error".into(),
                    action: "exit_format".into(),
                    model_ms: t0.elapsed().as_secs_f64() * 1000.0,
                    retries,
                }
            }
        }
    }
}

/// Settings of a run.
pub struct RunSettings {
    /// The agent spec as given on the command line.
    pub agent_spec: String,
    /// Episode settings.
    pub episode: EpisodeConfig,
}

/// The next free run directory `<out>/<model>__<task>__<agent>__seed-<n>__run_<k>`.
pub fn new_run_dir(out: &Path, model: &str, task: &str, agent: &str, seed: u64) -> std::io::Result<PathBuf> {
    let clean = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' { c } else { '-' }).collect::<String>();
    let base = format!("{}__{}__{}__seed-{seed}", clean(model), clean(task), clean(agent));
    std::fs::create_dir_all(out)?;
    for k in 0.. {
        let dir = out.join(format!("{base}__run_{k}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free run directory"))
}

struct Recorder {
    run_dir: PathBuf,
    journal: Journal,
    traj: TrajDoc,
    meta: RunMeta,
    overheads: Vec<f64>,
}

impl Recorder {
    fn err(&self, source: std::io::Error) -> RunError {
        RunError::Record { dir: self.run_dir.clone(), source }
    }

    fn write_views(&mut self, sync: bool) -> Result<(), RunError> {
        let n = self.overheads.len().max(1) as f64;
        let mean = self.overheads.iter().sum::<f64>() / n;
        let max = self.overheads.iter().cloned().fold(0.0, f64::max);
        self.meta.overhead_ms = serde_json::json!({ "mean": mean, "max": max, "steps": self.overheads.len() });
        record::write_json(&record::traj_path(&self.run_dir, &self.meta.task), &self.traj, sync).map_err(|e| self.err(e))?;
        record::write_json(&self.run_dir.join("run.json"), &self.meta, sync).map_err(|e| self.err(e))
    }
}

fn versions(python: &Path) -> serde_json::Value {
    let py = std::process::Command::new(python)
        .args(["-I", "-c", "import sys; print(sys.version.split()[0])"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    serde_json::json!({ "mlgym": env!("CARGO_PKG_VERSION"), "python": py, "python_executable": python })
}

/// Runs a new episode of `task` with `model` in a fresh directory under `out`.
pub fn run_new(task: &'static Task, model: Box<dyn Model>, settings: RunSettings, out: &Path) -> Result<RunResult, RunError> {
    let model_name = model.name();
    let dir = new_run_dir(out, &model_name, &task.def.id, settings.agent_spec.split(':').next().unwrap_or("agent"), settings.episode.seed)
        .map_err(|e| RunError::Record { dir: out.to_path_buf(), source: e })?;
    run_in(task, model, settings, &dir, false)
}

/// Continues the episode recorded in `run_dir` with `model` (built from the recorded
/// agent spec).
pub fn resume(task: &'static Task, model: Box<dyn Model>, settings: RunSettings, run_dir: &Path) -> Result<RunResult, RunError> {
    run_in(task, model, settings, run_dir, true)
}

fn run_in(task: &'static Task, mut model: Box<dyn Model>, settings: RunSettings, run_dir: &Path, resuming: bool) -> Result<RunResult, RunError> {
    let cfg = settings.episode.clone();
    let mut episode = Episode::start(task, run_dir, cfg.clone())?;
    let baseline = scoring::baseline_scores(task);
    let mut history: Vec<HistoryItem>;
    let mut steps: Vec<StepRecord> = Vec::new();
    if resuming {
        let (start, done) = record::read_journal(run_dir).map_err(|m| RunError::Resume { dir: run_dir.to_path_buf(), message: m })?;
        history = start.history;
        steps = done;
        if steps.last().is_some_and(|s| s.done) {
            return Err(RunError::Resume { dir: run_dir.to_path_buf(), message: "the episode already ended".into() });
        }
        for s in &steps {
            history.push(HistoryItem::assistant(s.response.clone(), s.thought.clone(), s.action.clone()));
            history.push(HistoryItem::new(Role::User, s.user_message.clone()));
        }
        if let Some(last) = steps.last() {
            episode.restore(&last.snapshot);
            model.resume(steps.len(), last.model_stats.clone());
        }
    } else {
        let docs = commands::command_docs_for_window(episode.editor.window);
        let footer = prompt::footer(&Footer { current_step: 0, max_steps: cfg.max_steps, open_file: None, cwd: episode.cwd() });
        history = vec![
            HistoryItem::new(Role::System, prompt::system(&docs, episode.editor.window, task.def.training_timeout)),
            HistoryItem::new(Role::User, prompt::task(&task.description, &footer)),
        ];
    }
    let mut journal = Journal::open(run_dir).map_err(|e| RunError::Record { dir: run_dir.to_path_buf(), source: e })?;
    if !resuming {
        journal
            .append(&StartRecord { kind: "start".into(), history: history.clone() })
            .map_err(|e| RunError::Record { dir: run_dir.to_path_buf(), source: e })?;
    }
    let scores: Vec<ScoreRecord> = steps.iter().filter_map(|s| s.score.clone()).collect();
    let landlock = serde_json::json!({ "mode": episode.mode().as_str(), "requested": format!("{:?}", cfg.mode).to_lowercase() });
    let meta = RunMeta {
        task: task.def.id.clone(),
        agent: settings.agent_spec.clone(),
        model: Some(model.name()),
        seed: cfg.seed,
        max_steps: cfg.max_steps,
        status: "running".into(),
        exit_status: None,
        steps: steps.len(),
        scores: scores.clone(),
        model_stats: model.stats(),
        sandbox: landlock,
        gpus: Vec::new(),
        versions: versions(&cfg.python.executable),
        baseline: baseline.clone(),
        started_at: record::now(),
        finished_at: None,
        overhead_ms: serde_json::Value::Null,
    };
    let traj = TrajDoc {
        environment: "mlgym_main".into(),
        trajectory: steps
            .iter()
            .map(|s| TrajStep { action: s.action.clone(), observation: s.observation.clone(), response: s.response.clone(), state: s.state.clone(), thought: s.thought.clone(), execution_time: s.execution_time })
            .collect(),
        history: history.clone(),
        info: TrajInfo { model_stats: model.stats(), exit_status: String::new(), submission: None, score: scores.iter().map(|s| s.metrics.clone()).collect(), summarizer: Default::default() },
    };
    let mut rec = Recorder { run_dir: run_dir.to_path_buf(), journal, traj, meta, overheads: steps.iter().map(|s| s.overhead_ms).collect() };
    rec.write_views(false)?;
    model.start(&EpisodeInfo { task_id: task.def.id.clone(), workspace: episode.workspace.inside.clone() });

    while !episode.done {
        let step_start = Instant::now();
        let state = serde_json::to_string(&episode.state()).unwrap_or_default();
        let d = decide(model.as_mut(), &history);
        let outcome = episode.step(&d.action);
        let open = episode.open_file();
        let footer = prompt::footer(&Footer { current_step: episode.step, max_steps: cfg.max_steps, open_file: open.as_deref(), cwd: episode.cwd() });
        let user_message = prompt::observation(&outcome.observation, &footer);
        let total_ms = step_start.elapsed().as_secs_f64() * 1000.0;
        history.push(HistoryItem::assistant(d.response.clone(), d.thought.clone(), d.action.clone()));
        history.push(HistoryItem::new(Role::User, user_message.clone()));
        let step_rec = StepRecord {
            kind: "step".into(),
            step: episode.step,
            state: state.clone(),
            response: d.response.clone(),
            thought: d.thought.clone(),
            action: d.action.clone(),
            observation: outcome.observation.clone(),
            user_message,
            execution_time: outcome.command_ms / 1000.0,
            model_ms: d.model_ms,
            overhead_ms: 0.0,
            format_retries: d.retries,
            score: outcome.score.clone(),
            done: episode.done,
            exit_status: episode.exit_status.clone(),
            submission: episode.submission.clone(),
            model_stats: model.stats(),
            snapshot: episode.snapshot(),
        };
        let t_rec = Instant::now();
        let mut step_rec = step_rec;
        // Overhead: everything but the model and the command. The journal line holds the
        // part before recording; run.json's figures add the recording itself.
        step_rec.overhead_ms = (total_ms - d.model_ms - outcome.command_ms).max(0.0);
        rec.journal.append(&step_rec).map_err(|e| rec.err(e))?;
        rec.traj.trajectory.push(TrajStep {
            action: d.action.clone(),
            observation: outcome.observation.clone(),
            response: d.response.clone(),
            state,
            thought: d.thought.clone(),
            execution_time: outcome.command_ms / 1000.0,
        });
        rec.traj.history = history.clone();
        if let Some(s) = &outcome.score {
            rec.traj.info.score.push(s.metrics.clone());
            rec.meta.scores.push(s.clone());
        }
        rec.traj.info.model_stats = model.stats();
        rec.traj.info.submission = episode.submission.clone();
        rec.traj.info.exit_status = episode.exit_status.clone().unwrap_or_default();
        rec.meta.steps = episode.step;
        rec.meta.model_stats = model.stats();
        let write_ms = t_rec.elapsed().as_secs_f64() * 1000.0;
        rec.overheads.push(step_rec.overhead_ms + write_ms);
        rec.write_views(false)?;
        if d.action.trim() == "submit" && !episode.done {
            // MLGym ends the loop on `submit` even when the evaluation failed.
            break;
        }
    }
    let exit_status = episode.exit_status.clone().unwrap_or_default();
    rec.meta.status = "finished".into();
    rec.meta.exit_status = Some(exit_status.clone());
    rec.meta.finished_at = Some(record::now());
    rec.traj.info.exit_status = exit_status.clone();
    rec.write_views(true)?;
    let results = Results { agent: rec.traj.info.score.clone(), baseline };
    record::write_json(&run_dir.join("results.json"), &results, true).map_err(|e| rec.err(e))?;
    let scores = rec.meta.scores.clone();
    let steps_taken = episode.step;
    episode.close();
    Ok(RunResult { run_dir: run_dir.to_path_buf(), exit_status, scores, steps: steps_taken })
}
