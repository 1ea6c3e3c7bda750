//! `mlgym env ...`: the native RL environments.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use mlgym_tasks::rl::replay::{replay_file, ReplayOptions, ReplayReport};
use mlgym_tasks::rl::EnvId;
use serde_json::json;

use super::output::{finish, print_json};

/// The subcommands of `mlgym env`.
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Replay reference trajectories recorded from gymnax and report mismatches.
    Replay {
        /// Environment name as gymnax spells it (MetaMaze-misc, MountainCarContinuous-v0, Breakout-MinAtar).
        #[arg(long)]
        env: String,
        /// Trajectory files (.jsonl or .jsonl.gz).
        files: Vec<std::path::PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `mlgym env` subcommand. `replay` exits 0 only when no line mismatches, 1 when
/// some do, 2 when a file cannot be replayed (unknown env, unreadable or malformed file).
pub fn run(cmd: EnvCommand) -> ExitCode {
    match cmd {
        EnvCommand::Replay { env, files, json } => finish(json, || {
            let reports = replay_all(&env, &files)?;
            let total: usize = reports.iter().map(|r| r.mismatches).sum();
            if json {
                print_json(&summary_json(&reports));
                // Scripts get the contract's object on stdout; people still see why.
                for r in &reports {
                    for m in &r.first_mismatches {
                        eprintln!("{}: {m}", r.file.display());
                    }
                }
            } else {
                print!("{}", summary_table(&reports));
            }
            Ok(if total == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }),
    }
}

/// Replays every file; the first unreadable or malformed one is the error.
fn replay_all(env: &str, files: &[PathBuf]) -> anyhow::Result<Vec<ReplayReport>> {
    let id: EnvId = env.parse()?;
    if files.is_empty() {
        anyhow::bail!(
            "no trajectory files given: pass one or more .jsonl or .jsonl.gz files after --env {env}"
        );
    }
    let opts = ReplayOptions::default();
    // Each error already names the file and line.
    files
        .iter()
        .map(|f| replay_file(id, f, &opts).map_err(anyhow::Error::from))
        .collect()
}

/// `{"files": [{"file", "steps", "mismatches"}], "mismatches": TOTAL}`.
fn summary_json(reports: &[ReplayReport]) -> serde_json::Value {
    let files: Vec<_> = reports
        .iter()
        .map(|r| {
            json!({
                "file": r.file.display().to_string(),
                "steps": r.steps,
                "mismatches": r.mismatches,
            })
        })
        .collect();
    let total: usize = reports.iter().map(|r| r.mismatches).sum();
    json!({ "files": files, "mismatches": total })
}

/// A table for people: one row per file, then the first mismatches and a verdict.
fn summary_table(reports: &[ReplayReport]) -> String {
    let width = reports
        .iter()
        .map(|r| r.file.display().to_string().len())
        .chain([4])
        .max()
        .unwrap_or(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>8}  {:>7}  {:>10}  {:>10}",
        "file", "episodes", "steps", "autoresets", "mismatches"
    );
    for r in reports {
        let _ = writeln!(
            out,
            "{:<width$}  {:>8}  {:>7}  {:>10}  {:>10}",
            r.file.display(),
            r.episodes,
            r.steps,
            r.autoresets,
            r.mismatches
        );
    }
    let total: usize = reports.iter().map(|r| r.mismatches).sum();
    let steps: usize = reports.iter().map(|r| r.steps).sum();
    for r in reports.iter().filter(|r| r.mismatches > 0) {
        let _ = writeln!(out, "\nfirst mismatches in {}:", r.file.display());
        for m in &r.first_mismatches {
            let _ = writeln!(out, "  {m}");
        }
    }
    if total == 0 {
        let _ = writeln!(out, "\nOK: {steps} steps, 0 mismatches");
    } else {
        let _ = writeln!(out, "\nFAIL: {total} mismatching lines in {steps} steps");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn reference(env: &str) -> Option<PathBuf> {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
        let f = shared.join(format!("reference/gymnax/{env}/random.jsonl.gz"));
        if f.is_file() {
            Some(f)
        } else {
            eprintln!(
                "skipping: {} is absent (no shared reference data)",
                f.display()
            );
            None
        }
    }

    #[test]
    fn replays_the_reference_files_with_zero_mismatches() {
        for env in [
            "MetaMaze-misc",
            "MountainCarContinuous-v0",
            "Breakout-MinAtar",
        ] {
            let Some(f) = reference(env) else { return };
            let reports = replay_all(env, std::slice::from_ref(&f)).unwrap();
            let v = summary_json(&reports);
            assert_eq!(v["mismatches"], 0, "{env}");
            assert_eq!(v["files"][0]["file"], f.display().to_string());
            assert!(v["files"][0]["steps"].as_u64().unwrap() > 900);
            let table = summary_table(&reports);
            assert!(
                table.contains("OK:") && table.contains("0 mismatches"),
                "{table}"
            );
        }
    }

    #[test]
    fn unknown_env_and_missing_files_are_one_line_errors() {
        let err = replay_all("CartPole-v1", &[PathBuf::from("x.jsonl")]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("CartPole-v1") && msg.contains("MetaMaze-misc"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        let err = replay_all("Breakout-MinAtar", &[]).unwrap_err();
        assert!(format!("{err:#}").contains("no trajectory files"));
        let err =
            replay_all("Breakout-MinAtar", &[PathBuf::from("/nonexistent/t.jsonl")]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("/nonexistent/t.jsonl") && !msg.contains('\n'),
            "{msg}"
        );
    }

    #[test]
    fn a_malformed_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.jsonl");
        std::fs::write(
            &f,
            "{\"kind\":\"meta\",\"env\":\"MetaMaze-misc\"}\n{\"kind\":\"reset\",\"episode\":0\n",
        )
        .unwrap();
        let err = replay_all("MetaMaze-misc", std::slice::from_ref(&f)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(&format!("{}:2:", f.display())), "{msg}");
    }

    #[test]
    fn mismatches_are_counted_in_json_and_table() {
        let Some(src) = reference("Breakout-MinAtar") else {
            return;
        };
        use std::io::BufRead;
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(src).unwrap());
        let mut lines: Vec<String> = std::io::BufReader::new(gz)
            .lines()
            .take(6)
            .map(Result::unwrap)
            .collect();
        // Claim a brick was broken on a step where none was.
        let mut v: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
        v["reward"] = json!(1.0);
        lines[3] = v.to_string();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tampered.jsonl");
        std::fs::write(&f, lines.join("\n")).unwrap();
        let reports = replay_all("Breakout-MinAtar", &[f]).unwrap();
        let v = summary_json(&reports);
        assert_eq!(v["mismatches"], 1);
        assert_eq!(v["files"][0]["steps"], 4);
        let table = summary_table(&reports);
        assert!(
            table.contains("FAIL") && table.contains("reward"),
            "{table}"
        );
    }
}
