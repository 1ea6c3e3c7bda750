//! Reinforcement-learning environments (gymnax-exact), policies and evaluation.
//!
//! The three environments of MLGym's RL tasks are re-implemented natively so that a
//! trainer or an evaluator can step thousands of them per millisecond without JAX:
//!
//! * [`env`]: one module per environment (`MetaMaze-misc`, `MountainCarContinuous-v0`,
//!   `Breakout-MinAtar`): default parameters, state, reset, step and observation, with the
//!   rules of gymnax 1.0.1 (separate `terminated` and `truncated`).
//! * [`vec_env`]: N environments stepped at once, state stored as a structure of arrays,
//!   auto-reset like gymnax's `env.step`, one random stream per environment so results do
//!   not depend on the number of threads.
//! * [`batch`]: [`BatchEnv`], the interface the evaluator and PPO step environments
//!   through; [`backend`]: [`EnvBackend`], the CPU's `VecEnv` or the CUDA kernels of
//!   `mlgym_kernels::cuda_envs` on a leased GPU (same draws, same results).
//! * [`replay`]: checks the environments against trajectories recorded from gymnax.
//! * [`policy`]: MLGym's actor-critic networks, the submission format (`config.toml` and
//!   safetensors checkpoints) and the action distributions; [`nn`]: the matrix kernels,
//!   MLP passes and optimiser behind them.
//! * [`evaluate`]: MLGym's evaluation protocol; [`ppo`]: MLGym's PPO as a native trainer;
//!   [`task`]: the three tasks' evaluator and baseline hooks.
//!
//! Randomness always comes from [`crate::rng::Rng`]; every random draw can also be given
//! from outside (its outcome), which is how recorded trajectories are replayed exactly.

pub mod backend;
pub mod batch;
pub mod env;
pub mod evaluate;
pub mod nn;
pub mod policy;
pub mod ppo;
pub mod replay;
mod soa;
pub mod task;
pub mod vec_env;

pub use backend::{BackendError, EnvBackend};
pub use batch::{BatchEnv, BatchEnvError, CpuEnvs, EnvMaker};
pub use env::{
    ActionSpace, Breakout, BreakoutParams, BreakoutState, Env, EnvId, MetaMaze, MetaMazeParams,
    MetaMazeState, MountainCar, MountainCarParams, MountainCarState, Transition, UnknownEnvError,
};
pub use task::hooks;
pub use vec_env::{Actions, AnyVecEnv, Parallelism, SoaEnv, VecEnv, VecEnvError};
