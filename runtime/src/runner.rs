//! The agent loop (MLGym's `BaseAgent.run`): ask the model, parse, step the episode,
//! record, until the episode ends — and `--resume` after a crash.

use std::path::Path;
use std::time::Instant;

use mlgym_tasks::Task;

use crate::agent::parse::thought_action;
use crate::agent::prompt;
use crate::agent::{EpisodeInfo, HistoryItem, Model, Role};
use crate::episode::EpisodeConfig;
use crate::gym::driver::{DriverSettings, EpisodeDriver, Turn};

pub use crate::gym::driver::{new_run_dir, RunError, RunResult};

/// Most re-asks after unparsable responses before the step becomes `exit_format`.
const MAX_FORMAT_RETRIES: u32 = 2;

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
        let parsed = if model.raw_actions() {
            Ok((String::new(), response.clone()))
        } else {
            thought_action(&response)
        };
        match parsed {
            Ok((thought, action)) => {
                return Decision {
                    response,
                    thought,
                    action,
                    model_ms: t0.elapsed().as_secs_f64() * 1000.0,
                    retries,
                }
            }
            Err(e) if retries < MAX_FORMAT_RETRIES => {
                retries += 1;
                temp.push(HistoryItem::new(Role::Assistant, response));
                temp.push(HistoryItem::new(
                    Role::User,
                    prompt::format_error(&e.to_string()),
                ));
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

/// Runs a new episode of `task` with `model` in a fresh directory under `out`.
pub fn run_new(
    task: &'static Task,
    model: Box<dyn Model>,
    settings: RunSettings,
    out: &Path,
) -> Result<RunResult, RunError> {
    let model_name = model.name();
    let dir = new_run_dir(
        out,
        &model_name,
        &task.def.id,
        settings.agent_spec.split(':').next().unwrap_or("agent"),
        settings.episode.seed,
    )
    .map_err(|e| RunError::Record {
        dir: out.to_path_buf(),
        source: e,
    })?;
    run_in(task, model, settings, &dir, false)
}

/// Continues the episode recorded in `run_dir` with `model` (built from the recorded
/// agent spec).
pub fn resume(
    task: &'static Task,
    model: Box<dyn Model>,
    settings: RunSettings,
    run_dir: &Path,
) -> Result<RunResult, RunError> {
    run_in(task, model, settings, run_dir, true)
}

/// The agent loop: an [`EpisodeDriver`] stepped with the model's decisions until the
/// episode ends (the driver records every step; see [`crate::gym::driver`]).
fn run_in(
    task: &'static Task,
    mut model: Box<dyn Model>,
    settings: RunSettings,
    run_dir: &Path,
    resuming: bool,
) -> Result<RunResult, RunError> {
    let driver_settings = DriverSettings {
        agent_spec: settings.agent_spec.clone(),
        model: Some(model.name()),
        episode: settings.episode,
    };
    let opened = EpisodeDriver::open(task, run_dir, driver_settings, resuming)?;
    if let Some((done, stats)) = opened.resumed.clone() {
        model.resume(done, stats);
    }
    let mut driver = opened.begin(model.stats())?;
    model.start(&EpisodeInfo {
        task_id: task.def.id.clone(),
        workspace: driver.episode().workspace.inside.clone(),
    });
    while !driver.done() {
        let d = decide(model.as_mut(), driver.history());
        driver.step(Turn {
            response: d.response,
            thought: d.thought,
            action: d.action,
            model_ms: d.model_ms,
            format_retries: d.retries,
            model_stats: model.stats(),
        })?;
    }
    driver.finish(None)
}
