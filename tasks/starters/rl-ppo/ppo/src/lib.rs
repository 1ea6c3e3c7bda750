//! MLGym's PPO for the RL tasks, with the task's environment, as a dependency-free crate.
//!
//! * `rl::env`: the environment, exactly as the evaluator runs it (gymnax rules).
//! * `rl::nn`: matrix kernels, MLP forward/backward passes, Adam with gradient clipping.
//! * `rl::policy`: the actor-critic network (tensor names and shapes of the checkpoints)
//!   and the action distributions.
//! * `rl::ppo`: MLGym's PPO: rollout buffer, GAE, loss, learning-rate schedule, loop.
//! * [`toml_lite`] reads `config.toml`; [`safetensors_lite`] writes checkpoints.
//!
//! `rng.rs` and the files under `rl/env/`, `rl/nn/`, `rl/ppo/`, `rl/soa.rs`, `rl/batch.rs`,
//! `rl/policy/dist.rs` and `rl/policy/net.rs` are the evaluator's own source files (their
//! unit tests run with `cargo test`): change them here as you like, the evaluator keeps
//! its copy.

pub mod rl;
pub mod rng;
pub mod safetensors_lite;
pub mod toml_lite;
