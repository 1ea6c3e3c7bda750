//! Latency of running `true`: plain fork/exec, a one-shot sandbox, a command in a
//! persistent session, and bubblewrap with an equivalent policy — all in one run.
//!
//! `cargo run --release -p mlgym-sandbox --example bench_sandbox -- [RUNS]`
//! (or `scripts/bench/sandbox.sh`). Prints median and p95 in milliseconds, and ratios.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlgym_sandbox::{ModeRequest, SandboxSpec, Session};

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let med = v[v.len() / 2];
    let p95 = v[((v.len() as f64) * 0.95) as usize - 1];
    (med, p95)
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> (f64, f64) {
    for _ in 0..5 {
        f();
    }
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f();
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    stats(v)
}

fn main() {
    mlgym_sandbox::init::run_if_requested();
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let ws = std::env::temp_dir().join(format!("mlgym-bench-{}", std::process::id()));
    std::fs::create_dir_all(&ws).unwrap_or_else(|e| panic!("creating {}: {e}", ws.display()));
    let mut rows: Vec<(String, (f64, f64))> = Vec::new();

    rows.push((
        "plain fork/exec (std::process::Command)".into(),
        time(runs, || {
            let s = Command::new("/bin/true").stdout(Stdio::null()).status();
            assert!(s.is_ok_and(|s| s.success()));
        }),
    ));

    for (name, mode) in [
        ("one-shot sandbox, mode full", ModeRequest::Full),
        ("one-shot sandbox, mode landlock", ModeRequest::Landlock),
    ] {
        let spec = SandboxSpec::new(&ws).mode(mode);
        if mlgym_sandbox::run(&spec, &["true".into()]).is_err() {
            eprintln!("skip {name}: not available here");
            continue;
        }
        rows.push((
            name.into(),
            time(runs, || {
                let o = mlgym_sandbox::run(&spec, &["true".into()]);
                match o {
                    Ok(o) if o.success() => {}
                    other => panic!("{name}: {other:?}"),
                }
            }),
        ));
    }

    let mut spec = SandboxSpec::new(&ws);
    spec.output_policy = mlgym_sandbox::OutputPolicy::Truncate;
    match Session::start(&spec) {
        Ok(mut s) => {
            rows.push((
                "command in a persistent session (`true`)".into(),
                time(runs, || {
                    let o = s.run("true", Some(Duration::from_secs(10)));
                    assert!(o.is_ok_and(|o| o.exit_code == Some(0)));
                }),
            ));
            rows.push((
                "command in a persistent session (`/bin/true`, fork+exec)".into(),
                time(runs, || {
                    let o = s.run("/bin/true", Some(Duration::from_secs(10)));
                    assert!(o.is_ok_and(|o| o.exit_code == Some(0)));
                }),
            ));
            s.close();
        }
        Err(e) => eprintln!("skip session: {e}"),
    }

    let bwrap = |ws: &std::path::Path| {
        let ws = ws.display().to_string();
        Command::new("bwrap")
            .args([
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
                "--cap-drop",
                "ALL",
            ])
            .args([
                "--ro-bind",
                "/usr",
                "/usr",
                "--symlink",
                "usr/bin",
                "/bin",
                "--symlink",
                "usr/lib",
                "/lib",
                "--symlink",
                "usr/lib64",
                "/lib64",
                "--symlink",
                "usr/sbin",
                "/sbin",
            ])
            .args([
                "--ro-bind",
                "/etc",
                "/etc",
                "--tmpfs",
                "/tmp",
                "--bind",
                &ws,
                &ws,
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--chdir",
                &ws,
            ])
            .args(["/bin/sh", "-c", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    if bwrap(&ws).is_ok_and(|s| s.success()) {
        rows.push((
            "bubblewrap, equivalent policy".into(),
            time(runs, || {
                assert!(bwrap(&ws).is_ok_and(|s| s.success()));
            }),
        ));
    } else {
        eprintln!(
            "skip bubblewrap: `bwrap` is not installed or fails (apt-get install bubblewrap)"
        );
    }
    let _ = std::fs::remove_dir_all(&ws);

    let plain = rows[0].1 .0;
    let bw = rows
        .iter()
        .find(|r| r.0.starts_with("bubblewrap"))
        .map(|r| r.1 .0);
    println!("{runs} runs each, after 5 warm-up runs");
    println!(
        "{:<58} {:>9} {:>9} {:>10} {:>10}",
        "method", "median", "p95", "x plain", "x bwrap"
    );
    for (name, (med, p95)) in &rows {
        let xb = bw
            .map(|b| format!("{:.2}", med / b))
            .unwrap_or_else(|| "-".into());
        println!(
            "{name:<58} {med:>7.3}ms {p95:>7.3}ms {:>10.2} {xb:>10}",
            med / plain
        );
    }
}
