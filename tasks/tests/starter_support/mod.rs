//! Shared by the tests of the starter crates (`rl_ppo_starter`, `lm_gpt_starter`): where a
//! shared starter lives, which of its files the registry embeds, writing a task's starter
//! as the agent gets it, and an offline `cargo build` of a crate in it.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `tasks/`.
pub fn tasks_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tasks/starters/<name>`.
pub fn starter_dir(name: &str) -> PathBuf {
    tasks_dir().join("starters").join(name)
}

/// Every file under `dir` (following links), relative to `base`, skipping what
/// `tasks/build.rs` skips: dot-files, `__pycache__` and build outputs (`target`).
pub fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" || name == "target" {
            continue;
        }
        if p.is_dir() {
            files_under(&p, base, out);
        } else {
            out.push(
                p.strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

/// Writes task `id`'s starter files into `dir` exactly as the registry gives them.
pub fn write_starter(id: &str, dir: &Path) {
    let task = mlgym_tasks::registry::get(id).unwrap();
    for f in &task.starter {
        let dst = dir.join(&f.path);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(dst, f.bytes).unwrap();
    }
}

/// `cargo build --offline --quiet [--release] --manifest-path MANIFEST --target-dir TARGET`
/// in `dir`, without the caller's RUSTFLAGS; `None` (with a printed reason) when there is
/// no cargo.
pub fn cargo_build_offline(
    dir: &Path,
    manifest: &str,
    target: &Path,
    release: bool,
) -> Option<Output> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    if Command::new(&cargo).arg("--version").output().is_err() {
        println!("skipped: no cargo on PATH");
        return None;
    }
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "--offline", "--quiet"]);
    if release {
        cmd.arg("--release");
    }
    let out = cmd
        .args(["--manifest-path", manifest, "--target-dir"])
        .arg(target)
        .current_dir(dir)
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    Some(out)
}
