//! `mlgym report RUNS...`: scores, performance profiles, AUP and ranks over runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::report::{build_report, tables, write_outputs, ReportOptions};

/// Table format printed on stdout (without `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Markdown tables.
    Md,
    /// CSV tables, each after a `# <title>` line.
    Csv,
}

/// Shown after the options by `mlgym report --help`.
const REPORT_HELP: &str = "\
RUNS are run directories or folders that hold them (searched 4 levels deep). A run\n\
directory holds `results.json` (MLGym's `{\"agent\": [metrics...], \"baseline\": {...}}`)\n\
and, for runs of this runtime, `run.json` and `<task>.traj`. Model and task come from\n\
`run.json`, else from the directory name `<model>__<task>__...__run_N` (MLGym's\n\
`metagen-` prefix is dropped: `metagen-gpt-o1` → `gpt-o1`).\n\
\n\
Per task and model: the best attempt (best primary-metric value a run recorded) and the\n\
last submission (its final recorded value), each the best over the model's runs. From\n\
those, MLGym's performance ratios (ε = 0.05; negative or worse-than-baseline scores are\n\
infeasible), performance profiles on a 500-point log10 τ grid, AUP (left Riemann sum),\n\
per-task ranks, mean rank and Borda count, all with the baseline as a competitor.\n\
Diagnostics per run: exit status, failed/incomplete, steps, tokens, cost.\n\
\n\
Unusable input (an empty folder, a corrupt results.json, a run without scores, a task\n\
the report does not know) is listed under \"Skipped\" with the reason; the exit status is\n\
1 when no run had a usable score, else 0.\n\
\n\
Example, reproducing MLGym's published tables:\n\
\x20 mlgym report ../shared/mlgym-reference/runs --exclude-models gemini-20-pro --out report/\n\
";

/// Aggregate runs into scores, performance profiles, AUP and ranks.
#[derive(Debug, Args)]
#[command(after_long_help = REPORT_HELP)]
pub struct ReportArgs {
    /// Run directories, or folders of run directories.
    #[arg(required = true, value_name = "RUNS")]
    pub runs: Vec<PathBuf>,
    /// Write report.json, report.md, report.html, the CSV tables and the plots (SVG and
    /// PNG) into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object: {"aup": {model: {"best", "last"}}, "scores": {task: {model:
    /// {"best", "last"}}}, "ranks", "diagnostics", "skipped", ...}; values are unrounded.
    #[arg(long)]
    pub json: bool,
    /// Table format on stdout when --json is not given.
    #[arg(long, value_enum, default_value = "md")]
    pub format: TableFormat,
    /// Keep only these models (comma-separated, names as in the report, e.g. gpt-o1).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub models: Option<Vec<String>>,
    /// Leave out these models (comma-separated). MLGym's published tables leave out
    /// gemini-20-pro. `baseline` removes the baseline row.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub exclude_models: Vec<String>,
    /// Folders holding `<run dir name>.traj[.gz]` files, for the exit status, steps,
    /// tokens and cost of runs that have no run.json (e.g. MLGym's trajectories/).
    #[arg(long, value_name = "DIR")]
    pub traj_dir: Vec<PathBuf>,
}

/// Runs `mlgym report`.
pub fn run(args: ReportArgs) -> ExitCode {
    super::output::finish(args.json, || {
        let opts = ReportOptions {
            models: args.models.clone(),
            exclude_models: args.exclude_models.clone(),
            traj_dirs: args.traj_dir.clone(),
        };
        let report = build_report(&args.runs, &opts);
        if let Some(out) = &args.out {
            let written = write_outputs(&report, out)
                .with_context(|| format!("writing the report into {}", out.display()))?;
            eprintln!(
                "wrote {} files into {} (open {})",
                written.len(),
                out.display(),
                out.join("report.html").display()
            );
        }
        if args.json {
            super::output::print_json(&report.to_json());
        } else {
            match args.format {
                TableFormat::Md => print!("{}", tables::render_markdown(&report)),
                TableFormat::Csv => print!("{}", tables::render_csv(&report)),
            }
        }
        const SHOWN: usize = 10;
        for issue in report.skipped.iter().take(SHOWN) {
            eprintln!("skipped {}: {}", issue.path.display(), issue.reason);
        }
        if report.skipped.len() > SHOWN {
            eprintln!(
                "… and {} more skipped (all are listed in the report's Skipped table)",
                report.skipped.len() - SHOWN
            );
        }
        for issue in &report.warnings {
            eprintln!("warning {}: {}", issue.path.display(), issue.reason);
        }
        let any_score = report
            .tasks
            .iter()
            .any(|t| !t.best.is_empty() || !t.last.is_empty());
        if !any_score {
            eprintln!("error: no run had a usable score; see the skipped list above");
            return Ok(ExitCode::from(1));
        }
        Ok(ExitCode::SUCCESS)
    })
}
