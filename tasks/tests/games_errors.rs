//! Strategies that must not get a score: each ends the evaluation with
//! `EvalError::Format` (or `SubmissionNotFound`) and a message that says what happened
//! and where — never a silent 0, never a raw traceback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod games_support;

// Inside `mod games` so that `cargo test -p mlgym-tasks games` selects these tests.
mod games {
    use std::time::Duration;

    use crate::games_support::{env, run, run_files};
    use mlgym_tasks::games::{GameEvaluator, GameId, GameLimits};
    use mlgym_tasks::EvalError;

    /// The message of the `Format` error `source` ends with.
    fn format_error(game: GameId, source: &str) -> String {
        let Some(cfg) = env() else {
            return String::from("SKIPPED");
        };
        match run(cfg, game, source, 1) {
            Err(EvalError::Format(m)) => {
                eprintln!("{}: {m}", game.task_id());
                assert!(m.lines().count() <= 2, "messages stay short: {m}");
                assert!(!m.contains("Traceback"), "no raw traceback: {m}");
                m
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    fn skipped(m: &str) -> bool {
        m == "SKIPPED"
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let m = format_error(
            GameId::BattleOfSexes,
            "def row_strategy(history):\n    return (0\n\nx = 1\n",
        );
        if skipped(&m) {
            return;
        }
        assert!(
            m.starts_with("strategy.py could not be imported: SyntaxError"),
            "{m}"
        );
        assert!(m.ends_with("(strategy.py, line 2: `return (0`)"), "{m}");
    }

    #[test]
    fn import_error_and_missing_function() {
        let m = format_error(
            GameId::PrisonersDilemma,
            "import no_such_module_here\n\ndef row_strategy(h):\n    return 0\n",
        );
        if skipped(&m) {
            return;
        }
        assert!(
            m.contains("ModuleNotFoundError") && m.contains("no_such_module_here"),
            "{m}"
        );
        assert!(m.contains("(strategy.py, line 1, in <module>)"), "{m}");
        let m = format_error(
            GameId::PrisonersDilemma,
            "def row_stratgy(h):\n    return 0\n",
        );
        assert!(
            m.contains("does not define a function row_strategy(history)"),
            "{m}"
        );
    }

    #[test]
    fn missing_strategy_file_is_submission_not_found() {
        let Some(cfg) = env() else { return };
        let ev = GameEvaluator::new(GameId::Blotto);
        match run_files(cfg, &ev, &[("helper.py", "x = 1\n")], 0) {
            Err(EvalError::SubmissionNotFound(m)) => assert!(m.contains("strategy.py"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn illegal_move_names_simulation_round_and_value() {
        // Call 163 (0-based 162) is round 3 of simulation 17.
        let src = "n = 0\n\ndef row_strategy(history):\n    global n\n    n += 1\n    return 2 if n == 163 else 0\n";
        let m = format_error(GameId::BattleOfSexes, src);
        if skipped(&m) {
            return;
        }
        assert_eq!(
            m,
            "round 3 of simulation 17: row_strategy returned 2; moves must be 0 or 1"
        );
    }

    #[test]
    fn wrong_return_type() {
        let m = format_error(
            GameId::PrisonersDilemma,
            "def row_strategy(history):\n    return '1'\n",
        );
        if skipped(&m) {
            return;
        }
        assert_eq!(
            m,
            "round 1 of simulation 1: row_strategy returned '1' (str); moves must be 0 or 1"
        );
        let m = format_error(
            GameId::Blotto,
            "def row_strategy(history):\n    return 20\n",
        );
        assert!(
            m.contains("returned 20; an allocation must be a list of 6 ints"),
            "{m}"
        );
        let m = format_error(
            GameId::Blotto,
            "def row_strategy(history):\n    return [20.0] * 6\n",
        );
        assert!(
            m.contains("entry at index 0 is 20.0 (float); soldiers must be Python ints"),
            "{m}"
        );
    }

    #[test]
    fn mlgym_compatible_values_are_accepted() {
        let Some(cfg) = env() else { return };
        // `True`/`1.0` pass MLGym's `move in [0, 1]`; bools are ints for Blotto too.
        let a = run(
            cfg,
            GameId::BattleOfSexes,
            "def row_strategy(history):\n    return 0.0 if history else False\n",
            2,
        )
        .unwrap();
        let b = run(
            cfg,
            GameId::BattleOfSexes,
            "def row_strategy(history):\n    return 0\n",
            2,
        )
        .unwrap();
        assert_eq!(a.score, b.score);
        let c = run(
            cfg,
            GameId::Blotto,
            "def row_strategy(history):\n    return (True,) * 6\n",
            2,
        )
        .unwrap();
        let d = run(
            cfg,
            GameId::Blotto,
            "def row_strategy(history):\n    return [1] * 6\n",
            2,
        )
        .unwrap();
        assert_eq!(c.score, d.score);
    }

    #[test]
    fn blotto_seven_battlefields() {
        let m = format_error(
            GameId::Blotto,
            "def row_strategy(history):\n    return [10, 10, 10, 10, 10, 10, 10]\n",
        );
        if skipped(&m) {
            return;
        }
        assert!(m.starts_with("round 1 of simulation 1: row_strategy returned [10, 10, 10, 10, 10, 10, 10], a list of 7 entries"), "{m}");
    }

    #[test]
    fn blotto_121_soldiers() {
        let src = "def row_strategy(history):\n    return [21, 20, 20, 20, 20, 20] if len(history) == 4 else [20] * 6\n";
        let m = format_error(GameId::Blotto, src);
        if skipped(&m) {
            return;
        }
        assert_eq!(m, "round 5 of simulation 1: row_strategy returned [21, 20, 20, 20, 20, 20], which uses 121 soldiers; at most 120 are available");
        let m = format_error(
            GameId::Blotto,
            "def row_strategy(history):\n    return [-1, 20, 20, 20, 20, 20]\n",
        );
        assert!(
            m.contains("entry at index 0 is -1; soldiers must be non-negative"),
            "{m}"
        );
    }

    #[test]
    fn exception_names_the_frame_in_the_submission() {
        let Some(cfg) = env() else { return };
        let ev = GameEvaluator::new(GameId::PrisonersDilemma);
        let files = [
        (
            "strategy.py",
            "from helper import pick\n\ndef row_strategy(history):\n    return pick(history)\n",
        ),
        (
            "helper.py",
            "def pick(history):\n    return 0 if len(history) < 3 else 1 // (len(history) - 3)\n",
        ),
    ];
        match run_files(cfg, &ev, &files, 0) {
        Err(EvalError::Format(m)) => assert_eq!(
            m,
            "round 4 of simulation 1: row_strategy raised ZeroDivisionError: integer division or modulo by zero (helper.py, line 2, in pick)"
        ),
        other => panic!("{other:?}"),
    }
    }

    #[test]
    fn infinite_loop_hits_the_per_call_limit() {
        let Some(cfg) = env() else { return };
        let mut ev = GameEvaluator::new(GameId::BattleOfSexes);
        ev.limits = GameLimits {
            per_call: Duration::from_millis(500),
            startup: Duration::from_secs(20),
            ..GameLimits::default()
        };
        let src =
        "def row_strategy(history):\n    while len(history) == 2:\n        pass\n    return 0\n";
        match run_files(cfg, &ev, &[("strategy.py", src)], 0) {
            Err(EvalError::Format(m)) => {
                assert_eq!(m, "round 3 of simulation 1: row_strategy did not return within 0.5 s (the per-call limit); the evaluation was stopped")
            }
            other => panic!("{other:?}"),
        }
        // A hang while importing hits the start-up limit.
        ev.limits.startup = Duration::from_millis(800);
        match run_files(cfg, &ev, &[("strategy.py", "while True:\n    pass\n")], 0) {
            Err(EvalError::Format(m)) => {
                assert!(m.contains("did not finish importing within 0.8 s"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exiting_is_reported_with_its_status() {
        let m = format_error(
            GameId::BattleOfSexes,
            "import os\n\ndef row_strategy(history):\n    os._exit(3)\n",
        );
        if skipped(&m) {
            return;
        }
        assert!(m.starts_with("round 1 of simulation 1: the Python process running row_strategy stopped: it exited with status 3"), "{m}");
        let m = format_error(
            GameId::BattleOfSexes,
            "import sys\n\ndef row_strategy(history):\n    sys.exit(4)\n",
        );
        assert!(m.contains("row_strategy raised SystemExit: 4"), "{m}");
    }

    #[test]
    fn files_outside_the_submission_are_unreadable() {
        if env().is_none() {
            return;
        }
        // A secret beside the evaluation, in a directory the sandbox's user could traverse.
        let secret_dir = crate::games_support::dir("mlgym-games-secret");
        let secret = secret_dir.path().join("answers.txt");
        std::fs::write(&secret, "the opponent plays 0\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        for target in [
            secret.display().to_string(),
            format!("{home}/.bashrc"),
            "/proc/1/environ".to_string(),
        ] {
            let src =
                format!("def row_strategy(history):\n    open({target:?}).read()\n    return 0\n");
            let m = format_error(GameId::BattleOfSexes, &src);
            assert!(
                m.starts_with("round 1 of simulation 1: row_strategy raised "),
                "{target}: {m}"
            );
            assert!(m.contains("Error"), "{target}: {m}");
        }
    }

    #[test]
    fn the_evaluators_scratch_directory_is_invisible() {
        let Some(cfg) = env() else { return };
        // The strategy looks for anything in the directory that holds its harness.
        let src = "import os, sys\n\ndef row_strategy(history):\n    here = os.path.dirname(sys.modules['__main__'].__file__)\n    open(os.path.join(os.path.dirname(here), 'opponent.txt')).read()\n    return 0\n";
        let ev = GameEvaluator::new(GameId::BattleOfSexes);
        let task = mlgym_tasks::registry::get("battleOfSexes").unwrap();
        let submission = crate::games_support::dir("mlgym-games-sub");
        let scratch = crate::games_support::dir("mlgym-games-scratch");
        std::fs::write(submission.path().join("strategy.py"), src).unwrap();
        std::fs::write(scratch.path().join("opponent.txt"), "secret").unwrap();
        let ctx = mlgym_tasks::EvalContext {
            task: &task.def,
            submission_dir: submission.path(),
            scratch_dir: scratch.path(),
            data_root: scratch.path(),
            seed: 0,
            agent_code: cfg,
        };
        match ev.run(&ctx) {
            Err(EvalError::Format(m)) => assert!(
                m.contains("row_strategy raised") && m.contains("opponent.txt"),
                "{m}"
            ),
            other => panic!("the scratch directory leaked: {other:?}"),
        }
    }

    #[test]
    fn no_network() {
        let src = "import socket\n\ndef row_strategy(history):\n    s = socket.create_connection(('1.1.1.1', 80), timeout=0.5)\n    return 0\n";
        let m = format_error(GameId::PrisonersDilemma, src);
        if skipped(&m) {
            return;
        }
        assert!(
            m.starts_with("round 1 of simulation 1: row_strategy raised "),
            "{m}"
        );
        let local = "import socket\n\ndef row_strategy(history):\n    socket.create_connection(('127.0.0.1', 22), timeout=0.5)\n    return 0\n";
        let m = format_error(GameId::PrisonersDilemma, local);
        assert!(
            m.starts_with("round 1 of simulation 1: row_strategy raised "),
            "{m}"
        );
    }

    #[test]
    fn writing_to_the_protocol_is_garbage_not_a_score() {
        // Bypassing the harness's redirection by writing to the original stdout descriptor
        // (fd 1 now points at /dev/null, so the write is lost) must not break anything;
        // guessing the private descriptor and writing junk is a protocol error.
        let Some(cfg) = env() else { return };
        let quiet = run(
            cfg,
            GameId::BattleOfSexes,
            "import os\n\ndef row_strategy(history):\n    os.write(1, b'7\\n')\n    return 0\n",
            0,
        )
        .unwrap();
        let plain = run(
            cfg,
            GameId::BattleOfSexes,
            "def row_strategy(history):\n    return 0\n",
            0,
        )
        .unwrap();
        assert_eq!(quiet.score, plain.score);
        let src = "import os\n\ndef row_strategy(history):\n    for fd in range(3, 10):\n        try:\n            os.write(fd, b'junk\\n')\n        except OSError:\n            pass\n    return 0\n";
        let m = format_error(GameId::BattleOfSexes, src);
        assert!(m.contains("which is not a move"), "{m}");
    }
}
