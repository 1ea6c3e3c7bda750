//! naturalLanguageInferenceMNLI: fine-tune bert-base-uncased on MultiNLI; the submission
//! is the fine-tuned `bert_mnli_model/` in Hugging Face format (MLGym's contract).
//!
//! * [`data`]: MNLI import (parquet or JSON lines), validation_matched kept private.
//! * [`asset`]: the staged bert-base-uncased (`mlgym data import bert-base-uncased DIR`).
//! * [`model`]: a `BertForSequenceClassification` checkpoint in candle (encoder from
//!   [`crate::text`], pooler, classifier) and pair tokenisation (max length 128).
//! * [`evaluate`]: `validation_accuracy` in percent on validation_matched.
//! * [`train`]: the native baseline: fine-tuning every parameter of BERT in candle.
//! * [`recipe`]: its recipes (`MLGYM_NLI_BASELINE`: `finetune`, `mlgym`, `head`,
//!   `quick`).
//! * [`tiny`]: a tiny random classification checkpoint, for tests and smoke runs.
//!
//! The agent's `data/` is `mnli/public/`, into which the staged model is hard-linked as
//! `bert-base-uncased/` (so that both imports may happen in either order).

pub mod asset;
pub mod data;
pub mod evaluate;
pub mod model;
pub mod recipe;
pub mod tiny;
pub mod train;

use std::path::{Path, PathBuf};

use crate::definition::TaskDef;
use crate::evaluator::EvalError;
use crate::registry::{Hooks, StarterFile, TaskData};
use crate::staging::replace_dir;
use crate::text::asset::check_sizes;

/// Task id.
pub const TASK: &str = "naturalLanguageInferenceMNLI";

/// Hooks for naturalLanguageInferenceMNLI, or `None` for other ids.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    let _ = starter;
    (def.id == TASK).then(|| Hooks {
        evaluator: Box::new(evaluate::NliEvaluator),
        baseline: Some(Box::new(train::BertBaseline)),
        data: Some(Box::new(NliData)),
    })
}

/// [`TaskData`] of the MNLI task: MNLI's public pairs plus the pretrained model.
#[derive(Debug)]
pub struct NliData;

/// The staged model's manifest once both imports are done; `Err` says which is missing
/// and how to stage it.
fn staged(root: &Path) -> Result<asset::Manifest, String> {
    data::check_staged(root).map_err(|why| format!("{why}; {}", data::how_to_stage()))?;
    asset::check_staged(root).map_err(|why| format!("{why}; {}", asset::how_to_stage()))
}

/// Hard-links (or copies) the staged model into `mnli/public/bert-base-uncased/` unless
/// the same files are already there; replaced atomically by renaming a finished copy.
fn link_model(root: &Path, manifest: &asset::Manifest) -> Result<PathBuf, EvalError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        EvalError::io(format!("{what} {}", p.display()), e)
    };
    let public = data::dataset_dir(root).join("public");
    let target = public.join(asset::NAME);
    let staged = asset::model_dir(root);
    if check_sizes(&target, &manifest.files).is_ok() {
        return Ok(public);
    }
    replace_dir(
        &target,
        |tmp| {
            std::fs::create_dir_all(tmp).map_err(|e| io("creating", tmp, e))?;
            for f in &manifest.files {
                let (from, to) = (staged.join(&f.name), tmp.join(&f.name));
                if std::fs::hard_link(&from, &to).is_err() {
                    std::fs::copy(&from, &to).map_err(|e| io("copying to", &to, e))?;
                }
            }
            Ok(())
        },
        |p, e| io("replacing", p, e),
    )?;
    Ok(public)
}

impl TaskData for NliData {
    fn ready(&self, data_root: &Path) -> bool {
        staged(data_root).is_ok()
    }

    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError> {
        let manifest = staged(data_root).map_err(EvalError::DataMissing)?;
        link_model(data_root, &manifest)
    }

    fn how_to_stage(&self) -> String {
        format!("{}; and {}", data::how_to_stage(), asset::how_to_stage())
    }
}
