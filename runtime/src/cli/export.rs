//! `mlgym export`: trajectories into fine-tuning data.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use super::output::{finish, print_json};
use crate::gym::export::{self, ExportOptions};

/// The long help: what the command does, with examples.
const EXPORT_HELP: &str = r#"RUNS are run directories (from `mlgym run` or `mlgym serve`), MLGym .traj / .traj.gz
files, or folders holding them (searched recursively). Each episode becomes one line

  {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...],
   "metadata": {"task", "model", "agent", "seed", "exit_status", "score",
                "best_score", "primary_metric", "direction", "baseline", "scores",
                "steps", "source", "format"}}

holding the system prompt, the task prompt, and every step's raw model response
(assistant) and the observation that answered it (user). `score` is the primary metric
of the last successful evaluation (MLGym's "last attempt"). The schema is
docs/export-schema.json.

Examples:
  mlgym export runs/ --out sft.jsonl
  mlgym export runs/ --exit-status submitted --min-score 1.2 --out good.jsonl
  mlgym export trajectories/*.traj.gz --exit-status 'autosubmission*' --per-step"#;

/// Turn trajectories into chat fine-tuning data (JSON lines).
#[derive(Debug, Args)]
#[command(after_help = EXPORT_HELP)]
pub struct ExportArgs {
    /// Run directories, .traj/.traj.gz files, or folders holding them.
    #[arg(required = true, value_name = "RUNS")]
    pub runs: Vec<PathBuf>,
    /// Output format (only chat-jsonl for now).
    #[arg(long, default_value = "chat-jsonl")]
    pub format: String,
    /// Keep episodes whose score is at least as good as X: ≥ X for metrics where higher
    /// is better, ≤ X where lower is better. Episodes without a score are dropped.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub min_score: Option<f64>,
    /// Keep episodes with this exit status (repeatable; `PREFIX*` matches a prefix, e.g.
    /// 'autosubmission*').
    #[arg(long, value_name = "S")]
    pub exit_status: Vec<String>,
    /// One line per assistant turn (the conversation up to it) instead of per episode.
    #[arg(long)]
    pub per_step: bool,
    /// Write here (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on standard output (requires --out).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ExportArgs) -> ExitCode {
    let json = args.json;
    finish(json, || run_inner(args))
}

fn run_inner(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.format != "chat-jsonl" {
        bail!(
            "--format `{}` is not supported: use chat-jsonl",
            args.format
        );
    }
    if args.json && args.out.is_none() {
        bail!("--json prints the summary on standard output, so the data needs --out FILE");
    }
    let opts = ExportOptions {
        min_score: args.min_score,
        exit_status: args.exit_status.clone(),
        per_step: args.per_step,
    };
    let summary = match &args.out {
        Some(path) => {
            let tmp = path.with_extension("jsonl.tmp");
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?,
            );
            let s = export::export(&args.runs, &opts, &mut f)?;
            // Durable before the rename, so a crash leaves the old file or the whole new one.
            f.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|file| file.sync_all())
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
            s
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let s = export::export(&args.runs, &opts, &mut lock)?;
            lock.flush().context("writing standard output")?;
            s
        }
    };
    for (p, why) in &summary.unreadable {
        eprintln!("warning: skipped {}: {why}", p.display());
    }
    if args.json {
        print_json(&summary);
    } else {
        eprintln!(
            "exported {} of {} episode(s) as {} line(s){}; {} filtered out, {} unreadable",
            summary.exported,
            summary.episodes,
            summary.lines,
            args.out
                .as_ref()
                .map(|p| format!(" to {}", p.display()))
                .unwrap_or_default(),
            summary.filtered,
            summary.unreadable.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
