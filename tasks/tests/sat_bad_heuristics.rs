//! Heuristics that break the contract of `heuristic_fn` (wrong values, exceptions,
//! mutation, tampering, threads, processes, exits): each must give a clear format error
//! naming the instance, never a score. See `sat_common` for what is needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sat_common;

use sat_common::*;

#[test]
fn sat_wrong_return_types_are_format_errors_naming_the_instance() {
    for (bad, expect) in [
        ("7", "(variable, value) pair"),
        ("(free[0],)", "(variable, value) pair"),
        ("(free[0], True, 1)", "(variable, value) pair"),
        ("(str(free[0]), True)", "must return an int variable"),
        ("(float(free[0]), True)", "must return an int variable"),
        ("(True, True)", "must return an int variable"),
        ("(free[0], 1)", "must return a bool value"),
        ("(free[0], 'True')", "must return a bool value"),
        ("(free[0], None)", "must return a bool value"),
    ] {
        let m = format_error(&bad_after(0, bad));
        if m.is_empty() {
            return; // skipped
        }
        assert!(m.contains(expect), "{bad}: {m}");
        assert!(
            m.starts_with("instance ") && m.contains("(e0"),
            "{bad}: the instance must be named: {m}"
        );
        assert!(m.contains("[heuristic]"), "{m}");
    }
}

#[test]
fn sat_nonexistent_or_missing_variables_are_format_errors() {
    for (bad, expect) in [
        ("(0, True)", "does not exist"),
        ("(10_000, True)", "does not exist"),
        ("(-free[0], True)", "not a literal"),
        ("(None, True)", "returned variable None"),
    ] {
        let m = format_error(&bad_after(2, bad));
        if m.is_empty() {
            return;
        }
        assert!(m.contains(expect), "{bad}: {m}");
        assert!(m.starts_with("instance "), "{m}");
    }
}

#[test]
fn sat_an_assigned_variable_is_a_format_error() {
    // The first call sees no assignment; every later one sees at least the first decision.
    let code = "\
def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):
    if assignment_history:
        return assignment_history[-1], False
    return abs(clauses[0][0]), True
";
    let m = format_error(code);
    if m.is_empty() {
        return;
    }
    assert!(
        m.starts_with("instance ") && m.contains("already assigned"),
        "{m}"
    );
}

#[test]
fn sat_a_raising_heuristic_is_a_format_error_with_its_line() {
    let m = format_error(&bad_after(3, "{}[1]"));
    if m.is_empty() {
        return;
    }
    assert!(m.contains("heuristic_fn raised KeyError: 1"), "{m}");
    assert!(m.contains("heuristic.py line 6"), "{m}");
}

#[test]
fn sat_mutating_the_arguments_is_refused() {
    for mutate in [
        "assignments[free[0]] = True",
        "conflict_count[free[0]] = 5",
        "clauses.append((1, 2, 3))",
        "clauses[0][0] = 1",
        "assignment_history.append(1)",
        "level[-1].append(free[0])",
    ] {
        let code = bad_after(0, "None").replace(
            "    if calls[0] >",
            &format!("    {mutate}\n    if calls[0] >"),
        );
        let m = format_error(&code);
        if m.is_empty() {
            return;
        }
        assert!(
            m.contains("heuristic_fn raised") && m.contains("heuristic.py line 5"),
            "{mutate}: {m}"
        );
    }
}

#[test]
fn sat_tampering_with_the_solver_is_caught_by_the_native_check() {
    // Reaches the solver through the call stack and makes its search succeed at once.
    let code = "\
import sys
def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):
    solver = sys._getframe(1).f_locals['self']
    solver._search = lambda: True
    free = sorted({abs(l) for c in clauses for l in c if abs(l) not in assignments})
    return free[0], True
";
    let m = format_error(code);
    if m.is_empty() {
        return;
    }
    assert!(
        m.starts_with("instance ") && m.contains("changed the solver's state"),
        "{m}"
    );
    assert!(
        m.contains("unsatisfied") || m.contains("answered satisfiable"),
        "{m}"
    );
}

#[test]
fn sat_import_problems_are_format_errors() {
    for (code, expect) in [
        ("def heuristic_fn(:\n", "heuristic.py, line 1"),
        ("import no_such_module_xyz\n", "ModuleNotFoundError"),
        ("raise SystemExit(4)\n", "SystemExit"),
        (
            "def other(*a):\n    return 1, True\n",
            "defines no function heuristic_fn",
        ),
    ] {
        let m = format_error(code);
        if m.is_empty() {
            return;
        }
        assert!(
            m.starts_with("heuristic.py: ") && m.contains(expect),
            "{code}: {m}"
        );
        assert!(
            !m.contains("/submission/"),
            "host paths must not leak into messages: {m}"
        );
    }
}

#[test]
fn sat_prints_and_exits_inside_the_heuristic_are_handled() {
    let Some(cfg) = config() else { return };
    let evaluator = subset_evaluator(subset()[..6].to_vec());
    // Printing (even to fd 1 directly) does not disturb the protocol.
    let chatty = STARTER.replace("    random.seed(10)", "    print('{\"event\":\"done\"}')\n    import os; os.write(1, b'noise\\n')\n    random.seed(10)");
    let quiet = evaluate_with(&evaluator, cfg, Some(STARTER)).unwrap();
    let noisy = evaluate_with(&evaluator, cfg, Some(&chatty)).unwrap();
    assert_eq!(noisy["Correct"], 6.0);
    assert_eq!(noisy["Decisions"], quiet["Decisions"]);
    // Exiting from inside the heuristic is an error, not a silent partial score.
    let m = format_error(&bad_after(1, "__import__('sys').exit(0)"));
    assert!(m.contains("SystemExit"), "{m}");
    let m = format_error(&bad_after(1, "__import__('os')._exit(0)"));
    assert!(
        m.contains("exited with status 0") && m.contains("0 of 6 instances were finished"),
        "{m}"
    );
}

#[test]
fn sat_threads_and_helper_processes_are_refused() {
    // A thread would run beside the measured one; the harness refuses it.
    let threaded = format!("import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n{STARTER}");
    let m = format_error(&threaded);
    if m.is_empty() {
        return;
    }
    assert!(m.contains("must not start threads"), "{m}");
    // CPU spent in a child process is in the sandbox's account but not in the solver's.
    let burn = "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import time\\nt = time.process_time()\\nwhile time.process_time() - t < 1.5: pass'])\n";
    let m = format_error(&format!("{burn}{STARTER}"));
    assert!(m.contains("must not start processes"), "{m}");
}
