//! `mlgym sandbox check|exec`.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Report what this host supports and which mode would be used.
    Check {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: SandboxCommand) -> ExitCode {
    match cmd {
        SandboxCommand::Check { json } => {
            super::output::fail(&anyhow::anyhow!("not implemented yet"), json)
        }
    }
}
