//! The Python check behind `edit` and `insert`: the [`PythonChecker`] trait, its
//! [`Diagnostic`]s, and [`ProcessPythonChecker`], which runs [`PYTHON_CHECK_SCRIPT`] with a
//! Python interpreter.
//!
//! The runtime runs the same script inside the sandbox; this module only defines the
//! protocol (source on stdin, the file name as the only argument, one JSON array of
//! diagnostics on stdout, see [`parse_checker_output`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The checker script (Python 3.8+, standard library only). Run it as
/// `python3 -I -c PYTHON_CHECK_SCRIPT <file-name>` with the source on stdin; it prints one
/// JSON array of [`Diagnostic`]s. It reports `E999` when the source does not compile,
/// otherwise undefined names (`F821`, `F822`) and indentation errors (`E111`–`E113`), with
/// flake8's codes and messages.
pub const PYTHON_CHECK_SCRIPT: &str = include_str!("python_check.py");

/// One problem found in a Python source.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem.
    pub column: usize,
    /// flake8-style code, e.g. `E999` or `F821`.
    pub code: String,
    /// Human-readable message, e.g. `IndentationError: unexpected indent`.
    pub message: String,
}

/// Why a check could not run. The edit is then applied unchecked and the observation says so.
#[derive(Debug, thiserror::Error)]
pub enum CheckerError {
    /// The interpreter could not be started.
    #[error("could not start the Python checker `{program}`: {source}")]
    Spawn {
        /// The interpreter that was run.
        program: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The checker did not finish in time and was killed.
    #[error("the Python checker `{program}` did not finish within {seconds} s")]
    Timeout {
        /// The interpreter that was run.
        program: PathBuf,
        /// The time limit.
        seconds: u64,
    },
    /// The checker exited unsuccessfully.
    #[error("the Python checker `{program}` failed ({status}): {stderr}")]
    Failed {
        /// The interpreter that was run.
        program: PathBuf,
        /// Its exit status.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// The checker printed something that is not the expected JSON.
    #[error("the Python checker printed unexpected output ({detail}); expected a JSON array")]
    BadOutput {
        /// What was wrong.
        detail: String,
    },
}

/// Checks a Python source before and after an edit.
pub trait PythonChecker {
    /// Returns the problems in `source`, which is the (possibly not yet written) content of
    /// `path`. Implementations must not read or write `path` itself.
    fn check(&self, path: &Path, source: &str) -> Result<Vec<Diagnostic>, CheckerError>;
}

/// A checker that finds nothing: Python edits are applied without checking.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPythonCheck;

impl PythonChecker for NoPythonCheck {
    fn check(&self, _path: &Path, _source: &str) -> Result<Vec<Diagnostic>, CheckerError> {
        Ok(Vec::new())
    }
}

/// Runs [`PYTHON_CHECK_SCRIPT`] with a local interpreter (used by tests and by runs without
/// a sandbox; the runtime's sandboxed checker uses the same script and
/// [`parse_checker_output`]).
#[derive(Clone, Debug)]
pub struct ProcessPythonChecker {
    program: PathBuf,
    timeout: Duration,
}

impl ProcessPythonChecker {
    /// A checker running `program` (e.g. `/usr/bin/python3`) with a 20-second limit.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        ProcessPythonChecker {
            program: program.into(),
            timeout: Duration::from_secs(20),
        }
    }

    /// Sets the time limit of one check.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl PythonChecker for ProcessPythonChecker {
    fn check(&self, path: &Path, source: &str) -> Result<Vec<Diagnostic>, CheckerError> {
        let spawn_error = |source| CheckerError::Spawn {
            program: self.program.clone(),
            source,
        };
        let mut child = Command::new(&self.program)
            .arg("-I")
            .arg("-c")
            .arg(PYTHON_CHECK_SCRIPT)
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let stdin = child.stdin.take();
        let input = source.as_bytes().to_vec();
        let writer = thread::spawn(move || {
            if let Some(mut stdin) = stdin {
                // A failed write shows up as a failed or malformed check below.
                let _ = stdin.write_all(&input);
            }
        });
        let stdout = read_in_background(child.stdout.take());
        let stderr = read_in_background(child.stderr.take());
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait().map_err(spawn_error)? {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CheckerError::Timeout {
                        program: self.program.clone(),
                        seconds: self.timeout.as_secs(),
                    });
                }
                None => thread::sleep(Duration::from_millis(5)),
            }
        };
        let _ = writer.join();
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        if !status.success() {
            return Err(CheckerError::Failed {
                program: self.program.clone(),
                status: status.to_string(),
                stderr: stderr_tail(&err).trim().to_string(),
            });
        }
        parse_checker_output(&out)
    }
}

fn read_in_background<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The last 2000 characters of a failed checker's standard error: enough for Python's
/// traceback, short enough for a [`CheckerError::Failed`] message.
pub fn stderr_tail(stderr: &str) -> String {
    let skip = stderr.chars().count().saturating_sub(2000);
    stderr.chars().skip(skip).collect()
}

/// Parses the standard output of [`PYTHON_CHECK_SCRIPT`].
pub fn parse_checker_output(stdout: &str) -> Result<Vec<Diagnostic>, CheckerError> {
    serde_json::from_str(stdout.trim()).map_err(|e| CheckerError::BadOutput {
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checker_json() {
        let out = r#"[{"line": 3, "column": 6, "code": "E999", "message": "IndentationError: x"}]"#;
        let diags = parse_checker_output(out).unwrap();
        assert_eq!(diags[0].line, 3);
        assert_eq!(diags[0].code, "E999");
        assert!(parse_checker_output("Traceback").is_err());
    }

    #[test]
    fn missing_interpreter_is_a_spawn_error() {
        let checker = ProcessPythonChecker::new("/nonexistent/python3");
        let err = checker.check(Path::new("a.py"), "x = 1\n").unwrap_err();
        assert!(matches!(err, CheckerError::Spawn { .. }), "{err}");
    }
}
