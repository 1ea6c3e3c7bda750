//! The helper's main loop: reap children, relay session commands, interrupt, enforce
//! the process limit, kill everything on request or when the parent disappears, and
//! report how the command ended.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use super::{report, Spawned};
use crate::spec::Mode;
use crate::wire::{Control, InitConfig, Report, FD_CONTROL};

/// Directory holding the session's command file.
pub(crate) fn session_dir(cfg: &InitConfig) -> PathBuf {
    match (&cfg.mode, &cfg.private_tmp) {
        (Mode::Full, _) | (_, None) => PathBuf::from("/tmp/.mlgym-session"),
        (_, Some(t)) => t.join(".mlgym-session"),
    }
}

/// The command file the session shell sources.
pub(crate) fn session_file(cfg: &InitConfig) -> PathBuf {
    session_dir(cfg).join("cmd")
}

/// Pid → (parent pid, threads) of every process we can see.
fn process_table() -> HashMap<i32, (i32, u64)> {
    let mut t = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return t;
    };
    for e in dir.flatten() {
        let Some(pid) = std::str::from_utf8(e.file_name().as_bytes())
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces and parentheses: fields resume after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Zombies are already dead; their parent reaps them.
        if fields.first() == Some(&"Z") {
            continue;
        }
        let ppid = fields.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        // Field 20 of stat (num_threads) is the 18th after the command name.
        let threads = fields.get(17).and_then(|s| s.parse().ok()).unwrap_or(1);
        t.insert(pid, (ppid, threads));
    }
    t
}

/// Processes under our control, excluding ourselves: everything in our pid namespace
/// (mode `full`), or our descendants (other modes, where we are a subreaper).
fn controlled_with_threads(mode: Mode) -> Vec<(i32, u64)> {
    let me = std::process::id() as i32;
    let table = process_table();
    if mode == Mode::Full {
        return table
            .iter()
            .filter(|(&p, _)| p != me)
            .map(|(&p, &(_, t))| (p, t))
            .collect();
    }
    table
        .iter()
        .filter(|(&p, _)| {
            let mut cur = p;
            for _ in 0..4096 {
                match table.get(&cur) {
                    Some(&(pp, _)) if pp == me => return p != me,
                    Some(&(pp, _)) if pp > 1 => cur = pp,
                    _ => return false,
                }
            }
            false
        })
        .map(|(&p, &(_, t))| (p, t))
        .collect()
}

fn controlled(mode: Mode) -> Vec<i32> {
    controlled_with_threads(mode)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

fn reap(main_pid: i32, main_status: &mut Option<i32>) {
    loop {
        let mut st = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG | libc::__WALL) };
        if r <= 0 {
            return;
        }
        if r == main_pid {
            *main_status = Some(st);
        }
    }
}

/// SIGKILLs every process matching `keep_out == false`, repeatedly, until none is left.
fn kill_matching(
    mode: Mode,
    main_pid: i32,
    main_status: &mut Option<i32>,
    pick: impl Fn(i32) -> bool,
) -> u32 {
    let mut killed = 0;
    for _ in 0..1000 {
        let victims: Vec<i32> = controlled(mode).into_iter().filter(|&p| pick(p)).collect();
        if victims.is_empty() {
            break;
        }
        for p in victims {
            // SAFETY: kill with integer arguments.
            if unsafe { libc::kill(p, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
        reap(main_pid, main_status);
        std::thread::sleep(Duration::from_micros(200));
        reap(main_pid, main_status);
    }
    killed
}

fn last_pid() -> i32 {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn signalfd_sigchld() -> Option<OwnedFd> {
    // SAFETY: building a signal set and a signalfd; SIGCHLD is blocked so it queues there.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd))
    }
}

struct Session {
    input: File,
    dir: Option<OwnedFd>,
    watermark: i32,
}

impl Session {
    /// Writes the command text as a fresh file (never following a link the command may
    /// have planted) and wakes the shell.
    fn begin(&mut self, cfg: &InitConfig, text: &[u8]) -> std::io::Result<()> {
        self.watermark = last_pid();
        if self.dir.is_none() {
            let dir = session_dir(cfg);
            std::fs::create_dir_all(&dir)?;
            let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
                .map_err(std::io::Error::other)?;
            // SAFETY: open with a valid C string.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: new descriptor we own.
            self.dir = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let dirfd = self.dir.as_ref().map(|d| d.as_raw_fd()).unwrap_or(-1);
        // SAFETY: unlinkat/openat relative to a directory descriptor we own.
        let fd = unsafe {
            libc::unlinkat(dirfd, c"cmd".as_ptr(), 0);
            libc::openat(
                dirfd,
                c"cmd".as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600,
            )
        };
        if fd < 0 {
            // The directory may have been removed by the command: recreate it next time.
            self.dir = None;
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: new descriptor we own.
        let mut f = unsafe { File::from_raw_fd(fd) };
        f.write_all(text)?;
        drop(f);
        self.input.write_all(b"1\0")
    }
}

/// Runs until the command (or session shell) ends; returns the helper's exit status.
pub(crate) fn run(cfg: &InitConfig, spawned: Spawned, mut out: File) -> i32 {
    let main_pid = spawned.pid;
    let mode = cfg.mode;
    let sfd = signalfd_sigchld();
    // SAFETY: the parent gave us this descriptor; we own it from here on.
    let mut control = unsafe { File::from_raw_fd(FD_CONTROL) };
    let mut session = spawned.session_in.map(|input| Session {
        input,
        dir: None,
        watermark: i32::MAX,
    });
    let pid_limit = if cfg.watch_pids {
        cfg.limits.processes
    } else {
        None
    };
    let mut main_status: Option<i32> = None;
    let mut pids_hit = false;
    let mut fds = vec![control.as_raw_fd()];
    if let Some(s) = &sfd {
        fds.push(s.as_raw_fd());
    }
    // Without a signalfd (should not happen) fall back to polling for exits.
    let tick = if pid_limit.is_some() || sfd.is_none() {
        Some(Duration::from_millis(50))
    } else {
        None
    };
    'outer: loop {
        reap(main_pid, &mut main_status);
        if main_status.is_some() {
            break;
        }
        let Ok(rev) = crate::sys::poll_in(&fds, tick) else {
            break;
        };
        if let Some(s) = &sfd {
            let mut buf = [0u8; 128 * 8];
            // SAFETY: reading signalfd records into a buffer of the right size.
            while unsafe { libc::read(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        }
        if rev[0] != 0 {
            let mut b = [0u8; 1];
            match control.read(&mut b) {
                Ok(1) => match Control::from_byte(b[0]) {
                    Some(Control::Kill) => {
                        kill_matching(mode, main_pid, &mut main_status, |_| true);
                        break 'outer;
                    }
                    Some(Control::Begin) => {
                        let mut len = [0u8; 4];
                        let mut text = Vec::new();
                        let ok = control.read_exact(&mut len).is_ok() && {
                            text.resize(u32::from_le_bytes(len) as usize, 0);
                            control.read_exact(&mut text).is_ok()
                        };
                        if let (true, Some(s)) = (ok, session.as_mut()) {
                            if s.begin(cfg, &text).is_err() {
                                // The shell is gone or the file cannot be written: end the session.
                                kill_matching(mode, main_pid, &mut main_status, |_| true);
                                break 'outer;
                            }
                        }
                    }
                    Some(Control::Interrupt) => {
                        let killed = interrupt(mode, main_pid, &mut main_status, session.as_ref());
                        report(&mut out, &Report::Interrupted { killed });
                    }
                    None => {}
                },
                _ => {
                    // The parent is gone (or broke the protocol): nothing may outlive it.
                    kill_matching(mode, main_pid, &mut main_status, |_| true);
                    return 0;
                }
            }
        }
        if let Some(limit) = pid_limit {
            let count: u64 = controlled_with_threads(mode)
                .iter()
                .map(|(_, t)| t)
                .sum::<u64>()
                + 1;
            if count >= limit {
                pids_hit = true;
                if session.is_some() {
                    let killed = interrupt(mode, main_pid, &mut main_status, session.as_ref());
                    report(&mut out, &Report::PidsLimit { killed });
                } else {
                    kill_matching(mode, main_pid, &mut main_status, |_| true);
                    break;
                }
            }
        }
    }
    kill_matching(mode, main_pid, &mut main_status, |_| true);
    reap(main_pid, &mut main_status);
    let (code, signal) = match main_status {
        Some(st) if libc::WIFEXITED(st) => (Some(libc::WEXITSTATUS(st)), None),
        Some(st) if libc::WIFSIGNALED(st) => (None, Some(libc::WTERMSIG(st))),
        _ => (None, Some(libc::SIGKILL)),
    };
    // SAFETY: getrusage with a valid out-pointer.
    let cpu_ms = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        let t = |tv: libc::timeval| tv.tv_sec as f64 * 1000.0 + tv.tv_usec as f64 / 1000.0;
        t(ru.ru_utime) + t(ru.ru_stime)
    };
    report(
        &mut out,
        &Report::Exited {
            code,
            signal,
            cpu_ms,
            pids_limit_hit: pids_hit,
        },
    );
    0
}

/// Kills the current session command's processes (those started after its watermark)
/// and interrupts the shell, which unwinds the command.
fn interrupt(
    mode: Mode,
    main_pid: i32,
    main_status: &mut Option<i32>,
    session: Option<&Session>,
) -> u32 {
    let watermark = session.map(|s| s.watermark).unwrap_or(i32::MAX);
    // SAFETY: kill with integer arguments.
    unsafe { libc::kill(main_pid, libc::SIGINT) };
    kill_matching(mode, main_pid, main_status, |p| {
        p != main_pid && p > watermark
    })
}
