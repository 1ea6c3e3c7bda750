//! `mlgym baseline --task ID`: runs the task's native baseline and scores it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::common::{task, SandboxOpts};
use super::output::{finish, print_json};

/// Shown after the options of `mlgym baseline --help`: the recipe switches of baselines.
const RECIPES: &str = "\
Recipes (environment variables):
  MLGYM_LM_BASELINE=quick|cpu|mlgym      languageModelingFineWeb (docs/lm-submission.md)
  MLGYM_NLI_BASELINE=finetune|mlgym|head|quick
                                         naturalLanguageInferenceMNLI (docs/pretrained-tasks.md):
      finetune (default)  every BERT parameter, AdamW lr 2e-5, 10% warm-up + linear decay,
                          weight decay 0.01, clip 1.0, dropout 0.1, 1 epoch, batch 32, 128 tokens
      mlgym               MLGym's baseline.py: every parameter, 1 epoch at lr 1e-7, AdamW
                          (eps 1e-6, no weight decay), batch 32, 128 tokens (MLGym: 52.51)
      head                pooler + classifier only on the frozen encoder, lr 1e-3
      quick               as finetune on 64 pairs, batch 8, 64 tokens (also --quick)";

#[derive(Debug, Args)]
#[command(after_help = RECIPES)]
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
    #[command(flatten)]
    pub gpu: super::gpus::GpuOpts,
    /// Print one JSON object: task, metrics, submission, and what trained and evaluated it
    /// (`baseline_compute`, `compute`: backend and device, for the RL tasks; null for the
    /// others).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BaselineArgs) -> ExitCode {
    let json = args.json;
    finish(json, || {
        let t = task(&args.task)?;
        let Some(b) = &t.hooks.baseline else {
            let with: Vec<&str> = mlgym_tasks::registry::all()?
                .iter()
                .filter(|t| t.hooks.baseline.is_some())
                .map(|t| t.def.id.as_str())
                .collect();
            anyhow::bail!(
                "task {} has no native baseline; tasks with one: {}",
                t.def.id,
                with.join(", ")
            );
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
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create --out {}", out.display()))?;
        let data_root = mlgym_tasks::data::data_root();
        // Held until the baseline and its evaluation end.
        let lease = args.gpu.lease_for(t, json, "mlgym baseline")?;
        let progress = |line: &str| eprintln!("baseline: {line}");
        let ctx = mlgym_tasks::BaselineContext {
            task: &t.def,
            out_dir: &out,
            data_root: &data_root,
            seed: args.seed,
            quick: args.quick,
            progress: &progress,
        };
        let baseline_compute = b.run_on(&ctx, lease.devices())?;
        let (metrics, compute) = super::eval::score_folder(
            t,
            &out,
            &args.sandbox,
            &data_root,
            args.seed,
            lease.devices(),
        )?;
        let out = std::fs::canonicalize(&out).unwrap_or(out);
        if args.json {
            print_json(&serde_json::json!({
                "task": t.def.id,
                "metrics": metrics,
                "submission": out,
                "baseline_compute": baseline_compute,
                "compute": compute,
            }));
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
