//! Exclusive GPU leases: parallel `mlgym` processes and sweeps never share a GPU.
//!
//! A lease is one exclusive `flock` per GPU on `<lease dir>/<uuid>.lock` (see [`lock`]).
//! The kernel releases it when the holder exits or dies, so there is no stale state to
//! clean up. Before a GPU is leased its free memory is measured: a GPU that another
//! program fills (less than [`LeaseOptions::min_free_fraction`] free) counts as busy.
//!
//! The lease directory is, in order: `$MLGYM_LEASE_DIR`; `/run/mlgym/gpu-leases` for
//! root; `$XDG_RUNTIME_DIR/mlgym/gpu-leases`; `/tmp/mlgym-gpu-leases-<uid>`. Every process
//! that must not share GPUs has to use the same directory: on a host where several users
//! run mlgym, point all of them at one directory (mode 1777) with `MLGYM_LEASE_DIR`.
//!
//! Flow: parse a [`GpuRequest`], resolve it against the host's [`Inventory`] with
//! [`plan`], then [`acquire`] the planned devices (waiting up to [`LeaseOptions::wait`]).
//! The returned [`GpuLease`] holds the locks until it is dropped. [`held_by_this_process`]
//! tells in-process users (the RL evaluator) which GPUs this process holds.

mod lock;
mod request;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::gpu::{GpuDevice, Inventory};
pub use lock::Holder;
use lock::LockFile;
pub use request::{plan, DeviceSelector, GpuRequest, Plan, Want};

/// The environment variable naming the lease directory.
pub const LEASE_DIR_ENV: &str = "MLGYM_LEASE_DIR";

/// Why GPUs could not be leased. Every message names the devices and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The request does not parse.
    #[error("GPU request `{value}`: {problem}")]
    Parse {
        /// The request as written.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// GPUs were asked for explicitly but the host has none.
    #[error("GPU request `{request}` cannot be met: this host has no GPU: {reason}")]
    NoGpus {
        /// The request.
        request: String,
        /// Why discovery found none.
        reason: String,
    },
    /// More GPUs than the host has.
    #[error(
        "GPU request `{request}` asks for {wanted} GPUs but this host has {host}; ask for \
         fewer, or run on a larger host"
    )]
    NotEnough {
        /// The request.
        request: String,
        /// How many it asks for.
        wanted: usize,
        /// The host's devices.
        host: String,
    },
    /// A listed device does not exist.
    #[error(
        "GPU request `{request}`: there is no GPU {selector}: this host has {host}; list \
         indices or UUIDs that `mlgym gpus` shows (use any:N for N GPUs of any index)"
    )]
    NoSuchDevice {
        /// The request.
        request: String,
        /// The missing device.
        selector: String,
        /// The host's devices.
        host: String,
    },
    /// The devices stayed busy for the whole wait.
    #[error(
        "GPU request `{request}`: not enough free GPUs after waiting {waited_s:.0} s: {details}; \
         wait longer (mlgym run --gpu-wait SECONDS) or see `mlgym gpus`"
    )]
    Busy {
        /// The request.
        request: String,
        /// Seconds waited.
        waited_s: f64,
        /// Each unavailable device and why.
        details: String,
    },
    /// The lease directory cannot be created or used.
    #[error(
        "GPU lease directory {}: {source}; set {LEASE_DIR_ENV} to a writable directory \
         shared by every mlgym process on this host", path.display()
    )]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A lock file cannot be opened or locked.
    #[error(
        "GPU lock file {}: {source}; make it readable and writable for this user, or set \
         {LEASE_DIR_ENV} to a directory shared by every mlgym process on this host",
        path.display()
    )]
    Lock {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The lease directory from the environment (see the module docs).
pub fn default_lease_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    lease_dir_from(|k| std::env::var(k).ok(), euid)
}

/// The lease directory for an environment `env` and effective uid `euid`.
pub fn lease_dir_from(env: impl Fn(&str) -> Option<String>, euid: u32) -> PathBuf {
    if let Some(d) = env(LEASE_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if euid == 0 {
        return PathBuf::from("/run/mlgym/gpu-leases");
    }
    if let Some(x) = env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Path::new(&x).join("mlgym/gpu-leases");
    }
    PathBuf::from(format!("/tmp/mlgym-gpu-leases-{euid}"))
}

/// How to lease.
#[derive(Clone, Debug)]
pub struct LeaseOptions {
    /// The lease directory (created when missing).
    pub dir: PathBuf,
    /// How long to wait for busy GPUs; zero fails at once.
    pub wait: Duration,
    /// A GPU with less free memory than this fraction of its total counts as busy.
    pub min_free_fraction: f64,
    /// What the GPUs are for, recorded for `mlgym gpus`.
    pub purpose: String,
    /// How often to retry while waiting.
    pub poll: Duration,
}

impl LeaseOptions {
    /// Options with the default directory, no wait, at least half the memory free.
    pub fn new(purpose: impl Into<String>) -> Self {
        LeaseOptions {
            dir: default_lease_dir(),
            wait: Duration::ZERO,
            min_free_fraction: 0.5,
            purpose: purpose.into(),
            poll: Duration::from_millis(50),
        }
    }
}

/// Leased GPUs; dropping the lease releases them.
#[derive(Debug)]
pub struct GpuLease {
    devices: Vec<GpuDevice>,
    locks: Vec<LockFile>,
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static HELD: Mutex<Vec<(u64, Vec<GpuDevice>)>> = Mutex::new(Vec::new());

impl GpuLease {
    /// A lease of no GPU.
    pub fn none() -> Self {
        GpuLease {
            devices: Vec::new(),
            locks: Vec::new(),
            id: 0,
        }
    }

    fn new(devices: Vec<GpuDevice>, locks: Vec<LockFile>) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut held) = HELD.lock() {
            held.push((id, devices.clone()));
        }
        GpuLease { devices, locks, id }
    }

    /// The leased devices.
    pub fn devices(&self) -> &[GpuDevice] {
        &self.devices
    }

    /// Whether no GPU is leased.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// The lock files held (one per device).
    pub fn lock_files(&self) -> Vec<PathBuf> {
        self.locks.iter().map(|l| l.path().to_path_buf()).collect()
    }

    /// Releases the GPUs now (the same as dropping the lease).
    pub fn release(self) {}
}

impl Drop for GpuLease {
    fn drop(&mut self) {
        if let Ok(mut held) = HELD.lock() {
            held.retain(|(id, _)| *id != self.id);
        }
    }
}

/// The GPUs that live leases of this process hold, in lease order. In-process users (the
/// RL evaluator, the PPO baseline) use this to find the GPU they may run on.
pub fn held_by_this_process() -> Vec<GpuDevice> {
    HELD.lock()
        .map(|h| h.iter().flat_map(|(_, d)| d.iter().cloned()).collect())
        .unwrap_or_default()
}

/// The lock file of `device` in `dir`.
pub fn lock_path(dir: &Path, device: &GpuDevice) -> PathBuf {
    let safe: String = device
        .uuid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.lock"))
}

fn ensure_dir(dir: &Path) -> Result<(), LeaseError> {
    std::fs::create_dir_all(dir).map_err(|source| LeaseError::Dir {
        path: dir.to_path_buf(),
        source,
    })
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

/// Why `device` could not be taken, for [`LeaseError::Busy`].
fn busy_reason(dir: &Path, device: &GpuDevice) -> String {
    match lease_state(&lock_path(dir, device)) {
        LeaseState::Leased {
            pid,
            holder: Some(h),
        } => format!(
            "GPU {} is leased by pid {pid} ({})",
            device.index, h.purpose
        ),
        LeaseState::Leased { pid, holder: None } => {
            format!("GPU {} is leased by pid {pid}", device.index)
        }
        _ => format!("GPU {} is leased by another process", device.index),
    }
}

/// Tries once to take `device`: `Ok(Ok(lock))`, or `Ok(Err(why it is busy))`.
fn try_take(
    inv: &Inventory,
    device: &GpuDevice,
    opts: &LeaseOptions,
) -> Result<Result<LockFile, String>, LeaseError> {
    let path = lock_path(&opts.dir, device);
    let lock = LockFile::try_acquire(&path).map_err(|source| LeaseError::Lock {
        path: path.clone(),
        source,
    })?;
    let Some(mut lock) = lock else {
        return Ok(Err(busy_reason(&opts.dir, device)));
    };
    // Measured under the lock: other mlgym processes cannot be starting on it now, so a
    // full GPU means some other program is using it.
    match inv.free_memory_now(device) {
        Ok(Some(free)) if device.memory_total > 0 => {
            let frac = free as f64 / device.memory_total as f64;
            if frac < opts.min_free_fraction {
                return Ok(Err(format!(
                    "GPU {} has only {:.1} of {:.1} GiB free (another program is using it)",
                    device.index,
                    gib(free),
                    gib(device.memory_total)
                )));
            }
        }
        Ok(_) => {}
        Err(e) => return Ok(Err(format!("GPU {}: {e}", device.index))),
    }
    lock.write_holder(&Holder {
        pid: std::process::id(),
        purpose: opts.purpose.clone(),
        since: now_s(),
    });
    Ok(Ok(lock))
}

/// Leases what `want` asks for, waiting up to `opts.wait` for busy GPUs. A partial set is
/// never kept while waiting, so two waiters cannot deadlock on each other's halves.
pub fn acquire(
    inv: &Inventory,
    want: &Want,
    request: &GpuRequest,
    opts: &LeaseOptions,
) -> Result<GpuLease, LeaseError> {
    let (candidates, needed): (Vec<&GpuDevice>, usize) = match want {
        Want::Nothing => return Ok(GpuLease::none()),
        Want::Count(n) => (inv.devices.iter().collect(), *n),
        Want::Devices(ix) => {
            let mut c = Vec::new();
            for i in ix {
                match inv.by_index(*i) {
                    Some(d) => c.push(d),
                    None => {
                        return Err(LeaseError::NoSuchDevice {
                            request: request.to_string(),
                            selector: i.to_string(),
                            host: request::host_summary(inv),
                        })
                    }
                }
            }
            let n = c.len();
            (c, n)
        }
    };
    if needed == 0 {
        return Ok(GpuLease::none());
    }
    ensure_dir(&opts.dir)?;
    let start = Instant::now();
    loop {
        let mut taken: Vec<(GpuDevice, LockFile)> = Vec::new();
        let mut reasons = Vec::new();
        for d in &candidates {
            if taken.len() == needed {
                break;
            }
            match try_take(inv, d, opts)? {
                Ok(lock) => taken.push(((*d).clone(), lock)),
                Err(why) => {
                    reasons.push(why);
                    if matches!(want, Want::Devices(_)) {
                        break;
                    }
                }
            }
        }
        if taken.len() == needed {
            let (devices, locks) = taken.into_iter().unzip();
            return Ok(GpuLease::new(devices, locks));
        }
        drop(taken);
        let waited = start.elapsed();
        if waited >= opts.wait {
            return Err(LeaseError::Busy {
                request: request.to_string(),
                waited_s: waited.as_secs_f64(),
                details: reasons.join("; "),
            });
        }
        std::thread::sleep(opts.poll.min(opts.wait - waited));
    }
}

/// Whether a device is leased now.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseState {
    /// Nobody holds it.
    Free,
    /// A process holds it.
    Leased {
        /// The holder's pid (from its `/proc/<pid>/fdinfo`, else `/proc/locks`).
        pid: u32,
        /// What the holder recorded, when it matches that pid.
        holder: Option<Holder>,
    },
    /// Could not tell (e.g. `/proc/locks` is unreadable).
    Unknown(String),
}

/// The lease state of each device of `inv` in `dir`, without disturbing any leaser.
pub fn status(inv: &Inventory, dir: &Path) -> Vec<(GpuDevice, LeaseState)> {
    inv.devices
        .iter()
        .map(|d| (d.clone(), lease_state(&lock_path(dir, d))))
        .collect()
}

/// The state of one lock file: who holds it ([`lock::held_by`]) and, when the recorded
/// holder is that process, what it recorded.
fn lease_state(path: &Path) -> LeaseState {
    match lock::held_by(path) {
        Ok(None) => LeaseState::Free,
        Ok(Some((pid, holder))) => LeaseState::Leased { pid, holder },
        Err(e) => LeaseState::Unknown(format!("reading /proc/locks: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::gpu::{fake, Source};

    fn host(devices: Vec<GpuDevice>) -> Inventory {
        Inventory {
            devices,
            source: Source::Fake,
            driver_version: None,
            note: None,
        }
    }

    fn opts(dir: &Path) -> LeaseOptions {
        LeaseOptions {
            dir: dir.to_path_buf(),
            ..LeaseOptions::new("unit test")
        }
    }

    #[test]
    fn lease_dir_follows_the_documented_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(a, _)| *a == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            lease_dir_from(
                env(&[("MLGYM_LEASE_DIR", "/x"), ("XDG_RUNTIME_DIR", "/r")]),
                0
            ),
            PathBuf::from("/x")
        );
        assert_eq!(
            lease_dir_from(env(&[("XDG_RUNTIME_DIR", "/r")]), 0),
            PathBuf::from("/run/mlgym/gpu-leases")
        );
        assert_eq!(
            lease_dir_from(env(&[("XDG_RUNTIME_DIR", "/run/user/7")]), 7),
            PathBuf::from("/run/user/7/mlgym/gpu-leases")
        );
        assert_eq!(
            lease_dir_from(env(&[]), 7),
            PathBuf::from("/tmp/mlgym-gpu-leases-7")
        );
    }

    #[test]
    fn two_leases_in_one_process_get_different_devices_and_release_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let inv = host((0..2).map(fake::fake_device).collect());
        let req = GpuRequest::Any(1);
        let a = acquire(&inv, &Want::Count(1), &req, &opts(dir.path())).unwrap();
        let b = acquire(&inv, &Want::Count(1), &req, &opts(dir.path())).unwrap();
        assert_ne!(a.devices()[0].uuid, b.devices()[0].uuid);
        let held = held_by_this_process();
        assert!(held.iter().any(|d| d.uuid == a.devices()[0].uuid));
        let e = acquire(&inv, &Want::Count(1), &req, &opts(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("leased by pid") && e.contains("unit test"),
            "{e}"
        );
        let st = status(&inv, dir.path());
        assert!(st
            .iter()
            .all(|(_, s)| matches!(s, LeaseState::Leased { .. })));
        let gone = a.devices()[0].uuid.clone();
        drop(a);
        assert!(!held_by_this_process().iter().any(|d| d.uuid == gone));
        let c = acquire(&inv, &Want::Count(1), &req, &opts(dir.path())).unwrap();
        assert_eq!(c.devices()[0].uuid, gone);
        drop((b, c));
        assert!(status(&inv, dir.path())
            .iter()
            .all(|(_, s)| *s == LeaseState::Free));
    }

    #[test]
    fn a_gpu_that_another_program_fills_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut full = fake::fake_device(0);
        full.memory_free = Some(full.memory_total / 10);
        let inv = host(vec![full, fake::fake_device(1)]);
        let l = acquire(
            &inv,
            &Want::Count(1),
            &GpuRequest::Any(1),
            &opts(dir.path()),
        )
        .unwrap();
        assert_eq!(l.devices()[0].index, 1);
        let e = acquire(
            &inv,
            &Want::Devices(vec![0]),
            &"0".parse().unwrap(),
            &opts(dir.path()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("GPU 0 has only 8.0 of 80.0 GiB free"), "{e}");
    }

    #[test]
    fn an_unusable_lease_directory_names_the_variable() {
        let inv = host(vec![fake::fake_device(0)]);
        let o = LeaseOptions {
            dir: PathBuf::from("/proc/mlgym-cannot-exist"),
            ..LeaseOptions::new("t")
        };
        let e = acquire(&inv, &Want::Count(1), &GpuRequest::Any(1), &o)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/proc/mlgym-cannot-exist") && e.contains(LEASE_DIR_ENV),
            "{e}"
        );
    }
}
