//! The agent's starter for the RL tasks: one shared folder (`tasks/starters/rl-ppo/`)
//! whose environment, network and PPO files are links to the library's own source files,
//! plus each task's `config.toml` (MLGym's settings). The registry gives every RL task the
//! whole folder, the crate builds offline from exactly those bytes, and what it trains is
//! accepted by the evaluator.
//!
//! After changing `PpoConfig::mlgym`, refresh the three `config.toml` files with
//! `RL_STARTER_BLESS=1 cargo test -p mlgym-tasks --test rl_ppo_starter`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use mlgym_tasks::rl::env::EnvId;
use mlgym_tasks::rl::evaluate::{evaluate_policy, Protocol};
use mlgym_tasks::rl::nn::par::Serial;
use mlgym_tasks::rl::policy::load_submission;
use mlgym_tasks::rl::policy::NetSpec;
use mlgym_tasks::rl::ppo::{train_models, PpoConfig, TrainResult};

const TASKS: [(&str, EnvId); 3] = [
    ("rlMountainCarContinuous", EnvId::MountainCarContinuous),
    ("rlMetaMazeMisc", EnvId::MetaMaze),
    ("rlBreakoutMinAtar", EnvId::Breakout),
];

mod starter_support;
use starter_support::{files_under, tasks_dir};

fn shared() -> PathBuf {
    starter_support::starter_dir("rl-ppo")
}

/// The starter's `config.toml` for `env`: MLGym's settings.
fn config_text(env: EnvId) -> String {
    format!(
        "# Settings of the PPO trainer in ppo/: MLGym's src/config.yaml for this task.\n\
         # Submit this file with checkpoints/: the evaluator reads `env` and [network].\n{}",
        PpoConfig::mlgym(env).to_toml(env)
    )
}

#[test]
fn each_task_config_holds_mlgyms_settings() {
    let bless = std::env::var_os("RL_STARTER_BLESS").is_some();
    for (task, env) in TASKS {
        let path = tasks_dir()
            .join("defs")
            .join(task)
            .join("starter/config.toml");
        let want = config_text(env);
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want && bless {
            std::fs::write(&path, &want).unwrap();
        } else {
            assert_eq!(
                got,
                want,
                "{} is out of date (refresh with RL_STARTER_BLESS=1 cargo test -p mlgym-tasks \
                 --test rl_ppo_starter)",
                path.display()
            );
        }
    }
}

/// The library files the starter crate is built from are links, not copies: there is one
/// source of the environments, the network and PPO.
#[test]
fn shared_library_files_are_links_into_the_library() {
    let root = shared().join("ppo/src");
    let links = [
        "rng.rs",
        "rl/soa.rs",
        "rl/env",
        "rl/nn",
        "rl/ppo",
        "rl/policy/dist.rs",
        "rl/policy/net.rs",
    ];
    let lib = tasks_dir().join("src").canonicalize().unwrap();
    for l in links {
        let p = root.join(l);
        let meta = std::fs::symlink_metadata(&p).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "{} is not a link",
            p.display()
        );
        let target = p.canonicalize().unwrap();
        assert_eq!(target, lib.join(l), "{} points elsewhere", p.display());
    }
}

/// The registry gives each RL task its `config.toml` and every file of the shared folder,
/// with the bytes of the link targets.
#[test]
fn every_rl_task_gets_the_whole_shared_starter() {
    let mut files = Vec::new();
    files_under(&shared(), &shared(), &mut files);
    files.sort();
    assert!(files.contains(&"ppo/src/rl/ppo/train.rs".to_string()));
    for (task, _) in TASKS {
        let t = mlgym_tasks::registry::get(task).unwrap();
        let mut got: Vec<String> = t
            .starter
            .iter()
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect();
        got.sort();
        let mut want = files.clone();
        want.push("config.toml".into());
        want.sort();
        assert_eq!(got, want, "{task}");
        for f in &files {
            let on_disk = std::fs::read(shared().join(f)).unwrap();
            assert_eq!(
                t.starter_file(f).unwrap(),
                on_disk.as_slice(),
                "{task}: {f}"
            );
        }
        assert!(t.starter.iter().all(|f| !f.read_only), "{task}");
    }
}

/// Writes the starter exactly as the registry gives it to the agent, builds the crate with
/// the local toolchain (offline), trains a tiny MountainCar run with it and scores the
/// result with the evaluator.
#[test]
fn starter_crate_builds_offline_and_its_checkpoints_are_scored() {
    let work = tempfile::tempdir().unwrap();
    starter_support::write_starter("rlMountainCarContinuous", work.path());
    // A tiny network and two updates: this checks the pipeline, not learning.
    let cfg = std::fs::read_to_string(work.path().join("config.toml")).unwrap();
    let cfg = cfg
        .replace("num_hidden_units = 256", "num_hidden_units = 16")
        .replace("num_train_envs = 256", "num_train_envs = 8")
        .replace("n_steps = 256", "n_steps = 8")
        .replace("n_minibatch = 8", "n_minibatch = 2");
    std::fs::write(work.path().join("config.toml"), cfg).unwrap();
    let target = work.path().join("target");
    let Some(build) =
        starter_support::cargo_build_offline(work.path(), "ppo/Cargo.toml", &target, false)
    else {
        return;
    };
    assert!(
        build.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(target.join("debug/ppo"))
        .args(["--steps", "144", "--threads", "2"])
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("model 5/5 done"), "{stdout}");
    let policy = load_submission(work.path(), EnvId::MountainCarContinuous, 5).unwrap();
    assert_eq!(policy.spec.hidden_units, 16);
    // The starter's binary trains exactly what the library's baseline trainer trains with
    // the same settings (same sources, its own vector env and threads): bit for bit.
    let mut cfg = PpoConfig::mlgym(EnvId::MountainCarContinuous);
    cfg.num_hidden_units = 16;
    cfg.num_train_envs = 8;
    cfg.n_steps = 8;
    cfg.n_minibatch = 2;
    cfg.num_train_steps = 144;
    let quiet = |_: &str| {};
    let mut keep = |_: usize, _: &NetSpec, _: &TrainResult| Ok(());
    let which: Vec<usize> = (0..5).collect();
    let lib = train_models(
        EnvId::MountainCarContinuous,
        &cfg,
        0,
        &which,
        5,
        &Serial,
        &quiet,
        &mut keep,
    )
    .unwrap();
    for (i, (name, params)) in policy.checkpoints.iter().enumerate() {
        assert_eq!(
            params, &lib[i].params,
            "{name} differs from the library's model {i}"
        );
    }
    let proto = Protocol {
        num_envs: 16,
        seeds: 1,
        max_frames: 50,
    };
    let s = evaluate_policy(EnvId::MountainCarContinuous, &policy, 0, &proto).unwrap();
    assert!(s.mean.is_finite() && s.mean < 0.0, "{s:?}");
}
