//! Persistent sessions: one long-lived sandboxed bash per episode, so that `cd`,
//! variables, functions and background jobs persist between commands (as in MLGym's
//! container shell), with per-command timeouts that stop only that command.
//!
//! The end of a command is signalled on a separate pipe (exit status and working
//! directory), never inferred from its output; the command's stdin is `/dev/null`, so a
//! command that reads stdin cannot hang the session.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;
use crate::launch::{launch, Launched, StdinMode};
use crate::outcome::{EndReason, LimitKind};
use crate::spec::{Mode, SandboxSpec};
use crate::sys;
use crate::wire::{Control, Report};

/// How long an interrupted command gets to unwind before the next escalation.
const GRACE: Duration = Duration::from_secs(2);

/// The result of one session command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// stdout and stderr interleaved as written (lossy UTF-8, capped).
    pub output: String,
    /// Whether output was cut at the cap.
    pub truncated: bool,
    /// The command's exit status (`None` when it was stopped).
    pub exit_code: Option<i32>,
    /// `exit`, `timeout` or `limit`.
    pub reason: EndReason,
    /// Which limit stopped it.
    pub limit: Option<LimitKind>,
    /// The shell's working directory afterwards.
    pub cwd: PathBuf,
    /// Wall-clock milliseconds.
    pub wall_ms: f64,
    /// The shell died or could not be stopped and was started afresh: the working
    /// directory was kept where possible, but variables and functions are gone.
    pub session_restarted: bool,
}

/// A persistent sandboxed shell.
#[derive(Debug)]
pub struct Session {
    spec: SandboxSpec,
    launched: Launched,
    report_buf: Vec<u8>,
    cwd: PathBuf,
    cap: usize,
    alive: bool,
    pids_events_seen: u64,
}

fn nonblocking(f: &File) -> Result<(), SandboxError> {
    sys::set_nonblocking(f.as_raw_fd(), true)
}

impl Session {
    /// Starts a session shell in a sandbox described by `spec` (its `workdir` is the
    /// initial directory; `limits.output_bytes` caps each command's output).
    pub fn start(spec: &SandboxSpec) -> Result<Session, SandboxError> {
        let spec = spec.validated()?;
        let launched = Self::launch(&spec)?;
        Ok(Session {
            cwd: spec.workdir.clone(),
            cap: spec.limits.output_bytes as usize,
            spec,
            launched,
            report_buf: Vec::new(),
            alive: true,
            pids_events_seen: 0,
        })
    }

    fn launch(spec: &SandboxSpec) -> Result<Launched, SandboxError> {
        let l = launch(spec, &[], true, StdinMode::Null)?;
        nonblocking(&l.stdout)?;
        if let Some(s) = &l.status {
            nonblocking(s)?;
        }
        nonblocking(&l.report)?;
        Ok(l)
    }

    /// The isolation mode in use.
    pub fn mode(&self) -> Mode {
        self.launched.mode
    }

    /// The landlock status as applied to the shell.
    pub fn landlock_status(&self) -> &str {
        &self.launched.landlock
    }

    /// The shell's working directory after the last command.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    fn restart(&mut self) -> Result<(), SandboxError> {
        self.launched.kill();
        self.launched.reap();
        let mut spec = self.spec.clone();
        // Keep the working directory when the host can see it (it may be inside /tmp).
        spec.workdir = self.cwd.clone();
        let l = match Self::launch(&spec) {
            Ok(l) => l,
            Err(_) => {
                self.cwd = self.spec.workdir.clone();
                Self::launch(&self.spec)?
            }
        };
        self.launched = l;
        self.report_buf.clear();
        self.alive = true;
        self.pids_events_seen = 0;
        Ok(())
    }

    fn send(&mut self, bytes: &[u8]) -> bool {
        match self.launched.control.as_mut() {
            Some(c) => sys::write_all(c, bytes).is_ok(),
            None => false,
        }
    }

    /// Runs one command (any bash text, possibly multi-line) with a timeout (`None` =
    /// the spec's wall limit, or no limit). A timed-out command and everything it
    /// started are killed; the session survives.
    pub fn run(
        &mut self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<CommandOutput, SandboxError> {
        let mut restarted = false;
        if !self.alive {
            self.restart()?;
            restarted = true;
        }
        let started = Instant::now();
        let timeout = timeout.or(self.spec.limits.wall);
        let oom_before = self.launched.cgroup.as_ref().map_or(0, |c| c.oom_kills());
        let mut msg = Vec::with_capacity(command.len() + 5);
        msg.push(Control::Begin.byte());
        msg.extend_from_slice(&(command.len() as u32).to_le_bytes());
        msg.extend_from_slice(command.as_bytes());
        if !self.send(&msg) {
            self.alive = false;
            self.restart()?;
            restarted = true;
            if !self.send(&msg) {
                return Err(SandboxError::Session(
                    "the session shell cannot be started".into(),
                ));
            }
        }
        let mut out = Vec::new();
        let mut seen = 0usize;
        let mut status = Vec::new();
        let mut reason = EndReason::Exit;
        let mut limit = None;
        let mut deadline = timeout.map(|t| started + t);
        let mut escalation = 0;
        let mut died = false;
        let result: Option<(i32, PathBuf)> = loop {
            let now = Instant::now();
            let wait = deadline.map(|d| d.saturating_duration_since(now));
            let st_fd = self.launched.status.as_ref().map_or(-1, |f| f.as_raw_fd());
            let fds = [
                self.launched.stdout.as_raw_fd(),
                st_fd,
                self.launched.report.as_raw_fd(),
                self.launched.pidfd.as_raw_fd(),
            ];
            let rev = sys::poll_in(&fds, wait)?;
            let (_, n) = sys::drain_into(&mut self.launched.stdout, &mut out, self.cap);
            seen += n;
            if rev[1] != 0 {
                if let Some(st) = self.launched.status.as_mut() {
                    let mut tmp = [0u8; 4096];
                    match st.read(&mut tmp) {
                        Ok(0) => died = true,
                        Ok(k) => status.extend_from_slice(&tmp[..k]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => died = true,
                    }
                }
                if let Some(parsed) = parse_status(&status) {
                    break Some(parsed);
                }
            }
            if rev[2] != 0 {
                let (_, _) =
                    sys::drain_into(&mut self.launched.report, &mut self.report_buf, 1 << 20);
                while let Some(i) = self.report_buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.report_buf.drain(..=i).collect();
                    match serde_json::from_slice::<Report>(&line) {
                        Ok(Report::PidsLimit { .. }) => {
                            reason = EndReason::Limit;
                            limit = Some(LimitKind::Pids);
                            deadline = Some(Instant::now() + GRACE);
                        }
                        Ok(Report::Exited { .. }) => died = true,
                        _ => {}
                    }
                }
            }
            if rev[3] != 0 {
                died = true;
            }
            if died {
                break None;
            }
            if let (false, Some(pids)) = (
                limit.is_some(),
                self.launched.cgroup.as_ref().map(|c| c.pids_max_events()),
            ) {
                if pids > 0 && self.pids_events_seen < pids {
                    self.pids_events_seen = pids;
                    reason = EndReason::Limit;
                    limit = Some(LimitKind::Pids);
                    self.send(&[Control::Interrupt.byte()]);
                    deadline = Some(Instant::now() + GRACE);
                    escalation = 1;
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                if reason == EndReason::Exit {
                    reason = EndReason::Timeout;
                }
                escalation += 1;
                if escalation <= 2 {
                    // Kill the command's processes and unwind the shell; wait for its status.
                    self.send(&[Control::Interrupt.byte()]);
                    deadline = Some(Instant::now() + GRACE);
                } else {
                    // The shell itself does not come back (e.g. it ignores SIGINT): restart.
                    break None;
                }
            }
        };
        // Output written before the status record is already in the pipe.
        let (_, n) = sys::drain_into(&mut self.launched.stdout, &mut out, self.cap);
        seen += n;
        let oom = self.launched.cgroup.as_ref().map_or(0, |c| c.oom_kills()) > oom_before;
        if oom && limit.is_none() {
            reason = EndReason::Limit;
            limit = Some(LimitKind::Memory);
        }
        let mut exit_code = None;
        match result {
            Some((rc, cwd)) => {
                self.cwd = cwd;
                if reason == EndReason::Exit {
                    exit_code = Some(rc);
                }
            }
            None => {
                self.alive = false;
                self.restart()?;
                restarted = true;
            }
        }
        Ok(CommandOutput {
            output: String::from_utf8_lossy(&out).into_owned(),
            truncated: seen > self.cap,
            exit_code,
            reason,
            limit,
            cwd: self.cwd.clone(),
            wall_ms: started.elapsed().as_secs_f64() * 1000.0,
            session_restarted: restarted,
        })
    }

    /// Ends the session, killing everything in it.
    pub fn close(mut self) {
        self.launched.kill();
        self.launched.reap();
    }
}

/// Parses `rc\0cwd\0` once complete.
fn parse_status(buf: &[u8]) -> Option<(i32, PathBuf)> {
    let mut parts = buf.split(|&b| b == 0);
    let rc = parts.next()?;
    let cwd = parts.next()?;
    // Both fields are complete only when the second NUL has arrived.
    if buf.iter().filter(|&&b| b == 0).count() < 2 {
        return None;
    }
    let rc: i32 = std::str::from_utf8(rc).ok()?.trim().parse().ok()?;
    Some((
        rc,
        PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(cwd)),
    ))
}
