//! The sandbox helper: pid 1 of the sandbox (mode `full`) or the subreaper parent of the
//! command (mode `landlock`).
//!
//! It is a separate program image (a re-executed binary), so that everything after
//! `clone` in the parent is a handful of async-signal-safe calls, and everything here
//! runs single-threaded: it reads its [`InitConfig`], builds the private root, forks
//! the command (which confines itself and execs), then supervises: reaps, enforces the
//! process limit, relays session commands, kills on request or when the parent goes
//! away, and reports how the command ended.

mod confine;
mod rootfs;
mod seccomp;
mod supervise;

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::spec::Mode;
use crate::wire::{
    InitConfig, Report, FD_CONFIG, FD_REPORT, FD_SESSION_IN, FD_SESSION_STATUS, INIT_ARG,
};

static INIT_CAPABLE: AtomicBool = AtomicBool::new(false);

/// Call first thing in `main` of any binary that starts sandboxes: when the process was
/// started as the sandbox helper, this runs the helper and never returns; otherwise it
/// records that this binary can serve as the helper and returns at once.
pub fn run_if_requested() {
    INIT_CAPABLE.store(true, Ordering::Relaxed);
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(INIT_ARG)) {
        std::process::exit(main());
    }
}

/// Whether this process's binary dispatches the helper (see [`run_if_requested`]).
pub(crate) fn self_is_init_capable() -> bool {
    INIT_CAPABLE.load(Ordering::Relaxed)
}

/// The bash loop of a session. Commands arrive as a file written by the helper and a
/// NUL on fd 6; after each, the exit status and the working directory go to fd 7,
/// NUL-separated. A syntax check (defining the command as a function body) keeps a
/// malformed command from running at all; `source` keeps `cd`, variables and functions;
/// the INT trap lets an interrupt unwind a command stuck in shell builtins. The shell's
/// own stderr is /dev/null outside commands, so job-death notices (\"Killed ...\") of
/// stopped commands do not leak into the next command's output.
pub(crate) const SESSION_SCRIPT: &str = r#"
builtin trap ':' INT
builtin exec 2>/dev/null
__mlgym_f="$1"
while IFS= builtin read -r -d '' __mlgym_id <&6; do
  IFS= builtin read -r -d '' __mlgym_src < "$__mlgym_f"
  if builtin eval "__mlgym_syntax_probe() {
:
$__mlgym_src
}" 2>&1; then
    builtin unset -f __mlgym_syntax_probe
    builtin trap 'builtin trap : INT; builtin return 130' INT
    builtin source "$__mlgym_f" </dev/null 6<&- 7>&- >&1 2>&1
    __mlgym_rc=$?
    builtin trap ':' INT
  else
    __mlgym_rc=2
  fi
  builtin jobs >/dev/null 2>&1
  builtin printf '%s\0%s\0' "$__mlgym_rc" "$PWD" >&7
done
"#;

pub(crate) fn report(out: &mut File, r: &Report) {
    if let Ok(mut s) = serde_json::to_string(r) {
        s.push('\n');
        let _ = out.write_all(s.as_bytes());
    }
}

fn main() -> i32 {
    // SAFETY: the parent set up these descriptors for us; we take ownership once.
    let mut report_fd = unsafe { File::from_raw_fd(FD_REPORT) };
    // SAFETY: as above.
    let mut cfg_fd = unsafe { File::from_raw_fd(FD_CONFIG) };
    let mut raw = Vec::new();
    if let Err(e) = cfg_fd.read_to_end(&mut raw) {
        report(
            &mut report_fd,
            &Report::SetupError {
                message: format!("reading the configuration: {e}"),
                not_found: false,
            },
        );
        return 125;
    }
    drop(cfg_fd);
    let cfg: InitConfig = match serde_json::from_slice(&raw) {
        Ok(c) => c,
        Err(e) => {
            report(
                &mut report_fd,
                &Report::SetupError {
                    message: format!("bad configuration: {e}"),
                    not_found: false,
                },
            );
            return 125;
        }
    };
    if let Err(message) = setup(&cfg) {
        report(
            &mut report_fd,
            &Report::SetupError {
                message,
                not_found: false,
            },
        );
        return 125;
    }
    match spawn_command(&cfg) {
        Ok(spawned) => {
            report(
                &mut report_fd,
                &Report::Started {
                    landlock: spawned.landlock.clone(),
                },
            );
            supervise::run(&cfg, spawned, report_fd)
        }
        Err((message, not_found)) => {
            report(&mut report_fd, &Report::SetupError { message, not_found });
            125
        }
    }
}

fn setup(cfg: &InitConfig) -> Result<(), String> {
    match cfg.mode {
        Mode::Full => {
            rootfs::build(cfg)?;
            rootfs::set_hostname();
            if cfg.net == crate::spec::NetPolicy::Loopback {
                rootfs::loopback_up()?;
            }
        }
        Mode::Landlock | Mode::None => {
            // Orphans of the command come back to us, so nothing escapes the final kill.
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        }
    }
    if cfg.session {
        let dir = supervise::session_dir(cfg);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    Ok(())
}

fn cstrings<I: IntoIterator<Item = String>>(it: I) -> Result<Vec<CString>, String> {
    it.into_iter()
        .map(|s| {
            CString::new(s).map_err(|_| "an argument or variable contains a NUL byte".to_string())
        })
        .collect()
}

/// What [`spawn_command`] hands to the supervisor.
pub(crate) struct Spawned {
    /// Pid of the command (the session shell in session mode).
    pub pid: i32,
    /// Landlock status as the command saw it.
    pub landlock: String,
    /// Session mode: where command ids for the shell are written.
    pub session_in: Option<File>,
}

/// Forks the command; returns it, or (message, not_found).
fn spawn_command(cfg: &InitConfig) -> Result<Spawned, (String, bool)> {
    let argv: Vec<String> = if cfg.session {
        vec![
            "bash".into(),
            "--norc".into(),
            "--noprofile".into(),
            "-c".into(),
            SESSION_SCRIPT.into(),
            "bash".into(),
            supervise::session_file(cfg).to_string_lossy().into_owned(),
        ]
    } else {
        cfg.argv.clone()
    };
    let Some(first) = argv.first() else {
        return Err(("no command given".into(), false));
    };
    let c_argv = cstrings(argv.clone()).map_err(|m| (m, false))?;
    let c_env =
        cstrings(cfg.env.iter().map(|(k, v)| format!("{k}={v}"))).map_err(|m| (m, false))?;
    let prog = if cfg.session {
        "/bin/bash".to_string()
    } else {
        first.clone()
    };
    // Resolved before landlock (PATH lookups of directories outside the rules would fail).
    let Some(path) = confine::resolve_command(&prog, &cfg.env) else {
        return Err((
            format!("command `{prog}` was not found inside the sandbox"),
            true,
        ));
    };
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| ("bad path".to_string(), false))?;
    let filters = seccomp::build(cfg.mode != Mode::Full).map_err(|m| (m, false))?;

    let (err_r, err_w) = crate::sys::pipe_high().map_err(|e| (e.to_string(), false))?;
    let session_pipe = if cfg.session {
        Some(crate::sys::pipe_high().map_err(|e| (e.to_string(), false))?)
    } else {
        None
    };
    // SAFETY: the helper is single-threaded, so fork is safe and the child may allocate.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err((format!("fork: {}", std::io::Error::last_os_error()), false));
    }
    if pid == 0 {
        drop(err_r);
        let mut err_w = File::from(err_w);
        if let Some((r, _w)) = &session_pipe {
            // SAFETY: dup2 onto the fixed descriptor the session script reads.
            unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(r), FD_SESSION_IN) };
        }
        let msg = match confine_and_exec(cfg, &c_path, &c_argv, &c_env, &filters, &mut err_w) {
            Ok(never) => match never {},
            Err(m) => m,
        };
        let _ = err_w.write_all(msg.as_bytes());
        // SAFETY: terminating the child without running parent-owned destructors.
        unsafe { libc::_exit(127) };
    }
    drop(err_w);
    // The status pipe of a session now belongs to the shell alone, so that the parent
    // sees end-of-file when the shell dies.
    if cfg.session {
        // SAFETY: closing our copy of a descriptor the child inherited.
        unsafe { libc::close(FD_SESSION_STATUS) };
    }
    let mut msg = String::new();
    let _ = File::from(err_r).read_to_string(&mut msg);
    // The child writes `L:<landlock status>` before exec and an error message only if
    // the exec (or a step before it) failed.
    let mut landlock = "not applied (unsafe mode)".to_string();
    let mut error = String::new();
    for line in msg.lines() {
        match line.strip_prefix("L:") {
            Some(l) => landlock = l.to_string(),
            None => {
                error.push_str(line);
                error.push('\n');
            }
        }
    }
    if !error.is_empty() {
        crate::sys::wait_pid(pid);
        let not_found = error.contains("No such file") || error.contains("not found");
        return Err((error.trim_end().to_string(), not_found));
    }
    Ok(Spawned {
        pid,
        landlock,
        session_in: session_pipe.map(|(_r, w)| File::from(w)),
    })
}

enum Never {}

fn confine_and_exec(
    cfg: &InitConfig,
    path: &CString,
    argv: &[CString],
    env: &[CString],
    filters: &[seccompiler::BpfProgram],
    status_out: &mut File,
) -> Result<Never, String> {
    // SAFETY: plain syscalls on our own process.
    unsafe {
        libc::setsid();
        // Every signal back to its default: an ignored disposition survives `execve`, and
        // a launcher started in the background of a script (`mlgym run ... &`, nohup)
        // ignores SIGINT and SIGQUIT. A shell that starts with SIGINT ignored may not
        // trap it (POSIX), and the session's timeout could then not stop a command's
        // remaining statements. The raw system call also reaches the C library's
        // reserved signals (32, 33), which `signal` refuses; an all-zero `sigaction` is
        // SIG_DFL in every architecture's layout. SIGKILL and SIGSTOP fail harmlessly.
        let default_action = [0u64; 4];
        for sig in 1..=64 {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                default_action.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    // Keep 0-2 (and the session pipes); close the helper's own descriptors.
    let keep_from = if cfg.session {
        FD_SESSION_STATUS + 1
    } else {
        3
    };
    // SAFETY: closing descriptor ranges we own.
    unsafe {
        if cfg.session {
            libc::close(FD_CONFIG);
            libc::close(crate::wire::FD_REPORT);
            libc::close(crate::wire::FD_CONTROL);
        }
        libc::syscall(
            libc::SYS_close_range,
            keep_from as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    confine::rlimits(cfg)?;
    std::env::set_current_dir(&cfg.workdir)
        .map_err(|e| format!("entering {}: {e}", cfg.workdir.display()))?;
    if cfg.mode != Mode::None {
        confine::drop_capabilities();
        confine::no_new_privs()?;
        let landlock = confine::landlock(cfg)?;
        let _ = status_out.write_all(format!("L:{landlock}\n").as_bytes());
        seccomp::apply(filters)?;
    }
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env.iter().map(|c| c.as_ptr()).collect();
    env_p.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of valid C strings.
    unsafe { libc::execve(path.as_ptr(), argv_p.as_ptr(), env_p.as_ptr()) };
    Err(format!(
        "executing {}: {}",
        path.to_string_lossy(),
        std::io::Error::last_os_error()
    ))
}
