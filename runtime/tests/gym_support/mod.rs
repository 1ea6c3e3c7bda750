//! Helpers of the Gym API tests: temporary directories the sandbox can traverse, a
//! `mlgym serve` process on loopback, a minimal HTTP/1.1 client (so malformed requests
//! can be sent as they are), and process lookups.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod schema;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlgym_runtime::agent::replay::Replay;
use mlgym_runtime::episode::EpisodeConfig;
use mlgym_runtime::gym::{GymConfig, RewardKind};
use mlgym_runtime::runner::{self, RunResult, RunSettings};
use serde_json::Value;

/// A temporary directory the sandbox's unprivileged uid can traverse.
pub fn tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::Builder::new()
        .prefix("mlgym-gym")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Episode settings for tests (auto sandbox, the default interpreter).
pub fn episode_config(max_steps: usize) -> EpisodeConfig {
    EpisodeConfig {
        max_steps,
        short_timeout: Duration::from_secs(25),
        seed: 0,
        mode: mlgym_sandbox::ModeRequest::Auto,
        data_root: mlgym_tasks::data::data_root(),
        python: mlgym_tasks::python::PythonEnv::from_env().unwrap(),
        native_baseline: false,
        gpus: Vec::new(),
        memory: None,
    }
}

/// A library environment configuration writing runs under `out`.
pub fn gym_config(out: &Path, reward: RewardKind, max_steps: usize) -> GymConfig {
    GymConfig {
        out: out.to_path_buf(),
        agent: "gym".into(),
        model: "test-model".into(),
        reward,
        episode: episode_config(max_steps),
        gpus: mlgym_kernels::lease::GpuRequest::Auto,
        gpu_wait: Duration::ZERO,
    }
}

/// A model response in MLGym's format (a discussion, then one fenced command).
pub fn fenced(cmd: &str) -> String {
    format!("DISCUSSION\nNext step.\n\n```\n{cmd}\n```")
}

/// Runs a battleOfSexes episode with `mlgym run`'s agent loop, replaying `responses`
/// (written to a replay file in `dir`), in a new run directory under `out`.
pub fn replay_run(dir: &Path, out: &Path, responses: &[String], max_steps: usize) -> RunResult {
    let replay_path = dir.join(format!("replay-{}.jsonl", responses.len()));
    let text: String = responses
        .iter()
        .map(|r| serde_json::json!({ "kind": "step", "response": r }).to_string() + "\n")
        .collect();
    std::fs::write(&replay_path, text).unwrap();
    let task = mlgym_tasks::registry::get("battleOfSexes").unwrap();
    let settings = RunSettings {
        agent_spec: format!("replay:{}", replay_path.display()),
        episode: episode_config(max_steps),
    };
    runner::run_new(
        task,
        Box::new(Replay::load(&replay_path).unwrap()),
        settings,
        out,
    )
    .unwrap()
}

/// A strategy file written by a shell command.
pub fn write_strategy(body: &str) -> String {
    format!("cat > strategy.py <<'EOF'\ndef row_strategy(history):\n    {body}\nEOF")
}

/// A running `mlgym serve`.
pub struct ServerProc {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its --out directory.
    pub out: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
    /// Its stdout after the first line (read on exit).
    pub stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl ServerProc {
    /// Starts `mlgym serve --bind 127.0.0.1:0 --out DIR/runs EXTRA...` and waits for its
    /// address.
    pub fn start(dir: &Path, extra: &[&str]) -> ServerProc {
        ServerProc::start_with_env(dir, extra, &[])
    }

    /// [`ServerProc::start`] with extra environment variables.
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> ServerProc {
        let out = dir.join("runs");
        let stderr = dir.join("serve.stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlgym"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--out",
                out.to_str().unwrap(),
                "--heartbeat-ms",
                "200",
            ])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("mlgym serve: listening on http://")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            })
            .parse()
            .unwrap();
        ServerProc {
            child,
            addr,
            out,
            stderr,
            stdout: Some(stdout),
        }
    }

    /// `http(self.addr, ...)`.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        http(self.addr, method, path, body, None)
    }

    /// Sends SIGTERM and waits (with a deadline) for the process to exit; returns its
    /// exit status and the rest of its stdout.
    pub fn terminate(&mut self, deadline: Duration) -> (std::process::ExitStatus, String) {
        let pid = self.child.id() as libc::pid_t;
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let until = Instant::now() + deadline;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut rest = String::new();
                if let Some(mut o) = self.stdout.take() {
                    o.read_to_string(&mut rest).unwrap();
                }
                return (st, rest);
            }
            assert!(
                Instant::now() < until,
                "the server did not exit within {deadline:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(pos) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..pos]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[pos + 2..pos + 2 + size]);
        body = &body[pos + 2 + size + 2..];
    }
}

/// Sends one request as raw HTTP/1.1 (`Connection: close`) and returns the status and
/// the JSON body (`Value::Null` when the body is not JSON).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, Value) {
    let (status, text) = http_raw(addr, method, path, body, token);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Like [`http`], returning the body as text.
pub fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("Content-Length: 0\r\n\r\n");
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = &raw[split + 4..];
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        decode_chunked(body)
    } else {
        body.to_vec()
    };
    (status, String::from_utf8_lossy(&body).to_string())
}

/// Pids of the processes whose command line contains `marker`.
pub fn pids_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(marker) {
                out.push(pid);
            }
        }
    }
    out
}

/// A shell command that leaves a background process whose command line is `marker`.
pub fn background_process(marker: &str) -> String {
    format!("(exec -a {marker} sleep 600) >/dev/null 2>&1 &")
}

/// Polls `f` every 50 ms until it returns true or `within` has passed.
pub fn wait_until(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !f() {
        assert!(
            Instant::now() < until,
            "timed out after {within:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A run directory's records: `run.json`, `results.json`, the `.traj` and the journal's
/// step lines.
pub struct Records {
    /// `run.json`.
    pub run: Value,
    /// `results.json`.
    pub results: Value,
    /// `<task>.traj`.
    pub traj: Value,
    /// Step lines of `trajectory.jsonl`.
    pub steps: Vec<Value>,
}

/// Reads the records of a finished run (panics if one is missing).
pub fn records(run_dir: &Path) -> Records {
    let json = |name: &str| -> Value {
        let p = run_dir.join(name);
        serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    };
    let run = json("run.json");
    let task = run["task"].as_str().unwrap().to_string();
    let steps = std::fs::read_to_string(run_dir.join("trajectory.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "step")
        .collect();
    Records {
        results: json("results.json"),
        traj: json(&format!("{task}.traj")),
        run,
        steps,
    }
}

/// Asserts that a run's records are complete: finished, with `exit_status`, as many
/// journal lines and `.traj` steps as `steps`.
pub fn assert_complete(run_dir: &Path, exit_status: &str, steps: usize) -> Records {
    let r = records(run_dir);
    assert_eq!(r.run["status"], "finished", "{}", r.run);
    assert_eq!(r.run["exit_status"], exit_status, "{}", r.run);
    assert_eq!(r.run["steps"], steps, "{}", r.run);
    assert_eq!(r.traj["info"]["exit_status"], exit_status);
    assert_eq!(r.traj["trajectory"].as_array().unwrap().len(), steps);
    assert_eq!(r.steps.len(), steps);
    assert!(
        r.results["agent"].is_array() && r.results["baseline"].is_object(),
        "{}",
        r.results
    );
    r
}
