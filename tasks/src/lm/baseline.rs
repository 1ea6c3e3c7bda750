//! The task's [`Baseline`]: [`super::train`] on the staged training shards, MLGym's recipe
//! on a GPU, the small CPU recipe otherwise.
//!
//! The GPU is the first one the run leased ([`Baseline::run_on`]; [`Baseline::run`],
//! which has no lease, takes the first GPU the driver reports). Candle reaches it only in
//! a build with the `cuda` feature; a build without it trains on the CPU and says so in
//! its first progress line, so a GPU user is never silently on the CPU.

use candle_core::Device;
use mlgym_kernels::gpu::GpuDevice;

use super::train::{train, Recipe};
use super::weights;
use crate::datasets::fineweb;
use crate::evaluator::{Baseline, BaselineContext, ComputeInfo, EvalError};

/// Environment variable choosing the baseline's recipe: `mlgym`, `cpu` or `quick`.
pub const RECIPE_ENV: &str = "MLGYM_LM_BASELINE";

/// Whether this build can train on a GPU (the `cuda` feature of mlgym-tasks).
pub const CUDA_BUILD: bool = cfg!(feature = "cuda");

/// What [`training_device`] chose.
#[derive(Debug)]
pub struct DeviceChoice {
    /// Where training runs.
    pub device: Device,
    /// For the run's records: backend `cuda` or `cpu`, and the device.
    pub info: ComputeInfo,
    /// A line for the progress output when a GPU is there but unused, with the fix.
    pub note: Option<String>,
}

/// The training device for a run that may use `gpus` (the first is taken), in a build
/// with (`cuda_build`) or without candle's CUDA backend. A GPU that candle cannot open in
/// a CUDA build is an error, never a silent fall back to the CPU.
pub fn training_device(gpus: &[GpuDevice], cuda_build: bool) -> Result<DeviceChoice, EvalError> {
    let cpu = ComputeInfo {
        backend: "cpu".into(),
        device: "cpu".into(),
    };
    let Some(gpu) = gpus.first() else {
        return Ok(DeviceChoice {
            device: Device::Cpu,
            info: cpu,
            note: None,
        });
    };
    if !cuda_build {
        return Ok(DeviceChoice {
            device: Device::Cpu,
            info: cpu,
            note: Some(format!(
                "training on the CPU, not {}: this build lacks the `cuda` feature (rebuild \
                 with `cargo build --release -p mlgym-runtime --features cuda`, which needs \
                 the CUDA toolkit)",
                gpu.label()
            )),
        });
    }
    let device = Device::new_cuda(gpu.index as usize).map_err(|e| {
        EvalError::Internal(format!(
            "candle cannot open {} for training: {e} (check the driver with `mlgym gpus`, \
             or run with --gpus none to train on the CPU)",
            gpu.label()
        ))
    })?;
    Ok(DeviceChoice {
        device,
        info: ComputeInfo {
            backend: "cuda".into(),
            device: gpu.label(),
        },
        note: None,
    })
}

/// The native baseline of languageModelingFineWeb.
#[derive(Debug, Default)]
pub struct LmBaseline;

impl Baseline for LmBaseline {
    /// Without a lease: the first GPU the driver reports, if any.
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        let gpus = mlgym_kernels::gpu::discover_cuda().devices;
        self.run_on(ctx, &gpus[..gpus.len().min(1)]).map(|_| ())
    }

    /// Trains on the first of `gpus` (bf16) when this is a `cuda` build, on the CPU (f32)
    /// otherwise; the records say which.
    fn run_on(
        &self,
        ctx: &BaselineContext<'_>,
        gpus: &[GpuDevice],
    ) -> Result<Option<ComputeInfo>, EvalError> {
        let shards = fineweb::train_shards(ctx.data_root)
            .map_err(|e| EvalError::DataMissing(format!("{e}; {}", fineweb::how_to_stage())))?;
        let choice = training_device(gpus, CUDA_BUILD)?;
        if let Some(note) = &choice.note {
            (ctx.progress)(note);
        }
        let device = choice.device;
        let chosen = std::env::var(RECIPE_ENV).ok().filter(|v| !v.is_empty());
        let recipe = match chosen.as_deref() {
            Some(name) => Recipe::named(name).ok_or_else(|| {
                EvalError::Internal(format!("{RECIPE_ENV}=`{name}`: use mlgym, cpu or quick"))
            })?,
            None if ctx.quick => Recipe::quick(),
            None if device.is_cuda() => Recipe::mlgym(),
            None => {
                let why = if choice.note.is_some() {
                    "no GPU in this build"
                } else {
                    "no GPU"
                };
                (ctx.progress)(&format!("{why}: training the small CPU recipe (set {RECIPE_ENV}=mlgym for MLGym's, which needs days on a CPU)"));
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
        Ok(Some(choice.info))
    }
}
