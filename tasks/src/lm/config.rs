//! `model_config.json`: which member of the GPT family a submission is. MLGym's baseline
//! is `{"vocab_size": 50304, "n_layer": 12, "n_head": 6, "n_embd": 768}` with every other
//! field at its default; the other fields cover the usual modded-nanogpt and GPT-2
//! variations. `docs/lm-submission.md` documents every field and the tensors each implies.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The MLP's non-linearity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `relu(x)²` (MLGym's baseline).
    #[default]
    Relu2,
    /// `relu(x)`.
    Relu,
    /// Exact GELU (`torch.nn.functional.gelu`, erf form).
    Gelu,
    /// GELU, tanh approximation (`approximate="tanh"`, GPT-2's).
    GeluTanh,
    /// `x·sigmoid(x)`.
    Silu,
    /// `silu(c_gate(x)) · c_fc(x)`: adds the tensor `mlp.c_gate.weight`.
    Swiglu,
}

/// How positions enter the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Rotary embeddings on queries and keys (MLGym's baseline).
    #[default]
    Rotary,
    /// A learned table `transformer.wpe.weight` `[block_size, n_embd]` added to the
    /// token embeddings (GPT-2).
    Learned,
    /// None (the causal mask alone).
    None,
}

/// Normalisation layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// RMSNorm: `x / sqrt(mean(x²) + eps)` (MLGym's baseline).
    #[default]
    Rms,
    /// LayerNorm: `(x - mean) / sqrt(var + eps)`.
    Layer,
}

fn default_mlp_ratio() -> f64 {
    4.0
}
fn default_rotary_base() -> f64 {
    10_000.0
}
fn default_true() -> bool {
    true
}
fn default_norm_eps() -> f64 {
    f64::from(f32::EPSILON)
}

/// A model of the GPT family (`model_config.json`). Unknown fields are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Rows of the embedding and the head; at least 50257 for GPT-2 tokens (MLGym: 50304).
    pub vocab_size: usize,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention); default `n_head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_kv_head: Option<usize>,
    /// Residual width.
    pub n_embd: usize,
    /// Width of one head; default `n_embd / n_head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    /// MLP hidden width as a multiple of `n_embd` (default 4), rounded to an integer.
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: f64,
    /// MLP hidden width; overrides `mlp_ratio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp_hidden: Option<usize>,
    /// The MLP's non-linearity.
    #[serde(default)]
    pub activation: Activation,
    /// Position encoding.
    #[serde(default)]
    pub position: Position,
    /// Rotary base (`theta`).
    #[serde(default = "default_rotary_base")]
    pub rotary_base: f64,
    /// Rows of `transformer.wpe.weight` (learned positions only; at least 1024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<usize>,
    /// RMS-normalise queries and keys per head (no weights), before rotary.
    #[serde(default = "default_true")]
    pub qk_norm: bool,
    /// Use the token embedding as the output head (no `lm_head.weight`).
    #[serde(default)]
    pub tie_embeddings: bool,
    /// Kind of the block, embedding and final norms.
    #[serde(default)]
    pub norm: NormKind,
    /// Norms carry learned weights (`ln_*.weight`, and `ln_*.bias` for LayerNorm).
    #[serde(default)]
    pub norm_affine: bool,
    /// Epsilon of every norm; default `torch.finfo(torch.float32).eps` (what
    /// `F.rms_norm` uses on float32).
    #[serde(default = "default_norm_eps")]
    pub norm_eps: f64,
    /// Normalise the token embedding before the first block (MLGym's baseline: yes).
    #[serde(default = "default_true")]
    pub embed_norm: bool,
    /// Linear layers of the blocks have biases (GPT-2); never the head.
    #[serde(default)]
    pub bias: bool,
    /// `cap · tanh(logits / cap)` on the logits when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_softcap: Option<f64>,
    /// Attention score scale; default `1 / sqrt(head_dim)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_scale: Option<f64>,
}

/// A configuration that cannot be used; the message names the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    /// The file (or `model_config`).
    pub file: String,
    /// What is wrong.
    pub message: String,
}

/// Upper bounds that keep a typo from asking for terabytes.
const MAX_DIM: usize = 65_536;
const MAX_LAYERS: usize = 512;
const MAX_VOCAB: usize = 1 << 20;

impl ModelConfig {
    /// MLGym's baseline: 12 layers, 6 heads of 128, width 768, vocabulary 50304.
    pub fn mlgym() -> ModelConfig {
        ModelConfig::small(50_304, 12, 6, 768)
    }

    /// A config of the baseline's kind (RMSNorm, rotary, QK-norm, ReLU², untied head)
    /// with other sizes.
    pub fn small(vocab_size: usize, n_layer: usize, n_head: usize, n_embd: usize) -> ModelConfig {
        ModelConfig {
            vocab_size,
            n_layer,
            n_head,
            n_kv_head: None,
            n_embd,
            head_dim: None,
            mlp_ratio: 4.0,
            mlp_hidden: None,
            activation: Activation::Relu2,
            position: Position::Rotary,
            rotary_base: 10_000.0,
            block_size: None,
            qk_norm: true,
            tie_embeddings: false,
            norm: NormKind::Rms,
            norm_affine: false,
            norm_eps: default_norm_eps(),
            embed_norm: true,
            bias: false,
            logit_softcap: None,
            attn_scale: None,
        }
    }

    /// Parses and checks JSON text; `file` names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<ModelConfig, ConfigError> {
        let c: ModelConfig = serde_json::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            message: format!("{e}; see docs/lm-submission.md for the fields"),
        })?;
        c.check().map_err(|message| ConfigError {
            file: file.to_string(),
            message,
        })?;
        Ok(c)
    }

    /// Reads and checks a `model_config.json`.
    pub fn read(path: &Path) -> Result<ModelConfig, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            message: e.to_string(),
        })?;
        ModelConfig::parse(&text, &file)
    }

    /// The JSON text (pretty, with a final newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.n_embd / self.n_head.max(1))
    }

    /// Key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.n_kv_head.unwrap_or(self.n_head)
    }

    /// MLP hidden width.
    pub fn mlp_hidden(&self) -> usize {
        self.mlp_hidden
            .unwrap_or((self.mlp_ratio * self.n_embd as f64).round() as usize)
    }

    /// The attention scale.
    pub fn attn_scale(&self) -> f64 {
        self.attn_scale
            .unwrap_or(1.0 / (self.head_dim() as f64).sqrt())
    }

    /// Checks the fields against each other; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        let positive = |name: &str, v: usize, max: usize| {
            if v == 0 || v > max {
                Err(format!("field `{name}`: {v} must be between 1 and {max}"))
            } else {
                Ok(())
            }
        };
        positive("vocab_size", self.vocab_size, MAX_VOCAB)?;
        positive("n_head", self.n_head, MAX_DIM)?;
        positive("n_embd", self.n_embd, MAX_DIM)?;
        if self.n_layer > MAX_LAYERS {
            return Err(format!(
                "field `n_layer`: {} is above {MAX_LAYERS}",
                self.n_layer
            ));
        }
        match self.head_dim {
            Some(h) => positive("head_dim", h, MAX_DIM)?,
            None if !self.n_embd.is_multiple_of(self.n_head) => {
                return Err(format!(
                    "field `n_embd`: {} is not a multiple of `n_head` {}; set `head_dim` or change one of them",
                    self.n_embd, self.n_head
                ))
            }
            None => {}
        }
        let hd = self.head_dim();
        if let Some(kv) = self.n_kv_head {
            positive("n_kv_head", kv, MAX_DIM)?;
            if !self.n_head.is_multiple_of(kv) {
                return Err(format!(
                    "field `n_kv_head`: {kv} does not divide `n_head` {}",
                    self.n_head
                ));
            }
        }
        if self.position == Position::Rotary && !hd.is_multiple_of(2) {
            return Err(format!(
                "field `head_dim`: rotary embeddings need an even head width, got {hd}"
            ));
        }
        if !(self.rotary_base.is_finite() && self.rotary_base > 1.0) {
            return Err(format!(
                "field `rotary_base`: {} must be a number above 1",
                self.rotary_base
            ));
        }
        if self.mlp_hidden.is_none() && !(self.mlp_ratio.is_finite() && self.mlp_ratio > 0.0) {
            return Err(format!(
                "field `mlp_ratio`: {} must be positive",
                self.mlp_ratio
            ));
        }
        positive("mlp_hidden", self.mlp_hidden(), 16 * MAX_DIM)?;
        match (self.position, self.block_size) {
            (Position::Learned, None) => {
                return Err("field `block_size`: required with `\"position\": \"learned\"` (rows of transformer.wpe.weight, at least 1024)".into())
            }
            (Position::Learned, Some(b)) => positive("block_size", b, 1 << 20)?,
            (_, Some(_)) => {
                return Err("field `block_size`: only used with `\"position\": \"learned\"`; remove it".into())
            }
            _ => {}
        }
        if !(self.norm_eps.is_finite() && self.norm_eps >= 0.0) {
            return Err(format!(
                "field `norm_eps`: {} must be a non-negative number",
                self.norm_eps
            ));
        }
        if let Some(c) = self.logit_softcap {
            if !(c.is_finite() && c > 0.0) {
                return Err(format!("field `logit_softcap`: {c} must be positive"));
            }
        }
        if let Some(s) = self.attn_scale {
            if !(s.is_finite() && s > 0.0) {
                return Err(format!("field `attn_scale`: {s} must be positive"));
            }
        }
        Ok(())
    }

    /// Number of parameters (elements of every tensor).
    pub fn parameter_count(&self) -> usize {
        crate::lm::model::tensor_specs(self)
            .iter()
            .map(|t| t.shape.iter().product::<usize>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_config_is_four_fields() {
        let c = ModelConfig::parse(
            r#"{"vocab_size": 50304, "n_layer": 12, "n_head": 6, "n_embd": 768}"#,
            "model_config.json",
        )
        .unwrap();
        assert_eq!(c, ModelConfig::mlgym());
        assert_eq!(c.head_dim(), 128);
        assert_eq!(c.mlp_hidden(), 3072);
        // 12 · (4·768² + 2·768·3072) + 2 · 50304·768
        assert_eq!(
            c.parameter_count(),
            12 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 50304 * 768
        );
        let back = ModelConfig::parse(&c.to_json(), "x").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn errors_name_the_field() {
        let e = |t: &str| {
            ModelConfig::parse(t, "model_config.json")
                .unwrap_err()
                .to_string()
        };
        let base = r#""vocab_size": 100, "n_layer": 2, "n_head": 3, "n_embd": 64"#;
        assert!(e(&format!("{{{base}}}")).contains("`n_embd`"));
        assert!(e(r#"{"vocab_size": 100, "n_layer": 2, "n_head": 2}"#).contains("n_embd"));
        let ok = r#""vocab_size": 100, "n_layer": 2, "n_head": 2, "n_embd": 64"#;
        assert!(e(&format!("{{{ok}, \"colour\": 1}}")).contains("colour"));
        assert!(e(&format!("{{{ok}, \"activation\": \"tanh\"}}")).contains("tanh"));
        assert!(e(&format!("{{{ok}, \"n_kv_head\": 3}}")).contains("`n_kv_head`"));
        assert!(e(&format!("{{{ok}, \"position\": \"learned\"}}")).contains("`block_size`"));
        assert!(e(&format!("{{{ok}, \"head_dim\": 7}}")).contains("even"));
        assert!(e(&format!("{{{ok}, \"logit_softcap\": -1}}")).contains("`logit_softcap`"));
        let n = r#"{"vocab_size": 0, "n_layer": 2, "n_head": 2, "n_embd": 64}"#;
        assert!(e(n).contains("`vocab_size`"));
    }
}
