//! The private protocol between the parent and the sandbox helper (pid 1).
//!
//! The parent writes one [`InitConfig`] as JSON on fd [`FD_CONFIG`] and closes it. The
//! helper answers with JSON lines ([`Report`]) on fd [`FD_REPORT`]. The parent sends
//! single-byte [`Control`] messages on fd [`FD_CONTROL`]; end-of-file there means the
//! parent is gone, and the helper then kills everything and exits.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::spec::{Limits, Mode, Mount, NetPolicy};

/// The helper reads its configuration here.
pub const FD_CONFIG: i32 = 3;
/// The helper writes its reports here.
pub const FD_REPORT: i32 = 4;
/// The parent sends control bytes here.
pub const FD_CONTROL: i32 = 5;
/// Session mode: command ids for the shell (the helper relays them).
pub const FD_SESSION_IN: i32 = 6;
/// Session mode: the shell's status records, straight to the parent.
pub const FD_SESSION_STATUS: i32 = 7;

/// The argument that makes a binary act as the sandbox helper.
pub const INIT_ARG: &str = "__mlgym-sandbox-init";

/// Everything the helper needs; paths are already canonical.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitConfig {
    /// The isolation mode to set up.
    pub mode: Mode,
    /// The command line (`argv[0]` resolved against `PATH` inside).
    pub argv: Vec<String>,
    /// The complete environment of the command.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub workdir: PathBuf,
    /// Read-write paths.
    pub read_write: Vec<PathBuf>,
    /// Read-only paths (the system directories are added by the helper).
    pub read_only: Vec<PathBuf>,
    /// Hidden paths.
    pub hidden: Vec<PathBuf>,
    /// Remapped mounts (mode `full`).
    pub mounts: Vec<Mount>,
    /// Network policy.
    pub net: NetPolicy,
    /// Limits (wall-clock and output are enforced by the parent).
    pub limits: Limits,
    /// Whether the memory limit is enforced by a cgroup (then no `RLIMIT_AS`).
    pub memory_by_cgroup: bool,
    /// GPU minor numbers to expose.
    pub gpus: Vec<u32>,
    /// Full mode: an empty host directory to build the new root on.
    pub root_dir: PathBuf,
    /// Landlock mode: the private temporary directory (also `TMPDIR`).
    pub private_tmp: Option<PathBuf>,
    /// Session mode: run the session shell loop instead of `argv` once.
    pub session: bool,
    /// `RLIMIT_NPROC` to set (already adjusted for the mode).
    pub nproc: Option<u64>,
    /// Whether the helper must watch the process count itself (no pids cgroup).
    pub watch_pids: bool,
}

/// One line the helper reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// The command was started (its exec succeeded).
    Started {
        /// Landlock status, e.g. `"fully enforced (ABI 7)"`.
        landlock: String,
    },
    /// Setup failed before the command could start.
    SetupError {
        /// What failed.
        message: String,
        /// The command itself was not found (exit 127 semantics).
        not_found: bool,
    },
    /// The command ended.
    Exited {
        /// Exit code, if it exited.
        code: Option<i32>,
        /// Signal, if it was killed.
        signal: Option<i32>,
        /// CPU milliseconds of the command and its descendants.
        cpu_ms: f64,
        /// The helper stopped it because the process limit was reached.
        pids_limit_hit: bool,
    },
    /// Session mode: the process limit was reached; the current command was stopped.
    PidsLimit {
        /// Processes killed.
        killed: u32,
    },
    /// Session mode: how many processes an interrupt killed.
    Interrupted {
        /// Processes killed.
        killed: u32,
    },
}

/// Control messages, one byte each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Session: record the process watermark, then hand the next command to the shell
    /// (the command id follows on the same fd, NUL-terminated).
    Begin,
    /// Session: kill the current command's processes and interrupt the shell.
    Interrupt,
    /// Kill everything and exit.
    Kill,
}

impl Control {
    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Control::Begin => b'B',
            Control::Interrupt => b'I',
            Control::Kill => b'K',
        }
    }

    /// Parses a wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'B' => Some(Control::Begin),
            b'I' => Some(Control::Interrupt),
            b'K' => Some(Control::Kill),
            _ => None,
        }
    }
}
