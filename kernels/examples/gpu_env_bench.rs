//! Environment steps per second: the CPU `VecEnv` against the CUDA kernels.
//!
//! `cargo run --release -p mlgym-kernels --example gpu_env_bench -- [--envs 1024,16384]
//!  [--seconds 0.5] [--gpu INDEX | --emulate] [--json]`
//!
//! For each environment and batch size N it measures, including auto-resets and
//! observation writes:
//! * `mlgym-cpu`: `mlgym_tasks::rl::AnyVecEnv` on rayon's pool, actions drawn beforehand;
//! * `mlgym-gpu-kernel`: the kernels alone, actions drawn on the device, nothing copied
//!   (what a policy that lives on the GPU would see);
//! * `mlgym-gpu-step`: `GpuVecEnv::step`, i.e. actions uploaded and observations, rewards
//!   and flags downloaded every step (what a CPU policy sees).
//!
//! Prints a table, or one JSON object per line with `--json`
//! (`{"impl", "env", "n", "steps_per_s", "device"}`). `--emulate` uses the host emulation
//! (to try the harness without a GPU; its numbers mean nothing).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlgym_kernels::cuda_envs::{EnvKind, GpuActions, GpuRuntime, GpuVecEnv};
use mlgym_tasks::rl::{Actions, AnyVecEnv, EnvId};
use mlgym_tasks::rng::Rng;

const USAGE: &str = "usage: gpu_env_bench [--envs N,N,...] [--seconds S] \
                     [--gpu INDEX | --emulate] [--json]";

struct Args {
    sizes: Vec<usize>,
    seconds: f64,
    gpu: u32,
    emulate: bool,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        sizes: vec![1024, 4096, 16384, 65536],
        seconds: 0.5,
        gpu: 0,
        emulate: false,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match s.as_str() {
            "--envs" => {
                a.sizes = val("--envs")?
                    .split(',')
                    .map(|x| x.trim().parse().map_err(|e| format!("--envs: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => {
                a.seconds = val("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--gpu" => a.gpu = val("--gpu")?.parse().map_err(|e| format!("--gpu: {e}"))?,
            "--emulate" => a.emulate = true,
            "--json" => a.json = true,
            other => return Err(format!("unknown argument {other}; {USAGE}")),
        }
    }
    Ok(a)
}

/// Runs `step` (which advances `per_call` env-steps) until `seconds` have passed, after
/// one warm-up call; returns env-steps per second.
fn measure(
    seconds: f64,
    per_call: usize,
    mut step: impl FnMut() -> Result<(), String>,
) -> Result<f64, String> {
    step()?;
    let start = Instant::now();
    let mut calls = 0usize;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        step()?;
        calls += 1;
    }
    Ok((calls * per_call) as f64 / start.elapsed().as_secs_f64())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gpu_env_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let rt: Arc<GpuRuntime> = if args.emulate {
        GpuRuntime::host_emulation()
    } else {
        GpuRuntime::cuda(args.gpu)
    }
    .map_err(|e| e.to_string())?;
    let device = rt.description().to_string();
    if !args.json {
        println!(
            "device: {device}; cpu: {} rayon threads",
            rayon::current_num_threads()
        );
        println!(
            "{:<26} {:>7} {:>14} {:>16} {:>14}",
            "env", "N", "cpu steps/s", "gpu kernel/s", "gpu step/s"
        );
    }
    for kind in EnvKind::ALL {
        let id: EnvId = kind.gymnax_name().parse().map_err(|e| format!("{e}"))?;
        for &n in &args.sizes {
            let mut rng = Rng::new(1);
            // 16 batches of actions drawn beforehand, used in turn.
            let disc: Vec<Vec<i32>> = (0..16)
                .map(|_| {
                    (0..n)
                        .map(|_| rng.below(kind.num_actions().unwrap_or(1) as u64) as i32)
                        .collect()
                })
                .collect();
            let cont: Vec<Vec<f32>> = (0..16)
                .map(|_| (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect())
                .collect();
            let mut cpu = AnyVecEnv::new(id, n, 0);
            let mut k = 0;
            let cpu_sps = measure(args.seconds, n, || {
                k = (k + 1) % 16;
                let a = if kind == EnvKind::MountainCar {
                    Actions::Continuous(&cont[k])
                } else {
                    Actions::Discrete(&disc[k])
                };
                cpu.step(a).map_err(|e| e.to_string())
            })?;
            let mut gpu = GpuVecEnv::new(&rt, kind, n, 0).map_err(|e| e.to_string())?;
            let chunk = 64;
            let kernel_sps = measure(args.seconds, n * chunk, || {
                gpu.step_random(chunk, 7).map_err(|e| e.to_string())
            })?;
            let mut k = 0;
            let step_sps = measure(args.seconds, n, || {
                k = (k + 1) % 16;
                let a = if kind == EnvKind::MountainCar {
                    GpuActions::Continuous(&cont[k])
                } else {
                    GpuActions::Discrete(&disc[k])
                };
                gpu.step(a).map_err(|e| e.to_string())
            })?;
            if args.json {
                for (imp, sps) in [
                    ("mlgym-cpu", cpu_sps),
                    ("mlgym-gpu-kernel", kernel_sps),
                    ("mlgym-gpu-step", step_sps),
                ] {
                    println!(
                        "{}",
                        serde_json::json!({"impl": imp, "env": kind.gymnax_name(), "n": n,
                            "steps_per_s": sps.round(), "device": device})
                    );
                }
            } else {
                println!(
                    "{:<26} {:>7} {:>14.3e} {:>16.3e} {:>14.3e}",
                    kind.gymnax_name(),
                    n,
                    cpu_sps,
                    kernel_sps,
                    step_sps
                );
            }
        }
    }
    Ok(())
}
