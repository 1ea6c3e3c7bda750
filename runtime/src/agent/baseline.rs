//! `baseline`: runs the task's native reference baseline into the workspace, then
//! submits — MLGym's `submit_baseline` (which ran `python baseline.py`, then `submit`).

use super::{HistoryItem, Model, ModelError};

/// The command the episode recognises as "run the native baseline here".
pub const RUN_BASELINE: &str = "run_baseline";

/// Two responses: run the baseline, then submit.
#[derive(Debug, Default)]
pub struct SubmitBaseline {
    step: usize,
}

impl Model for SubmitBaseline {
    fn name(&self) -> String {
        "baseline".into()
    }

    fn query(&mut self, _history: &[HistoryItem]) -> Result<String, ModelError> {
        self.step += 1;
        Ok(match self.step {
            1 => format!("DISCUSSION\nI run the task's reference baseline, which writes the submission artefacts.\n\n```\n{RUN_BASELINE}\n```"),
            _ => "DISCUSSION\nThe baseline's artefacts are in place; I submit them.\n\n```\nsubmit\n```".to_string(),
        })
    }

    fn resume(&mut self, responses_done: usize, _stats: super::ModelStats) {
        self.step = responses_done;
    }
}
