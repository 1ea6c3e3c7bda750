//! The agent's starter files against the native evaluator, on synthetic shards:
//! `lm_io.py` (numpy) reads what Rust writes and computes the same loss, refuses a
//! damaged submission naming the tensor, and its unigram submission scores the unigram
//! cross-entropy; `baseline.py` (PyTorch) writes a submission the evaluator scores as
//! the script itself did. Each part skips with a message when the interpreter lacks
//! numpy or PyTorch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lm_support;

use std::path::Path;
use std::process::{Command, Output};

use lm_support::*;
use mlgym_tasks::datasets::fineweb;
use mlgym_tasks::lm::config::Position;
use mlgym_tasks::lm::scoring::evaluate_dir;
use mlgym_tasks::lm::{weights, CONFIG_FILE, MODEL_FILE};

fn python() -> String {
    std::env::var("MLGYM_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into())
}

fn has_module(module: &str) -> bool {
    Command::new(python())
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A workspace holding the registry's starter files, `data/` linked to the staged data.
fn workspace(root: &Path) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let task = mlgym_tasks::registry::get("languageModelingFineWeb").unwrap();
    let names: Vec<String> = task
        .starter
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    // The Python files, then the Rust crate `gpt/` (tests/lm_gpt_starter.rs checks that).
    assert_eq!(names[..2], ["baseline.py", "lm_io.py"]);
    assert!(
        names[2..].iter().all(|n| n.starts_with("gpt/")),
        "{names:?}"
    );
    for f in task.starter.iter().take(2) {
        std::fs::write(ws.path().join(&f.path), f.bytes).unwrap();
    }
    let public = task.hooks.data.as_ref().unwrap().public_dir(root).unwrap();
    std::os::unix::fs::symlink(public, ws.path().join("data")).unwrap();
    ws
}

fn run(ws: &Path, args: &[&str]) -> Output {
    Command::new(python())
        .args(args)
        .current_dir(ws)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The number after `key` in `s`.
fn number_after(s: &str, key: &str) -> f64 {
    let at = s.find(key).unwrap_or_else(|| panic!("no `{key}` in {s}")) + key.len();
    s[at..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn lm_io_reads_checks_and_scores_what_rust_writes() {
    if !has_module("numpy") {
        eprintln!("skipping: {} has no numpy", python());
        return;
    }
    let root = tempfile::tempdir().unwrap();
    stage_synthetic(root.path(), 64, 2 * 1024 + 1, 1, 5000);
    let ws = workspace(root.path());
    let sub = ws.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    // Every option away from its default (learned positions long enough for a window).
    let cfg = mlgym_tasks::lm::config::ModelConfig {
        position: Position::Learned,
        block_size: Some(1024),
        ..exotic(64)
    };
    weights::save(&sub, &cfg, &random_weights(&cfg, 8, 0.5)).unwrap();
    let o = run(ws.path(), &["lm_io.py", "check", "sub"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(ws.path(), &["lm_io.py", "loss", "sub", "--tokens", "2048"]);
    assert!(o.status.success(), "{}", text(&o));
    let numpy = number_after(&text(&o), "tokens:");
    let native = evaluate_dir(&sub, root.path(), 2048).unwrap().loss;
    assert!(
        (numpy - native).abs() < 1e-4,
        "numpy {numpy} vs candle {native}"
    );

    // A tensor missing: both refuse, naming it.
    let mut w = random_weights(&cfg, 8, 0.5);
    w.remove("transformer.h.1.mlp.c_gate.weight");
    std::fs::write(sub.join(MODEL_FILE), weights::serialize(&w).unwrap()).unwrap();
    let o = run(ws.path(), &["lm_io.py", "check", "sub"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("transformer.h.1.mlp.c_gate.weight"),
        "{}",
        text(&o)
    );
    let e = evaluate_dir(&sub, root.path(), 2048)
        .unwrap_err()
        .to_string();
    assert!(e.contains("transformer.h.1.mlp.c_gate.weight"), "{e}");
}

#[test]
fn lm_io_unigram_submission_scores_the_unigram_cross_entropy() {
    if !has_module("numpy") {
        eprintln!("skipping: {} has no numpy", python());
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let val = stage_synthetic(root.path(), 300, 2 * 1024 + 1, 1, 20_000);
    let ws = workspace(root.path());
    let o = run(ws.path(), &["lm_io.py", "unigram", "--out", "sub"]);
    assert!(o.status.success(), "{}", text(&o));
    let got = evaluate_dir(&ws.path().join("sub"), root.path(), 2048)
        .unwrap()
        .loss;
    // Add-one smoothed frequencies of the training tokens over 50304 ids.
    let shard = fineweb::train_shards(root.path()).unwrap();
    let train = mlgym_tasks::lm::shards::Shard::open(&shard[0])
        .unwrap()
        .read(0, 20_000)
        .unwrap();
    let mut counts = vec![1f64; 50_304];
    for t in &train {
        counts[usize::from(*t)] += 1.0;
    }
    let total: f64 = counts.iter().sum();
    let want = val[1..2049]
        .iter()
        .map(|&t| -(counts[usize::from(t)] / total).ln())
        .sum::<f64>()
        / 2048.0;
    assert!((got - want).abs() < 1e-4, "unigram {got} vs {want}");
    let cfg = std::fs::read_to_string(ws.path().join("sub").join(CONFIG_FILE)).unwrap();
    assert!(cfg.contains("\"n_layer\": 0"), "{cfg}");
}

#[test]
fn baseline_py_writes_what_the_evaluator_scores() {
    if !has_module("numpy") || !has_module("torch") {
        eprintln!(
            "skipping: {} lacks numpy or torch (apt-get install python3-torch)",
            python()
        );
        return;
    }
    let root = tempfile::tempdir().unwrap();
    stage_synthetic(root.path(), 200, 2 * 1024 + 1, 1, 12 * 4 * 64 + 1);
    let ws = workspace(root.path());
    let o = run(
        ws.path(),
        &[
            "baseline.py",
            "--vocab-size",
            "256",
            "--n-layer",
            "2",
            "--n-head",
            "2",
            "--n-embd",
            "32",
            "--batch-size",
            "4",
            "--seq-len",
            "64",
            "--iterations",
            "12",
            "--warmdown-iters",
            "12",
            "--log-every",
            "4",
            "--val-tokens",
            "2048",
            "--out",
            "sub",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("step 4/12 loss") && out.contains("tokens/s"),
        "{out}"
    );
    // baseline.py validates with the evaluator's windows: PyTorch, numpy and candle agree.
    let torch = number_after(&out, "val_loss");
    let native = evaluate_dir(&ws.path().join("sub"), root.path(), 2048)
        .unwrap()
        .loss;
    assert!(
        (torch - native).abs() < 1e-4,
        "PyTorch {torch} vs candle {native}"
    );
    let o = run(ws.path(), &["lm_io.py", "loss", "sub", "--tokens", "2048"]);
    assert!(o.status.success(), "{}", text(&o));
    let numpy = number_after(&text(&o), "tokens:");
    assert!(
        (numpy - native).abs() < 1e-4,
        "numpy {numpy} vs candle {native}"
    );
    // 12 steps from a zero head: below uniform over 256 ids.
    assert!(native < 256f64.ln(), "{native}");
}
