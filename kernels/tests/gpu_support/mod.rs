//! Checks shared by the emulated and the CUDA kernel tests: replaying gymnax's reference
//! trajectories through the kernels, and stepping the kernels and the CPU `VecEnv`
//! side by side.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlgym_kernels::cuda_envs::{
    CosMode, EnvKind, GpuActions, GpuRuntime, GpuVecEnv, ResetDraws, StateArrays,
};
use mlgym_tasks::rl::{Actions, AnyVecEnv, EnvId};
use mlgym_tasks::rng::Rng;
use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The trajectory files to replay: the fixtures in the repository, and gymnax's random
/// trajectories from `$MLGYM_GYMNAX_REFERENCE` or `../shared/reference/gymnax` when
/// present. Also says which were not found.
pub fn reference_files() -> (Vec<(EnvKind, PathBuf)>, Vec<String>) {
    let fixtures = repo_root().join("tasks/tests/rl_fixtures");
    let mut files = vec![
        (
            EnvKind::MetaMaze,
            fixtures.join("MetaMaze-misc/goal_seeking.jsonl.gz"),
        ),
        (
            EnvKind::MountainCar,
            fixtures.join("MountainCarContinuous-v0/pump.jsonl.gz"),
        ),
        (
            EnvKind::Breakout,
            fixtures.join("Breakout-MinAtar/tracking.jsonl.gz"),
        ),
    ];
    let shared = std::env::var("MLGYM_GYMNAX_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/reference/gymnax"));
    let mut missing = Vec::new();
    for k in EnvKind::ALL {
        let p = shared.join(k.gymnax_name()).join("random.jsonl.gz");
        if p.exists() {
            files.push((k, p));
        } else {
            missing.push(p.display().to_string());
        }
    }
    (files, missing)
}

/// One recorded step: the state before, the action and draws, and what gymnax produced.
pub struct Case {
    pub prev: Value,
    pub action: Value,
    pub action_bits: Option<u32>,
    pub step_draw: i32,
    pub line: Value,
}

fn hex(v: &Value) -> u32 {
    u32::from_str_radix(v.as_str().unwrap(), 16).unwrap()
}

fn f32_of(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}

fn int(v: &Value) -> i32 {
    match v {
        Value::Bool(b) => i32::from(*b),
        other => other.as_i64().unwrap() as i32,
    }
}

/// A recorded state as device fields (ints, floats, words), in `EnvKind::state_fields` order.
pub fn state_fields(kind: EnvKind, s: &Value) -> (Vec<i32>, Vec<f32>, Vec<u64>) {
    match kind {
        EnvKind::MetaMaze => (
            vec![
                int(&s["pos"][0]),
                int(&s["pos"][1]),
                int(&s["goal"][0]),
                int(&s["goal"][1]),
                int(&s["last_action"]),
            ],
            vec![f32_of(&s["last_reward"]), f32_of(&s["time"])],
            vec![],
        ),
        EnvKind::MountainCar => (
            vec![int(&s["time"])],
            vec![
                f32::from_bits(hex(&s["position_bits"])),
                f32::from_bits(hex(&s["velocity_bits"])),
            ],
            vec![],
        ),
        EnvKind::Breakout => {
            let mut map: u128 = 0;
            for (b, v) in s["brick_map"].as_array().unwrap().iter().enumerate() {
                if v.as_f64().unwrap() != 0.0 {
                    map |= 1u128 << b;
                }
            }
            let ints = [
                "ball_y", "ball_x", "ball_dir", "pos", "strike", "last_y", "last_x", "time",
                "terminal",
            ]
            .iter()
            .map(|k| int(&s[*k]))
            .collect();
            (ints, vec![], vec![map as u64, (map >> 64) as u64])
        }
    }
}

/// The recorded observation (bits for MountainCar).
pub fn obs_of(kind: EnvKind, line: &Value) -> Vec<f32> {
    if kind == EnvKind::MountainCar {
        if let Some(b) = line.get("obs_bits") {
            return b
                .as_array()
                .unwrap()
                .iter()
                .map(|v| f32::from_bits(hex(v)))
                .collect();
        }
    }
    line["obs"].as_array().unwrap().iter().map(f32_of).collect()
}

fn reward_of(line: &Value) -> f32 {
    match line.get("reward_bits") {
        Some(b) => f32::from_bits(hex(b)),
        None => f32_of(&line["reward"]),
    }
}

/// Reads every step of a trajectory file with the state it starts from.
pub fn read_cases(path: &Path) -> Vec<Case> {
    let file = std::fs::File::open(path).unwrap();
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(file));
    let mut prev: Option<Value> = None;
    let mut cases = Vec::new();
    for line in reader.lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        match v["kind"].as_str().unwrap() {
            "reset" => prev = Some(v["state"].clone()),
            "step" => {
                let state = prev.clone().expect("step before reset");
                prev = Some(match v.get("autoreset") {
                    Some(a) => a["state"].clone(),
                    None => v["state"].clone(),
                });
                cases.push(Case {
                    prev: state,
                    action: v["action"].clone(),
                    action_bits: v.get("action_bits").map(hex),
                    step_draw: v
                        .get("draw")
                        .map(|d| int(&d["pos_sampled_index"]))
                        .unwrap_or(0),
                    line: v,
                });
            }
            _ => {}
        }
    }
    cases
}

/// The outcome of replaying one file.
#[derive(Debug, Default)]
pub struct Replayed {
    pub steps: usize,
    pub autoresets: usize,
    /// Lines that differ beyond the tolerance, described.
    pub mismatches: Vec<String>,
    /// Largest differences in MountainCar (velocity, position) and the bit-mismatch count.
    pub max_dv: f64,
    pub max_dp: f64,
    pub inexact: usize,
}

fn stack(kind: EnvKind, states: &[&Value]) -> StateArrays {
    let (fi, ff, fw) = kind.state_fields();
    let mut s = StateArrays {
        ints: vec![Vec::new(); fi.len()],
        floats: vec![Vec::new(); ff.len()],
        words: vec![Vec::new(); fw.len()],
    };
    for st in states {
        let (i, f, w) = state_fields(kind, st);
        for (dst, v) in s.ints.iter_mut().zip(i) {
            dst.push(v);
        }
        for (dst, v) in s.floats.iter_mut().zip(f) {
            dst.push(v);
        }
        for (dst, v) in s.words.iter_mut().zip(w) {
            dst.push(v);
        }
    }
    s
}

fn ulp(x: f32) -> f64 {
    let b = x.abs().to_bits();
    (f32::from_bits(b + 1) - x.abs()) as f64
}

/// Compares two floats: exactly, or (MountainCar with CUDA's cosf) within 1 ulp + 1e-8.
fn close(ours: f32, want: f32, tolerant: bool) -> bool {
    ours.to_bits() == want.to_bits()
        || (tolerant && ((ours as f64 - want as f64).abs() <= ulp(want) + 1e-8))
}

/// Replays every file of [`reference_files`] with glibc's `cosf` and asserts that every
/// step matches gymnax exactly; returns the number of steps replayed. `label` prefixes
/// each file's line of the log.
pub fn replay_all_exactly(rt: &Arc<GpuRuntime>, label: &str) -> usize {
    let (files, missing) = reference_files();
    for m in &missing {
        eprintln!("note: reference file {m} not found (set MLGYM_GYMNAX_REFERENCE); replaying the in-repo fixtures only");
    }
    let mut total = 0;
    for (kind, path) in files {
        let r = replay(rt, kind, &path, CosMode::Glibc);
        eprintln!(
            "{label}{}: {} steps, {} auto-resets, {} mismatches",
            path.display(),
            r.steps,
            r.autoresets,
            r.mismatches.len()
        );
        assert!(
            r.mismatches.is_empty(),
            "{:#?}",
            &r.mismatches[..r.mismatches.len().min(5)]
        );
        assert_eq!(r.inexact, 0);
        total += r.steps;
    }
    total
}

/// Replays every step of `path` through the kernels in one batch (one lane per step,
/// starting from the recorded previous state): first without auto-reset (state, obs,
/// reward, flags), then with it (the pre-reset and post-reset observation and state).
pub fn replay(rt: &Arc<GpuRuntime>, kind: EnvKind, path: &Path, cos: CosMode) -> Replayed {
    let cases = read_cases(path);
    let n = cases.len();
    let tolerant = cos == CosMode::Native && kind == EnvKind::MountainCar;
    let mut env = GpuVecEnv::new(rt, kind, n, 0).unwrap();
    env.set_cos_mode(cos);
    env.set_record_final_obs(true).unwrap();
    let prev = stack(kind, &cases.iter().map(|c| &c.prev).collect::<Vec<_>>());
    let draws: Vec<i32> = cases.iter().map(|c| c.step_draw).collect();
    let ai: Vec<i32> = cases
        .iter()
        .map(|c| {
            if kind == EnvKind::MountainCar {
                0
            } else {
                int(&c.action)
            }
        })
        .collect();
    let af: Vec<f32> = cases
        .iter()
        .map(|c| {
            c.action_bits
                .map(f32::from_bits)
                .unwrap_or_else(|| f32_of(&c.action))
        })
        .collect();
    let actions = if kind == EnvKind::MountainCar {
        GpuActions::Continuous(&af)
    } else {
        GpuActions::Discrete(&ai)
    };
    let mut out = Replayed {
        steps: n,
        ..Default::default()
    };
    let mut bad = |i: usize, what: String| {
        let l = &cases[i].line;
        out.mismatches.push(format!(
            "{} episode {} t={}: {what}",
            path.display(),
            l["episode"],
            l["t"]
        ))
    };
    let mut dv = 0f64;
    let mut dp = 0f64;
    let mut inexact = 0;

    // 1. The transition alone.
    env.set_states(&prev).unwrap();
    env.step_with_draws(actions, Some(&draws), None, false)
        .unwrap();
    let after = env.states().unwrap();
    for (i, c) in cases.iter().enumerate() {
        let l = &c.line;
        let (wi, wf, ww) = state_fields(kind, &l["state"]);
        let gi: Vec<i32> = after.ints.iter().map(|v| v[i]).collect();
        let gf: Vec<f32> = after.floats.iter().map(|v| v[i]).collect();
        let gw: Vec<u64> = after.words.iter().map(|v| v[i]).collect();
        if gi != wi || gw != ww {
            bad(
                i,
                format!("state ints/words ours {gi:?} {gw:?}, recorded {wi:?} {ww:?}"),
            );
        }
        for (k, (o, w)) in gf.iter().zip(&wf).enumerate() {
            if o.to_bits() != w.to_bits() {
                inexact += 1;
                let d = (*o as f64 - *w as f64).abs();
                if kind == EnvKind::MountainCar {
                    if k == 0 {
                        dp = dp.max(d);
                    } else {
                        dv = dv.max(d);
                    }
                }
                if !close(*o, *w, tolerant) {
                    bad(i, format!("state float {k}: ours {o:e}, recorded {w:e}"));
                }
            }
        }
        let want_obs = obs_of(kind, l);
        let got_obs = env.obs_row(i);
        if got_obs
            .iter()
            .zip(&want_obs)
            .any(|(o, w)| !close(*o, *w, tolerant))
        {
            bad(i, "obs differs".into());
        }
        if !close(env.rewards()[i], reward_of(l), tolerant) {
            bad(
                i,
                format!(
                    "reward ours {}, recorded {}",
                    env.rewards()[i],
                    reward_of(l)
                ),
            );
        }
        let (term, trunc) = (
            l["terminated"].as_bool().unwrap(),
            l["truncated"].as_bool().unwrap(),
        );
        if env.terminated()[i] != term || env.truncated()[i] != trunc {
            bad(
                i,
                format!(
                    "flags ours ({}, {}), recorded ({term}, {trunc})",
                    env.terminated()[i],
                    env.truncated()[i]
                ),
            );
        }
    }

    // 2. gymnax's env.step: the transition, then the reset where it ended.
    let resets_i: Vec<i32> = cases
        .iter()
        .map(|c| match c.line.get("autoreset") {
            Some(a) if kind == EnvKind::MetaMaze => int(&a["draw"]["goal_index"]),
            Some(a) if kind == EnvKind::Breakout => int(&a["draw"]["ball_start"]),
            _ => 0,
        })
        .collect();
    let resets_f: Vec<f32> = cases
        .iter()
        .map(|c| match c.line.get("autoreset") {
            Some(a) if kind == EnvKind::MountainCar => {
                f32::from_bits(hex(&a["draw"]["position_bits"]))
            }
            _ => 0.0,
        })
        .collect();
    let reset_draws = if kind == EnvKind::MountainCar {
        ResetDraws::Float(&resets_f)
    } else {
        ResetDraws::Int(&resets_i)
    };
    env.set_states(&prev).unwrap();
    env.step_with_draws(actions, Some(&draws), Some(reset_draws), true)
        .unwrap();
    let after = env.states().unwrap();
    for (i, c) in cases.iter().enumerate() {
        let Some(a) = c.line.get("autoreset") else {
            continue;
        };
        out.autoresets += 1;
        assert!(env.done(i));
        let want_final = obs_of(kind, &c.line);
        let got_final = env.final_obs_row(i).unwrap();
        if got_final
            .iter()
            .zip(&want_final)
            .any(|(o, w)| !close(*o, *w, tolerant))
        {
            bad(i, "pre-reset (final) obs differs".into());
        }
        if env.obs_row(i) != obs_of(kind, a).as_slice() {
            bad(i, "autoreset obs differs".into());
        }
        let (wi, wf, ww) = state_fields(kind, &a["state"]);
        let gi: Vec<i32> = after.ints.iter().map(|v| v[i]).collect();
        let gf: Vec<f32> = after.floats.iter().map(|v| v[i]).collect();
        let gw: Vec<u64> = after.words.iter().map(|v| v[i]).collect();
        if gi != wi || gf != wf || gw != ww {
            bad(i, "autoreset state differs".into());
        }
    }
    out.max_dv = dv;
    out.max_dp = dp;
    out.inexact = inexact;
    out
}

fn env_id(kind: EnvKind) -> EnvId {
    kind.gymnax_name().parse().unwrap()
}

/// Steps `n` environments of `kind` for `steps` steps on the kernels and on the CPU
/// `VecEnv` with the same seed and actions, and returns the first difference (bitwise);
/// on success, how many episodes ended and how many of them ended naturally.
/// Policies mix random actions (some out of range) with goal-seeking ones.
pub fn against_cpu(
    rt: &Arc<GpuRuntime>,
    kind: EnvKind,
    n: usize,
    steps: usize,
    seed: u64,
) -> Result<(usize, usize), String> {
    let mut gpu = GpuVecEnv::new(rt, kind, n, seed).map_err(|e| e.to_string())?;
    let mut cpu = AnyVecEnv::new(env_id(kind), n, seed);
    let mut rng = Rng::new(seed ^ 0xACE);
    let (mut ended, mut natural) = (0, 0);
    if gpu.obs() != cpu.obs() {
        return Err("observations differ after reset".into());
    }
    for t in 0..steps {
        let obs = cpu.obs().to_vec();
        let d = kind.obs_dim();
        match kind {
            EnvKind::MountainCar => {
                let a: Vec<f32> = (0..n)
                    .map(|i| {
                        if i % 3 == 0 {
                            // Pump energy: push along the velocity (reaches the goal).
                            if obs[i * d + 1] >= 0.0 {
                                1.0
                            } else {
                                -1.0
                            }
                        } else {
                            rng.next_f32() * 3.0 - 1.5
                        }
                    })
                    .collect();
                gpu.step(GpuActions::Continuous(&a))
                    .map_err(|e| e.to_string())?;
                cpu.step(Actions::Continuous(&a))
                    .map_err(|e| e.to_string())?;
            }
            _ => {
                let k = kind.num_actions().unwrap_or(1) as u64;
                let a: Vec<i32> = (0..n)
                    .map(|i| {
                        if rng.below(50) == 0 {
                            return [-1, 5, 7][rng.below(3) as usize];
                        }
                        if kind == EnvKind::Breakout && i % 3 == 0 {
                            // Follow the ball: channel 1 is the ball, row 9 channel 0 the paddle.
                            let row = &obs[i * d..(i + 1) * d];
                            let ball = (0..100).find(|c| row[c * 4 + 1] == 1.0).map(|c| c % 10);
                            let paddle = (90..100).find(|c| row[c * 4] == 1.0).map(|c| c % 10);
                            return match (ball, paddle) {
                                (Some(b), Some(p)) if b < p => 1,
                                (Some(b), Some(p)) if b > p => 2,
                                _ => 0,
                            };
                        }
                        rng.below(k) as i32
                    })
                    .collect();
                gpu.step(GpuActions::Discrete(&a))
                    .map_err(|e| e.to_string())?;
                cpu.step(Actions::Discrete(&a)).map_err(|e| e.to_string())?;
            }
        }
        let same_bits = |x: &[f32], y: &[f32]| {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits())
        };
        if !same_bits(gpu.rewards(), cpu.rewards()) {
            return Err(format!("rewards differ at step {t}"));
        }
        if gpu.terminated() != cpu.terminated() || gpu.truncated() != cpu.truncated() {
            return Err(format!("flags differ at step {t}"));
        }
        if !same_bits(gpu.obs(), cpu.obs()) {
            let i = (0..n)
                .find(|&i| !same_bits(gpu.obs_row(i), &cpu.obs()[i * d..(i + 1) * d]))
                .unwrap_or(0);
            return Err(format!(
                "observations differ at step {t}, env {i}: gpu {:?} cpu {:?}",
                &gpu.obs_row(i)[..d.min(16)],
                &cpu.obs()[i * d..i * d + d.min(16)]
            ));
        }
        ended += (0..n).filter(|&i| gpu.done(i)).count();
        natural += gpu.terminated().iter().filter(|&&x| x).count();
    }
    Ok((ended, natural))
}

/// How the kernel's cos compares with glibc's.
#[derive(Debug)]
pub struct CosCheck {
    pub count: usize,
    pub differ: usize,
    pub max_ulps: i64,
    /// The first difference: (x, ours, glibc).
    pub first: Option<(f32, f32, f32)>,
}

/// Compares the kernel's cos (`mode`) with glibc's `cosf` (Rust's `f32::cos`) on every
/// `stride`-th float of MountainCar's domain [-3.6, 1.8].
pub fn cosf_port(rt: &Arc<GpuRuntime>, stride: u32, mode: CosMode) -> CosCheck {
    let mut xs = Vec::new();
    for (sign, lim) in [(0u32, 1.8f32), (0x8000_0000, 3.6)] {
        let mut b = 0u32;
        loop {
            let x = f32::from_bits(b | sign);
            if x.abs() > lim {
                break;
            }
            xs.push(x);
            b += stride;
        }
    }
    let batch = 1 << 20;
    let mut c = CosCheck {
        count: 0,
        differ: 0,
        max_ulps: 0,
        first: None,
    };
    let mut env = GpuVecEnv::new(rt, EnvKind::MountainCar, batch, 0).unwrap();
    for chunk in xs.chunks(batch) {
        let mut input = chunk.to_vec();
        input.resize(batch, 0.0);
        let out = env.cosf_batch(&input, mode).unwrap();
        for (x, y) in chunk.iter().zip(&out) {
            c.count += 1;
            let want = x.cos();
            if want.to_bits() != y.to_bits() {
                c.differ += 1;
                // cos is positive or negative on both sides here except at its zeros.
                let ulps = (i64::from(y.to_bits() as i32) - i64::from(want.to_bits() as i32)).abs();
                c.max_ulps = c.max_ulps.max(ulps);
                c.first.get_or_insert((*x, *y, want));
            }
        }
    }
    c
}
