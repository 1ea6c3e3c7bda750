//! The LLM backends through the `Model` trait, against a scripted HTTP server on
//! 127.0.0.1: retries and their backoff (recorded, not slept), failure classes and their
//! exit labels, accounting, limits, history processing, tool calls, and the API key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod llm_support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llm_support::{chat, chat_usage, command, Reply, TestServer};
use mlgym_runtime::agent::llm::config::{resolve, Layers};
use mlgym_runtime::agent::llm::retry::{Jitter, Sleeper};
use mlgym_runtime::agent::llm::LlmModel;
use mlgym_runtime::agent::parse::thought_action;
use mlgym_runtime::agent::{HistoryItem, Model, ModelError, Role};
use serde_json::json;

const KEY: &str = "sk-test-5ecr3t-KEY-0123456789";

struct Rec(Arc<Mutex<Vec<Duration>>>);
impl Sleeper for Rec {
    fn sleep(&mut self, d: Duration) {
        self.0.lock().unwrap().push(d);
    }
}

struct Harness {
    model: LlmModel,
    sleeps: Arc<Mutex<Vec<Duration>>>,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

/// A model for `spec` talking to `server`, with extra `[llm]` settings.
fn harness(server: &TestServer, spec: &str, settings: &str, key: Option<&str>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.toml");
    std::fs::write(
        &prices,
        "[models.\"test-model\"]\ninput = 2.0\noutput = 8.0\ncontext_window = 100000\n",
    )
    .unwrap();
    let text = format!(
        "[llm]\nendpoint = \"{}\"\nprices = \"{}\"\n{settings}",
        server.url(),
        prices.display()
    );
    let no_env = |_: &str| None;
    let s = resolve(&Layers {
        file: Some((PathBuf::from("test-mlgym.toml"), text)),
        env: &no_env,
        cli: vec![],
    })
    .unwrap();
    let key = key.map(str::to_string);
    let env = move |k: &str| {
        (k == "OPENAI_API_KEY" || k == "ANTHROPIC_API_KEY")
            .then(|| key.clone())
            .flatten()
    };
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let logs = Arc::new(Mutex::new(Vec::new()));
    let l = logs.clone();
    let model = LlmModel::new(spec, &s, &env)
        .unwrap()
        .with_sleeper(Box::new(Rec(sleeps.clone())))
        .with_jitter(Jitter::seeded(42))
        .with_log(Box::new(move |line: &str| {
            l.lock().unwrap().push(line.to_string())
        }));
    Harness {
        model,
        sleeps,
        logs,
        _dir: dir,
    }
}

fn openai(server: &TestServer, settings: &str) -> Harness {
    harness(server, "openai:test-model", settings, Some(KEY))
}

fn history() -> Vec<HistoryItem> {
    vec![
        HistoryItem::new(Role::System, "You are a researcher."),
        HistoryItem::new(Role::User, "Solve the task."),
    ]
}

const OK: &str = "DISCUSSION\nLook.\n\n```\nls\n```\n";

#[test]
fn rate_limit_honours_retry_after_then_recovers() {
    let server = TestServer::start(
        vec![
            Reply::status(429, r#"{"error":{"message":"slow down"}}"#).header("retry-after", "7"),
            chat(OK),
        ],
        chat(OK),
    );
    let mut h = openai(&server, "");
    assert_eq!(h.model.query(&history()).unwrap(), OK);
    assert_eq!(server.calls(), 2);
    assert_eq!(h.sleeps(), vec![Duration::from_secs(7)]);
    let s = h.model.stats();
    assert_eq!(
        (s.api_calls, s.tokens_sent, s.tokens_received),
        (1, 1000, 100)
    );
    assert!(h
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("429") && l.contains("retrying in 7.0 s")));
}

#[test]
fn retry_after_is_capped() {
    let server = TestServer::start(
        vec![Reply::status(429, "{}").header("retry-after", "3600")],
        chat(OK),
    );
    let mut h = openai(&server, "retry_after_max_secs = 30\n");
    h.model.query(&history()).unwrap();
    assert_eq!(h.sleeps(), vec![Duration::from_secs(30)]);
}

#[test]
fn server_errors_back_off_exponentially_within_bounds() {
    let script = vec![
        Reply::status(500, "oops"),
        Reply::status(502, ""),
        Reply::status(503, "{}"),
        chat(OK),
    ];
    let server = TestServer::start(script, chat(OK));
    let mut h = openai(&server, "backoff_initial_secs = 2\nbackoff_max_secs = 5\n");
    h.model.query(&history()).unwrap();
    assert_eq!(server.calls(), 4);
    let sleeps = h.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (i, (lo, hi)) in [(1.0, 2.0), (2.0, 4.0), (2.5, 5.0)].into_iter().enumerate() {
        let s = sleeps[i].as_secs_f64();
        assert!(lo <= s && s <= hi, "wait {i} = {s} not in [{lo}, {hi}]");
    }
}

#[test]
fn persistent_server_errors_give_up_after_max_attempts() {
    let server = TestServer::start(
        vec![],
        Reply::status(500, r#"{"error":{"message":"internal"}}"#),
    );
    let mut h = openai(&server, "max_attempts = 4\n");
    let e = h.model.query(&history()).unwrap_err();
    assert_eq!(e.exit_label(), "exit_api");
    assert!(e.to_string().contains("4 attempts"), "{e}");
    assert_eq!(server.calls(), 4, "no retry storm");
    let total: f64 = h.sleeps().iter().map(Duration::as_secs_f64).sum();
    assert_eq!(h.sleeps().len(), 3);
    assert!(total <= 1.0 + 2.0 + 4.0, "{total}");
    assert_eq!(h.model.stats().api_calls, 0);
}

#[test]
fn hung_connection_times_out_and_is_retried() {
    let server = TestServer::start(vec![Reply::Hang], chat(OK));
    let mut h = openai(&server, "timeout_secs = 0.5\n");
    let t0 = Instant::now();
    assert_eq!(h.model.query(&history()).unwrap(), OK);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(server.calls(), 2);
    assert!(
        h.logs.lock().unwrap()[0].contains("timed out"),
        "{:?}",
        h.logs.lock().unwrap()
    );
}

#[test]
fn hung_connection_every_time_ends_with_exit_api() {
    let server = TestServer::start(vec![], Reply::Hang);
    let mut h = openai(&server, "timeout_secs = 0.3\nmax_attempts = 2\n");
    let e = h.model.query(&history()).unwrap_err();
    assert!(matches!(e, ModelError::Api(_)), "{e}");
    assert_eq!(server.calls(), 2);
}

#[test]
fn dropped_connection_is_retried() {
    let server = TestServer::start(vec![Reply::Close], chat(OK));
    let mut h = openai(&server, "");
    assert_eq!(h.model.query(&history()).unwrap(), OK);
    assert_eq!(server.calls(), 2);
}

#[test]
fn malformed_json_is_retried_a_few_times_then_exit_api() {
    let server = TestServer::start(vec![], Reply::status(200, "{\"choices\": [ {\"message\": "));
    let mut h = openai(&server, "max_attempts = 10\nbad_response_attempts = 3\n");
    let e = h.model.query(&history()).unwrap_err();
    assert_eq!(e.exit_label(), "exit_api");
    assert!(e.to_string().contains("not JSON"), "{e}");
    assert_eq!(server.calls(), 3);
}

#[test]
fn empty_choices_are_retried_and_recover() {
    let server = TestServer::start(vec![Reply::ok(json!({"choices": []}))], chat(OK));
    let mut h = openai(&server, "");
    assert_eq!(h.model.query(&history()).unwrap(), OK);
    assert_eq!(server.calls(), 2);
    assert_eq!(h.model.stats().api_calls, 1);
}

#[test]
fn context_length_errors_end_without_retry() {
    let body = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
    let server = TestServer::start(vec![], Reply::status(400, body));
    let mut h = openai(&server, "");
    let e = h.model.query(&history()).unwrap_err();
    assert_eq!(e.exit_label(), "exit_context");
    assert_eq!(server.calls(), 1);
    assert!(h.sleeps().is_empty());

    let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
    let server = TestServer::start(vec![], Reply::status(400, body));
    let mut h = harness(&server, "anthropic:claude-test", "", Some(KEY));
    assert_eq!(
        h.model.query(&history()).unwrap_err().exit_label(),
        "exit_context"
    );
    assert_eq!(server.calls(), 1);
}

#[test]
fn requests_that_cannot_succeed_are_not_retried() {
    for status in [400, 401, 403, 404, 422] {
        let server = TestServer::start(
            vec![],
            Reply::status(status, r#"{"error":{"message":"no"}}"#),
        );
        let mut h = openai(&server, "");
        let e = h.model.query(&history()).unwrap_err();
        assert_eq!(e.exit_label(), "exit_api", "{status}");
        assert!(e.to_string().contains(&format!("HTTP {status}")), "{e}");
        assert_eq!(server.calls(), 1, "{status}");
    }
    let server = TestServer::start(
        vec![],
        Reply::status(
            429,
            r#"{"error":{"code":"insufficient_quota","message":"quota"}}"#,
        ),
    );
    let mut h = openai(&server, "");
    assert_eq!(
        h.model.query(&history()).unwrap_err().exit_label(),
        "exit_api"
    );
    assert_eq!(server.calls(), 1);
}

#[test]
fn cost_limit_lets_the_crossing_call_finish_then_stops() {
    // 2 USD/M in, 8 USD/M out: 400k + 50k tokens = 0.8 + 0.4 = 1.2 USD.
    let server = TestServer::start(vec![], Reply::ok(chat_usage(OK, 400_000, 50_000)));
    let mut h = openai(&server, "cost_limit = 1.0\n");
    assert_eq!(h.model.query(&history()).unwrap(), OK);
    let s = h.model.stats();
    assert!(
        (s.task_cost - 1.2).abs() < 1e-9 && (s.total_cost - 1.2).abs() < 1e-9,
        "{s:?}"
    );
    let e = h.model.query(&history()).unwrap_err();
    assert_eq!(e.exit_label(), "exit_cost");
    assert!(e.to_string().contains("cost_limit"), "{e}");
    assert_eq!(server.calls(), 1);

    let server = TestServer::start(vec![], Reply::ok(chat_usage(OK, 400_000, 50_000)));
    let mut h = openai(&server, "cost_limit = 0\ntotal_cost_limit = 2.0\n");
    h.model.query(&history()).unwrap();
    h.model.query(&history()).unwrap();
    assert!(h
        .model
        .query(&history())
        .unwrap_err()
        .to_string()
        .contains("total_cost_limit"));
    assert_eq!(server.calls(), 2);
}

#[test]
fn context_window_is_checked_before_sending() {
    let server = TestServer::start(vec![], chat(OK));
    let mut h = openai(&server, "context_window = 100\n");
    let mut hist = history();
    hist.push(HistoryItem::new(Role::User, "x".repeat(2000)));
    let e = h.model.query(&hist).unwrap_err();
    assert_eq!(e.exit_label(), "exit_context");
    assert!(e.to_string().contains("100 tokens"), "{e}");
    assert_eq!(server.calls(), 0);
}

#[test]
fn old_observations_are_omitted_from_the_request() {
    let server = TestServer::start(vec![], chat(OK));
    let mut h = openai(&server, "");
    let mut hist = history();
    for i in 0..8 {
        hist.push(HistoryItem::assistant(
            format!("DISCUSSION\n{i}\n```\nls\n```"),
            "",
            "ls\n",
        ));
        hist.push(HistoryItem::new(
            Role::User,
            format!("output {i}\nline two\n(Current Step: {i})"),
        ));
    }
    h.model.query(&hist).unwrap();
    let body = server.requests()[0].json();
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), hist.len());
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[1]["content"], "Solve the task.");
    let users: Vec<&str> = msgs
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(users[1], "Old output omitted (3 lines)");
    assert_eq!(users[3], "Old output omitted (3 lines)");
    assert!(users[4].starts_with("output 3"));
    assert!(users[8].starts_with("output 7"));
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["top_p"], 0.95);
    assert_eq!(body["max_tokens"], 4096);
}

#[test]
fn missing_usage_is_estimated() {
    let server = TestServer::start(
        vec![],
        Reply::ok(json!({"choices": [{"message": {"role": "assistant", "content": OK}}]})),
    );
    let mut h = openai(&server, "");
    h.model.query(&history()).unwrap();
    let s = h.model.stats();
    assert_eq!(s.api_calls, 1);
    assert!(s.tokens_sent > 5 && s.tokens_received > 5, "{s:?}");
}

#[test]
fn api_key_goes_only_into_the_header_and_is_redacted_from_errors() {
    let server = TestServer::start(
        vec![],
        Reply::status(
            401,
            &format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}."}}}}"#),
        ),
    );
    let mut h = openai(&server, "");
    let e = h.model.query(&history()).unwrap_err();
    assert!(
        !e.to_string().contains(KEY) && e.to_string().contains("[redacted]"),
        "{e}"
    );
    assert!(e.to_string().contains("OPENAI_API_KEY"), "{e}");
    let r = &server.requests()[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(!r.body.contains(KEY));
    assert!(!format!("{:?}", h.model).contains(KEY));

    let server = TestServer::start(
        vec![Reply::status(503, &format!("upstream saw key {KEY}"))],
        chat(OK),
    );
    let mut h = openai(&server, "");
    h.model.query(&history()).unwrap();
    let logs = h.logs.lock().unwrap().clone();
    assert!(
        !logs.is_empty() && logs.iter().all(|l| !l.contains(KEY)),
        "{logs:?}"
    );
}

#[test]
fn local_endpoint_needs_no_key() {
    let server = TestServer::start(vec![], chat(OK));
    let mut h = harness(&server, "openai:test-model", "", None);
    h.model.query(&history()).unwrap();
    assert_eq!(server.requests()[0].header("authorization"), None);
    assert!(server.requests()[0]
        .line
        .starts_with("POST /v1/chat/completions "));
}

#[test]
fn anthropic_messages_api() {
    let reply = json!({
        "id": "msg_1", "type": "message", "role": "assistant",
        "content": [{"type": "text", "text": OK}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 300, "output_tokens": 40}
    });
    let server = TestServer::start(
        vec![Reply::status(
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )],
        Reply::ok(reply),
    );
    let mut h = harness(&server, "anthropic:claude-test", "", Some(KEY));
    assert_eq!(h.model.query(&history()).unwrap(), OK);
    assert_eq!(server.calls(), 2);
    let r = &server.requests()[1];
    assert!(r.line.starts_with("POST /v1/messages "));
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    let body = r.json();
    assert_eq!(body["system"], "You are a researcher.");
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Solve the task."}])
    );
    assert_eq!(body["max_tokens"], 4096);
    assert!(body.get("top_p").is_none());
    let s = h.model.stats();
    assert_eq!(
        (s.tokens_sent, s.tokens_received, s.api_calls),
        (300, 40, 1)
    );
    assert!(h
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("no price for model `claude-test`")));
}

#[test]
fn openai_tool_calls_become_runner_actions() {
    let reply = json!({"choices": [{"message": {"role": "assistant", "content": "I fix line 3.", "tool_calls": [{
        "id": "call_1", "type": "function",
        "function": {"name": "edit", "arguments": "{\"start_line\": 3, \"end_line\": 3, \"replacement_text\": \"    return 0\\n\"}"}
    }]}}], "usage": {"prompt_tokens": 10, "completion_tokens": 5}});
    let server = TestServer::start(vec![], Reply::ok(reply));
    let mut h = openai(&server, "tool_calls = true\n");
    let response = h.model.query(&history()).unwrap();
    let (thought, action) = thought_action(&response).unwrap();
    assert_eq!(action, "edit 3:3\n    return 0\nend_of_edit\n");
    assert!(thought.contains("I fix line 3."));
    let body = server.requests()[0].json();
    let names: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    for n in ["bash", "open", "edit", "insert", "validate", "submit"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("TOOLS:"));
}

#[test]
fn anthropic_tool_use_becomes_a_runner_action() {
    let reply = json!({"type": "message", "content": [
        {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "python train.py --epochs 2"}}
    ], "usage": {"input_tokens": 3, "output_tokens": 2}});
    let server = TestServer::start(vec![], Reply::ok(reply));
    let mut h = harness(
        &server,
        "anthropic:claude-test",
        "tool_calls = true\n",
        Some(KEY),
    );
    let (_, action) = thought_action(&h.model.query(&history()).unwrap()).unwrap();
    assert_eq!(action, "python train.py --epochs 2\n");
    assert_eq!(
        server.requests()[0].json()["tools"][0]["input_schema"]["type"],
        "object"
    );
}

#[test]
fn a_response_without_a_command_is_returned_for_the_runner_to_requery() {
    let server = TestServer::start(vec![], chat("I think we should train a model."));
    let mut h = openai(&server, "");
    let r = h.model.query(&history()).unwrap();
    assert!(thought_action(&r).is_err());
    assert_eq!(server.calls(), 1);
    let _ = command("ls");
}
