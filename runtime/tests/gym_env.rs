//! The Gym API as a library: MLGym's observation text, `info`, rewards, steps after
//! done, closing, and records identical to a `mlgym run` episode of the same actions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gym_support;

use std::path::Path;

use gym_support::*;
use mlgym_runtime::gym::{GymEnv, GymError, RewardKind, StepRequest};
use serde_json::Value;

const FOOTER_END: &str = "(Open file: n/a)\n(Current directory: /home/agent/workspace)\nbash-$";

#[test]
fn reset_step_close_follow_mlgyms_gym_api() {
    let dir = tempdir();
    let mut env = GymEnv::new(gym_config(dir.path(), RewardKind::Improvement, 10));
    assert!(matches!(env.step("ls"), Err(GymError::NotStarted)));
    let first = env.reset("battleOfSexes", 0).unwrap();
    assert!(
        first
            .observation
            .starts_with("We are working on the following task."),
        "{}",
        first.observation
    );
    assert!(
        first.observation.contains("Battle of the Sexes")
            || first.observation.contains("row player")
    );
    assert!(
        first.observation.ends_with(&format!(
            "(Current Step: 0, Remaining Steps: 10)\n{FOOTER_END}"
        )),
        "{}",
        first.observation
    );
    assert!(first.system.contains("COMMANDS"));
    assert_eq!(
        (first.info.step, first.info.max_steps, first.info.done),
        (0, 10, false)
    );
    assert_eq!(first.info.primary_metric, "Score");
    let baseline = first.info.baseline["Score"];

    let t = env.step("ls").unwrap();
    assert_eq!(
        t.observation,
        format!("strategy.py\n(Current Step: 1, Remaining Steps: 9)\n{FOOTER_END}")
    );
    assert_eq!((t.reward, t.done), (0.0, false));
    assert_eq!(t.info.raw_observation, "strategy.py");
    let t = env.step("true").unwrap();
    assert!(
        t.observation.starts_with(
            "Your command ran successfully and did not produce any output.\n(Current Step: 2"
        ),
        "{}",
        t.observation
    );
    env.step(&write_strategy("return 0")).unwrap();
    let v = env.step("validate").unwrap();
    let score = v.info.score.as_ref().unwrap().metrics["Score"];
    assert_eq!(v.info.score.as_ref().unwrap().kind, "validate");
    assert!((score - 1.44).abs() < 0.02, "{score}");
    assert!(
        (v.reward - (score - baseline)).abs() < 1e-12,
        "reward {} for score {score}, baseline {baseline}",
        v.reward
    );
    assert!(
        v.observation.contains("Evaluation Score"),
        "{}",
        v.observation
    );
    assert!(!v.done);
    let s = env.step("submit").unwrap();
    assert!(s.done);
    assert_eq!(s.info.exit_status.as_deref(), Some("submitted"));
    assert_eq!(s.info.scores.len(), 2);
    assert_eq!(s.info.last_score, Some(score));
    assert!((s.info.episode_return - 2.0 * (score - baseline)).abs() < 1e-9);
    match env.step("ls") {
        Err(GymError::Ended { exit_status, steps }) => {
            assert_eq!((exit_status.as_str(), steps), ("submitted", 5))
        }
        other => panic!(
            "a step after done must be refused: {:?}",
            other.map(|t| t.observation)
        ),
    }
    let run_dir = s.info.run_dir.clone();
    let closed = env.close().unwrap().unwrap();
    assert_eq!(closed.exit_status, "submitted");
    assert!(env.close().unwrap().is_none(), "closing twice is a no-op");
    let r = assert_complete(&run_dir, "submitted", 5);
    assert_eq!(r.run["model"], "test-model");
    assert_eq!(r.results["agent"].as_array().unwrap().len(), 2);
}

#[test]
fn closing_or_resetting_an_open_episode_records_why() {
    let dir = tempdir();
    let mut env = GymEnv::new(gym_config(dir.path(), RewardKind::Improvement, 5));
    let a = env.reset("prisonersDilemma", 1).unwrap();
    env.step("echo one").unwrap();
    // reset replaces the open episode with a fresh run directory and sandbox.
    let b = env.reset("blotto", 2).unwrap();
    assert_ne!(a.info.run_dir, b.info.run_dir);
    assert_complete(&a.info.run_dir, "closed (reset)", 1);
    env.step("echo two").unwrap();
    env.step("echo three").unwrap();
    let closed = env.close().unwrap().unwrap();
    assert_eq!(closed.exit_status, "closed (client)");
    let r = assert_complete(&b.info.run_dir, "closed (client)", 2);
    assert_eq!(r.run["seed"], 2);
    assert!(matches!(env.step("ls"), Err(GymError::NotStarted)));
    // A response without a command is refused with MLGym's format-error reply.
    env.reset("blotto", 0).unwrap();
    let e = env
        .step_with(StepRequest {
            response: Some("just thinking".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(e, GymError::Format { .. }) && e.to_string().contains("DISCUSSION"),
        "{e}"
    );
    assert_eq!(env.info().unwrap().step, 0, "nothing ran");
    let dropped_dir = env.info().unwrap().run_dir;
    drop(env);
    assert_complete(&dropped_dir, "closed (dropped)", 0);
}

#[test]
fn raw_and_ratio_rewards() {
    let dir = tempdir();
    for kind in [RewardKind::Raw, RewardKind::Ratio] {
        let mut env = GymEnv::new(gym_config(&dir.path().join(kind.as_str()), kind, 5));
        let first = env.reset("battleOfSexes", 0).unwrap();
        let baseline = first.info.baseline["Score"];
        let v = env.step("validate").unwrap();
        let score = v.info.score.as_ref().unwrap().metrics["Score"];
        let expected = if kind == RewardKind::Raw {
            score
        } else {
            score / baseline
        };
        assert!(
            (v.reward - expected).abs() < 1e-12,
            "{kind:?}: {} vs {expected}",
            v.reward
        );
        assert_eq!(v.info.reward_kind, kind);
    }
}

fn strip_times(mut v: Value) -> Value {
    for k in ["execution_time", "model_ms", "overhead_ms"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

/// The same responses through `mlgym run`'s loop (a replay) and through the Gym API give
/// the same records.
#[test]
fn an_api_episode_is_recorded_like_a_run_episode() {
    let dir = tempdir();
    let cmds = [
        "ls",
        &write_strategy("return 1"),
        "open strategy.py",
        "validate",
        "submit",
    ];
    let responses: Vec<String> = cmds.iter().map(|c| fenced(c)).collect();
    let run = replay_run(dir.path(), &dir.path().join("run"), &responses, 10);

    let mut env = GymEnv::new(gym_config(
        &dir.path().join("gym"),
        RewardKind::Improvement,
        10,
    ));
    env.reset("battleOfSexes", 0).unwrap();
    let mut last = None;
    for r in &responses {
        last = Some(
            env.step_with(StepRequest {
                response: Some(r.clone()),
                ..Default::default()
            })
            .unwrap(),
        );
    }
    let gym_dir = last.unwrap().info.run_dir;
    env.close().unwrap();

    let a = records(&run.run_dir);
    let b = records(&gym_dir);
    assert_eq!(a.steps.len(), b.steps.len());
    let workspace = |p: &Path| p.join("workspace").display().to_string();
    for (x, y) in a.steps.iter().zip(&b.steps) {
        let (x, y) = (strip_times(x.clone()), strip_times(y.clone()));
        assert_eq!(
            x.to_string().replace(&workspace(&run.run_dir), "W"),
            y.to_string().replace(&workspace(&gym_dir), "W")
        );
    }
    assert_eq!(a.results, b.results);
    assert_eq!(a.traj["history"], b.traj["history"]);
    assert_eq!(a.traj["info"]["score"], b.traj["info"]["score"]);
    assert_eq!(a.traj["info"]["exit_status"], b.traj["info"]["exit_status"]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&a.run), keys(&b.run));
    for k in [
        "task",
        "seed",
        "max_steps",
        "status",
        "exit_status",
        "steps",
        "scores",
        "baseline",
    ] {
        assert_eq!(a.run[k], b.run[k], "run.json `{k}`");
    }
    assert_eq!(run.exit_status, "submitted");
}
