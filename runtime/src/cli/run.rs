//! `mlgym run`: one episode of a task with an agent; `--resume` continues a killed one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::common::{task, SandboxOpts};
use super::output::{finish, print_json};
use crate::episode::EpisodeConfig;
use crate::runner::{self, RunSettings};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Task id (see `mlgym tasks`).
    #[arg(long, required_unless_present = "resume")]
    pub task: Option<String>,
    /// The agent: baseline (the task's native baseline, then submit), human (you, at the
    /// terminal), replay:FILE (the responses of a trajectory.jsonl or .traj[.gz]),
    /// openai:MODEL (any OpenAI-compatible endpoint, key in $OPENAI_API_KEY),
    /// anthropic:MODEL (key in $ANTHROPIC_API_KEY).
    #[arg(long, default_value = "baseline")]
    pub agent: String,
    /// Step budget; the action after the last step is replaced by an autosubmission.
    #[arg(long, default_value_t = 50)]
    pub max_steps: usize,
    /// Seed of every evaluation (same submission + seed = same score). By default a
    /// random seed is drawn and recorded in run.json: the opponents' and environments'
    /// randomness is then unpredictable to the agent, yet reproducible from the record.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Timeout of ordinary commands, in seconds (commands starting Python get the task's
    /// training timeout).
    #[arg(long, default_value_t = 25)]
    pub command_timeout: u64,
    /// Where run directories are created.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Continue the episode recorded in this run directory (after a crash or kill).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxOpts,
    #[command(flatten)]
    pub gpu: super::gpus::GpuOpts,
    #[command(flatten)]
    pub llm: super::config::LlmArgs,
    /// Give the agent MLGym's memory: the `memory_write <text>` / `memory_read <query>`
    /// commands and the footer's memory lines. Embeddings come from the staged
    /// all-MiniLM-L6-v2 (`mlgym data import all-minilm-l6-v2 DIR`); the memory file is
    /// `<run>/memory.json`, out of the agent's reach. `--resume` keeps a run's memory on.
    #[arg(long)]
    pub memory: bool,
    /// Print one JSON object: run_dir, exit_status, scores.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RunArgs) -> ExitCode {
    let json = args.json;
    finish(json, || run_inner(args))
}

fn run_inner(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut args = args;
    let mut resume_dir = None;
    if let Some(dir) = &args.resume {
        let meta: crate::record::RunMeta = serde_json::from_slice(
            &std::fs::read(dir.join("run.json"))
                .with_context(|| format!("reading {}/run.json", dir.display()))?,
        )
        .with_context(|| format!("{}/run.json is not a run record", dir.display()))?;
        args.task = Some(meta.task);
        args.agent = meta.agent;
        args.seed = Some(meta.seed);
        args.max_steps = meta.max_steps;
        args.memory |= dir.join(crate::memory::MEMORY_FILE).is_file();
        resume_dir = Some(dir.clone());
    }
    let seed = args.seed.unwrap_or_else(random_seed);
    let task_id = args.task.clone().unwrap_or_default();
    let t = task(&task_id)?;
    let data_root = mlgym_tasks::data::data_root();
    let memory = if args.memory {
        Some(crate::memory::MemoryConfig::staged(&data_root)?)
    } else {
        None
    };
    let model = super::config::build_model(&args.agent, &args.llm)?;
    // Held until the run ends; the kernel releases it if this process dies.
    let gpu_lease = args.gpu.lease(t, json_quiet(&args))?;
    let settings = RunSettings {
        agent_spec: args.agent.clone(),
        episode: EpisodeConfig {
            max_steps: args.max_steps,
            short_timeout: Duration::from_secs(args.command_timeout.max(1)),
            seed,
            mode: args.sandbox.mode()?,
            data_root,
            python: args.sandbox.python()?,
            native_baseline: args.agent == "baseline",
            gpus: gpu_lease.devices().to_vec(),
            memory,
        },
    };
    if !json_quiet(&args) {
        eprintln!(
            "mlgym: task {} with agent {} (seed {seed})",
            t.def.id, args.agent
        );
    }
    let result = match &resume_dir {
        Some(d) => runner::resume(t, model, settings, d)?,
        None => runner::run_new(t, model, settings, &args.out)?,
    };
    if args.json {
        print_json(&serde_json::json!({
            "run_dir": result.run_dir,
            "exit_status": result.exit_status,
            "steps": result.steps,
            "scores": result.scores,
        }));
    } else {
        println!("run directory: {}", result.run_dir.display());
        println!("exit status:   {}", result.exit_status);
        println!("steps:         {}", result.steps);
        for s in &result.scores {
            println!(
                "  step {:>3} {:<14} {}",
                s.step,
                s.kind,
                crate::episode::pyrepr::metrics(&s.metrics)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn json_quiet(a: &RunArgs) -> bool {
    a.json
}

/// A seed from the operating system's random source (falls back to the clock).
fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok()
    {
        // Keep seeds easy to type back in: 48 bits.
        return u64::from_le_bytes(b) >> 16;
    }
    crate::record::now().to_bits() >> 16
}
