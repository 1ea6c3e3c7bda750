//! `edit` and `insert`: line arithmetic, the fixed MLGym bugs (explicit file names,
//! read-only files, Python errors rolled back), and file formats preserved on write.

mod commands_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use commands_support::{have_python, Ws};
use mlgym_runtime::commands::{CheckerError, Diagnostic, PythonChecker, FILE_UPDATED};

const UPDATED: &str = "File updated. Please review the changes and make sure they are correct (correct indentation, no duplicate lines, etc). Edit the file again if necessary.";

#[test]
fn edit_replaces_an_inclusive_range() {
    let mut ws = Ws::new();
    ws.write("a.txt", "a\nb\nc\nd\n");
    ws.run("open a.txt");
    let obs = ws.run("edit 2:3\nB\nC\nC2\nend_of_edit");
    assert_eq!(FILE_UPDATED, UPDATED);
    assert_eq!(
        obs.text,
        format!(
            "[File: {} (5 lines total)]\n1:a\n2:B\n3:C\n4:C2\n5:d\n{UPDATED}",
            ws.shown("a.txt")
        )
    );
    assert_eq!(obs.changed_file, Some(ws.path("a.txt")));
    assert!(!obs.is_error);
    assert_eq!(ws.read("a.txt"), "a\nB\nC\nC2\nd\n");
}

#[test]
fn empty_body_deletes_and_ranges_clamp_to_the_file() {
    let mut ws = Ws::new();
    ws.write("a.txt", "a\nb\nc\n");
    ws.run("open a.txt");
    ws.run("edit 2:2\nend_of_edit");
    assert_eq!(ws.read("a.txt"), "a\nc\n");
    ws.run("edit 2:10\nX\nend_of_edit");
    assert_eq!(ws.read("a.txt"), "a\nX\n");
    ws.run("edit 7:9\nY\nend_of_edit");
    assert_eq!(
        ws.read("a.txt"),
        "a\nX\nY\n",
        "a range past the end appends"
    );
    ws.run("edit 1:3\nend_of_edit");
    assert_eq!(
        ws.read("a.txt"),
        "",
        "deleting everything leaves an empty file"
    );
    assert_eq!(
        ws.text("goto 1"),
        "Error: <line> must be less than or equal to 0"
    );
}

#[test]
fn bad_ranges_are_refused() {
    let mut ws = Ws::new();
    ws.write("a.txt", "a\nb\n");
    ws.run("open a.txt");
    assert!(ws
        .text("edit 0:1\nx\nend_of_edit")
        .ends_with("start_line must be at least 1 (lines are numbered from 1)"));
    assert!(ws
        .text("edit 2:1\nx\nend_of_edit")
        .contains("end_line (1) must not be smaller than start_line (2)"));
    assert_eq!(ws.read("a.txt"), "a\nb\n");
}

#[test]
fn insert_at_top_middle_and_end() {
    let mut ws = Ws::new();
    ws.write("a.txt", "b\nd\n");
    ws.run("open a.txt");
    let obs = ws.run("insert 0\na\nend_of_insert");
    assert_eq!(
        obs.text,
        format!(
            "[File: {} (3 lines total)]\n1:a\n2:b\n3:d\n{UPDATED}",
            ws.shown("a.txt")
        )
    );
    ws.run("insert 2\nc\nend_of_insert");
    ws.run("insert 4\ne\n\nend_of_insert");
    assert_eq!(ws.read("a.txt"), "a\nb\nc\nd\ne\n\n");
    ws.run("insert 99\nz\nend_of_insert");
    assert_eq!(ws.read("a.txt"), "a\nb\nc\nd\ne\n\nz\n");
}

#[test]
fn no_open_file() {
    let mut ws = Ws::new();
    assert_eq!(
        ws.text("edit 1:1\nx\nend_of_edit"),
        "No file open. Use the `open` command first."
    );
    assert_eq!(
        ws.text("insert 1\nx\nend_of_insert"),
        "No file open. Use the `open` command first."
    );
}

#[test]
fn edit_bodies_with_backticks_reach_the_file_verbatim() {
    let mut ws = Ws::new();
    ws.write("README.md", "old\n");
    ws.run("open README.md");
    ws.run("edit 1:1\n```bash\necho \"$HOME\" `date` 'q'\n```\n\tTab\nend_of_edit");
    assert_eq!(
        ws.read("README.md"),
        "```bash\necho \"$HOME\" `date` 'q'\n```\n\tTab\n"
    );
}

#[test]
fn explicit_file_name_is_honoured() {
    let mut ws = Ws::new();
    ws.write("target.py", "opponent = 1\n");
    ws.write("strategy.py", "mine = 1\n");
    ws.run("open \"target.py\"");
    // MLGym applied this to target.py (the open file); here it edits strategy.py.
    let obs = ws.run("edit 1:1 strategy.py\nmine = 2\nend_of_edit");
    assert!(obs.text.starts_with(&format!(
        "[File: {} (1 lines total)]",
        ws.shown("strategy.py")
    )));
    assert_eq!(ws.read("strategy.py"), "mine = 2\n");
    assert_eq!(ws.read("target.py"), "opponent = 1\n");
    assert_eq!(
        ws.state.open_file,
        Some(ws.path("strategy.py")),
        "the named file becomes the open file"
    );
    ws.run("insert target.py 1\nmore = 2\nend_of_insert");
    assert_eq!(ws.read("target.py"), "opponent = 1\nmore = 2\n");
    ws.run("edit \"target.py\" 2:2\nmore = 3\nend_of_edit");
    assert_eq!(
        ws.read("target.py"),
        "opponent = 1\nmore = 3\n",
        "naming the open file works too"
    );
}

#[test]
fn explicit_file_name_that_cannot_be_opened_is_refused() {
    let mut ws = Ws::new();
    ws.write("target.py", "opponent = 1\n");
    ws.write("dir/x", "");
    ws.run("open target.py");
    let obs = ws.run("edit 1:1 strategy.py\nmine = 2\nend_of_edit");
    assert!(obs.is_error);
    assert_eq!(
        obs.text,
        "File strategy.py not found\nNothing was changed: the edit command names strategy.py, which cannot be opened."
    );
    assert!(ws
        .text("insert 0 dir\nx\nend_of_insert")
        .starts_with("Error: dir is a directory."));
    assert_eq!(ws.read("target.py"), "opponent = 1\n");
    assert!(!ws.path("strategy.py").exists());
    assert_eq!(ws.state.open_file, Some(ws.path("target.py")));
}

#[test]
fn read_only_files_are_refused() {
    let mut ws = Ws::new();
    ws.write("evaluate.py", "score = 1\n");
    ws.write("data/train.csv", "a,b\n");
    ws.read_only.push(ws.path("evaluate.py"));
    ws.read_only.push(ws.path("data"));
    ws.run("open evaluate.py");
    let obs = ws.run("edit 1:1\nscore = 100\nend_of_edit");
    assert!(obs.is_error);
    assert_eq!(
        obs.text,
        format!(
            "Error: You cannot edit read-only file {}",
            ws.shown("evaluate.py")
        )
    );
    assert_eq!(ws.read("evaluate.py"), "score = 1\n");
    let obs = ws.run("insert 1 data/train.csv\n1,2\nend_of_insert");
    assert_eq!(
        obs.text,
        format!(
            "Error: You cannot edit read-only file {}",
            ws.shown("data/train.csv")
        )
    );
    assert_eq!(ws.read("data/train.csv"), "a,b\n");
}

#[test]
fn filesystem_permissions_are_respected() {
    let mut ws = Ws::new();
    ws.write("locked.py", "x = 1\n");
    fs::set_permissions(ws.path("locked.py"), fs::Permissions::from_mode(0o444)).unwrap();
    ws.run("open locked.py");
    let obs = ws.run("edit 1:1\nx = 2\nend_of_edit");
    assert_eq!(
        obs.text,
        format!(
            "Error: You cannot edit read-only file {}",
            ws.shown("locked.py")
        )
    );
    assert_eq!(ws.read("locked.py"), "x = 1\n");
}

#[test]
fn writes_keep_mode_line_endings_and_missing_final_newline() {
    let mut ws = Ws::new();
    ws.write("run.sh", "#!/bin/sh\necho a\n");
    fs::set_permissions(ws.path("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
    ws.run("open run.sh");
    ws.run("edit 2:2\necho b\nend_of_edit");
    assert_eq!(
        fs::metadata(ws.path("run.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o750
    );
    let names: Vec<_> = fs::read_dir(&ws.root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary files left behind: {names:?}");

    ws.write("dos.txt", "a\r\nb\r\nc\r\n");
    ws.run("open dos.txt");
    ws.run("edit 2:2\nB\nB2\nend_of_edit");
    assert_eq!(ws.read("dos.txt"), "a\r\nB\r\nB2\r\nc\r\n");

    ws.write("tail.txt", "a\nb");
    ws.run("open tail.txt");
    ws.run("edit 2:2\nB\nend_of_edit");
    assert_eq!(ws.read("tail.txt"), "a\nB");
    ws.run("insert 2\nc\nend_of_insert");
    assert_eq!(ws.read("tail.txt"), "a\nB\nc");

    ws.write("empty.txt", "");
    ws.run("open empty.txt");
    ws.run("insert 0\nfirst\nend_of_insert");
    assert_eq!(ws.read("empty.txt"), "first\n");
}

#[test]
fn non_utf8_files_are_never_rewritten() {
    let mut ws = Ws::new();
    ws.write("ok.txt", "x\n");
    ws.write_bytes("latin1.txt", b"caf\xe9\n");
    ws.run("open ok.txt");
    let obs = ws.run("edit 1:1 latin1.txt\ncafe\nend_of_edit");
    assert!(obs.is_error);
    assert!(obs
        .text
        .starts_with("Error: latin1.txt is not valid UTF-8 text"));
    assert_eq!(fs::read(ws.path("latin1.txt")).unwrap(), b"caf\xe9\n");
}

const STRATEGY: &str = "import random\n\n\ndef row_strategy(history):\n    return 0\n";

#[test]
fn python_syntax_errors_are_rolled_back() {
    if !have_python() {
        return;
    }
    let mut ws = Ws::with_python();
    ws.write("strategy.py", STRATEGY);
    ws.run("open strategy.py");
    let before = ws.state.clone();
    let obs = ws.run("edit 5:5\n    return 0\n        y = 1\nend_of_edit");
    assert!(obs.is_error);
    assert_eq!(obs.changed_file, None);
    let p = ws.shown("strategy.py");
    let rule = "-------------------------------------------------";
    assert_eq!(
        obs.text,
        format!(
            "Your proposed edit introduces new error(s) in this Python file, so it was NOT applied. Read the errors below, then retry.\n\
             ERRORS:\n- E999 IndentationError: unexpected indent\n\
             Here is how the file would look with your edit:\n{rule}\n\
             [File: {p} (6 lines total)]\n1:import random\n2:\n3:\n4:def row_strategy(history):\n5:    return 0\n6:        y = 1\n{rule}\n\
             Here is the original code at that place:\n{rule}\n\
             [File: {p} (5 lines total)]\n1:import random\n2:\n3:\n4:def row_strategy(history):\n5:    return 0\n{rule}\n\
             Your changes have NOT been applied; the file is unchanged. Fix the start/end line numbers or the replacement text and send a corrected edit command.\n\
             Sending the same command again would fail in the same way."
        )
    );
    assert_eq!(ws.read("strategy.py"), STRATEGY, "original content intact");
    assert_eq!(ws.state, before, "editor state unchanged");
}

#[test]
fn python_undefined_names_and_indentation_are_refused() {
    if !have_python() {
        return;
    }
    let mut ws = Ws::with_python();
    ws.write("strategy.py", STRATEGY);
    ws.run("open strategy.py");
    let obs = ws.run("edit 5:5\n    return mismatch_count\nend_of_edit");
    assert!(
        obs.text
            .contains("ERRORS:\n- F821 undefined name 'mismatch_count'\n"),
        "{}",
        obs.text
    );
    let obs = ws.run("insert 5\n\n\ndef g():\n  return 1\nend_of_insert");
    assert!(
        obs.text
            .starts_with("Your proposed insertion introduces new error(s)"),
        "{}",
        obs.text
    );
    assert!(obs
        .text
        .contains("- E111 indentation is not a multiple of 4"));
    assert!(obs
        .text
        .contains("Fix the line number or the inserted text and send a corrected insert command."));
    assert_eq!(ws.read("strategy.py"), STRATEGY);
}

#[test]
fn python_errors_that_existed_before_do_not_block_other_edits() {
    if !have_python() {
        return;
    }
    let mut ws = Ws::with_python();
    ws.write(
        "m.py",
        "import os\nx = missing_name\n\n\ndef f(:\n    pass\n",
    );
    ws.run("open m.py");
    let obs = ws.run("insert 1\nimport sys\n\nend_of_insert");
    assert!(!obs.is_error, "{}", obs.text);
    assert_eq!(
        ws.read("m.py"),
        "import os\nimport sys\n\nx = missing_name\n\n\ndef f(:\n    pass\n"
    );
    // Fixing the syntax error is allowed; the undefined name two lines up stays (not new).
    let obs = ws.run("edit 7:7\ndef f():\nend_of_edit");
    assert!(!obs.is_error, "{}", obs.text);
    // A problem inside the replaced lines counts as new (as in MLGym).
    let obs = ws.run("edit 4:4\nx = missing_name  # still\nend_of_edit");
    assert!(
        obs.text.contains("- F821 undefined name 'missing_name'"),
        "{}",
        obs.text
    );
}

#[test]
fn non_python_files_are_not_checked() {
    if !have_python() {
        return;
    }
    let mut ws = Ws::with_python();
    ws.write("notes.txt", "ok\n");
    ws.run("open notes.txt");
    assert!(!ws.run("edit 1:1\ndef (((:\nend_of_edit").is_error);
    assert_eq!(ws.read("notes.txt"), "def (((:\n");
}

struct BrokenChecker;

impl PythonChecker for BrokenChecker {
    fn check(&self, _: &Path, _: &str) -> Result<Vec<Diagnostic>, CheckerError> {
        Err(CheckerError::BadOutput {
            detail: "boom".into(),
        })
    }
}

#[test]
fn a_broken_checker_does_not_block_edits_but_says_so() {
    let mut ws = Ws::new();
    ws.checker = Box::new(BrokenChecker);
    ws.write("a.py", "x = 1\n");
    ws.run("open a.py");
    let obs = ws.run("edit 1:1\nx = 2\nend_of_edit");
    assert!(!obs.is_error);
    assert!(obs.text.starts_with(
        "Note: the Python check could not run (the Python checker printed unexpected output (boom)"
    ));
    assert!(obs.text.ends_with(UPDATED));
    assert_eq!(ws.read("a.py"), "x = 2\n");
}
