//! The rules that random play rarely reaches, checked against gymnax itself.
//!
//! `tests/rl_fixtures/<env>/*.jsonl.gz` were recorded from gymnax 1.0.1 (per-step
//! `jit(step_env)`, jax 0.10.2 CPU) by `scripts/bench/rl_envs_golden.py`: goal-seeking,
//! energy-pumping and ball-tracking policies, plus hand-made single steps from injected
//! states. Each test first checks that the fixture really exercises its rule, then that our
//! environment replays it with zero mismatches.

// Test helpers outside #[test] functions panic on purpose too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::PathBuf;

use mlgym_tasks::rl::replay::{replay_file, Follow, ReplayOptions};
use mlgym_tasks::rl::EnvId;
use serde_json::Value;

fn fixture(id: EnvId, set: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/rl_fixtures")
        .join(id.name())
        .join(format!("{set}.jsonl.gz"))
}

fn lines(id: EnvId, set: &str) -> Vec<Value> {
    let f = std::fs::File::open(fixture(id, set)).unwrap();
    std::io::BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

fn steps(lines: &[Value]) -> impl Iterator<Item = &Value> {
    lines.iter().filter(|l| l["kind"] == "step")
}

fn replay_clean(id: EnvId, set: &str) {
    for follow in [Follow::Recorded, Follow::Own] {
        let opts = ReplayOptions {
            follow,
            max_details: 5,
        };
        let report = replay_file(id, &fixture(id, set), &opts).unwrap();
        for m in &report.first_mismatches {
            eprintln!("{id} {set} ({follow:?}): {m}");
        }
        assert_eq!(report.mismatches, 0, "{id} {set} {follow:?}");
        assert!(report.steps > 0);
    }
}

#[test]
fn meta_maze_goal_hits_teleports_termination_and_truncation_match_gymnax() {
    let l = lines(EnvId::MetaMaze, "goal_seeking");
    let hits = steps(&l).filter(|s| s["reward"] == 10.0).count();
    let teleports = steps(&l)
        .filter(|s| s["draw"]["goal_reached"] == true && !s["terminated"].as_bool().unwrap())
        .count();
    let terminated = steps(&l).filter(|s| s["terminated"] == true).count();
    let truncated = steps(&l).filter(|s| s["truncated"] == true).count();
    let both = steps(&l)
        .filter(|s| s["truncated"] == true && s["reward"] == 10.0)
        .count();
    let bumps = steps(&l).filter(|s| s["draw"]["moved"] == false).count();
    assert!(hits > 50, "{hits}");
    assert!(teleports > 50, "{teleports}");
    assert!(terminated >= 2, "{terminated}");
    assert!(truncated >= 2, "{truncated}");
    assert!(both >= 1 && bumps > 10);
    replay_clean(EnvId::MetaMaze, "goal_seeking");
}

#[test]
fn mountain_car_goal_zeroing_clipping_and_time_limit_match_gymnax_bit_for_bit() {
    let l = lines(EnvId::MountainCarContinuous, "pump");
    let goals = steps(&l).filter(|s| s["terminated"] == true).count();
    let neg_zero = steps(&l)
        .filter(|s| s["state"]["velocity_bits"] == "80000000")
        .count();
    let clipped = steps(&l)
        .filter(|s| s["action"].as_f64().unwrap().abs() > 1.0)
        .count();
    let truncated = steps(&l).filter(|s| s["truncated"] == true).count();
    let left_wall = steps(&l)
        .filter(|s| s["state"]["position"].as_f64().unwrap() == f64::from(-1.2f32))
        .count();
    // Four pumping episodes, the goal-side single steps and most of 150 random arrivals.
    assert!(goals > 100, "{goals}");
    assert!(neg_zero >= 2, "{neg_zero}");
    assert!(clipped > 100 && truncated == 1 && left_wall >= 1);
    replay_clean(EnvId::MountainCarContinuous, "pump");
}

#[test]
fn breakout_respawn_bounces_strikes_and_time_limit_match_gymnax() {
    let l = lines(EnvId::Breakout, "tracking");
    let bricks = |s: &Value| -> usize {
        s["state"]["brick_map"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b.as_f64() == Some(1.0))
            .count()
    };
    let mut respawns = 0;
    let mut prev: Option<usize> = None;
    for line in &l {
        match line["kind"].as_str() {
            Some("reset") => prev = Some(bricks(line)),
            Some("step") => {
                let n = bricks(line);
                respawns += usize::from(prev.is_some_and(|p| n > p));
                prev = Some(n);
            }
            _ => {}
        }
    }
    let broken = steps(&l).filter(|s| s["reward"] == 1.0).count();
    let truncated = steps(&l).filter(|s| s["truncated"] == true).count();
    let terminated = steps(&l).filter(|s| s["terminated"] == true).count();
    assert!(respawns >= 3, "{respawns}");
    assert!(broken > 60, "{broken}");
    assert!(truncated >= 2 && terminated >= 3);
    replay_clean(EnvId::Breakout, "tracking");
}
