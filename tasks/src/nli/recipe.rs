//! The MNLI baseline's fine-tuning recipes, chosen with `MLGYM_NLI_BASELINE`:
//!
//! | name | what | epochs | lr | schedule | AdamW | batch × tokens |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | `finetune` (default) | every parameter | 1 | 2e-5 | 10 % linear warm-up, linear decay to 0 | wd 0.01 (not biases, LayerNorms), eps 1e-8, clip 1.0 | 32 × 128 |
//! | `mlgym` | every parameter | 1 | 1e-7 | constant | `transformers.AdamW` defaults: wd 0, eps 1e-6 | 32 × 128 |
//! | `head` | pooler + classifier, encoder frozen | 1 | 1e-3 | constant | wd 0.01, eps 1e-8 | 32 × 128 |
//! | `quick` (`--quick`) | every parameter, 64 pairs | 1 | 2e-5 | as `finetune` | as `finetune` | 8 × 64 |
//!
//! All use dropout 0.1 in training (BERT's `hidden_dropout_prob`), betas (0.9, 0.999),
//! a new classifier drawn from N(0, 0.02), and shuffle the pairs with the seed.
//! `mlgym` is MLGym's `baseline.py` (its 52.51 %), in f32 instead of AMP; `finetune` is
//! the usual BERT recipe (the BERT paper trains 3 epochs; one keeps a CPU run shorter).

use crate::evaluator::EvalError;

/// Environment variable choosing the recipe (see the module docs).
pub const RECIPE_ENV: &str = "MLGYM_NLI_BASELINE";

/// A fine-tuning recipe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recipe {
    /// Pairs used (None: all).
    pub max_pairs: Option<usize>,
    /// Epochs.
    pub epochs: usize,
    /// Pairs per step.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Longest token sequence of a pair.
    pub max_tokens: usize,
    /// Fraction of the steps spent warming the learning rate up linearly from 0.
    pub warmup: f64,
    /// Decay the learning rate linearly to 0 at the last step (after the warm-up).
    pub linear_decay: bool,
    /// AdamW's decoupled weight decay (never applied to biases and LayerNorm weights).
    pub weight_decay: f64,
    /// AdamW's epsilon.
    pub eps: f64,
    /// Largest global gradient norm (None: no clipping).
    pub clip_norm: Option<f64>,
    /// Dropout probability in training (0: none).
    pub dropout: f64,
    /// Train the encoder (false: only the pooler and classifier learn).
    pub train_encoder: bool,
}

impl Recipe {
    /// The default: full fine-tuning with the usual BERT recipe.
    pub fn finetune() -> Recipe {
        Recipe {
            max_pairs: None,
            epochs: 1,
            batch: 32,
            lr: 2e-5,
            max_tokens: 128,
            warmup: 0.1,
            linear_decay: true,
            weight_decay: 0.01,
            eps: 1e-8,
            clip_norm: Some(1.0),
            dropout: 0.1,
            train_encoder: true,
        }
    }

    /// MLGym's `baseline.py`: one epoch at lr 1e-7, `transformers.AdamW` defaults.
    pub fn mlgym() -> Recipe {
        Recipe {
            lr: 1e-7,
            warmup: 0.0,
            linear_decay: false,
            weight_decay: 0.0,
            eps: 1e-6,
            clip_norm: None,
            ..Recipe::finetune()
        }
    }

    /// Only the pooler and classifier learn (a cheap CPU run).
    pub fn head() -> Recipe {
        Recipe {
            lr: 1e-3,
            warmup: 0.0,
            linear_decay: false,
            clip_norm: None,
            train_encoder: false,
            ..Recipe::finetune()
        }
    }

    /// The smoke run of `--quick`: 64 pairs, batch 8, 64 tokens.
    pub fn quick() -> Recipe {
        Recipe {
            max_pairs: Some(64),
            batch: 8,
            max_tokens: 64,
            ..Recipe::finetune()
        }
    }

    /// The recipe called `name` (`finetune`, `mlgym`, `head`, `quick`).
    pub fn named(name: &str) -> Option<Recipe> {
        match name {
            "finetune" => Some(Recipe::finetune()),
            "mlgym" => Some(Recipe::mlgym()),
            "head" => Some(Recipe::head()),
            "quick" => Some(Recipe::quick()),
            _ => None,
        }
    }

    /// The recipe `MLGYM_NLI_BASELINE` names, else `quick` or `finetune`.
    pub fn from_env(quick: bool) -> Result<Recipe, EvalError> {
        match std::env::var(RECIPE_ENV).ok().filter(|v| !v.is_empty()) {
            Some(name) => Recipe::named(&name).ok_or_else(|| {
                EvalError::Internal(format!(
                    "{RECIPE_ENV}=`{name}`: use finetune, mlgym, head or quick"
                ))
            }),
            None if quick => Ok(Recipe::quick()),
            None => Ok(Recipe::finetune()),
        }
    }

    /// Learning rate of step `step` (0-based) of `total`: Hugging Face's
    /// `get_linear_schedule_with_warmup` when decaying (the first warm-up step has lr 0,
    /// as there), else constant after the warm-up.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let warm = (self.warmup * total as f64).round() as usize;
        if step < warm {
            return self.lr * step as f64 / warm as f64;
        }
        if !self.linear_decay {
            return self.lr;
        }
        let left = total.saturating_sub(step) as f64;
        self.lr * (left / total.saturating_sub(warm).max(1) as f64).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_warms_up_then_decays_to_zero() {
        let r = Recipe::finetune();
        assert_eq!(r.lr_at(0, 100), 0.0);
        assert!((r.lr_at(5, 100) - 1e-5).abs() < 1e-18);
        assert_eq!(r.lr_at(10, 100), 2e-5);
        assert!((r.lr_at(55, 100) - 1e-5).abs() < 1e-18);
        assert!(r.lr_at(99, 100) > 0.0 && r.lr_at(99, 100) < 1e-6);
        let m = Recipe::mlgym();
        assert_eq!((m.lr_at(0, 10), m.lr_at(9, 10)), (1e-7, 1e-7));
        assert_eq!(Recipe::named("head").map(|r| r.train_encoder), Some(false));
        assert_eq!(Recipe::named("bogus"), None);
    }
}
