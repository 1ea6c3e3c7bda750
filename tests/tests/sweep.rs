//! `mlgym sweep` end to end: a local sweep of 3 game-theory tasks × 2 runs with
//! `--parallel 2` that ends with a report, is killed halfway and re-run (only the missing
//! runs run), survives a failing episode, and the same through a real Slurm when `sbatch`
//! is on PATH (scripts/ci/slurm.sh sets one up).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mlgym_tests::*;

const TASKS: &str = "battleOfSexes,prisonersDilemma,blotto";

/// Run directories of the sweep's cells, with their `run.json` start times.
fn runs(out: &Path) -> Vec<(PathBuf, f64, String)> {
    let mut v = Vec::new();
    for cell in std::fs::read_dir(out.join("cells")).unwrap() {
        let cell = cell.unwrap().path();
        for run in std::fs::read_dir(&cell).unwrap() {
            let run = run.unwrap().path();
            let Ok(b) = std::fs::read(run.join("run.json")) else {
                continue;
            };
            let m: serde_json::Value = serde_json::from_slice(&b).unwrap();
            v.push((
                run,
                m["started_at"].as_f64().unwrap(),
                m["status"].as_str().unwrap().to_string(),
            ));
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn status(out: &Path) -> serde_json::Value {
    run_json(&[
        "sweep",
        "--out",
        out.to_str().unwrap(),
        "--status",
        "--json",
    ])
}

fn state_count(st: &serde_json::Value, state: &str) -> usize {
    st["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == state)
        .count()
}

#[test]
fn a_killed_local_sweep_completes_only_the_missing_runs() {
    let dir = tempdir();
    let out = dir.path().join("sweep");
    let o = out.to_str().unwrap();
    let grid = [
        "sweep",
        "--tasks",
        TASKS,
        "--agents",
        "baseline",
        "--runs",
        "2",
        "--parallel",
        "2",
        "--out",
        o,
    ];
    // First attempt: killed (SIGKILL) as soon as the first episode has finished.
    let mut child = Command::new(mlgym())
        .args(grid)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("] done") {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    let first = status(&out);
    let done_before = state_count(&first, "complete");
    assert!(
        (1..6).contains(&done_before),
        "the kill came after the first episode and before the last: {first}\n{seen:#?}"
    );
    let before: Vec<_> = runs(&out)
        .into_iter()
        .filter(|r| r.2 == "finished")
        .collect();
    assert_eq!(before.len(), done_before);

    // The re-run: only the missing runs run; the finished ones are left as they were.
    let again = Command::new(mlgym()).args(grid).output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "6 cells: {done_before} complete, {} to run",
            6 - done_before
        )),
        "{err}"
    );
    let after = runs(&out);
    assert_eq!(after.len(), 6, "one run directory per cell: {after:#?}");
    assert!(after.iter().all(|r| r.2 == "finished"), "{after:#?}");
    for b in &before {
        assert!(after.contains(b), "{b:?} was run again");
    }
    // The report over the cells.
    let report = out.join("report");
    assert!(report.join("report.html").is_file() && report.join("report.json").is_file());
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    let text = rep.to_string();
    for t in ["battleOfSexes", "prisonersDilemma", "blotto"] {
        assert!(text.contains(t), "report lacks {t}");
    }
    assert!(
        text.contains("baseline-agent"),
        "report lacks the sweep's agent"
    );

    // A third run has nothing left to do.
    let third = Command::new(mlgym()).args(grid).output().unwrap();
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(err.contains("6 cells: 6 complete, 0 to run"), "{err}");
    assert_eq!(runs(&out), after);
}

#[test]
fn a_failing_episode_is_reported_and_the_others_finish() {
    let dir = tempdir();
    let out = dir.path().join("sweep");
    let o = out.to_str().unwrap();
    let missing = dir.path().join("no-such-trajectory.jsonl");
    let agents = format!("baseline,replay:{}", missing.display());
    let args = [
        "sweep",
        "--tasks",
        "battleOfSexes",
        "--agents",
        &agents,
        "--parallel",
        "2",
        "--out",
        o,
        "--json",
    ];
    let r = Command::new(mlgym()).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "some cell failed: {err}");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["counts"]["complete"], 1, "{v}");
    assert_eq!(v["counts"]["failed"], 1, "{v}");
    let failed = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "failed")
        .unwrap();
    let log = PathBuf::from(failed["log"].as_str().unwrap());
    assert!(log.is_file(), "{failed}");
    assert!(
        err.contains("failed: replay-") && err.contains("no-such-trajectory"),
        "the failure names the cell and the cause: {err}"
    );
    // Re-running leaves the failed cell alone unless asked.
    let again = Command::new(mlgym()).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("1 complete, 0 to run, 1 failed left alone"),
        "{err}"
    );
    let retry = Command::new(mlgym())
        .args(args)
        .arg("--retry-failed")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&retry.stderr);
    assert!(err.contains("1 complete, 1 to run"), "{err}");
}

#[test]
fn a_different_grid_in_the_same_directory_is_refused() {
    let dir = tempdir();
    let o = dir.path().join("s");
    let o = o.to_str().unwrap();
    let base = [
        "sweep",
        "--tasks",
        "battleOfSexes",
        "--agents",
        "baseline",
        "--out",
        o,
    ];
    let r = Command::new(mlgym()).args(base).output().unwrap();
    assert!(r.status.success());
    let r = Command::new(mlgym())
        .args(base)
        .args(["--runs", "3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        err.contains("sweep.json") && err.contains("runs 1 there"),
        "{err}"
    );
    let r = Command::new(mlgym())
        .args([
            "sweep", "--tasks", "nope", "--agents", "baseline", "--out", o,
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&r.stderr).contains("--tasks"));
}

/// Why there is no Slurm to submit to, or `None` when `sbatch` is on PATH and a
/// controller answers `sinfo`.
fn no_slurm() -> Option<String> {
    if Command::new("sbatch").arg("--version").output().is_err() {
        return Some("sbatch is not on PATH".into());
    }
    match Command::new("sinfo").arg("-h").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "sbatch is on PATH but no Slurm controller answers (sinfo: {})",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Err(e) => Some(format!("sinfo: {e}")),
    }
}

#[test]
fn a_slurm_sweep_runs_job_arrays_and_reports_a_failing_element() {
    if let Some(why) = no_slurm() {
        assert!(
            std::env::var_os("MLGYM_REQUIRE_SLURM").is_none(),
            "MLGYM_REQUIRE_SLURM is set but {why}"
        );
        eprintln!("skipped: {why} (scripts/ci/slurm.sh starts a one-node Slurm)");
        return;
    }
    // Slurm's nodes read the sweep directory: keep it where the daemons can (MLGYM_SLURM_DIR
    // on a shared filesystem for multi-node clusters).
    let base = std::env::var_os("MLGYM_SLURM_DIR").map(PathBuf::from);
    let dir = match &base {
        Some(b) => {
            use std::os::unix::fs::PermissionsExt;
            let d = tempfile::tempdir_in(b).unwrap();
            // The sandbox's unprivileged uid must traverse it (as with `tempdir()`).
            let mode = std::fs::Permissions::from_mode(0o755);
            std::fs::set_permissions(d.path(), mode).unwrap();
            d
        }
        None => tempdir(),
    };
    let out = dir.path().join("sweep");
    let o = out.to_str().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let agents = format!("baseline,replay:{}", missing.display());
    let r = Command::new(mlgym())
        .args([
            "sweep",
            "--tasks",
            "battleOfSexes,blotto",
            "--agents",
            &agents,
            "--executor",
            "slurm",
            "--poll",
            "1",
            "--time-limit",
            "10",
            "--out",
            o,
            "--json",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "two cells fail on purpose: {err}");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["counts"]["complete"], 2, "{v}\n{err}");
    assert_eq!(v["counts"]["failed"], 2, "{v}\n{err}");
    assert!(err.contains("slurm: submitted job"), "{err}");
    // Each failing element is reported with its Slurm log, which holds the episode's error.
    for c in v["cells"].as_array().unwrap() {
        if c["state"] == "failed" {
            let log = std::fs::read_to_string(c["log"].as_str().unwrap()).unwrap_or_default();
            assert!(log.contains("missing.jsonl"), "{c}: {log}");
        }
    }
    assert!(out.join("report/report.html").is_file());
    let st = status(&out);
    assert_eq!(st["slurm_jobs"].as_array().unwrap().len(), 1, "{st}");
    // Re-submitting only what failed.
    let r = Command::new(mlgym())
        .args([
            "sweep",
            "--out",
            o,
            "--executor",
            "slurm",
            "--poll",
            "1",
            "--retry-failed",
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["counts"]["failed"], 2, "{v}");
    let st = status(&out);
    let jobs = st["slurm_jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{st}");
    assert_eq!(jobs[1]["cells"].as_array().unwrap().len(), 2, "{st}");
}
