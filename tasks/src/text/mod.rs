//! Text models run natively with candle: a BERT encoder loaded from a Hugging Face model
//! directory, and sentence embeddings computed from it the way sentence-transformers
//! does (mean pooling over the attention mask, then L2 normalisation).
//!
//! * [`bert`]: the model directory (`config.json`, `model.safetensors`, `tokenizer.json`;
//!   [`bert::ModelDir::open_checkpoint`] for a fine-tuned checkpoint scored with another
//!   model's tokenizer), the tokenizer as batches need it ([`bert::load_tokenizer`]) and
//!   the encoder ([`bert::BertEncoder`]): token ids → last hidden state. Reusable by any
//!   BERT task (e.g. MNLI fine-tuning).
//! * [`network`]: BERT's embeddings and layers in candle operations that all have
//!   backward passes (LayerNorm from [`layer_norm`], a custom op equal to candle's fused
//!   one): one forward for evaluation and full fine-tuning, with optional seeded dropout.
//! * [`trainable`]: a checkpoint's tensors as trainable variables (canonical names, new
//!   heads drawn from the seed), for fine-tuning.
//! * [`embed`]: [`embed::SentenceEmbedder`]: texts → unit vectors, and [`embed::cosine`].
//! * [`asset`]: the staged all-MiniLM-L6-v2 model (`mlgym data import all-minilm-l6-v2
//!   DIR`): import, checks, where it lives under the data root; its manifest entries
//!   ([`asset::StagedFile`]) also serve the staged bert-base-uncased.
//! * [`tiny`]: a tiny random BERT with a small WordPiece vocabulary, written on demand
//!   for tests and smoke runs that must not depend on a downloaded model.
//!
//! Nothing here reads a pickled PyTorch checkpoint: weights must be safetensors.

pub mod asset;
pub mod bert;
pub mod embed;
pub mod layer_norm;
pub mod network;
pub mod tiny;
pub mod trainable;

use std::path::PathBuf;

pub use asset::{ModelAsset, ALL_MINILM_L6_V2};
pub use bert::{BertEncoder, ModelDir};
pub use embed::{cosine, SentenceEmbedder};

/// Why a text model could not be staged, loaded or run. Every message names the file and
/// says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A required file of the model directory is missing.
    #[error("{path} is missing: {hint}")]
    Missing {
        /// The file that should exist.
        path: PathBuf,
        /// What to do.
        hint: String,
    },
    /// Only a pickled PyTorch checkpoint is present.
    #[error(
        "{path} is a pickled PyTorch checkpoint, which mlgym does not read (loading pickles \
         can run code): use the model's model.safetensors instead (published next to \
         pytorch_model.bin on the model's page, or convert it once with \
         `safetensors.torch.save_file`)"
    )]
    NeedsSafetensors {
        /// The `pytorch_model.bin` found.
        path: PathBuf,
    },
    /// A file is not in the expected format or does not fit the model.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// The model is not staged under the data root.
    #[error("{0}")]
    NotStaged(String),
    /// The encoder failed while computing.
    #[error("running the text model: {0}")]
    Compute(String),
}

impl TextError {
    pub(crate) fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        TextError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TextError::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TextError::Write {
            path: path.into(),
            source,
        }
    }
}

impl From<candle_core::Error> for TextError {
    fn from(e: candle_core::Error) -> Self {
        TextError::Compute(e.to_string())
    }
}
