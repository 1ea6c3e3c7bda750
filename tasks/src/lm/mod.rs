//! languageModelingFineWeb: train a GPT on FineWeb's GPT-2 tokens; the score is the
//! validation loss of the submitted model.
//!
//! * [`shards`]: the token shards (modded-nanogpt format) and the training loader.
//! * [`config`]: `model_config.json`, the member of the GPT family submitted.
//! * [`model`]: the GPT family in candle; [`weights`]: `model.safetensors` in and out;
//!   [`ops`]: fused CPU kernels (RMSNorm, causal softmax, cross-entropy) with gradients.
//! * [`evaluate`]: the mean loss over validation windows (MLGym's windowing);
//!   [`scoring`]: the task's evaluator, `val_loss` over the first 10,485,760 tokens.
//! * [`muon`], [`train`]: MLGym's baseline recipe (Adam for embedding and head, Muon for
//!   the block matrices); [`baseline`]: the task's [`crate::evaluator::Baseline`].
//! * [`LmError`] (in `error`): the error of every part.
//!
//! The data is staged by [`crate::datasets::fineweb`]; the agent sees
//! `data/fineweb10B/` (training shards and the validation shard, as in MLGym).
//!
//! The agent's Rust trainer (`tasks/starters/lm-gpt/gpt`) is built from this module's
//! own files (symbolic links): `config`, `error`, `evaluate`, `model`, `muon`, `ops`,
//! `shards`, `train` and `weights` may use only `super::…`, `crate::rng`,
//! `crate::datasets::stage::write_atomic`, `mlgym_kernels::cpu_op` and the crates of the
//! starter's `Cargo.toml` (candle, safetensors, serde, rayon, thiserror). Anything that
//! needs the rest of the library goes in `mod.rs`, `scoring` or `baseline`.

pub mod baseline;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod model;
pub mod muon;
pub mod ops;
pub mod scoring;
pub mod shards;
pub mod train;
pub mod weights;

pub use error::LmError;

use std::path::{Path, PathBuf};

use crate::datasets::fineweb;
use crate::definition::TaskDef;
use crate::evaluator::EvalError;
use crate::registry::{Hooks, StarterFile, TaskData};

/// The task id.
pub const TASK: &str = "languageModelingFineWeb";
/// The weights of a submission.
pub const MODEL_FILE: &str = "model.safetensors";
/// The architecture of a submission.
pub const CONFIG_FILE: &str = "model_config.json";

impl From<LmError> for EvalError {
    fn from(e: LmError) -> Self {
        match e {
            LmError::Missing(m) => EvalError::SubmissionNotFound(m),
            e @ (LmError::Config(_) | LmError::Weights { .. } | LmError::NonFinite(_)) => {
                EvalError::Format(e.to_string())
            }
            e @ (LmError::Shard(_) | LmError::Data(_)) => EvalError::DataMissing(e.to_string()),
            LmError::Io(m) | LmError::Candle(m) => EvalError::Internal(m),
        }
    }
}

/// [`TaskData`] of the task: the staged `public/` directory (holding `fineweb10B/`) is the
/// agent's `data/`.
#[derive(Debug, Default)]
pub struct FinewebData;

impl TaskData for FinewebData {
    fn ready(&self, data_root: &Path) -> bool {
        fineweb::check_staged(data_root).is_ok()
    }

    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError> {
        fineweb::check_staged(data_root)
            .map_err(|why| EvalError::DataMissing(format!("{why}; {}", fineweb::how_to_stage())))?;
        Ok(fineweb::public_dir(data_root))
    }

    fn how_to_stage(&self) -> String {
        fineweb::how_to_stage()
    }
}

/// Hooks for languageModelingFineWeb, or `None` for other ids.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    let _ = starter;
    (def.id == TASK).then(|| Hooks {
        evaluator: Box::new(scoring::LmEvaluator),
        baseline: Some(Box::new(baseline::LmBaseline)),
        data: Some(Box::new(FinewebData)),
    })
}
