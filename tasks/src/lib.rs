//! Task definitions, starter files, native evaluators, reference baselines and RL
//! environments. See `ARCHITECTURE.md` for the map.
//!
//! Invariant: nothing here runs agent code outside a sandbox; evaluators run it only
//! through [`agent_code`].

pub mod agent_code;
pub mod captioning;
pub mod data;
pub mod datasets;
pub mod definition;
pub mod evaluator;
pub mod games;
pub mod hooks;
pub mod lm;
pub mod nli;
pub mod python;
pub mod registry;
pub mod rl;
pub mod rng;
pub mod sat;
pub(crate) mod staging;
pub mod tabular;
pub mod text;
pub mod vision;

pub use definition::{Direction, MetricDef, TaskDef};
pub use evaluator::{
    AgentCodeConfig, Baseline, BaselineContext, EvalContext, EvalError, Evaluator, Metrics,
};
pub use registry::{Hooks, StarterFile, Task, TaskData};
