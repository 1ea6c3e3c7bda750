//! `mlgym eval`: scores a directory of artefacts exactly as `submit` would.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::common::{task, SandboxOpts};
use super::output::{finish, print_json};
use crate::episode::{artefacts, scoring};
use mlgym_kernels::gpu::GpuDevice;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Task id.
    #[arg(long)]
    pub task: String,
    /// Directory holding the submission artefacts (only the task's declared artefacts
    /// are copied out of it and scored).
    #[arg(long)]
    pub submission: PathBuf,
    /// Seed of the evaluation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub sandbox: SandboxOpts,
    #[command(flatten)]
    pub gpu: super::gpus::GpuOpts,
    /// Print one JSON object: task, seed, metrics and compute (what ran the evaluation:
    /// backend `cpu`, `cuda` or `cuda-emulated` and the device, for the RL tasks; null for
    /// the others), or the error.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalArgs) -> ExitCode {
    let json = args.json;
    finish(json, || {
        let t = task(&args.task)?;
        if !args.submission.is_dir() {
            anyhow::bail!(
                "--submission {} is not a directory",
                args.submission.display()
            );
        }
        let data_root = mlgym_tasks::data::data_root();
        // Held until the evaluation ends.
        let lease = args.gpu.lease_for(t, json, "mlgym eval")?;
        let (metrics, compute) = score_folder(
            t,
            &args.submission,
            &args.sandbox,
            &data_root,
            args.seed,
            lease.devices(),
        )?;
        if args.json {
            print_json(&serde_json::json!({
                "task": t.def.id,
                "seed": args.seed,
                "metrics": metrics,
                "compute": compute,
            }));
        } else {
            for (k, v) in &metrics {
                println!("{k}: {v}");
            }
            if let Some(c) = &compute {
                eprintln!(
                    "mlgym: evaluated with backend {} on {}",
                    c.backend, c.device
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Scores the task's declared artefacts found in `folder` exactly as `submit` would:
/// copied into a fresh scratch directory (removed afterwards, whatever happens), then
/// evaluated there. Shared by `mlgym eval` and `mlgym baseline`.
pub(crate) fn score_folder(
    t: &mlgym_tasks::registry::Task,
    folder: &std::path::Path,
    sandbox: &SandboxOpts,
    data_root: &std::path::Path,
    seed: u64,
    gpus: &[GpuDevice],
) -> anyhow::Result<(
    mlgym_tasks::Metrics,
    Option<mlgym_tasks::evaluator::ComputeInfo>,
)> {
    let agent_code = mlgym_tasks::AgentCodeConfig {
        mode: sandbox.mode()?,
        python: sandbox.python()?,
    };
    let work = tempfile_dir()?;
    let scored = (|| {
        let sub = work.join("submission");
        std::fs::create_dir_all(&sub)?;
        artefacts::collect(folder, &t.def.submission, &sub, scoring::ARTEFACT_LIMIT)
            .map_err(|e| anyhow::anyhow!("{e} in {}", folder.display()))?;
        Ok(scoring::evaluate_dir(
            t,
            &sub,
            &work,
            data_root,
            seed,
            &agent_code,
            gpus,
        )?)
    })();
    let _ = std::fs::remove_dir_all(&work);
    scored
}

/// A fresh private working directory for one evaluation.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let base = std::env::temp_dir().join(format!(
        "mlgym-eval-{}-{}",
        std::process::id(),
        crate::record::now().to_bits()
    ));
    std::fs::create_dir_all(&base)?;
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755))?;
    Ok(base)
}
