//! The environment kernels on a real GPU (NVRTC + CUDA driver), against gymnax's recorded
//! trajectories and the CPU environments. Without a GPU every test prints why it skipped.
//! `MLGYM_TEST_GPU=<index>` picks the device (default: the first one discovered).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gpu_support;

use std::sync::{Arc, OnceLock};

use mlgym_kernels::cuda_envs::{CosMode, EnvKind, GpuRuntime};
use mlgym_kernels::gpu;

fn runtime() -> Option<Arc<GpuRuntime>> {
    static RT: OnceLock<Option<Arc<GpuRuntime>>> = OnceLock::new();
    RT.get_or_init(|| {
        let inv = gpu::discover_cuda();
        if inv.devices.is_empty() {
            eprintln!(
                "skipped: no GPU: {}",
                inv.note.as_deref().unwrap_or("the driver reports none")
            );
            return None;
        }
        let index = std::env::var("MLGYM_TEST_GPU")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(inv.devices[0].index);
        // A GPU is here, so a failure to compile or load the kernels is a real failure.
        let rt = GpuRuntime::cuda(index).unwrap_or_else(|e| panic!("GPU {index}: {e}"));
        eprintln!("running on {}", rt.description());
        Some(rt)
    })
    .clone()
}

#[test]
fn gpu_kernels_replay_gymnax_reference_trajectories_exactly() {
    let Some(rt) = runtime() else { return };
    let total = gpu_support::replay_all_exactly(&rt, "exact  ");
    assert!(total > 1000);
}

#[test]
fn gpu_native_cosf_stays_within_the_documented_tolerance() {
    let Some(rt) = runtime() else { return };
    let (files, _) = gpu_support::reference_files();
    for (kind, path) in files
        .into_iter()
        .filter(|(k, _)| *k == EnvKind::MountainCar)
    {
        let r = gpu_support::replay(&rt, kind, &path, CosMode::Native);
        eprintln!(
            "native {}: {} steps, {} state floats not bit-exact, max |dv| {:.3e}, max |dp| \
             {:.3e}, {} beyond 1 ulp + 1e-8",
            path.display(),
            r.steps,
            r.inexact,
            r.max_dv,
            r.max_dp,
            r.mismatches.len()
        );
        assert!(
            r.mismatches.is_empty(),
            "{:#?}",
            &r.mismatches[..r.mismatches.len().min(5)]
        );
    }
}

#[test]
fn gpu_kernels_match_the_cpu_vec_env_step_for_step() {
    let Some(rt) = runtime() else { return };
    for (kind, n, steps) in [
        (EnvKind::MetaMaze, 4096, 450),
        (EnvKind::MountainCar, 4096, 1100),
        (EnvKind::Breakout, 2048, 1100),
    ] {
        let (ended, natural) = gpu_support::against_cpu(&rt, kind, n, steps, 5)
            .unwrap_or_else(|e| panic!("{}: {e}", kind.gymnax_name()));
        eprintln!(
            "{}: {n} envs x {steps} steps identical to the CPU ({ended} episodes ended, \
             {natural} naturally)",
            kind.gymnax_name()
        );
    }
}

#[test]
fn gpu_cos_port_is_glibc_cosf() {
    let Some(rt) = runtime() else { return };
    let c = gpu_support::cosf_port(&rt, 13, CosMode::Glibc);
    eprintln!(
        "glibc port on the GPU: {} values, {} differ from glibc",
        c.count, c.differ
    );
    assert_eq!(c.differ, 0, "{c:?}");
    let c = gpu_support::cosf_port(&rt, 13, CosMode::Native);
    eprintln!(
        "CUDA cosf: {} values, {} differ from glibc, by at most {} ulp (first: {:?})",
        c.count, c.differ, c.max_ulps, c.first
    );
    assert!(c.max_ulps <= 2, "CUDA documents cosf within 2 ulp: {c:?}");
}
