//! The GPT family, its training and its validation loss: the mlgym library's `lm` files.
//!
//! * `config`: `model_config.json` (the architecture); `model`: the GPT in candle (the
//!   evaluator's code); `ops`: fused CPU kernels; `weights`: `model.safetensors`.
//! * `train`: the recipe (`Recipe`, also the TOML files in `configs/`), the optimiser step
//!   (`Trainer`: Adam for embedding and head, `muon` for the block matrices) and the loop.
//! * `shards`: the token shards and the batch loader; `evaluate`: the evaluator's loss.

pub mod config;
pub mod error;
pub mod evaluate;
pub mod model;
pub mod muon;
pub mod ops;
pub mod shards;
pub mod train;
pub mod weights;

pub use error::LmError;

/// The weights of a submission.
pub const MODEL_FILE: &str = "model.safetensors";
/// The architecture of a submission.
pub const CONFIG_FILE: &str = "model_config.json";
