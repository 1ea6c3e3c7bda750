//! How a sandboxed run ended: [`Outcome`].

use serde::{Deserialize, Serialize};

use crate::spec::Mode;

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    /// The command exited on its own.
    Exit,
    /// The command was killed by a signal that was not one of our limits.
    Signal,
    /// The wall-clock timeout expired.
    Timeout,
    /// A resource limit stopped it; see [`LimitKind`].
    Limit,
}

/// Which resource limit stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitKind {
    /// Memory (cgroup OOM kill).
    Memory,
    /// CPU seconds (SIGXCPU / SIGKILL from `RLIMIT_CPU`).
    Cpu,
    /// Number of processes.
    Pids,
    /// File size (SIGXFSZ from `RLIMIT_FSIZE`).
    Fsize,
    /// Output exceeded its cap.
    Output,
}

/// The record of one finished run (the `--json` contract of `mlgym sandbox exec`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Exit status when the command exited, else `None`.
    pub exit_code: Option<i32>,
    /// Terminating signal when the command was killed, else `None`.
    pub signal: Option<i32>,
    /// Why it ended.
    pub reason: EndReason,
    /// Which limit, when `reason` is `limit`.
    pub limit: Option<LimitKind>,
    /// The isolation mode used.
    pub mode: Mode,
    /// Wall-clock time from start to end, in milliseconds.
    pub wall_ms: f64,
    /// CPU time used by the command and its waited-for descendants, in milliseconds.
    pub cpu_ms: f64,
    /// Captured standard output (lossily decoded as UTF-8, capped).
    pub stdout: String,
    /// Captured standard error (lossily decoded as UTF-8, capped).
    pub stderr: String,
    /// Whether stdout was cut at the cap.
    pub stdout_truncated: bool,
    /// Whether stderr was cut at the cap.
    pub stderr_truncated: bool,
}

impl Outcome {
    /// The exit status a shell would report: the exit code, or 128 + signal.
    pub fn shell_status(&self) -> i32 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 125,
        }
    }

    /// Whether the command exited with status 0 on its own.
    pub fn success(&self) -> bool {
        self.reason == EndReason::Exit && self.exit_code == Some(0)
    }
}

/// Maps a raw end (exit code or signal) to the limit it indicates, if any.
pub(crate) fn limit_from_status(code: Option<i32>, signal: Option<i32>) -> Option<LimitKind> {
    let sig = signal.or_else(|| code.filter(|c| *c > 128 && *c < 128 + 65).map(|c| c - 128));
    match sig {
        Some(libc::SIGXCPU) => Some(LimitKind::Cpu),
        Some(libc::SIGXFSZ) => Some(LimitKind::Fsize),
        _ => None,
    }
}
