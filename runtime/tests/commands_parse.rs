//! `parse_action`: which actions are editor commands, multi-line bodies, and the exact
//! error texts for malformed commands.

use mlgym_runtime::commands::{parse_action, Action, EditorCommand, ParseError};

fn editor(text: &str) -> EditorCommand {
    match parse_action(text) {
        Ok(Action::Editor(cmd)) => cmd,
        other => panic!("{text:?} parsed as {other:?}"),
    }
}

fn error(text: &str) -> String {
    match parse_action(text) {
        Err(e) => e.to_string(),
        other => panic!("{text:?} parsed as {other:?}"),
    }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn other_actions_go_to_the_shell() {
    for text in [
        "ls -la",
        "python train.py",
        "cat a.py | head",
        "cd src && open x",
        "  ls  \n",
    ] {
        assert_eq!(
            parse_action(text),
            Ok(Action::Shell(text.trim().to_string())),
            "{text:?}"
        );
    }
    assert_eq!(parse_action(""), Ok(Action::Shell(String::new())));
    assert_eq!(
        parse_action("opener a.py"),
        Ok(Action::Shell("opener a.py".into()))
    );
}

#[test]
fn validate_and_submit() {
    assert_eq!(parse_action("validate\n"), Ok(Action::Validate));
    assert_eq!(parse_action("  submit  "), Ok(Action::Submit));
    assert!(error("submit submission.csv")
        .starts_with("Usage: submit\nError: `submit` takes no arguments"));
    assert!(error("validate\nls").starts_with("Error: `validate` must be the only command"));
}

#[test]
fn open_goto_scroll_create() {
    assert_eq!(
        editor("open \"strategy.py\""),
        EditorCommand::Open {
            path: "strategy.py".into(),
            line: None
        }
    );
    assert_eq!(
        editor("open evaluate.py 30"),
        EditorCommand::Open {
            path: "evaluate.py".into(),
            line: Some(30)
        }
    );
    assert_eq!(
        editor("open 'my file.py'"),
        EditorCommand::Open {
            path: "my file.py".into(),
            line: None
        }
    );
    assert_eq!(error("open"), "Usage: open \"<file>\"");
    assert_eq!(
        error("open a.py x"),
        "Usage: open \"<file>\" [<line_number>]\nError: <line_number> must be a number"
    );
    assert_eq!(editor("goto 12"), EditorCommand::Goto { line: 12 });
    assert_eq!(
        error("goto 1 2"),
        "goto allows only one line number at a time."
    );
    assert_eq!(error("goto"), "Usage: goto <line>");
    assert_eq!(
        error("goto -3"),
        "Usage: goto <line>\nError: <line> must be a number"
    );
    assert_eq!(
        editor("goto 99999999999999999999999"),
        EditorCommand::Goto { line: usize::MAX }
    );
    assert_eq!(editor("scroll_up"), EditorCommand::ScrollUp);
    assert_eq!(editor("scroll_down"), EditorCommand::ScrollDown);
    assert!(error("scroll_down 5").starts_with("Usage: scroll_down\n"));
    assert_eq!(
        editor("create \"train.py\""),
        EditorCommand::Create {
            path: "train.py".into()
        }
    );
    assert_eq!(error("create"), "Usage: create <filename>");
}

#[test]
fn search_commands() {
    assert_eq!(
        editor("search_dir \"def target_column_strategy\""),
        EditorCommand::SearchDir {
            term: "def target_column_strategy".into(),
            dir: None
        }
    );
    assert_eq!(
        editor("search_dir lr src"),
        EditorCommand::SearchDir {
            term: "lr".into(),
            dir: Some("src".into())
        }
    );
    // MLGym's own example: an unquoted multi-word term is a usage error.
    assert_eq!(
        error("search_dir \"row_strategy\" -A 5"),
        "Usage: search_dir <search_term> [<dir>]"
    );
    assert_eq!(
        editor("search_file \"avg_opp_allocation =\""),
        EditorCommand::SearchFile {
            term: "avg_opp_allocation =".into(),
            file: None
        }
    );
    assert_eq!(
        editor("search_file avg_opp_allocation ="),
        EditorCommand::SearchFile {
            term: "avg_opp_allocation".into(),
            file: Some("=".into())
        }
    );
    assert_eq!(
        error("search_file"),
        "Usage: search_file <search_term> [<file>]"
    );
    assert_eq!(
        editor("find_file *.py"),
        EditorCommand::FindFile {
            name: "*.py".into(),
            dir: None
        }
    );
    assert_eq!(
        error("find_file a b c"),
        "Usage: find_file <file_name> [<dir>]"
    );
}

#[test]
fn edit_bodies_are_verbatim() {
    let text = "edit 3:5\n    s = f\"{x}`y`\"  # $HOME and `ls`\n```\n\tindented with a tab\n'quoted' \"dq\" \\n\n\nend_of_edit";
    assert_eq!(
        editor(text),
        EditorCommand::Edit {
            file: None,
            start: 3,
            end: 5,
            lines: lines(&[
                "    s = f\"{x}`y`\"  # $HOME and `ls`",
                "```",
                "\tindented with a tab",
                "'quoted' \"dq\" \\n",
                "",
            ]),
        }
    );
}

#[test]
fn empty_edit_body_and_crlf_actions() {
    assert_eq!(
        editor("edit 63:67\nend_of_edit"),
        EditorCommand::Edit {
            file: None,
            start: 63,
            end: 67,
            lines: vec![]
        }
    );
    assert_eq!(
        editor("edit 1:1\r\nx = 1\r\nend_of_edit\r\n"),
        EditorCommand::Edit {
            file: None,
            start: 1,
            end: 1,
            lines: lines(&["x = 1"])
        }
    );
    // An indented end marker still ends the body.
    assert_eq!(
        editor("edit 2:2\n    return 1\n    end_of_edit"),
        EditorCommand::Edit {
            file: None,
            start: 2,
            end: 2,
            lines: lines(&["    return 1"])
        }
    );
}

#[test]
fn edit_file_arguments_are_kept() {
    for text in [
        "edit 1:5 target.py\nx\nend_of_edit",
        "edit target.py 1:5\nx\nend_of_edit",
        "edit \"target.py\" 1:5\nx\nend_of_edit",
    ] {
        assert_eq!(
            editor(text),
            EditorCommand::Edit {
                file: Some("target.py".into()),
                start: 1,
                end: 5,
                lines: lines(&["x"])
            },
            "{text:?}"
        );
    }
}

#[test]
fn malformed_edits() {
    assert_eq!(
        error("edit 1:5\nx = 1\n"),
        "Malformed edit command. Please ensure you use the `end_of_edit` keyword to mark the end of your edit."
    );
    assert_eq!(
        parse_action("edit 1:2\nfoo"),
        Err(ParseError::MissingEndMarker {
            command: "edit",
            marker: "end_of_edit",
            noun: "edit"
        })
    );
    assert_eq!(
        error("edit 17\nx\nend_of_edit"),
        "Usage: edit <start_line>:<end_line>"
    );
    assert_eq!(
        error("edit strategy.py\nx\nend_of_edit"),
        "Usage: edit <start_line>:<end_line>"
    );
    assert_eq!(
        error("edit a:5\nx\nend_of_edit"),
        "Usage: edit <start_line>:<end_line>\nError: start_line must be a number"
    );
    assert_eq!(
        error("edit 1:b\nx\nend_of_edit"),
        "Usage: edit <start_line>:<end_line>\nError: end_line must be a number"
    );
    assert_eq!(
        error("edit 1:\nx\nend_of_edit"),
        "Usage: edit <start_line>:<end_line>"
    );
    assert!(error("edit 1:2 a.py b.py\nx\nend_of_edit").contains("at most one file name"));
    assert!(error("edit 1:2\nx\nend_of_edit\nls")
        .starts_with("Error: found more text after `end_of_edit`"));
    assert!(error("edit 1:2 $F\nx\nend_of_edit").starts_with("Error: `edit` is an editor command"));
}

#[test]
fn insert_forms() {
    assert_eq!(
        editor("insert 0\nimport os\nend_of_insert"),
        EditorCommand::Insert {
            file: None,
            after: 0,
            lines: lines(&["import os"])
        }
    );
    assert_eq!(
        editor("insert 5 utils.py\na\nend_of_insert"),
        EditorCommand::Insert {
            file: Some("utils.py".into()),
            after: 5,
            lines: lines(&["a"])
        }
    );
    assert_eq!(
        editor("insert utils.py 5\na\nend_of_insert"),
        EditorCommand::Insert {
            file: Some("utils.py".into()),
            after: 5,
            lines: lines(&["a"])
        }
    );
    assert_eq!(
        error("insert x\na\nend_of_insert"),
        "Usage: insert <line_number>\nError: line_number must be a number"
    );
    assert_eq!(
        error("insert\na\nend_of_insert"),
        "Usage: insert <line_number>"
    );
    assert_eq!(
        error("insert 3\na\n"),
        "Malformed insert command. Please ensure you use the `end_of_insert` keyword to mark the end of your insertion."
    );
}

#[test]
fn single_line_commands_refuse_extra_lines_and_shell_syntax() {
    let e = error("create strategy_new.py\nimport random\n\ndef row_strategy(history):");
    assert!(
        e.starts_with("Error: `create` must be the only command in the action"),
        "{e}"
    );
    let e = error("open a.py && ls");
    assert!(e.contains("cannot use a shell operator `&`"), "{e}");
    assert!(error("open \"$(pwd)/a.py\"").contains("shell expansion"));
    assert!(error("open 'a.py").contains("unterminated single quote"));
    // Trailing blank lines are fine.
    assert_eq!(
        editor("open a.py\n\n"),
        EditorCommand::Open {
            path: "a.py".into(),
            line: None
        }
    );
}
