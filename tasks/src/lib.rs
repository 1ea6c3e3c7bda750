//! Task definitions, starter files, native evaluators, reference baselines and RL
//! environments. See `ARCHITECTURE.md` for the map.

pub mod rl;
pub mod rng;
