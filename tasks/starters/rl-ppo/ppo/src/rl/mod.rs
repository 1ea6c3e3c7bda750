//! The environment, the network and PPO (see the crate docs).

pub mod batch;
pub mod env;
pub mod nn;
pub mod policy;
pub mod ppo;
pub(crate) mod soa;
pub mod vec_env;
