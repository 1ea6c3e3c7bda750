//! naturalLanguageInferenceMNLI: fine-tune bert-base-uncased on MultiNLI; the submission
//! is the fine-tuned `bert_mnli_model/` in Hugging Face format (MLGym's contract).
//!
//! * [`data`]: MNLI import (parquet or JSON lines), validation_matched kept private.
//! * [`asset`]: the staged bert-base-uncased (`mlgym data import bert-base-uncased DIR`).
//! * [`model`]: a `BertForSequenceClassification` checkpoint in candle (encoder from
//!   [`crate::text`], pooler, classifier) and pair tokenisation (max length 128).
//! * [`evaluate`]: `validation_accuracy` in percent on validation_matched.
//! * [`train`]: the native baseline: fine-tuning in candle (`--quick`: a smoke run).
//! * [`tiny`]: a tiny random classification checkpoint, for tests and smoke runs.
//!
//! The agent's `data/` is `mnli/public/`, into which the staged model is hard-linked as
//! `bert-base-uncased/` (so that both imports may happen in either order).

pub mod asset;
pub mod data;
pub mod evaluate;
pub mod model;
pub mod tiny;
pub mod train;

use std::path::{Path, PathBuf};

use crate::definition::TaskDef;
use crate::evaluator::EvalError;
use crate::registry::{Hooks, StarterFile, TaskData};

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

fn not_staged(root: &Path) -> Option<String> {
    if let Err(why) = data::check_staged(root) {
        return Some(format!("{why}; {}", data::how_to_stage()));
    }
    if let Err(why) = asset::check_staged(root) {
        return Some(format!("{why}; {}", asset::how_to_stage()));
    }
    None
}

/// Hard-links (or copies) the staged model into `mnli/public/bert-base-uncased/` unless
/// the same files are already there; replaced atomically by renaming a finished copy.
fn link_model(root: &Path) -> Result<PathBuf, EvalError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        EvalError::io(format!("{what} {}", p.display()), e)
    };
    let public = data::dataset_dir(root).join("public");
    let target = public.join(asset::NAME);
    let staged = asset::model_dir(root);
    let manifest = asset::check_staged(root).map_err(EvalError::DataMissing)?;
    let same = manifest.files.iter().all(|f| {
        std::fs::metadata(target.join(&f.name))
            .map(|m| m.len())
            .ok()
            == Some(f.bytes)
    });
    if same {
        return Ok(public);
    }
    let tmp = public.join(format!(".{}.link-{}", asset::NAME, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io("creating", &tmp, e))?;
    for f in &manifest.files {
        let (from, to) = (staged.join(&f.name), tmp.join(&f.name));
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| io("copying to", &to, e))?;
        }
    }
    let _ = std::fs::remove_dir_all(&target);
    std::fs::rename(&tmp, &target).map_err(|e| io("renaming to", &target, e))?;
    Ok(public)
}

impl TaskData for NliData {
    fn ready(&self, data_root: &Path) -> bool {
        not_staged(data_root).is_none()
    }

    fn public_dir(&self, data_root: &Path) -> Result<PathBuf, EvalError> {
        if let Some(why) = not_staged(data_root) {
            return Err(EvalError::DataMissing(why));
        }
        link_model(data_root)
    }

    fn how_to_stage(&self) -> String {
        format!("{}; and {}", data::how_to_stage(), asset::how_to_stage())
    }
}
