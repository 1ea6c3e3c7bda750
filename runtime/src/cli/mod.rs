//! The `mlgym` command line: one module per subcommand, each with its own clap `Args`
//! and a `run` function. Errors become one sentence on stderr (and `{"error": ...}` on
//! stdout when `--json` was asked for) with a non-zero exit status.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod baseline;
pub mod common;
pub mod config;
pub mod data;
pub mod data_pretrained;
pub mod env;
pub mod eval;
pub mod export;
pub mod gpus;
pub mod output;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod serve;
pub mod sweep;
pub mod tasks;
pub mod view;

/// mlgym: a native runtime and benchmark for AI-research agents.
///
/// An agent (an LLM, a replayed trajectory, a baseline or you) works on an ML research
/// task in a sandboxed workspace; the runtime scores its submission with a native,
/// seeded, tamper-proof evaluator and aggregates scores into performance profiles and AUP.
#[derive(Debug, Parser)]
#[command(name = "mlgym", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one episode of a task with an agent (baseline, replay:FILE, human, ...).
    Run(run::RunArgs),
    /// Score a directory of submission artefacts exactly as `submit` would.
    Eval(eval::EvalArgs),
    /// Run a task's native baseline and score it.
    Baseline(baseline::BaselineArgs),
    /// List the tasks, or show one.
    Tasks(tasks::TasksArgs),
    /// Inspect and use the sandbox that confines agent code.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Work with the native RL environments (replay reference trajectories).
    #[command(subcommand)]
    Env(env::EnvCommand),
    /// Stage datasets under the data root ($MLGYM_DATA) and list what is staged.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Aggregate runs into scores, performance profiles, AUP and ranks.
    Report(report::ReportArgs),
    /// Render a trajectory as one self-contained HTML page.
    View(view::ViewArgs),
    /// Show the LLM-agent settings and where each value comes from.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Serve the Gym API (reset/step/close) over HTTP for training agents.
    Serve(serve::ServeArgs),
    /// Turn trajectories into chat fine-tuning data (JSON lines).
    Export(export::ExportArgs),
    /// List the GPUs of this host and who leases them (`mlgym run --gpus` leases them).
    Gpus(gpus::GpusArgs),
    /// Run a grid of episodes (agents x tasks x runs) locally or on Slurm; resumable.
    Sweep(sweep::SweepArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Baseline(args) => baseline::run(args),
        Command::Tasks(args) => tasks::run(args),
        Command::Sandbox(cmd) => sandbox::run(cmd),
        Command::Env(cmd) => env::run(cmd),
        Command::Data(cmd) => data::run(cmd),
        Command::Report(args) => report::run(args),
        Command::View(args) => view::run(args),
        Command::Config(cmd) => config::run(cmd),
        Command::Serve(args) => serve::run(args),
        Command::Export(args) => export::run(args),
        Command::Gpus(args) => gpus::run(args),
        Command::Sweep(args) => sweep::run(args),
    }
}
