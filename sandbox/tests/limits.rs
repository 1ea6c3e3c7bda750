//! Resource limits: each abuse is stopped at its limit with the right reason, in every
//! mode, and leaves no process behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use mlgym_sandbox::{host_support, CgroupSupport, EndReason, LimitKind, ModeRequest};

fn name(m: ModeRequest) -> &'static str {
    if m == ModeRequest::Full {
        "full"
    } else {
        "landlock"
    }
}

#[test]
fn fork_bomb_is_stopped_at_the_process_limit() {
    for mode in modes() {
        let ws = workspace();
        let mut s = spec(mode, ws.path());
        s.limits.processes = Some(64);
        s.limits.wall = Some(Duration::from_secs(30));
        let marker = format!("bomb{}{}", std::process::id(), name(mode));
        // A named function so that leftovers can be found by their command line.
        let script = format!("{marker}() {{ {marker} | {marker} & }}; {marker}; sleep 20");
        let o = mlgym_sandbox::run(&s, &["bash".into(), "-c".into(), script]).unwrap();
        let m = name(mode);
        assert_eq!(o.reason, EndReason::Limit, "{m}: {}", brief(&o));
        assert_eq!(o.limit, Some(LimitKind::Pids), "{m}: {}", brief(&o));
        assert!(o.wall_ms < 20_000.0, "{m}: took {} ms", o.wall_ms);
        assert!(
            processes_with(&marker).is_empty(),
            "{m}: bomb processes left"
        );
    }
}

#[test]
fn memory_hog_is_stopped_at_the_memory_limit() {
    let Some(_) = python() else {
        eprintln!("SKIP: /usr/bin/python3 is absent");
        return;
    };
    let cgroups = host_support().cgroups != CgroupSupport::None;
    for mode in modes() {
        let ws = workspace();
        let mut s = spec(mode, ws.path());
        s.limits.memory_bytes = Some(256 << 20);
        let code =
            "b = bytearray(1 << 30)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('ALLOCATED')";
        let o = mlgym_sandbox::run(&s, &["python3".into(), "-c".into(), code.into()]).unwrap();
        let m = name(mode);
        assert!(!o.stdout.contains("ALLOCATED"), "{m}: {}", brief(&o));
        if cgroups {
            assert_eq!(o.reason, EndReason::Limit, "{m}: {}", brief(&o));
            assert_eq!(o.limit, Some(LimitKind::Memory), "{m}: {}", brief(&o));
        } else {
            // RLIMIT_AS: the allocation fails inside the program.
            eprintln!("NOTE {m}: no writable cgroup; memory limit enforced by RLIMIT_AS");
            assert!(o.stderr.contains("MemoryError"), "{m}: {}", brief(&o));
        }
    }
}

#[test]
fn disk_filler_is_stopped_at_the_file_size_limit() {
    for mode in modes() {
        let ws = workspace();
        let mut s = spec(mode, ws.path());
        s.limits.file_size_bytes = Some(1 << 20);
        let o = sh(&s, "exec head -c 50000000 /dev/zero > big");
        let m = name(mode);
        assert_eq!(o.reason, EndReason::Limit, "{m}: {}", brief(&o));
        assert_eq!(o.limit, Some(LimitKind::Fsize), "{m}: {}", brief(&o));
        assert_eq!(
            std::fs::metadata(ws.path().join("big")).unwrap().len(),
            1 << 20
        );
    }
}

#[test]
fn cpu_spinner_is_stopped_at_the_cpu_limit() {
    for mode in modes() {
        let ws = workspace();
        let mut s = spec(mode, ws.path());
        s.limits.cpu_seconds = Some(1);
        let o = sh(&s, "exec sh -c 'while :; do :; done'");
        let m = name(mode);
        assert_eq!(o.reason, EndReason::Limit, "{m}: {}", brief(&o));
        assert_eq!(o.limit, Some(LimitKind::Cpu), "{m}: {}", brief(&o));
        assert!(o.cpu_ms >= 900.0, "{m}: {}", brief(&o));
    }
}

#[test]
fn output_flood_is_stopped_at_the_output_cap() {
    for mode in modes() {
        let ws = workspace();
        let mut s = spec(mode, ws.path());
        s.limits.output_bytes = 64 * 1024;
        let marker = format!("yes flood{}{}", std::process::id(), name(mode));
        let o = sh(&s, &format!("{marker} & {marker} >&2"));
        let m = name(mode);
        assert_eq!(o.reason, EndReason::Limit, "{m}: {}", o.wall_ms);
        assert_eq!(o.limit, Some(LimitKind::Output), "{m}");
        assert!(o.stdout.len() <= 64 * 1024 && o.stderr.len() <= 64 * 1024);
        assert!(o.stdout_truncated || o.stderr_truncated);
        assert!(processes_with(&marker).is_empty(), "{m}: flooders left");
    }
}

#[test]
fn nothing_is_left_in_cgroups_after_runs() {
    let CgroupSupport::V1 { memory, pids } = host_support().cgroups.clone() else {
        eprintln!("SKIP: no cgroup v1 hierarchy writable here");
        return;
    };
    for mode in modes() {
        let ws = workspace();
        let mut s = spec(mode, ws.path());
        s.limits.memory_bytes = Some(128 << 20);
        let o = sh(&s, "true");
        assert!(o.success());
    }
    let prefix = format!("run-{}-", std::process::id());
    for root in [memory, pids] {
        if let Ok(rd) = std::fs::read_dir(root.join("mlgym")) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                // Other tests of this process may be running; only finished ones count.
                assert!(
                    !n.starts_with(&prefix)
                        || std::fs::read_to_string(e.path().join("cgroup.procs"))
                            .map(|s| !s.is_empty())
                            .unwrap_or(true),
                    "stale cgroup {n}"
                );
            }
        }
    }
}
