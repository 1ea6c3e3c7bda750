//! The native baseline of naturalLanguageInferenceMNLI: fine-tunes the staged
//! bert-base-uncased with a 3-way head in candle and saves `bert_mnli_model/` in Hugging
//! Face format (`bert.`-prefixed encoder and pooler, `classifier.*`, standard
//! `LayerNorm.weight`/`bias` names, config.json, plus the tokenizer).
//!
//! Every parameter learns (embeddings, all layers and their LayerNorms, pooler,
//! classifier): the network is [`crate::text::network::Bert`], whose LayerNorm has a
//! backward pass, the one the evaluator runs. Recipes (full fine-tuning by default,
//! MLGym's lr-1e-7 run, head only, `--quick`) are in [`super::recipe`]. Runs on the CPU,
//! in f32; the pairs, the new head and the dropout masks come from the seed, so a run is
//! repeatable bit for bit.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{backprop::GradStore, Device, Tensor, Var};
use candle_nn::Optimizer;

use super::asset;
use super::data::{self, LABELS};
use super::evaluate::SUBMISSION_DIR;
use super::model::{batch_tensors, encode_pair, Encoded, Head};
pub use super::recipe::Recipe;
use crate::evaluator::{Baseline, BaselineContext, EvalError};
use crate::rng::Rng;
use crate::text::bert::{load_tokenizer, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use crate::text::network::{Bert, Dropout};
use crate::text::trainable::TrainableWeights;
use crate::text::ModelDir;

/// What a fine-tuning run did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Optimiser steps.
    pub steps: usize,
    /// Pairs trained on (over all epochs).
    pub pairs: usize,
    /// Wall-clock seconds of the training loop.
    pub seconds: f64,
    /// `pairs / seconds`.
    pub pairs_per_second: f64,
    /// Loss of every step.
    pub losses: Vec<f32>,
    /// Parameter tensors the optimiser updated.
    pub trained_tensors: usize,
}

fn internal(what: &str) -> impl Fn(candle_core::Error) -> EvalError + '_ {
    move |e| EvalError::Internal(format!("{what}: {e}"))
}

/// AdamW never decays biases and LayerNorm weights (Hugging Face's `no_decay`).
fn decays(name: &str) -> bool {
    !(name.ends_with("bias") || name.contains("LayerNorm"))
}

/// Scales every gradient so that their global L2 norm is at most `max`.
fn clip(grads: &mut GradStore, vars: &[Var], max: f64) -> Result<(), EvalError> {
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v) {
            sq += f64::from(
                g.sqr()
                    .and_then(|s| s.sum_all())
                    .and_then(|s| s.to_scalar::<f32>())
                    .map_err(internal("gradient norm"))?,
            );
        }
    }
    let norm = sq.sqrt();
    if norm > max {
        let scale = max / (norm + 1e-6);
        for v in vars {
            if let Some(g) = grads.remove(v) {
                grads.insert(v, (g * scale).map_err(internal("clipping"))?);
            }
        }
    }
    Ok(())
}

/// Fine-tunes the model staged under `root` with `recipe` and writes
/// `out/bert_mnli_model/`; `progress` gets a line every few steps (loss, lr, pairs/s).
pub fn fine_tune(
    root: &Path,
    out: &Path,
    seed: u64,
    recipe: Recipe,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<TrainReport, EvalError> {
    asset::check_staged(root)
        .map_err(|why| EvalError::DataMissing(format!("{why}; {}", asset::how_to_stage())))?;
    let pretrained = asset::model_dir(root);
    let files = ModelDir::open(&pretrained)
        .map_err(|e| EvalError::DataMissing(format!("{e}; {}", asset::how_to_stage())))?;
    let config = files
        .read_config()
        .map_err(|e| EvalError::DataMissing(e.to_string()))?;
    let mut pairs = data::load_train(root).map_err(|e| match e {
        crate::datasets::DataError::NotStaged(m) => EvalError::DataMissing(m),
        other => EvalError::Internal(other.to_string()),
    })?;
    let mut rng = Rng::new(seed);
    rng.shuffle(&mut pairs);
    if let Some(n) = recipe.max_pairs {
        pairs.truncate(n);
    }
    // A model with fewer positions (e.g. the tiny test BERT) takes shorter pairs.
    let max_tokens = recipe.max_tokens.min(config.max_position_embeddings);
    if max_tokens < recipe.max_tokens {
        progress(&format!(
            "the model has {max_tokens} positions: pairs are truncated to {max_tokens} tokens, not {}",
            recipe.max_tokens
        ));
    }
    let tok = load_tokenizer(&files.tokenizer, max_tokens)
        .map_err(|e| EvalError::DataMissing(e.to_string()))?;
    let encoded: Vec<Encoded> = pairs
        .iter()
        .map(|p| encode_pair(&tok, &p.premise, &p.hypothesis))
        .collect::<Result<_, _>>()
        .map_err(|e| EvalError::Internal(e.to_string()))?;
    if let Some(bad) = encoded
        .iter()
        .flat_map(|e| &e.ids)
        .find(|&&i| i as usize >= config.vocab_size)
    {
        return Err(EvalError::DataMissing(format!(
            "{} gives token id {bad}, but {} has a vocabulary of {}: the tokenizer and the weights belong to different models; {}",
            files.tokenizer.display(),
            files.config.display(),
            config.vocab_size,
            asset::how_to_stage()
        )));
    }

    // Every tensor the model asks for becomes a variable holding the pretrained value;
    // the classifier (and a pooler the checkpoint lacks) is drawn from the seed.
    let device = Device::Cpu;
    let bytes = std::fs::read(&files.weights)
        .map_err(|e| EvalError::io(format!("reading {}", files.weights.display()), e))?;
    let tensors: HashMap<String, Tensor> =
        candle_core::safetensors::load_buffer(&bytes, &device)
            .map_err(|e| EvalError::DataMissing(format!("{}: {e}", files.weights.display())))?;
    drop(bytes);
    let weights = TrainableWeights::new(
        tensors,
        &["pooler.", "classifier."],
        config.initializer_range,
        rng.next_u64(),
    );
    let vb = weights.var_builder();
    let model = Bert::load(vb.clone(), &config)
        .map_err(|e| EvalError::DataMissing(format!("{}: {e}", files.weights.display())))?;
    let head =
        Head::load(&vb, config.hidden_size, LABELS.len()).map_err(internal("building the head"))?;
    drop(vb);
    let named = weights.vars().map_err(internal("variables"))?;
    drop(weights); // the checkpoint's own copy of the tensors is no longer needed
    let trained: Vec<&(String, Var)> = named
        .iter()
        .filter(|(n, _)| {
            recipe.train_encoder || n.starts_with("pooler.") || n.starts_with("classifier.")
        })
        .collect();
    let adamw = |decay: bool| {
        let vars: Vec<Var> = trained
            .iter()
            .filter(|(n, _)| decays(n) == decay)
            .map(|(_, v)| v.clone())
            .collect();
        let params = candle_nn::ParamsAdamW {
            lr: recipe.lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: recipe.eps,
            weight_decay: if decay { recipe.weight_decay } else { 0.0 },
        };
        candle_nn::AdamW::new(vars, params).map_err(internal("optimizer"))
    };
    let mut optimizers = [adamw(true)?, adamw(false)?];
    let trained_vars: Vec<Var> = trained.iter().map(|(_, v)| v.clone()).collect();

    let mut dropout = Dropout::new(recipe.dropout, rng.next_u64());
    let pad = config.pad_token_id as u32;
    let per_epoch = encoded.len().div_ceil(recipe.batch.max(1));
    let total = per_epoch * recipe.epochs;
    let every = if recipe.max_pairs.is_some() { 1 } else { 20 };
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    let mut report = TrainReport {
        steps: 0,
        pairs: 0,
        seconds: 0.0,
        pairs_per_second: 0.0,
        losses: Vec::with_capacity(total),
        trained_tensors: trained_vars.len(),
    };
    progress(&format!(
        "fine-tuning {} of {} tensors on {} pairs: {} epoch(s) of {per_epoch} steps, batch {}, lr {:e}",
        trained_vars.len(),
        named.len(),
        encoded.len(),
        recipe.epochs,
        recipe.batch,
        recipe.lr
    ));
    let start = Instant::now();
    for epoch in 0..recipe.epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(recipe.batch.max(1)) {
            let step = report.steps;
            let lr = recipe.lr_at(step, total);
            for o in &mut optimizers {
                o.set_learning_rate(lr);
            }
            let seqs: Vec<&Encoded> = chunk.iter().map(|&i| &encoded[i]).collect();
            let (ids, types, mask) = batch_tensors(&seqs, pad, &device)
                .map_err(|e| EvalError::Internal(e.to_string()))?;
            let labels: Vec<u32> = chunk.iter().map(|&i| u32::from(pairs[i].label)).collect();
            let labels = Tensor::new(labels.as_slice(), &device).map_err(internal("labels"))?;
            let hidden = model
                .forward_t(&ids, &types, &mask, Some(&mut dropout))
                .map_err(internal("forward"))?;
            // A frozen encoder: no gradient flows into it (and none is computed).
            let hidden = if recipe.train_encoder {
                hidden
            } else {
                hidden.detach()
            };
            let logits = head
                .forward_t(&hidden, Some(&mut dropout))
                .map_err(internal("head"))?;
            let loss =
                candle_nn::loss::cross_entropy(&logits, &labels).map_err(internal("loss"))?;
            let mut grads = loss.backward().map_err(internal("backward"))?;
            if let Some(max) = recipe.clip_norm {
                clip(&mut grads, &trained_vars, max)?;
            }
            for o in &mut optimizers {
                o.step(&grads).map_err(internal("optimizer step"))?;
            }
            let l = loss.to_scalar::<f32>().map_err(internal("loss"))?;
            report.losses.push(l);
            report.steps += 1;
            report.pairs += chunk.len();
            if step.is_multiple_of(every) || report.steps == total {
                let secs = start.elapsed().as_secs_f64();
                progress(&format!(
                    "epoch {epoch} step {}/{total}: loss {l:.4}, lr {lr:.3e}, {:.1} pairs/s",
                    report.steps,
                    report.pairs as f64 / secs.max(1e-9)
                ));
            }
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.pairs_per_second = report.pairs as f64 / report.seconds.max(1e-9);
    save(&named, &files, &out.join(SUBMISSION_DIR))?;
    Ok(report)
}

/// Writes the variables as `BertForSequenceClassification.save_pretrained` would, plus
/// the tokenizer; each file is written to a temporary name and renamed.
fn save(named: &[(String, Var)], files: &ModelDir, dir: &Path) -> Result<(), EvalError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| EvalError::io(format!("creating {}", dir.display()), e))?;
    let out: Vec<(String, &Tensor)> = named
        .iter()
        .map(|(n, v)| {
            let name = if n.starts_with("classifier.") {
                n.clone()
            } else {
                format!("bert.{n}")
            };
            (name, v.as_tensor())
        })
        .collect();
    // transformers refuses a safetensors file without `format` metadata.
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(out, Some(metadata))
        .map_err(|e| EvalError::Internal(format!("serialising the weights: {e}")))?;
    let atomic = |path: &Path, bytes: &[u8]| {
        crate::datasets::stage::write_atomic(path, bytes)
            .map_err(|e| EvalError::Internal(e.to_string()))
    };
    atomic(&dir.join(WEIGHTS_FILE), &bytes)?;
    let tokenizer = std::fs::read(&files.tokenizer)
        .map_err(|e| EvalError::io(format!("reading {}", files.tokenizer.display()), e))?;
    atomic(&dir.join(TOKENIZER_FILE), &tokenizer)?;
    let bytes = std::fs::read(&files.config)
        .map_err(|e| EvalError::io(format!("reading {}", files.config.display()), e))?;
    let mut cfg: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| EvalError::Internal(format!("{}: {e}", files.config.display())))?;
    if let Some(obj) = cfg.as_object_mut() {
        obj.insert(
            "architectures".into(),
            serde_json::json!(["BertForSequenceClassification"]),
        );
        obj.insert(
            "id2label".into(),
            serde_json::json!({"0": LABELS[0], "1": LABELS[1], "2": LABELS[2]}),
        );
        obj.insert(
            "label2id".into(),
            serde_json::json!({LABELS[0]: 0, LABELS[1]: 1, LABELS[2]: 2}),
        );
    }
    let text = serde_json::to_vec_pretty(&cfg).map_err(|e| EvalError::Internal(e.to_string()))?;
    atomic(&dir.join(CONFIG_FILE), &text)
}

/// [`Baseline`] of the MNLI task: the recipe `MLGYM_NLI_BASELINE` names, else
/// [`Recipe::quick`] under `--quick` and [`Recipe::finetune`] otherwise.
#[derive(Debug)]
pub struct BertBaseline;

impl Baseline for BertBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        let recipe = Recipe::from_env(ctx.quick)?;
        let r = fine_tune(ctx.data_root, ctx.out_dir, ctx.seed, recipe, ctx.progress)?;
        (ctx.progress)(&format!(
            "trained {} tensors for {} steps on {} pairs in {:.0} s ({:.1} pairs/s); final loss {:.4}",
            r.trained_tensors,
            r.steps,
            r.pairs,
            r.seconds,
            r.pairs_per_second,
            r.losses.last().copied().unwrap_or(f32::NAN)
        ));
        Ok(())
    }
}
