//! Evaluation time per task with MLGym's protocol and MLGym's network sizes (five
//! untrained checkpoints, as in `reference/mlgym-rl-cpu.md`). Run in release by
//! `scripts/bench/rl_eval.sh`:
//! `cargo test --release -p mlgym-tasks --test rl_eval_bench -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use mlgym_tasks::rl::env::EnvId;
use mlgym_tasks::rl::evaluate::{evaluate_policy, Protocol};
use mlgym_tasks::rl::policy::checkpoint::write_checkpoint;
use mlgym_tasks::rl::policy::load_submission;
use mlgym_tasks::rl::ppo::PpoConfig;

/// MLGym's `evaluate.py` wall time on this machine type (JIT included), seconds.
fn mlgym_seconds(env: EnvId) -> f64 {
    match env {
        EnvId::MetaMaze => 9.1,
        EnvId::MountainCarContinuous => 11.3,
        EnvId::Breakout => 35.0,
    }
}

#[test]
#[ignore = "benchmark: run in release by scripts/bench/rl_eval.sh"]
fn evaluation_time_per_task() {
    let only = std::env::var("RL_BENCH_ENV").ok();
    for env in EnvId::ALL {
        if only.as_deref().is_some_and(|o| o != env.name()) {
            continue;
        }
        let cfg = PpoConfig::mlgym(env);
        let spec = cfg.net_spec(env);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), cfg.to_toml(env)).unwrap();
        std::fs::create_dir(dir.path().join("checkpoints")).unwrap();
        let (_, inits) = mlgym_tasks::rl::ppo::train::model_seeds(42, 5);
        for (i, s) in inits.iter().enumerate() {
            let p = spec.init(&mut mlgym_tasks::rng::Rng::new(*s));
            write_checkpoint(
                &dir.path()
                    .join(format!("checkpoints/model-{i}.safetensors")),
                &spec,
                &p,
                &BTreeMap::new(),
            )
            .unwrap();
        }
        let t0 = Instant::now();
        let policy = load_submission(dir.path(), env, 5).unwrap();
        let t_load = t0.elapsed().as_secs_f64();
        let scores = evaluate_policy(env, &policy, 0, &Protocol::mlgym(env)).unwrap();
        let total = t0.elapsed().as_secs_f64();
        let steps: usize = scores.returns.len();
        println!(
            "RESULT eval {:<26} untrained {}x{}: {:.3} s (load {:.3} s), Reward Mean {:.4}, Std {:.4}, {} returns; MLGym {:.1} s -> {:.1}x faster",
            env.name(),
            cfg.num_hidden_layers,
            cfg.num_hidden_units,
            total,
            t_load,
            scores.mean,
            scores.std,
            steps,
            mlgym_seconds(env),
            mlgym_seconds(env) / total
        );
    }
}

/// Scores a submission folder with MLGym's protocol: `RL_SCORE_ENV` (gymnax name),
/// `RL_SCORE_DIR` (holding `config.toml` and `checkpoints/`), `RL_SCORE_N` (number of
/// checkpoints, default 5; training snapshots hold one).
#[test]
#[ignore = "a tool: scores a submission folder given by environment variables"]
fn score_submission() {
    let (Ok(env), Ok(dir)) = (std::env::var("RL_SCORE_ENV"), std::env::var("RL_SCORE_DIR")) else {
        println!("skipped: set RL_SCORE_ENV and RL_SCORE_DIR");
        return;
    };
    let env: EnvId = env.parse().unwrap();
    let n: usize = std::env::var("RL_SCORE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let t0 = Instant::now();
    let policy = load_submission(std::path::Path::new(&dir), env, n).unwrap();
    let s = evaluate_policy(env, &policy, 0, &Protocol::mlgym(env)).unwrap();
    println!(
        "RESULT score {dir}: Reward Mean {:.4} Std {:.4}, per checkpoint {:?} ({:.2} s)",
        s.mean,
        s.std,
        s.per_checkpoint,
        t0.elapsed().as_secs_f64()
    );
}
