//! `mlgym baseline --task ID`: runs the task's native baseline and scores it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::common::{task, SandboxOpts};
use super::output::{finish, print_json};
use crate::episode::scoring;

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Task id.
    #[arg(long)]
    pub task: String,
    /// Directory for the submission the baseline writes (default: a new directory under
    /// runs/baselines).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the baseline and its evaluation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A reduced run (tests, smoke checks).
    #[arg(long)]
    pub quick: bool,
    #[command(flatten)]
    pub sandbox: SandboxOpts,
    /// Print one JSON object: task, metrics, submission.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BaselineArgs) -> ExitCode {
    let json = args.json;
    finish(json, || {
        let t = task(&args.task)?;
        let Some(b) = &t.hooks.baseline else {
            anyhow::bail!("task {} has no native baseline", t.def.id);
        };
        let out = match &args.out {
            Some(o) => o.clone(),
            None => PathBuf::from("runs/baselines").join(format!(
                "{}-seed{}-{}",
                t.def.id,
                args.seed,
                record_stamp()
            )),
        };
        std::fs::create_dir_all(&out)?;
        let data_root = mlgym_tasks::data::data_root();
        let progress = |line: &str| eprintln!("baseline: {line}");
        let ctx = mlgym_tasks::BaselineContext {
            task: &t.def,
            out_dir: &out,
            data_root: &data_root,
            seed: args.seed,
            quick: args.quick,
            progress: &progress,
        };
        b.run(&ctx)?;
        let work = super::eval::tempfile_dir()?;
        let sub = work.join("submission");
        std::fs::create_dir_all(&sub)?;
        crate::episode::artefacts::collect(&out, &t.def.submission, &sub, scoring::ARTEFACT_LIMIT)?;
        let agent_code = mlgym_tasks::AgentCodeConfig {
            mode: args.sandbox.mode()?,
            python: args.sandbox.python()?,
        };
        let result = scoring::evaluate_dir(t, &sub, &work, &data_root, args.seed, &agent_code);
        let _ = std::fs::remove_dir_all(&work);
        let metrics = result?;
        let out = std::fs::canonicalize(&out).unwrap_or(out);
        if args.json {
            print_json(
                &serde_json::json!({ "task": t.def.id, "metrics": metrics, "submission": out }),
            );
        } else {
            println!("submission: {}", out.display());
            for (k, v) in &metrics {
                println!("{k}: {v}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn record_stamp() -> u64 {
    crate::record::now() as u64
}
