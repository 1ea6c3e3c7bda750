//! What a sandbox may see and use: [`SandboxSpec`] and its parts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// Network policy inside the sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetPolicy {
    /// No network at all: not even loopback.
    #[default]
    None,
    /// A private loopback interface (processes inside can talk to each other), nothing
    /// else; the host's loopback is unreachable. Needs mode `full`.
    Loopback,
}

impl std::str::FromStr for NetPolicy {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(NetPolicy::None),
            "loopback" => Ok(NetPolicy::Loopback),
            other => Err(SandboxError::InvalidSpec(format!(
                "network policy `{other}` is not one of: none, loopback"
            ))),
        }
    }
}

/// Which isolation layer to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeRequest {
    /// The strongest mode this host supports; refuse to run when none is.
    #[default]
    Auto,
    /// Namespaces + private root + landlock + seccomp + rlimits (+ cgroups when writable).
    Full,
    /// Landlock + seccomp + rlimits, for hosts that block unprivileged user namespaces.
    Landlock,
    /// No confinement at all. Only for `--unsafe-no-sandbox`; logged loudly.
    UnsafeNone,
}

/// The isolation mode a sandbox actually ran with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// See [`ModeRequest::Full`].
    Full,
    /// See [`ModeRequest::Landlock`].
    Landlock,
    /// Unconfined (explicitly requested).
    None,
}

impl Mode {
    /// The name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Landlock => "landlock",
            Mode::None => "none",
        }
    }
}

/// Resource limits. `None` means "no limit from us" (the host's limits still apply).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory in bytes: a memory cgroup when one is writable, else `RLIMIT_AS`
    /// (address space), except on GPU runs where an address-space limit breaks CUDA.
    pub memory_bytes: Option<u64>,
    /// CPU seconds per process (`RLIMIT_CPU`; SIGXCPU at the limit, SIGKILL a second later).
    pub cpu_seconds: Option<u64>,
    /// Processes (and threads) inside the sandbox, including its helper.
    pub processes: Option<u64>,
    /// Largest file a process may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: Option<u64>,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
    /// Wall-clock limit of a one-shot run, or the default per-command timeout of a session.
    pub wall: Option<Duration>,
    /// Bytes of stdout and of stderr kept (each); see [`OutputPolicy`].
    pub output_bytes: u64,
    /// Size of the private `/tmp` (mode `full`), in bytes.
    pub tmp_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: None,
            cpu_seconds: None,
            processes: Some(1024),
            file_size_bytes: None,
            open_files: Some(4096),
            wall: None,
            output_bytes: 1 << 20,
            tmp_bytes: 1 << 30,
        }
    }
}

/// What happens when a command writes more than [`Limits::output_bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputPolicy {
    /// Stop the command; the outcome's reason is `limit` with limit `output`.
    #[default]
    Kill,
    /// Keep draining and discard the excess; the output is marked truncated.
    Truncate,
}

/// A host path shown inside the sandbox under another name (mode `full` only; in other
/// modes `inside` must equal `host`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The path on the host.
    pub host: PathBuf,
    /// Where it appears inside.
    pub inside: PathBuf,
    /// Whether it is writable inside.
    pub writable: bool,
}

/// Everything a sandboxed process may see and use.
///
/// Paths keep their host names inside the sandbox (a workspace at `/x/ws` is `/x/ws`
/// inside too), so the same paths work in every mode. Every listed path must exist:
/// a missing one is an error, never a silently dropped rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Paths readable and writable inside.
    pub read_write: Vec<PathBuf>,
    /// Paths readable (and executable) but not writable inside, in addition to the
    /// system directories (`/usr`, `/etc`, `/bin`, `/lib`, ...).
    pub read_only: Vec<PathBuf>,
    /// Paths that must not be visible inside, even when under a listed path.
    pub hidden: Vec<PathBuf>,
    /// Host paths shown under other names inside (mode `full` only).
    pub mounts: Vec<Mount>,
    /// Environment variables passed through from the caller's environment (by name).
    pub env_passthrough: Vec<String>,
    /// Environment variables set explicitly (after the pass-through ones).
    pub env: Vec<(String, String)>,
    /// Working directory of the command (must be inside a read-write or read-only path).
    pub workdir: PathBuf,
    /// Network policy.
    pub net: NetPolicy,
    /// Resource limits.
    pub limits: Limits,
    /// Output-cap behaviour.
    pub output_policy: OutputPolicy,
    /// GPUs (NVIDIA minor numbers) visible inside; empty means none.
    pub gpus: Vec<u32>,
    /// Which isolation mode to use.
    pub mode: ModeRequest,
}

impl SandboxSpec {
    /// A spec that runs in `workdir` (read-write) with default limits, no network and no
    /// other paths.
    pub fn new(workdir: impl Into<PathBuf>) -> Self {
        let workdir = workdir.into();
        SandboxSpec {
            read_write: vec![workdir.clone()],
            read_only: Vec::new(),
            hidden: Vec::new(),
            mounts: Vec::new(),
            env_passthrough: Vec::new(),
            env: Vec::new(),
            workdir,
            net: NetPolicy::None,
            limits: Limits::default(),
            output_policy: OutputPolicy::Kill,
            gpus: Vec::new(),
            mode: ModeRequest::Auto,
        }
    }

    /// Adds a read-write path.
    pub fn rw(mut self, p: impl Into<PathBuf>) -> Self {
        self.read_write.push(p.into());
        self
    }

    /// Adds a read-only path.
    pub fn ro(mut self, p: impl Into<PathBuf>) -> Self {
        self.read_only.push(p.into());
        self
    }

    /// Adds a hidden path.
    pub fn hide(mut self, p: impl Into<PathBuf>) -> Self {
        self.hidden.push(p.into());
        self
    }

    /// Sets an environment variable.
    pub fn env_var(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, m: ModeRequest) -> Self {
        self.mode = m;
        self
    }

    /// Checks the spec against the filesystem and itself, and returns it with every path
    /// made absolute and free of symlinks.
    pub fn validated(&self) -> Result<SandboxSpec, SandboxError> {
        let mut out = self.clone();
        out.read_write = canonical_all(&self.read_write, "read-write")?;
        out.read_only = canonical_all(&self.read_only, "read-only")?;
        out.hidden = canonical_all(&self.hidden, "hidden")?;
        for m in &mut out.mounts {
            m.host = canonical(&m.host, "mounted")?;
            if !m.inside.is_absolute()
                || m.inside
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(SandboxError::InvalidSpec(format!(
                    "mount target {} must be an absolute path without `..`",
                    m.inside.display()
                )));
            }
            if ["/proc", "/dev", "/sys"]
                .iter()
                .any(|d| m.inside.starts_with(d))
                || SYSTEM_DIRS.iter().any(|d| m.inside.starts_with(d))
            {
                return Err(SandboxError::InvalidSpec(format!(
                    "mount target {} would shadow a system directory",
                    m.inside.display()
                )));
            }
        }
        let in_mount = out
            .mounts
            .iter()
            .any(|m| self.workdir.starts_with(&m.inside));
        if in_mount {
            // The working directory is named as seen inside; it need not exist on the host.
            if !self.workdir.is_absolute() {
                return Err(SandboxError::InvalidSpec(format!(
                    "working directory {} must be absolute",
                    self.workdir.display()
                )));
            }
            out.workdir = self.workdir.clone();
        } else {
            out.workdir = canonical(&self.workdir, "working directory")?;
        }
        if !in_mount && !out.workdir.is_dir() {
            return Err(SandboxError::InvalidSpec(format!(
                "working directory {} is not a directory",
                out.workdir.display()
            )));
        }
        let visible = out.read_write.iter().chain(out.read_only.iter());
        let in_visible = visible.clone().any(|p| out.workdir.starts_with(p))
            || in_mount
            || SYSTEM_DIRS.iter().any(|d| out.workdir.starts_with(d));
        if !in_visible {
            return Err(SandboxError::InvalidSpec(format!(
                "working directory {} is not inside any read-write or read-only path",
                out.workdir.display()
            )));
        }
        if out.hidden.iter().any(|h| out.workdir.starts_with(h)) {
            return Err(SandboxError::InvalidSpec(format!(
                "working directory {} is inside a hidden path",
                out.workdir.display()
            )));
        }
        for p in out.read_write.iter().chain(out.read_only.iter()) {
            if p == Path::new("/") {
                return Err(SandboxError::InvalidSpec(
                    "`/` cannot be shared with the sandbox; list the directories it needs".into(),
                ));
            }
        }
        let l = &out.limits;
        if l.memory_bytes == Some(0) {
            return Err(SandboxError::InvalidSpec(
                "memory limit must be above 0".into(),
            ));
        }
        if l.cpu_seconds == Some(0) {
            return Err(SandboxError::InvalidSpec(
                "CPU-seconds limit must be above 0".into(),
            ));
        }
        if l.processes == Some(0) {
            return Err(SandboxError::InvalidSpec(
                "process limit must be above 0".into(),
            ));
        }
        if l.open_files.is_some_and(|n| n < 8) {
            return Err(SandboxError::InvalidSpec(
                "open-files limit must be at least 8 (the helper needs a few)".into(),
            ));
        }
        if l.wall == Some(Duration::ZERO) {
            return Err(SandboxError::InvalidSpec("timeout must be above 0".into()));
        }
        if let Some(m) = l.memory_bytes {
            if m < 8 << 20 {
                return Err(SandboxError::InvalidSpec(format!(
                    "memory limit of {m} bytes is too small to start a process; use at least 8 MB"
                )));
            }
        }
        for (k, _) in &out.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(SandboxError::InvalidSpec(format!(
                    "environment variable name `{k}` is invalid"
                )));
            }
        }
        Ok(out)
    }
}

/// System directories shared read-only in every mode (those that exist on the host).
pub const SYSTEM_DIRS: &[&str] = &["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32"];

fn canonical(p: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    std::fs::canonicalize(p).map_err(|e| SandboxError::PathNotFound {
        what: what.to_string(),
        path: p.to_path_buf(),
        source: e,
    })
}

fn canonical_all(ps: &[PathBuf], what: &str) -> Result<Vec<PathBuf>, SandboxError> {
    ps.iter()
        .map(|p| canonical(p, &format!("{what} path")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let spec = SandboxSpec::new(d.path()).ro("/definitely/not/here");
        let err = spec.validated().unwrap_err().to_string();
        assert!(err.contains("/definitely/not/here"), "{err}");
        assert!(err.contains("read-only"), "{err}");
    }

    #[test]
    fn impossible_limits_are_rejected() {
        let d = tempfile::tempdir().unwrap();
        let mut spec = SandboxSpec::new(d.path());
        spec.limits.memory_bytes = Some(1000);
        assert!(spec.validated().unwrap_err().to_string().contains("memory"));
        let mut spec = SandboxSpec::new(d.path());
        spec.limits.processes = Some(0);
        assert!(spec
            .validated()
            .unwrap_err()
            .to_string()
            .contains("process"));
    }

    #[test]
    fn workdir_must_be_visible() {
        let d = tempfile::tempdir().unwrap();
        let e = tempfile::tempdir().unwrap();
        let mut spec = SandboxSpec::new(d.path());
        spec.workdir = e.path().to_path_buf();
        assert!(spec
            .validated()
            .unwrap_err()
            .to_string()
            .contains("not inside"));
    }
}
