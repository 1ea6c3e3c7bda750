//! A launcher that ignores signals (started with `&` from a script, or under nohup)
//! must not pass that on: the sandboxed command starts with every signal at its default,
//! and a session's timeout still stops the rest of the command.
//!
//! A test binary of its own, because it changes this process's signal dispositions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use mlgym_sandbox::EndReason;

#[test]
fn ignored_signals_of_the_launcher_do_not_reach_the_sandbox() {
    // SAFETY: setting dispositions of this test process (its own binary, one test).
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    for mode in modes() {
        let ws = workspace();
        // One-shot commands: a signal the launcher ignores kills the command again.
        for sig in ["INT", "QUIT", "HUP"] {
            let o = sh(
                &spec(mode, ws.path()),
                &format!("kill -{sig} $$; echo survived"),
            );
            assert!(
                !o.stdout.contains("survived") && o.signal.is_some(),
                "{mode:?}: SIG{sig} is still ignored inside the sandbox: {}",
                brief(&o)
            );
        }

        // A session: the timeout interrupts the shell, which drops the rest of the line.
        let mut s = start(mode, ws.path());
        let o = s
            .run(
                "echo before; sleep 3600; echo after",
                Some(Duration::from_millis(800)),
            )
            .unwrap();
        assert_eq!(o.reason, EndReason::Timeout, "{mode:?}: {o:?}");
        assert!(
            o.output.contains("before") && !o.output.contains("after"),
            "{mode:?}: the command's remaining statements ran after its timeout: {o:?}"
        );
        assert!(!o.session_restarted, "{mode:?}: {o:?}");
        let o = s
            .run("echo still here", Some(Duration::from_secs(20)))
            .unwrap();
        assert_eq!(o.output, "still here\n", "{mode:?}: {o:?}");
        s.close();
    }
}
