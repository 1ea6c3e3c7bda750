//! What this host supports, decided once per process: landlock ABI, user namespaces,
//! writable cgroups, and therefore which mode `auto` picks.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use crate::error::SandboxError;
use crate::spec::{Mode, ModeRequest};

/// Writable cgroup controllers usable for memory and process limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "version")]
pub enum CgroupSupport {
    /// No writable cgroup hierarchy (limits fall back to rlimits).
    None,
    /// cgroup v1 `memory` and `pids` hierarchies.
    V1 {
        /// Mount point of the memory controller.
        memory: PathBuf,
        /// Mount point of the pids controller.
        pids: PathBuf,
    },
    /// The unified (v2) hierarchy.
    V2 {
        /// Mount point.
        root: PathBuf,
    },
}

/// The host's capabilities (the `--json` contract of `mlgym sandbox check`).
#[derive(Clone, Debug, Serialize)]
pub struct HostSupport {
    /// The mode `auto` would use, or `null` when none is available.
    pub mode: Option<Mode>,
    /// Landlock ABI version the kernel offers (0 = unavailable).
    pub landlock_abi: u32,
    /// Whether user namespaces with working capabilities can be created.
    pub user_namespaces: bool,
    /// Writable cgroups.
    pub cgroups: CgroupSupport,
    /// Whether the caller is root (the sandbox then maps its root to uid 100000).
    pub caller_is_root: bool,
    /// One sentence per decision: why each feature is or is not used.
    pub reasons: Vec<String>,
}

impl HostSupport {
    /// Picks the mode for `req`, or explains why it cannot be honoured.
    pub fn resolve(&self, req: ModeRequest) -> Result<Mode, SandboxError> {
        match req {
            ModeRequest::UnsafeNone => Ok(Mode::None),
            ModeRequest::Full if self.user_namespaces => Ok(Mode::Full),
            ModeRequest::Full => Err(SandboxError::ModeUnavailable {
                mode: "full",
                why: self.reasons.join("; "),
            }),
            ModeRequest::Landlock if self.landlock_abi >= 1 => Ok(Mode::Landlock),
            ModeRequest::Landlock => Err(SandboxError::ModeUnavailable {
                mode: "landlock",
                why: "the kernel offers no landlock ABI".into(),
            }),
            ModeRequest::Auto => self
                .mode
                .ok_or_else(|| SandboxError::NoSandbox(self.reasons.join("; "))),
        }
    }
}

static SUPPORT: OnceLock<HostSupport> = OnceLock::new();

/// The host's capabilities (probed on first use, then cached).
pub fn host_support() -> &'static HostSupport {
    SUPPORT.get_or_init(probe)
}

fn probe() -> HostSupport {
    let mut reasons = Vec::new();
    let landlock_abi = landlock_abi();
    if landlock_abi == 0 {
        reasons.push(
            "landlock: not offered by the kernel (needs Linux 5.13+ with landlock in the LSM list)"
                .into(),
        );
    } else {
        reasons.push(format!("landlock: ABI {landlock_abi}"));
    }
    let user_namespaces = match userns_works() {
        Ok(()) => {
            reasons.push("user namespaces: can be created and have capabilities inside".into());
            true
        }
        Err(why) => {
            reasons.push(format!("user namespaces: unusable ({why})"));
            false
        }
    };
    let cgroups = cgroup_support();
    match &cgroups {
        CgroupSupport::None => reasons.push(
            "cgroups: no writable memory/pids controller (memory is limited by RLIMIT_AS; \
             memory-limit kills are then reported as the program's own failure)"
                .into(),
        ),
        CgroupSupport::V1 { .. } => {
            reasons.push("cgroups: v1 memory and pids controllers are writable".into())
        }
        CgroupSupport::V2 { .. } => reasons.push("cgroups: v2 hierarchy is writable".into()),
    }
    let mode = if user_namespaces {
        reasons
            .push("mode: full (namespaces + private root + landlock + seccomp + rlimits)".into());
        Some(Mode::Full)
    } else if landlock_abi >= 1 {
        reasons.push("mode: landlock (no user namespaces; landlock + seccomp + rlimits)".into());
        Some(Mode::Landlock)
    } else {
        reasons.push(
            "mode: none available; agent code will not run without --unsafe-no-sandbox".into(),
        );
        None
    };
    HostSupport {
        mode,
        landlock_abi,
        user_namespaces,
        cgroups,
        caller_is_root: crate::sys::euid() == 0,
        reasons,
    }
}

/// The kernel's landlock ABI version, 0 when unavailable.
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: landlock_create_ruleset with a null attribute and the VERSION flag only
    // returns a number.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        0
    } else {
        v as u32
    }
}

/// Tries the real thing: a child in new user, mount, pid and net namespaces that must be
/// able to change mount propagation (fails under AppArmor's userns restriction).
fn userns_works() -> Result<(), String> {
    use nix::sched::CloneFlags;
    let (r, w) = crate::sys::pipe().map_err(|e| e.to_string())?;
    let rfd = std::os::fd::AsRawFd::as_raw_fd(&r);
    let mut stack = vec![0u8; 64 * 1024];
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET;
    let child = move || -> isize {
        let mut b = [0u8; 1];
        // SAFETY: only async-signal-safe calls between clone and _exit.
        unsafe {
            libc::read(rfd, b.as_mut_ptr().cast(), 1);
            libc::syscall(libc::SYS_setresgid, 0, 0, 0);
            libc::syscall(libc::SYS_setresuid, 0, 0, 0);
            let r = libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            );
            libc::_exit(if r == 0 { 0 } else { 3 });
        }
    };
    // SAFETY: the child only performs async-signal-safe calls (see above).
    let pid = unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| format!("clone with CLONE_NEWUSER failed: {e}"))?;
    let pid = pid.as_raw();
    let uid = crate::sys::euid();
    let gid = crate::sys::egid();
    let host = if uid == 0 {
        crate::sys::SANDBOX_HOST_ID
    } else {
        uid
    };
    let hostg = if uid == 0 {
        crate::sys::SANDBOX_HOST_ID
    } else {
        gid
    };
    let maps = (|| -> std::io::Result<()> {
        std::fs::write(
            format!("/proc/{pid}/setgroups"),
            if uid == 0 { "allow" } else { "deny" },
        )?;
        std::fs::write(format!("/proc/{pid}/uid_map"), format!("0 {host} 1"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), format!("0 {hostg} 1"))?;
        Ok(())
    })();
    let mut wf = std::fs::File::from(w);
    let _ = std::io::Write::write_all(&mut wf, b"x");
    drop(wf);
    drop(r);
    let status = crate::sys::wait_pid(pid);
    if let Err(e) = maps {
        return Err(format!("writing the uid/gid map failed: {e}"));
    }
    match status {
        Some(s) if libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0 => Ok(()),
        Some(_) => Err("a namespaced process has no capabilities (e.g. AppArmor's \
                        apparmor_restrict_unprivileged_userns)"
            .into()),
        None => Err("could not wait for the probe process".into()),
    }
}

fn writable(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: access() with a valid C string.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn cgroup_support() -> CgroupSupport {
    let v1_mem = Path::new("/sys/fs/cgroup/memory");
    let v1_pids = Path::new("/sys/fs/cgroup/pids");
    if v1_mem.join("memory.limit_in_bytes").exists()
        && v1_pids.join("cgroup.procs").exists()
        && writable(v1_mem)
        && writable(v1_pids)
    {
        return CgroupSupport::V1 {
            memory: v1_mem.to_path_buf(),
            pids: v1_pids.to_path_buf(),
        };
    }
    let v2 = Path::new("/sys/fs/cgroup");
    if let Ok(ctl) = std::fs::read_to_string(v2.join("cgroup.controllers")) {
        let has = |c: &str| ctl.split_whitespace().any(|x| x == c);
        if has("memory") && has("pids") && writable(v2) {
            return CgroupSupport::V2 {
                root: v2.to_path_buf(),
            };
        }
    }
    CgroupSupport::None
}
