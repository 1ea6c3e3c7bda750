//! `open`, `goto`, `scroll_up`, `scroll_down` and `create`: MLGym's window arithmetic,
//! clamping, messages, and the file kinds the editor must handle.

mod commands_support;

use std::os::unix::fs::PermissionsExt;

use commands_support::{numbered_lines, Ws};
use mlgym_runtime::commands::MAX_WINDOW_CHARS;

#[test]
fn open_prints_the_whole_small_file() {
    let mut ws = Ws::new();
    ws.write(
        "strategy.py",
        "import random\n\n\ndef f():\n    return 0        \n",
    );
    assert_eq!(
        ws.text("open \"strategy.py\""),
        "[File: $WS/strategy.py (5 lines total)]\n1:import random\n2:\n3:\n4:def f():\n5:    return 0        "
    );
    assert_eq!(ws.state.open_file, Some(ws.path("strategy.py")));
    assert_eq!(ws.state.current_line, 500);
}

#[test]
fn open_errors_use_mlgym_messages() {
    let mut ws = Ws::new();
    ws.write("src/a.py", "x\n");
    ws.write_bytes("img.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    assert_eq!(ws.text("open nope.py"), "File nope.py not found");
    assert_eq!(
        ws.text("open src"),
        "Error: src is a directory. You can only open files. Use cd or ls to navigate directories."
    );
    assert_eq!(
        ws.text("open img.png"),
        "Error: img.png is an image file. Current environment does not support image viewing."
    );
    assert!(ws.run("open nope.py").is_error);
    assert_eq!(ws.state.open_file, None, "a failed open changes nothing");
}

#[test]
fn binary_and_non_utf8_files_are_refused_untouched() {
    let mut ws = Ws::new();
    ws.write_bytes("model.bin", b"\x01\x02\0\0data");
    ws.write_bytes("latin1.txt", b"caf\xe9\n");
    assert!(ws
        .text("open model.bin")
        .starts_with("Error: model.bin is a binary file."));
    assert!(ws
        .text("open latin1.txt")
        .starts_with("Error: latin1.txt is not valid UTF-8 text"));
    assert_eq!(std::fs::read(ws.path("latin1.txt")).unwrap(), b"caf\xe9\n");
}

#[test]
fn empty_crlf_and_unterminated_files() {
    let mut ws = Ws::new();
    ws.write("empty.txt", "");
    ws.write("dos.txt", "a\r\nb\r\n");
    ws.write("tail.txt", "a\nb");
    assert_eq!(
        ws.text("open empty.txt"),
        "[File: $WS/empty.txt (0 lines total)]"
    );
    assert_eq!(
        ws.text("open dos.txt"),
        "[File: $WS/dos.txt (2 lines total)]\n1:a\n2:b"
    );
    assert_eq!(
        ws.text("open tail.txt"),
        "[File: $WS/tail.txt (2 lines total)]\n1:a\n2:b"
    );
}

#[test]
fn open_with_line_number_centres_like_mlgym() {
    let mut ws = Ws::new();
    ws.write("big.txt", &numbered_lines(3000));
    // CURRENT_LINE = 1500 + 1000/2 - floor(1000/6) = 1834: lines 1335..=2334.
    let text = ws.text("open big.txt 1500");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "[File: $WS/big.txt (3000 lines total)]");
    assert_eq!(lines[1], "(1334 more lines above)");
    assert_eq!(lines[2], "1335:line 1335");
    assert_eq!(lines[1001], "2334:line 2334");
    assert_eq!(lines[1002], "(666 more lines below)");
    assert_eq!(lines.len(), 1003);
    assert_eq!(ws.state.current_line, 1834);
}

#[test]
fn open_clamps_out_of_range_lines_with_warnings() {
    let mut ws = Ws::new();
    ws.write("a.txt", &numbered_lines(30));
    let text = ws.text("open a.txt 45");
    assert!(text.starts_with(
        "Warning: <line_number> (45) is greater than the number of lines in the file (30)\nWarning: Setting <line_number> to 30\n[File: $WS/a.txt (30 lines total)]\n1:line 1\n"
    ));
    let text = ws.text("open a.txt 0");
    assert!(text.starts_with(
        "Warning: <line_number> (0) is less than 1\nWarning: Setting <line_number> to 1\n[File: "
    ));
}

#[test]
fn goto_needs_a_file_and_a_line_in_range() {
    let mut ws = Ws::new();
    assert_eq!(
        ws.text("goto 3"),
        "No file open. Use the open command first."
    );
    ws.write("big.txt", &numbered_lines(3000));
    ws.run("open big.txt");
    assert_eq!(
        ws.text("goto 3001"),
        "Error: <line> must be less than or equal to 3000"
    );
    let text = ws.text("goto 2900");
    assert!(text.contains("(2000 more lines above)\n2001:line 2001\n"));
    assert!(text.ends_with("3000:line 3000"));
}

#[test]
fn scrolling_moves_by_window_minus_overlap_and_warns() {
    let mut ws = Ws::new();
    ws.write("big.txt", &numbered_lines(3000));
    assert_eq!(
        ws.text("scroll_down"),
        "No file open. Use the open command first."
    );
    let text = ws.text("open big.txt");
    assert!(text.ends_with("1000:line 1000\n(2000 more lines below)"));
    let text = ws.text("scroll_down");
    assert!(
        text.contains("(998 more lines above)\n999:line 999\n"),
        "overlap of 2 lines"
    );
    assert!(text.ends_with("1998:line 1998\n(1002 more lines below)"));
    assert!(!text.contains("WARNING"));
    // CURRENT_LINE 1498 + 998 = 2496 (still below 3000 - 500): lines 1997..=2996.
    let text = ws.text("scroll_down");
    assert!(text.contains("(1996 more lines above)\n1997:line 1997\n"));
    assert!(text.ends_with("2996:line 2996\n(4 more lines below)"));
    let text = ws.text("scroll_up");
    assert!(text.contains("(998 more lines above)\n999:line 999\n"));
    assert!(
        text.contains("\nWARNING: scrolling again and again"),
        "third scroll in a row warns"
    );
    ws.run("goto 1");
    assert!(
        !ws.text("scroll_down").contains("WARNING"),
        "another command resets the count"
    );
    ws.run("scroll_down");
    ws.state.note_other_action();
    assert!(
        !ws.text("scroll_up").contains("WARNING"),
        "the runtime can reset the count too"
    );
}

#[test]
fn scroll_up_at_the_top_stays_there() {
    let mut ws = Ws::new();
    ws.write("a.txt", &numbered_lines(10));
    ws.run("open a.txt");
    assert_eq!(ws.text("scroll_up"), ws.text("open a.txt"));
}

#[test]
fn create_makes_an_empty_file_and_opens_it() {
    let mut ws = Ws::new();
    let obs = ws.run("create \"train_blotto.py\"");
    assert_eq!(
        obs.text,
        format!(
            "[File: {} (1 lines total)]\n1:",
            ws.shown("train_blotto.py")
        )
    );
    assert_eq!(obs.changed_file, Some(ws.path("train_blotto.py")));
    assert_eq!(ws.read("train_blotto.py"), "\n");
    assert_eq!(ws.state.open_file, Some(ws.path("train_blotto.py")));
}

#[test]
fn create_refuses_existing_files_missing_dirs_and_read_only_places() {
    let mut ws = Ws::new();
    ws.write("a.py", "x = 1\n");
    let obs = ws.run("create a.py");
    assert!(obs.is_error);
    assert_eq!(
        obs.text,
        format!(
            "Error: File 'a.py' already exists.\n[File: {} (1 lines total)]\n1:x = 1",
            ws.shown("a.py")
        )
    );
    assert_eq!(ws.read("a.py"), "x = 1\n");
    assert!(ws
        .text("create no/such/dir.py")
        .starts_with("Error: cannot create no/such/dir.py: its directory does not exist"));
    ws.read_only.push(ws.path("data"));
    ws.write("data/x.csv", "1\n");
    assert_eq!(
        ws.text("create data/new.csv"),
        "Error: You cannot create data/new.csv: its location is read-only."
    );
    assert!(!ws.path("data/new.csv").exists());
}

#[test]
fn create_in_an_unwritable_directory_fails_cleanly() {
    let mut ws = Ws::new();
    ws.write("locked/keep.txt", "k\n");
    let dir = ws.path("locked");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let obs = ws.run("create locked/new.txt");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Root may write anyway; otherwise the error names the file.
    if obs.is_error {
        assert!(
            obs.text.starts_with("Error: cannot create locked/new.txt:"),
            "{}",
            obs.text
        );
    }
}

#[test]
fn large_files_open_with_a_shortened_window_instead_of_failing() {
    let mut ws = Ws::new();
    let text: String = (1..=2000)
        .map(|i| format!("{i:05} {}\n", "x".repeat(60)))
        .collect();
    ws.write("wide.txt", &text);
    for action in ["open wide.txt", "open wide.txt 700"] {
        let out = ws.text(action);
        assert!(
            out.len() < MAX_WINDOW_CHARS + 400,
            "{action}: {} chars",
            out.len()
        );
        assert!(out.contains("(window shortened to "), "{action}");
    }
    // `open wide.txt 700` keeps line 700 near the top of what it shows.
    assert!(ws
        .text("open wide.txt 700")
        .contains("(694 more lines above)\n695:00695"));
    // Scrolling continues from the last line actually shown.
    let first = ws.text("open wide.txt");
    let last_shown = ws.state.shortened_view.unwrap().1;
    assert!(first.contains(&format!("\n{last_shown}:")));
    let next = ws.text("scroll_down");
    assert!(
        next.contains(&format!("more lines above)\n{}:", last_shown - 1)),
        "{}",
        &next[..200]
    );
}

#[test]
fn very_long_lines_are_cut_in_the_window() {
    let mut ws = Ws::new();
    ws.write("one.json", &format!("{}\n", "9".repeat(100_000)));
    let out = ws.text("open one.json");
    assert!(out.len() < 2_200);
    assert!(out.ends_with("[... line cut: 100000 characters in total]"));
}

#[test]
fn relative_paths_follow_the_shell_directory() {
    let mut ws = Ws::new();
    ws.write("src/model.py", "m = 1\n");
    ws.cwd = ws.path("src");
    assert!(ws
        .text("open model.py")
        .starts_with("[File: $WS/src/model.py (1 lines total)]"));
    assert!(ws
        .text("open ../src/./model.py")
        .starts_with("[File: $WS/src/model.py"));
}
