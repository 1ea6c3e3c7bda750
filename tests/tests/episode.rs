//! End-to-end episodes through the public CLI: the embedded default, replays with edits,
//! validation, a hanging command, a killed and resumed run, MLGym trajectories, and the
//! trust boundary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mlgym_tests::*;

const ALWAYS_ZERO: &str =
    "cat > strategy.py <<'EOF'\ndef row_strategy(history):\n    return 0\nEOF";

fn score(v: &serde_json::Value) -> f64 {
    v["metrics"]["Score"].as_f64().unwrap()
}

#[test]
fn the_embedded_default_runs_and_submits() {
    let out = tempdir();
    let v = run_json(&[
        "run",
        "--task",
        "battleOfSexes",
        "--agent",
        "baseline",
        "--out",
        out.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["exit_status"], "submitted");
    let scores = v["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 1);
    // MLGym's starter scores 1.0227; ours plays the same strategy.
    assert!((score(&scores[0]) - 1.0227).abs() < 0.03, "{v}");
    let dir = PathBuf::from(v["run_dir"].as_str().unwrap());
    for f in [
        "trajectory.jsonl",
        "battleOfSexes.traj",
        "results.json",
        "run.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let traj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("battleOfSexes.traj")).unwrap()).unwrap();
    assert_eq!(traj["info"]["exit_status"], "submitted");
    assert_eq!(traj["trajectory"].as_array().unwrap().len(), 2);
    assert_eq!(traj["info"]["score"].as_array().unwrap().len(), 1);
}

#[test]
fn a_replayed_episode_edits_validates_survives_a_hang_and_submits() {
    let tmp = tempdir();
    let out = tmp.path().join("runs");
    let replay = replay_file(
        tmp.path(),
        "replay.jsonl",
        &responses(&[
            "ls",
            "create notes.py",
            "edit 1:1\nX = 1\nend_of_edit",
            "edit 1:1\nX = (\nend_of_edit",
            ALWAYS_ZERO,
            "open strategy.py",
            "validate",
            "sleep 60",
            "echo still alive && pwd",
            "submit",
        ]),
    );
    let v = run_json(&[
        "run",
        "--task",
        "battleOfSexes",
        "--agent",
        &format!("replay:{}", replay.display()),
        "--command-timeout",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["exit_status"], "submitted", "{v}");
    let scores = v["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 2, "{v}");
    assert_eq!(scores[0]["kind"], "validate");
    assert_eq!(scores[1]["kind"], "submit");
    // Seeded evaluation: validate and submit of the same code agree exactly.
    assert_eq!(score(&scores[0]), score(&scores[1]));
    // Always playing 0 against MLGym's opponent is worth 1.44 in expectation.
    assert!((score(&scores[0]) - 1.44).abs() < 0.02, "{v}");
    let dir = PathBuf::from(v["run_dir"].as_str().unwrap());
    let steps = journal_steps(&dir);
    assert_eq!(steps.len(), 10);
    let obs = |i: usize| steps[i]["observation"].as_str().unwrap().to_string();
    assert!(obs(0).contains("strategy.py"), "{}", obs(0));
    assert!(obs(2).contains("File updated"), "{}", obs(2));
    assert!(
        obs(3).contains("NOT been applied")
            || obs(3).contains("not been applied")
            || obs(3).contains("E999"),
        "{}",
        obs(3)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("workspace/notes.py")).unwrap(),
        "X = 1\n"
    );
    assert!(
        obs(5).contains("[File: /home/agent/workspace/strategy.py")
            || obs(5).contains("strategy.py ("),
        "{}",
        obs(5)
    );
    assert!(obs(6).contains("Evaluation Score"), "{}", obs(6));
    assert!(obs(7).contains("EXECUTION TIMED OUT"), "{}", obs(7));
    let hang_s = steps[7]["execution_time"].as_f64().unwrap();
    assert!(
        (2.0..10.0).contains(&hang_s),
        "the hanging command took {hang_s} s (timeout 2 s)"
    );
    assert!(obs(8).starts_with("still alive"), "{}", obs(8));
    // Steps are numbered 1..N, each exactly once.
    let numbers: Vec<u64> = steps.iter().map(|s| s["step"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=10).collect::<Vec<u64>>());
}

#[test]
fn a_killed_run_resumes_without_losing_or_duplicating_steps() {
    let tmp = tempdir();
    let out = tmp.path().join("runs");
    let mut cmds: Vec<String> = Vec::new();
    for i in 0..8 {
        cmds.push(format!("echo step-{i} && sleep 0.4"));
    }
    cmds.push(ALWAYS_ZERO.to_string());
    cmds.push("submit".to_string());
    let refs: Vec<&str> = cmds.iter().map(|s| s.as_str()).collect();
    let replay = replay_file(tmp.path(), "replay.jsonl", &responses(&refs));
    let mut child = std::process::Command::new(mlgym())
        .args([
            "run",
            "--task",
            "battleOfSexes",
            "--agent",
            &format!("replay:{}", replay.display()),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL, no chance to clean up) once three steps are recorded.
    let deadline = Instant::now() + Duration::from_secs(60);
    let run_dir = loop {
        assert!(
            Instant::now() < deadline,
            "the run never recorded three steps"
        );
        let dirs: Vec<PathBuf> = std::fs::read_dir(&out)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if let Some(d) = dirs.first() {
            if journal_steps(d).len() >= 3 {
                break d.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let before = journal_steps(&run_dir).len();
    assert!((3..10).contains(&before), "{before}");
    let v = run_json(&["run", "--resume", run_dir.to_str().unwrap(), "--json"]);
    assert_eq!(v["exit_status"], "submitted", "{v}");
    let steps = journal_steps(&run_dir);
    let numbers: Vec<u64> = steps.iter().map(|s| s["step"].as_u64().unwrap()).collect();
    assert_eq!(
        numbers,
        (1..=10).collect::<Vec<u64>>(),
        "steps lost or duplicated"
    );
    // Every replayed command appears exactly once, in order.
    for (i, s) in steps.iter().take(8).enumerate() {
        assert!(
            s["observation"]
                .as_str()
                .unwrap()
                .contains(&format!("step-{i}")),
            "{s}"
        );
    }
    let traj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("battleOfSexes.traj")).unwrap())
            .unwrap();
    assert_eq!(traj["trajectory"].as_array().unwrap().len(), 10);
    assert_eq!(traj["history"].as_array().unwrap().len(), 2 + 2 * 10);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["agent"].as_array().unwrap().len(), 1);
}

#[test]
fn an_mlgym_trajectory_replays_to_the_end_and_reports() {
    let Some(shared) = shared() else {
        eprintln!("SKIP: ../shared is absent (MLGym trajectories)");
        return;
    };
    let traj = shared.join("mlgym-reference/trajectories/metagen-claude-35-sonnet-new__battleOfSexes__default__t-0.00__p-0.95__c-4.00__install-0__parallel_agents_run_0.traj.gz");
    let tmp = tempdir();
    let out = tmp.path().join("runs");
    let v = run_json(&[
        "run",
        "--task",
        "battleOfSexes",
        "--agent",
        &format!("replay:{}", traj.display()),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let status = v["exit_status"].as_str().unwrap();
    assert!(
        status == "submitted" || status.starts_with("autosubmission"),
        "{v}"
    );
    assert!(
        !v["scores"].as_array().unwrap().is_empty(),
        "no score was recorded: {v}"
    );
    let report = run_json(&["report", out.to_str().unwrap(), "--json"]);
    assert!(report["scores"]["battleOfSexes"].is_object(), "{report}");
}

#[test]
fn the_agent_cannot_reach_the_runtime_and_extra_files_do_not_change_the_score() {
    let tmp = tempdir();
    let out = tmp.path().join("runs");
    let out_s = out.display().to_string();
    // Files outside the declared artefacts — a rewritten opponent, a fake evaluator —
    // must have no effect: the evaluator scores strategy.py with its own harness.
    let fake_target =
        "cat > target.py <<'EOF'\ndef target_column_strategy(history):\n    return 0\nEOF";
    let fake_eval = "cat > evaluate.py <<'EOF'\nprint('{\"Score\": 99.0}')\nEOF";
    let replay = replay_file(
        tmp.path(),
        "replay.jsonl",
        &responses(&[
            &format!("ls {out_s} && echo SAW_RUNS"),
            &format!("cat {out_s}/*/run.json && echo READ_RUN"),
            "ls / ; cat /etc/shadow && echo READ_SHADOW",
            "python3 -c \"import socket; socket.create_connection(('127.0.0.1', 22), timeout=1)\" && echo NET",
            ALWAYS_ZERO,
            fake_target,
            fake_eval,
            "submit",
        ]),
    );
    let v = run_json(&[
        "run",
        "--task",
        "battleOfSexes",
        "--agent",
        &format!("replay:{}", replay.display()),
        "--seed",
        "0",
        "--out",
        &out_s,
        "--json",
    ]);
    let dir = PathBuf::from(v["run_dir"].as_str().unwrap());
    let steps = journal_steps(&dir);
    let all: String = steps
        .iter()
        .map(|s| s["observation"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    for marker in ["SAW_RUNS", "READ_RUN", "READ_SHADOW", "NET"] {
        assert!(
            !all.contains(&format!("\n{marker}")) && !all.starts_with(marker),
            "{marker} reached: {all}"
        );
    }
    let submitted = score(&v["scores"][0]);
    // The same strategy alone, through `mlgym eval`, scores exactly the same.
    let clean = tmp.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    std::fs::write(
        clean.join("strategy.py"),
        "def row_strategy(history):\n    return 0\n",
    )
    .unwrap();
    let e = run_json(&[
        "eval",
        "--task",
        "battleOfSexes",
        "--submission",
        clean.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(score(&e), submitted);
}

#[test]
fn eval_reports_errors_as_json() {
    let tmp = tempdir();
    let out = run(&[
        "eval",
        "--task",
        "battleOfSexes",
        "--submission",
        tmp.path().to_str().unwrap(),
        "--json",
    ]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("strategy.py"), "{v}");
    let out = run(&[
        "eval",
        "--task",
        "noSuchTask",
        "--submission",
        tmp.path().to_str().unwrap(),
        "--json",
    ]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("battleOfSexes"),
        "the error should list known tasks: {v}"
    );
}

#[test]
fn tasks_lists_the_contract_fields() {
    let v = run_json(&["tasks", "--json"]);
    let arr = v.as_array().unwrap();
    let bos = arr
        .iter()
        .find(|t| t["id"] == "battleOfSexes")
        .expect("battleOfSexes registered");
    assert_eq!(bos["primary_metric"], "Score");
    assert_eq!(bos["direction"], "max");
    assert_eq!(bos["data_ready"], true);
    assert_eq!(bos["domain"], "game-theory");
}
