//! The editor runs outside the sandbox, so it must never read or write outside the
//! workspace: not through `..`, absolute paths, symlinks, or a file swapped for a symlink
//! after it was opened.

mod commands_support;

use std::fs;
use std::os::unix::fs::symlink;

use commands_support::Ws;

const SECRET: &str = "host secret\n";

fn outside_message(arg: &str) -> String {
    format!(
        "Error: {arg} is outside the workspace $WS. The editor and search commands only work on files inside the workspace."
    )
}

#[test]
fn dot_dot_and_absolute_paths_are_refused() {
    let mut ws = Ws::new();
    let outside = ws.outside();
    fs::write(outside.join("secret.txt"), SECRET).unwrap();
    let abs = outside.join("secret.txt").display().to_string();
    assert_eq!(
        ws.text("open ../outside/secret.txt"),
        outside_message("../outside/secret.txt")
    );
    assert_eq!(ws.text(&format!("open {abs}")), outside_message(&abs));
    assert_eq!(ws.text("open /etc/passwd"), outside_message("/etc/passwd"));
    assert_eq!(
        ws.text("open ../outside/missing.txt"),
        outside_message("../outside/missing.txt")
    );
    assert!(ws
        .text("search_file host ../outside/secret.txt")
        .starts_with("Error: ../outside/secret.txt is outside"));
    assert!(ws
        .text("search_dir host ..")
        .starts_with("Error: .. is outside"));
    assert!(ws
        .text("find_file secret.txt /")
        .starts_with("Error: / is outside"));
    assert!(ws
        .text("create ../outside/new.txt")
        .starts_with("Error: ../outside/new.txt is outside"));
    assert!(!outside.join("new.txt").exists());
}

#[test]
fn symlinks_pointing_outside_are_refused() {
    let mut ws = Ws::new();
    let outside = ws.outside();
    fs::write(outside.join("secret.txt"), SECRET).unwrap();
    symlink(outside.join("secret.txt"), ws.path("link.txt")).unwrap();
    symlink(&outside, ws.path("linkdir")).unwrap();
    ws.write("ok.txt", "fine\n");

    assert_eq!(ws.text("open link.txt"), outside_message("link.txt"));
    assert!(ws
        .text("open linkdir/secret.txt")
        .starts_with("Error: linkdir/secret.txt is outside"));
    assert!(ws
        .text("search_file host link.txt")
        .starts_with("Error: link.txt is outside"));
    assert!(ws
        .text("search_dir host linkdir")
        .starts_with("Error: linkdir is outside"));
    ws.run("open ok.txt");
    let obs = ws.run("edit 1:1 link.txt\npwned\nend_of_edit");
    assert!(obs.is_error);
    assert!(
        obs.text.starts_with("Error: link.txt is outside"),
        "{}",
        obs.text
    );
    assert!(ws
        .text("create linkdir/new.txt")
        .starts_with("Error: linkdir/new.txt is outside"));
    assert!(!outside.join("new.txt").exists());
    assert_eq!(
        fs::read_to_string(outside.join("secret.txt")).unwrap(),
        SECRET
    );
}

#[test]
fn searches_do_not_follow_symlinks_out_of_the_workspace() {
    let mut ws = Ws::new();
    let outside = ws.outside();
    fs::write(outside.join("secret.txt"), SECRET).unwrap();
    symlink(&outside, ws.path("linkdir")).unwrap();
    symlink(outside.join("secret.txt"), ws.path("link.txt")).unwrap();
    ws.write("mine.txt", "host\n");
    assert_eq!(
        ws.text("search_dir host"),
        "Found 1 matches for \"host\" in $WS:\n$WS/mine.txt (1 matches)\nEnd of matches for \"host\" in $WS"
    );
    assert!(ws
        .text("find_file secret.txt")
        .starts_with("No matches found"));
}

#[test]
fn a_file_swapped_for_a_symlink_after_opening_is_refused() {
    let mut ws = Ws::new();
    let outside = ws.outside();
    fs::write(outside.join("secret.txt"), SECRET).unwrap();
    ws.write("a.txt", "a\n");
    ws.run("open a.txt");
    fs::remove_file(ws.path("a.txt")).unwrap();
    symlink(outside.join("secret.txt"), ws.path("a.txt")).unwrap();
    let shown = ws.shown("a.txt");
    assert!(ws
        .run("goto 1")
        .text
        .starts_with(&format!("Error: {shown} is outside")));
    assert!(ws.run("edit 1:1\npwned\nend_of_edit").is_error);
    assert!(ws.run("search_file host").is_error);
    assert_eq!(
        fs::read_to_string(outside.join("secret.txt")).unwrap(),
        SECRET
    );
}

#[test]
fn a_deleted_open_file_is_reported() {
    let mut ws = Ws::new();
    ws.write("a.txt", "a\n");
    ws.run("open a.txt");
    fs::remove_file(ws.path("a.txt")).unwrap();
    assert_eq!(
        ws.run("scroll_down").text,
        format!(
            "Error: the open file {} no longer exists. Open a file again with open.",
            ws.shown("a.txt")
        )
    );
}

#[test]
fn a_shell_directory_outside_the_workspace_is_refused() {
    let mut ws = Ws::new();
    ws.cwd = ws.outside();
    fs::write(ws.cwd.join("x.txt"), SECRET).unwrap();
    assert!(ws.text("open x.txt").starts_with("Error: x.txt is outside"));
    assert!(ws
        .text("search_dir host")
        .starts_with("Error: ./ is outside"));
}

#[test]
fn a_fifo_swapped_in_does_not_hang_the_editor() {
    let mut ws = Ws::new();
    ws.write("a.txt", "a\n");
    ws.write("b.txt", "a\n");
    ws.run("open a.txt");
    fs::remove_file(ws.path("a.txt")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(ws.path("a.txt"))
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipping: mkfifo is not available");
        return;
    }
    assert!(ws.run("goto 1").text.ends_with("not a regular file"));
    assert!(ws.run("edit 1:1\nx\nend_of_edit").is_error);
    assert!(ws.run("search_file a").is_error);
    assert!(ws.text("open a.txt").contains("not a regular file"));
    assert!(ws.text("search_dir a").contains("$WS/b.txt (1 matches)"));
}
