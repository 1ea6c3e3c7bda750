//! The evaluator of languageModelingFineWeb: [`super::evaluate::mean_loss`] of the
//! submission over the staged validation shard's scored tokens.

use std::path::Path;

use candle_core::Device;

use super::evaluate::{load_submission, mean_loss, scored_tokens, EvalOptions, EvalReport};
use super::LmError;
use crate::datasets::fineweb;
use crate::evaluator::{EvalContext, EvalError, Evaluator, Metrics};

/// Scores the submission in `dir` on the staged validation shard under `data_root`,
/// over the first `tokens` validation tokens.
pub fn evaluate_dir(dir: &Path, data_root: &Path, tokens: usize) -> Result<EvalReport, LmError> {
    // The submission first: its errors are the agent's to fix, the data's the operator's.
    let device = Device::cuda_if_available(0).unwrap_or(Device::Cpu);
    let model = load_submission(dir, &device)?;
    let val =
        fineweb::scored_tokens(data_root, tokens).map_err(|e| LmError::Data(e.to_string()))?;
    mean_loss(&model, &val, &EvalOptions::default(), &device, &|_, _| {})
}

/// The evaluator of languageModelingFineWeb. Deterministic; the seed is unused.
#[derive(Debug, Default)]
pub struct LmEvaluator;

impl Evaluator for LmEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        let tokens = scored_tokens().map_err(EvalError::Internal)?;
        let r = evaluate_dir(ctx.submission_dir, ctx.data_root, tokens)?;
        Ok(Metrics::from([("val_loss".to_string(), r.loss)]))
    }
}
