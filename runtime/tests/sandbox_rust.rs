//! The agent builds a starter crate inside its sandbox: an episode of
//! languageModelingFineWeb stages the host's toolchain and registry (read-only inside),
//! its workspace gets the pre-built target directory, and `cargo build --release` in the
//! sandbox (no network) recompiles the starter crate alone; the trainer it builds runs
//! there and writes a submission the evaluator scores.
//!
//! The staged toolchain lives under `target/tmp/sandbox-rust-data` (kept between runs):
//! the first run pre-builds candle (minutes), later runs reuse it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mlgym_runtime::episode::{Episode, EpisodeConfig};
use mlgym_tasks::datasets::fineweb;
use mlgym_tasks::lm::shards;

const TASK: &str = "languageModelingFineWeb";

/// A learnable synthetic stream of `n` ids below `vocab`.
fn tokens(n: usize, vocab: u16, seed: u64) -> Vec<u16> {
    let mut r = mlgym_tasks::rng::Rng::new(seed);
    let mut t = 0u16;
    (0..n)
        .map(|_| {
            t = if r.bernoulli(0.85) {
                ((u32::from(t) * 7 + 3) % u32::from(vocab)) as u16
            } else {
                r.below(u64::from(vocab)) as u16
            };
            t
        })
        .collect()
}

/// The persistent data root (synthetic FineWeb staged once).
fn data_root() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-rust-data");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    if fineweb::check_staged(&root).is_err() {
        let src = tempfile::tempdir().unwrap();
        shards::write(&src.path().join(fineweb::VAL_FILE), &tokens(4097, 500, 1)).unwrap();
        let train = tokens(8 * 4 * 64 + 1, 500, 2);
        shards::write(&src.path().join(fineweb::train_name(1)), &train).unwrap();
        fineweb::import(src.path(), &root).unwrap();
    }
    root
}

#[test]
fn the_agent_builds_and_runs_the_lm_starter_crate_offline_in_its_sandbox() {
    if std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("skipped: no rustc on PATH, so the sandbox gets no toolchain");
        return;
    }
    let task = mlgym_tasks::registry::get(TASK).unwrap();
    let run = tempfile::Builder::new()
        .prefix("mlgym-rust")
        .tempdir()
        .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cfg = EpisodeConfig {
        max_steps: 20,
        short_timeout: Duration::from_secs(25),
        seed: 0,
        mode: mlgym_sandbox::ModeRequest::Auto,
        data_root: data_root(),
        python: mlgym_tasks::python::PythonEnv::from_env().unwrap(),
        native_baseline: false,
        gpus: Vec::new(),
        memory: None,
    };
    let t0 = Instant::now();
    let mut ep = Episode::start(task, run.path(), cfg).unwrap();
    println!(
        "episode start (staging + target copy): {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let ws = run.path().join("workspace");
    assert!(
        ws.join("gpt/target/release").is_dir(),
        "no pre-built target"
    );

    // cargo and its home are the staged copies (read-only), offline.
    let env = ep
        .step("echo home=$CARGO_HOME offline=$CARGO_NET_OFFLINE; which cargo; touch $CARGO_HOME/x 2>/dev/null || echo read-only")
        .observation;
    assert!(
        env.contains("/rust/") && env.contains("offline=true") && env.contains("read-only"),
        "{env}"
    );

    let t1 = Instant::now();
    let build = ep
        .step("cargo build --release --manifest-path gpt/Cargo.toml 2>&1 | tail -5; echo rc=${PIPESTATUS[0]}")
        .observation;
    let secs = t1.elapsed().as_secs_f64();
    println!("first in-sandbox build: {secs:.1} s\n{build}");
    assert!(build.contains("rc=0"), "{build}");
    // Incremental: the dependencies come from the pre-built target. Whether `gpt` itself
    // recompiles depends on the files' times (the workspace copy is written after the
    // pre-build, but cargo may still find the pre-built binary fresh); candle never does.
    assert!(!build.contains("Compiling candle-core"), "{build}");
    assert!(
        build.contains("Compiling gpt") || build.contains("Finished"),
        "{build}"
    );

    // A tiny recipe (the quick one, smaller) trains and writes the submission.
    let train = ep
        .step(
            "sed -e 's/^seq_len = 128/seq_len = 64/' -e 's/^vocab_size = 50304/vocab_size = 500/' \
             gpt/configs/quick.toml > tiny.toml && ./gpt/target/release/train --config tiny.toml \
             --iterations 4 --val-tokens 1024 2>&1 | tail -4; echo rc=$?",
        )
        .observation;
    assert!(
        train.contains("rc=0") && train.contains("val_loss"),
        "{train}"
    );
    let sub = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "model_config.json"] {
        std::fs::copy(ws.join(f), sub.path().join(f)).unwrap();
    }
    let r = mlgym_tasks::lm::scoring::evaluate_dir(sub.path(), &data_root(), 2048).unwrap();
    assert!(r.loss.is_finite(), "{r:?}");
}

/// The RL tasks' starter crate (`ppo/`, no dependencies) is staged and pre-built the same
/// way, ahead of any episode, by `mlgym tasks prepare` in a fresh data root: cargo's
/// progress lines reach the user, a second call finds it ready, and a task without a
/// crate has nothing to prepare.
#[test]
fn tasks_prepare_stages_an_rl_task_crate_with_progress_lines() {
    if std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("skipped: no rustc on PATH, so the sandbox gets no toolchain");
        return;
    }
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let prepare = |task: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlgym"))
            .args(["tasks", "prepare", task, "--json"])
            .env("MLGYM_DATA", root.path())
            .env_remove(mlgym_runtime::episode::toolchain::OFF_ENV)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (v, err) = prepare("rlMetaMazeMisc");
    assert!(err.contains("pre-building"), "{err}");
    assert!(
        err.contains("pre-build: Compiling ppo"),
        "cargo's progress is passed on: {err}"
    );
    assert_eq!(v["crates"], serde_json::json!(["ppo"]), "{v}");
    let staged = std::path::PathBuf::from(v["rust"].as_str().unwrap());
    assert!(staged.starts_with(root.path()), "{v}");
    let built = staged.join("crates/ppo/target/release/ppo");
    assert!(built.is_file(), "{} was pre-built", built.display());
    // Ready: the second call stages and builds nothing.
    let (again, err) = prepare("rlMetaMazeMisc");
    assert_eq!(again["rust"], v["rust"]);
    assert!(!err.contains("pre-build"), "{err}");
    // A task without a crate: nothing to do, and it says why.
    let (none, _) = prepare("battleOfSexes");
    assert!(none["rust"].is_null(), "{none}");
    assert!(
        none["reason"].as_str().unwrap().contains("no Rust crate"),
        "{none}"
    );
}
