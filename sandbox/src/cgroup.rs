//! Per-run cgroups for memory and process limits (v1 or v2), when writable.
//!
//! A cgroup gives what rlimits cannot: a memory limit that counts real memory (and
//! works with CUDA, which reserves huge address ranges), an OOM-kill record so the
//! outcome can say `limit: memory`, and a process count shared by the whole sandbox.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::SandboxError;
use crate::probe::CgroupSupport;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One run's cgroup(s); removed on drop after killing anything left in them.
#[derive(Debug)]
pub struct Cgroup {
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    v2: bool,
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    std::fs::write(path, value)
        .map_err(|e| SandboxError::io(format!("writing `{value}` to {}", path.display()), e))
}

fn make_dir(parent: &Path, name: &str) -> Result<PathBuf, SandboxError> {
    let base = parent.join("mlgym");
    match std::fs::create_dir(&base) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(SandboxError::io(format!("creating {}", base.display()), e)),
    }
    let dir = base.join(name);
    std::fs::create_dir(&dir)
        .map_err(|e| SandboxError::io(format!("creating {}", dir.display()), e))?;
    Ok(dir)
}

/// Reads `key N` from a flat-keyed cgroup file (0 when absent).
fn read_key(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some(key))
                    .then(|| it.next().and_then(|v| v.parse().ok()))
                    .flatten()
            })
        })
        .unwrap_or(0)
}

impl Cgroup {
    /// Creates a cgroup with the given limits, or `None` when there is nothing to limit
    /// or no writable hierarchy.
    pub fn create(
        support: &CgroupSupport,
        memory: Option<u64>,
        pids: Option<u64>,
    ) -> Result<Option<Cgroup>, SandboxError> {
        if memory.is_none() && pids.is_none() {
            return Ok(None);
        }
        let name = format!(
            "run-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        match support {
            CgroupSupport::None => Ok(None),
            CgroupSupport::V1 {
                memory: mroot,
                pids: proot,
            } => {
                let mut cg = Cgroup {
                    memory: None,
                    pids: None,
                    v2: false,
                };
                if let Some(m) = memory {
                    let d = make_dir(mroot, &name)?;
                    cg.memory = Some(d.clone());
                    write(&d.join("memory.limit_in_bytes"), &m.to_string())?;
                    let memsw = d.join("memory.memsw.limit_in_bytes");
                    if memsw.exists() {
                        // Without this the cgroup would swap instead of hitting its limit.
                        write(&memsw, &m.to_string())?;
                    }
                }
                if let Some(p) = pids {
                    let d = make_dir(proot, &name)?;
                    cg.pids = Some(d.clone());
                    write(&d.join("pids.max"), &p.to_string())?;
                }
                Ok(Some(cg))
            }
            CgroupSupport::V2 { root } => {
                let base = root.join("mlgym");
                let _ = std::fs::create_dir(&base);
                let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory +pids");
                let _ = std::fs::write(base.join("cgroup.subtree_control"), "+memory +pids");
                let d = make_dir(root, &name)?;
                if let Some(m) = memory {
                    write(&d.join("memory.max"), &m.to_string())?;
                    let _ = std::fs::write(d.join("memory.swap.max"), "0");
                }
                if let Some(p) = pids {
                    write(&d.join("pids.max"), &p.to_string())?;
                }
                Ok(Some(Cgroup {
                    memory: Some(d.clone()),
                    pids: Some(d),
                    v2: true,
                }))
            }
        }
    }

    /// Moves `pid` (and so all its future children) into the cgroup.
    pub fn attach(&self, pid: i32) -> Result<(), SandboxError> {
        for d in self.dirs() {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn dirs(&self) -> Vec<&PathBuf> {
        let mut v: Vec<&PathBuf> = self.memory.iter().chain(self.pids.iter()).collect();
        v.dedup();
        v
    }

    /// How many processes of this cgroup the kernel OOM-killed so far.
    pub fn oom_kills(&self) -> u64 {
        match &self.memory {
            None => 0,
            Some(d) if self.v2 => read_key(&d.join("memory.events"), "oom_kill"),
            Some(d) => read_key(&d.join("memory.oom_control"), "oom_kill"),
        }
    }

    /// Whether the kernel OOM-killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        self.oom_kills() > 0
    }

    /// How many forks failed so far because the process limit was reached.
    pub fn pids_max_events(&self) -> u64 {
        match &self.pids {
            None => 0,
            Some(d) => read_key(&d.join("pids.events"), "max"),
        }
    }

    /// Whether a fork failed because the process limit was reached.
    pub fn pids_limit_hit(&self) -> bool {
        self.pids_max_events() > 0
    }

    /// SIGKILLs every process in the cgroup.
    pub fn kill_all(&self) {
        for d in self.dirs() {
            if self.v2 && std::fs::write(d.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            if let Ok(s) = std::fs::read_to_string(d.join("cgroup.procs")) {
                for pid in s.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: kill with integer arguments.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }

    /// Whether any process is still in the cgroup.
    pub fn is_empty(&self) -> bool {
        self.dirs().iter().all(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .map(|s| s.trim().is_empty())
                .unwrap_or(true)
        })
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..200 {
            if self.is_empty() {
                break;
            }
            self.kill_all();
            std::thread::yield_now();
        }
        for d in self.dirs() {
            let _ = std::fs::remove_dir(d);
        }
    }
}
