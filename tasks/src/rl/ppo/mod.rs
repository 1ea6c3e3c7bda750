//! MLGym's PPO (from gymnax-blines) as a native trainer: the reference baselines of the
//! RL tasks and the trainer in the agent's starter crate.
//!
//! [`config`] holds MLGym's hyperparameters; [`buffer`], [`gae`], [`loss`] and
//! [`schedule`] are the algorithm's parts; [`train`] is the loop. These files use only
//! `std` and the crate's own modules, so they are copied unchanged into the starter crate.

pub mod buffer;
pub mod config;
pub mod gae;
pub mod loss;
pub mod schedule;
pub mod train;

pub use config::PpoConfig;
pub use train::{
    train_env, train_env_on, train_models, train_models_on, update_once, CurvePoint, Snapshot,
    TrainOptions, TrainResult,
};
