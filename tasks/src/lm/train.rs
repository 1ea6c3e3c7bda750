//! MLGym's training recipe ([`Recipe`]), the optimisers' step ([`Trainer`]) and the
//! training loop ([`train`]); the task's baseline (`super::baseline`) and the agent's
//! trainer crate (`tasks/starters/lm-gpt`) both run [`train`].
//!
//! [`Recipe::mlgym`] is MLGym's `baseline.py` on one GPU: the 12-layer model, batch
//! 64 × 1024 tokens, 500 iterations, the learning-rate multiplier `(500 − it)/1308`
//! (warm-down only), Adam (β 0.9/0.95, ε 1e-8) with lr 0.3 for the embedding and 0.002 for
//! the head, Muon (lr 0.02, momentum 0.95, Nesterov, 5 Newton–Schulz steps) for every
//! block matrix; vectors (norm weights, biases, when a config has them) get Adam with lr
//! 0.04. Batches are read in order from the training shards as MLGym's loader reads them;
//! the validation shard is never read. The matrices compute in the recipe's `compute` dtype
//! ([`Compute`]): by default bf16 on a GPU (as MLGym's autocast) and f32 on the CPU.
//!
//! Without a GPU the full recipe would take days, so the baseline trains
//! [`Recipe::cpu`] (a 4-layer, 256-wide model; same optimisers) unless
//! `MLGYM_LM_BASELINE=mlgym` asks for the full one; `--quick` trains [`Recipe::quick`].
//! A recipe is also a TOML file (the starter's `configs/*.toml`): [`Recipe::from_toml`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

use super::config::{ConfigError, ModelConfig, Position};
use super::model::{init_weights, Gpt};
use super::muon::Muon;
use super::shards::TokenLoader;
use super::LmError;
use crate::rng::Rng;

/// The dtype the linear layers, attention and Muon's Newton–Schulz iteration compute in
/// (parameters, optimiser state, the residual stream, norms and the loss stay f32).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compute {
    /// bf16 on a CUDA device, f32 on the CPU (where f32 is the faster of the two).
    #[default]
    Auto,
    /// f32 everywhere.
    F32,
    /// bf16 everywhere (on the CPU too: slower than f32, but it runs the GPU's arithmetic).
    Bf16,
}

impl Compute {
    /// The dtype this choice means on `device`.
    pub fn dtype(self, device: &Device) -> DType {
        match self {
            Compute::Auto if device.is_cuda() => DType::BF16,
            Compute::Auto | Compute::F32 => DType::F32,
            Compute::Bf16 => DType::BF16,
        }
    }
}

/// A training run's hyper-parameters. Unknown fields are rejected when read from a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Sequences per step.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Optimiser steps.
    pub iterations: usize,
    /// Linear warm-up steps.
    pub warmup_iters: usize,
    /// Linear warm-down steps (may exceed `iterations`, as in MLGym).
    pub warmdown_iters: usize,
    /// Adam lr of the token (and position) embedding.
    pub embed_lr: f64,
    /// Adam lr of the head.
    pub head_lr: f64,
    /// Adam lr of vectors (norm weights, biases).
    pub scalar_lr: f64,
    /// Adam β1, β2.
    pub betas: (f64, f64),
    /// Muon lr.
    pub muon_lr: f64,
    /// Muon momentum.
    pub muon_momentum: f64,
    /// Newton–Schulz steps.
    pub ns_steps: usize,
    /// The compute dtype (`auto`, `f32` or `bf16`; `auto` when absent from a file).
    #[serde(default)]
    pub compute: Compute,
    /// A progress line every this many steps.
    pub log_every: usize,
    /// The model (last: a TOML file writes it as the `[model]` table after the values).
    pub model: ModelConfig,
}

impl Recipe {
    /// MLGym's recipe (one GPU).
    pub fn mlgym() -> Recipe {
        Recipe {
            model: ModelConfig::mlgym(),
            batch: 64,
            seq_len: 1024,
            iterations: 500,
            warmup_iters: 0,
            warmdown_iters: 1308,
            embed_lr: 0.3,
            head_lr: 0.002,
            scalar_lr: 0.04,
            betas: (0.9, 0.95),
            muon_lr: 0.02,
            muon_momentum: 0.95,
            ns_steps: 5,
            compute: Compute::Auto,
            log_every: 10,
        }
    }

    /// The CPU baseline: 4 layers of width 256 (4 heads of 64), batch 4 × 1024, 500 steps,
    /// warm-down over all of them.
    pub fn cpu() -> Recipe {
        Recipe {
            model: ModelConfig::small(50_304, 4, 4, 256),
            batch: 4,
            warmdown_iters: 500,
            log_every: 10,
            ..Recipe::mlgym()
        }
    }

    /// `--quick`: 2 layers of width 64, batch 4 × 128, 20 steps (a pipeline check).
    pub fn quick() -> Recipe {
        Recipe {
            model: ModelConfig::small(50_304, 2, 2, 64),
            batch: 4,
            seq_len: 128,
            iterations: 20,
            warmdown_iters: 20,
            log_every: 5,
            ..Recipe::mlgym()
        }
    }

    /// The recipe named `name` (`mlgym`, `cpu`, `quick`).
    pub fn named(name: &str) -> Option<Recipe> {
        match name {
            "mlgym" => Some(Recipe::mlgym()),
            "cpu" => Some(Recipe::cpu()),
            "quick" => Some(Recipe::quick()),
            _ => None,
        }
    }

    /// MLGym's `get_lr(it)`: the learning-rate multiplier of step `it` (0-based).
    pub fn lr_multiplier(&self, it: usize) -> f64 {
        let (it, n, wu, wd) = (
            it as f64,
            self.iterations as f64,
            self.warmup_iters as f64,
            self.warmdown_iters as f64,
        );
        if it < wu {
            (it + 1.0) / wu
        } else if it < n - wd {
            1.0
        } else {
            (n - it) / wd.max(1.0)
        }
    }

    /// Tokens per step.
    pub fn tokens_per_step(&self) -> usize {
        self.batch * self.seq_len
    }

    /// The recipe as TOML: the hyper-parameters, then the model as `[model]`.
    pub fn to_toml(&self) -> String {
        // Plain numbers, strings and tables of them: serialisation cannot fail.
        toml::to_string(self).unwrap_or_default()
    }

    /// Reads a recipe written as by [`Recipe::to_toml`] from `text` (the contents of
    /// `file`, named in errors), and checks it.
    pub fn from_toml(text: &str, file: &str) -> Result<Recipe, ConfigError> {
        let err = |message: String| ConfigError {
            file: file.to_string(),
            message,
        };
        let r: Recipe = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        r.model.check().map_err(|m| err(format!("[model] {m}")))?;
        for (field, v) in [
            ("batch", r.batch),
            ("seq_len", r.seq_len),
            ("iterations", r.iterations),
            ("ns_steps", r.ns_steps),
        ] {
            if v == 0 {
                return Err(err(format!("field `{field}`: must be at least 1")));
            }
        }
        if r.model.position == Position::Learned
            && r.model.block_size.is_some_and(|b| b < r.seq_len)
        {
            return Err(err(format!(
                "field `seq_len`: {} exceeds the model's `block_size`",
                r.seq_len
            )));
        }
        let lrs = [
            ("embed_lr", r.embed_lr),
            ("head_lr", r.head_lr),
            ("scalar_lr", r.scalar_lr),
            ("muon_lr", r.muon_lr),
            ("muon_momentum", r.muon_momentum),
            ("betas", r.betas.0),
            ("betas", r.betas.1),
        ];
        if let Some((field, v)) = lrs.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return Err(err(format!(
                "field `{field}`: {v} must be a non-negative number"
            )));
        }
        Ok(r)
    }
}

fn candle(context: &'static str) -> impl Fn(candle_core::Error) -> LmError {
    move |e| LmError::Candle(format!("{context}: {e}"))
}

/// A model being trained, with its optimisers.
pub struct Trainer {
    recipe: Recipe,
    device: Device,
    vars: BTreeMap<String, Var>,
    model: Gpt,
    embed: AdamW,
    head: AdamW,
    scalars: AdamW,
    muon: Muon,
    step: usize,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("recipe", &self.recipe)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A freshly initialised model (from `seed`) on `device` with the recipe's optimisers.
    pub fn new(recipe: &Recipe, seed: u64, device: &Device) -> Result<Trainer, LmError> {
        recipe.model.check().map_err(|m| {
            LmError::Config(super::config::ConfigError {
                file: "recipe".into(),
                message: m,
            })
        })?;
        let init = init_weights(&recipe.model, &mut Rng::stream(seed, 0))
            .map_err(candle("initialisation"))?;
        let mut vars = BTreeMap::new();
        for (name, t) in init {
            let v = t
                .to_device(device)
                .and_then(|t| Var::from_tensor(&t))
                .map_err(candle("initialisation"))?;
            vars.insert(name, v);
        }
        let tensors: BTreeMap<String, Tensor> = vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        let compute = recipe.compute.dtype(device);
        let model =
            Gpt::new(&recipe.model, &tensors, compute).map_err(candle("building the model"))?;
        let (mut embed, mut head, mut scalars, mut matrices) = (vec![], vec![], vec![], vec![]);
        for (name, v) in &vars {
            if name.starts_with("transformer.wte") || name.starts_with("transformer.wpe") {
                embed.push(v.clone());
            } else if name == "lm_head.weight" {
                head.push(v.clone());
            } else if v.rank() == 2 {
                matrices.push(v.clone());
            } else {
                scalars.push(v.clone());
            }
        }
        let adam = |vars: Vec<Var>, lr: f64| {
            AdamW::new(
                vars,
                ParamsAdamW {
                    lr,
                    beta1: recipe.betas.0,
                    beta2: recipe.betas.1,
                    eps: 1e-8,
                    weight_decay: 0.0,
                },
            )
        };
        Ok(Trainer {
            embed: adam(embed, recipe.embed_lr).map_err(candle("Adam"))?,
            head: adam(head, recipe.head_lr).map_err(candle("Adam"))?,
            scalars: adam(scalars, recipe.scalar_lr).map_err(candle("Adam"))?,
            muon: Muon::new(
                matrices,
                recipe.muon_lr,
                recipe.muon_momentum,
                recipe.ns_steps,
                compute,
            )
            .map_err(candle("Muon"))?,
            recipe: recipe.clone(),
            device: device.clone(),
            vars,
            model,
            step: 0,
        })
    }

    /// The dtype the matrices and Muon compute in.
    pub fn compute(&self) -> DType {
        self.muon.dtype
    }

    /// The model.
    pub fn model(&self) -> &Gpt {
        &self.model
    }

    /// One optimiser step on inputs `x` and targets `y` (`batch·seq_len` ids each);
    /// returns the batch's mean loss before the update.
    pub fn step(&mut self, x: Vec<u32>, y: Vec<u32>) -> Result<f32, LmError> {
        let r = &self.recipe;
        let m = r.lr_multiplier(self.step);
        self.embed.set_learning_rate(r.embed_lr * m);
        self.head.set_learning_rate(r.head_lr * m);
        self.scalars.set_learning_rate(r.scalar_lr * m);
        self.muon.set_learning_rate(r.muon_lr * m);
        let shape = (x.len() / r.seq_len.max(1), r.seq_len);
        let xt = Tensor::from_vec(x, shape, &self.device).map_err(candle("inputs"))?;
        let yt = Tensor::from_vec(y, shape, &self.device).map_err(candle("targets"))?;
        let loss = self.model.loss(&xt, &yt).map_err(candle("forward"))?;
        let value = loss
            .to_dtype(DType::F32)
            .and_then(|l| l.to_vec0::<f32>())
            .map_err(candle("loss"))?;
        if !value.is_finite() {
            return Err(LmError::NonFinite(format!(
                "the training loss is {value} at step {}; lower the learning rates",
                self.step
            )));
        }
        let grads = loss.backward().map_err(candle("backward"))?;
        self.embed.step(&grads).map_err(candle("Adam"))?;
        self.head.step(&grads).map_err(candle("Adam"))?;
        self.scalars.step(&grads).map_err(candle("Adam"))?;
        self.muon.step(&grads).map_err(candle("Muon"))?;
        self.step += 1;
        Ok(value)
    }

    /// The current weights (f32), by name.
    pub fn weights(&self) -> BTreeMap<String, Tensor> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
            .collect()
    }
}

/// What a training run did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// The loss of every step.
    pub losses: Vec<f32>,
    /// Training tokens consumed.
    pub tokens: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Tokens per second over the run.
    pub tokens_per_second: f64,
}

/// Trains `recipe` on `shards` (read in order) from `seed` on `device`.
pub fn train(
    recipe: &Recipe,
    shards: &[PathBuf],
    seed: u64,
    device: &Device,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Trainer, TrainReport), LmError> {
    let mut loader = TokenLoader::new(shards, recipe.batch, recipe.seq_len)?;
    let mut trainer = Trainer::new(recipe, seed, device)?;
    progress(&format!(
        "training {} layers x {} wide ({:.1}M parameters) on {} ({}): {} steps of {}x{} tokens",
        recipe.model.n_layer,
        recipe.model.n_embd,
        recipe.model.parameter_count() as f64 / 1e6,
        if device.is_cuda() {
            "the GPU"
        } else {
            "the CPU"
        },
        trainer.compute().as_str(),
        recipe.iterations,
        recipe.batch,
        recipe.seq_len
    ));
    let start = Instant::now();
    let mut window = (Instant::now(), 0u64);
    let mut losses = Vec::with_capacity(recipe.iterations);
    for it in 0..recipe.iterations {
        let (x, y) = loader.next_batch()?;
        let loss = trainer.step(x, y)?;
        losses.push(loss);
        window.1 += recipe.tokens_per_step() as u64;
        if (it + 1) % recipe.log_every.max(1) == 0 || it + 1 == recipe.iterations {
            let rate = window.1 as f64 / window.0.elapsed().as_secs_f64().max(1e-9);
            progress(&format!(
                "step {}/{} loss {loss:.4} lr x{:.3} {rate:.0} tokens/s",
                it + 1,
                recipe.iterations,
                recipe.lr_multiplier(it)
            ));
            window = (Instant::now(), 0);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let tokens = loader.tokens_read();
    Ok((
        trainer,
        TrainReport {
            losses,
            tokens,
            seconds,
            tokens_per_second: tokens as f64 / seconds.max(1e-9),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_mlgym_warmdown_only() {
        let r = Recipe::mlgym();
        assert!((r.lr_multiplier(0) - 500.0 / 1308.0).abs() < 1e-15);
        assert!((r.lr_multiplier(250) - 250.0 / 1308.0).abs() < 1e-15);
        assert!((r.lr_multiplier(499) - 1.0 / 1308.0).abs() < 1e-15);
        let w = Recipe {
            warmup_iters: 10,
            warmdown_iters: 10,
            iterations: 100,
            ..Recipe::quick()
        };
        assert_eq!(w.lr_multiplier(0), 0.1);
        assert_eq!(w.lr_multiplier(50), 1.0);
        assert_eq!(w.lr_multiplier(95), 0.5);
    }
}
