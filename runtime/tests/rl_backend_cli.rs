//! `mlgym baseline` and `mlgym eval` on an RL task record which backend stepped the
//! environments: the CPU without a lease (`--gpus none`, or `auto`: the RL tasks declare
//! no GPU), the CUDA kernels on a leased GPU; a leased GPU whose kernels cannot run is an
//! error that says so, never a silent fallback to the CPU.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn mlgym(args: &[&str], lease_dir: &Path, fake_gpus: Option<&str>) -> (bool, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlgym"));
    cmd.args(args).env("MLGYM_LEASE_DIR", lease_dir);
    match fake_gpus {
        Some(n) => cmd.env("MLGYM_FAKE_GPUS", n),
        None => cmd.env_remove("MLGYM_FAKE_GPUS"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rl_baseline_and_eval_record_the_environment_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let leases = tmp.path().join("leases");
    let sub = tmp.path().join("sub");
    let sub_s = sub.to_str().unwrap();
    let (ok, b, err) = mlgym(
        &[
            "baseline",
            "--task",
            "rlMetaMazeMisc",
            "--quick",
            "--out",
            sub_s,
            "--json",
            "--gpus",
            "none",
        ],
        &leases,
        None,
    );
    assert!(ok, "{err}\n{b}");
    assert_eq!(b["baseline_compute"]["backend"], "cpu", "{b}");
    assert_eq!(b["compute"]["backend"], "cpu", "{b}");

    // `auto` leases nothing for a task that declares no GPU: the CPU, the same scores.
    let (ok, e, err) = mlgym(
        &[
            "eval",
            "--task",
            "rlMetaMazeMisc",
            "--submission",
            sub_s,
            "--json",
        ],
        &leases,
        None,
    );
    assert!(ok, "{err}\n{e}");
    assert_eq!(e["compute"], b["compute"], "{e}");
    assert_eq!(e["metrics"], b["metrics"], "{e}");

    // A leased GPU: the kernels run there (a real device 0), or the evaluation fails and
    // says why and what to do (a fake device on a host without one).
    let (ok, g, err) = mlgym(
        &[
            "eval",
            "--task",
            "rlMetaMazeMisc",
            "--submission",
            sub_s,
            "--json",
            "--gpus",
            "0",
        ],
        &leases,
        Some("1"),
    );
    if ok {
        assert_eq!(g["compute"]["backend"], "cuda", "{g}");
        assert_eq!(g["metrics"], b["metrics"], "{g}");
    } else {
        let text = format!("{g} {err}");
        assert!(
            text.contains("RL environment kernels cannot run on GPU 0")
                && text.contains("--gpus none"),
            "{text}"
        );
    }
}
