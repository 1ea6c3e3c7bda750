//! Escape tests: each case runs in every mode this host supports (`full`, `landlock`)
//! and asserts that the sandbox holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use common::*;
use mlgym_sandbox::{EndReason, ModeRequest};

fn mode_name(m: ModeRequest) -> &'static str {
    match m {
        ModeRequest::Full => "full",
        ModeRequest::Landlock => "landlock",
        _ => "other",
    }
}

#[test]
fn writes_outside_read_write_paths_fail() {
    for mode in modes() {
        let ws = workspace();
        let ro = workspace();
        std::fs::write(ro.path().join("data.txt"), "read me").unwrap();
        common::set_mode(&ro.path().join("data.txt"), 0o644);
        let outside = workspace();
        let mut s = spec(mode, ws.path());
        s.read_only.push(ro.path().to_path_buf());
        let script = format!(
            "for p in /usr/evil /etc/evil /evil {ro}/evil {ro}/data.txt {out}/evil; do \
               if echo x >> $p 2>/dev/null; then echo WROTE $p; fi; done; \
             echo ok > inside.txt && echo INSIDE_OK; cat {ro}/data.txt",
            ro = ro.path().display(),
            out = outside.path().display()
        );
        let o = sh(&s, &script);
        let m = mode_name(mode);
        assert!(
            !o.stdout.contains("WROTE"),
            "{m}: a write outside succeeded: {}",
            brief(&o)
        );
        assert!(o.stdout.contains("INSIDE_OK"), "{m}: {}", brief(&o));
        assert!(
            o.stdout.contains("read me"),
            "{m}: read-only path unreadable: {}",
            brief(&o)
        );
        assert!(!outside.path().join("evil").exists(), "{m}");
        assert_eq!(
            std::fs::read_to_string(ro.path().join("data.txt")).unwrap(),
            "read me"
        );
    }
}

#[test]
fn secrets_outside_allowed_paths_cannot_be_read_or_listed() {
    for mode in modes() {
        let ws = workspace();
        let secret_dir = workspace();
        let secret = secret_dir.path().join("secret.txt");
        std::fs::write(&secret, "TOPSECRET").unwrap();
        common::set_mode(&secret, 0o644); // world-readable on the host: only the sandbox stops it
        let mut other_home = None;
        if is_root() {
            let h =
                std::path::PathBuf::from(format!("/home/mlgym-test-other-{}", std::process::id()));
            std::fs::create_dir_all(&h).unwrap();
            std::fs::write(h.join("notes.txt"), "OTHERUSER").unwrap();
            common::set_mode(&h, 0o755);
            common::set_mode(&h.join("notes.txt"), 0o644);
            other_home = Some(h);
        }
        let s = spec(mode, ws.path());
        let home = other_home
            .as_ref()
            .map(|h| h.display().to_string())
            .unwrap_or_default();
        let script = format!(
            "cat {sec}; ls {dir}; cat /etc/shadow; ls /root; cat {home}/notes.txt; ls {home}; echo END",
            sec = secret.display(),
            dir = secret_dir.path().display(),
        );
        let o = sh(&s, &script);
        let m = mode_name(mode);
        assert!(o.stdout.contains("END"), "{m}: {}", brief(&o));
        assert!(
            !o.stdout.contains("TOPSECRET"),
            "{m}: secret leaked: {}",
            brief(&o)
        );
        assert!(
            !o.stdout.contains("secret.txt"),
            "{m}: secret dir listed: {}",
            brief(&o)
        );
        assert!(!o.stdout.contains("root:"), "{m}: /etc/shadow leaked");
        assert!(
            !o.stdout.contains("OTHERUSER") && !o.stdout.contains("notes.txt"),
            "{m}: other home leaked: {}",
            brief(&o)
        );
        if let Some(h) = other_home {
            std::fs::remove_dir_all(h).unwrap();
        } else {
            eprintln!("SKIP other-user home: not root, cannot create one");
        }
    }
}

#[test]
fn hidden_paths_are_invisible() {
    for mode in modes() {
        let ws = workspace();
        let shared = workspace();
        std::fs::create_dir(shared.path().join("answers")).unwrap();
        std::fs::write(shared.path().join("answers/key.csv"), "ANSWERKEY").unwrap();
        std::fs::write(shared.path().join("public.txt"), "PUBLIC").unwrap();
        common::set_mode(&shared.path().join("answers"), 0o755);
        common::set_mode(&shared.path().join("answers/key.csv"), 0o644);
        common::set_mode(&shared.path().join("public.txt"), 0o644);
        let elsewhere = workspace();
        std::fs::write(elsewhere.path().join("x"), "OTHERCONTENT").unwrap();
        let mut s = spec(mode, ws.path());
        s.read_only.push(shared.path().to_path_buf());
        s.hidden.push(shared.path().join("answers"));
        s.hidden.push(elsewhere.path().to_path_buf());
        let script = format!(
            "cat {sh}/public.txt; cat {sh}/answers/key.csv; ls {sh}/answers; \
             test -e {el} && echo HIDDEN_EXISTS; cat {el}/x; echo END",
            sh = shared.path().display(),
            el = elsewhere.path().display()
        );
        let o = sh(&s, &script);
        let m = mode_name(mode);
        assert!(
            o.stdout.contains("PUBLIC") && o.stdout.contains("END"),
            "{m}: {}",
            brief(&o)
        );
        assert!(
            !o.stdout.contains("ANSWERKEY") && !o.stdout.contains("key.csv"),
            "{m}: hidden file visible: {}",
            brief(&o)
        );
        assert!(!o.stdout.contains("OTHERCONTENT"), "{m}: {}", brief(&o));
        if mode == ModeRequest::Full {
            // Not mounted at all: the path does not exist.
            assert!(!o.stdout.contains("HIDDEN_EXISTS"), "{m}: {}", brief(&o));
            assert!(o.stderr.contains("No such file"), "{m}: {}", brief(&o));
        }
    }
}

#[test]
fn host_loopback_listeners_are_unreachable() {
    let Some(_) = python() else {
        eprintln!("SKIP: /usr/bin/python3 is absent");
        return;
    };
    for mode in modes() {
        let ws = workspace();
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let (tp, up) = (
            tcp.local_addr().unwrap().port(),
            udp.local_addr().unwrap().port(),
        );
        let s = spec(mode, ws.path());
        let script = format!(
            "import socket\n\
             for kind in ('tcp', 'udp'):\n\
             \x20   try:\n\
             \x20       if kind == 'tcp':\n\
             \x20           c = socket.create_connection(('127.0.0.1', {tp}), timeout=2); c.sendall(b'hi')\n\
             \x20       else:\n\
             \x20           u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'hi', ('127.0.0.1', {up}))\n\
             \x20       print(kind, 'CONNECTED')\n\
             \x20   except OSError as e:\n\
             \x20       print(kind, 'blocked', e)\n"
        );
        let o = mlgym_sandbox::run(&s, &["python3".into(), "-c".into(), script]).unwrap();
        let m = mode_name(mode);
        assert!(
            o.stdout.contains("tcp blocked") && o.stdout.contains("udp blocked"),
            "{m}: {}",
            brief(&o)
        );
        assert!(
            tcp.accept().is_err(),
            "{m}: the host TCP listener saw a connection"
        );
        let mut buf = [0u8; 16];
        assert!(
            udp.recv_from(&mut buf).is_err(),
            "{m}: the host UDP socket received a datagram"
        );
    }
}

#[test]
fn signals_and_ptrace_cannot_reach_host_processes() {
    let Some(_) = python() else {
        eprintln!("SKIP: /usr/bin/python3 is absent");
        return;
    };
    for mode in modes() {
        let ws = workspace();
        let mut victim = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap();
        let pid = victim.id();
        let s = spec(mode, ws.path());
        let script = format!(
            "import ctypes, os, signal\n\
             libc = ctypes.CDLL(None, use_errno=True)\n\
             print('ptrace', libc.ptrace(16, {pid}, 0, 0))\n\
             try:\n\
             \x20   os.kill({pid}, signal.SIGKILL); print('KILLED')\n\
             except OSError as e:\n\
             \x20   print('kill blocked', e)\n"
        );
        let o = mlgym_sandbox::run(&s, &["python3".into(), "-c".into(), script]).unwrap();
        let m = mode_name(mode);
        assert!(o.stdout.contains("ptrace -1"), "{m}: {}", brief(&o));
        assert!(o.stdout.contains("kill blocked"), "{m}: {}", brief(&o));
        assert!(
            victim.try_wait().unwrap().is_none(),
            "{m}: the host process died"
        );
        victim.kill().unwrap();
        victim.wait().unwrap();
    }
}

#[test]
fn host_processes_are_not_visible_in_proc() {
    for mode in modes() {
        let ws = workspace();
        let s = spec(mode, ws.path());
        let me = std::process::id();
        let o = sh(
            &s,
            &format!("ls /proc | grep -c '^[0-9]'; cat /proc/{me}/cmdline && echo READS_HOST; test -e /proc/{me} && echo SEES_HOST; echo END"),
        );
        let m = mode_name(mode);
        assert!(o.stdout.contains("END"), "{m}: {}", brief(&o));
        assert!(!o.stdout.contains("READS_HOST"), "{m}: {}", brief(&o));
        if mode == ModeRequest::Full {
            // A fresh /proc of the sandbox's own pid namespace.
            assert!(!o.stdout.contains("SEES_HOST"), "{m}: {}", brief(&o));
            let n: u32 = o.stdout.lines().next().unwrap().trim().parse().unwrap();
            assert!(n < 10, "{m}: {n} processes visible");
        } else {
            // No pid namespace to mount: /proc cannot be listed or read at all.
            assert!(
                o.stderr.contains("/proc': Permission denied"),
                "{m}: {}",
                brief(&o)
            );
        }
    }
}

#[test]
fn mount_setuid_and_user_namespaces_give_nothing() {
    for mode in modes() {
        let ws = workspace();
        let secret_dir = workspace();
        std::fs::write(secret_dir.path().join("s"), "TOPSECRET").unwrap();
        common::set_mode(&secret_dir.path().join("s"), 0o644);
        let s = spec(mode, ws.path());
        let sec = secret_dir.path().join("s");
        let script = format!(
            "mkdir -p m; mount -t tmpfs none m && echo MOUNTED; \
             unshare -r cat {sec}; unshare -rm sh -c 'cat {sec}; id -u'; \
             su -c 'cat /etc/shadow' root </dev/null; \
             if [ -u /usr/bin/passwd ]; then /usr/bin/passwd -S root; fi; \
             grep CapEff /proc/self/status; echo END",
            sec = sec.display()
        );
        let o = sh(&s, &script);
        let m = mode_name(mode);
        assert!(o.stdout.contains("END"), "{m}: {}", brief(&o));
        assert!(!o.stdout.contains("MOUNTED"), "{m}: {}", brief(&o));
        assert!(!o.stdout.contains("TOPSECRET"), "{m}: {}", brief(&o));
        assert!(!o.stdout.contains("root:"), "{m}: {}", brief(&o));
        if mode == ModeRequest::Full {
            assert!(
                o.stdout.contains("CapEff:\t0000000000000000"),
                "{m}: capabilities left: {}",
                brief(&o)
            );
        }
    }
}

#[test]
fn timed_out_command_takes_its_background_children_with_it() {
    for mode in modes() {
        let ws = workspace();
        let mut s = spec(mode, ws.path());
        s.limits.wall = Some(Duration::from_millis(1500));
        let marker = format!(
            "{}.{}",
            40_000 + std::process::id() % 1000,
            mode_name(mode).len()
        );
        let o = sh(
            &s,
            &format!("sleep {marker} & (sleep {marker} &); setsid sleep {marker} & sleep {marker}"),
        );
        let m = mode_name(mode);
        assert_eq!(o.reason, EndReason::Timeout, "{m}: {}", brief(&o));
        assert!(
            o.wall_ms >= 1400.0 && o.wall_ms < 8000.0,
            "{m}: {}",
            o.wall_ms
        );
        let left = processes_with(&format!("sleep {marker}"));
        assert!(left.is_empty(), "{m}: processes left behind: {left:?}");
    }
}

#[test]
fn stdout_and_stderr_are_captured_separately() {
    for mode in modes() {
        let ws = workspace();
        let s = spec(mode, ws.path());
        let o = sh(&s, "echo out; echo err >&2; exit 7");
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        assert_eq!(o.exit_code, Some(7));
        assert_eq!(o.reason, EndReason::Exit);
        let mut f = std::fs::File::open("/proc/self/status").unwrap();
        let mut st = String::new();
        f.read_to_string(&mut st).unwrap();
    }
}
