//! The episode driver: one [`Episode`] and its records, advanced one step at a time.
//!
//! Whoever decides the actions — the runner's agent loop with a [`crate::agent::Model`],
//! or a training loop through the Gym API — hands each step to
//! [`EpisodeDriver::step`], which runs it with MLGym's semantics, builds the observation
//! text the agent sees (observation + status footer) and records it exactly as
//! `mlgym run` does: a fsynced `trajectory.jsonl` line, then `<task>.traj` and
//! `run.json` rewritten atomically; [`EpisodeDriver::finish`] writes `results.json`
//! and the final `run.json` and ends the sandbox.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mlgym_tasks::{Metrics, Task};

use crate::agent::prompt::{self, Footer};
use crate::agent::{HistoryItem, ModelStats, Role};
use crate::episode::{scoring, Episode, EpisodeConfig, ScoreRecord, StepOutcome};
use crate::record::{
    self, Journal, Results, RunMeta, StartRecord, StepRecord, TrajDoc, TrajInfo, TrajStep,
};

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

/// Who drives the episode, for the records.
#[derive(Clone, Debug)]
pub struct DriverSettings {
    /// The agent spec recorded in `run.json` (`baseline`, `replay:FILE`, `gym`, ...).
    pub agent_spec: String,
    /// The model name recorded in `run.json`.
    pub model: Option<String>,
    /// Episode settings.
    pub episode: EpisodeConfig,
}

/// One step as the decider made it.
#[derive(Clone, Debug, Default)]
pub struct Turn {
    /// The raw response (the action itself when there was no model).
    pub response: String,
    /// The parsed thought.
    pub thought: String,
    /// The action to run.
    pub action: String,
    /// Milliseconds spent deciding (model queries).
    pub model_ms: f64,
    /// Responses that failed to parse and were re-asked.
    pub format_retries: u32,
    /// Model totals after this step.
    pub model_stats: ModelStats,
}

/// What a step did.
#[derive(Clone, Debug)]
pub struct Stepped {
    /// The episode's result (observation without the footer, score, timing).
    pub outcome: StepOutcome,
    /// What the agent sees next: observation and status footer.
    pub user_message: String,
    /// The step number (1-based).
    pub step: usize,
    /// Whether the episode is over.
    pub done: bool,
}

/// Keeps a name usable as part of a folder name: every character other than an ASCII
/// letter, digit, `-`, `.` or `_` becomes `-` (run directories, sweep cells).
pub fn folder_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The next free run directory `<out>/<model>__<task>__<agent>__seed-<n>__run_<k>`.
pub fn new_run_dir(
    out: &Path,
    model: &str,
    task: &str,
    agent: &str,
    seed: u64,
) -> std::io::Result<PathBuf> {
    let base = format!(
        "{}__{}__{}__seed-{seed}",
        folder_part(model),
        folder_part(task),
        folder_part(agent)
    );
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

fn versions(python: &Path) -> serde_json::Value {
    let py = std::process::Command::new(python)
        .args(["-I", "-c", "import sys; print(sys.version.split()[0])"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    serde_json::json!({ "mlgym": env!("CARGO_PKG_VERSION"), "python": py, "python_executable": python })
}

/// An episode whose sandbox runs and whose conversation is known, before its records
/// are opened (the first phase of [`EpisodeDriver::open`]).
pub struct Opened {
    task: &'static Task,
    run_dir: PathBuf,
    settings: DriverSettings,
    episode: Episode,
    history: Vec<HistoryItem>,
    steps: Vec<StepRecord>,
    resuming: bool,
    /// On `--resume`: the steps already recorded and the model totals after the last.
    pub resumed: Option<(usize, ModelStats)>,
}

impl Opened {
    /// Opens the records (writing the `start` line of a new episode) and returns the
    /// driver. `model_stats` are the decider's totals now.
    pub fn begin(self, model_stats: ModelStats) -> Result<EpisodeDriver, RunError> {
        let Opened {
            task,
            run_dir,
            settings,
            episode,
            history,
            steps,
            resuming,
            ..
        } = self;
        let cfg = &settings.episode;
        let err = |source| RunError::Record {
            dir: run_dir.clone(),
            source,
        };
        let mut journal = Journal::open(&run_dir).map_err(err)?;
        if !resuming {
            journal
                .append(&StartRecord {
                    kind: "start".into(),
                    history: history.clone(),
                })
                .map_err(err)?;
        }
        let baseline = scoring::baseline_scores(task);
        let scores: Vec<ScoreRecord> = steps.iter().filter_map(|s| s.score.clone()).collect();
        let sandbox = serde_json::json!({ "mode": episode.mode().as_str(), "requested": format!("{:?}", cfg.mode).to_lowercase() });
        let meta = RunMeta {
            task: task.def.id.clone(),
            agent: settings.agent_spec.clone(),
            model: settings.model.clone(),
            seed: cfg.seed,
            max_steps: cfg.max_steps,
            status: "running".into(),
            exit_status: None,
            steps: steps.len(),
            scores: scores.clone(),
            model_stats: model_stats.clone(),
            sandbox,
            gpus: cfg.gpus.iter().map(|g| g.label()).collect(),
            versions: versions(&cfg.python.executable),
            baseline,
            started_at: record::now(),
            finished_at: None,
            overhead_ms: serde_json::Value::Null,
        };
        let traj = TrajDoc {
            environment: "mlgym_main".into(),
            trajectory: steps
                .iter()
                .map(|s| TrajStep {
                    action: s.action.clone(),
                    observation: s.observation.clone(),
                    response: s.response.clone(),
                    state: s.state.clone(),
                    thought: s.thought.clone(),
                    execution_time: s.execution_time,
                })
                .collect(),
            history: history.clone(),
            info: TrajInfo {
                model_stats,
                exit_status: String::new(),
                submission: None,
                score: scores.iter().map(|s| s.metrics.clone()).collect(),
                summarizer: Default::default(),
            },
        };
        let mut rec = Records {
            run_dir,
            journal,
            traj,
            meta,
            overheads: steps.iter().map(|s| s.overhead_ms).collect(),
        };
        rec.write_views(false)?;
        Ok(EpisodeDriver {
            task,
            episode,
            history,
            rec,
            ended_by_submit: false,
        })
    }
}

/// The run's records as they stand.
struct Records {
    run_dir: PathBuf,
    journal: Journal,
    traj: TrajDoc,
    meta: RunMeta,
    overheads: Vec<f64>,
}

impl Records {
    fn err(&self, source: std::io::Error) -> RunError {
        RunError::Record {
            dir: self.run_dir.clone(),
            source,
        }
    }

    fn write_views(&mut self, sync: bool) -> Result<(), RunError> {
        let n = self.overheads.len().max(1) as f64;
        let mean = self.overheads.iter().sum::<f64>() / n;
        let max = self.overheads.iter().cloned().fold(0.0, f64::max);
        self.meta.overhead_ms =
            serde_json::json!({ "mean": mean, "max": max, "steps": self.overheads.len() });
        record::write_json(
            &record::traj_path(&self.run_dir, &self.meta.task),
            &self.traj,
            sync,
        )
        .map_err(|e| self.err(e))?;
        record::write_json(&self.run_dir.join("run.json"), &self.meta, sync)
            .map_err(|e| self.err(e))
    }
}

/// A running episode and its records.
pub struct EpisodeDriver {
    task: &'static Task,
    episode: Episode,
    history: Vec<HistoryItem>,
    rec: Records,
    ended_by_submit: bool,
}

impl EpisodeDriver {
    /// Starts the episode's sandbox in `run_dir` and prepares its conversation: the
    /// system and task prompts of a new episode, or (with `resuming`) the conversation
    /// and episode state recorded in `run_dir/trajectory.jsonl`.
    pub fn open(
        task: &'static Task,
        run_dir: &Path,
        settings: DriverSettings,
        resuming: bool,
    ) -> Result<Opened, RunError> {
        let cfg = settings.episode.clone();
        let mut episode = Episode::start(task, run_dir, cfg.clone())?;
        let mut history: Vec<HistoryItem>;
        let mut steps: Vec<StepRecord> = Vec::new();
        let mut resumed = None;
        if resuming {
            let (start, done) = record::read_journal(run_dir).map_err(|m| RunError::Resume {
                dir: run_dir.to_path_buf(),
                message: m,
            })?;
            history = start.history;
            steps = done;
            if steps.last().is_some_and(|s| s.done) {
                return Err(RunError::Resume {
                    dir: run_dir.to_path_buf(),
                    message: "the episode already ended".into(),
                });
            }
            for s in &steps {
                history.push(HistoryItem::assistant(
                    s.response.clone(),
                    s.thought.clone(),
                    s.action.clone(),
                ));
                history.push(HistoryItem::new(Role::User, s.user_message.clone()));
            }
            if let Some(last) = steps.last() {
                episode.restore(&last.snapshot);
                resumed = Some((steps.len(), last.model_stats.clone()));
            }
        } else {
            let docs = episode.command_docs();
            let footer = prompt::footer(&Footer {
                current_step: 0,
                max_steps: cfg.max_steps,
                open_file: None,
                cwd: episode.cwd(),
                memory: episode.memory_status(),
            });
            history = vec![
                HistoryItem::new(
                    Role::System,
                    prompt::system(&docs, episode.editor.window, task.def.training_timeout),
                ),
                HistoryItem::new(Role::User, prompt::task(&task.description, &footer)),
            ];
        }
        Ok(Opened {
            task,
            run_dir: run_dir.to_path_buf(),
            settings,
            episode,
            history,
            steps,
            resuming,
            resumed,
        })
    }

    /// The task.
    pub fn task(&self) -> &'static Task {
        self.task
    }

    /// The run directory.
    pub fn run_dir(&self) -> &Path {
        &self.rec.run_dir
    }

    /// The episode (state, workspace, counters).
    pub fn episode(&self) -> &Episode {
        &self.episode
    }

    /// The conversation so far (system prompt, task prompt, then assistant/user pairs).
    pub fn history(&self) -> &[HistoryItem] {
        &self.history
    }

    /// Every score so far, in order.
    pub fn scores(&self) -> &[ScoreRecord] {
        &self.rec.meta.scores
    }

    /// The baseline scores recorded for the run.
    pub fn baseline(&self) -> &Metrics {
        &self.rec.meta.baseline
    }

    /// Whether the episode is over: it ended (submission, autosubmission, forfeit), or a
    /// `submit` was answered without ending it (MLGym's loop stops there too).
    pub fn done(&self) -> bool {
        self.episode.done || self.ended_by_submit
    }

    /// Runs one step and records it.
    pub fn step(&mut self, turn: Turn) -> Result<Stepped, RunError> {
        let started = Instant::now();
        let state = serde_json::to_string(&self.episode.state()).unwrap_or_default();
        let outcome = self.episode.step(&turn.action);
        let open = self.episode.open_file();
        let footer = prompt::footer(&Footer {
            current_step: self.episode.step,
            max_steps: self.episode.max_steps(),
            open_file: open.as_deref(),
            cwd: self.episode.cwd(),
            memory: self.episode.memory_status(),
        });
        let user_message = prompt::observation(&outcome.observation, &footer);
        self.history.push(HistoryItem::assistant(
            turn.response.clone(),
            turn.thought.clone(),
            turn.action.clone(),
        ));
        self.history
            .push(HistoryItem::new(Role::User, user_message.clone()));
        // Overhead: everything but the decision and the command. The journal line holds
        // the part before recording; run.json's figures add the recording itself.
        let overhead_ms = (started.elapsed().as_secs_f64() * 1000.0 - outcome.command_ms).max(0.0);
        let step_rec = StepRecord {
            kind: "step".into(),
            step: self.episode.step,
            state: state.clone(),
            response: turn.response.clone(),
            thought: turn.thought.clone(),
            action: turn.action.clone(),
            observation: outcome.observation.clone(),
            user_message: user_message.clone(),
            execution_time: outcome.command_ms / 1000.0,
            model_ms: turn.model_ms,
            overhead_ms,
            format_retries: turn.format_retries,
            score: outcome.score.clone(),
            done: self.episode.done,
            exit_status: self.episode.exit_status.clone(),
            submission: self.episode.submission.clone(),
            model_stats: turn.model_stats.clone(),
            snapshot: self.episode.snapshot(),
        };
        let t_rec = Instant::now();
        let rec = &mut self.rec;
        rec.journal.append(&step_rec).map_err(|e| rec.err(e))?;
        rec.traj.trajectory.push(TrajStep {
            action: turn.action.clone(),
            observation: outcome.observation.clone(),
            response: turn.response,
            state,
            thought: turn.thought,
            execution_time: outcome.command_ms / 1000.0,
        });
        rec.traj.history = self.history.clone();
        if let Some(s) = &outcome.score {
            rec.traj.info.score.push(s.metrics.clone());
            rec.meta.scores.push(s.clone());
        }
        rec.traj.info.model_stats = turn.model_stats.clone();
        rec.traj.info.submission = self.episode.submission.clone();
        rec.traj.info.exit_status = self.episode.exit_status.clone().unwrap_or_default();
        rec.meta.steps = self.episode.step;
        rec.meta.model_stats = turn.model_stats;
        let write_ms = t_rec.elapsed().as_secs_f64() * 1000.0;
        rec.overheads.push(overhead_ms + write_ms);
        rec.write_views(false)?;
        if turn.action.trim() == "submit" && !self.episode.done {
            // MLGym ends the loop on `submit` even when the evaluation failed.
            self.ended_by_submit = true;
        }
        Ok(Stepped {
            outcome,
            user_message,
            step: self.episode.step,
            done: self.done(),
        })
    }

    /// Ends the episode: the sandbox first (nothing runs once the records say
    /// finished), then the final `run.json` and `.traj` and `results.json`, fsynced.
    /// `closed_as` is the exit status to record when the episode had not ended by
    /// itself (e.g. `closed (client)`); `None` keeps MLGym's empty status.
    pub fn finish(self, closed_as: Option<&str>) -> Result<RunResult, RunError> {
        let EpisodeDriver {
            episode, mut rec, ..
        } = self;
        let exit_status = episode
            .exit_status
            .clone()
            .or_else(|| closed_as.map(str::to_string))
            .unwrap_or_default();
        let steps = episode.step;
        episode.close();
        rec.meta.status = "finished".into();
        rec.meta.exit_status = Some(exit_status.clone());
        rec.meta.finished_at = Some(record::now());
        rec.traj.info.exit_status = exit_status.clone();
        rec.write_views(true)?;
        let results = Results {
            agent: rec.traj.info.score.clone(),
            baseline: rec.meta.baseline.clone(),
        };
        record::write_json(&rec.run_dir.join("results.json"), &results, true)
            .map_err(|e| rec.err(e))?;
        Ok(RunResult {
            run_dir: rec.run_dir,
            exit_status,
            scores: rec.meta.scores,
            steps,
        })
    }
}
