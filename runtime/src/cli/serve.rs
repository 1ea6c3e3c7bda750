//! `mlgym serve`: the Gym environment server for training agents.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use super::common::SandboxOpts;
use super::output::finish;
use crate::episode::EpisodeConfig;
use crate::gym::server::{Server, ServerConfig};
use crate::gym::{GymConfig, RewardKind};

/// The long help: what the command does, with examples.
const SERVE_HELP: &str = r#"Each episode gets its own thread, sandbox and run directory under --out, recorded
exactly like `mlgym run` (trajectory.jsonl, <task>.traj, results.json, run.json).

Quick start:
  mlgym serve --bind 127.0.0.1:8765 &
  curl -s localhost:8765/episodes -d '{"task": "battleOfSexes", "seed": 0}'
  curl -s localhost:8765/episodes/ID/step -d '{"action": "validate"}'
  curl -s -X DELETE localhost:8765/episodes/ID

Endpoints (described at GET /openapi.json): POST /episodes (create + reset),
POST /episodes/ID/reset, POST /episodes/ID/step ({"action"} or {"response"}),
DELETE /episodes/ID (close), GET /episodes[/ID], POST /episodes/ID/keepalive,
GET /episodes/ID/attach, GET /healthz. Python: scripts/gym/mlgym_client.py.

An episode is closed by DELETE; when its client disconnects (the connection of its
attach stream, GET /episodes/ID/attach, closes); after --idle-timeout seconds without
a request while not attached; or at shutdown (SIGINT/SIGTERM: open episodes are
closed with complete records). Closing ends its sandbox and everything in it.

Reward per step: 0 unless the step's evaluation succeeded (validate, submit,
autosubmission); then, by --reward: improvement = the primary metric's improvement
over the baseline (sign-corrected for min metrics), raw = the metric itself, ratio =
score/baseline (baseline/score for min metrics). See docs/gym-api.md."#;

/// Serve MLGym's Gym API (reset, step → observation, reward, done, info; close) over
/// HTTP/JSON for many concurrent episodes.
#[derive(Debug, Args)]
#[command(after_help = SERVE_HELP)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR:PORT")]
    pub bind: SocketAddr,
    /// Most episodes open at once; creating another answers 429.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_episodes: usize,
    /// Seconds without a request after which an episode with no attach stream is closed.
    #[arg(long, default_value_t = 600, value_name = "S")]
    pub idle_timeout: u64,
    /// File holding the bearer token clients must send (`Authorization: Bearer ...`);
    /// default: $MLGYM_GYM_TOKEN, else no token (allowed on loopback addresses only).
    #[arg(long, value_name = "F")]
    pub token_file: Option<PathBuf>,
    /// Serve without a token on a non-loopback address (anyone who reaches the port can
    /// run commands in sandboxes).
    #[arg(long)]
    pub insecure_no_token: bool,
    /// Where run directories are created.
    #[arg(long, default_value = "runs/gym", value_name = "DIR")]
    pub out: PathBuf,
    /// Default step budget of an episode (a request may set its own).
    #[arg(long, default_value_t = 50)]
    pub max_steps: usize,
    /// Default timeout of ordinary commands, in seconds.
    #[arg(long, default_value_t = 25)]
    pub command_timeout: u64,
    /// Default reward: improvement, raw or ratio.
    #[arg(long, default_value = "improvement")]
    pub reward: String,
    /// Model name recorded in run.json and run directory names (a request may set one).
    #[arg(long, default_value = "gym-client")]
    pub model: String,
    /// Interval of attach-stream heartbeats in milliseconds (a disconnect is noticed
    /// within about two).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub heartbeat_ms: u64,
    #[command(flatten)]
    pub sandbox: SandboxOpts,
    /// GPUs of each episode (leased when it is created, released when it is closed).
    #[command(flatten)]
    pub gpu: super::gpus::GpuOpts,
}

pub fn run(args: ServeArgs) -> ExitCode {
    finish(false, || run_inner(args))
}

fn token(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    if let Some(f) = &args.token_file {
        let t =
            std::fs::read_to_string(f).with_context(|| format!("--token-file {}", f.display()))?;
        let t = t.trim().to_string();
        if t.is_empty() {
            bail!(
                "--token-file {} is empty: write the token into it",
                f.display()
            );
        }
        return Ok(Some(t));
    }
    Ok(std::env::var("MLGYM_GYM_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty()))
}

fn run_inner(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = token(&args)?;
    if token.is_none() && !args.bind.ip().is_loopback() && !args.insecure_no_token {
        bail!("--bind {} is not a loopback address: give a token (--token-file F or $MLGYM_GYM_TOKEN), or --insecure-no-token", args.bind);
    }
    if args.max_steps == 0 {
        bail!("--max-steps must be at least 1");
    }
    let reward: RewardKind = args.reward.parse()?;
    let episode = EpisodeConfig {
        max_steps: args.max_steps,
        short_timeout: Duration::from_secs(args.command_timeout.max(1)),
        seed: 0,
        mode: args.sandbox.mode()?,
        data_root: mlgym_tasks::data::data_root(),
        python: args.sandbox.python()?,
        native_baseline: false,
        gpus: Vec::new(),
        memory: None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating --out {}", args.out.display()))?;
    let cfg = ServerConfig {
        bind: args.bind,
        max_episodes: args.max_episodes.max(1),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        heartbeat: Duration::from_millis(args.heartbeat_ms.max(10)),
        token: token.clone(),
        gym: GymConfig {
            out: args.out.clone(),
            agent: "gym".into(),
            model: args.model.clone(),
            reward,
            episode,
            gpus: args.gpu.gpus.parse().context("--gpus")?,
            gpu_wait: Duration::from_secs(args.gpu.gpu_wait),
        },
    };
    let server = Server::bind(cfg)?;
    // Scripts read this line to learn the port; the token is never printed.
    println!("mlgym serve: listening on http://{}", server.local_addr());
    eprintln!(
        "mlgym serve: runs in {}, at most {} episodes, idle timeout {} s, {}",
        args.out.display(),
        args.max_episodes.max(1),
        args.idle_timeout.max(1),
        if token.is_some() {
            "bearer token required"
        } else {
            "no token"
        }
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let summary = server.run_until_signal()?;
    println!(
        "mlgym serve: stopped; {} open episode(s) closed",
        summary.closed_at_shutdown
    );
    Ok(ExitCode::SUCCESS)
}
