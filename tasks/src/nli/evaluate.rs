//! The evaluator of naturalLanguageInferenceMNLI: the submitted `bert_mnli_model/`
//! (a `BertForSequenceClassification` saved with `save_pretrained`) classifies every
//! validation_matched pair, tokenised with the staged bert-base-uncased tokenizer
//! (max length 128, as MLGym's evaluator); `validation_accuracy` is the percentage of
//! pairs whose highest logit is the gold label. Runs on the CPU in f32; the seed is
//! unused (inference is deterministic).

use std::path::Path;

use super::asset;
use super::data::{self, Pair};
use super::model::{encode_pair, open_checkpoint, pair_tokenizer, Classifier};
use crate::evaluator::{EvalContext, EvalError, Evaluator, Metrics};
use crate::text::bert::TOKENIZER_FILE as TOKENIZER_FILE_NAME;
use crate::text::TextError;

/// The submitted model directory (MLGym's contract).
pub const SUBMISSION_DIR: &str = "bert_mnli_model";
/// The metric.
pub const METRIC: &str = "validation_accuracy";

fn text_error(e: TextError) -> EvalError {
    match e {
        TextError::Missing { path, hint } => {
            EvalError::SubmissionNotFound(format!("{}: {hint}", path.display()))
        }
        TextError::NotStaged(m) => EvalError::DataMissing(m),
        other => EvalError::Format(other.to_string()),
    }
}

/// Accuracy in percent of `model_dir` on `pairs`, tokenised with `tokenizer`.
pub fn accuracy(model_dir: &Path, tokenizer: &Path, pairs: &[Pair]) -> Result<f64, EvalError> {
    let files = open_checkpoint(model_dir, tokenizer).map_err(text_error)?;
    let model = Classifier::load(&files, data::LABELS.len()).map_err(text_error)?;
    let tok = pair_tokenizer(tokenizer)
        .map_err(|e| EvalError::DataMissing(format!("{e}; {}", asset::how_to_stage())))?;
    let encoded = pairs
        .iter()
        .map(|p| encode_pair(&tok, &p.premise, &p.hypothesis))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| EvalError::Internal(e.to_string()))?;
    let pred = model.predict(&encoded).map_err(text_error)?;
    let correct = pred
        .iter()
        .zip(pairs)
        .filter(|(p, t)| **p == usize::from(t.label))
        .count();
    Ok(100.0 * correct as f64 / pairs.len().max(1) as f64)
}

/// The evaluator.
#[derive(Debug)]
pub struct NliEvaluator;

impl NliEvaluator {
    /// Scores `submission/bert_mnli_model` against the data staged under `data_root`.
    pub fn evaluate_dir(&self, submission: &Path, data_root: &Path) -> Result<Metrics, EvalError> {
        let model_dir = asset::check_staged(data_root)
            .map(|_| asset::model_dir(data_root))
            .map_err(|why| EvalError::DataMissing(format!("{why}; {}", asset::how_to_stage())))?;
        let pairs = data::load_validation(data_root).map_err(|e| match e {
            crate::datasets::DataError::NotStaged(m) => EvalError::DataMissing(m),
            other => EvalError::Internal(other.to_string()),
        })?;
        let acc = accuracy(
            &submission.join(SUBMISSION_DIR),
            &model_dir.join(TOKENIZER_FILE_NAME),
            &pairs,
        )?;
        Ok(Metrics::from([(METRIC.to_string(), acc)]))
    }
}

impl Evaluator for NliEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        self.evaluate_dir(ctx.submission_dir, ctx.data_root)
    }
}
