//! Shared helpers of the sandbox's integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use mlgym_sandbox::{host_support, ModeRequest, Outcome, SandboxSpec, Session};

static INIT: Once = Once::new();

/// Points the library at the helper binary cargo built for these tests.
pub fn setup() {
    INIT.call_once(|| {
        // SAFETY (edition 2021: not unsafe): set once before any sandbox starts.
        std::env::set_var(
            "MLGYM_SANDBOX_INIT",
            env!("CARGO_BIN_EXE_mlgym-sandbox-init"),
        );
    });
}

/// The modes this host can run, each printed; a missing mode is reported, not failed.
pub fn modes() -> Vec<ModeRequest> {
    setup();
    let s = host_support();
    let mut v = Vec::new();
    if s.user_namespaces {
        v.push(ModeRequest::Full);
    } else {
        eprintln!(
            "SKIP mode full: user namespaces unavailable here ({:?})",
            s.reasons
        );
    }
    if s.landlock_abi >= 1 {
        v.push(ModeRequest::Landlock);
    } else {
        eprintln!("SKIP mode landlock: the kernel has no landlock");
    }
    v
}

/// A fresh workspace directory, world-traversable so the sandbox uid can reach it.
pub fn workspace() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("mlgym-test-ws")
        .tempdir()
        .unwrap();
    set_mode(d.path(), 0o755);
    d
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A spec for `mode` with `ws` read-write and a 20 s timeout.
pub fn spec(mode: ModeRequest, ws: &Path) -> SandboxSpec {
    let mut s = SandboxSpec::new(ws).mode(mode);
    s.limits.wall = Some(Duration::from_secs(20));
    s
}

/// A persistent session in `mode` on `ws`: no overall wall limit (each command gets its
/// own), long output truncated.
pub fn start(mode: ModeRequest, ws: &Path) -> Session {
    let mut s = spec(mode, ws);
    s.limits.wall = None;
    s.output_policy = mlgym_sandbox::OutputPolicy::Truncate;
    Session::start(&s).unwrap()
}

/// Runs `sh -c script`.
pub fn sh(spec: &SandboxSpec, script: &str) -> Outcome {
    mlgym_sandbox::run(
        spec,
        &["sh".to_string(), "-c".to_string(), script.to_string()],
    )
    .unwrap()
}

/// Host processes whose command line contains `marker` (excluding this test process).
pub fn processes_with(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(marker) {
                v.push(pid);
            }
        }
    }
    v
}

pub fn is_root() -> bool {
    // SAFETY: geteuid never fails.
    unsafe { libc::geteuid() == 0 }
}

pub fn python() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/python3");
    p.exists().then_some(p)
}

/// A short description of an outcome for assertion messages (output cut to 300 bytes).
pub fn brief(o: &Outcome) -> String {
    let cut = |s: &str| s.chars().take(300).collect::<String>();
    format!(
        "mode={:?} reason={:?} limit={:?} exit={:?} signal={:?} wall_ms={:.0} stdout={:?} stderr={:?}",
        o.mode, o.reason, o.limit, o.exit_code, o.signal, o.wall_ms, cut(&o.stdout), cut(&o.stderr)
    )
}
