//! [`LmError`], the error of every part of the language-model task. Shared with the
//! agent's trainer crate (`tasks/starters/lm-gpt`): no library-only dependencies.

/// Why a model could not be loaded, trained or scored; every message names the file,
/// tensor or field.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// A submission file is absent.
    #[error("{0}")]
    Missing(String),
    /// `model_config.json` is invalid.
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    /// `model.safetensors` does not fit the config or is damaged.
    #[error("{file}: {message}")]
    Weights {
        /// The file.
        file: String,
        /// What is wrong (names the tensor).
        message: String,
    },
    /// The model's outputs are not finite.
    #[error("{0}")]
    NonFinite(String),
    /// A token shard is unusable.
    #[error(transparent)]
    Shard(#[from] super::shards::ShardError),
    /// The staged data is missing or unusable.
    #[error("{0}")]
    Data(String),
    /// Writing the artefacts failed.
    #[error("{0}")]
    Io(String),
    /// candle failed (a bug, or out of memory); the message says where.
    #[error("{0}")]
    Candle(String),
}
