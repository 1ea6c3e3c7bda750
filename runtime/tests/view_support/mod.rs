//! Helpers shared by the viewer tests: a small synthetic run directory in our format, the
//! shared MLGym data, and headless Chromium (installed with apt-get when missing).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

/// The shared MLGym reference data, or `None` (with a printed reason) when absent.
pub fn shared_reference() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/mlgym-reference");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: {} is absent", p.display());
        None
    }
}

/// The text the synthetic run puts into an observation, to check HTML escaping.
pub const HOSTILE: &str = "<script>alert('pwned')</script> & <b>bold</b>";

/// Writes a run directory of our format (`<task>.traj`, `run.json`, `results.json`) with
/// three steps: a validation (score 1.1), an edit whose observation is [`HOSTILE`], and a
/// submission (score 1.25). Returns its path.
pub fn make_run_dir(root: &Path) -> PathBuf {
    let dir = root.join("test-model__battleOfSexes__replay__seed-7__run_0");
    std::fs::create_dir_all(&dir).unwrap();
    let step = |action: &str, obs: &str, thought: &str| {
        json!({
            "action": action,
            "observation": obs,
            "response": format!("{thought}\n```\n{action}```"),
            "state": "{\"open_file\": \"n/a\", \"working_dir\": \"/home/agent/workspace\"}",
            "thought": thought,
            "execution_time": 0.25,
        })
    };
    let traj = json!({
        "environment": "mlgym_main",
        "trajectory": [
            step("validate\n", "Your code produced a valid submission artefact at strategy.py.\nBaseline Score: {'Score': 1.0226699113845825}\nEvaluation Score: {'Score': 1.1}", "DISCUSSION\nCheck the starter."),
            step("edit 1:2\nreturn 0\nend_of_edit\n", HOSTILE, "DISCUSSION\nAlways play 0 & see."),
            step("submit\n", "Exited (submit)", "DISCUSSION\nSubmit."),
        ],
        "history": [
            {"role": "system", "content": "SETTING: test system prompt", "agent": "primary_0"},
            {"role": "user", "content": "TASK DESCRIPTION: play Battle of the Sexes <well>", "agent": "primary_0"},
        ],
        "info": {
            "model_stats": {"total_cost": 0.5, "task_cost": 0.5, "tokens_sent": 1000, "tokens_received": 100, "api_calls": 3},
            "exit_status": "submitted",
            "submission": "/home/agent/workspace/strategy.py",
            "score": [{"Score": 1.1}, {"Score": 1.25}],
            "summarizer": {},
        },
    });
    std::fs::write(
        dir.join("battleOfSexes.traj"),
        serde_json::to_string_pretty(&traj).unwrap(),
    )
    .unwrap();
    let run = json!({
        "task": "battleOfSexes",
        "agent": "replay",
        "model": "test-model",
        "exit_status": "submitted",
        "steps": 3,
        "scores": [
            {"step": 1, "kind": "validate", "metrics": {"Score": 1.1}},
            {"step": 3, "kind": "submit", "metrics": {"Score": 1.25}},
        ],
        "model_stats": {"tokens_sent": 1000, "tokens_received": 100, "api_calls": 3, "total_cost": 0.5, "task_cost": 0.5},
        "seed": 7,
    });
    std::fs::write(
        dir.join("run.json"),
        serde_json::to_string_pretty(&run).unwrap(),
    )
    .unwrap();
    let results = json!({"agent": [{"Score": 1.1}, {"Score": 1.25}], "baseline": {"Score": 1.0226699113845825}});
    std::fs::write(dir.join("results.json"), results.to_string()).unwrap();
    dir
}

/// Runs `mlgym view INPUT -o OUT` and returns OUT's text.
pub fn view(input: &Path, out: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .arg("view")
        .arg(input)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "mlgym view failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// Headless Chromium, installed with `apt-get install -y chromium` when missing (unless
/// `MLGYM_NO_BROWSER_INSTALL` is set). `None`, with the reason printed, when unavailable.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = find_on_path(&BROWSERS) {
        return Some(p);
    }
    if std::env::var_os("MLGYM_NO_BROWSER_INSTALL").is_some() {
        eprintln!("SKIPPED: chromium is not installed and MLGYM_NO_BROWSER_INSTALL is set");
        return None;
    }
    if find_on_path(&["apt-get"]).is_none() {
        eprintln!("SKIPPED: chromium is not installed and there is no apt-get to install it");
        return None;
    }
    eprintln!("chromium is missing; running apt-get install -y chromium");
    let status = Command::new("apt-get")
        .args(["install", "-y", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("SKIPPED: apt-get install -y chromium failed ({other:?})");
            return None;
        }
    }
    let found = find_on_path(&BROWSERS);
    if found.is_none() {
        eprintln!("SKIPPED: chromium still not found after apt-get install");
    }
    found
}

/// Runs headless Chromium on `page` with a fresh profile and `extra` arguments (e.g.
/// `--dump-dom`); returns stdout, or `None` (reason printed) when it cannot run.
pub fn run_chromium(browser: &Path, page: &Path, extra: &[String]) -> Option<String> {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => {
            eprintln!(
                "SKIPPED: chromium failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot start chromium: {e}");
            None
        }
    }
}

/// Checks that `png` decodes, has the expected size and is not a single flat colour.
pub fn assert_png_has_content(png: &Path, min_w: u32, min_h: u32) {
    let img = image::open(png)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", png.display()))
        .to_rgb8();
    assert!(
        img.width() >= min_w && img.height() >= min_h,
        "{}: {}x{}",
        png.display(),
        img.width(),
        img.height()
    );
    let first = *img.get_pixel(0, 0);
    let differing = img.pixels().filter(|p| **p != first).count();
    assert!(
        differing > (img.width() * img.height() / 100) as usize,
        "{} is nearly blank ({differing} pixels differ from the corner)",
        png.display()
    );
}
