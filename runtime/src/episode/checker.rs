//! The Python checker of `edit`/`insert`, run in a one-shot sandbox (the source is the
//! agent's; nothing of it runs outside a sandbox, not even the parser).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mlgym_sandbox::{Child, ModeRequest, SandboxSpec};
use mlgym_tasks::python::PythonEnv;

use crate::commands::{
    parse_checker_output, stderr_tail, CheckerError, Diagnostic, PythonChecker, PYTHON_CHECK_SCRIPT,
};

/// Runs [`PYTHON_CHECK_SCRIPT`] in a fresh sandbox per check.
pub struct SandboxedChecker {
    python: PythonEnv,
    mode: ModeRequest,
    scratch: PathBuf,
}

impl SandboxedChecker {
    /// A checker using `python`, with `scratch` (an existing, empty directory) as the
    /// sandbox's working directory.
    pub fn new(python: PythonEnv, mode: ModeRequest, scratch: PathBuf) -> Self {
        SandboxedChecker {
            python,
            mode,
            scratch,
        }
    }
}

impl PythonChecker for SandboxedChecker {
    fn check(&self, path: &Path, source: &str) -> Result<Vec<Diagnostic>, CheckerError> {
        let program = self.python.executable.clone();
        let fail = |status: String, stderr: String| CheckerError::Failed {
            program: program.clone(),
            status,
            stderr,
        };
        let mut spec = SandboxSpec::new(&self.scratch);
        spec.read_write.clear();
        spec.read_only.push(self.scratch.clone());
        spec.read_only.extend(self.python.read_only.iter().cloned());
        spec.mode = self.mode;
        spec.limits.wall = Some(Duration::from_secs(20));
        spec.limits.memory_bytes = Some(1 << 30);
        spec.limits.processes = Some(16);
        let argv = vec![
            program.to_string_lossy().into_owned(),
            "-I".into(),
            "-c".into(),
            PYTHON_CHECK_SCRIPT.into(),
            path.to_string_lossy().into_owned(),
        ];
        let mut child = Child::spawn(&spec, &argv)
            .map_err(|e| fail("could not start".into(), e.to_string()))?;
        // A failed write shows up as a failed or malformed check below.
        let _ = child.write_stdin(source.as_bytes());
        child.close_stdin();
        let out = child
            .wait()
            .map_err(|e| fail("failed".into(), e.to_string()))?;
        if !out.success() {
            return Err(fail(
                format!("{:?} {:?}", out.reason, out.exit_code),
                stderr_tail(&out.stderr),
            ));
        }
        parse_checker_output(&out.stdout)
    }
}
