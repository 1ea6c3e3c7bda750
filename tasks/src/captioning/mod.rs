//! imageCaptioningCOCO: caption the test images of MLGym's COCO subset.
//!
//! * [`data`]: import MLGym's parquet + image folders, staged with the test captions
//!   hidden ([`data::CocoData`] is the agent's `data/`).
//! * [`resnet`]: the staged ImageNet ResNet-50 (`mlgym data import resnet50 FILE`), linked
//!   into the agent's `data/` as `resnet50.safetensors`.
//! * [`submission`]: `submission.csv` (`file_name,caption`, one row per test image).
//! * [`bleu`]: sacrebleu's corpus BLEU-4 (13a) and NLTK's character-level sentence BLEU.
//! * [`evaluate`]: [`evaluate::CaptionEvaluator`]: `BLEU Score` (0–1), `sacrebleu`
//!   (0–100), `mlgym_char_bleu`.
//! * [`train`]: the native baseline (MLGym's recipe in candle): [`encoder`] (the frozen
//!   ResNet, architecture read from the weights), [`features`] (images → cached pooled
//!   features), [`vocab`], [`decoder`] (linear + batch norm + embedding + LSTM).
//! * [`tiny`]: random ResNet weights of any depth and width, for tests and timing.
//!
//! MLGym's own evaluator averages a per-image BLEU column that the agent's script writes
//! itself; here the runtime computes the score from the captions.

pub mod bleu;
pub mod data;
pub mod decoder;
pub mod encoder;
pub mod evaluate;
pub mod features;
pub mod resnet;
pub mod submission;
pub mod tiny;
pub mod train;
pub mod vocab;

use crate::definition::TaskDef;
use crate::registry::{Hooks, StarterFile};

/// Task id.
pub const TASK: &str = "imageCaptioningCOCO";

/// Hooks for imageCaptioningCOCO, or `None` for other ids.
pub fn hooks(def: &TaskDef, starter: &[StarterFile]) -> Option<Hooks> {
    let _ = starter;
    (def.id == TASK).then(|| Hooks {
        evaluator: Box::new(evaluate::CaptionEvaluator),
        baseline: Some(Box::new(train::CaptionBaseline)),
        data: Some(Box::new(data::CocoData)),
    })
}
