//! One-shot runs: start a command in a fresh sandbox, capture its output (capped), and
//! report how it ended; and [`Child`], a sandboxed process the caller talks to through
//! its stdin/stdout (used by evaluators that run agent code over a line protocol).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::error::SandboxError;
use crate::launch::{launch, Launched, StdinMode};
use crate::outcome::{limit_from_status, EndReason, LimitKind, Outcome};
use crate::spec::{Mode, OutputPolicy, SandboxSpec};
use crate::sys;
use crate::wire::Report;

/// Runs `argv` in a fresh sandbox described by `spec` and waits for it to end (or for
/// the wall-clock limit). Nothing started inside outlives this call.
pub fn run(spec: &SandboxSpec, argv: &[String]) -> Result<Outcome, SandboxError> {
    let mut l = launch(spec, argv, false, StdinMode::Null)?;
    let cap = spec.limits.output_bytes as usize;
    let deadline = spec.limits.wall.map(|w| l.started + w);
    collect(&mut l, deadline, cap, spec.output_policy)
}

/// What the helper's `Exited` report says: exit code, signal, CPU milliseconds, and
/// whether the process limit stopped the command.
type Exit = (Option<i32>, Option<i32>, f64, bool);

/// Parses the complete report lines out of `buf`, keeping the last `Exited` report in
/// `exited` (other reports do not concern a one-shot run).
fn take_exit(buf: &mut Vec<u8>, exited: &mut Option<Exit>) {
    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=i).collect();
        if let Ok(Report::Exited {
            code,
            signal,
            cpu_ms,
            pids_limit_hit,
        }) = serde_json::from_slice::<Report>(&line)
        {
            *exited = Some((code, signal, cpu_ms, pids_limit_hit));
        }
    }
}

struct Stream {
    file: Option<File>,
    buf: Vec<u8>,
    seen: usize,
}

impl Stream {
    fn new(f: Option<File>) -> Result<Self, SandboxError> {
        if let Some(f) = &f {
            sys::set_nonblocking(f.as_raw_fd(), true)?;
        }
        Ok(Stream {
            file: f,
            buf: Vec::new(),
            seen: 0,
        })
    }
    fn fd(&self) -> i32 {
        self.file.as_ref().map_or(-1, |f| f.as_raw_fd())
    }
    fn pump(&mut self, cap: usize) {
        if let Some(f) = self.file.as_mut() {
            let (eof, n) = sys::drain_into(f, &mut self.buf, cap);
            self.seen += n;
            if eof {
                self.file = None;
            }
        }
    }
}

/// Drives a launched sandbox to its end, collecting output and the reason it ended.
pub(crate) fn collect(
    l: &mut Launched,
    deadline: Option<Instant>,
    cap: usize,
    policy: OutputPolicy,
) -> Result<Outcome, SandboxError> {
    let started = l.started;
    let mut out = Stream::new(Some(
        l.stdout
            .try_clone()
            .map_err(|e| SandboxError::io("cloning stdout", e))?,
    ))?;
    let mut err = Stream::new(
        l.stderr
            .as_ref()
            .map(|f| f.try_clone())
            .transpose()
            .map_err(|e| SandboxError::io("cloning stderr", e))?,
    )?;
    let report_file = l
        .report
        .try_clone()
        .map_err(|e| SandboxError::io("cloning the report pipe", e))?;
    let mut rep = Stream::new(Some(report_file))?;
    let mut exited: Option<Exit> = None;
    let mut forced: Option<(EndReason, Option<LimitKind>)> = None;
    let watch_cgroup_pids = l.cgroup.is_some();
    let mut helper_done = false;
    loop {
        let now = Instant::now();
        let mut timeout = deadline.map(|d| d.saturating_duration_since(now));
        if watch_cgroup_pids {
            timeout = Some(timeout.map_or(Duration::from_millis(50), |t| {
                t.min(Duration::from_millis(50))
            }));
        }
        let fds = [out.fd(), err.fd(), rep.fd(), l.pidfd.as_raw_fd()];
        let rev = sys::poll_in(&fds, timeout)?;
        out.pump(cap);
        err.pump(cap);
        rep.pump(1 << 20);
        take_exit(&mut rep.buf, &mut exited);
        if forced.is_none() && policy == OutputPolicy::Kill && (out.seen > cap || err.seen > cap) {
            forced = Some((EndReason::Limit, Some(LimitKind::Output)));
            l.kill();
        }
        if forced.is_none()
            && watch_cgroup_pids
            && l.cgroup.as_ref().is_some_and(|c| c.pids_limit_hit())
        {
            forced = Some((EndReason::Limit, Some(LimitKind::Pids)));
            l.kill();
        }
        if forced.is_none() && deadline.is_some_and(|d| Instant::now() >= d) {
            forced = Some((EndReason::Timeout, None));
            l.kill();
        }
        if rev[3] != 0 {
            helper_done = true;
        }
        if helper_done && rep.file.is_none() {
            break;
        }
        if helper_done {
            // The helper exited; its report pipe is closed once all copies are gone.
            rep.pump(1 << 20);
            if rep.file.is_none() || forced.is_some() {
                break;
            }
        }
    }
    // Everyone inside is dead now; collect what is left in the pipes (bounded wait, in
    // case something escaped our control and still holds a pipe open).
    let end = Instant::now() + Duration::from_millis(200);
    while (out.file.is_some() || err.file.is_some()) && Instant::now() < end {
        sys::poll_in(&[out.fd(), err.fd()], Some(Duration::from_millis(20)))?;
        out.pump(cap);
        err.pump(cap);
    }
    rep.pump(1 << 20);
    take_exit(&mut rep.buf, &mut exited);
    l.reap();
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (code, signal, cpu_ms, pids_hit) =
        exited.unwrap_or((None, Some(libc::SIGKILL), 0.0, false));
    let oom = l.cgroup.as_ref().is_some_and(|c| c.oom_killed());
    let (reason, limit, code, signal) = match forced {
        Some((reason, limit)) => (reason, limit, None, Some(libc::SIGKILL)),
        None if oom => (EndReason::Limit, Some(LimitKind::Memory), code, signal),
        None if pids_hit => (EndReason::Limit, Some(LimitKind::Pids), code, signal),
        None => match limit_from_status(code, signal) {
            Some(k) => (EndReason::Limit, Some(k), code, signal),
            None if signal.is_some() => (EndReason::Signal, None, code, signal),
            None => (EndReason::Exit, None, code, signal),
        },
    };
    let text = |s: &Stream| String::from_utf8_lossy(&s.buf).into_owned();
    Ok(Outcome {
        exit_code: code,
        signal,
        reason,
        limit,
        mode: l.mode,
        wall_ms,
        cpu_ms,
        stdout: text(&out),
        stderr: text(&err),
        stdout_truncated: out.seen > cap,
        stderr_truncated: err.seen > cap,
    })
}

/// A sandboxed process with piped stdin/stdout/stderr, for protocols where the caller
/// feeds input and reads answers (e.g. an evaluator calling an agent's strategy).
///
/// Dropping it kills the sandbox. Reads and writes go straight to the pipes; use
/// [`Child::stdout_fd`] with `poll` for per-call time limits.
#[derive(Debug)]
pub struct Child {
    launched: Launched,
    cap: usize,
    wall: Option<Duration>,
}

impl Child {
    /// Starts `argv` in a sandbox with piped stdin.
    pub fn spawn(spec: &SandboxSpec, argv: &[String]) -> Result<Child, SandboxError> {
        let launched = launch(spec, argv, false, StdinMode::Pipe)?;
        Ok(Child {
            launched,
            cap: spec.limits.output_bytes as usize,
            wall: spec.limits.wall,
        })
    }

    /// The isolation mode in use.
    pub fn mode(&self) -> Mode {
        self.launched.mode
    }

    /// The command's stdin (`None` once closed with [`Child::close_stdin`]).
    pub fn stdin(&mut self) -> Option<&mut File> {
        self.launched.stdin.as_mut()
    }

    /// Closes the command's stdin (it then reads end-of-file).
    pub fn close_stdin(&mut self) {
        self.launched.stdin = None;
    }

    /// The command's stdout.
    pub fn stdout(&mut self) -> &mut File {
        &mut self.launched.stdout
    }

    /// The command's stdout descriptor, for `poll`.
    pub fn stdout_fd(&self) -> i32 {
        self.launched.stdout.as_raw_fd()
    }

    /// Writes all of `data` to stdin.
    pub fn write_stdin(&mut self, data: &[u8]) -> Result<(), SandboxError> {
        match self.launched.stdin.as_mut() {
            Some(f) => f
                .write_all(data)
                .map_err(|e| SandboxError::io("writing to the sandboxed process", e)),
            None => Err(SandboxError::Session("stdin is closed".into())),
        }
    }

    /// Reads up to `buf.len()` bytes of stdout, waiting at most `timeout`. Returns
    /// `Ok(None)` on timeout, `Ok(Some(0))` at end of file.
    pub fn read_stdout(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, SandboxError> {
        let rev = sys::poll_in(&[self.launched.stdout.as_raw_fd()], Some(timeout))?;
        if rev[0] == 0 {
            return Ok(None);
        }
        loop {
            match self.launched.stdout.read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SandboxError::io("reading from the sandboxed process", e)),
            }
        }
    }

    /// Kills the process and returns the outcome (stderr captured up to the cap).
    pub fn kill(mut self) -> Result<Outcome, SandboxError> {
        self.launched.stdin = None;
        self.launched.kill();
        let mut o = collect(&mut self.launched, None, self.cap, OutputPolicy::Truncate)?;
        o.reason = EndReason::Signal;
        Ok(o)
    }

    /// Closes stdin and waits for the process to end (within the spec's wall limit).
    pub fn wait(mut self) -> Result<Outcome, SandboxError> {
        self.launched.stdin = None;
        let deadline = self.wall.map(|w| self.launched.started + w);
        collect(
            &mut self.launched,
            deadline,
            self.cap,
            OutputPolicy::Truncate,
        )
    }
}
