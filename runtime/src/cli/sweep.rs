//! `mlgym sweep`: a grid of episodes (agents × tasks × runs), locally or on Slurm,
//! resumable, ending with a report; `--status`, `--cancel`, `--retry-failed`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::output::{finish, print_json};
use crate::report::{build_report, tables, write_outputs, ReportOptions};
use crate::sweep::{cell, local, slurm, CellState, Counts, Plan};

/// Where the episodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// Concurrent `mlgym run` processes on this machine.
    Local,
    /// One Slurm job array (`sbatch --array`); `--out` and this binary must be on a
    /// filesystem the compute nodes share.
    Slurm,
}

/// Shown after the options by `mlgym sweep --help`.
const SWEEP_HELP: &str = "\
Every cell of the grid is one `mlgym run` (its own process) whose run directory goes\n\
under OUT/cells/<agent>__<task>__run_<k>/; run k uses seed SEED+k for every agent and task.\n\
The grid is recorded in OUT/sweep.json. Re-running the same command (or `mlgym sweep\n\
--out OUT`) runs only the cells that are not complete: episodes that were cut off are\n\
resumed, cells whose last attempt failed are left alone unless --retry-failed.\n\
Arguments after `--` go to every `mlgym run` (e.g. `-- --sandbox landlock`).\n\
At the end, `mlgym report` over OUT/cells is written into OUT/report/.\n\
Exit status: 0 when every cell is complete, 1 when some are not, 2 on errors.\n\
\n\
Examples:\n\
\x20 mlgym sweep --tasks battleOfSexes,blotto,prisonersDilemma --agents baseline --runs 2 --parallel 2\n\
\x20 mlgym sweep --tasks all --agents openai:gpt-4o,anthropic:claude-sonnet-4 --runs 4 --executor slurm \\\n\
\x20     --sbatch-arg=--partition=gpu --out /shared/sweeps/main\n\
\x20 mlgym sweep --out /shared/sweeps/main --status\n\
";

/// Run a grid of episodes (agents × tasks × runs), locally or on Slurm.
#[derive(Debug, Args)]
#[command(after_long_help = SWEEP_HELP)]
pub struct SweepArgs {
    /// Task ids (comma-separated), or `all`. Omit (with --agents) to resume the sweep
    /// recorded in --out.
    #[arg(long, value_delimiter = ',', value_name = "LIST|all")]
    pub tasks: Vec<String>,
    /// Agent specs as `mlgym run --agent` takes them (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub agents: Vec<String>,
    /// Runs per agent and task.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// Seed of run 0 (run k uses SEED+k).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Step budget of every episode.
    #[arg(long, default_value_t = 50)]
    pub max_steps: usize,
    /// Episodes at a time (local: default half the CPUs; slurm: array elements at a time,
    /// default no limit).
    #[arg(long, value_name = "K")]
    pub parallel: Option<usize>,
    /// Where the episodes run.
    #[arg(long, value_enum, default_value = "local")]
    pub executor: Executor,
    /// The sweep directory.
    #[arg(long, default_value = "sweep")]
    pub out: PathBuf,
    /// Also run the cells whose last attempt failed.
    #[arg(long)]
    pub retry_failed: bool,
    /// Show every cell's state (and Slurm's queue) and exit.
    #[arg(long, conflicts_with = "cancel")]
    pub status: bool,
    /// Stop the sweep: the local sweep process (its episodes stay resumable) or the Slurm
    /// jobs.
    #[arg(long)]
    pub cancel: bool,
    /// Do not write the report at the end.
    #[arg(long)]
    pub no_report: bool,
    /// Slurm: return after submitting instead of waiting for the jobs.
    #[arg(long)]
    pub no_wait: bool,
    /// Slurm: time limit per episode in minutes (default: 30 + 3 × the task's training
    /// timeout).
    #[arg(long, value_name = "MINUTES")]
    pub time_limit: Option<u64>,
    /// Slurm: a further sbatch argument (repeatable), e.g. --sbatch-arg=--partition=gpu.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Slurm: seconds between `squeue` polls while waiting.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub poll: u64,
    /// Print one JSON object at the end: out, counts, cells, report.
    #[arg(long)]
    pub json: bool,
    /// Internal: run grid cell N (what each Slurm array element does).
    #[arg(long, hide = true, value_name = "N")]
    pub exec_cell: Option<usize>,
    /// Arguments for every `mlgym run` (after `--`).
    #[arg(last = true, value_name = "RUN ARGS")]
    pub run_args: Vec<String>,
}

/// Runs `mlgym sweep`.
pub fn run(args: SweepArgs) -> ExitCode {
    let json = args.json;
    finish(json, || {
        if let Some(n) = args.exec_cell {
            return exec_cell(&args.out, n);
        }
        if args.status {
            return status(&args);
        }
        if args.cancel {
            return cancel(&args.out);
        }
        sweep(&args)
    })
}

fn plan_of(args: &SweepArgs) -> anyhow::Result<Plan> {
    if args.tasks.is_empty() && args.agents.is_empty() {
        return Ok(Plan::load(&args.out)?);
    }
    let tasks = if args.tasks.iter().any(|t| t == "all") {
        mlgym_tasks::registry::all()?
            .iter()
            .map(|t| t.def.id.clone())
            .collect()
    } else {
        args.tasks.clone()
    };
    let plan = Plan {
        tasks,
        agents: args.agents.clone(),
        runs: args.runs,
        seed: args.seed,
        max_steps: args.max_steps,
        run_args: args.run_args.clone(),
    };
    plan.validate()?;
    plan.save_or_check(&args.out)?;
    Ok(plan)
}

fn sweep(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let plan = plan_of(args)?;
    let exe = local::current_exe()?;
    match args.executor {
        Executor::Local => {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            let opts = local::LocalOptions {
                parallel: args.parallel.unwrap_or((cpus / 2).max(1)),
                gpu_budget: gpu_budget(&plan),
                retry_failed: args.retry_failed,
            };
            local::run(&exe, &args.out, &plan, &opts)?;
        }
        Executor::Slurm => {
            let jobs = slurm::load_jobs(&args.out)?;
            let queue = slurm::queued(&jobs)?;
            let (todo, _) = local::to_run(&args.out, &plan, args.retry_failed);
            let todo: Vec<_> = todo
                .into_iter()
                .filter(|c| !queue.contains_key(&c.index))
                .collect();
            let opts = slurm::SlurmOptions {
                parallel: args.parallel.unwrap_or(0),
                time_minutes: args.time_limit,
                sbatch_args: args.sbatch_args.clone(),
            };
            let new = slurm::submit(&exe, &args.out, &todo, &opts)?;
            for s in &new {
                eprintln!(
                    "slurm: submitted job {} ({} cells, {} GPU(s) and {} min each)",
                    s.job_id,
                    s.cells.len(),
                    s.gpus,
                    s.time_minutes
                );
            }
            if args.no_wait {
                eprintln!(
                    "slurm: follow with `mlgym sweep --out {} --status`",
                    args.out.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let jobs = slurm::load_jobs(&args.out)?;
            slurm::wait(
                &args.out,
                &plan,
                &jobs,
                Duration::from_secs(args.poll.max(1)),
            )?;
            slurm::mark_lost(&args.out, &plan, &jobs, &Default::default())?;
        }
    }
    conclude(args, &plan)
}

/// GPUs the local executor may use: the host's, asked only when a task wants one.
fn gpu_budget(plan: &Plan) -> usize {
    let wants = plan.tasks.iter().any(|t| {
        mlgym_tasks::registry::get(t)
            .map(|t| t.def.gpus > 0)
            .unwrap_or(false)
    });
    if wants {
        mlgym_kernels::gpu::discover().devices.len()
    } else {
        0
    }
}

/// Prints the failed cells, writes the report, and sets the exit status.
fn conclude(args: &SweepArgs, plan: &Plan) -> anyhow::Result<ExitCode> {
    let cells = plan.cells();
    let states: Vec<CellState> = cells.iter().map(|c| cell::state(&args.out, c)).collect();
    let counts = Counts::of(&states);
    for (c, s) in cells.iter().zip(&states) {
        if let CellState::Failed { reason, log } = s {
            eprintln!("failed: {}: {reason} (log: {})", c.id, log.display());
        }
    }
    let mut report_dir = None;
    if !args.no_report && counts.complete > 0 {
        let dir = args.out.join("report");
        let report = build_report(
            &[args.out.join(crate::sweep::CELLS_DIR)],
            &ReportOptions::default(),
        );
        write_outputs(&report, &dir)
            .with_context(|| format!("writing the report into {}", dir.display()))?;
        if !args.json {
            print!("{}", tables::render_markdown(&report));
        }
        eprintln!("report: {}", dir.join("report.html").display());
        report_dir = Some(dir);
    }
    eprintln!(
        "sweep {}: {} complete, {} failed, {} interrupted, {} pending",
        args.out.display(),
        counts.complete,
        counts.failed,
        counts.interrupted,
        counts.pending
    );
    if args.json {
        print_json(&serde_json::json!({
            "out": args.out,
            "counts": counts,
            "cells": cells_json(&cells, &states, &Default::default()),
            "report": report_dir,
        }));
    }
    Ok(if counts.complete == cells.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn cells_json(
    cells: &[crate::sweep::Cell],
    states: &[CellState],
    queue: &std::collections::BTreeMap<usize, String>,
) -> Vec<serde_json::Value> {
    cells
        .iter()
        .zip(states)
        .map(|(c, s)| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["id"] = c.id.clone().into();
            v["index"] = c.index.into();
            if let Some(q) = queue.get(&c.index) {
                v["slurm"] = q.clone().into();
            }
            v
        })
        .collect()
}

fn status(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    let plan = Plan::load(out)?;
    let jobs = slurm::load_jobs(out)?;
    let queue = if jobs.is_empty() {
        Default::default()
    } else {
        match slurm::queued(&jobs) {
            Ok(q) => {
                // Only with the queue in hand can an element be known to have left it.
                slurm::mark_lost(out, &plan, &jobs, &q)?;
                q
            }
            Err(e) => {
                eprintln!("note: the Slurm queue could not be read: {e}");
                Default::default()
            }
        }
    };
    let cells = plan.cells();
    let states: Vec<CellState> = cells.iter().map(|c| cell::state(out, c)).collect();
    let counts = Counts::of(&states);
    let holder = local::holder(out);
    if args.json {
        print_json(&serde_json::json!({
            "out": out,
            "running_sweep": holder,
            "slurm_jobs": jobs,
            "counts": counts,
            "cells": cells_json(&cells, &states, &queue),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    for (c, s) in cells.iter().zip(&states) {
        let q = queue
            .get(&c.index)
            .map(|q| format!(" [slurm: {q}]"))
            .unwrap_or_default();
        let line = match s {
            CellState::Complete { exit_status, .. } => {
                format!("complete    ({})", exit_status.as_deref().unwrap_or("?"))
            }
            CellState::Failed { reason, log } => {
                format!("failed      {reason} (log: {})", log.display())
            }
            CellState::Interrupted { .. } => "interrupted (resumed by the next run)".into(),
            CellState::Pending => "pending".into(),
        };
        println!("{:<48} {line}{q}", c.id);
    }
    println!(
        "{} cells: {} complete, {} failed, {} interrupted, {} pending{}",
        cells.len(),
        counts.complete,
        counts.failed,
        counts.interrupted,
        counts.pending,
        holder
            .map(|h| format!("; a local sweep is running ({h})"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

fn cancel(out: &Path) -> anyhow::Result<ExitCode> {
    let mut did = false;
    if let Some(pid) = local::holder_pid(out) {
        // SAFETY: sends a signal to a process id; no memory is involved.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            anyhow::bail!(
                "stopping the sweep (pid {pid}) in {}: {}",
                out.display(),
                std::io::Error::last_os_error()
            );
        }
        eprintln!("stopped the local sweep (pid {pid}); its episodes end with it and resume on the next run");
        did = true;
    }
    let jobs = slurm::load_jobs(out)?;
    if !jobs.is_empty() {
        slurm::cancel(&jobs)?;
        eprintln!("cancelled {} Slurm job(s)", jobs.len());
        did = true;
    }
    if !did {
        eprintln!("nothing to cancel in {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// One Slurm array element: runs cell `n`, records the outcome, and on failure copies the
/// end of the episode's output into Slurm's log.
fn exec_cell(out: &Path, n: usize) -> anyhow::Result<ExitCode> {
    let plan = Plan::load(out)?;
    let cells = plan.cells();
    let c = cells.get(n).with_context(|| {
        format!(
            "--exec-cell {n}: {} has only {} cells",
            out.join(crate::sweep::PLAN_FILE).display(),
            cells.len()
        )
    })?;
    if let CellState::Complete { .. } = cell::state(out, c) {
        eprintln!("{}: already complete", c.id);
        return Ok(ExitCode::SUCCESS);
    }
    let exe = local::current_exe()?;
    let status = cell::command(&exe, out, &plan, c)?
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    match cell::record_exit(out, c, status.code())? {
        CellState::Complete { run_dir, .. } => {
            eprintln!("{}: complete ({})", c.id, run_dir.display());
            Ok(ExitCode::SUCCESS)
        }
        other => {
            let log = cell::cell_dir(out, c).join(cell::LOG_FILE);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
            eprintln!("{}: {other:?} (log: {})", c.id, log.display());
            Ok(ExitCode::from(1))
        }
    }
}
