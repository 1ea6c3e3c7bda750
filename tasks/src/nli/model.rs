//! A `BertForSequenceClassification` checkpoint (what MLGym's `save_pretrained` writes
//! into `bert_mnli_model/`): the BERT encoder, the pooler (`[CLS]` state → dense → tanh)
//! and the classifier (linear → one logit per label), read from `config.json` and
//! `model.safetensors` with or without the `bert.` prefix. Pairs are tokenised with the
//! staged bert-base-uncased tokenizer, truncated to 128 tokens (longest first) as MLGym's
//! evaluator does.

use std::path::Path;

use candle_core::{DType, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use tokenizers::Tokenizer;

use crate::text::bert::load_tokenizer;
use crate::text::network::Dropout;
use crate::text::{BertEncoder, ModelDir, TextError};

/// Longest token sequence of a pair (MLGym's `max_length`).
pub const MAX_LENGTH: usize = 128;
/// Pairs per encoder call (MLGym's batch size).
const BATCH: usize = 32;

/// Loads `tokenizer.json` for sentence pairs: no padding, truncation at [`MAX_LENGTH`].
pub fn pair_tokenizer(path: &Path) -> Result<Tokenizer, TextError> {
    load_tokenizer(path, MAX_LENGTH)
}

/// One tokenised pair: ids and segment ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids (`[CLS] premise [SEP] hypothesis [SEP]`).
    pub ids: Vec<u32>,
    /// 0 for the premise part, 1 for the hypothesis part.
    pub types: Vec<u32>,
}

/// Tokenises a (premise, hypothesis) pair.
pub fn encode_pair(t: &Tokenizer, premise: &str, hypothesis: &str) -> Result<Encoded, TextError> {
    let e = t
        .encode((premise, hypothesis), true)
        .map_err(|e| TextError::Compute(format!("tokenizing {premise:?} / {hypothesis:?}: {e}")))?;
    Ok(Encoded {
        ids: e.get_ids().to_vec(),
        types: e.get_type_ids().to_vec(),
    })
}

/// Right-padded `[b, len]` tensors (ids, segment ids, attention mask) of `seqs`.
pub fn batch_tensors(
    seqs: &[&Encoded],
    pad: u32,
    device: &candle_core::Device,
) -> Result<(Tensor, Tensor, Tensor), TextError> {
    let b = seqs.len();
    let len = seqs.iter().map(|s| s.ids.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![pad; b * len];
    let mut types = vec![0u32; b * len];
    let mut mask = vec![0u32; b * len];
    for (r, s) in seqs.iter().enumerate() {
        let n = s.ids.len();
        ids[r * len..r * len + n].copy_from_slice(&s.ids);
        types[r * len..r * len + n].copy_from_slice(&s.types);
        mask[r * len..r * len + n].fill(1);
    }
    Ok((
        Tensor::from_vec(ids, (b, len), device)?,
        Tensor::from_vec(types, (b, len), device)?,
        Tensor::from_vec(mask, (b, len), device)?,
    ))
}

/// The pooler and classifier of a sequence-classification checkpoint.
#[derive(Debug, Clone)]
pub struct Head {
    pooler: Linear,
    classifier: Linear,
}

impl Head {
    /// Loads `[bert.]pooler.dense` and `classifier` from `vb`, `labels` outputs wide.
    pub fn load(vb: &VarBuilder<'_>, hidden: usize, labels: usize) -> candle_core::Result<Head> {
        let pooler_vb = if vb.contains_tensor("bert.pooler.dense.weight") {
            vb.pp("bert").pp("pooler").pp("dense")
        } else {
            vb.pp("pooler").pp("dense")
        };
        Ok(Head {
            pooler: candle_nn::linear(hidden, hidden, pooler_vb)?,
            classifier: candle_nn::linear(hidden, labels, vb.pp("classifier"))?,
        })
    }

    /// Logits `[b, labels]` from the encoder's last hidden state `[b, seq, hidden]`.
    pub fn forward(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_t(hidden, None)
    }

    /// [`Head::forward`] with `dropout` on the pooled state in training (as Hugging
    /// Face's `BertForSequenceClassification`).
    pub fn forward_t(
        &self,
        hidden: &Tensor,
        dropout: Option<&mut Dropout>,
    ) -> candle_core::Result<Tensor> {
        let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
        let mut pooled = self.pooler.forward(&cls)?.tanh()?;
        if let Some(d) = dropout {
            pooled = d.apply(&pooled)?;
        }
        self.classifier.forward(&pooled)
    }
}

/// A loaded classifier: encoder + head.
#[derive(Debug)]
pub struct Classifier {
    encoder: BertEncoder,
    head: Head,
    labels: usize,
}

/// The files of a `bert_mnli_model/` directory, checked: `config.json` and
/// `model.safetensors` (a pickled `pytorch_model.bin` alone is refused with its fix).
pub fn open_checkpoint(dir: &Path, tokenizer: &Path) -> Result<ModelDir, TextError> {
    let hint = "save the fine-tuned model with `model.save_pretrained(\"bert_mnli_model\")` (config.json and model.safetensors)";
    ModelDir::open_checkpoint(dir, tokenizer, hint)
}

impl Classifier {
    /// Loads a sequence-classification checkpoint (see [`open_checkpoint`]); the
    /// classifier must have `labels` outputs.
    pub fn load(files: &ModelDir, labels: usize) -> Result<Classifier, TextError> {
        let (encoder, vb) = BertEncoder::load_with_weights(files)?;
        let hidden = encoder.hidden_size();
        let found = ["classifier.weight"]
            .iter()
            .find_map(|n| vb.get_unchecked_dtype(n, DType::F32).ok())
            .map(|t| t.dims().to_vec());
        match found {
            None => {
                return Err(TextError::format(
                    &files.weights,
                    "has no `classifier.weight`: this is a bare encoder, not a BertForSequenceClassification; fine-tune with a 3-label classification head and save it with save_pretrained",
                ))
            }
            Some(d) if d != [labels, hidden] => {
                return Err(TextError::format(
                    &files.weights,
                    format!(
                        "classifier.weight has shape {d:?}, but MNLI needs [{labels}, {hidden}] (num_labels={labels}: entailment, neutral, contradiction)"
                    ),
                ))
            }
            Some(_) => {}
        }
        let head = Head::load(&vb, hidden, labels).map_err(|e| {
            TextError::format(
                &files.weights,
                format!("the pooler or classifier weights are missing or misshapen: {e}"),
            )
        })?;
        Ok(Classifier {
            encoder,
            head,
            labels,
        })
    }

    /// Number of labels.
    pub fn labels(&self) -> usize {
        self.labels
    }

    /// The encoder.
    pub fn encoder(&self) -> &BertEncoder {
        &self.encoder
    }

    /// The label with the highest logit for each pair (ties: the lowest label).
    pub fn predict(&self, pairs: &[Encoded]) -> Result<Vec<usize>, TextError> {
        let vocab = self.encoder.config().vocab_size;
        if let Some(bad) = pairs
            .iter()
            .flat_map(|p| &p.ids)
            .find(|&&i| i as usize >= vocab)
        {
            return Err(TextError::Compute(format!(
                "token id {bad} is outside the model's vocabulary of {vocab}: the checkpoint does not use bert-base-uncased's vocabulary"
            )));
        }
        let max_pos = self.encoder.config().max_position_embeddings;
        if let Some(p) = pairs.iter().find(|p| p.ids.len() > max_pos) {
            return Err(TextError::Compute(format!(
                "a pair has {} tokens but the model only {max_pos} positions",
                p.ids.len()
            )));
        }
        // Sort by length so that batches carry little padding; results are per pair.
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by_key(|&i| pairs[i].ids.len());
        let pad = self.encoder.config().pad_token_id as u32;
        let mut out = vec![0usize; pairs.len()];
        for chunk in order.chunks(BATCH) {
            let seqs: Vec<&Encoded> = chunk.iter().map(|&i| &pairs[i]).collect();
            let (ids, types, mask) = batch_tensors(&seqs, pad, self.encoder.device())?;
            let hidden = self.encoder.forward(&ids, &types, &mask)?;
            let logits = self.head.forward(&hidden)?.to_vec2::<f32>()?;
            for (&i, row) in chunk.iter().zip(&logits) {
                out[i] = argmax(row);
            }
        }
        Ok(out)
    }
}

/// Index of the largest value (the first on ties; NaN never wins).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}
