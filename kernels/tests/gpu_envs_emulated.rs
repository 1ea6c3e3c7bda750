//! The CUDA environment kernels, run by the host emulation (the same source compiled as
//! C++), against the CPU environments and gymnax's recorded trajectories. This checks the
//! kernels' logic and the host side on machines without a GPU; `gpu_envs_cuda.rs` repeats
//! the checks on a real GPU.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gpu_support;

use std::sync::{Arc, OnceLock};

use mlgym_kernels::cuda_envs::{
    CosMode, EnvKind, GpuActions, GpuEnvError, GpuRuntime, GpuVecEnv, StateArrays,
};

/// The emulation runtime, or why it cannot run here (no C++ compiler).
fn runtime() -> Option<Arc<GpuRuntime>> {
    static RT: OnceLock<Result<Arc<GpuRuntime>, GpuEnvError>> = OnceLock::new();
    match RT.get_or_init(GpuRuntime::host_emulation) {
        Ok(rt) => Some(rt.clone()),
        Err(GpuEnvError::NoHostCompiler(tried)) => {
            eprintln!("skipped: no C++ compiler for the host emulation (tried {tried}; set CXX)");
            None
        }
        Err(e) => panic!("host emulation failed: {e}"),
    }
}

#[test]
fn kernels_replay_gymnax_reference_trajectories_exactly() {
    let Some(rt) = runtime() else { return };
    let total = gpu_support::replay_all_exactly(&rt, "");
    assert!(total > 1000);
}

#[test]
fn kernels_match_the_cpu_vec_env_step_for_step() {
    let Some(rt) = runtime() else { return };
    // Long enough for time limits (200, 999, 1000 steps) and many natural endings.
    for (kind, steps) in [
        (EnvKind::MetaMaze, 450),
        (EnvKind::MountainCar, 2100),
        (EnvKind::Breakout, 1100),
    ] {
        let (ended, natural) = gpu_support::against_cpu(&rt, kind, 97, steps, 11)
            .unwrap_or_else(|e| panic!("{}: {e}", kind.gymnax_name()));
        eprintln!(
            "{}: {ended} episodes ended ({natural} naturally)",
            kind.gymnax_name()
        );
        assert!(
            ended > 0 && natural > 0,
            "{}: the run must end episodes",
            kind.gymnax_name()
        );
    }
}

#[test]
fn cos_port_is_glibc_cosf_on_mountain_cars_domain() {
    let Some(rt) = runtime() else { return };
    // Every 61st float of [-3.6, 1.8] (about 35 million values); the full domain was
    // checked once, offline, with the same code.
    let c = gpu_support::cosf_port(&rt, 61, CosMode::Glibc);
    assert!(c.count > 30_000_000, "{c:?}");
    assert_eq!(c.differ, 0, "{c:?}");
}

#[test]
fn state_round_trips_and_rng_streams_match_the_cpu() {
    let Some(rt) = runtime() else { return };
    let env = GpuVecEnv::new(&rt, EnvKind::Breakout, 5, 3).unwrap();
    let s = env.states().unwrap();
    assert_eq!(s.ints.len(), 9);
    assert_eq!(s.words[0], vec![0xFF_FFFF_FC00; 5]);
    // After the reset each stream has made exactly the one draw the reset needs.
    let rngs = env.rng_states().unwrap();
    for (i, r) in rngs.iter().enumerate() {
        let mut cpu = mlgym_tasks::rng::Rng::stream(3, i as u64);
        cpu.below(2);
        assert_eq!(*r, cpu.state(), "stream {i}");
    }
    let mut env2 = GpuVecEnv::new(&rt, EnvKind::Breakout, 5, 99).unwrap();
    env2.set_states(&s).unwrap();
    assert_eq!(env2.states().unwrap(), s);
    assert_eq!(env2.obs(), env.obs());
}

#[test]
fn wrong_inputs_are_clear_errors() {
    let Some(rt) = runtime() else { return };
    let mut env = GpuVecEnv::new(&rt, EnvKind::MountainCar, 4, 0).unwrap();
    let e = env
        .step(GpuActions::Discrete(&[0; 4]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("MountainCarContinuous-v0 takes float") && e.contains("Continuous"),
        "{e}"
    );
    let e = env
        .step(GpuActions::Continuous(&[0.0; 3]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("got 3 values for 4 environments"), "{e}");
    let e = env
        .set_states(&StateArrays::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("state fields"), "{e}");
    assert!(GpuVecEnv::new(&rt, EnvKind::MetaMaze, 0, 0).is_err());
    assert!(rt.is_emulated() && rt.description().contains("host emulation"));
}
