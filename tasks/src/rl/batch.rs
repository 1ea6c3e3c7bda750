//! [`BatchEnv`]: the one interface through which the evaluator and the PPO trainer step N
//! environments, whatever steps them (the CPU's `VecEnv`, or the CUDA kernels of
//! `mlgym_kernels::cuda_envs` behind `rl::backend`), and [`EnvMaker`], which builds them.
//!
//! Semantics are `VecEnv`'s: gymnax's `env.step` with auto-reset, environment `i` drawing
//! from `Rng::stream(seed, i)`, the real transition's reward and flags and the post-reset
//! observation. Actions are given as the policy's samples (`policy::dist::sample`): the
//! action index as a float for categorical heads, the raw value for MountainCar's Gaussian
//! head; each implementation converts them exactly as `PolicyAction::from_sample` does.
//!
//! This file is shared with the agent's starter crate, so it uses only `std` and the
//! crate's `rl::env`, `rl::vec_env` and `rl::policy::dist`.

use crate::rl::env::{Breakout, EnvId, MetaMaze, MountainCar};
use crate::rl::vec_env::VecEnv;

/// Why a batch could not be built or stepped. The message says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchEnvError {
    /// Not one sample per environment.
    ActionCount {
        /// Number of environments.
        expected: usize,
        /// Number of samples given.
        got: usize,
    },
    /// The device stepping the environments failed (the GPU backend); the text names the
    /// device and the remedy.
    Backend(String),
}

impl std::fmt::Display for BatchEnvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchEnvError::ActionCount { expected, got } => write!(
                f,
                "got {got} actions for {expected} environments; pass exactly one per env"
            ),
            BatchEnvError::Backend(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BatchEnvError {}

/// N environments stepped together (see the module docs).
pub trait BatchEnv {
    /// Which environment this is.
    fn env_id(&self) -> EnvId;
    /// Number of environments.
    fn num_envs(&self) -> usize;
    /// All observations, `[num_envs, obs_dim]` row-major (post-reset where an env ended).
    fn obs(&self) -> &[f32];
    /// The last step's rewards.
    fn rewards(&self) -> &[f32];
    /// The last step's natural terminations.
    fn terminated(&self) -> &[bool];
    /// The last step's time-limit truncations.
    fn truncated(&self) -> &[bool];
    /// Steps every environment with its policy sample, then auto-resets those that ended.
    fn step_samples(&mut self, samples: &[f32]) -> Result<(), BatchEnvError>;

    /// Whether environment `i` ended (and was reset) in the last step.
    fn done(&self, i: usize) -> bool {
        self.terminated()[i] || self.truncated()[i]
    }
}

/// Builds the batches a trainer or an evaluator steps: `n` environments of `id` with
/// gymnax's default parameters, reset from `seed`.
pub trait EnvMaker: Sync {
    /// A new batch.
    fn make(&self, id: EnvId, n: usize, seed: u64) -> Result<Box<dyn BatchEnv>, BatchEnvError>;
}

/// The CPU's vectorised environments (`VecEnv`): the default everywhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuEnvs;

impl EnvMaker for CpuEnvs {
    fn make(&self, id: EnvId, n: usize, seed: u64) -> Result<Box<dyn BatchEnv>, BatchEnvError> {
        Ok(match id {
            EnvId::MetaMaze => Box::new(VecEnv::<MetaMaze>::new(Default::default(), n, seed)),
            EnvId::MountainCarContinuous => {
                Box::new(VecEnv::<MountainCar>::new(Default::default(), n, seed))
            }
            EnvId::Breakout => Box::new(VecEnv::<Breakout>::new(Default::default(), n, seed)),
        })
    }
}
