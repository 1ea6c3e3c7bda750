//! Environment steps per second of our vectorised environments.
//!
//! `cargo run --release -p mlgym-tasks --example bench_envs -- [--env NAME]
//!  [--envs 1,64,1024,4096] [--seconds 0.5] [--json]`
//!
//! For each environment and batch size it steps a `VecEnv` with uniformly random actions
//! (drawn beforehand, as the gymnax side of `scripts/bench/rl_envs.sh` does) including
//! auto-resets and observation writes, once with the default parallelism (rayon's pool)
//! and once on one thread, and prints env-steps per second.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mlgym_tasks::rl::{Actions, AnyVecEnv, EnvId, Parallelism};
use mlgym_tasks::rng::Rng;

struct Args {
    envs: Vec<EnvId>,
    sizes: Vec<usize>,
    seconds: f64,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        envs: EnvId::ALL.to_vec(),
        sizes: vec![1, 64, 1024, 4096],
        seconds: 0.5,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--envs" => {
                let v = it.next().ok_or("--envs needs a list like 1,64,1024")?;
                args.sizes = v
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--envs {v}: {e}"))?;
            }
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a number")?;
                args.seconds = v.parse().map_err(|e| format!("--seconds {v}: {e}"))?;
            }
            "--env" => {
                let v = it.next().ok_or("--env needs a gymnax environment name")?;
                args.envs = vec![v.parse().map_err(|e| format!("{e}"))?];
            }
            "--json" => args.json = true,
            other => {
                return Err(format!(
                    "unknown argument '{other}' (use --env, --envs, --seconds, --json)"
                ))
            }
        }
    }
    Ok(args)
}

/// Pre-drawn action batches, cycled through while timing.
enum Table {
    Discrete(Vec<Vec<i32>>),
    Continuous(Vec<Vec<f32>>),
}

const BATCHES: usize = 64;

fn table(id: EnvId, n: usize) -> Table {
    let mut rng = Rng::new(2024);
    match id {
        EnvId::MountainCarContinuous => Table::Continuous(
            (0..BATCHES)
                .map(|_| (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect())
                .collect(),
        ),
        EnvId::MetaMaze => Table::Discrete(
            (0..BATCHES)
                .map(|_| (0..n).map(|_| rng.below(4) as i32).collect())
                .collect(),
        ),
        EnvId::Breakout => Table::Discrete(
            (0..BATCHES)
                .map(|_| (0..n).map(|_| rng.below(3) as i32).collect())
                .collect(),
        ),
    }
}

fn step(env: &mut AnyVecEnv, t: &Table, k: usize) -> Result<(), String> {
    let r = match t {
        Table::Discrete(b) => env.step(Actions::Discrete(&b[k % BATCHES])),
        Table::Continuous(b) => env.step(Actions::Continuous(&b[k % BATCHES])),
    };
    r.map_err(|e| e.to_string())
}

/// Env-steps per second, best of three timed runs of about `seconds / 3` each.
fn measure(id: EnvId, n: usize, p: Parallelism, seconds: f64) -> Result<f64, String> {
    let mut env = AnyVecEnv::new(id, n, 7);
    env.set_parallelism(p);
    let t = table(id, n);
    let mut k = 0;
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs_f64(0.05) {
        step(&mut env, &t, k)?;
        k += 1;
    }
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let mut steps = 0usize;
        loop {
            // Check the clock every few steps only: a step of one env is nanoseconds.
            for _ in 0..16 {
                step(&mut env, &t, k)?;
                k += 1;
                steps += 1;
            }
            if start.elapsed().as_secs_f64() >= seconds / 3.0 {
                break;
            }
        }
        let rate = (steps * n) as f64 / start.elapsed().as_secs_f64();
        best = best.max(rate);
    }
    black_box(env.obs().iter().sum::<f32>());
    Ok(best)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if !args.json {
        println!(
            "{:<26} {:>6} {:>16} {:>16}   (rayon threads: {})",
            "env",
            "envs",
            "steps/s",
            "steps/s 1 thread",
            rayon::current_num_threads()
        );
    }
    for &id in &args.envs {
        for &n in &args.sizes {
            let run = || -> Result<(f64, f64), String> {
                let auto = measure(id, n, Parallelism::Auto, args.seconds)?;
                let serial = measure(id, n, Parallelism::Serial, args.seconds)?;
                Ok((auto, serial))
            };
            match run() {
                Ok((auto, serial)) if args.json => println!(
                    "{{\"impl\":\"mlgym\",\"env\":\"{}\",\"n\":{n},\"steps_per_s\":{auto:.0},\
                     \"steps_per_s_1_thread\":{serial:.0},\"threads\":{}}}",
                    id.name(),
                    rayon::current_num_threads()
                ),
                Ok((auto, serial)) => {
                    println!("{:<26} {n:>6} {auto:>16.0} {serial:>16.0}", id.name())
                }
                Err(e) => {
                    eprintln!("error: {id} with {n} envs: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
}
