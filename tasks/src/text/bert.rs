//! A BERT encoder ([`super::network::Bert`], equal to candle-transformers' `BertModel`
//! and differentiable throughout) loaded from a Hugging Face model directory: `config.json` (the architecture), `model.safetensors` (the weights, with
//! or without a `bert.` prefix) and `tokenizer.json` (read by [`super::embed`]).
//!
//! Runs on the CPU in f32 (weights stored as f16/bf16 are widened on load). The weights
//! are read into memory rather than memory-mapped, so no `unsafe` is needed.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::network::Bert;
use super::TextError;

/// The architecture file.
pub const CONFIG_FILE: &str = "config.json";
/// The weights file.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The tokenizer file (Hugging Face `tokenizers` JSON).
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// sentence-transformers' settings (`max_seq_length`), optional.
pub const SENTENCE_CONFIG_FILE: &str = "sentence_bert_config.json";
/// A pickled PyTorch checkpoint: recognised only to refuse it clearly.
pub const PICKLE_FILE: &str = "pytorch_model.bin";

/// The files of a model directory, checked to exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelDir {
    /// The directory.
    pub dir: PathBuf,
    /// `config.json`.
    pub config: PathBuf,
    /// `model.safetensors`.
    pub weights: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// `sentence_bert_config.json`, when present.
    pub sentence_config: Option<PathBuf>,
}

impl ModelDir {
    /// Checks that `dir` holds a model: `config.json`, `model.safetensors` (a
    /// `pytorch_model.bin` alone is refused with [`TextError::NeedsSafetensors`]) and
    /// `tokenizer.json`.
    pub fn open(dir: &Path) -> Result<ModelDir, TextError> {
        let hint = "a BERT model directory needs config.json, model.safetensors and tokenizer.json (the files of the model's Hugging Face repository)";
        let mut model = Self::open_checkpoint(dir, &dir.join(TOKENIZER_FILE), hint)?;
        if !model.tokenizer.is_file() {
            return Err(TextError::Missing {
                path: model.tokenizer,
                hint: hint.into(),
            });
        }
        model.sentence_config = Some(dir.join(SENTENCE_CONFIG_FILE)).filter(|p| p.is_file());
        Ok(model)
    }

    /// Checks that `dir` holds a checkpoint (`config.json` and `model.safetensors`; a
    /// `pytorch_model.bin` alone is refused with [`TextError::NeedsSafetensors`]) whose
    /// text is tokenised with `tokenizer`, which is not checked here (e.g. a fine-tuned
    /// model scored with the staged base model's tokenizer). `hint` says how to produce
    /// a missing file.
    pub fn open_checkpoint(
        dir: &Path,
        tokenizer: &Path,
        hint: &str,
    ) -> Result<ModelDir, TextError> {
        let missing = |path: PathBuf| TextError::Missing {
            path,
            hint: hint.into(),
        };
        if !dir.is_dir() {
            return Err(missing(dir.to_path_buf()));
        }
        let config = dir.join(CONFIG_FILE);
        if !config.is_file() {
            return Err(missing(config));
        }
        let weights = dir.join(WEIGHTS_FILE);
        if !weights.is_file() {
            let pickle = dir.join(PICKLE_FILE);
            if pickle.is_file() {
                return Err(TextError::NeedsSafetensors { path: pickle });
            }
            return Err(missing(weights));
        }
        Ok(ModelDir {
            dir: dir.to_path_buf(),
            config,
            weights,
            tokenizer: tokenizer.to_path_buf(),
            sentence_config: None,
        })
    }

    /// Reads and checks `config.json`.
    pub fn read_config(&self) -> Result<Config, TextError> {
        let bytes = std::fs::read(&self.config).map_err(|e| TextError::read(&self.config, e))?;
        let config: Config = serde_json::from_slice(&bytes).map_err(|e| {
            TextError::format(
                &self.config,
                format!("not a BERT configuration ({e}); the model must be a BertModel checkpoint"),
            )
        })?;
        if let Some(t) = config.model_type.as_deref().filter(|t| *t != "bert") {
            return Err(TextError::format(
                &self.config,
                format!("model_type is `{t}`, but only BERT encoders (`bert`) are supported"),
            ));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(TextError::format(
                &self.config,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    config.hidden_size, config.num_attention_heads
                ),
            ));
        }
        Ok(config)
    }
}

/// Loads `tokenizer.json` for per-batch padding: the file's own padding is dropped (e.g.
/// all-MiniLM-L6-v2 ships "pad to 128"), and texts (or pairs, longest first) are
/// truncated at `max_length` tokens, special tokens included — what sentence-transformers
/// and MLGym's MNLI evaluator do.
pub fn load_tokenizer(path: &Path, max_length: usize) -> Result<Tokenizer, TextError> {
    let mut t = Tokenizer::from_file(path)
        .map_err(|e| TextError::format(path, format!("not a tokenizers JSON file ({e})")))?;
    t.with_padding(None);
    t.with_truncation(Some(TruncationParams {
        direction: TruncationDirection::Right,
        max_length,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
    }))
    .map_err(|e| TextError::format(path, e.to_string()))?;
    Ok(t)
}

/// The word-embedding table's name, with the prefixes checkpoints use.
const WORD_EMBEDDINGS: [&str; 2] = [
    "embeddings.word_embeddings.weight",
    "bert.embeddings.word_embeddings.weight",
];

/// Checks the safetensors header before candle sees the file, for clearer messages.
fn check_weights(path: &Path, bytes: &[u8], config: &Config) -> Result<(), TextError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| TextError::format(path, format!("not a safetensors file ({e})")))?;
    let Some(words) = WORD_EMBEDDINGS.iter().find_map(|n| st.tensor(n).ok()) else {
        return Err(TextError::format(
            path,
            format!(
                "has no tensor `{}`: not the weights of a BERT model",
                WORD_EMBEDDINGS[0]
            ),
        ));
    };
    let want = [config.vocab_size, config.hidden_size];
    if words.shape() != want {
        return Err(TextError::format(
            path,
            format!(
                "the word embeddings have shape {:?}, but config.json says vocab_size {} and hidden_size {}: config.json and the weights belong to different models",
                words.shape(),
                want[0],
                want[1]
            ),
        ));
    }
    Ok(())
}

/// A BERT encoder: token ids → the last hidden state.
pub struct BertEncoder {
    model: Bert,
    config: Config,
    device: Device,
}

impl std::fmt::Debug for BertEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEncoder")
            .field("config", &self.config)
            .finish()
    }
}

impl BertEncoder {
    /// Loads the encoder of `dir` on the CPU.
    pub fn load(dir: &ModelDir) -> Result<BertEncoder, TextError> {
        Ok(Self::load_with_weights(dir)?.0)
    }

    /// Loads the encoder of `dir` and also returns the checkpoint's tensors, for the
    /// task heads stored next to the encoder (e.g. `bert.pooler.*`, `classifier.*` of a
    /// `BertForSequenceClassification`).
    pub fn load_with_weights(
        dir: &ModelDir,
    ) -> Result<(BertEncoder, VarBuilder<'static>), TextError> {
        let config = dir.read_config()?;
        let bytes = std::fs::read(&dir.weights).map_err(|e| TextError::read(&dir.weights, e))?;
        check_weights(&dir.weights, &bytes, &config)?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| TextError::format(&dir.weights, e.to_string()))?;
        let model = Bert::load(vb.clone(), &config).map_err(|e| {
            TextError::format(
                &dir.weights,
                format!("does not hold the BERT encoder that config.json describes: {e}"),
            )
        })?;
        Ok((
            BertEncoder {
                model,
                config,
                device,
            },
            vb,
        ))
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The device tensors must live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Width of the hidden state.
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// The last hidden state `[batch, seq, hidden]` of `input_ids` `[batch, seq]` (u32),
    /// with `token_type_ids` and `attention_mask` (1 = token, 0 = padding) of the same
    /// shape.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, TextError> {
        Ok(self
            .model
            .forward(input_ids, token_type_ids, attention_mask)?)
    }
}
