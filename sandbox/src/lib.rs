//! Runs untrusted agent code without Docker: user, mount, pid, net, ipc and uts
//! namespaces, a private root built from bind mounts, landlock, seccomp, rlimits and
//! cgroups — or, on hosts that block user namespaces, landlock + seccomp + rlimits.
//!
//! Three ways to run: [`run`] (one-shot, captured output), [`Child`] (piped stdin and
//! stdout, for line protocols), [`Session`] (a persistent shell). The mode is decided
//! per run from [`SandboxSpec::mode`] and [`host_support`], and recorded in every
//! outcome. See `ARCHITECTURE.md` for the design and its invariants.

mod cgroup;
mod error;
pub mod init;
mod launch;
mod oneshot;
mod outcome;
mod probe;
mod session;
mod spec;
mod sys;
mod wire;

pub use error::SandboxError;
pub use oneshot::{run, Child};
pub use outcome::{EndReason, LimitKind, Outcome};
pub use probe::{host_support, landlock_abi, CgroupSupport, HostSupport};
pub use session::{CommandOutput, Session};
pub use spec::{
    Limits, Mode, ModeRequest, Mount, NetPolicy, OutputPolicy, SandboxSpec, SYSTEM_DIRS,
};
pub use sys::{give_to_sandbox, SANDBOX_HOST_ID};
