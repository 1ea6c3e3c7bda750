//! `mlgym serve` on loopback: 8 concurrent episodes through HTTP, malformed requests,
//! unknown ids, a step after done, a client that disconnects mid-episode, the idle
//! timeout, the episode limit, the bearer token, per-episode GPU leases, and shutdown
//! with episodes open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gym_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gym_support::*;
use serde_json::{json, Value};

fn create(s: &ServerProc, task: &str, seed: u64) -> (String, Value) {
    let (st, v) = s.call(
        "POST",
        "/episodes",
        Some(&json!({ "task": task, "seed": seed }).to_string()),
    );
    assert_eq!(st, 201, "{v}");
    (v["id"].as_str().unwrap().to_string(), v)
}

fn step(s: &ServerProc, id: &str, action: &str) -> Value {
    let (st, v) = s.call(
        "POST",
        &format!("/episodes/{id}/step"),
        Some(&json!({ "action": action }).to_string()),
    );
    assert_eq!(st, 200, "{action}: {v}");
    v
}

fn open_ids(s: &ServerProc) -> Vec<String> {
    let (st, v) = s.call("GET", "/episodes", None);
    assert_eq!(st, 200);
    v["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that `v` is what the served OpenAPI description says `schema` responses are,
/// with no undescribed field.
fn assert_described(s: &ServerProc, schema: &str, v: &Value) {
    let (st, api) = s.call("GET", "/openapi.json", None);
    assert_eq!(st, 200);
    let errs = schema::problems(&api, &api["components"]["schemas"][schema], v, true);
    assert!(
        errs.is_empty(),
        "a response does not match openapi.json's {schema}:\n{}\n{v}",
        errs.join("\n")
    );
}

fn error_of(v: &Value) -> String {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error: {v}"))
        .to_string()
}

#[test]
fn eight_concurrent_episodes_play_to_the_end_over_http() {
    let dir = tempdir();
    let s = ServerProc::start(dir.path(), &["--max-episodes", "8"]);
    let strategies = [
        "return 0",
        "return 1",
        "return history[-1][1] if history else 0",
        "return 0",
    ];
    let results: Vec<(String, Value, Value, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8u64)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    let (id, first) = create(s, "battleOfSexes", i);
                    let obs = first["observation"].as_str().unwrap();
                    assert!(obs.contains("TASK DESCRIPTION") && obs.ends_with("(Current Step: 0, Remaining Steps: 50)\n(Open file: n/a)\n(Current directory: /home/agent/workspace)\nbash-$"), "{obs}");
                    assert!(first["system"].as_str().unwrap().contains("COMMANDS"));
                    let ls = step(s, &id, "ls");
                    assert!(ls["observation"].as_str().unwrap().starts_with("strategy.py\n(Current Step: 1, Remaining Steps: 49)"), "{ls}");
                    assert_eq!(ls["reward"], 0.0);
                    assert_eq!(ls["done"], false);
                    step(s, &id, &write_strategy(strategies[i as usize % 4]));
                    let validated = step(s, &id, "validate");
                    let submitted = step(s, &id, "submit");
                    (id, first, validated, submitted)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ids: Vec<&String> = results.iter().map(|r| &r.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "episode ids are unique");
    for (id, first, validated, submitted) in &results {
        assert_described(&s, "ResetResponse", first);
        assert_described(&s, "StepResponse", validated);
        assert_described(&s, "StepResponse", submitted);
        let baseline = first["info"]["baseline"]["Score"].as_f64().unwrap();
        let score = validated["info"]["score"]["metrics"]["Score"]
            .as_f64()
            .unwrap();
        assert_eq!(validated["info"]["score"]["kind"], "validate");
        assert_eq!(validated["done"], false);
        assert!(
            (validated["reward"].as_f64().unwrap() - (score - baseline)).abs() < 1e-12,
            "{validated}"
        );
        assert_eq!(submitted["done"], true, "{submitted}");
        assert_eq!(submitted["info"]["exit_status"], "submitted");
        assert_eq!(submitted["info"]["scores"].as_array().unwrap().len(), 2);
        // Seeded: validate and submit of the same code agree.
        assert_eq!(submitted["info"]["last_score"].as_f64().unwrap(), score);
        let ret = submitted["info"]["episode_return"].as_f64().unwrap();
        assert!((ret - 2.0 * (score - baseline)).abs() < 1e-9, "{submitted}");
        // A step after done is refused and changes nothing.
        let (st, v) = s.call(
            "POST",
            &format!("/episodes/{id}/step"),
            Some(r#"{"action": "ls"}"#),
        );
        assert_eq!(st, 409, "{v}");
        assert!(error_of(&v).contains("ended"), "{v}");
        assert_described(&s, "Error", &v);
        let (st, listed) = s.call("GET", &format!("/episodes/{id}"), None);
        assert_eq!(st, 200, "{listed}");
        assert_described(&s, "EpisodeStatus", &listed);
        let (st, closed) = s.call("DELETE", &format!("/episodes/{id}"), None);
        assert_eq!(st, 200, "{closed}");
        assert_described(&s, "CloseResponse", &closed);
        assert_eq!(closed["exit_status"], "submitted");
        let run_dir = PathBuf::from(submitted["info"]["run_dir"].as_str().unwrap());
        let r = assert_complete(&run_dir, "submitted", 4);
        assert_eq!(r.results["agent"].as_array().unwrap().len(), 2);
        assert_eq!(r.run["agent"], "gym");
        assert_eq!(r.steps[3]["action"], "submit");
    }
    // Always playing 0 is worth about 1.44, always 1 about 0.6: the episodes really were
    // distinct.
    let s0 = results[0].2["info"]["score"]["metrics"]["Score"]
        .as_f64()
        .unwrap();
    let s1 = results[1].2["info"]["score"]["metrics"]["Score"]
        .as_f64()
        .unwrap();
    assert!(s0 > s1 + 0.3, "{s0} vs {s1}");
    assert!(open_ids(&s).is_empty());
    let (_, list) = s.call("GET", "/episodes", None);
    assert_described(&s, "EpisodeList", &list);
}

#[test]
fn malformed_requests_and_unknown_ids_get_json_errors() {
    let dir = tempdir();
    let s = ServerProc::start(dir.path(), &[]);
    let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
        (
            "POST",
            "/episodes",
            Some("{\"task\": "),
            400,
            "not valid JSON",
        ),
        ("POST", "/episodes", None, 400, "JSON body"),
        ("POST", "/episodes", Some("[1, 2]"), 422, "invalid request"),
        ("POST", "/episodes", Some("{\"seed\": 1}"), 422, "task"),
        (
            "POST",
            "/episodes",
            Some("{\"task\": \"noSuchTask\"}"),
            422,
            "battleOfSexes",
        ),
        (
            "POST",
            "/episodes",
            Some("{\"task\": \"blotto\", \"sede\": 1}"),
            422,
            "sede",
        ),
        (
            "POST",
            "/episodes",
            Some("{\"task\": \"blotto\", \"seed\": -1}"),
            422,
            "seed",
        ),
        (
            "POST",
            "/episodes",
            Some("{\"task\": \"blotto\", \"reward\": \"best\"}"),
            422,
            "improvement",
        ),
        (
            "POST",
            "/episodes",
            Some("{\"task\": \"blotto\", \"max_steps\": 0}"),
            422,
            "max_steps",
        ),
        (
            "POST",
            "/episodes/0123456789abcdef/step",
            Some("{\"action\": \"ls\"}"),
            404,
            "0123456789abcdef",
        ),
        (
            "DELETE",
            "/episodes/0123456789abcdef",
            None,
            404,
            "no open episode",
        ),
        (
            "GET",
            "/episodes/0123456789abcdef",
            None,
            404,
            "no open episode",
        ),
        (
            "POST",
            "/episodes/0123456789abcdef/reset",
            None,
            404,
            "no open episode",
        ),
        (
            "POST",
            "/episodes/0123456789abcdef/keepalive",
            None,
            404,
            "no open episode",
        ),
        (
            "GET",
            "/episodes/0123456789abcdef/attach",
            None,
            404,
            "no open episode",
        ),
        ("GET", "/no/such/endpoint", None, 404, "openapi"),
        ("PUT", "/episodes", None, 405, "method"),
    ];
    for (method, path, body, status, needle) in cases {
        let (st, v) = s.call(method, path, *body);
        assert_eq!(st, *status, "{method} {path} {body:?}: {v}");
        assert!(
            error_of(&v).contains(needle),
            "{method} {path} {body:?}: {v}"
        );
    }
    // Malformed steps of a real episode are refused without running anything.
    let (id, _) = create(&s, "prisonersDilemma", 0);
    let step_path = format!("/episodes/{id}/step");
    for (body, status, needle) in [
        ("{}", 422, "action"),
        ("{\"action\": 3}", 422, "invalid request"),
        (
            "{\"response\": \"I will list the files.\"}",
            422,
            "DISCUSSION",
        ),
        ("not json", 400, "not valid JSON"),
    ] {
        let (st, v) = s.call("POST", &step_path, Some(body));
        assert_eq!(st, status, "{body}: {v}");
        assert!(error_of(&v).contains(needle), "{body}: {v}");
    }
    // A raw model response is parsed with MLGym's format and recorded as the response.
    let (st, v) = s.call(
        "POST",
        &step_path,
        Some(&json!({ "response": "DISCUSSION\nLook around.\n\n```\nls\n```" }).to_string()),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["info"]["step"], 1, "only the well-formed step ran: {v}");
    assert!(
        v["observation"]
            .as_str()
            .unwrap()
            .starts_with("strategy.py"),
        "{v}"
    );
    let (st, v) = s.call("GET", &format!("/episodes/{id}"), None);
    assert_eq!((st, v["step"].as_u64()), (200, Some(1)), "{v}");
    let (_, closed) = s.call("DELETE", &format!("/episodes/{id}"), None);
    assert_eq!(closed["exit_status"], "closed (client)");
    let r = assert_complete(
        &PathBuf::from(closed["info"]["run_dir"].as_str().unwrap()),
        "closed (client)",
        1,
    );
    assert!(r.steps[0]["response"]
        .as_str()
        .unwrap()
        .starts_with("DISCUSSION"));
    assert_eq!(
        r.steps[0]["thought"].as_str().unwrap().trim(),
        "DISCUSSION\nLook around."
    );
    // Closed ids are unknown afterwards.
    let (st, _) = s.call("POST", &step_path, Some("{\"action\": \"ls\"}"));
    assert_eq!(st, 404);
    let (st, v) = s.call("GET", "/openapi.json", None);
    assert_eq!(st, 200);
    for p in [
        "/episodes",
        "/episodes/{id}",
        "/episodes/{id}/step",
        "/episodes/{id}/reset",
        "/episodes/{id}/attach",
        "/episodes/{id}/keepalive",
        "/healthz",
    ] {
        assert!(v["paths"][p].is_object(), "{p} is not described");
    }
}

#[test]
fn a_client_that_disconnects_mid_episode_has_its_sandbox_torn_down() {
    let dir = tempdir();
    let s = ServerProc::start(dir.path(), &[]);
    let (id, first) = create(&s, "battleOfSexes", 0);
    let run_dir = PathBuf::from(first["info"]["run_dir"].as_str().unwrap());
    let marker = format!("gymtest-disconnect-{id}");
    step(&s, &id, &background_process(&marker));
    wait_until(
        Duration::from_secs(20),
        "the episode's background process runs",
        || !pids_with(&marker).is_empty(),
    );
    // Attach, read the first event, then vanish without closing the episode.
    let mut conn = TcpStream::connect(s.addr).unwrap();
    write!(
        conn,
        "GET /episodes/{id}/attach HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    while !line.contains("\"attached\"") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the attach stream ended early"
        );
    }
    let (_, listed) = s.call("GET", &format!("/episodes/{id}"), None);
    assert_eq!(listed["attached"], true, "{listed}");
    drop(reader);
    conn.shutdown(std::net::Shutdown::Both).unwrap();
    drop(conn);
    wait_until(Duration::from_secs(30), "the episode is closed", || {
        !open_ids(&s).contains(&id)
    });
    wait_until(
        Duration::from_secs(30),
        "the sandbox's processes are gone",
        || pids_with(&marker).is_empty(),
    );
    wait_until(Duration::from_secs(30), "the records are complete", || {
        std::fs::read(run_dir.join("results.json")).is_ok()
    });
    assert_complete(&run_dir, "closed (client_disconnected)", 1);
    assert!(s.stderr_text().contains("closed (client_disconnected)"));
}

#[test]
fn idle_episodes_are_closed_and_the_episode_limit_holds() {
    let dir = tempdir();
    let s = ServerProc::start(dir.path(), &["--idle-timeout", "2", "--max-episodes", "2"]);
    let (a, first) = create(&s, "blotto", 0);
    let (b, _) = create(&s, "blotto", 1);
    let (st, v) = s.call("POST", "/episodes", Some(r#"{"task": "blotto"}"#));
    assert_eq!(st, 429, "{v}");
    assert!(error_of(&v).contains("--max-episodes 2"), "{v}");
    let marker = format!("gymtest-idle-{a}");
    step(&s, &a, &background_process(&marker));
    wait_until(
        Duration::from_secs(20),
        "the background process runs",
        || !pids_with(&marker).is_empty(),
    );
    // Keep `b` alive with keepalives while `a` idles out.
    wait_until(
        Duration::from_secs(30),
        "the idle episode is closed",
        || {
            let (st, _) = s.call("POST", &format!("/episodes/{b}/keepalive"), None);
            assert_eq!(st, 200);
            !open_ids(&s).contains(&a)
        },
    );
    assert!(open_ids(&s).contains(&b));
    wait_until(Duration::from_secs(30), "its processes are gone", || {
        pids_with(&marker).is_empty()
    });
    let run_dir = PathBuf::from(first["info"]["run_dir"].as_str().unwrap());
    wait_until(Duration::from_secs(30), "its records are complete", || {
        run_dir.join("results.json").is_file()
    });
    assert_complete(&run_dir, "closed (idle_timeout)", 1);
    // A slot is free again.
    let (c, _) = create(&s, "blotto", 2);
    assert!(open_ids(&s).contains(&c));
}

#[test]
fn the_bearer_token_is_required_and_never_logged() {
    let dir = tempdir();
    let token = "s3cret-token-for-the-gym-test";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut s = ServerProc::start(dir.path(), &["--token-file", token_file.to_str().unwrap()]);
    let body = r#"{"task": "battleOfSexes"}"#;
    let (st, v) = http(s.addr, "POST", "/episodes", Some(body), None);
    assert_eq!(st, 401, "{v}");
    assert!(error_of(&v).contains("Bearer"));
    let (st, _) = http(s.addr, "GET", "/episodes", None, Some("wrong"));
    assert_eq!(st, 401);
    let (st, v) = http(s.addr, "GET", "/healthz", None, None);
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")));
    let (st, v) = http(s.addr, "POST", "/episodes", Some(body), Some(token));
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().unwrap();
    let (st, v) = http(
        s.addr,
        "POST",
        &format!("/episodes/{id}/step"),
        Some(r#"{"action": "pwd"}"#),
        Some(token),
    );
    assert_eq!(st, 200, "{v}");
    let (status, stdout) = s.terminate(Duration::from_secs(60));
    assert!(status.success());
    let logs = format!("{stdout}{}", s.stderr_text());
    assert!(
        !logs.contains(token),
        "the token leaked into the logs: {logs}"
    );
    assert!(logs.contains("bearer token required"), "{logs}");
}

#[test]
fn shutdown_with_episodes_open_completes_their_records() {
    let dir = tempdir();
    let mut s = ServerProc::start(dir.path(), &[]);
    let mut open = Vec::new();
    for (i, task) in ["battleOfSexes", "prisonersDilemma", "blotto"]
        .iter()
        .enumerate()
    {
        let (id, first) = create(&s, task, i as u64);
        let marker = format!("gymtest-shutdown-{id}");
        step(&s, &id, &background_process(&marker));
        step(&s, &id, "echo still here");
        open.push((
            PathBuf::from(first["info"]["run_dir"].as_str().unwrap()),
            marker,
        ));
    }
    for (_, marker) in &open {
        wait_until(
            Duration::from_secs(20),
            "the background processes run",
            || !pids_with(marker).is_empty(),
        );
    }
    // An attached client sees the shutdown event; its stream does not hold the server up.
    let ids = open_ids(&s);
    let mut conn = TcpStream::connect(s.addr).unwrap();
    write!(
        conn,
        "GET /episodes/{}/attach HTTP/1.1\r\nHost: x\r\n\r\n",
        ids[0]
    )
    .unwrap();
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    while !line.contains("\"attached\"") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0);
    }
    let (status, stdout) = s.terminate(Duration::from_secs(120));
    assert!(status.success(), "{status:?}: {}", s.stderr_text());
    assert!(stdout.contains("3 open episode(s) closed"), "{stdout}");
    let mut rest = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        rest.push_str(&line);
        line.clear();
    }
    assert!(
        rest.contains("\"shutdown\""),
        "the attach stream ended without a shutdown event: {rest}"
    );
    for (run_dir, marker) in &open {
        assert_complete(run_dir, "closed (server_shutdown)", 2);
        assert!(
            pids_with(marker).is_empty(),
            "{marker} survived the shutdown"
        );
    }
}

#[test]
fn each_episode_leases_its_own_gpu_until_it_is_closed() {
    let dir = tempdir();
    let leases = dir.path().join("leases");
    // Two fake devices (their /dev nodes do not exist, so the sandbox binds none).
    let s = ServerProc::start_with_env(
        dir.path(),
        &["--gpus", "any:1"],
        &[
            ("MLGYM_FAKE_GPUS", Path::new("2")),
            ("MLGYM_LEASE_DIR", &leases),
        ],
    );
    let (a, first_a) = create(&s, "blotto", 0);
    let (b, first_b) = create(&s, "blotto", 1);
    let gpu_of = |v: &Value| -> String {
        let g = v["info"]["gpus"].as_array().unwrap();
        assert_eq!(g.len(), 1, "{v}");
        g[0].as_str().unwrap().to_string()
    };
    let (ga, gb) = (gpu_of(&first_a), gpu_of(&first_b));
    assert_ne!(ga, gb, "two episodes share a GPU");
    // Each sandbox sees only its own GPU.
    for (id, label) in [(&a, &ga), (&b, &gb)] {
        let seen = step(&s, id, "echo $CUDA_VISIBLE_DEVICES");
        let uuid = seen["info"]["raw_observation"].as_str().unwrap().trim();
        assert!(
            uuid.starts_with("GPU-") && label.contains(uuid),
            "{uuid} vs {label}"
        );
    }
    // No GPU is left: the next episode is refused with a reason, and nothing is created.
    let (st, v) = s.call("POST", "/episodes", Some(r#"{"task": "blotto"}"#));
    assert_eq!(st, 503, "{v}");
    assert!(error_of(&v).contains("not enough free GPUs"), "{v}");
    let (_, list) = s.call("GET", "/episodes", None);
    assert_eq!(list["episodes"].as_array().unwrap().len(), 2, "{list}");
    assert_described(&s, "EpisodeList", &list);
    // Closing an episode releases its GPU for the next one; its record names the GPU.
    let (st, closed) = s.call("DELETE", &format!("/episodes/{a}"), None);
    assert_eq!(st, 200, "{closed}");
    let r = assert_complete(
        &PathBuf::from(first_a["info"]["run_dir"].as_str().unwrap()),
        "closed (client)",
        1,
    );
    assert_eq!(r.run["gpus"], json!([ga]));
    let (_, first_c) = create(&s, "blotto", 2);
    assert_eq!(gpu_of(&first_c), ga);
}
