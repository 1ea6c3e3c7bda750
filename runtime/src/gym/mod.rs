//! The Gym API for training agents: MLGym's `reset` / `step` → `(observation, reward,
//! done, info)` / `close`, as a library ([`GymEnv`]) and as an HTTP/JSON server for many
//! concurrent episodes ([`server`], `mlgym serve`), plus trajectory export into
//! fine-tuning data ([`export`], `mlgym export`).
//!
//! Layers, bottom up:
//!
//! * [`driver::EpisodeDriver`] owns one [`crate::episode::Episode`] and its records and
//!   advances it one step at a time. `mlgym run`'s agent loop
//!   ([`crate::runner`]) is a loop over it with a [`crate::agent::Model`], so an episode
//!   driven through the Gym API is recorded exactly like a `mlgym run` episode
//!   (`trajectory.jsonl`, `<task>.traj`, `results.json`, `run.json`).
//! * [`GymEnv`] adds MLGym's observation text (the task prompt and status footer on
//!   `reset`; the observation and footer after each step), `info` and the reward
//!   ([`reward`]: by default 0 until an evaluation, then the primary metric's
//!   sign-corrected improvement over the baseline).
//! * [`server`] serves many `GymEnv`s over HTTP, one thread and one sandbox each.
//!
//! ```no_run
//! # fn demo(cfg: mlgym_runtime::gym::GymConfig) -> Result<(), mlgym_runtime::gym::GymError> {
//! let mut env = mlgym_runtime::gym::GymEnv::new(cfg);
//! let first = env.reset("battleOfSexes", 0)?;
//! println!("{}", first.observation);
//! let t = env.step("validate")?;
//! println!("reward {} done {} scores {:?}", t.reward, t.done, t.info.scores);
//! env.close()?;
//! # Ok(()) }
//! ```

pub mod driver;
pub mod env;
pub mod export;
pub mod reward;
pub mod server;

pub use env::{Closed, GymConfig, GymEnv, GymError, Info, ResetOutput, StepRequest, Transition};
pub use reward::{RewardKind, RewardSpec};
