//! The RL evaluator and the PPO baseline on the environment backends: the CUDA kernels
//! (run here through their host emulation, the same source compiled as C++) must give the
//! same Reward Mean/Std and the same trained networks as the CPU's `VecEnv`, bit for bit;
//! a GPU whose kernels cannot run is a clear error. The tests on a real GPU skip, saying
//! why, when there is none (`MLGYM_TEST_GPU=<index>` picks the device).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use mlgym_kernels::cuda_envs::GpuEnvError;
use mlgym_kernels::gpu;
use mlgym_tasks::rl::backend::{BackendError, EnvBackend};
use mlgym_tasks::rl::env::EnvId;
use mlgym_tasks::rl::evaluate::{evaluate_policy_on, Protocol};
use mlgym_tasks::rl::nn::par::Serial;
use mlgym_tasks::rl::policy::checkpoint::write_checkpoint;
use mlgym_tasks::rl::policy::{head_for, load_submission, NetSpec};
use mlgym_tasks::rl::ppo::{train_models_on, TrainResult};
use mlgym_tasks::rl::task::{quick_config, RlEvaluator};
use mlgym_tasks::rl::EnvMaker;
use mlgym_tasks::rng::Rng;
use mlgym_tasks::{AgentCodeConfig, EvalContext, Metrics};

/// The host emulation, built once; `None` (with the reason printed) without a C++ compiler.
fn emulated() -> Option<EnvBackend> {
    static B: OnceLock<Option<EnvBackend>> = OnceLock::new();
    B.get_or_init(|| match EnvBackend::host_emulation() {
        Ok(b) => Some(b),
        Err(BackendError::Kernels {
            reason: GpuEnvError::NoHostCompiler(tried),
            ..
        }) => {
            eprintln!("skipped: no C++ compiler for the host emulation (tried {tried}; set CXX)");
            None
        }
        Err(e) => panic!("{e}"),
    })
    .clone()
}

/// The kernels on a real GPU; `None` (with the reason printed) without one.
fn cuda() -> Option<EnvBackend> {
    static B: OnceLock<Option<EnvBackend>> = OnceLock::new();
    B.get_or_init(|| {
        let inv = gpu::discover_cuda();
        let Some(first) = inv.devices.first() else {
            eprintln!(
                "skipped: no GPU: {}",
                inv.note.as_deref().unwrap_or("the driver reports none")
            );
            return None;
        };
        let index: u32 = std::env::var("MLGYM_TEST_GPU")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(first.index);
        let dev = inv.by_index(index).expect("MLGYM_TEST_GPU names a GPU");
        // A GPU is here, so kernels that do not compile or load are a real failure.
        let b = EnvBackend::for_gpus(std::slice::from_ref(dev)).unwrap();
        eprintln!("running on {}", b.info().device);
        Some(b)
    })
    .clone()
}

fn task_id(env: EnvId) -> &'static str {
    match env {
        EnvId::MetaMaze => "rlMetaMazeMisc",
        EnvId::MountainCarContinuous => "rlMountainCarContinuous",
        EnvId::Breakout => "rlBreakoutMinAtar",
    }
}

/// A valid submission of five freshly initialised 2×16 networks.
fn write_submission(dir: &Path, env: EnvId) {
    let spec = NetSpec {
        obs_dim: env.obs_dim(),
        hidden_layers: 2,
        hidden_units: 16,
        head: head_for(env),
    };
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "env = \"{}\"\n[network]\nnum_hidden_layers = 2\nnum_hidden_units = 16\n",
            env.name()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    for i in 0..5 {
        let params = spec.init(&mut Rng::new(700 + i));
        let path = dir.join(format!("checkpoints/model-{i}.safetensors"));
        write_checkpoint(&path, &spec, &params, &BTreeMap::new()).unwrap();
    }
}

/// Calls `f` with an evaluation context for `dir` on `env`'s task.
fn with_context<T>(env: EnvId, dir: &Path, f: impl FnOnce(&EvalContext<'_>) -> T) -> T {
    let task = mlgym_tasks::registry::get(task_id(env)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // The RL evaluator runs no agent code; the interpreter is never used.
    let agent_code = AgentCodeConfig {
        mode: Default::default(),
        python: mlgym_tasks::python::PythonEnv {
            executable: "/usr/bin/python3".into(),
            read_only: vec![],
        },
    };
    f(&EvalContext {
        task: &task.def,
        submission_dir: dir,
        scratch_dir: scratch.path(),
        data_root: scratch.path(),
        seed: 3,
        agent_code: &agent_code,
    })
}

/// The task's evaluator (MLGym's full protocol) with the environments on `backend`.
fn evaluate(env: EnvId, dir: &Path, backend: &EnvBackend) -> Metrics {
    with_context(env, dir, |ctx| {
        RlEvaluator { env }.evaluate_with(ctx, backend).unwrap()
    })
}

/// Every return, every Reward Mean/Std of the kernels equals the CPU's.
fn evaluator_matches_the_cpu(kernels: &EnvBackend) {
    for env in EnvId::ALL {
        let dir = tempfile::tempdir().unwrap();
        write_submission(dir.path(), env);
        let cpu = evaluate(env, dir.path(), &EnvBackend::Cpu);
        let gpu = evaluate(env, dir.path(), kernels);
        eprintln!("{env}: cpu {cpu:?}, {}: {gpu:?}", kernels.info().backend);
        assert_eq!(cpu, gpu, "{env}");
        // Each return too, on a protocol whose episodes end at different frames.
        let policy = load_submission(dir.path(), env, 5).unwrap();
        let proto = Protocol {
            num_envs: 64,
            seeds: 2,
            max_frames: 300,
        };
        let a = evaluate_policy_on(&EnvBackend::Cpu, env, &policy, 9, &proto).unwrap();
        let b = evaluate_policy_on(kernels, env, &policy, 9, &proto).unwrap();
        assert_eq!(a.returns.len(), 5 * 2 * 64);
        let bits = |s: &[f32]| s.iter().map(|r| r.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.returns), bits(&b.returns), "{env}");
    }
}

/// Five models of `--quick` PPO on `envs`.
fn quick_ppo(env: EnvId, envs: &dyn EnvMaker) -> Vec<TrainResult> {
    let cfg = quick_config(env);
    let which: Vec<usize> = (0..5).collect();
    let mut done = |_: usize, _: &NetSpec, _: &TrainResult| Ok(());
    train_models_on(envs, env, &cfg, 11, &which, 5, &Serial, &|_| {}, &mut done).unwrap()
}

/// The kernels train the same networks as the CPU, bit for bit.
fn ppo_matches_the_cpu(kernels: &EnvBackend) {
    for env in EnvId::ALL {
        let cpu = quick_ppo(env, &EnvBackend::Cpu);
        let gpu = quick_ppo(env, kernels);
        for (m, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
            let bits = |p: &[f32]| p.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.params), bits(&b.params), "{env} model {m}");
            assert_eq!(a.env_steps, b.env_steps);
            for (p, q) in a.curve.iter().zip(&b.curve) {
                assert_eq!(p.episodes, q.episodes, "{env} model {m}");
                assert_eq!(
                    p.mean_return.to_bits(),
                    q.mean_return.to_bits(),
                    "{env} model {m}"
                );
                assert_eq!(p.loss, q.loss, "{env} model {m}");
            }
        }
    }
}

#[test]
fn emulated_kernels_score_exactly_as_the_cpu() {
    let Some(b) = emulated() else { return };
    assert_eq!(b.info().backend, "cuda-emulated");
    evaluator_matches_the_cpu(&b);
}

#[test]
fn emulated_kernels_train_quick_ppo_exactly_as_the_cpu() {
    let Some(b) = emulated() else { return };
    ppo_matches_the_cpu(&b);
}

#[test]
fn gpu_kernels_score_exactly_as_the_cpu() {
    let Some(b) = cuda() else { return };
    assert_eq!(b.info().backend, "cuda");
    evaluator_matches_the_cpu(&b);
}

#[test]
fn gpu_kernels_train_quick_ppo_exactly_as_the_cpu() {
    let Some(b) = cuda() else { return };
    ppo_matches_the_cpu(&b);
}

#[test]
fn no_lease_means_the_cpu_and_a_broken_gpu_is_an_error() {
    let b = EnvBackend::for_gpus(&[]).unwrap();
    assert!(matches!(b, EnvBackend::Cpu));
    assert_eq!(b.info().backend, "cpu");
    // A device no host has: the kernels cannot run there, with or without a driver.
    let dev = gpu::fake::fake_device(63);
    let e = EnvBackend::for_gpus(std::slice::from_ref(&dev))
        .unwrap_err()
        .to_string();
    assert!(e.contains("GPU 63") && e.contains("--gpus none"), "{e}");
    // Through the evaluator's contract: no silent fallback to the CPU.
    let dir = tempfile::tempdir().unwrap();
    write_submission(dir.path(), EnvId::MetaMaze);
    let task = mlgym_tasks::registry::get("rlMetaMazeMisc").unwrap();
    let evaluator = &task.hooks.evaluator;
    with_context(EnvId::MetaMaze, dir.path(), |ctx| {
        let err = evaluator
            .evaluate_on(ctx, std::slice::from_ref(&dev))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--gpus none"), "{err}");
        let (m, compute) = evaluator.evaluate_on(ctx, &[]).unwrap();
        assert_eq!(compute.unwrap().backend, "cpu");
        assert_eq!(m, evaluator.evaluate(ctx).unwrap());
    });
}
