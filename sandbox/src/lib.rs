//! Runs untrusted agent code without Docker: user, mount, pid, net, ipc and uts
//! namespaces, a private root built from bind mounts, landlock, seccomp, rlimits and
//! cgroups — or, on hosts that block user namespaces, landlock + seccomp + rlimits.
//! See `ARCHITECTURE.md` for the design and its invariants.

pub mod init;
