//! One grid cell: what state it is in, the `mlgym run` command that advances it, and the
//! record of how its last attempt ended (`status.json`).
//!
//! A cell is complete when its run directory's `run.json` says `finished`; nothing else
//! counts, so a sweep killed at any moment is judged by the runs' own fsynced records. An
//! attempt that ended without finishing the run writes `status.json` with `failed`; a
//! cell whose run directory exists but that has no such status was cut off (the sweep or
//! the machine died) and is resumed with `mlgym run --resume`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::{Cell, Plan, SweepError, CELLS_DIR};

/// The outcome file of a cell's last attempt.
pub const STATUS_FILE: &str = "status.json";
/// The output of every attempt, appended.
pub const LOG_FILE: &str = "cell.log";

/// How a cell's last attempt ended (`status.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellStatus {
    /// `complete` or `failed`.
    pub state: String,
    /// The `mlgym run` exit code (`None`: killed by a signal or never started).
    pub exit_code: Option<i32>,
    /// What went wrong (empty when complete).
    pub reason: String,
    /// The run directory, when one was created.
    pub run_dir: Option<PathBuf>,
    /// The output of the attempts.
    pub log: PathBuf,
    /// When the attempt ended, seconds since the Unix epoch.
    pub finished_at: f64,
}

/// Where a cell stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CellState {
    /// The episode finished.
    Complete {
        /// Its run directory.
        run_dir: PathBuf,
        /// MLGym's exit status of the episode.
        exit_status: Option<String>,
    },
    /// The last attempt failed.
    Failed {
        /// Why.
        reason: String,
        /// Where its output is.
        log: PathBuf,
    },
    /// An episode was started and cut off; the next attempt resumes it.
    Interrupted {
        /// Its run directory.
        run_dir: PathBuf,
    },
    /// Never started.
    Pending,
}

/// The cell's folder in sweep directory `out`.
pub fn cell_dir(out: &Path, cell: &Cell) -> PathBuf {
    out.join(CELLS_DIR).join(&cell.id)
}

/// What a sweep reads from a `run.json` (only these fields, so that records of other
/// mlgym versions still count).
#[derive(Debug, Deserialize)]
struct RunStatus {
    status: String,
    exit_status: Option<String>,
}

/// The run directory `mlgym run --out <cell dir>` created, if any, and its `run.json`.
fn run_dir_of(dir: &Path) -> Option<(PathBuf, Option<RunStatus>)> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    // Exactly one is expected; prefer one with a readable run.json.
    let mut first = None;
    for d in dirs {
        let meta = std::fs::read(d.join("run.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<RunStatus>(&b).ok());
        if meta.is_some() {
            return Some((d, meta));
        }
        first.get_or_insert((d, None));
    }
    first
}

fn read_status(dir: &Path) -> Option<CellStatus> {
    let bytes = std::fs::read(dir.join(STATUS_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Where `cell` stands, from its folder.
pub fn state(out: &Path, cell: &Cell) -> CellState {
    let dir = cell_dir(out, cell);
    let run = run_dir_of(&dir);
    if let Some((run_dir, Some(meta))) = &run {
        if meta.status == "finished" {
            return CellState::Complete {
                run_dir: run_dir.clone(),
                exit_status: meta.exit_status.clone(),
            };
        }
    }
    if let Some(st) = read_status(&dir).filter(|s| s.state == "failed") {
        return CellState::Failed {
            reason: st.reason,
            log: st.log,
        };
    }
    match run {
        Some((run_dir, _)) => CellState::Interrupted { run_dir },
        None => CellState::Pending,
    }
}

/// The `mlgym run` command that advances `cell` (resuming an interrupted episode, else
/// starting one), with its output appended to the cell's log. A run directory that cannot
/// be resumed (no `run.json`, or the last attempt at it failed) is moved aside into
/// `<out>/abandoned/` first, so the cell holds one run directory at a time.
pub fn command(exe: &Path, out: &Path, plan: &Plan, cell: &Cell) -> Result<Command, SweepError> {
    let dir = cell_dir(out, cell);
    std::fs::create_dir_all(&dir).map_err(SweepError::io(&dir))?;
    let failed_before = read_status(&dir).is_some_and(|s| s.state == "failed");
    let mut resume = None;
    if let Some((run_dir, meta)) = run_dir_of(&dir) {
        if meta.is_some() && !failed_before {
            resume = Some(run_dir);
        } else {
            abandon(out, cell, &run_dir)?;
        }
    }
    // The attempt starts now: an old failure no longer describes the cell.
    match std::fs::remove_file(dir.join(STATUS_FILE)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(SweepError::io(&dir.join(STATUS_FILE))(e)),
    }
    let log_path = dir.join(LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(SweepError::io(&log_path))?;
    let log2 = log.try_clone().map_err(SweepError::io(&log_path))?;
    let mut c = Command::new(exe);
    c.arg("run");
    match &resume {
        Some(run_dir) => {
            c.arg("--resume").arg(run_dir);
        }
        None => {
            c.args(["--task", &cell.task, "--agent", &cell.agent])
                .arg("--seed")
                .arg(cell.seed.to_string())
                .arg("--max-steps")
                .arg(plan.max_steps.to_string())
                .arg("--out")
                .arg(&dir);
        }
    }
    c.args(&plan.run_args)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2);
    Ok(c)
}

/// Moves a run directory that will not be resumed out of the cell (kept for inspection).
fn abandon(out: &Path, cell: &Cell, run_dir: &Path) -> Result<(), SweepError> {
    let aside = out.join("abandoned");
    std::fs::create_dir_all(&aside).map_err(SweepError::io(&aside))?;
    for k in 0.. {
        let to = aside.join(format!("{}__attempt_{k}", cell.id));
        if !to.exists() {
            return std::fs::rename(run_dir, &to).map_err(SweepError::io(run_dir));
        }
    }
    Ok(())
}

/// Records how an attempt at `cell` ended (`exit_code` of `mlgym run`; `None` when it was
/// killed by a signal) and returns the cell's state.
pub fn record_exit(
    out: &Path,
    cell: &Cell,
    exit_code: Option<i32>,
) -> Result<CellState, SweepError> {
    let log = cell_dir(out, cell).join(LOG_FILE);
    let reason = match exit_code {
        Some(0) => "mlgym run exited 0 but the run is not finished".to_string(),
        Some(c) => format!("mlgym run exited with status {c}: {}", last_error(&log)),
        None => "mlgym run was killed by a signal".to_string(),
    };
    record(out, cell, exit_code, reason, log)
}

/// Records that `cell`'s attempt ended (complete if its run finished, else failed with
/// `reason`, its output in `log`) and returns the cell's state.
pub fn record(
    out: &Path,
    cell: &Cell,
    exit_code: Option<i32>,
    reason: String,
    log: PathBuf,
) -> Result<CellState, SweepError> {
    let dir = cell_dir(out, cell);
    std::fs::create_dir_all(&dir).map_err(SweepError::io(&dir))?;
    let complete = matches!(state(out, cell), CellState::Complete { .. });
    let status = CellStatus {
        state: if complete { "complete" } else { "failed" }.into(),
        exit_code,
        reason: if complete { String::new() } else { reason },
        run_dir: run_dir_of(&dir).map(|(d, _)| d),
        log,
        finished_at: crate::record::now(),
    };
    let file = dir.join(STATUS_FILE);
    crate::record::write_json(&file, &status, true).map_err(SweepError::io(&file))?;
    Ok(state(out, cell))
}

/// The last `error:` line of a log (what `mlgym run` printed when it failed), or a pointer
/// to the log.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| format!("see {}", log.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn setup() -> (tempfile::TempDir, Plan, Cell) {
        let out = tempfile::tempdir().unwrap();
        let plan = Plan {
            tasks: vec!["battleOfSexes".into()],
            agents: vec!["baseline".into()],
            runs: 1,
            seed: 3,
            max_steps: 4,
            run_args: vec!["--sandbox".into(), "landlock".into()],
        };
        let cell = plan.cells().remove(0);
        (out, plan, cell)
    }

    fn write_run(out: &Path, cell: &Cell, status: &str) -> PathBuf {
        let run = cell_dir(out, cell).join("baseline__battleOfSexes__baseline__seed-3__run_0");
        std::fs::create_dir_all(&run).unwrap();
        let meta = serde_json::json!({
            "task": "battleOfSexes", "agent": "baseline", "model": null, "seed": 3,
            "max_steps": 4, "status": status, "exit_status": null, "steps": 1, "scores": [],
            "model_stats": {}, "sandbox": {}, "gpus": [], "versions": {}, "baseline": {},
            "started_at": 0.0, "finished_at": null, "overhead_ms": {}
        });
        std::fs::write(run.join("run.json"), meta.to_string()).unwrap();
        run
    }

    fn args(c: &Command) -> Vec<String> {
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_fresh_cell_starts_a_run_into_its_folder() {
        let (out, plan, cell) = setup();
        assert_eq!(state(out.path(), &cell), CellState::Pending);
        let c = command(Path::new("/bin/mlgym"), out.path(), &plan, &cell).unwrap();
        let a = args(&c);
        assert_eq!(
            &a[..5],
            ["run", "--task", "battleOfSexes", "--agent", "baseline"]
        );
        assert!(a.windows(2).any(|w| w == ["--seed", "3"]));
        assert!(a.ends_with(&["--sandbox".to_string(), "landlock".to_string()]));
    }

    #[test]
    fn a_cut_off_run_is_resumed_and_a_finished_one_is_complete() {
        let (out, plan, cell) = setup();
        let run = write_run(out.path(), &cell, "running");
        assert_eq!(
            state(out.path(), &cell),
            CellState::Interrupted {
                run_dir: run.clone()
            }
        );
        let a = args(&command(Path::new("mlgym"), out.path(), &plan, &cell).unwrap());
        assert_eq!(a[1..3], ["--resume".to_string(), run.display().to_string()]);
        write_run(out.path(), &cell, "finished");
        assert!(matches!(
            state(out.path(), &cell),
            CellState::Complete { .. }
        ));
    }

    #[test]
    fn a_failed_attempt_is_recorded_and_its_retry_starts_afresh() {
        let (out, plan, cell) = setup();
        let run = write_run(out.path(), &cell, "running");
        let log = cell_dir(out.path(), &cell).join(LOG_FILE);
        std::fs::write(&log, "mlgym: task\nerror: the sandbox could not start\n").unwrap();
        let st = record_exit(out.path(), &cell, Some(2)).unwrap();
        match &st {
            CellState::Failed { reason, log: l } => {
                assert!(
                    reason.contains("status 2: the sandbox could not start"),
                    "{reason}"
                );
                assert_eq!(l, &log);
            }
            other => panic!("{other:?}"),
        }
        let a = args(&command(Path::new("mlgym"), out.path(), &plan, &cell).unwrap());
        assert_eq!(a[1], "--task");
        assert!(!run.exists());
        assert!(out
            .path()
            .join("abandoned/baseline__battleOfSexes__run_0__attempt_0")
            .is_dir());
        assert_eq!(state(out.path(), &cell), CellState::Pending);
    }
}
