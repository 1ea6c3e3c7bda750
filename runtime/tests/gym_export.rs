//! `mlgym export`: output validates against `docs/export-schema.json`, one run
//! round-trips (exported conversation → replay → the same actions and scores), filters
//! by score and exit status, MLGym `.traj` files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gym_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use gym_support::*;
use serde_json::Value;

fn schema() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/export-schema.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn assert_valid(line: &Value) {
    let s = schema();
    let errs = gym_support::schema::problems(&s, &s, line, false);
    assert!(
        errs.is_empty(),
        "export line does not match docs/export-schema.json:\n{}\n{line}",
        errs.join("\n")
    );
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let bad = serde_json::json!({ "messages": [{ "role": "robot", "content": 3 }], "metadata": { "task": "x", "extra": 1 } });
    let s = schema();
    let errs = gym_support::schema::problems(&s, &s, &bad, false);
    let all = errs.join("\n");
    for needle in ["robot", "type", "`extra`", "`exit_status` is missing"] {
        assert!(all.contains(needle), "{needle} not reported:\n{all}");
    }
}

fn export(args: &[&str]) -> (Vec<Value>, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .arg("export")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlgym export {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = args
        .iter()
        .position(|a| *a == "--out")
        .map(|i| PathBuf::from(args[i + 1]))
        .unwrap();
    let lines = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, summary)
}

#[test]
fn export_round_trips_a_run_and_validates_against_its_schema() {
    let dir = tempdir();
    let runs = dir.path().join("runs");
    let responses: Vec<String> = ["ls", &write_strategy("return 0"), "validate", "submit"]
        .iter()
        .map(|c| fenced(c))
        .collect();
    let run = replay_run(dir.path(), &runs, &responses, 20);
    let out = dir.path().join("sft.jsonl");
    let (lines, summary) = export(&[runs.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(summary["exported"], 1, "{summary}");
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_valid(line);
    // The conversation is the run's .traj history, role by role.
    let traj: Value =
        serde_json::from_slice(&std::fs::read(run.run_dir.join("battleOfSexes.traj")).unwrap())
            .unwrap();
    let history = traj["history"].as_array().unwrap();
    let messages = line["messages"].as_array().unwrap();
    assert_eq!(messages.len(), history.len());
    assert_eq!(messages.len(), 2 + 2 * 4);
    for (m, h) in messages.iter().zip(history) {
        assert_eq!((&m["role"], &m["content"]), (&h["role"], &h["content"]));
    }
    assert_eq!(messages[0]["role"], "system");
    let meta = &line["metadata"];
    let run_json: Value =
        serde_json::from_slice(&std::fs::read(run.run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["task"], "battleOfSexes");
    assert_eq!(meta["model"], run_json["model"]);
    assert_eq!(meta["exit_status"], "submitted");
    assert_eq!(
        meta["score"].as_f64(),
        run.scores.last().map(|s| s.metrics["Score"])
    );
    assert_eq!(meta["steps"], 4);
    // Round trip: the exported assistant turns, replayed, redo the same episode.
    let again: Vec<String> = messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again, responses);
    let rerun = replay_run(dir.path(), &dir.path().join("rerun"), &again, 20);
    assert_eq!(rerun.exit_status, run.exit_status);
    assert_eq!(
        rerun.scores, run.scores,
        "seeded evaluation: the same scores"
    );
    let per_step_out = dir.path().join("steps.jsonl");
    let (steps, _) = export(&[
        run.run_dir.to_str().unwrap(),
        "--per-step",
        "--out",
        per_step_out.to_str().unwrap(),
    ]);
    assert_eq!(steps.len(), 4);
    for (i, l) in steps.iter().enumerate() {
        assert_valid(l);
        assert_eq!(l["metadata"]["step"], i + 1);
        assert_eq!(
            l["messages"].as_array().unwrap().last().unwrap()["role"],
            "assistant"
        );
        assert_eq!(l["messages"].as_array().unwrap().len(), 3 + 2 * i);
    }
}

#[test]
fn export_filters_by_score_and_exit_status() {
    let dir = tempdir();
    let runs = dir.path().join("runs");
    // Always 0 scores about 1.44, always 1 about 0.6, a forfeit has no score.
    replay_run(
        dir.path(),
        &runs,
        &[fenced(&write_strategy("return 0")), fenced("submit")],
        20,
    );
    replay_run(
        dir.path(),
        &runs,
        &[
            fenced(&write_strategy("return 1")),
            fenced("validate"),
            fenced("submit"),
        ],
        20,
    );
    replay_run(
        dir.path(),
        &runs,
        &[
            fenced("ls"),
            fenced("ls"),
            fenced("ls"),
            fenced("exit_forfeit"),
        ],
        20,
    );
    let out = dir.path().join("x.jsonl");
    let o = out.to_str().unwrap();
    let r = runs.to_str().unwrap();
    let (all, s) = export(&[r, "--out", o]);
    assert_eq!((all.len(), s["episodes"].as_u64()), (3, Some(3)));
    all.iter().for_each(assert_valid);
    let (good, s) = export(&[r, "--min-score", "1.2", "--out", o]);
    assert_eq!(good.len(), 1, "{s}");
    assert!(good[0]["metadata"]["score"].as_f64().unwrap() > 1.2);
    assert_eq!(s["filtered"], 2);
    let (submitted, _) = export(&[r, "--exit-status", "submitted", "--out", o]);
    assert_eq!(submitted.len(), 2);
    let (forfeits, _) = export(&[r, "--exit-status", "exit_*", "--out", o]);
    assert_eq!(forfeits.len(), 1);
    assert_eq!(forfeits[0]["metadata"]["exit_status"], "exit_forfeit");
    assert!(forfeits[0]["metadata"]["score"].is_null());
    let (none, _) = export(&[
        r,
        "--exit-status",
        "submitted",
        "--min-score",
        "5",
        "--out",
        o,
    ]);
    assert!(none.is_empty());
    let bad = Command::new(env!("CARGO_BIN_EXE_mlgym"))
        .args(["export", "/no/such/run"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/no/such/run"));
}

#[test]
fn mlgym_traj_files_export_with_their_metadata() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/mlgym-reference/trajectories");
    let traj = shared.join("metagen-claude-35-sonnet-new__battleOfSexes__default__t-0.00__p-0.95__c-4.00__install-0__parallel_agents_run_0.traj.gz");
    if !traj.is_file() {
        eprintln!(
            "SKIP: {} is absent (MLGym trajectories live in ../shared)",
            traj.display()
        );
        return;
    }
    let dir = tempdir();
    let out = dir.path().join("mlgym.jsonl");
    let (lines, _) = export(&[traj.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(lines.len(), 1);
    assert_valid(&lines[0]);
    let meta = &lines[0]["metadata"];
    assert_eq!(meta["format"], "mlgym-traj");
    assert_eq!(meta["task"], "battleOfSexes");
    assert_eq!(meta["model"], "metagen-claude-35-sonnet-new");
    assert_eq!(meta["exit_status"], "submitted");
    assert_eq!(meta["primary_metric"], "Score");
    // Spec §3.7: this run's last score is the submission, 1.26358.
    assert!(
        (meta["score"].as_f64().unwrap() - 1.2636).abs() < 1e-3,
        "{meta}"
    );
    assert!(lines[0]["messages"].as_array().unwrap().len() > 10);
}
