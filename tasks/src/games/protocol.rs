//! The evaluator's end of the harness protocol: one sandboxed Python process per
//! evaluation, spoken to in strict ping-pong (at most one message, one answer) with time
//! limits.
//!
//! Waiting first polls without sleeping for a short, adaptive time, then blocks in
//! `poll`. Waking a blocked process costs tens of microseconds on a virtual machine
//! (64 µs per pipe round trip measured here, against 5 µs when both sides poll), which
//! over 90,000 round trips dominated an evaluation. The spin budget halves whenever the
//! strategy answers later than it (a slow strategy, or a busy machine where spinning
//! would take the CPU the strategy needs) and doubles when it answers within it.

use std::time::{Duration, Instant};

use mlgym_sandbox::{Child, LimitKind, Outcome, SandboxSpec};
use serde::Deserialize;

use crate::evaluator::EvalError;

/// Time limits of one evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameLimits {
    /// Longest a single `row_strategy` call may take.
    pub per_call: Duration,
    /// Longest importing `strategy.py` may take; the first call gets as long (lazy
    /// imports, caches built on first use).
    pub startup: Duration,
    /// Longest the whole evaluation may take.
    pub total: Duration,
    /// Memory of the strategy's process, in bytes.
    pub memory_bytes: u64,
}

impl Default for GameLimits {
    fn default() -> Self {
        GameLimits {
            per_call: Duration::from_secs(1),
            startup: Duration::from_secs(60),
            total: Duration::from_secs(600),
            memory_bytes: 2 << 30,
        }
    }
}

/// Spin budget bounds: the first wait spins for `SPIN_START`, later ones adapt between
/// `SPIN_MIN` and `SPIN_MAX`.
const SPIN_START: Duration = Duration::from_micros(50);
const SPIN_MIN: Duration = Duration::from_micros(4);
const SPIN_MAX: Duration = Duration::from_micros(200);

/// Longest protocol line accepted (a Blotto move is under 30 bytes; errors under 2 KB).
const MAX_LINE: usize = 16 << 10;

/// An error reported by the harness: `E {"kind": ..., "text": ..., "where": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Reported {
    /// `import`, `missing`, `raised` or `invalid`.
    pub kind: String,
    /// The exception or the problem, one line.
    pub text: String,
    /// `strategy.py, line 12, in row_strategy`, when known.
    #[serde(rename = "where")]
    pub location: Option<String>,
}

/// Why a call produced no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No answer within the per-call (`total == false`) or total limit.
    Timeout { limit: Duration, total: bool },
    /// The process stopped answering: it ended or closed its output. Says how.
    Ended(String),
    /// The harness reported an error.
    Reported(Reported),
    /// An answer that is not part of the protocol (an excerpt).
    Garbage(String),
}

/// The sandboxed strategy process.
pub(crate) struct StrategyProcess {
    child: Option<Child>,
    buf: Vec<u8>,
    line: Vec<u8>,
    limits: GameLimits,
    deadline: Instant,
    first_call: bool,
    spin: Duration,
}

impl StrategyProcess {
    /// Starts `argv` in a sandbox.
    pub fn spawn(
        spec: &SandboxSpec,
        argv: &[String],
        limits: &GameLimits,
    ) -> Result<StrategyProcess, EvalError> {
        let child = Child::spawn(spec, argv)?;
        Ok(StrategyProcess {
            child: Some(child),
            buf: Vec::with_capacity(256),
            line: Vec::with_capacity(64),
            limits: limits.clone(),
            deadline: Instant::now() + limits.total,
            first_call: true,
            spin: SPIN_START,
        })
    }

    /// Waits for the harness to report that `strategy.py` is imported.
    pub fn handshake(&mut self) -> Result<(), Failure> {
        self.read_line(self.limits.startup)?;
        if self.line == b"R" {
            Ok(())
        } else {
            Err(self.not_an_answer())
        }
    }

    /// Sends `msg` (one line, with its newline), if any, and returns the next answer line.
    pub fn call(&mut self, msg: Option<&[u8]>) -> Result<&[u8], Failure> {
        let limit = if self.first_call {
            self.limits.startup
        } else {
            self.limits.per_call
        };
        self.first_call = false;
        if let Some(msg) = msg {
            let Some(child) = self.child.as_mut() else {
                return Err(Failure::Ended("it had already stopped".into()));
            };
            if child.write_stdin(msg).is_err() {
                return Err(self.ended());
            }
        }
        self.read_line(limit)?;
        if self.line.starts_with(b"E ") {
            return Err(self.not_an_answer());
        }
        Ok(&self.line)
    }

    /// The failure for the current line, which is not the expected answer.
    fn not_an_answer(&mut self) -> Failure {
        if let Some(json) = self.line.strip_prefix(b"E ") {
            if let Ok(r) = serde_json::from_slice::<Reported>(json) {
                self.stop();
                return Failure::Reported(r);
            }
        }
        let excerpt: String = String::from_utf8_lossy(&self.line)
            .chars()
            .take(80)
            .collect();
        self.stop();
        Failure::Garbage(excerpt)
    }

    /// Reads one line into `self.line` within `limit` (and the total deadline).
    fn read_line(&mut self, limit: Duration) -> Result<(), Failure> {
        let start = Instant::now();
        let (deadline, total) = if start + limit < self.deadline {
            (start + limit, false)
        } else {
            (self.deadline, true)
        };
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                self.line.clear();
                self.line.extend_from_slice(&self.buf[..i]);
                self.buf.drain(..=i);
                return Ok(());
            }
            if self.buf.len() > MAX_LINE {
                self.line = std::mem::take(&mut self.buf);
                return Err(self.not_an_answer());
            }
            let now = Instant::now();
            if now >= deadline {
                self.stop();
                let limit = if total { self.limits.total } else { limit };
                return Err(Failure::Timeout { limit, total });
            }
            let Some(child) = self.child.as_mut() else {
                return Err(Failure::Ended("it had already stopped".into()));
            };
            let spin_end = (now + self.spin).min(deadline);
            let mut got = None;
            while Instant::now() < spin_end {
                match child.read_stdout(&mut chunk, Duration::ZERO) {
                    Ok(None) => std::hint::spin_loop(),
                    other => {
                        got = Some(other);
                        break;
                    }
                }
            }
            let read = match got {
                Some(r) => {
                    self.spin = (self.spin * 2).min(SPIN_MAX);
                    r
                }
                None => {
                    self.spin = (self.spin / 2).max(SPIN_MIN);
                    child.read_stdout(
                        &mut chunk,
                        deadline.saturating_duration_since(Instant::now()),
                    )
                }
            };
            match read {
                Ok(None) => {}
                Ok(Some(0)) | Err(_) => return Err(self.ended()),
                Ok(Some(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Kills the process (idempotent).
    pub fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            let _ = c.kill();
        }
    }

    /// The failure for a process that stopped answering: how it ended, with the last
    /// lines it wrote to stderr.
    fn ended(&mut self) -> Failure {
        match self.child.take().map(Child::kill) {
            Some(Ok(o)) => Failure::Ended(describe_end(&o)),
            Some(Err(e)) => Failure::Ended(format!("its end could not be observed ({e})")),
            None => Failure::Ended("it had already stopped".into()),
        }
    }
}

impl Drop for StrategyProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// "it exited with status 3; its last error output: ...".
fn describe_end(o: &Outcome) -> String {
    let how = match (o.limit, o.exit_code, o.signal) {
        (Some(LimitKind::Memory), _, _) => "it ran out of memory".to_string(),
        (Some(LimitKind::Cpu), _, _) => "it used up its CPU time".to_string(),
        (Some(LimitKind::Pids), _, _) => "it started too many processes".to_string(),
        (Some(LimitKind::Fsize), _, _) => "it wrote a file larger than allowed".to_string(),
        (_, Some(code), _) => format!("it exited with status {code}"),
        (_, None, Some(sig)) => format!("it was killed by signal {sig}"),
        _ => "it closed its output".to_string(),
    };
    let tail = stderr_tail(&o.stderr, 5);
    if tail.is_empty() {
        how
    } else {
        format!("{how}; its last error output: {tail}")
    }
}

/// The last `n` non-empty lines of `s`, each cut to 200 characters, joined with " | ".
pub(crate) fn stderr_tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| {
            let mut c: String = l.chars().take(200).collect();
            if c.len() < l.len() {
                c.push_str("...");
            }
            c
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_keeps_a_few_short_lines() {
        let s = "a\n\nb\nc\nd\ne\nf\n";
        assert_eq!(stderr_tail(s, 3), "d | e | f");
        let long = "x".repeat(500);
        assert_eq!(stderr_tail(&long, 5).len(), 203);
        assert_eq!(stderr_tail("", 5), "");
    }

    #[test]
    fn harness_errors_parse() {
        let r: Reported = serde_json::from_str(r#"{"kind":"raised","text":"ZeroDivisionError: division by zero","where":"strategy.py, line 3, in row_strategy"}"#).unwrap();
        assert_eq!(r.kind, "raised");
        assert_eq!(
            r.location.as_deref(),
            Some("strategy.py, line 3, in row_strategy")
        );
    }
}
