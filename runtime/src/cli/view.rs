//! `mlgym view RUN_DIR|FILE.traj[.gz]`: a trajectory as one self-contained HTML page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::view::{load, render_html};

/// Shown after the options by `mlgym view --help`.
const VIEW_HELP: &str = "\
The page shows the task, each step's thought, action and observation, the scores over\n\
steps (validations, the submission) against the baseline, and the exit status. It has\n\
no external assets (inline CSS, JS and SVG), so it can be mailed or archived as is.\n\
\n\
Input: a run directory of this runtime (`<task>.traj`, with `run.json` and\n\
`results.json` for step-exact scores and the baseline) or an MLGym `.traj` /\n\
`.traj.gz` file.\n\
\n\
Examples:\n\
\x20 mlgym view runs/gpt-o1__blotto__default__seed-0__run_0\n\
\x20 mlgym view ../shared/mlgym-reference/trajectories/<name>.traj.gz -o blotto.html\n\
";

/// Render a trajectory as one self-contained HTML page.
#[derive(Debug, Args)]
#[command(after_long_help = VIEW_HELP)]
pub struct ViewArgs {
    /// Run directory, or a .traj / .traj.gz file.
    #[arg(value_name = "RUN_DIR|FILE.traj[.gz]")]
    pub input: PathBuf,
    /// Output HTML file (default: `<run name>.html` in the current directory).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print {"html": path, "steps": n, "final_score": x, "exit_status": s} as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mlgym view`.
pub fn run(args: ViewArgs) -> ExitCode {
    super::output::finish(args.json, || {
        let data = load(&args.input)?;
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.html", data.title)));
        std::fs::write(&out, render_html(&data))
            .with_context(|| format!("writing {}", out.display()))?;
        if args.json {
            super::output::print_json(&serde_json::json!({
                "html": out.display().to_string(),
                "steps": data.steps.len(),
                "final_score": data.final_score(),
                "exit_status": data.exit_status,
            }));
        } else {
            println!(
                "wrote {} ({} steps, exit status {})",
                out.display(),
                data.steps.len(),
                data.exit_status.as_deref().unwrap_or("unknown")
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
