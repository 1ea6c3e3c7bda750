//! The Slurm executor: one job array per group of cells with the same GPU and time needs,
//! submitted with `sbatch --array=<cell indices> --parsable`; every array element runs
//! `mlgym sweep --out DIR --exec-cell $SLURM_ARRAY_TASK_ID` (one grid cell, one
//! `mlgym run`) on the shared filesystem. States come from the cells' own records, from
//! `squeue` while elements are queued or running, and from `sacct` (when accounting is
//! available) for elements that ended without a record (time limit, node failure).
//!
//! `<out>/slurm/` holds `job.sh`, `jobs.json` (every submission: job id and cell indices)
//! and Slurm's output per element, `<job id>_<cell index>.log`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{cell, Cell, CellState, Plan, SweepError};

/// The Slurm folder of a sweep directory.
pub const SLURM_DIR: &str = "slurm";
/// The submissions file in it.
pub const JOBS_FILE: &str = "jobs.json";

/// One `sbatch` submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Slurm's job id of the array.
    pub job_id: String,
    /// The cell indices = the array indices.
    pub cells: Vec<usize>,
    /// GPUs per element (`--gres=gpu:N`).
    pub gpus: u32,
    /// Time limit per element, minutes.
    pub time_minutes: u64,
}

/// How cells are submitted.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// Elements of one array running at a time (`%K`), 0 = no limit.
    pub parallel: usize,
    /// Time limit per element in minutes; `None`: 30 + 3 × the task's training timeout.
    pub time_minutes: Option<u64>,
    /// Further `sbatch` arguments (`--partition=...`, `--account=...`, `--mem=...`).
    pub sbatch_args: Vec<String>,
}

/// The time limit of a task's episode in minutes: a margin plus three training runs.
pub fn time_minutes(task: &str, opts: &SlurmOptions) -> u64 {
    if let Some(m) = opts.time_minutes {
        return m.max(1);
    }
    let training = mlgym_tasks::registry::get(task)
        .map(|t| t.def.training_timeout)
        .unwrap_or(1800);
    30 + (3 * training).div_ceil(60)
}

fn gpus_of(task: &str) -> u32 {
    mlgym_tasks::registry::get(task)
        .map(|t| t.def.gpus)
        .unwrap_or(0)
}

/// Quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn slurm_dir(out: &Path) -> PathBuf {
    out.join(SLURM_DIR)
}

/// Runs a Slurm command and returns its stdout, or an error with its stderr.
fn slurm(cmd: &mut Command) -> Result<String, SweepError> {
    let line = format!("{cmd:?}").replace('"', "");
    let o = cmd.output().map_err(|e| SweepError::Slurm {
        command: line.clone(),
        problem: format!("{e}; is Slurm installed and on PATH?"),
    })?;
    if !o.status.success() {
        return Err(SweepError::Slurm {
            command: line,
            problem: format!(
                "{}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The submissions recorded in `out`.
pub fn load_jobs(out: &Path) -> Result<Vec<Submission>, SweepError> {
    let file = slurm_dir(out).join(JOBS_FILE);
    match std::fs::read(&file) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| SweepError::Corrupt {
            path: file,
            problem: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(SweepError::io(&file)(e)),
    }
}

/// Submits `cells` (one array per GPU count and time limit) to run `exe`
/// (`mlgym`, which must be reachable from the compute nodes, like `out`). Returns the new
/// submissions, also appended to `jobs.json`.
pub fn submit(
    exe: &Path,
    out: &Path,
    cells: &[Cell],
    opts: &SlurmOptions,
) -> Result<Vec<Submission>, SweepError> {
    let dir = slurm_dir(out);
    std::fs::create_dir_all(&dir).map_err(SweepError::io(&dir))?;
    let out_abs = std::path::absolute(out).map_err(SweepError::io(out))?;
    let script = dir.join("job.sh");
    let body = format!(
        "#!/bin/sh\n# mlgym sweep: one grid cell (array index = cell index) per array element.\n\
         exec {} sweep --out {} --exec-cell \"$SLURM_ARRAY_TASK_ID\"\n",
        shell_quote(&exe.to_string_lossy()),
        shell_quote(&out_abs.to_string_lossy())
    );
    crate::record::atomic_write(&script, body.as_bytes(), true).map_err(SweepError::io(&script))?;
    let mut groups: BTreeMap<(u32, u64), Vec<usize>> = BTreeMap::new();
    for c in cells {
        let key = (gpus_of(&c.task), time_minutes(&c.task, opts));
        groups.entry(key).or_default().push(c.index);
    }
    let mut jobs = load_jobs(out)?;
    let mut new = Vec::new();
    for ((gpus, minutes), indices) in groups {
        let mut array = indices
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        if opts.parallel > 0 {
            array.push_str(&format!("%{}", opts.parallel));
        }
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable")
            .arg(format!("--array={array}"))
            .arg(format!("--job-name=mlgym-sweep-{}", dir_name(&out_abs)))
            .arg(format!(
                "--output={}",
                dir.join("%A_%a.log").to_string_lossy()
            ))
            .arg(format!("--time={minutes}"))
            .arg(format!("--chdir={}", out_abs.to_string_lossy()));
        if gpus > 0 {
            cmd.arg(format!("--gres=gpu:{gpus}"));
        }
        cmd.args(&opts.sbatch_args).arg(&script);
        let stdout = slurm(&mut cmd)?;
        // `--parsable` prints `<job id>` or `<job id>;<cluster>`.
        let job_id = stdout
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SweepError::Slurm {
                command: "sbatch --parsable".into(),
                problem: format!("unexpected output {stdout:?} (expected a job id)"),
            });
        }
        let s = Submission {
            job_id,
            cells: indices,
            gpus,
            time_minutes: minutes,
        };
        jobs.push(s.clone());
        let file = dir.join(JOBS_FILE);
        crate::record::write_json(&file, &jobs, true).map_err(SweepError::io(&file))?;
        new.push(s);
    }
    Ok(new)
}

fn dir_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into())
}

/// The queue state (`PENDING`, `RUNNING`, ...) of every element of `jobs` still in the
/// queue, by cell index (the latest submission wins).
pub fn queued(jobs: &[Submission]) -> Result<BTreeMap<usize, String>, SweepError> {
    let mut out = BTreeMap::new();
    if jobs.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    let text = slurm(
        Command::new("squeue")
            .args(["-h", "-r", "-o", "%i|%T", "-j"])
            .arg(ids.join(",")),
    )?;
    for line in text.lines() {
        if let Some((index, state)) = parse_element(line) {
            out.insert(index, state);
        }
    }
    Ok(out)
}

/// `<job>_<index>|<STATE>` → (index, state).
fn parse_element(line: &str) -> Option<(usize, String)> {
    let (id, state) = line.trim().split_once('|')?;
    let (_, index) = id.split_once('_')?;
    Some((index.parse().ok()?, state.trim().to_string()))
}

/// What `sacct` says about elements that left the queue (empty when accounting is off).
pub fn accounted(jobs: &[Submission]) -> BTreeMap<usize, String> {
    let mut out = BTreeMap::new();
    if jobs.is_empty() {
        return out;
    }
    let ids: Vec<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    let Ok(text) = slurm(
        Command::new("sacct")
            .args(["-n", "-P", "-X", "-o", "JobID,State", "-j"])
            .arg(ids.join(",")),
    ) else {
        return out;
    };
    for line in text.lines() {
        if let Some((index, state)) = parse_element(line) {
            out.insert(index, state);
        }
    }
    out
}

/// The Slurm log of the latest element that ran `cell`.
pub fn element_log(out: &Path, jobs: &[Submission], cell: usize) -> Option<PathBuf> {
    let job = jobs.iter().rev().find(|j| j.cells.contains(&cell))?;
    Some(slurm_dir(out).join(format!("{}_{cell}.log", job.job_id)))
}

/// Marks the cells whose elements left the queue without a record of their own (killed
/// by Slurm: time limit, memory, node failure) as failed, with the Slurm log. Returns how
/// many were marked.
pub fn mark_lost(
    out: &Path,
    plan: &Plan,
    jobs: &[Submission],
    queue: &BTreeMap<usize, String>,
) -> Result<usize, SweepError> {
    let submitted: std::collections::BTreeSet<usize> =
        jobs.iter().flat_map(|j| j.cells.iter().copied()).collect();
    let acct = accounted(jobs);
    let mut n = 0;
    for c in plan.cells() {
        if !submitted.contains(&c.index) || queue.contains_key(&c.index) {
            continue;
        }
        if matches!(
            cell::state(out, &c),
            CellState::Interrupted { .. } | CellState::Pending
        ) {
            let how = acct
                .get(&c.index)
                .map(|s| format!(" (sacct: {s})"))
                .unwrap_or_default();
            let log = element_log(out, jobs, c.index)
                .unwrap_or_else(|| cell::cell_dir(out, &c).join(cell::LOG_FILE));
            cell::record(
                out,
                &c,
                None,
                format!("the Slurm job element ended without finishing the run{how}"),
                log,
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// Cancels every submission of the sweep (`scancel`).
pub fn cancel(jobs: &[Submission]) -> Result<(), SweepError> {
    if jobs.is_empty() {
        return Ok(());
    }
    slurm(Command::new("scancel").args(jobs.iter().map(|j| j.job_id.as_str())))?;
    Ok(())
}

/// Waits until no element of `jobs` is queued or running, printing the counts when they
/// change; polls `squeue` every `poll`.
pub fn wait(
    out: &Path,
    plan: &Plan,
    jobs: &[Submission],
    poll: Duration,
) -> Result<(), SweepError> {
    let mut last = String::new();
    loop {
        let queue = queued(jobs)?;
        let states: Vec<CellState> = plan.cells().iter().map(|c| cell::state(out, c)).collect();
        let counts = super::Counts::of(&states);
        let running = queue.values().filter(|s| s.as_str() == "RUNNING").count();
        let line = format!(
            "slurm: {} complete, {} failed, {running} running, {} queued",
            counts.complete,
            counts.failed,
            queue.len() - running
        );
        if line != last {
            eprintln!("{line}");
            last = line;
        }
        if queue.is_empty() {
            return Ok(());
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn squeue_and_sacct_lines_map_to_cells() {
        assert_eq!(parse_element("123_4|RUNNING"), Some((4, "RUNNING".into())));
        assert_eq!(
            parse_element(" 9_12|FAILED \n"),
            Some((12, "FAILED".into()))
        );
        assert_eq!(parse_element("123|PENDING"), None);
        assert_eq!(parse_element("123_[4-7]|PENDING"), None);
    }

    #[test]
    fn time_limits_follow_the_task_or_the_option() {
        let auto = SlurmOptions::default();
        let t = mlgym_tasks::registry::get("battleOfSexes").unwrap();
        assert_eq!(
            time_minutes("battleOfSexes", &auto),
            30 + (3 * t.def.training_timeout).div_ceil(60)
        );
        let fixed = SlurmOptions {
            time_minutes: Some(7),
            ..SlurmOptions::default()
        };
        assert_eq!(time_minutes("battleOfSexes", &fixed), 7);
    }

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
