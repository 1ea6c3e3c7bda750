//! The evaluator of imageCaptioningCOCO: the captions of `submission.csv` against every
//! human caption of each test image.
//!
//! Metrics:
//! * `BLEU Score` (primary, 0–1): corpus BLEU-4 as sacrebleu computes it (13a
//!   tokenisation, all references), divided by 100 to sit on MLGym's 0–1 scale;
//! * `sacrebleu` (0–100): the same number on sacrebleu's own scale;
//! * `mlgym_char_bleu` (0–1): the mean over test images of NLTK's sentence BLEU over the
//!   characters of the caption and of one reference drawn with the seed — what MLGym's
//!   baseline computes (on its val split, against one random reference). Only for
//!   comparison with MLGym's numbers; it rewards spelling, not content.

use std::path::Path;

use super::bleu::{char_sentence_bleu, corpus_bleu};
use super::data::{load_references, Captioned};
use super::submission::{read_captions, SUBMISSION};
use crate::evaluator::{EvalContext, EvalError, Evaluator, Metrics};
use crate::rng::Rng;

/// Name of the primary metric (MLGym's).
pub const PRIMARY: &str = "BLEU Score";

/// Scores `captions` (one per reference entry, same order); `seed` draws the single
/// reference of the MLGym-compatible figure.
pub fn score(captions: &[String], refs: &[Captioned], seed: u64) -> Metrics {
    let ref_lists: Vec<Vec<&str>> = refs
        .iter()
        .map(|r| r.captions.iter().map(String::as_str).collect())
        .collect();
    let corpus = corpus_bleu(captions, &ref_lists).score();
    let mut rng = Rng::new(seed);
    let mut char_total = 0.0;
    for (c, r) in captions.iter().zip(refs) {
        let k = rng.below(r.captions.len().max(1) as u64) as usize;
        let reference = r.captions.get(k).map(String::as_str).unwrap_or("");
        char_total += char_sentence_bleu(reference, c);
    }
    let n = captions.len().max(1) as f64;
    Metrics::from([
        (PRIMARY.to_string(), corpus / 100.0),
        ("sacrebleu".to_string(), corpus),
        ("mlgym_char_bleu".to_string(), char_total / n),
    ])
}

/// The evaluator; the seed only draws the MLGym-compatible figure's references.
#[derive(Debug)]
pub struct CaptionEvaluator;

impl CaptionEvaluator {
    /// Scores the submission at `path` against the references staged under `data_root`.
    pub fn evaluate_file(
        &self,
        path: &Path,
        data_root: &Path,
        seed: u64,
    ) -> Result<Metrics, EvalError> {
        let refs = load_references(data_root)?;
        let names: Vec<String> = refs.iter().map(|r| r.file_name.clone()).collect();
        let captions = read_captions(path, &names)?;
        Ok(score(&captions, &refs, seed))
    }
}

impl Evaluator for CaptionEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        self.evaluate_file(
            &ctx.submission_dir.join(SUBMISSION),
            ctx.data_root,
            ctx.seed,
        )
    }
}
