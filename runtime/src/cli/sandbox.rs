//! `mlgym sandbox check|exec`: what this host supports, and running one command confined.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use mlgym_sandbox::{host_support, ModeRequest, NetPolicy, SandboxSpec};

use super::output::{finish, print_json};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Report what this host supports (landlock ABI, user namespaces, cgroups) and
    /// which mode agent code would run in, with the reason for each decision.
    Check {
        /// Print one JSON object: mode, landlock_abi, user_namespaces, cgroups, reasons.
        #[arg(long)]
        json: bool,
    },
    /// Run one command in a fresh sandbox. The exit status is the command's own
    /// (128+N when killed by signal N, 124 on timeout).
    ///
    /// Example: mlgym sandbox exec --rw ./ws --ro ./data --timeout 10 -- python3 train.py
    Exec(Box<ExecArgs>),
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A path readable and writable inside (repeatable). The first one is the working
    /// directory unless --workdir is given. As root, these paths are handed to uid 100000.
    #[arg(long = "rw", value_name = "PATH")]
    pub rw: Vec<PathBuf>,
    /// A path readable but not writable inside (repeatable).
    #[arg(long = "ro", value_name = "PATH")]
    pub ro: Vec<PathBuf>,
    /// A path that must not be visible inside (repeatable).
    #[arg(long = "hide", value_name = "PATH")]
    pub hide: Vec<PathBuf>,
    /// Working directory inside (default: the first --rw path, else the current directory).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Pass this environment variable through (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Network: `none` (nothing, not even loopback) or `loopback` (a private one).
    #[arg(long, default_value = "none")]
    pub net: String,
    /// Memory limit in MB.
    #[arg(long, value_name = "MB")]
    pub mem: Option<u64>,
    /// CPU-time limit per process, in seconds.
    #[arg(long = "cpu-s", value_name = "S")]
    pub cpu_s: Option<u64>,
    /// Maximum number of processes and threads.
    #[arg(long, value_name = "N")]
    pub pids: Option<u64>,
    /// Largest file the command may write, in MB.
    #[arg(long, value_name = "MB")]
    pub fsize: Option<u64>,
    /// Wall-clock timeout in seconds (fractions allowed).
    #[arg(long, value_name = "S")]
    pub timeout: Option<f64>,
    /// Bytes of stdout and of stderr kept; the command is stopped beyond that.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub output_cap: u64,
    /// GPUs to expose, by NVIDIA minor number (e.g. `0,2`).
    #[arg(long, value_name = "LIST")]
    pub gpus: Option<String>,
    /// Force a mode: auto, full or landlock.
    #[arg(long, default_value = "auto")]
    pub mode: String,
    /// Run WITHOUT any isolation. Only for debugging on a trusted machine.
    #[arg(long)]
    pub unsafe_no_sandbox: bool,
    /// Print the outcome as one JSON object (exit_code, signal, reason, limit, mode,
    /// wall_ms, stdout, stderr) instead of passing the output through.
    #[arg(long)]
    pub json: bool,
    /// The command and its arguments (after `--`).
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(cmd: SandboxCommand) -> ExitCode {
    match cmd {
        SandboxCommand::Check { json } => finish(json, || {
            let s = host_support();
            if json {
                print_json(s);
            } else {
                let mode = s.mode.map(|m| m.as_str()).unwrap_or("none available");
                println!("mode:            {mode}");
                println!("landlock ABI:    {}", s.landlock_abi);
                println!("user namespaces: {}", s.user_namespaces);
                println!("cgroups:         {}", serde_json::to_string(&s.cgroups)?);
                println!("caller is root:  {}", s.caller_is_root);
                for r in &s.reasons {
                    println!("  - {r}");
                }
            }
            Ok(if s.mode.is_some() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }),
        SandboxCommand::Exec(args) => {
            let json = args.json;
            finish(json, || exec(*args))
        }
    }
}

fn parse_mode(s: &str, unsafe_none: bool) -> anyhow::Result<ModeRequest> {
    if unsafe_none {
        eprintln!("WARNING: --unsafe-no-sandbox: the command runs WITHOUT any isolation");
        return Ok(ModeRequest::UnsafeNone);
    }
    match s {
        "auto" => Ok(ModeRequest::Auto),
        "full" => Ok(ModeRequest::Full),
        "landlock" => Ok(ModeRequest::Landlock),
        other => anyhow::bail!("--mode `{other}` is not one of: auto, full, landlock"),
    }
}

fn exec(a: ExecArgs) -> anyhow::Result<ExitCode> {
    let workdir = match (&a.workdir, a.rw.first()) {
        (Some(w), _) => w.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => std::env::current_dir().context("reading the current directory")?,
    };
    let mut spec = SandboxSpec::new(workdir);
    spec.read_write = a.rw.clone();
    spec.read_only = a.ro.clone();
    spec.hidden = a.hide.clone();
    if a.rw.is_empty() && a.workdir.is_none() {
        // The current directory is shared read-only when nothing else was named.
        spec.read_only.push(spec.workdir.clone());
    }
    spec.env_passthrough = a.env.clone();
    spec.net = a.net.parse::<NetPolicy>()?;
    spec.mode = parse_mode(&a.mode, a.unsafe_no_sandbox)?;
    spec.limits.memory_bytes = a.mem.map(|m| m << 20);
    spec.limits.cpu_seconds = a.cpu_s;
    if a.pids.is_some() {
        spec.limits.processes = a.pids;
    }
    spec.limits.file_size_bytes = a.fsize.map(|m| m << 20);
    if let Some(t) = a.timeout {
        if !(t.is_finite() && t > 0.0) {
            anyhow::bail!("--timeout must be a positive number of seconds, got {t}");
        }
        spec.limits.wall = Some(Duration::from_secs_f64(t));
    }
    spec.limits.output_bytes = a.output_cap;
    if let Some(g) = &a.gpus {
        spec.gpus = g
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.trim()
                    .parse::<u32>()
                    .with_context(|| format!("--gpus: `{s}` is not a GPU number"))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    let outcome = mlgym_sandbox::run(&spec, &a.command)?;
    let status = match outcome.reason {
        mlgym_sandbox::EndReason::Timeout => 124,
        _ => outcome.shell_status(),
    };
    if a.json {
        print_json(&outcome);
    } else {
        use std::io::Write;
        let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
        let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
        if outcome.reason != mlgym_sandbox::EndReason::Exit {
            let limit = outcome
                .limit
                .map(|l| format!(" ({l:?} limit)").to_lowercase())
                .unwrap_or_default();
            eprintln!(
                "mlgym: command ended by {:?}{limit} after {:.0} ms",
                outcome.reason, outcome.wall_ms
            );
        }
    }
    Ok(ExitCode::from(status.clamp(0, 255) as u8))
}
