//! Agents: the side that decides the next action. The runner keeps MLGym's conversation
//! ([`HistoryItem`]s), asks a [`Model`] for the next response, parses it into a thought
//! and an action ([`parse`]), and re-asks on format errors.
//!
//! Models that need no server live here: [`replay`] (our trajectories and MLGym's
//! `.traj`), [`baseline`] (runs the task's native baseline, then submits), [`human`]
//! (the terminal). LLM backends implement the same trait.

pub mod baseline;
pub mod history;
pub mod human;
pub mod llm;
pub mod parse;
pub mod prompt;
pub mod replay;

use serde::{Deserialize, Serialize};

pub use history::{HistoryItem, Role};

/// MLGym's `APIStats` (`info.model_stats` in a `.traj`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelStats {
    /// Cost over all episodes of this model instance.
    pub total_cost: f64,
    /// Cost of this episode.
    pub task_cost: f64,
    /// Prompt tokens sent.
    pub tokens_sent: u64,
    /// Completion tokens received.
    pub tokens_received: u64,
    /// API calls made.
    pub api_calls: u64,
}

/// Why a model produced no response. Each maps to MLGym's action label, after which the
/// episode is autosubmitted.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The conversation no longer fits the model's context window (`exit_context`).
    #[error("context window exceeded: {0}")]
    ContextWindow(String),
    /// A cost limit was reached (`exit_cost`).
    #[error("cost limit reached: {0}")]
    CostLimit(String),
    /// The API failed after retries, or refused the request (`exit_api`).
    #[error("model API failed: {0}")]
    Api(String),
    /// Anything else (`exit_error`).
    #[error("{0}")]
    Other(String),
}

impl ModelError {
    /// MLGym's action label for this failure.
    pub fn exit_label(&self) -> &'static str {
        match self {
            ModelError::ContextWindow(_) => "exit_context",
            ModelError::CostLimit(_) => "exit_cost",
            ModelError::Api(_) => "exit_api",
            ModelError::Other(_) => "exit_error",
        }
    }
}

/// What the runner tells a model about the episode before the first query.
#[derive(Clone, Debug)]
pub struct EpisodeInfo {
    /// Task id.
    pub task_id: String,
    /// The workspace as the agent sees it.
    pub workspace: std::path::PathBuf,
}

/// A source of responses.
pub trait Model: Send {
    /// Name recorded in the run (e.g. `replay`, `baseline`, `openai:gpt-4o`).
    fn name(&self) -> String;
    /// The next raw response to the conversation so far (the runner's full history; the
    /// model trims it as it sees fit).
    fn query(&mut self, history: &[HistoryItem]) -> Result<String, ModelError>;
    /// Token and cost totals so far.
    fn stats(&self) -> ModelStats {
        ModelStats::default()
    }
    /// On `--resume`: `responses_done` responses were already used, with these totals.
    fn resume(&mut self, responses_done: usize, stats: ModelStats) {
        let _ = (responses_done, stats);
    }
    /// Whether a response is the action itself (no fenced block to extract).
    fn raw_actions(&self) -> bool {
        false
    }
    /// Called once before the first query.
    fn start(&mut self, info: &EpisodeInfo) {
        let _ = info;
    }
}

/// Builds the model named by an `--agent` spec: `baseline`, `human`, `replay:FILE`,
/// `openai:MODEL`, `anthropic:MODEL` (LLM settings from the config file and environment;
/// see [`llm::config`]).
pub fn from_spec(spec: &str) -> Result<Box<dyn Model>, String> {
    match spec.split_once(':') {
        None if spec == "baseline" => Ok(Box::new(baseline::SubmitBaseline::default())),
        None if spec == "human" => Ok(Box::new(human::Human::default())),
        Some(("openai" | "anthropic", _)) => llm::from_spec(spec, Vec::new()).map_err(|e| e.to_string()),
        Some(("replay", file)) => replay::Replay::load(std::path::Path::new(file)).map(|r| Box::new(r) as Box<dyn Model>).map_err(|e| e.to_string()),
        _ => Err(format!(
            "unknown agent `{spec}`; use baseline, human, replay:FILE (a trajectory.jsonl or .traj[.gz]), openai:MODEL or anthropic:MODEL"
        )),
    }
}
