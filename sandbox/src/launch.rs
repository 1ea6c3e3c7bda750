//! Parent side of starting a sandbox: namespaces, uid maps, cgroup, and the hand-over to
//! the helper (which becomes pid 1 of the sandbox in mode `full`).
//!
//! Between `clone` and `execve` the child runs only async-signal-safe system calls, so
//! this is safe from a multi-threaded caller (tests, servers).

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::error::SandboxError;
use crate::probe::{host_support, CgroupSupport};
use crate::spec::{Mode, NetPolicy, SandboxSpec};
use crate::sys::{self, SANDBOX_HOST_ID};
use crate::wire::{
    InitConfig, Report, FD_CONFIG, FD_CONTROL, FD_REPORT, FD_SESSION_STATUS, INIT_ARG,
};

/// How the command's stdin is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdinMode {
    /// `/dev/null`.
    Null,
    /// A pipe the caller writes to.
    Pipe,
}

/// A started sandbox: the helper's pid and every descriptor the parent keeps.
#[derive(Debug)]
pub(crate) struct Launched {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub stdin: Option<File>,
    pub stdout: File,
    pub stderr: Option<File>,
    pub report: File,
    pub control: Option<File>,
    pub status: Option<File>,
    pub mode: Mode,
    pub landlock: String,
    pub cgroup: Option<Cgroup>,
    pub started: Instant,
    pub private_tmp: Option<PathBuf>,
    pub reaped: bool,
}

impl Launched {
    /// Kills the sandbox and everything in it (idempotent).
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        match self.mode {
            // The kernel kills the whole pid namespace with its init.
            Mode::Full => sys::pidfd_kill(&self.pidfd, libc::SIGKILL),
            // No pid namespace: the helper kills its descendants, then exits.
            Mode::Landlock | Mode::None => {
                if let Some(c) = self.control.as_mut() {
                    let _ = sys::write_all(c, &[crate::wire::Control::Kill.byte()]);
                }
                let r = sys::poll_in(&[self.pidfd.as_raw_fd()], Some(Duration::from_secs(5)));
                if !matches!(r.as_deref(), Ok([x]) if *x != 0) {
                    sys::pidfd_kill(&self.pidfd, libc::SIGKILL);
                }
            }
        }
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
    }

    /// Waits for the helper to exit and reaps it.
    pub fn reap(&mut self) {
        if !self.reaped {
            sys::wait_pid(self.pid);
            self.reaped = true;
        }
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        if !self.reaped {
            // Closing the control pipe tells the helper to kill everything and exit.
            self.control = None;
            self.kill();
            self.reap();
        }
        self.cgroup = None;
        if let Some(t) = self.private_tmp.take() {
            let _ = std::fs::remove_dir_all(t);
        }
    }
}

/// Where the helper binary is and whether this process serves as it.
fn locate_init() -> Result<PathBuf, SandboxError> {
    if let Some(p) = std::env::var_os("MLGYM_SANDBOX_INIT") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(SandboxError::InitNotFound(format!(
                "MLGYM_SANDBOX_INIT={} is not a file",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe()
        .map_err(|e| SandboxError::InitNotFound(format!("current executable unknown: {e}")))?;
    if crate::init::self_is_init_capable() {
        return Ok(exe);
    }
    let mut dirs = Vec::new();
    if let Some(d) = exe.parent() {
        dirs.push(d.to_path_buf());
        if let Some(up) = d.parent() {
            dirs.push(up.to_path_buf());
        }
    }
    for d in &dirs {
        let cand = d.join("mlgym-sandbox-init");
        if cand.is_file() {
            return Ok(cand);
        }
    }
    Err(SandboxError::InitNotFound(format!(
        "looked for mlgym-sandbox-init in {}",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// An empty directory the helper mounts its private root on (inside its own mount
/// namespace, so the host never sees the mount). Created once and reused.
fn root_dir() -> Result<PathBuf, SandboxError> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let uid = sys::euid();
        let base = if uid == 0 {
            PathBuf::from("/run/mlgym-sandbox-root")
        } else if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
            PathBuf::from(x).join("mlgym-sandbox-root")
        } else {
            std::env::temp_dir().join(format!("mlgym-sandbox-root-{uid}"))
        };
        let _ = std::fs::create_dir(&base);
        let ok = std::fs::symlink_metadata(&base)
            .map(|m| m.is_dir() && !m.file_type().is_symlink() && m.uid() == uid)
            .unwrap_or(false);
        if !ok {
            return Err(format!(
                "{} exists but is not a directory owned by us",
                base.display()
            ));
        }
        let _ = std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755));
        Ok(base)
    })
    .clone()
    .map_err(SandboxError::Setup)
}

fn make_private_tmp(root: bool) -> Result<PathBuf, SandboxError> {
    let mut tmpl = std::env::temp_dir()
        .join("mlgym-sbx-tmp-XXXXXX")
        .into_os_string()
        .into_encoded_bytes();
    tmpl.push(0);
    // SAFETY: mkdtemp on a NUL-terminated mutable template buffer.
    let p = unsafe { libc::mkdtemp(tmpl.as_mut_ptr().cast()) };
    if p.is_null() {
        return Err(SandboxError::last_os("creating the sandbox's private /tmp"));
    }
    tmpl.pop();
    let dir =
        PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(tmpl));
    if root {
        std::os::unix::fs::chown(&dir, Some(SANDBOX_HOST_ID), Some(SANDBOX_HOST_ID)).map_err(
            |e| SandboxError::io(format!("handing {} to the sandbox", dir.display()), e),
        )?;
    }
    Ok(dir)
}

fn processes_of(uid: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(d) = std::fs::read_dir("/proc") else {
        return 0;
    };
    d.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| e.metadata().map(|m| m.uid() == uid).unwrap_or(false))
        .count() as u64
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn environment(spec: &SandboxSpec, tmp: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), spec.workdir.to_string_lossy().into_owned()),
        ("LANG".into(), "C.UTF-8".into()),
        ("TMPDIR".into(), tmp.to_string_lossy().into_owned()),
    ];
    let mut set = |k: &str, v: String| {
        env.retain(|(kk, _)| kk != k);
        env.push((k.to_string(), v));
    };
    for name in &spec.env_passthrough {
        if let Ok(v) = std::env::var(name) {
            set(name, v);
        }
    }
    if !spec.gpus.is_empty() {
        set("CUDA_DEVICE_ORDER", "PCI_BUS_ID".into());
        set(
            "CUDA_VISIBLE_DEVICES",
            spec.gpus
                .iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    for (k, v) in &spec.env {
        set(k, v.clone());
    }
    env
}

/// Starts `argv` (or, with `session`, the session shell) in a sandbox described by
/// `spec`, and waits until the command has been exec'd.
pub(crate) fn launch(
    spec: &SandboxSpec,
    argv: &[String],
    session: bool,
    stdin_mode: StdinMode,
) -> Result<Launched, SandboxError> {
    if !session && argv.is_empty() {
        return Err(SandboxError::EmptyCommand);
    }
    let spec = spec.validated()?;
    let support = host_support();
    let mode = support.resolve(spec.mode)?;
    if mode != Mode::Full && spec.net == NetPolicy::Loopback {
        return Err(SandboxError::ModeUnavailable {
            mode: "landlock",
            why: "a private loopback network needs network namespaces (mode full); use --net none"
                .into(),
        });
    }
    if mode != Mode::Full && spec.mounts.iter().any(|m| m.host != m.inside) {
        return Err(SandboxError::ModeUnavailable {
            mode: "landlock",
            why: "showing a path under another name needs a mount namespace (mode full)".into(),
        });
    }
    let init_path = locate_init()?;
    let caller_root = sys::euid() == 0;
    if caller_root && mode != Mode::None {
        for p in spec
            .read_write
            .iter()
            .chain(spec.mounts.iter().filter(|m| m.writable).map(|m| &m.host))
        {
            sys::chown_tree_for_sandbox(p)?;
        }
    }
    let private_tmp = if mode == Mode::Full {
        None
    } else {
        Some(make_private_tmp(caller_root && mode != Mode::None)?)
    };
    let tmp_inside = private_tmp.clone().unwrap_or_else(|| PathBuf::from("/tmp"));
    let memory = spec.limits.memory_bytes;
    let cgroup = if mode == Mode::None {
        None
    } else {
        Cgroup::create(&support.cgroups, memory, spec.limits.processes).unwrap_or(None)
    };
    let memory_by_cgroup = memory.is_some() && cgroup.is_some();
    let pids_by_cgroup = cgroup.is_some() && !matches!(support.cgroups, CgroupSupport::None);
    let nproc = spec.limits.processes.map(|p| match mode {
        // With a pids cgroup, the cgroup is the limit (it records the event); the rlimit,
        // which the kernel checks first, only backs it up.
        Mode::Full if pids_by_cgroup => p * 2 + 16,
        Mode::Full => p,
        _ if pids_by_cgroup => {
            2 * p
                + 16
                + processes_of(if caller_root {
                    SANDBOX_HOST_ID
                } else {
                    sys::euid()
                })
        }
        // RLIMIT_NPROC counts every process of the uid on the host; leave room for those.
        _ => {
            p + processes_of(if caller_root {
                SANDBOX_HOST_ID
            } else {
                sys::euid()
            })
        }
    });
    let cfg = InitConfig {
        mode,
        argv: argv.to_vec(),
        env: environment(&spec, &tmp_inside),
        workdir: spec.workdir.clone(),
        read_write: spec.read_write.clone(),
        read_only: spec.read_only.clone(),
        hidden: spec.hidden.clone(),
        mounts: spec.mounts.clone(),
        net: spec.net,
        limits: spec.limits.clone(),
        memory_by_cgroup,
        gpus: spec.gpus.clone(),
        root_dir: if mode == Mode::Full {
            root_dir()?
        } else {
            PathBuf::new()
        },
        private_tmp: private_tmp.clone(),
        session,
        nproc,
        watch_pids: spec.limits.processes.is_some() && !pids_by_cgroup && mode != Mode::None,
    };
    let cfg_json = serde_json::to_vec(&cfg)
        .map_err(|e| SandboxError::Setup(format!("encoding the configuration: {e}")))?;

    let (out_r, out_w) = sys::pipe()?;
    let (err_r, err_w) = if session {
        (None, None)
    } else {
        let (r, w) = sys::pipe()?;
        (Some(r), Some(w))
    };
    let (in_r, in_w): (OwnedFd, Option<OwnedFd>) = match stdin_mode {
        StdinMode::Pipe => {
            let (r, w) = sys::pipe()?;
            (r, Some(w))
        }
        StdinMode::Null => {
            let f =
                File::open("/dev/null").map_err(|e| SandboxError::io("opening /dev/null", e))?;
            (OwnedFd::from(f), None)
        }
    };
    let (cfg_r, cfg_w) = sys::pipe()?;
    let (rep_r, rep_w) = sys::pipe()?;
    let (ctl_r, ctl_w) = sys::pipe()?;
    let (sync_r, sync_w) = sys::pipe()?;
    let (st_r, st_w) = if session {
        let (r, w) = sys::pipe()?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };

    let mut plan: Vec<(RawFd, RawFd)> = vec![
        (in_r.as_raw_fd(), 0),
        (out_w.as_raw_fd(), 1),
        (
            err_w.as_ref().map_or(out_w.as_raw_fd(), |w| w.as_raw_fd()),
            2,
        ),
        (cfg_r.as_raw_fd(), FD_CONFIG),
        (rep_w.as_raw_fd(), FD_REPORT),
        (ctl_r.as_raw_fd(), FD_CONTROL),
        (sync_r.as_raw_fd(), 8),
    ];
    if let Some(w) = &st_w {
        plan.push((w.as_raw_fd(), FD_SESSION_STATUS));
    }
    let init_c = CString::new(init_path.as_os_str().as_encoded_bytes())
        .map_err(|_| SandboxError::InitNotFound("helper path contains NUL".into()))?;
    let arg_c =
        CString::new(INIT_ARG).map_err(|_| SandboxError::Setup("bad helper argument".into()))?;
    let ids: Option<(u32, u32)> = match mode {
        Mode::Full => Some((0, 0)),
        _ if caller_root && mode != Mode::None => Some((SANDBOX_HOST_ID, SANDBOX_HOST_ID)),
        _ => None,
    };
    let drop_groups = caller_root && mode != Mode::None;

    let flags = match mode {
        Mode::Full => {
            nix::sched::CloneFlags::CLONE_NEWUSER
                | nix::sched::CloneFlags::CLONE_NEWNS
                | nix::sched::CloneFlags::CLONE_NEWPID
                | nix::sched::CloneFlags::CLONE_NEWNET
                | nix::sched::CloneFlags::CLONE_NEWIPC
                | nix::sched::CloneFlags::CLONE_NEWUTS
                | nix::sched::CloneFlags::CLONE_NEWCGROUP
        }
        _ => nix::sched::CloneFlags::empty(),
    };
    let mut stack = vec![0u8; 256 * 1024];
    let child = move || -> isize {
        // SAFETY: async-signal-safe system calls only, on descriptors prepared above.
        unsafe { child_after_clone(&plan, drop_groups, ids, &init_c, &arg_c) }
    };
    // SAFETY: the child runs `child_after_clone`, which only makes async-signal-safe calls.
    let pid = unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| {
            SandboxError::Setup(format!(
                "creating the sandboxed process failed ({e}); run `mlgym sandbox check`"
            ))
        })?
        .as_raw();
    drop((in_r, out_w, err_w, cfg_r, rep_w, ctl_r, sync_r, st_w));
    let started = Instant::now();
    let pidfd = sys::pidfd_open(pid)?;

    let setup = (|| -> Result<(), SandboxError> {
        if mode == Mode::Full {
            let (hu, hg) = if caller_root {
                (SANDBOX_HOST_ID, SANDBOX_HOST_ID)
            } else {
                (sys::euid(), sys::egid())
            };
            let w = |f: &str, v: String| {
                std::fs::write(format!("/proc/{pid}/{f}"), v)
                    .map_err(|e| SandboxError::io(format!("writing {f} of the sandbox"), e))
            };
            w(
                "setgroups",
                if caller_root {
                    "allow".into()
                } else {
                    "deny".into()
                },
            )?;
            w("uid_map", format!("0 {hu} 1"))?;
            w("gid_map", format!("0 {hg} 1"))?;
        }
        if let Some(cg) = &cgroup {
            cg.attach(pid)?;
        }
        let mut s = File::from(sync_w);
        sys::write_all(&mut s, b"x")?;
        drop(s);
        let mut c = File::from(cfg_w);
        sys::write_all(&mut c, &cfg_json)?;
        Ok(())
    })();
    let mut launched = Launched {
        pid,
        pidfd,
        stdin: in_w.map(File::from),
        stdout: File::from(out_r),
        stderr: err_r.map(File::from),
        report: File::from(rep_r),
        control: Some(File::from(ctl_w)),
        status: st_r.map(File::from),
        mode,
        landlock: String::new(),
        cgroup,
        started,
        private_tmp,
        reaped: false,
    };
    setup?;
    match read_report(&mut launched.report) {
        Some(Report::Started { landlock }) => {
            launched.landlock = landlock;
            Ok(launched)
        }
        Some(Report::SetupError { message, not_found }) => {
            launched.reap();
            if not_found {
                Err(SandboxError::CommandNotFound(
                    argv.first().cloned().unwrap_or_default(),
                ))
            } else {
                Err(SandboxError::Setup(message))
            }
        }
        _ => {
            launched.kill();
            launched.reap();
            Err(SandboxError::Setup(
                "the sandbox helper exited before starting the command".into(),
            ))
        }
    }
}

/// Reads one report line (blocking), a byte at a time so that nothing after the line is
/// consumed (the next report may already be in the pipe).
pub(crate) fn read_report(r: &mut File) -> Option<Report> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(0) => return None,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    serde_json::from_slice(&line).ok()
}

/// Runs in the cloned child: arrange descriptors, wait for the uid map, set ids, exec.
///
/// # Safety
/// Must only be called in a freshly cloned child; performs raw system calls.
unsafe fn child_after_clone(
    plan: &[(RawFd, RawFd)],
    drop_groups: bool,
    ids: Option<(u32, u32)>,
    init: &CString,
    arg: &CString,
) -> isize {
    // SAFETY: (whole body) raw syscalls on integers and pointers prepared by the parent.
    unsafe {
        // Two phases, so that no source is overwritten before it is moved.
        let mut tmp = [0 as RawFd; 16];
        for (i, (src, _)) in plan.iter().enumerate() {
            tmp[i] = libc::fcntl(*src, libc::F_DUPFD, 100 + i as RawFd);
            if tmp[i] < 0 {
                libc::_exit(121);
            }
        }
        for (i, (_, dst)) in plan.iter().enumerate() {
            if libc::dup2(tmp[i], *dst) < 0 {
                libc::_exit(122);
            }
        }
        libc::syscall(libc::SYS_close_range, 9u32, u32::MAX, 0u32);
        let mut b = [0u8; 1];
        if libc::read(8, b.as_mut_ptr().cast(), 1) != 1 {
            libc::_exit(123);
        }
        libc::close(8);
        if drop_groups {
            libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>());
        }
        if let Some((u, g)) = ids {
            // Raw syscalls: glibc's wrappers would try to signal the parent's other threads.
            if libc::syscall(libc::SYS_setresgid, g, g, g) != 0
                || libc::syscall(libc::SYS_setresuid, u, u, u) != 0
            {
                libc::_exit(124);
            }
        }
        let argv = [init.as_ptr(), arg.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        libc::execve(init.as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::_exit(126)
    }
}
