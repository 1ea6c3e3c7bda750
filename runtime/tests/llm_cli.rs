//! Whole episodes through the public CLI (`mlgym run --agent openai:test-model
//! --endpoint http://127.0.0.1:PORT/v1`) against a scripted server: every failure the
//! server can inject ends (or recovers) with the right exit status and a complete
//! trajectory, tokens and cost land in run.json and the `.traj`, no retry storm, and the
//! API key appears in no file of the run directory and no output line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod llm_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use llm_support::{chat, command, Reply, TestServer};
use mlgym_runtime::agent::llm::config::{env_var, KEYS};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_mlgym");
const KEY: &str = "sk-cli-test-Zq8fK2mX9pL4vN7r";

/// A game-theory task to run (fast, no data), or `None` (with the reason printed).
fn task_id() -> Option<String> {
    let out = Command::new(BIN)
        .args(["tasks", "--json"])
        .output()
        .unwrap();
    let tasks: Value = serde_json::from_slice(&out.stdout).unwrap_or(json!([]));
    let tasks = tasks.as_array().cloned().unwrap_or_default();
    let pick = tasks
        .iter()
        .find(|t| t["id"] == "battleOfSexes")
        .or_else(|| {
            tasks
                .iter()
                .find(|t| t["domain"] == "game-theory" && t["data_ready"] == true)
        })
        .and_then(|t| t["id"].as_str().map(str::to_string));
    if pick.is_none() {
        eprintln!("SKIPPED: `mlgym tasks --json` lists no game-theory task to run an episode of");
    }
    pick
}

struct Episode {
    out: Output,
    result: Value,
    run_dir: PathBuf,
    run: Value,
    traj: Value,
    journal_lines: usize,
    dir: tempfile::TempDir,
}

impl Episode {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
}

fn mlgym(dir: &Path, args: &[&str], settings: &str) -> Output {
    std::fs::write(
        dir.join("prices.toml"),
        "[models.\"test-model\"]\ninput = 2.0\noutput = 8.0\n",
    )
    .unwrap();
    // Fast retries for the tests; `settings` may replace any of these.
    let base = [
        "backoff_initial_secs = 0.01",
        "backoff_max_secs = 0.02",
        "retry_after_max_secs = 0.05",
        "max_attempts = 3",
        "timeout_secs = 2",
    ];
    let mut config = format!(
        "[llm]\nprices = \"{}\"\n{settings}",
        dir.join("prices.toml").display()
    );
    for line in base {
        let key = line.split(' ').next().unwrap_or_default();
        if !settings.lines().any(|l| l.starts_with(&format!("{key} "))) {
            config.push_str(line);
            config.push('\n');
        }
    }
    std::fs::write(dir.join("test-mlgym.toml"), config).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env("OPENAI_API_KEY", KEY)
        .env("MLGYM_CONFIG", dir.join("test-mlgym.toml"));
    for k in KEYS {
        cmd.env_remove(env_var(k.name));
    }
    cmd.output().unwrap()
}

/// Runs one episode of `task` against `server`.
fn episode(task: &str, server: &TestServer, settings: &str, extra: &[&str]) -> Episode {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let url = server.url();
    let mut args = vec![
        "run",
        "--task",
        task,
        "--agent",
        "openai:test-model",
        "--endpoint",
        &url,
        "--out",
    ];
    let runs_s = runs.display().to_string();
    args.push(&runs_s);
    args.extend(["--json", "--max-steps", "10"]);
    args.extend(extra);
    let out = mlgym(dir.path(), &args, settings);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "mlgym run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    let run_dir = PathBuf::from(result["run_dir"].as_str().unwrap());
    let run: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("run.json")).unwrap()).unwrap();
    let traj: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join(format!("{task}.traj"))).unwrap())
            .unwrap();
    let journal_lines = std::fs::read_to_string(run_dir.join("trajectory.jsonl"))
        .unwrap()
        .lines()
        .count();
    Episode {
        out,
        result,
        run_dir,
        run,
        traj,
        journal_lines,
        dir,
    }
}

/// The episode ended with `status` and every record is complete and consistent.
fn assert_complete(ep: &Episode, status: &str) {
    assert_eq!(ep.result["exit_status"], status, "stderr: {}", ep.stderr());
    assert_eq!(ep.run["status"], "finished");
    assert_eq!(ep.run["exit_status"], status);
    assert_eq!(ep.traj["info"]["exit_status"], status);
    let steps = ep.run["steps"].as_u64().unwrap() as usize;
    assert!(steps >= 1);
    assert_eq!(ep.traj["trajectory"].as_array().unwrap().len(), steps);
    assert_eq!(
        ep.journal_lines,
        steps + 1,
        "trajectory.jsonl: a start line and one line per step"
    );
    assert_eq!(ep.traj["info"]["model_stats"], ep.run["model_stats"]);
    assert!(ep.run_dir.join("results.json").is_file());
}

fn last_action(ep: &Episode) -> String {
    ep.traj["trajectory"].as_array().unwrap().last().unwrap()["action"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn full_episode_records_tokens_and_cost() {
    let Some(task) = task_id() else { return };
    let server = TestServer::start(
        vec![command("ls"), command("validate"), command("submit")],
        command("submit"),
    );
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "submitted");
    assert_eq!(server.calls(), 3);
    let stats = &ep.run["model_stats"];
    assert_eq!(stats["api_calls"], 3);
    assert_eq!(stats["tokens_sent"], 3000);
    assert_eq!(stats["tokens_received"], 300);
    // 3 × (1000 × 2 + 100 × 8) / 1e6 USD.
    let cost = 3.0 * (1000.0 * 2.0 + 100.0 * 8.0) / 1e6;
    assert!(
        (stats["total_cost"].as_f64().unwrap() - cost).abs() < 1e-12,
        "{stats}"
    );
    assert!(
        (stats["task_cost"].as_f64().unwrap() - cost).abs() < 1e-12,
        "{stats}"
    );
    assert_eq!(ep.run["model"], "openai:test-model");
    assert_eq!(
        ep.run["scores"].as_array().unwrap().len(),
        2,
        "validate and submit were scored"
    );
    // The second request carries the first exchange.
    let second = server.requests()[1].json();
    let msgs = second["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[2]["role"], "assistant");
    assert!(msgs[3]["content"]
        .as_str()
        .unwrap()
        .contains("(Current Step: 1"));
}

#[test]
fn rate_limits_and_server_errors_recover() {
    let Some(task) = task_id() else { return };
    let script = vec![
        Reply::status(429, "{}").header("retry-after", "1"),
        Reply::status(500, "{}"),
        command("submit"),
    ];
    let server = TestServer::start(script, command("submit"));
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "submitted");
    assert_eq!(server.calls(), 3);
    assert_eq!(ep.run["model_stats"]["api_calls"], 1);
    assert!(ep.stderr().contains("retrying"), "{}", ep.stderr());
}

#[test]
fn persistent_server_errors_end_with_exit_api() {
    let Some(task) = task_id() else { return };
    let server = TestServer::start(
        vec![],
        Reply::status(500, r#"{"error":{"message":"boom"}}"#),
    );
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "autosubmission (exit_api)");
    assert_eq!(server.calls(), 3, "max_attempts = 3: no retry storm");
    assert_eq!(last_action(&ep), "exit_api");
}

#[test]
fn hung_connection_times_out_and_recovers() {
    let Some(task) = task_id() else { return };
    let server = TestServer::start(vec![Reply::Hang], command("submit"));
    let ep = episode(&task, &server, "timeout_secs = 1\n", &[]);
    assert_complete(&ep, "submitted");
    assert_eq!(server.calls(), 2);
}

#[test]
fn malformed_json_ends_with_exit_api() {
    let Some(task) = task_id() else { return };
    let server = TestServer::start(vec![], Reply::status(200, "<html>gateway</html>"));
    let ep = episode(
        &task,
        &server,
        "max_attempts = 6\nbad_response_attempts = 2\n",
        &[],
    );
    assert_complete(&ep, "autosubmission (exit_api)");
    assert_eq!(server.calls(), 2);
}

#[test]
fn empty_choice_recovers() {
    let Some(task) = task_id() else { return };
    let server = TestServer::start(
        vec![Reply::ok(json!({"choices": []})), command("submit")],
        command("submit"),
    );
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "submitted");
    assert_eq!(server.calls(), 2);
}

#[test]
fn responses_without_a_command_end_with_exit_format() {
    let Some(task) = task_id() else { return };
    let server = TestServer::start(vec![], chat("I would like to think about this some more."));
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "autosubmission (exit_format)");
    assert_eq!(server.calls(), 3, "the first answer and two re-asks");
    assert_eq!(last_action(&ep), "exit_format");
    assert_eq!(
        ep.run["model_stats"]["api_calls"], 3,
        "re-asks cost tokens too"
    );
    let third = server.requests()[2].json();
    let last = third["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("No action found"),
        "{last}"
    );
}

#[test]
fn context_length_error_ends_with_exit_context() {
    let Some(task) = task_id() else { return };
    let body = r#"{"error":{"message":"This model's maximum context length is 4096 tokens.","code":"context_length_exceeded"}}"#;
    let server = TestServer::start(vec![command("ls")], Reply::status(400, body));
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "autosubmission (exit_context)");
    assert_eq!(server.calls(), 2);
    assert_eq!(ep.run["steps"], 2);
}

#[test]
fn cost_limit_ends_with_exit_cost() {
    let Some(task) = task_id() else { return };
    let server = TestServer::start(vec![], command("ls"));
    // Each call costs 0.0028 USD.
    let ep = episode(&task, &server, "", &["--cost-limit", "0.005"]);
    assert_complete(&ep, "autosubmission (exit_cost)");
    assert_eq!(
        server.calls(),
        2,
        "the call that crosses the limit completes; the next query stops"
    );
    assert_eq!(ep.run["steps"], 3);
}

#[test]
fn tool_calls_drive_an_episode() {
    let Some(task) = task_id() else { return };
    let call = |name: &str, args: &str| {
        Reply::ok(
            json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": name, "arguments": args}}
        ]}}], "usage": {"prompt_tokens": 10, "completion_tokens": 2}}),
        )
    };
    let server = TestServer::start(
        vec![call("bash", r#"{"command": "ls"}"#), call("validate", "{}")],
        call("submit", ""),
    );
    let ep = episode(&task, &server, "", &["--tool-calls"]);
    assert_complete(&ep, "submitted");
    let actions: Vec<&str> = ep.traj["trajectory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap().trim())
        .collect();
    assert_eq!(actions, ["ls", "validate", "submit"]);
    assert!(server.requests()[0].json()["tools"]
        .as_array()
        .is_some_and(|t| t.len() >= 13));
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            files_under(&p, out);
        } else if t.is_file() {
            out.push(p);
        }
    }
}

fn assert_no_key(ep: &Episode) {
    let mut files = Vec::new();
    files_under(ep.dir.path().join("runs").as_path(), &mut files);
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the API key is in {}",
            f.display()
        );
    }
    assert!(
        !ep.stdout().contains(KEY) && !ep.stderr().contains(KEY),
        "the API key was printed"
    );
}

#[test]
fn api_key_is_in_no_file_and_no_log_line() {
    let Some(task) = task_id() else { return };
    // A normal episode (with a retry, which logs), then one whose server echoes the key.
    let server = TestServer::start(
        vec![
            Reply::status(503, &format!("bad gateway for {KEY}")),
            command("validate"),
        ],
        command("submit"),
    );
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "submitted");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_no_key(&ep);

    let echo = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}. You can find your API key at ..."}}}}"#
    );
    let server = TestServer::start(vec![], Reply::status(401, &echo));
    let ep = episode(&task, &server, "", &[]);
    assert_complete(&ep, "autosubmission (exit_api)");
    assert_eq!(server.calls(), 1);
    assert!(ep.traj["trajectory"][0]["thought"]
        .as_str()
        .unwrap()
        .contains("[redacted]"));
    assert_no_key(&ep);
}

#[test]
fn config_show_reports_values_and_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    let out = mlgym(
        dir.path(),
        &["config", "show", "--json", "--temperature", "0.7"],
        "top_p = 0.5\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let get = |k: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(get("temperature")["value"], "0.7");
    assert_eq!(get("temperature")["source"], "flag --temperature");
    assert_eq!(get("top_p")["value"], "0.5");
    assert!(get("top_p")["source"]
        .as_str()
        .unwrap()
        .starts_with("file "));
    assert_eq!(get("history_last_n")["source"], "default");
    assert_eq!(get("endpoint")["value"], "https://api.openai.com/v1");
    assert_eq!(v["api_key"], json!({"env": "OPENAI_API_KEY", "set": true}));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(KEY));

    let out = mlgym(dir.path(), &["config", "show"], "max_attempts = \"lots\"\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_attempts") && err.contains("test-mlgym.toml"),
        "{err}"
    );
}
