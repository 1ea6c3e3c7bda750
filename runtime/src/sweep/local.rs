//! The local executor: runs a sweep's cells as concurrent `mlgym run` processes on this
//! machine, at most `parallel` at a time and never more GPUs at once than the host has.
//!
//! The sweep holds an exclusive `flock` on `<out>/sweep.lock` (which names its pid) and
//! hands the locked descriptor to every child, so the lock stays held until the sweep
//! *and* all its episodes are gone: a second sweep on the same directory, or a re-run
//! after a kill, never races a still-running episode. Children get `PR_SET_PDEATHSIG`
//! (killed when the sweep dies) and their own process group (Ctrl-C stops the sweep,
//! whose death then stops them; their cells stay resumable rather than failed).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use super::{cell, Cell, CellState, Counts, Plan, SweepError};

/// The lock file in a sweep directory.
pub const LOCK_FILE: &str = "sweep.lock";

/// How long a new sweep waits for the episodes of a killed one to go away.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Seconds an episode waits for a GPU that a process outside this sweep holds.
const GPU_WAIT_S: u64 = 600;

/// The held sweep lock.
pub struct SweepLock {
    file: File,
}

fn try_flock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a descriptor this function's caller owns.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

impl SweepLock {
    /// Locks sweep directory `out` for this process (waiting briefly for the episodes of a
    /// sweep that was just killed), and writes this pid into the lock file.
    pub fn acquire(out: &Path) -> Result<SweepLock, SweepError> {
        std::fs::create_dir_all(out).map_err(SweepError::io(out))?;
        let path = out.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(SweepError::io(&path))?;
        let start = Instant::now();
        while !try_flock(&file).map_err(SweepError::io(&path))? {
            if start.elapsed() > LOCK_WAIT {
                return Err(SweepError::Busy {
                    dir: out.to_path_buf(),
                    holder: holder(out).unwrap_or_else(|| "pid unknown".into()),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let stamp = format!("pid {}\n", std::process::id());
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(stamp.as_bytes()))
            .map_err(SweepError::io(&path))?;
        Ok(SweepLock { file })
    }
}

/// Who holds the lock of sweep directory `out` (`pid N`), when anyone does.
pub fn holder(out: &Path) -> Option<String> {
    let path = out.join(LOCK_FILE);
    let file = File::open(&path).ok()?;
    if try_flock(&file).ok()? {
        return None; // free (our probe lock goes with `file`)
    }
    let mut s = String::new();
    (&file).read_to_string(&mut s).ok()?;
    Some(s.trim().to_string())
}

/// The pid of the sweep holding `out`, for `--cancel`.
pub fn holder_pid(out: &Path) -> Option<i32> {
    holder(out)?.strip_prefix("pid ")?.trim().parse().ok()
}

/// How the local executor runs.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Episodes at a time.
    pub parallel: usize,
    /// GPUs this sweep may use at once (the host's count).
    pub gpu_budget: usize,
    /// Run cells whose last attempt failed (otherwise they are left as they are).
    pub retry_failed: bool,
}

/// GPUs a cell's episode leases: the task's declared count, capped at the budget (with
/// fewer GPUs, `--gpus auto` runs the task on what there is, or on the CPU).
fn gpu_need(cell: &Cell, budget: usize) -> usize {
    let want = mlgym_tasks::registry::get(&cell.task)
        .map(|t| t.def.gpus as usize)
        .unwrap_or(0);
    want.min(budget)
}

struct Running {
    cell: Cell,
    child: Child,
    gpus: usize,
    started: Instant,
}

/// The cells of `plan` that this sweep will run, with the states of all cells.
pub fn to_run(out: &Path, plan: &Plan, retry_failed: bool) -> (Vec<Cell>, Vec<CellState>) {
    let cells = plan.cells();
    let states: Vec<CellState> = cells.iter().map(|c| cell::state(out, c)).collect();
    let todo = cells
        .into_iter()
        .zip(&states)
        .filter(|(_, s)| match s {
            CellState::Complete { .. } => false,
            CellState::Failed { .. } => retry_failed,
            CellState::Interrupted { .. } | CellState::Pending => true,
        })
        .map(|(c, _)| c)
        .collect();
    (todo, states)
}

/// Runs the cells of `plan` that are not complete with `exe` (`mlgym`) and returns the
/// final counts. Single episodes failing is not an error; their cells are `failed`.
pub fn run(exe: &Path, out: &Path, plan: &Plan, opts: &LocalOptions) -> Result<Counts, SweepError> {
    let lock = SweepLock::acquire(out)?;
    let (todo, states) = to_run(out, plan, opts.retry_failed);
    let before = Counts::of(&states);
    let total = states.len();
    eprintln!(
        "sweep {}: {total} cells: {} complete, {} to run{}",
        out.display(),
        before.complete,
        todo.len(),
        if before.failed > 0 && !opts.retry_failed {
            format!(
                ", {} failed left alone (--retry-failed runs them again)",
                before.failed
            )
        } else {
            String::new()
        }
    );
    let mut queue: VecDeque<Cell> = todo.into();
    let mut running: Vec<Running> = Vec::new();
    let mut done = before.complete;
    let parallel = opts.parallel.max(1);
    loop {
        start_ready(
            exe,
            out,
            plan,
            opts,
            &lock,
            &mut queue,
            &mut running,
            parallel,
        )?;
        if running.is_empty() {
            break;
        }
        let mut finished = None;
        for (i, r) in running.iter_mut().enumerate() {
            if let Some(st) = r.child.try_wait().map_err(SweepError::io(out))? {
                finished = Some((i, st.code()));
                break;
            }
        }
        let Some((i, code)) = finished else {
            // Episodes take seconds to hours; a short poll costs nothing next to them.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let r = running.swap_remove(i);
        let state = cell::record_exit(out, &r.cell, code)?;
        let secs = r.started.elapsed().as_secs_f64();
        match &state {
            CellState::Complete { exit_status, .. } => {
                done += 1;
                eprintln!(
                    "[{done}/{total}] done    {} ({}, {secs:.1} s)",
                    r.cell.id,
                    exit_status.as_deref().unwrap_or("?")
                );
            }
            CellState::Failed { reason, log } => eprintln!(
                "[{done}/{total}] FAILED  {}: {reason} (log: {})",
                r.cell.id,
                log.display()
            ),
            other => eprintln!("[{done}/{total}] ?       {}: {other:?}", r.cell.id),
        }
    }
    drop(lock);
    let cells = plan.cells();
    Ok(Counts::of(
        &cells
            .iter()
            .map(|c| cell::state(out, c))
            .collect::<Vec<_>>(),
    ))
}

/// Starts queued cells while slots and GPUs are free (a cell that needs more GPUs than
/// are free waits; smaller ones behind it may go first).
#[allow(clippy::too_many_arguments)]
fn start_ready(
    exe: &Path,
    out: &Path,
    plan: &Plan,
    opts: &LocalOptions,
    lock: &SweepLock,
    queue: &mut VecDeque<Cell>,
    running: &mut Vec<Running>,
    parallel: usize,
) -> Result<(), SweepError> {
    while running.len() < parallel {
        let used: usize = running.iter().map(|r| r.gpus).sum();
        let free = opts.gpu_budget.saturating_sub(used);
        let Some(pos) = queue
            .iter()
            .position(|c| gpu_need(c, opts.gpu_budget) <= free)
        else {
            return Ok(());
        };
        let Some(c) = queue.remove(pos) else {
            return Ok(());
        };
        let gpus = gpu_need(&c, opts.gpu_budget);
        let mut cmd = cell::command(exe, out, plan, &c)?;
        if gpus > 0 && !plan.run_args.iter().any(|a| a.starts_with("--gpu-wait")) {
            cmd.arg("--gpu-wait").arg(GPU_WAIT_S.to_string());
        }
        tie_to_sweep(&mut cmd, lock);
        let child = cmd.spawn().map_err(|e| SweepError::Io {
            path: exe.to_path_buf(),
            source: e,
        })?;
        running.push(Running {
            cell: c,
            child,
            gpus,
            started: Instant::now(),
        });
    }
    Ok(())
}

/// Makes a child die with the sweep, share its lock, and leave the terminal's Ctrl-C to
/// the sweep (see the module docs).
fn tie_to_sweep(cmd: &mut std::process::Command, lock: &SweepLock) {
    let fd = lock.file.as_raw_fd();
    // SAFETY: getpid is async-signal-safe and called in the parent.
    let parent = unsafe { libc::getpid() };
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
    // functions (prctl, getppid, fcntl) on a descriptor the child inherited.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The sweep may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the sweep exited"));
            }
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The `mlgym` binary that runs cells: this executable.
pub fn current_exe() -> Result<PathBuf, SweepError> {
    std::env::current_exe().map_err(|e| SweepError::Io {
        path: PathBuf::from("/proc/self/exe"),
        source: e,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_sweep_directory_has_one_holder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let lock = SweepLock::acquire(dir.path()).unwrap();
        let me = std::process::id() as i32;
        assert_eq!(holder_pid(dir.path()), Some(me));
        drop(lock);
        assert_eq!(holder(dir.path()), None);
    }

    #[test]
    fn gpu_needs_are_capped_by_the_budget() {
        let plan = Plan {
            tasks: vec!["battleOfSexes".into()],
            agents: vec!["baseline".into()],
            runs: 1,
            seed: 0,
            max_steps: 1,
            run_args: vec![],
        };
        let c = &plan.cells()[0];
        assert_eq!(gpu_need(c, 0), 0);
        assert_eq!(gpu_need(c, 8), 0);
    }
}
