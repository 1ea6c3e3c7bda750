//! The mlgym runtime: the episode loop, agents, editor commands, trajectories, score
//! aggregation and the command-line interface. See `ARCHITECTURE.md` for the map.

pub mod agent;
pub mod cli;
pub mod commands;
pub mod episode;
pub mod gpu_lease;
pub mod gym;
pub mod memory;
pub mod record;
pub mod report;
pub mod runner;
pub mod sweep;
pub mod view;
