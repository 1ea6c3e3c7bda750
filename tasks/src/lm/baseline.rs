//! The task's [`Baseline`]: [`super::train`] on the staged training shards, MLGym's recipe
//! on a GPU, the small CPU recipe otherwise.

use candle_core::Device;

use super::train::{train, Recipe};
use super::weights;
use crate::datasets::fineweb;
use crate::evaluator::{Baseline, BaselineContext, EvalError};

/// Environment variable choosing the baseline's recipe: `mlgym`, `cpu` or `quick`.
pub const RECIPE_ENV: &str = "MLGYM_LM_BASELINE";

/// The native baseline of languageModelingFineWeb.
#[derive(Debug, Default)]
pub struct LmBaseline;

impl Baseline for LmBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        let shards = fineweb::train_shards(ctx.data_root)
            .map_err(|e| EvalError::DataMissing(format!("{e}; {}", fineweb::how_to_stage())))?;
        let device = Device::cuda_if_available(0).unwrap_or(Device::Cpu);
        let chosen = std::env::var(RECIPE_ENV).ok().filter(|v| !v.is_empty());
        let recipe = match chosen.as_deref() {
            Some(name) => Recipe::named(name).ok_or_else(|| {
                EvalError::Internal(format!("{RECIPE_ENV}=`{name}`: use mlgym, cpu or quick"))
            })?,
            None if ctx.quick => Recipe::quick(),
            None if device.is_cuda() => Recipe::mlgym(),
            None => {
                (ctx.progress)(&format!("no GPU: training the small CPU recipe (set {RECIPE_ENV}=mlgym for MLGym's, which needs days on a CPU)"));
                Recipe::cpu()
            }
        };
        let (trainer, report) = train(&recipe, &shards, ctx.seed, &device, ctx.progress)?;
        (ctx.progress)(&format!(
            "trained on {} tokens in {:.0} s ({:.0} tokens/s); final loss {:.4}",
            report.tokens,
            report.seconds,
            report.tokens_per_second,
            report.losses.last().copied().unwrap_or(f32::NAN)
        ));
        weights::save(ctx.out_dir, &recipe.model, &trainer.weights())?;
        Ok(())
    }
}
