//! The evaluator: mean next-token cross-entropy (`val_loss`, lower is better) of the
//! submitted model over the first 10,485,760 tokens of `fineweb_val_000000.bin`, with
//! MLGym's windowing: consecutive windows of 1024 + 1 tokens starting at multiples of
//! 1024; inputs are the first 1024 tokens of a window, targets the last 1024. Every
//! scored token is predicted exactly once, so the result does not depend on how MLGym
//! would have split the windows over GPUs (its mean of per-step means is the same number).
//!
//! The model runs in f32 without gradients, a few windows per forward pass; the head and
//! the cross-entropy run in blocks of rows (the logits of a whole batch would take
//! hundreds of MB), the loss is summed in f64 in a fixed order, so the score is identical
//! bit for bit on a CPU whatever the thread count. With candle built with CUDA the model
//! runs on the GPU (still f32).
//!
//! `MLGYM_LM_VAL_TOKENS=N` (tests only) scores the first `N` tokens (rounded down to a
//! multiple of 1024) instead: such a score is not comparable with MLGym's.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};

use super::config::ModelConfig;
use super::model::Gpt;
use super::{weights, LmError, CONFIG_FILE, MODEL_FILE};

/// Tokens scored (MLGym's `val_tokens`).
pub const VAL_TOKENS: usize = 10_485_760;
/// Window length (MLGym's `sequence_length`).
pub const SEQ_LEN: usize = 1024;
/// Environment variable that caps the scored tokens (tests only).
pub const VAL_TOKENS_ENV: &str = "MLGYM_LM_VAL_TOKENS";

/// How the evaluation is batched (the result does not depend on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalOptions {
    /// Tokens per window.
    pub seq_len: usize,
    /// Windows per forward pass.
    pub batch: usize,
    /// Rows of logits computed at once.
    pub head_rows: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            seq_len: SEQ_LEN,
            batch: 4,
            head_rows: 512,
        }
    }
}

/// What an evaluation measured.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalReport {
    /// Mean cross-entropy (nats per token).
    pub loss: f64,
    /// Tokens predicted.
    pub tokens: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Parses a value of [`VAL_TOKENS_ENV`]: a positive number of tokens, rounded down to a
/// multiple of `seq_len`, at most [`VAL_TOKENS`].
pub fn parse_val_tokens(v: &str, seq_len: usize) -> Result<usize, String> {
    let n: usize = v
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{VAL_TOKENS_ENV}=`{v}` is not a number of tokens"))?;
    let n = (n.min(VAL_TOKENS) / seq_len) * seq_len;
    if n == 0 {
        return Err(format!(
            "{VAL_TOKENS_ENV}=`{v}`: at least {seq_len} tokens (one window) are needed"
        ));
    }
    Ok(n)
}

/// The number of tokens to score: [`VAL_TOKENS`], or the cap set by [`VAL_TOKENS_ENV`].
pub fn scored_tokens() -> Result<usize, String> {
    match std::env::var(VAL_TOKENS_ENV) {
        Ok(v) if !v.trim().is_empty() => parse_val_tokens(&v, SEQ_LEN),
        _ => Ok(VAL_TOKENS),
    }
}

fn candle(context: &str) -> impl Fn(candle_core::Error) -> LmError + '_ {
    move |e| LmError::Candle(format!("{context}: {e}"))
}

/// Sum of the per-row losses of hidden rows `h` against `targets`, in f64, in order.
fn head_loss(model: &Gpt, h: &Tensor, targets: &[u32], first_token: usize) -> Result<f64, LmError> {
    let cfg = model.config();
    let n = targets.len();
    let mut rows = vec![0f64; n];
    if h.device().is_cpu() {
        let logits = model.head_logits(h).map_err(candle("head"))?;
        let (storage, layout) = logits.storage_and_layout();
        let data = match (&*storage, layout.contiguous_offsets()) {
            (candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)), Some((a, b))) => &v[a..b],
            _ => {
                return Err(LmError::Candle(
                    "head: logits are not contiguous f32".into(),
                ))
            }
        };
        let cap = cfg.logit_softcap.map(|c| c as f32);
        if let Some(bad) = super::ops::ce_rows(data, cfg.vocab_size, targets, cap, &mut rows) {
            return Err(non_finite(first_token + bad));
        }
    } else {
        let logits = model.logits(h).map_err(candle("head"))?;
        let t = Tensor::new(targets, h.device()).map_err(candle("targets"))?;
        let per_row = candle_nn::ops::log_softmax(&logits, D::Minus1)
            .and_then(|l| l.gather(&t.unsqueeze(1)?, 1))
            .and_then(|l| l.to_dtype(DType::F64))
            .and_then(|l| l.flatten_all()?.to_vec1::<f64>())
            .map_err(candle("cross-entropy"))?;
        for (o, v) in rows.iter_mut().zip(per_row) {
            *o = -v;
        }
        if let Some(bad) = rows.iter().position(|v| !v.is_finite()) {
            return Err(non_finite(first_token + bad));
        }
    }
    Ok(rows.iter().sum())
}

fn non_finite(token: usize) -> LmError {
    LmError::NonFinite(format!(
        "the model's loss is NaN or infinite when predicting validation token {} (window {}, position {}); check the weights and the config (norm_eps, logit_softcap)",
        token + 1,
        token / SEQ_LEN,
        token % SEQ_LEN
    ))
}

/// Mean next-token loss of `model` over `tokens` (`n·seq_len + 1` of them: `n` windows
/// and the final target). `progress(done, total)` is called after each batch of windows.
pub fn mean_loss(
    model: &Gpt,
    tokens: &[u16],
    opts: &EvalOptions,
    device: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<EvalReport, LmError> {
    let start = Instant::now();
    let seq = opts.seq_len.max(1);
    let windows = tokens.len().saturating_sub(1) / seq;
    if windows == 0 {
        return Err(LmError::Data(format!(
            "{} validation tokens, fewer than one window of {seq}+1",
            tokens.len()
        )));
    }
    let vocab = model.config().vocab_size;
    if let Some((i, t)) = tokens[..windows * seq + 1]
        .iter()
        .enumerate()
        .find(|(_, &t)| usize::from(t) >= vocab)
    {
        return Err(LmError::Config(super::config::ConfigError {
            file: CONFIG_FILE.into(),
            message: format!("field `vocab_size`: {vocab} is too small for the validation data (token {i} is id {t}); GPT-2 tokens need at least 50257"),
        }));
    }
    let mut total = 0f64;
    let mut w = 0;
    while w < windows {
        let b = opts.batch.max(1).min(windows - w);
        let base = w * seq;
        let x: Vec<u32> = tokens[base..base + b * seq]
            .iter()
            .map(|&t| u32::from(t))
            .collect();
        let y: Vec<u32> = tokens[base + 1..base + b * seq + 1]
            .iter()
            .map(|&t| u32::from(t))
            .collect();
        let idx = Tensor::from_vec(x, (b, seq), device).map_err(candle("inputs"))?;
        let h = model.hidden(&idx).map_err(candle("forward"))?;
        let h = h
            .reshape((b * seq, model.config().n_embd))
            .map_err(candle("forward"))?;
        let rows = opts.head_rows.max(1);
        let mut r = 0;
        while r < b * seq {
            let n = rows.min(b * seq - r);
            let hr = h.narrow(0, r, n).map_err(candle("head"))?;
            total += head_loss(model, &hr, &y[r..r + n], base + r)?;
            r += n;
        }
        w += b;
        progress(w, windows);
    }
    let count = windows * seq;
    Ok(EvalReport {
        loss: total / count as f64,
        tokens: count,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Loads a submission (config, then weights checked against it) as a model on `device`.
pub fn load_submission(dir: &Path, device: &Device) -> Result<Gpt, LmError> {
    let cfg_path = dir.join(CONFIG_FILE);
    let model_path = dir.join(MODEL_FILE);
    for p in [&cfg_path, &model_path] {
        if !p.is_file() {
            return Err(LmError::Missing(format!(
                "{}: submit `{MODEL_FILE}` (the weights, safetensors) and `{CONFIG_FILE}` (the architecture) from the workspace root; see docs/lm-submission.md",
                p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            )));
        }
    }
    let cfg = ModelConfig::read(&cfg_path)?;
    let w = weights::load(&model_path, &cfg)?;
    let w = w
        .into_iter()
        .map(|(k, t)| t.to_device(device).map(|t| (k, t)))
        .collect::<Result<_, _>>()
        .map_err(candle("moving the weights to the device"))?;
    Gpt::new(&cfg, &w, DType::F32).map_err(candle("building the model"))
}
