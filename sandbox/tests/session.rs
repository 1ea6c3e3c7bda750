//! Persistent sessions: state, timeouts, stdin, restarts and leaks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use mlgym_sandbox::{EndReason, LimitKind, ModeRequest, Session};

fn name(m: ModeRequest) -> &'static str {
    if m == ModeRequest::Full {
        "full"
    } else {
        "landlock"
    }
}

const T: Option<Duration> = Some(Duration::from_secs(20));

#[test]
fn state_persists_across_commands() {
    for mode in modes() {
        let ws = workspace();
        let mut s = start(mode, ws.path());
        let m = name(mode);
        s.run(
            "mkdir -p sub && cd sub && export GREETING=hello && shout() { echo \"$1!\"; }",
            T,
        )
        .unwrap();
        let o = s
            .run("pwd; echo $GREETING; shout hey; declare -a arr=(1 2 3)", T)
            .unwrap();
        let sub = ws.path().canonicalize().unwrap().join("sub");
        assert_eq!(o.output, format!("{}\nhello\nhey!\n", sub.display()), "{m}");
        assert_eq!(o.cwd, sub, "{m}");
        assert_eq!(s.cwd(), sub.as_path());
        let o = s.run("echo ${arr[2]}; false", T).unwrap();
        assert_eq!(o.output, "3\n", "{m}");
        assert_eq!(o.exit_code, Some(1), "{m}");
        // Multi-line commands with a heredoc.
        let o = s
            .run(
                "cat <<'EOF' > f.txt\nline one\n$NOT_EXPANDED\nEOF\ncat f.txt",
                T,
            )
            .unwrap();
        assert_eq!(o.output, "line one\n$NOT_EXPANDED\n", "{m}");
        s.close();
    }
}

#[test]
fn syntax_errors_run_nothing() {
    for mode in modes() {
        let ws = workspace();
        let mut s = start(mode, ws.path());
        let o = s.run("touch made_it; echo (", T).unwrap();
        assert_eq!(o.exit_code, Some(2), "{}", name(mode));
        assert!(o.output.contains("syntax error"), "{}", o.output);
        assert!(
            !ws.path().join("made_it").exists(),
            "a command with a syntax error ran partly"
        );
        let o = s.run("echo 'unterminated", T).unwrap();
        assert_eq!(o.exit_code, Some(2));
        let o = s.run("echo fine", T).unwrap();
        assert_eq!(o.output, "fine\n");
    }
}

#[test]
fn timed_out_commands_are_killed_and_the_session_survives() {
    for mode in modes() {
        let ws = workspace();
        let mut s = start(mode, ws.path());
        let m = name(mode);
        let marker = format!("{}.{}", 50_000 + std::process::id() % 1000, m.len());
        // A background job from an earlier command must survive a later timeout.
        let o = s.run(&format!("sleep {marker}1 & echo $!"), T).unwrap();
        let bg: u32 = o.output.trim().parse().unwrap();
        let short = Some(Duration::from_millis(800));
        let o = s
            .run(
                &format!("echo before; sleep {marker} & sleep {marker}; echo after"),
                short,
            )
            .unwrap();
        assert_eq!(o.reason, EndReason::Timeout, "{m}: {o:?}");
        assert_eq!(o.exit_code, None);
        assert!(
            o.output.contains("before") && !o.output.contains("after"),
            "{m}: {o:?}"
        );
        assert!(o.wall_ms < 5_000.0, "{m}: {}", o.wall_ms);
        assert!(!o.session_restarted, "{m}");
        let o = s.run("echo still here; pwd", T).unwrap();
        assert!(o.output.starts_with("still here"), "{m}: {o:?}");
        let o = s.run(&format!("kill -0 {bg} && echo bg-alive"), T).unwrap();
        assert_eq!(
            o.output, "bg-alive\n",
            "{m}: the earlier background job was killed"
        );
        // A loop inside the shell itself (no child process) is interrupted too.
        let o = s.run("x=0; while :; do x=$((x+1)); done", short).unwrap();
        assert_eq!(o.reason, EndReason::Timeout, "{m}");
        let o = s.run("echo $((x > 0))", T).unwrap();
        assert_eq!(o.output, "1\n", "{m}: state was lost");
        s.close();
        assert!(
            processes_with(&format!("sleep {marker}")).is_empty(),
            "{m}: leftovers"
        );
    }
}

#[test]
fn commands_reading_stdin_do_not_hang() {
    for mode in modes() {
        let ws = workspace();
        let mut s = start(mode, ws.path());
        let o = s.run("cat; read line; echo read-returned-$?; python3 -c 'import sys; print(len(sys.stdin.read()))'", T).unwrap();
        assert_eq!(o.reason, EndReason::Exit, "{}", name(mode));
        assert!(o.output.starts_with("read-returned-1\n"), "{o:?}");
    }
}

#[test]
fn exit_restarts_the_shell_in_the_same_directory() {
    for mode in modes() {
        let ws = workspace();
        let mut s = start(mode, ws.path());
        s.run("mkdir -p d && cd d && export V=1", T).unwrap();
        let o = s.run("exit 3", T).unwrap();
        assert!(o.session_restarted, "{}: {o:?}", name(mode));
        let o = s.run("pwd; echo v=$V", T).unwrap();
        assert!(o.output.ends_with("/d\nv=\n"), "{o:?}");
    }
}

#[test]
fn output_is_capped_but_the_command_completes() {
    for mode in modes() {
        let ws = workspace();
        let mut sp = spec(mode, ws.path());
        sp.limits.wall = None;
        sp.limits.output_bytes = 10_000;
        let mut s = Session::start(&sp).unwrap();
        let o = s
            .run(
                "head -c 1000000 /dev/zero | tr '\\0' a; echo; echo done > marker",
                T,
            )
            .unwrap();
        assert!(o.truncated);
        assert_eq!(o.output.len(), 10_000);
        assert_eq!(o.exit_code, Some(0));
        assert!(ws.path().join("marker").exists());
    }
}

#[test]
fn fork_bomb_in_a_session_stops_that_command_only() {
    for mode in modes() {
        let ws = workspace();
        let mut sp = spec(mode, ws.path());
        sp.limits.wall = None;
        sp.limits.processes = Some(48);
        let mut s = Session::start(&sp).unwrap();
        let o = s
            .run(
                "b() { b | b & }; b; sleep 30",
                Some(Duration::from_secs(25)),
            )
            .unwrap();
        assert_eq!(o.reason, EndReason::Limit, "{}: {:?}", name(mode), o.reason);
        assert_eq!(o.limit, Some(LimitKind::Pids));
        let o = s.run("echo alive", T).unwrap();
        assert!(o.output.contains("alive"), "{o:?}");
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_thousand_commands_leak_nothing() {
    let mode = modes()[0];
    let ws = workspace();
    let mut s = start(mode, ws.path());
    s.run("true", T).unwrap();
    let fds = open_fds();
    for i in 0..1000 {
        let o = s
            .run(&format!("echo {i} >/dev/null; /bin/true"), T)
            .unwrap();
        assert_eq!(o.exit_code, Some(0));
    }
    let o = s.run("ls /proc | grep -c '^[0-9]'", T).unwrap();
    if mode == ModeRequest::Full {
        let n: u32 = o.output.trim().parse().unwrap();
        assert!(n <= 4, "{n} processes inside after 1000 commands");
    }
    // Other tests of this binary run in parallel threads; allow for their descriptors.
    let after = open_fds();
    assert!(after <= fds + 24, "descriptors grew from {fds} to {after}");
}

#[test]
fn a_workspace_can_appear_under_another_name() {
    if !modes().contains(&ModeRequest::Full) {
        eprintln!("SKIP: remapped mounts need mode full");
        return;
    }
    let ws = workspace();
    std::fs::write(ws.path().join("hello.txt"), "hi").unwrap();
    let mut sp = spec(ModeRequest::Full, ws.path());
    sp.read_write.clear();
    sp.mounts.push(mlgym_sandbox::Mount {
        host: ws.path().to_path_buf(),
        inside: "/home/agent/workspace".into(),
        writable: true,
    });
    sp.workdir = "/home/agent/workspace".into();
    sp.limits.wall = None;
    let mut s = Session::start(&sp).unwrap();
    let o = s
        .run("pwd; cat hello.txt; echo; echo made > new.txt", T)
        .unwrap();
    assert_eq!(o.output, "/home/agent/workspace\nhi\n");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("new.txt")).unwrap(),
        "made\n"
    );
    // In landlock mode the same spec is refused rather than silently changed.
    let mut ll = sp.clone();
    ll.mode = ModeRequest::Landlock;
    assert!(Session::start(&ll).is_err());
}
