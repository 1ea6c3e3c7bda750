//! The contract between the runtime and a task's native evaluator and baseline.
//!
//! The runtime copies only the declared submission artefacts into a fresh directory and
//! calls [`Evaluator::evaluate`] on it. Evaluators read answers and opponents from places
//! no sandbox can see, and run agent code (strategies, heuristics) only through
//! [`crate::agent_code`], in a fresh sandbox of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mlgym_sandbox::ModeRequest;

use crate::definition::TaskDef;

/// Metric name → value, in a stable order.
pub type Metrics = BTreeMap<String, f64>;

/// How agent code is run during evaluation.
#[derive(Clone, Debug)]
pub struct AgentCodeConfig {
    /// Sandbox mode to request.
    pub mode: ModeRequest,
    /// Python interpreter (resolved, with the read-only paths it needs).
    pub python: crate::python::PythonEnv,
}

/// Everything an evaluation needs.
#[derive(Clone, Copy, Debug)]
pub struct EvalContext<'a> {
    /// The task.
    pub task: &'a TaskDef,
    /// A fresh directory holding only the declared submission artefacts.
    pub submission_dir: &'a Path,
    /// A fresh, empty directory for the evaluator's own temporary files.
    pub scratch_dir: &'a Path,
    /// The data root (`$MLGYM_DATA`): datasets with their hidden answers.
    pub data_root: &'a Path,
    /// Seed of all randomness in the evaluation.
    pub seed: u64,
    /// How to run agent code.
    pub agent_code: &'a AgentCodeConfig,
}

/// Why an evaluation produced no score. The runtime maps these to MLGym's exit statuses.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A declared artefact is missing (`submission_not_found`).
    #[error("submission not found: {0}")]
    SubmissionNotFound(String),
    /// The artefact exists but is unusable: wrong format, bad move, crash, timeout...
    /// (`evaluation_format_error`). The message names the file, row, round or value.
    #[error("{0}")]
    Format(String),
    /// The task's data is not staged on this machine.
    #[error("data not staged: {0}")]
    DataMissing(String),
    /// The sandbox for agent code could not be set up.
    #[error("sandbox: {0}")]
    Sandbox(#[from] mlgym_sandbox::SandboxError),
    /// An I/O problem on our side.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// Anything else (a bug or an unexpected state); the message says what.
    #[error("{0}")]
    Internal(String),
}

impl EvalError {
    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        EvalError::Io {
            context: context.into(),
            source,
        }
    }
}

/// What computed a score or a baseline, when a task can use a leased GPU (the RL tasks'
/// environments); recorded with the score.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ComputeInfo {
    /// `cpu`, `cuda` or `cuda-emulated` (the CUDA code compiled for the CPU, tests only).
    pub backend: String,
    /// The device, as the backend describes it.
    pub device: String,
}

/// A task's scorer.
pub trait Evaluator: Send + Sync {
    /// Scores the submission in `ctx.submission_dir`. Same inputs and seed ⇒ same
    /// metrics, bit for bit on CPU.
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError>;

    /// [`Evaluator::evaluate`] for a run that leased `gpus` (empty: none). Evaluators that
    /// can use a GPU override it and say what they ran on; the others ignore `gpus` and
    /// answer `None`.
    fn evaluate_on(
        &self,
        ctx: &EvalContext<'_>,
        gpus: &[mlgym_kernels::gpu::GpuDevice],
    ) -> Result<(Metrics, Option<ComputeInfo>), EvalError> {
        let _ = gpus;
        Ok((self.evaluate(ctx)?, None))
    }
}

/// What a baseline needs.
#[derive(Clone, Copy)]
pub struct BaselineContext<'a> {
    /// The task.
    pub task: &'a TaskDef,
    /// Where to write the submission artefacts (created, empty).
    pub out_dir: &'a Path,
    /// The data root.
    pub data_root: &'a Path,
    /// Seed of all randomness.
    pub seed: u64,
    /// Run a reduced version (for tests).
    pub quick: bool,
    /// Progress lines for the user (stderr).
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// A task's native reference baseline.
pub trait Baseline: Send + Sync {
    /// Produces submission artefacts in `ctx.out_dir`.
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError>;

    /// [`Baseline::run`] for a run that leased `gpus` (empty: none); as
    /// [`Evaluator::evaluate_on`].
    fn run_on(
        &self,
        ctx: &BaselineContext<'_>,
        gpus: &[mlgym_kernels::gpu::GpuDevice],
    ) -> Result<Option<ComputeInfo>, EvalError> {
        let _ = gpus;
        self.run(ctx).map(|()| None)
    }
}

/// A baseline that submits starter files unchanged (MLGym's baselines of the
/// game-theory and 3-SAT tasks are their starter code).
pub struct StarterFilesBaseline {
    /// Files to copy: (path in the submission, content).
    pub files: Vec<(PathBuf, &'static [u8])>,
}

impl Baseline for StarterFilesBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        for (p, bytes) in &self.files {
            let dst = ctx.out_dir.join(p);
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| EvalError::io(format!("creating {}", parent.display()), e))?;
            }
            std::fs::write(&dst, bytes)
                .map_err(|e| EvalError::io(format!("writing {}", dst.display()), e))?;
        }
        Ok(())
    }
}
