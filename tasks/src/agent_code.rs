//! Running agent code during evaluation: a fresh sandbox that sees only the submitted
//! artefacts (read-write, they are a throwaway copy), the evaluator's pristine harness
//! files (read-only) and the Python installation — no network, nothing else.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mlgym_sandbox::{Limits, NetPolicy, SandboxSpec};

use crate::evaluator::AgentCodeConfig;

/// Limits for agent code run by an evaluator.
#[derive(Clone, Debug)]
pub struct AgentLimits {
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// CPU seconds per process.
    pub cpu_seconds: u64,
    /// Wall-clock limit of the whole run.
    pub wall: Duration,
    /// Processes and threads.
    pub processes: u64,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            memory_bytes: 2 << 30,
            cpu_seconds: 600,
            wall: Duration::from_secs(600),
            processes: 64,
        }
    }
}

/// The sandbox for agent code: `submission_dir` is the working directory (read-write),
/// `harness_dir` is read-only.
pub fn sandbox_spec(
    cfg: &AgentCodeConfig,
    submission_dir: &Path,
    harness_dir: Option<&Path>,
    limits: &AgentLimits,
) -> SandboxSpec {
    let mut spec = SandboxSpec::new(submission_dir);
    spec.mode = cfg.mode;
    spec.net = NetPolicy::None;
    spec.read_only = cfg.python.read_only.clone();
    if let Some(h) = harness_dir {
        spec.read_only.push(h.to_path_buf());
    }
    spec.limits = Limits {
        memory_bytes: Some(limits.memory_bytes),
        cpu_seconds: Some(limits.cpu_seconds),
        processes: Some(limits.processes),
        file_size_bytes: Some(256 << 20),
        open_files: Some(1024),
        wall: Some(limits.wall),
        output_bytes: 1 << 20,
        tmp_bytes: 256 << 20,
    };
    let dir = submission_dir.to_string_lossy().into_owned();
    spec.env = vec![
        ("PYTHONPATH".into(), dir.clone()),
        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ("PYTHONHASHSEED".into(), "0".into()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
        ("OMP_NUM_THREADS".into(), "1".into()),
        ("OPENBLAS_NUM_THREADS".into(), "1".into()),
        ("MKL_NUM_THREADS".into(), "1".into()),
        ("HOME".into(), dir),
    ];
    spec
}

/// `python <script> <args...>` with the configured interpreter.
pub fn python_argv(cfg: &AgentCodeConfig, script: &Path, args: &[String]) -> Vec<String> {
    let mut v = vec![
        cfg.python.executable.to_string_lossy().into_owned(),
        "-B".into(),
        script.to_string_lossy().into_owned(),
    ];
    v.extend(args.iter().cloned());
    v
}

/// Writes `files` (name → content) into a fresh read-only harness directory under
/// `scratch` and returns it. The directory and files are world-readable so that the
/// sandbox's unprivileged uid can read them.
pub fn write_harness(scratch: &Path, files: &[(&str, &[u8])]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch.join("harness");
    std::fs::create_dir_all(&dir)?;
    for (name, content) in files {
        let p = dir.join(name);
        std::fs::write(&p, content)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444))?;
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555))?;
    Ok(dir)
}
