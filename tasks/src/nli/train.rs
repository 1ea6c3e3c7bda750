//! The native baseline of naturalLanguageInferenceMNLI: the staged bert-base-uncased
//! with a 3-way head in candle, saved as `bert_mnli_model/` in Hugging Face format
//! (`bert.`-prefixed encoder and pooler, `classifier.*`, config.json).
//!
//! What it trains: the pooler and the classifier on top of the frozen encoder. candle's
//! fused LayerNorm (used by candle-transformers' BERT) has no backward pass, so gradients
//! do not reach the encoder; full fine-tuning is what the starter `baseline.py` does with
//! PyTorch. Recipe ([`Recipe::full`]): AdamW (weight decay 0.01), lr 1e-3, one epoch,
//! batch 32, pairs of at most 128 tokens, head initialised N(0, 0.02) from the seed.
//! MLGym's own baseline (full fine-tuning at lr 1e-7 for one epoch) barely moves the
//! head (52.51 %). `--quick` ([`Recipe::quick`]) takes 64 pairs, batch 8, 64 tokens: a
//! smoke run. Runs on the CPU; pairs are shuffled with the seed.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use candle_transformers::models::bert::BertModel;

use super::asset;
use super::data::{self, LABELS};
use super::evaluate::SUBMISSION_DIR;
use super::model::{batch_tensors, encode_pair, pair_tokenizer_with, Encoded, Head};
use crate::evaluator::{Baseline, BaselineContext, EvalError};
use crate::rng::Rng;
use crate::text::bert::{CONFIG_FILE, WEIGHTS_FILE};
use crate::text::ModelDir;

/// A fine-tuning recipe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recipe {
    /// Pairs used (None: all).
    pub max_pairs: Option<usize>,
    /// Epochs.
    pub epochs: usize,
    /// Pairs per step.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Longest token sequence.
    pub max_tokens: usize,
}

impl Recipe {
    /// The full recipe.
    pub fn full() -> Recipe {
        Recipe {
            max_pairs: None,
            epochs: 1,
            batch: 32,
            lr: 1e-3,
            max_tokens: 128,
        }
    }

    /// The smoke-run recipe of `--quick`.
    pub fn quick() -> Recipe {
        Recipe {
            max_pairs: Some(64),
            epochs: 1,
            batch: 8,
            lr: 1e-3,
            max_tokens: 64,
        }
    }
}

fn internal(what: &str) -> impl Fn(candle_core::Error) -> EvalError + '_ {
    move |e| EvalError::Internal(format!("{what}: {e}"))
}

/// Fine-tunes the model staged under `root` and writes `out/bert_mnli_model/`.
pub fn fine_tune(
    root: &Path,
    out: &Path,
    seed: u64,
    recipe: Recipe,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EvalError> {
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
    let tok = pair_tokenizer_with(&files.tokenizer, recipe.max_tokens)
        .map_err(|e| EvalError::DataMissing(e.to_string()))?;
    let encoded: Vec<Encoded> = pairs
        .iter()
        .map(|p| encode_pair(&tok, &p.premise, &p.hypothesis))
        .collect::<Result<_, _>>()
        .map_err(|e| EvalError::Internal(e.to_string()))?;

    // Trainable variables, then the pretrained values copied in by name.
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = BertModel::load(vb.clone(), &config).map_err(internal("building BERT"))?;
    let head =
        Head::load(&vb, config.hidden_size, LABELS.len()).map_err(internal("building the head"))?;
    let bytes = std::fs::read(&files.weights)
        .map_err(|e| EvalError::io(format!("reading {}", files.weights.display()), e))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, &device)
        .map_err(internal("reading the pretrained weights"))?;
    {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| EvalError::Internal("variable map poisoned".into()))?;
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let loaded = tensors
                .get(name)
                .or_else(|| tensors.get(&format!("bert.{name}")));
            let value = match loaded {
                Some(t) => t.to_dtype(DType::F32).map_err(internal(name))?,
                // Not in the checkpoint (the classifier, maybe the pooler): N(0, 0.02)
                // weights and zero biases, drawn from the seed.
                None if name.ends_with("bias") => var.zeros_like().map_err(internal(name))?,
                None => {
                    let n = var.elem_count();
                    let v: Vec<f32> = (0..n).map(|_| (rng.normal() * 0.02) as f32).collect();
                    Tensor::from_vec(v, var.shape(), &device).map_err(internal(name))?
                }
            };
            var.set(&value).map_err(internal(name))?;
        }
    }
    let params = candle_nn::ParamsAdamW {
        lr: recipe.lr,
        weight_decay: 0.01,
        ..Default::default()
    };
    // Only the head learns (see the module docs).
    let head_vars: Vec<candle_core::Var> = {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| EvalError::Internal("variable map poisoned".into()))?;
        let mut named: Vec<(&String, &candle_core::Var)> = vars
            .iter()
            .filter(|(n, _)| n.starts_with("pooler.") || n.starts_with("classifier."))
            .collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    };
    let mut opt = candle_nn::AdamW::new(head_vars, params).map_err(internal("optimizer"))?;
    let pad = config.pad_token_id as u32;
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    for epoch in 0..recipe.epochs {
        rng.shuffle(&mut order);
        for (step, chunk) in order.chunks(recipe.batch).enumerate() {
            let seqs: Vec<&Encoded> = chunk.iter().map(|&i| &encoded[i]).collect();
            let (ids, types, mask) = batch_tensors(&seqs, pad, &device)
                .map_err(|e| EvalError::Internal(e.to_string()))?;
            let labels: Vec<u32> = chunk.iter().map(|&i| u32::from(pairs[i].label)).collect();
            let labels = Tensor::new(labels.as_slice(), &device).map_err(internal("labels"))?;
            let hidden = model
                .forward(&ids, &types, Some(&mask))
                .map_err(internal("forward"))?;
            let logits = head.forward(&hidden).map_err(internal("head"))?;
            let loss =
                candle_nn::loss::cross_entropy(&logits, &labels).map_err(internal("loss"))?;
            opt.backward_step(&loss).map_err(internal("backward"))?;
            if step % 50 == 0 {
                let l = loss.to_scalar::<f32>().map_err(internal("loss"))?;
                progress(&format!("epoch {epoch} step {step}: loss {l:.4}"));
            }
        }
    }
    save(&varmap, &files.config, &out.join(SUBMISSION_DIR))
}

/// Writes the variables as `BertForSequenceClassification` would save them.
fn save(varmap: &VarMap, config: &Path, dir: &Path) -> Result<(), EvalError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| EvalError::io(format!("creating {}", dir.display()), e))?;
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| EvalError::Internal("variable map poisoned".into()))?;
    let mut out: Vec<(String, Tensor)> = vars
        .iter()
        .map(|(n, v)| {
            let name = if n.starts_with("classifier.") {
                n.clone()
            } else {
                format!("bert.{n}")
            };
            (name, v.as_tensor().clone())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let weights = dir.join(WEIGHTS_FILE);
    candle_core::safetensors::save(&out.into_iter().collect(), &weights)
        .map_err(internal("saving the weights"))?;
    let bytes = std::fs::read(config)
        .map_err(|e| EvalError::io(format!("reading {}", config.display()), e))?;
    let mut cfg: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| EvalError::Internal(format!("{}: {e}", config.display())))?;
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
    crate::datasets::stage::write_atomic(&dir.join(CONFIG_FILE), &text)
        .map_err(|e| EvalError::Internal(e.to_string()))?;
    Ok(())
}

/// [`Baseline`] of the MNLI task.
#[derive(Debug)]
pub struct BertBaseline;

impl Baseline for BertBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        let recipe = if ctx.quick {
            Recipe::quick()
        } else {
            Recipe::full()
        };
        fine_tune(ctx.data_root, ctx.out_dir, ctx.seed, recipe, ctx.progress)
    }
}
