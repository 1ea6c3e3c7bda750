//! Sentence embeddings as sentence-transformers computes them for BERT models such as
//! all-MiniLM-L6-v2: tokenize (with `[CLS]`/`[SEP]`, truncated to `max_seq_length`),
//! run the encoder on a right-padded batch with its attention mask, average the last
//! hidden state over the real tokens (mean pooling), and scale to unit length.

use std::path::Path;

use candle_core::Tensor;
use tokenizers::Tokenizer;

use super::bert::{load_tokenizer, BertEncoder, ModelDir};
use super::TextError;

/// sentence-transformers' `max_seq_length` when the model directory does not say
/// (all-MiniLM-L6-v2 uses 256).
pub const DEFAULT_MAX_SEQ_LENGTH: usize = 256;
/// Texts per encoder call.
const BATCH: usize = 32;

/// Texts → unit vectors with a BERT encoder.
#[derive(Debug)]
pub struct SentenceEmbedder {
    encoder: BertEncoder,
    tokenizer: Tokenizer,
    max_seq_length: usize,
}

#[derive(serde::Deserialize)]
struct SentenceConfig {
    max_seq_length: Option<usize>,
}

impl SentenceEmbedder {
    /// Loads the model directory `dir` (see [`ModelDir::open`]).
    pub fn load(dir: &Path) -> Result<SentenceEmbedder, TextError> {
        let files = ModelDir::open(dir)?;
        let encoder = BertEncoder::load(&files)?;
        let config = encoder.config();
        let mut max_seq_length = DEFAULT_MAX_SEQ_LENGTH;
        if let Some(p) = &files.sentence_config {
            let bytes = std::fs::read(p).map_err(|e| TextError::read(p, e))?;
            let sc: SentenceConfig = serde_json::from_slice(&bytes).map_err(|e| {
                TextError::format(p, format!("not sentence-transformers' settings ({e})"))
            })?;
            max_seq_length = sc.max_seq_length.unwrap_or(max_seq_length);
        }
        let max_seq_length = max_seq_length.clamp(2, config.max_position_embeddings.max(2));
        let tokenizer = load_tokenizer(&files.tokenizer, max_seq_length)?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.vocab_size {
            return Err(TextError::format(
                &files.tokenizer,
                format!(
                    "the vocabulary has {vocab} tokens but the model only {}: tokenizer.json belongs to another model",
                    config.vocab_size
                ),
            ));
        }
        Ok(SentenceEmbedder {
            encoder,
            tokenizer,
            max_seq_length,
        })
    }

    /// Length of the embeddings.
    pub fn dim(&self) -> usize {
        self.encoder.hidden_size()
    }

    /// Longest token sequence (special tokens included); longer texts are truncated.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// The encoder (for tasks that fine-tune or probe it).
    pub fn encoder(&self) -> &BertEncoder {
        &self.encoder
    }

    /// Token ids of `text` as the encoder sees them: `[CLS] ... [SEP]`, truncated.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, TextError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| TextError::Compute(format!("tokenizing {text:?}: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The unit-length embedding of each text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, TextError> {
        let ids = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<Vec<_>, _>>()?;
        self.embed_ids(&ids)
    }

    /// The unit-length embedding of one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, TextError> {
        let mut v = self.embed(&[text])?;
        v.pop()
            .ok_or_else(|| TextError::Compute("no embedding was produced".into()))
    }

    /// Embeddings of already tokenized sequences (each with its special tokens). Texts
    /// of similar length are batched together so that little padding is computed.
    pub fn embed_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, TextError> {
        let vocab = self.encoder.config().vocab_size;
        if let Some(bad) = ids.iter().flatten().find(|&&i| i as usize >= vocab) {
            return Err(TextError::Compute(format!(
                "token id {bad} is outside the model's vocabulary of {vocab}"
            )));
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(BATCH) {
            let seqs: Vec<&[u32]> = chunk
                .iter()
                .map(|&i| &ids[i][..ids[i].len().min(self.max_seq_length)])
                .collect();
            for (&i, e) in chunk.iter().zip(self.embed_batch(&seqs)?) {
                out[i] = e;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>, TextError> {
        let b = seqs.len();
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let pad = self.encoder.config().pad_token_id as u32;
        let mut input = vec![pad; b * len];
        let mut mask = vec![0u32; b * len];
        for (r, s) in seqs.iter().enumerate() {
            input[r * len..r * len + s.len()].copy_from_slice(s);
            mask[r * len..r * len + s.len()].fill(1);
        }
        let device = self.encoder.device();
        let input_t = Tensor::from_vec(input, (b, len), device)?;
        let types_t = Tensor::zeros((b, len), candle_core::DType::U32, device)?;
        let mask_t = Tensor::from_vec(mask.clone(), (b, len), device)?;
        let hidden = self
            .encoder
            .forward(&input_t, &types_t, &mask_t)?
            .to_vec3::<f32>()?;
        Ok(hidden
            .iter()
            .zip(mask.chunks(len))
            .map(|(rows, m)| mean_pool_normalize(rows, m))
            .collect())
    }
}

/// Mean of the rows whose mask is 1 (the count clamped at 1e-9 as sentence-transformers
/// does), scaled to unit length (norm clamped at 1e-12, as `F.normalize`).
fn mean_pool_normalize(rows: &[Vec<f32>], mask: &[u32]) -> Vec<f32> {
    let dim = rows.first().map_or(0, Vec::len);
    let mut sum = vec![0f32; dim];
    let mut count = 0f32;
    for (row, &m) in rows.iter().zip(mask) {
        if m == 0 {
            continue;
        }
        count += 1.0;
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    let count = count.max(1e-9);
    sum.iter_mut().for_each(|s| *s /= count);
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    sum.iter_mut().for_each(|s| *s /= norm);
    sum
}

/// Cosine similarity of two vectors (0 when either is zero or the lengths differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_ignores_padding_and_normalises() {
        let rows = vec![vec![1.0, 0.0], vec![3.0, 4.0], vec![100.0, 100.0]];
        let v = mean_pool_normalize(&rows, &[1, 1, 0]);
        // mean (2, 2) → unit (0.7071, 0.7071); the padded row is ignored.
        assert!(
            (v[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6,
            "{v:?}"
        );
        assert!(
            (v[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6,
            "{v:?}"
        );
    }

    #[test]
    fn cosine_of_parallel_orthogonal_and_degenerate_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }
}
