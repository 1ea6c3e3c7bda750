//! Helpers for the end-to-end tests of the `mlgym` CLI: locating the binary and the
//! shared reference data, running commands, writing replay files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

static BUILD: std::sync::Once = std::sync::Once::new();

/// The `mlgym` binary of this build (`target/<profile>/mlgym`). The first call makes sure
/// it is up to date (`cargo build`, a no-op when it is), since this test crate cannot
/// depend on a binary.
pub fn mlgym() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/mlgym
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = profile_dir.join("mlgym");
    BUILD.call_once(|| {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut c = Command::new(env!("CARGO"));
        c.args(["build", "-q", "-p", "mlgym-runtime", "--bin", "mlgym"]);
        if release {
            c.arg("--release");
        }
        let st = c.status().expect("running cargo build");
        assert!(st.success(), "building the mlgym binary failed");
    });
    bin
}

/// `../shared` beside the repository, when present.
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    p.is_dir().then(|| p.canonicalize().unwrap())
}

/// Runs `mlgym ARGS` and returns its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(mlgym())
        .args(args)
        .output()
        .expect("running mlgym")
}

/// Runs `mlgym ARGS --json` (the caller includes `--json`), asserts success and parses
/// stdout.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mlgym {args:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Wraps each command as an agent response (discussion + one fenced block).
pub fn responses(commands: &[&str]) -> Vec<String> {
    commands
        .iter()
        .map(|c| format!("DISCUSSION\nNext step.\n\n```\n{c}\n```"))
        .collect()
}

/// Writes responses as a replay file (our trajectory.jsonl format) and returns its path.
pub fn replay_file(dir: &Path, name: &str, responses: &[String]) -> PathBuf {
    let mut text = String::new();
    for r in responses {
        text.push_str(&serde_json::json!({ "kind": "step", "response": r }).to_string());
        text.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The step lines of a run's `trajectory.jsonl`.
pub fn journal_steps(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("trajectory.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "step")
        .collect()
}

/// A temporary directory the sandbox's unprivileged uid can traverse.
pub fn tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::Builder::new()
        .prefix("mlgym-e2e")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}
