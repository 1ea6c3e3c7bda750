//! `mlgym env ...`: the native RL environments.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Replay reference trajectories recorded from gymnax and report mismatches.
    Replay {
        /// Environment name as gymnax spells it (MetaMaze-misc, MountainCarContinuous-v0, Breakout-MinAtar).
        #[arg(long)]
        env: String,
        /// Trajectory files (.jsonl or .jsonl.gz).
        files: Vec<std::path::PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: EnvCommand) -> ExitCode {
    match cmd {
        EnvCommand::Replay { json, .. } => super::output::fail(
            &anyhow::anyhow!("env replay is not implemented yet"),
            json,
        ),
    }
}
