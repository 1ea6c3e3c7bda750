//! The three RL tasks' hooks: the native evaluator (MLGym's protocol on the submitted
//! checkpoints, no agent code runs) and the PPO baseline (MLGym's hyperparameters, five
//! models, written as a submission).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::definition::TaskDef;
use mlgym_kernels::gpu::GpuDevice;

use crate::evaluator::{
    Baseline, BaselineContext, ComputeInfo, EvalContext, EvalError, Evaluator, Metrics,
};
use crate::registry::{Hooks, StarterFile};
use crate::rl::backend::EnvBackend;
use crate::rl::env::EnvId;
use crate::rl::evaluate::{evaluate_policy_on, Protocol};
use crate::rl::policy::checkpoint::{write_checkpoint, CHECKPOINT_DIR, NUM_CHECKPOINTS};
use crate::rl::policy::config::CONFIG_FILE;
use crate::rl::policy::{load_submission, PolicyError, RayonPar};
use crate::rl::ppo::{train_models_on, PpoConfig, TrainResult};

/// The primary metric.
pub const REWARD_MEAN: &str = "Reward Mean";
/// The population standard deviation of the returns.
pub const REWARD_STD: &str = "Reward Std";

/// The environment of an RL task id, if it is one.
pub fn env_for_task(id: &str) -> Option<EnvId> {
    match id {
        "rlMetaMazeMisc" => Some(EnvId::MetaMaze),
        "rlMountainCarContinuous" => Some(EnvId::MountainCarContinuous),
        "rlBreakoutMinAtar" => Some(EnvId::Breakout),
        _ => None,
    }
}

/// The hooks of the RL tasks (`None` for other ids).
pub fn hooks(def: &TaskDef, _starter: &[StarterFile]) -> Option<Hooks> {
    let env = env_for_task(&def.id)?;
    Some(Hooks {
        evaluator: Box::new(RlEvaluator { env }),
        baseline: Some(Box::new(PpoBaseline { env })),
        data: None,
    })
}

impl From<PolicyError> for EvalError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::NotFound(m) => EvalError::SubmissionNotFound(m),
            e @ PolicyError::Invalid { .. } => EvalError::Format(e.to_string()),
        }
    }
}

/// Scores a submission with MLGym's protocol (see [`crate::rl::evaluate`]).
#[derive(Clone, Copy, Debug)]
pub struct RlEvaluator {
    /// The task's environment.
    pub env: EnvId,
}

impl RlEvaluator {
    /// Scores `ctx`'s submission with the environments stepped by `backend`.
    pub fn evaluate_with(
        &self,
        ctx: &EvalContext<'_>,
        backend: &EnvBackend,
    ) -> Result<Metrics, EvalError> {
        let policy = load_submission(ctx.submission_dir, self.env, NUM_CHECKPOINTS)?;
        let protocol = Protocol::mlgym(self.env);
        let scores = evaluate_policy_on(backend, self.env, &policy, ctx.seed, &protocol)
            .map_err(EvalError::Format)?;
        let mut m = Metrics::new();
        m.insert(REWARD_MEAN.into(), scores.mean);
        m.insert(REWARD_STD.into(), scores.std);
        Ok(m)
    }
}

/// The backend for a run's leased `gpus`; a GPU whose kernels cannot run is an error.
fn backend_for(gpus: &[GpuDevice]) -> Result<EnvBackend, EvalError> {
    EnvBackend::for_gpus(gpus).map_err(|e| EvalError::Internal(e.to_string()))
}

impl Evaluator for RlEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        self.evaluate_with(ctx, &EnvBackend::Cpu)
    }

    /// Steps the environments on the first leased GPU (CUDA kernels), on the CPU without
    /// one; the scores are the same.
    fn evaluate_on(
        &self,
        ctx: &EvalContext<'_>,
        gpus: &[GpuDevice],
    ) -> Result<(Metrics, Option<ComputeInfo>), EvalError> {
        let backend = backend_for(gpus)?;
        let m = self.evaluate_with(ctx, &backend)?;
        Ok((m, Some(backend.info())))
    }
}

/// MLGym's PPO baseline: five models trained with the task's `config.yaml` settings.
#[derive(Clone, Copy, Debug)]
pub struct PpoBaseline {
    /// The task's environment.
    pub env: EnvId,
}

/// The reduced settings of `--quick`: a narrow network and two updates on few
/// environments (a valid submission in seconds, not a trained policy).
pub fn quick_config(env: EnvId) -> PpoConfig {
    let mut c = PpoConfig::mlgym(env);
    c.num_train_envs = 16;
    c.n_steps = 16;
    c.n_minibatch = 2;
    c.num_train_steps = (c.num_train_envs * (c.n_steps + 1) * 2) as u64;
    c.num_hidden_units = 32;
    c
}

impl PpoBaseline {
    /// Trains and writes the baseline with the environments stepped by `backend`.
    pub fn run_with(
        &self,
        ctx: &BaselineContext<'_>,
        backend: &EnvBackend,
    ) -> Result<(), EvalError> {
        let cfg = if ctx.quick {
            quick_config(self.env)
        } else {
            PpoConfig::mlgym(self.env)
        };
        let (seed, out, progress) = (ctx.seed, ctx.out_dir, ctx.progress);
        write_baseline_models_on(
            backend,
            self.env,
            &cfg,
            seed,
            out,
            NUM_CHECKPOINTS,
            progress,
        )
    }
}

impl Baseline for PpoBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        self.run_with(ctx, &EnvBackend::Cpu)
    }

    /// Trains with the environments on the first leased GPU (CUDA kernels), on the CPU
    /// without one; the trained networks are the same.
    fn run_on(
        &self,
        ctx: &BaselineContext<'_>,
        gpus: &[GpuDevice],
    ) -> Result<Option<ComputeInfo>, EvalError> {
        let backend = backend_for(gpus)?;
        self.run_with(ctx, &backend)?;
        Ok(Some(backend.info()))
    }
}

/// Trains five models with `cfg` and writes a complete submission to `out_dir`:
/// `config.toml`, `checkpoints/model-<i>.safetensors` and, outside the submission,
/// `training_log.csv` (the learning curves).
pub fn write_baseline(
    env: EnvId,
    cfg: &PpoConfig,
    seed: u64,
    out_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EvalError> {
    write_baseline_models(env, cfg, seed, out_dir, NUM_CHECKPOINTS, progress)
}

/// [`write_baseline`] with `models` models instead of the task's five (for hand-run
/// training experiments; a submission the evaluator scores has exactly five).
pub fn write_baseline_models(
    env: EnvId,
    cfg: &PpoConfig,
    seed: u64,
    out_dir: &Path,
    models: usize,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EvalError> {
    write_baseline_models_on(&EnvBackend::Cpu, env, cfg, seed, out_dir, models, progress)
}

/// [`write_baseline_models`] with the environments stepped by `backend`.
pub fn write_baseline_models_on(
    backend: &EnvBackend,
    env: EnvId,
    cfg: &PpoConfig,
    seed: u64,
    out_dir: &Path,
    models: usize,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EvalError> {
    let io =
        |what: &Path, e: std::io::Error| EvalError::io(format!("writing {}", what.display()), e);
    let cfg_path = out_dir.join(CONFIG_FILE);
    std::fs::write(&cfg_path, cfg.to_toml(env)).map_err(|e| io(&cfg_path, e))?;
    let ckpt_dir = out_dir.join(CHECKPOINT_DIR);
    std::fs::create_dir_all(&ckpt_dir).map_err(|e| io(&ckpt_dir, e))?;
    progress(&format!(
        "PPO on {env}: {models} models × {} env steps, {} envs, network {}×{}, environments on {}",
        cfg.num_train_steps,
        cfg.num_train_envs,
        cfg.num_hidden_layers,
        cfg.num_hidden_units,
        backend.info().device
    ));
    let mut save =
        |i: usize, spec: &crate::rl::policy::NetSpec, r: &TrainResult| -> Result<(), String> {
            let mut meta = BTreeMap::new();
            meta.insert("format".to_string(), "mlgym-rl-policy".to_string());
            meta.insert("env".to_string(), env.name().to_string());
            meta.insert("model".to_string(), i.to_string());
            meta.insert("seed".to_string(), seed.to_string());
            meta.insert("env_steps".to_string(), r.env_steps.to_string());
            let path = ckpt_dir.join(format!("model-{i}.safetensors"));
            write_checkpoint(&path, spec, &r.params, &meta).map_err(|e| e.to_string())?;
            progress(&format!(
                "model {}/{models} done: {} env steps in {:.1} s ({:.0} steps/s), saved {}",
                i + 1,
                r.env_steps,
                r.seconds,
                r.env_steps as f64 / r.seconds.max(1e-9),
                path.display()
            ));
            Ok(())
        };
    let which: Vec<usize> = (0..models).collect();
    let results = train_models_on(
        backend, env, cfg, seed, &which, models, &RayonPar, progress, &mut save,
    )
    .map_err(EvalError::Internal)?;
    let log_path = out_dir.join("training_log.csv");
    std::fs::write(&log_path, curves_csv(&results)).map_err(|e| io(&log_path, e))?;
    Ok(())
}

/// The learning curves as CSV: `model,env_steps,mean_return,episodes,value_loss,actor_loss,entropy`.
pub fn curves_csv(results: &[TrainResult]) -> String {
    let mut s =
        String::from("model,env_steps,mean_return,episodes,value_loss,actor_loss,entropy\n");
    for (i, r) in results.iter().enumerate() {
        for p in &r.curve {
            let _ = writeln!(
                s,
                "{i},{},{},{},{},{},{}",
                p.env_steps, p.mean_return, p.episodes, p.loss.value, p.loss.actor, p.loss.entropy
            );
        }
    }
    s
}
