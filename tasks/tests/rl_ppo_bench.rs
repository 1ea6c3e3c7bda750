//! PPO training speed per task with MLGym's settings (env steps per second over a fixed
//! number of updates). Run in release by `scripts/bench/rl_ppo.sh`:
//! `cargo test --release -p mlgym-tasks --test rl_ppo_bench -- --ignored --nocapture`.
//! `RL_BENCH_UPDATES` sets the number of updates (default 3 MountainCar, 12 Breakout,
//! 60 MetaMaze); `RL_BENCH_ENV` restricts to one environment (gymnax name).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mlgym_tasks::rl::env::EnvId;
use mlgym_tasks::rl::policy::RayonPar;
use mlgym_tasks::rl::ppo::{train_env, PpoConfig, TrainOptions};
use mlgym_tasks::rng::Rng;

/// MLGym's JAX PPO on this machine type, env steps/s after JIT.
fn mlgym_rate(env: EnvId) -> f64 {
    match env {
        EnvId::MetaMaze => 17_300.0,
        EnvId::MountainCarContinuous => 10_400.0,
        EnvId::Breakout => 9_360.0,
    }
}

#[test]
#[ignore = "benchmark: run in release by scripts/bench/rl_ppo.sh"]
fn ppo_env_steps_per_second() {
    let only = std::env::var("RL_BENCH_ENV").ok();
    let updates: Option<u64> = std::env::var("RL_BENCH_UPDATES")
        .ok()
        .and_then(|v| v.parse().ok());
    for env in EnvId::ALL {
        if only.as_deref().is_some_and(|o| o != env.name()) {
            continue;
        }
        let mut cfg = PpoConfig::mlgym(env);
        let n_updates = updates.unwrap_or(match env {
            EnvId::MountainCarContinuous => 3,
            EnvId::Breakout => 12,
            EnvId::MetaMaze => 60,
        });
        // Keep MLGym's learning-rate schedule length: it depends on num_train_steps.
        let full_steps = cfg.num_train_steps;
        cfg.num_train_steps =
            n_updates * (cfg.num_train_envs as u64) * (cfg.n_steps as u64 + 1) - 1;
        cfg.lr_warmup *= full_steps as f64 / cfg.num_train_steps as f64;
        let spec = cfg.net_spec(env);
        let params = spec.init(&mut Rng::new(1));
        let progress = |_: &str| {};
        let opts = TrainOptions {
            seed: 0,
            par: &RayonPar,
            progress: &progress,
            label: String::new(),
            snapshot: None,
        };
        let r = train_env(env, &cfg, &spec, params, &opts).unwrap();
        let rate = r.env_steps as f64 / r.seconds;
        let full_hours = 5.0 * full_steps as f64 / rate / 3600.0;
        println!(
            "RESULT ppo {:<26} {} updates, {} env steps in {:.2} s: {:.0} env-steps/s; MLGym {:.0} -> {:.2}x; full 5-seed baseline projected {:.2} h",
            env.name(),
            r.updates / (cfg.epoch_ppo * cfg.n_minibatch) as u64,
            r.env_steps,
            r.seconds,
            rate,
            mlgym_rate(env),
            rate / mlgym_rate(env),
            full_hours
        );
    }
}

/// A full (or shortened) baseline run written as a submission and scored with MLGym's
/// protocol. Settings by environment variables: `RL_TRAIN_ENV` (gymnax name, required),
/// `RL_TRAIN_OUT` (output folder, required), `RL_TRAIN_MODELS` (default 5),
/// `RL_TRAIN_STEPS` (default: MLGym's `num_train_steps`; the learning-rate schedule keeps
/// MLGym's length), `RL_TRAIN_SEED` (default 0).
#[test]
#[ignore = "long: a baseline training run, started by hand"]
fn train_and_score_baseline() {
    use mlgym_tasks::rl::evaluate::{evaluate_policy, Protocol};
    use mlgym_tasks::rl::policy::load_submission;
    use mlgym_tasks::rl::task::write_baseline_models;
    let Ok(env) = std::env::var("RL_TRAIN_ENV") else {
        println!("skipped: set RL_TRAIN_ENV and RL_TRAIN_OUT");
        return;
    };
    let env: EnvId = env.parse().unwrap();
    let out = std::path::PathBuf::from(std::env::var("RL_TRAIN_OUT").unwrap());
    let models: usize = std::env::var("RL_TRAIN_MODELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("RL_TRAIN_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut cfg = PpoConfig::mlgym(env);
    if let Some(steps) = std::env::var("RL_TRAIN_STEPS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        cfg.lr_warmup *= cfg.num_train_steps as f64 / steps as f64;
        cfg.num_train_steps = steps;
    }
    std::fs::create_dir_all(&out).unwrap();
    let progress = |line: &str| println!("{line}");
    let t0 = std::time::Instant::now();
    let snapshot_every: u64 = std::env::var("RL_TRAIN_SNAPSHOT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if snapshot_every > 0 {
        train_one_with_snapshots(env, &cfg, seed, &out, snapshot_every, &progress);
    } else {
        write_baseline_models(env, &cfg, seed, &out, models, &progress).unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    // A snapshot run trains model 0 alone: its submission holds one checkpoint.
    let models = if snapshot_every > 0 { 1 } else { models };
    let policy = load_submission(&out, env, models).unwrap();
    let s = evaluate_policy(env, &policy, 0, &Protocol::mlgym(env)).unwrap();
    println!(
        "RESULT train {} models={models} steps={} wall {:.0} s: Reward Mean {:.4} Std {:.4}; per checkpoint {:?}",
        env.name(),
        cfg.num_train_steps,
        secs,
        s.mean,
        s.std,
        s.per_checkpoint
    );
}

/// Model 0 alone, written as a one-checkpoint submission in `out` at the end and in
/// `out/snap-<env steps>/` every `every` updates (score those with
/// `rl_eval_bench::score_submission`).
fn train_one_with_snapshots(
    env: EnvId,
    cfg: &PpoConfig,
    seed: u64,
    out: &std::path::Path,
    every: u64,
    progress: &(dyn Fn(&str) + Sync),
) {
    use mlgym_tasks::rl::policy::checkpoint::write_checkpoint;
    use mlgym_tasks::rl::ppo::train::model_seeds;
    use mlgym_tasks::rl::ppo::Snapshot;
    use mlgym_tasks::rl::task::curves_csv;
    let spec = cfg.net_spec(env);
    let write = |dir: &std::path::Path, params: &[f32]| {
        std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
        std::fs::write(dir.join("config.toml"), cfg.to_toml(env)).unwrap();
        write_checkpoint(
            &dir.join("checkpoints/model-0.safetensors"),
            &spec,
            params,
            &Default::default(),
        )
        .unwrap();
    };
    let save = |steps: u64, params: &[f32]| write(&out.join(format!("snap-{steps:09}")), params);
    let (train_seed, inits) = model_seeds(seed, 1);
    let opts = TrainOptions {
        seed: train_seed,
        par: &RayonPar,
        progress,
        label: "model 1/1".into(),
        snapshot: Some(Snapshot { every, save: &save }),
    };
    let r = train_env(env, cfg, &spec, spec.init(&mut Rng::new(inits[0])), &opts).unwrap();
    write(out, &r.params);
    std::fs::write(
        out.join("training_log.csv"),
        curves_csv(std::slice::from_ref(&r)),
    )
    .unwrap();
}
