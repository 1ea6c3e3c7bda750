//! `mlgym report RUNS...`: scores, performance profiles, AUP and ranks over runs.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories, or folders of run directories.
    pub runs: Vec<std::path::PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ReportArgs) -> ExitCode {
    super::output::fail(&anyhow::anyhow!("report is not implemented yet"), args.json)
}
