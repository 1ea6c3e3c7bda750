//! `search_dir`, `search_file` and `find_file`: MLGym's output formats and limits, hidden
//! and binary files, and grep-style patterns.

mod commands_support;

use commands_support::Ws;

fn project() -> Ws {
    let ws = Ws::new();
    ws.write(
        "evaluate.py",
        "from strategy import row_strategy\nrow_strategy([])\nx = row_strategy\n",
    );
    ws.write("strategy.py", "def row_strategy(history):\n    return 0\n");
    ws.write("target.py", "# no match here\n");
    ws.write("src/deep/model.py", "row_strategy = None\n");
    ws.write(".hidden/secret.py", "row_strategy\n");
    ws.write(".dotfile", "row_strategy\n");
    ws.write_bytes("weights.bin", b"row_strategy\0\x01\x02");
    ws
}

#[test]
fn search_dir_lists_files_with_counts() {
    let mut ws = project();
    assert_eq!(
        ws.text("search_dir \"row_strategy\""),
        "Found 5 matches for \"row_strategy\" in $WS:\n\
         $WS/evaluate.py (3 matches)\n\
         $WS/src/deep/model.py (1 matches)\n\
         $WS/strategy.py (1 matches)\n\
         End of matches for \"row_strategy\" in $WS"
    );
    assert_eq!(
        ws.text("search_dir row_strategy src"),
        "Found 1 matches for \"row_strategy\" in $WS/src:\n$WS/src/deep/model.py (1 matches)\nEnd of matches for \"row_strategy\" in $WS/src"
    );
    assert_eq!(
        ws.text("search_dir nothing_like_this"),
        "No matches found for \"nothing_like_this\" in $WS"
    );
    assert_eq!(
        ws.text("search_dir x nowhere"),
        "Directory nowhere not found"
    );
    assert_eq!(
        ws.text("search_dir x strategy.py"),
        "Directory strategy.py not found"
    );
}

#[test]
fn search_dir_uses_the_shell_directory_and_grep_patterns() {
    let mut ws = project();
    ws.cwd = ws.path("src");
    assert!(ws
        .text("search_dir row")
        .starts_with("Found 1 matches for \"row\" in $WS/src:"));
    ws.cwd = ws.root.clone();
    assert!(ws
        .text("search_dir '^def row_'")
        .starts_with("Found 1 matches"));
    assert!(ws
        .text("search_dir 'import\\|return'")
        .starts_with("Found 2 matches"));
    let bad = ws.text("search_dir 'a[b'");
    assert!(
        bad.starts_with("Error: invalid search pattern \"a[b\": Unmatched [, [^, [:, [., or [="),
        "{bad}"
    );
}

#[test]
fn search_dir_asks_to_narrow_over_100_files() {
    let mut ws = Ws::new();
    for i in 0..101 {
        ws.write(&format!("f{i:03}.txt"), "needle\n");
    }
    assert_eq!(
        ws.text("search_dir needle"),
        "More than 101 files matched for \"needle\" in $WS. Please narrow your search."
    );
    std::fs::remove_file(ws.path("f100.txt")).unwrap();
    assert!(ws
        .text("search_dir needle")
        .starts_with("Found 100 matches"));
}

#[test]
fn search_file_prints_matching_lines() {
    let mut ws = project();
    assert_eq!(
        ws.text("search_file row_strategy"),
        "No file open. Use the open command first."
    );
    ws.run("open evaluate.py");
    assert_eq!(
        ws.text("search_file \"row_strategy(\""),
        "Found 1 matches for \"row_strategy(\" in $WS/evaluate.py:\nLine 2:row_strategy([])\nEnd of matches for \"row_strategy(\" in $WS/evaluate.py"
    );
    assert_eq!(
        ws.text("search_file return strategy.py"),
        "Found 1 matches for \"return\" in $WS/strategy.py:\nLine 2:    return 0\nEnd of matches for \"return\" in $WS/strategy.py"
    );
    assert_eq!(
        ws.text("search_file zzz"),
        "No matches found for \"zzz\" in $WS/evaluate.py"
    );
    // MLGym's own example of an unquoted term with a space.
    assert_eq!(
        ws.text("search_file avg_opp_allocation ="),
        "Usage: search_file <search_term> [<file>]\nError: File name = not found. Please provide a valid file name."
    );
    assert!(ws
        .text("search_file x weights.bin")
        .starts_with("Error: weights.bin is a binary file."));
}

#[test]
fn search_file_asks_to_narrow_over_100_lines() {
    let mut ws = Ws::new();
    ws.write("many.txt", &"hit\n".repeat(101));
    ws.run("open many.txt");
    assert_eq!(
        ws.text("search_file hit"),
        "More than 101 lines matched for \"hit\" in $WS/many.txt. Please narrow your search."
    );
}

#[test]
fn find_file_matches_names_and_globs() {
    let mut ws = project();
    assert_eq!(
        ws.text("find_file strategy.py"),
        "Found 1 matches for \"strategy.py\" in $WS:\n$WS/strategy.py"
    );
    assert_eq!(
        ws.text("find_file \"*.py\" src"),
        "Found 1 matches for \"*.py\" in $WS/src:\n$WS/src/deep/model.py"
    );
    // Like `find -name`, find_file does not skip hidden files.
    assert!(ws
        .text("find_file secret.py")
        .contains("$WS/.hidden/secret.py"));
    assert_eq!(
        ws.text("find_file nope.py"),
        "No matches found for \"nope.py\" in $WS"
    );
    assert_eq!(
        ws.text("find_file a.py nowhere"),
        "Directory nowhere not found"
    );
    for i in 0..101 {
        ws.write(&format!("many/{i}.log"), "");
    }
    assert_eq!(
        ws.text("find_file *.log"),
        "More than 101 files matched for \"*.log\" in $WS. Please narrow your search."
    );
}

#[test]
fn hidden_predicate_hides_paths_from_every_command() {
    let mut ws = project();
    ws.write("answers/answer.csv", "row_strategy,42\n");
    ws.hidden.push(ws.path("answers"));
    assert_eq!(
        ws.text("open answers/answer.csv"),
        "File answers/answer.csv not found"
    );
    assert!(!ws.text("search_dir row_strategy").contains("answer.csv"));
    assert!(ws
        .text("find_file answer.csv")
        .starts_with("No matches found"));
    assert!(ws
        .text("search_file row answers/answer.csv")
        .contains("File name answers/answer.csv not found"));
    assert!(ws
        .text("create answers/new.txt")
        .starts_with("Error: cannot create answers/new.txt"));
}
