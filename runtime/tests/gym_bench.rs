//! Benchmark (ignored by default; run by `scripts/bench/gym_server.sh`): steps/s and
//! p50/p99 step latency of cheap commands (`echo`) with N concurrent episodes, driven
//! in-process through `GymEnv` and through `mlgym serve` over HTTP (keep-alive
//! connections, one client thread per episode). The difference is the server's
//! overhead: HTTP, JSON, the channel to the episode's thread. Besides wall-clock
//! figures it reports the CPU time per step of the processes involved (this process;
//! with HTTP also the server), which a loaded machine disturbs far less than latency:
//! the sandboxed shells' own CPU is not counted, so the difference is the overhead.
//!
//! Settings: GYM_BENCH_EPISODES (comma list, default `8,32`), GYM_BENCH_STEPS (steps
//! per episode, default 50), GYM_BENCH_REPEATS (alternating runs per mode, pooled,
//! default 3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gym_support;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use gym_support::*;
use mlgym_runtime::gym::{GymEnv, RewardKind};
use serde_json::{json, Value};

const TASK: &str = "battleOfSexes";

struct Measured {
    latencies_ms: Vec<f64>,
    wall: Duration,
    /// CPU milliseconds the measured processes spent while stepping.
    cpu_ms: f64,
}

/// CPU time (user + system) of process `pid` so far, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks * 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

impl Measured {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    }

    fn rate(&self) -> f64 {
        self.latencies_ms.len() as f64 / self.wall.as_secs_f64()
    }

    fn cpu_per_step(&self) -> f64 {
        self.cpu_ms / self.latencies_ms.len() as f64
    }
}

/// Runs `episodes` threads; each prepares (untimed), waits for the others, then takes
/// `steps` timed steps. Returns every step's latency, the wall time of the stepping and
/// what `cpu` (CPU milliseconds so far) grew by meanwhile.
fn drive<P: Send>(
    episodes: usize,
    steps: usize,
    cpu: impl Fn() -> f64,
    prepare: impl Fn(usize) -> P + Sync,
    step: impl Fn(&mut P, usize) + Sync,
    finish: impl Fn(P) + Sync,
) -> Measured {
    let ready = Barrier::new(episodes + 1);
    let done = Barrier::new(episodes + 1);
    let (lat, wall, cpu_used) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..episodes)
            .map(|i| {
                let (ready, done, prepare, step, finish) =
                    (&ready, &done, &prepare, &step, &finish);
                scope.spawn(move || {
                    let mut p = prepare(i);
                    ready.wait();
                    let mut lat = Vec::with_capacity(steps);
                    for k in 0..steps {
                        let t = Instant::now();
                        step(&mut p, k);
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    done.wait();
                    finish(p);
                    lat
                })
            })
            .collect();
        ready.wait();
        let (t0, cpu0) = (Instant::now(), cpu());
        done.wait();
        let (wall, cpu_used) = (t0.elapsed(), cpu() - cpu0);
        (
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect::<Vec<f64>>(),
            wall,
            cpu_used,
        )
    });
    Measured {
        latencies_ms: lat,
        wall,
        cpu_ms: cpu_used,
    }
}

fn in_process(episodes: usize, steps: usize) -> Measured {
    let dir = tempdir();
    let out = dir.path().to_path_buf();
    drive(
        episodes,
        steps,
        || cpu_ms(std::process::id()),
        |_| {
            let mut env = GymEnv::new(gym_config(&out, RewardKind::Improvement, steps + 5));
            env.reset(TASK, 0).unwrap();
            env
        },
        |env, k| {
            let t = env.step(&format!("echo step-{k}")).unwrap();
            assert!(
                t.info.raw_observation.starts_with("step-"),
                "{}",
                t.observation
            );
        },
        |mut env| {
            env.close().unwrap();
        },
    )
}

fn over_http(episodes: usize, steps: usize) -> Measured {
    let dir = tempdir();
    let server = ServerProc::start(dir.path(), &["--max-episodes", &episodes.to_string()]);
    let base = format!("http://{}", server.addr);
    let server_pid = server.child.id();
    drive(
        episodes,
        steps,
        || cpu_ms(std::process::id()) + cpu_ms(server_pid),
        |_| {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .build()
                .into();
            let mut r = agent
                .post(&format!("{base}/episodes"))
                .send_json(json!({ "task": TASK, "seed": 0, "max_steps": steps + 5 }))
                .unwrap();
            let v: Value = r.body_mut().read_json().unwrap();
            let id = v["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_string();
            (agent, format!("{base}/episodes/{id}"))
        },
        |(agent, url), k| {
            let mut r = agent
                .post(&format!("{url}/step"))
                .send_json(json!({ "action": format!("echo step-{k}") }))
                .unwrap();
            let v: Value = r.body_mut().read_json().unwrap();
            assert!(
                v["info"]["raw_observation"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("step-"),
                "{v}"
            );
        },
        |(agent, url)| {
            agent.delete(&url).call().unwrap();
        },
    )
}

impl Measured {
    /// Pools runs: all latencies, the summed stepping time.
    fn pool(runs: Vec<Measured>) -> Measured {
        let wall = runs.iter().map(|m| m.wall).sum();
        let cpu_ms = runs.iter().map(|m| m.cpu_ms).sum();
        Measured {
            latencies_ms: runs.into_iter().flat_map(|m| m.latencies_ms).collect(),
            wall,
            cpu_ms,
        }
    }
}

#[test]
#[ignore = "benchmark: run scripts/bench/gym_server.sh"]
fn gym_server_overhead() {
    let counts: Vec<usize> = std::env::var("GYM_BENCH_EPISODES")
        .unwrap_or_else(|_| "8,32".into())
        .split(',')
        .map(|x| x.trim().parse().unwrap())
        .collect();
    let steps: usize = std::env::var("GYM_BENCH_STEPS")
        .ok()
        .map(|s| s.parse().unwrap())
        .unwrap_or(50);
    let repeats: usize = std::env::var("GYM_BENCH_REPEATS")
        .ok()
        .map(|s| s.parse().unwrap())
        .unwrap_or(3);
    println!(
        "{steps} `echo` steps per episode, task {TASK}, {repeats} alternating runs per mode pooled, {} CPU(s)",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!("| episodes | driven by | steps/s | p50 ms | p99 ms | CPU ms/step |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: |");
    for n in counts {
        // Alternate the modes so that a load change on the machine hits both alike.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..repeats.max(1) {
            a.push(in_process(n, steps));
            b.push(over_http(n, steps));
        }
        let (a, b) = (Measured::pool(a), Measured::pool(b));
        for (name, m) in [("in-process", &a), ("HTTP server", &b)] {
            println!(
                "| {n} | {name} | {:.0} | {:.2} | {:.2} | {:.2} |",
                m.rate(),
                m.pct(0.5),
                m.pct(0.99),
                m.cpu_per_step()
            );
        }
        println!(
            "| {n} | server overhead | {:+.1}% | {:+.2} | {:+.2} | {:+.2} |",
            (b.rate() / a.rate() - 1.0) * 100.0,
            b.pct(0.5) - a.pct(0.5),
            b.pct(0.99) - a.pct(0.99),
            b.cpu_per_step() - a.cpu_per_step()
        );
    }
}
