//! [`GymEnv`]: MLGym's Gym API (`reset`, `step` → `(observation, reward, done, info)`,
//! `close`) over an [`EpisodeDriver`], so an episode driven by a training loop is
//! recorded exactly like one run by `mlgym run`.

use std::path::PathBuf;
use std::time::Duration;

use mlgym_kernels::lease::{GpuLease, GpuRequest, LeaseError};
use mlgym_tasks::{Metrics, Task};
use serde::{Deserialize, Serialize};

use super::driver::{new_run_dir, DriverSettings, EpisodeDriver, RunError, RunResult, Turn};
use super::reward::{RewardKind, RewardSpec};
use crate::agent::parse::thought_action;
use crate::agent::{prompt, ModelStats, Role};
use crate::episode::{AgentState, EpisodeConfig, ScoreRecord};

/// Exit status recorded when the client closes an episode that had not ended.
pub const CLOSED_BY_CLIENT: &str = "closed (client)";
/// Exit status recorded when `reset` replaces an episode that had not ended.
pub const CLOSED_BY_RESET: &str = "closed (reset)";
/// Exit status recorded when a [`GymEnv`] is dropped with an episode open.
pub const CLOSED_BY_DROP: &str = "closed (dropped)";

/// Settings of a [`GymEnv`].
#[derive(Clone, Debug)]
pub struct GymConfig {
    /// Where run directories are created.
    pub out: PathBuf,
    /// The agent spec recorded in `run.json` (e.g. `gym`).
    pub agent: String,
    /// The model name recorded in `run.json` and the run directory's name.
    pub model: String,
    /// How scores become rewards.
    pub reward: RewardKind,
    /// Episode settings; `reset` sets the seed and the leased GPUs.
    pub episode: EpisodeConfig,
    /// GPUs each episode leases exclusively for its lifetime (`auto`: as many as the
    /// task declares, none on a host without GPUs); its sandbox sees only those.
    pub gpus: GpuRequest,
    /// How long `reset` waits for GPUs that other episodes or runs hold.
    pub gpu_wait: Duration,
}

/// Errors of the Gym API. Episode failures (a failed evaluation, a timeout) are not
/// errors: they are observations and exit statuses.
#[derive(Debug, thiserror::Error)]
pub enum GymError {
    /// The task id is not registered.
    #[error(transparent)]
    UnknownTask(#[from] mlgym_tasks::registry::RegistryError),
    /// `step` before `reset`, or after `close`.
    #[error("no episode is open: call reset(task, seed) first")]
    NotStarted,
    /// `step` after the episode ended.
    #[error("the episode has ended (exit status `{exit_status}`, {steps} steps): reset it to start a new one, or close it")]
    Ended {
        /// The exit status.
        exit_status: String,
        /// Steps taken.
        steps: usize,
    },
    /// The `response` holds no usable action; `message` is what to send back to the
    /// model (MLGym's format-error reply). Nothing was executed.
    #[error("{message}")]
    Format {
        /// The reply for the model.
        message: String,
    },
    /// A request that cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),
    /// The episode's GPUs could not be leased (busy, or not on this host).
    #[error(transparent)]
    Gpu(#[from] LeaseError),
    /// Starting the episode or writing its records failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// One step's input: the action to run, or the model's raw response to take it from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// The action (a command, `validate`, `submit`, ...). Required unless `response`.
    #[serde(default)]
    pub action: Option<String>,
    /// The model's raw response. Without `action` it is parsed with MLGym's format (a
    /// discussion and one fenced command); it is recorded as the response either way.
    #[serde(default)]
    pub response: Option<String>,
    /// The thought to record (default: parsed from `response`, else empty).
    #[serde(default)]
    pub thought: Option<String>,
    /// Model token/cost totals to record.
    #[serde(default)]
    pub model_stats: Option<ModelStats>,
    /// Milliseconds the decision took, to record.
    #[serde(default)]
    pub model_ms: Option<f64>,
}

/// MLGym's `info`, with the reward's inputs.
#[derive(Clone, Debug, Serialize)]
pub struct Info {
    /// Task id.
    pub task: String,
    /// The run directory holding the episode's records.
    pub run_dir: PathBuf,
    /// Seed of every evaluation.
    pub seed: u64,
    /// The GPUs the episode leased (labels), the only ones its sandbox sees.
    pub gpus: Vec<String>,
    /// Steps taken.
    pub step: usize,
    /// The step budget.
    pub max_steps: usize,
    /// Steps left before the autosubmission.
    pub remaining_steps: usize,
    /// Whether the episode is over.
    pub done: bool,
    /// MLGym's exit status, once over.
    pub exit_status: Option<String>,
    /// The score this step produced, if any.
    pub score: Option<ScoreRecord>,
    /// Every score so far, in order (MLGym's `info["score"]`, with steps).
    pub scores: Vec<ScoreRecord>,
    /// The task's baseline scores.
    pub baseline: Metrics,
    /// The primary metric.
    pub primary_metric: String,
    /// `max` or `min`.
    pub direction: String,
    /// The best primary-metric value so far.
    pub best_score: Option<f64>,
    /// The last primary-metric value (MLGym's "last attempt").
    pub last_score: Option<f64>,
    /// How rewards are computed.
    pub reward_kind: RewardKind,
    /// Why this step's reward is 0 although it was scored.
    pub reward_note: Option<String>,
    /// Sum of the rewards so far.
    pub episode_return: f64,
    /// The observation without the status footer.
    pub raw_observation: String,
    /// The agent's state after the step (open file, working directory).
    pub state: AgentState,
    /// The last evaluated submission, as the agent sees it.
    pub submission: Option<String>,
    /// Seconds the command or evaluation took.
    pub execution_time: f64,
}

/// What `reset` returns.
#[derive(Clone, Debug, Serialize)]
pub struct ResetOutput {
    /// The system prompt (role, command documentation, response format).
    pub system: String,
    /// The first observation: MLGym's task prompt with the status footer.
    pub observation: String,
    /// The info at step 0.
    pub info: Info,
}

/// What `step` returns: MLGym's 4-tuple.
#[derive(Clone, Debug, Serialize)]
pub struct Transition {
    /// What the agent sees: the observation and the status footer.
    pub observation: String,
    /// The reward (see [`super::reward`]).
    pub reward: f64,
    /// Whether the episode is over.
    pub done: bool,
    /// The info.
    pub info: Info,
}

/// What `close` returns.
#[derive(Clone, Debug, Serialize)]
pub struct Closed {
    /// The final info.
    pub info: Info,
    /// The exit status recorded.
    pub exit_status: String,
}

struct Active {
    driver: EpisodeDriver,
    /// Held until the episode's sandbox has ended (released after `finish`).
    gpus: GpuLease,
    reward: RewardSpec,
    seed: u64,
    episode_return: f64,
}

impl Active {
    fn info(
        &self,
        score: Option<ScoreRecord>,
        reward_note: Option<String>,
        raw_observation: String,
        execution_time: f64,
    ) -> Info {
        let ep = self.driver.episode();
        let task: &Task = self.driver.task();
        let primaries: Vec<f64> = self
            .driver
            .scores()
            .iter()
            .filter_map(|s| self.reward.primary(&s.metrics))
            .collect();
        let best = primaries.iter().copied().reduce(|a, b| {
            if self.reward.direction.better(b, a) {
                b
            } else {
                a
            }
        });
        Info {
            task: task.def.id.clone(),
            run_dir: self.driver.run_dir().to_path_buf(),
            seed: self.seed,
            gpus: self.gpus.devices().iter().map(|g| g.label()).collect(),
            step: ep.step,
            max_steps: ep.max_steps(),
            remaining_steps: ep.max_steps().saturating_sub(ep.step),
            done: self.driver.done(),
            exit_status: ep.exit_status.clone(),
            score,
            scores: self.driver.scores().to_vec(),
            baseline: self.driver.baseline().clone(),
            primary_metric: self.reward.metric.clone(),
            direction: self.reward.direction.as_str().to_string(),
            best_score: best,
            last_score: primaries.last().copied(),
            reward_kind: self.reward.kind,
            reward_note,
            episode_return: self.episode_return,
            raw_observation,
            state: ep.state(),
            submission: ep.submission.clone(),
            execution_time,
        }
    }
}

/// One environment: at most one open episode at a time, like MLGym's `MLGymEnv`.
pub struct GymEnv {
    cfg: GymConfig,
    active: Option<Active>,
}

impl GymEnv {
    /// An environment with no episode yet.
    pub fn new(cfg: GymConfig) -> GymEnv {
        GymEnv { cfg, active: None }
    }

    /// The settings.
    pub fn config(&self) -> &GymConfig {
        &self.cfg
    }

    /// Whether an episode is open (it may have ended and await `close` or `reset`).
    pub fn is_open(&self) -> bool {
        self.active.is_some()
    }

    /// The open episode's driver (records, history, episode state).
    pub fn driver(&self) -> Option<&EpisodeDriver> {
        self.active.as_ref().map(|a| &a.driver)
    }

    /// Starts a new episode of `task` whose evaluations use `seed`, in a fresh run
    /// directory with its own sandbox. An episode still open is closed first (recorded
    /// as `closed (reset)` unless it had ended).
    pub fn reset(&mut self, task: &str, seed: u64) -> Result<ResetOutput, GymError> {
        let task = mlgym_tasks::registry::get(task)?;
        if self.cfg.episode.max_steps == 0 {
            return Err(GymError::Invalid("max_steps must be at least 1".into()));
        }
        self.close_as(CLOSED_BY_RESET)?;
        let purpose = format!(
            "mlgym gym episode of {} (pid {})",
            task.def.id,
            std::process::id()
        );
        let gpus = crate::gpu_lease::lease_for_task(
            task,
            &self.cfg.gpus,
            self.cfg.gpu_wait,
            purpose,
            |_| {},
        )?;
        let mut episode = self.cfg.episode.clone();
        episode.seed = seed;
        episode.gpus = gpus.devices().to_vec();
        let run_dir = new_run_dir(
            &self.cfg.out,
            &self.cfg.model,
            &task.def.id,
            &self.cfg.agent,
            seed,
        )
        .map_err(|source| RunError::Record {
            dir: self.cfg.out.clone(),
            source,
        })?;
        let settings = DriverSettings {
            agent_spec: self.cfg.agent.clone(),
            model: Some(self.cfg.model.clone()),
            episode,
        };
        let driver =
            EpisodeDriver::open(task, &run_dir, settings, false)?.begin(ModelStats::default())?;
        let history = driver.history();
        let system = history
            .iter()
            .find(|h| h.role == Role::System)
            .map(|h| h.content.clone())
            .unwrap_or_default();
        let observation = history
            .iter()
            .find(|h| h.role == Role::User)
            .map(|h| h.content.clone())
            .unwrap_or_default();
        let active = Active {
            reward: RewardSpec::for_task(task, self.cfg.reward),
            driver,
            gpus,
            seed,
            episode_return: 0.0,
        };
        let info = active.info(None, None, String::new(), 0.0);
        self.active = Some(active);
        Ok(ResetOutput {
            system,
            observation,
            info,
        })
    }

    /// Runs `action` (MLGym's `env.step`).
    pub fn step(&mut self, action: &str) -> Result<Transition, GymError> {
        self.step_with(StepRequest {
            action: Some(action.to_string()),
            ..StepRequest::default()
        })
    }

    /// Runs one step given as an action or a raw model response (see [`StepRequest`]).
    pub fn step_with(&mut self, req: StepRequest) -> Result<Transition, GymError> {
        let active = self.active.as_mut().ok_or(GymError::NotStarted)?;
        if active.driver.done() {
            let ep = active.driver.episode();
            return Err(GymError::Ended {
                exit_status: ep.exit_status.clone().unwrap_or_default(),
                steps: ep.step,
            });
        }
        let (thought, action) = match (&req.action, &req.response) {
            (Some(a), _) => (req.thought.clone().unwrap_or_default(), a.clone()),
            (None, Some(r)) => match thought_action(r) {
                Ok((t, a)) => (req.thought.clone().unwrap_or(t), a),
                Err(e) => {
                    return Err(GymError::Format {
                        message: prompt::format_error(&e.to_string()),
                    })
                }
            },
            (None, None) => {
                return Err(GymError::Invalid(
                    "give the step's `action` (a command) or the model's `response`".into(),
                ))
            }
        };
        let turn = Turn {
            response: req.response.clone().unwrap_or_else(|| action.clone()),
            thought,
            action,
            model_ms: req.model_ms.unwrap_or(0.0),
            format_retries: 0,
            model_stats: req.model_stats.clone().unwrap_or_default(),
        };
        let stepped = active.driver.step(turn)?;
        let r = active.reward.reward(stepped.outcome.score.as_ref());
        active.episode_return += r.value;
        let info = active.info(
            stepped.outcome.score.clone(),
            r.note,
            stepped.outcome.observation.clone(),
            stepped.outcome.command_ms / 1000.0,
        );
        Ok(Transition {
            observation: stepped.user_message,
            reward: r.value,
            done: stepped.done,
            info,
        })
    }

    /// The open episode's info (as after its last step).
    pub fn info(&self) -> Option<Info> {
        self.active
            .as_ref()
            .map(|a| a.info(None, None, String::new(), 0.0))
    }

    /// Closes the open episode (records `closed (client)` unless it had ended): its
    /// sandbox is ended and its records are completed. `None` when none was open.
    pub fn close(&mut self) -> Result<Option<Closed>, GymError> {
        self.close_as(CLOSED_BY_CLIENT)
    }

    /// Closes the open episode, recording `status` as its exit status when it had not
    /// ended by itself.
    pub fn close_as(&mut self, status: &str) -> Result<Option<Closed>, GymError> {
        let Some(active) = self.active.take() else {
            return Ok(None);
        };
        let mut info = active.info(None, None, String::new(), 0.0);
        let result: RunResult = active.driver.finish(Some(status))?;
        // Only now that nothing runs in the sandbox may another episode get the GPUs.
        active.gpus.release();
        info.done = true;
        info.exit_status = Some(result.exit_status.clone());
        Ok(Some(Closed {
            info,
            exit_status: result.exit_status,
        }))
    }
}

impl Drop for GymEnv {
    fn drop(&mut self) {
        let _ = self.close_as(CLOSED_BY_DROP);
    }
}
