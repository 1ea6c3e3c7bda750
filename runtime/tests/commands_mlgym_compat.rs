//! Replays the editor commands of real MLGym trajectories against our implementation and
//! compares the observations: file windows, edit results, and the windows and error lists
//! of refused Python edits must match MLGym's byte for byte (after replacing MLGym's
//! workspace path with ours). Prose we reworded is not compared.
//!
//! File contents are learned from MLGym's own observations (a window that shows a whole
//! file), and forgotten after shell commands that may change files. The trajectories are
//! read from the shared reference directory; the tests skip when it is absent.
//! `cargo test -p mlgym-runtime --test commands_mlgym_compat -- --ignored` replays all of
//! them and prints the statistics.

mod commands_support;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use commands_support::{have_python, Ws};
use mlgym_runtime::commands::{parse_action, Action, EditorCommand, FILE_UPDATED};

/// The shared MLGym reference data, next to the checkout (`shared/mlgym-reference`).
const TRAJECTORIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/mlgym-reference/trajectories"
);
const MLGYM_WS: &str = "/home/agent/workspace";
const RULE: &str = "-------------------------------------------------";

#[derive(Default, Debug)]
struct Stats {
    compared: usize,
    identical: usize,
    /// Edits MLGym accepted and our checker refused, or the other way round.
    outcome_differs: usize,
    /// Refused edits whose error lists differ (windows still compared).
    errors_differ: usize,
    /// Windows we shortened to stay under the size limit (MLGym printed them whole).
    shortened: usize,
    mismatches: Vec<String>,
    outcome_notes: Vec<String>,
}

fn trajectories(limit: usize) -> Vec<PathBuf> {
    let Ok(dir) = fs::read_dir(TRAJECTORIES) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".traj.gz"))
        .collect();
    files.sort();
    files.truncate(limit);
    files
}

fn steps(path: &Path) -> Vec<(String, String)> {
    let mut text = String::new();
    let Ok(file) = fs::File::open(path) else {
        return Vec::new();
    };
    if flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .is_err()
    {
        return Vec::new();
    }
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    json["trajectory"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    let field = |k: &str| s[k].as_str().unwrap_or("").to_string();
                    (field("action"), field("observation"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// When `obs` starts with a window showing a whole file, the file's path and content.
fn whole_file(obs: &str) -> Option<(String, String)> {
    let mut lines = obs.lines();
    let header = lines.next()?;
    let rest = header
        .strip_prefix("[File: ")?
        .strip_suffix(" lines total)]")?;
    let (path, count) = rest.rsplit_once(" (")?;
    let count: usize = count.parse().ok()?;
    let rel = path.strip_prefix(MLGYM_WS)?.strip_prefix('/')?.to_string();
    let mut content = String::new();
    for n in 1..=count {
        let line = lines.next()?;
        content.push_str(line.strip_prefix(&format!("{n}:"))?);
        content.push('\n');
    }
    match lines.next() {
        None => Some((rel, content)),
        Some(next) if next == FILE_UPDATED => Some((rel, content)),
        Some(_) => None,
    }
}

/// The error list and the two windows of a refused edit (MLGym's or ours).
fn refusal_parts(obs: &str) -> Option<(Vec<String>, Vec<String>)> {
    let (_, after) = obs.split_once("ERRORS:\n")?;
    let errors: Vec<String> = after
        .lines()
        .take_while(|l| l.starts_with("- "))
        .map(str::to_string)
        .collect();
    let sections: Vec<&str> = obs.split(RULE).collect();
    if sections.len() < 5 {
        return None;
    }
    let windows = vec![
        sections[1].trim().to_string(),
        sections[3].trim().to_string(),
    ];
    Some((errors, windows))
}

/// Shell actions that cannot change files in the workspace.
fn read_only_shell(action: &str) -> bool {
    let first = action.split_whitespace().next().unwrap_or("");
    let harmless = [
        "ls", "cat", "head", "tail", "grep", "wc", "pwd", "echo", "validate", "submit", "find",
    ];
    harmless.contains(&first) && !action.contains('>') && !action.contains("-exec")
}

fn replay(path: &Path, stats: &mut Stats) {
    let mut ws = Ws::with_python();
    let root = ws.root.display().to_string();
    let mut known: HashMap<String, String> = HashMap::new();
    for (action, expected) in steps(path) {
        let action = action.trim().replace(MLGYM_WS, &root);
        let parsed = parse_action(&action);
        let cmd = match parsed {
            Ok(Action::Editor(cmd)) => cmd,
            Ok(Action::Shell(s)) => {
                if !read_only_shell(&s) {
                    known.clear();
                }
                continue;
            }
            Ok(_) => continue,
            Err(_) => continue,
        };
        let named_file = matches!(
            &cmd,
            EditorCommand::Edit { file: Some(_), .. } | EditorCommand::Insert { file: Some(_), .. }
        );
        let open_rel = ws
            .state
            .open_file
            .as_ref()
            .and_then(|p| p.strip_prefix(&ws.root).ok())
            .map(|p| p.display().to_string());
        let comparable = match &cmd {
            EditorCommand::Open { .. } => {
                if let Some((rel, content)) = whole_file(&expected) {
                    ws.write(&rel, &content);
                    known.insert(rel, content);
                    true
                } else {
                    false
                }
            }
            EditorCommand::Edit { .. }
            | EditorCommand::Insert { .. }
            | EditorCommand::Goto { .. } => {
                !named_file && open_rel.as_ref().is_some_and(|rel| known.contains_key(rel))
            }
            EditorCommand::Create { .. } => expected.starts_with("[File: "),
            _ => false,
        };
        if !comparable {
            if named_file
                || matches!(
                    cmd,
                    EditorCommand::Edit { .. } | EditorCommand::Insert { .. }
                )
            {
                known.clear();
            }
            if let Some((rel, content)) = whole_file(&expected) {
                ws.write(&rel, &content);
                known.insert(rel, content);
            }
            continue;
        }
        if expected.starts_with("Exited (") || expected.starts_with("/bin/bash: ") {
            // The action never reached MLGym's editor (step limit, bash syntax error).
            known.clear();
            continue;
        }
        if let Some(file) = expected.strip_prefix("Error: You cannot edit read-only file ") {
            // Which files a task made read-only is only visible from MLGym's answer.
            ws.read_only
                .push(PathBuf::from(file.trim().replace(MLGYM_WS, &root)));
        }
        let ours = ws.run(&action).text.replace(&root, MLGYM_WS);
        if ours.contains("(window shortened to ") {
            // A deliberate difference: MLGym printed windows of any size.
            stats.shortened += 1;
            if let Some((rel, content)) = whole_file(&expected) {
                ws.write(&rel, &content);
                known.insert(rel, content);
            }
            continue;
        }
        stats.compared += 1;
        let theirs_refused = expected.starts_with("Your proposed");
        let ours_refused = ours.starts_with("Your proposed");
        let same = if theirs_refused && ours_refused {
            let (their_errors, their_windows) = refusal_parts(&expected).unwrap_or_default();
            let (our_errors, our_windows) = refusal_parts(&ours).unwrap_or_default();
            if their_errors != our_errors {
                stats.errors_differ += 1;
                stats.outcome_notes.push(format!(
                    "{}: error lists differ\n--- MLGym:\n{}\n--- ours:\n{}",
                    path.display(),
                    their_errors.join("\n"),
                    our_errors.join("\n")
                ));
            }
            their_windows == our_windows && !our_windows.is_empty()
        } else if theirs_refused != ours_refused
            && (expected.ends_with(FILE_UPDATED) || theirs_refused)
        {
            stats.outcome_differs += 1;
            let head = |t: &str| t.lines().take(12).collect::<Vec<_>>().join("\n");
            stats.outcome_notes.push(format!(
                "{}\nACTION: {}\n--- MLGym:\n{}\n--- ours:\n{}",
                path.display(),
                action.chars().take(300).collect::<String>(),
                head(&expected),
                head(&ours)
            ));
            // Keep our copy in step with MLGym's file.
            if let Some((rel, content)) = whole_file(&expected) {
                ws.write(&rel, &content);
            } else {
                known.clear();
            }
            continue;
        } else {
            ours == expected
        };
        if same {
            stats.identical += 1;
        } else {
            stats.mismatches.push(format!(
                "{}\nACTION: {}\n--- MLGym:\n{}\n--- ours:\n{}",
                path.display(),
                action.lines().next().unwrap_or(""),
                expected.chars().take(1500).collect::<String>(),
                ours.chars().take(1500).collect::<String>()
            ));
        }
        if let Some((rel, content)) = whole_file(&expected) {
            known.insert(rel, content);
        }
    }
}

fn run(limit: usize) -> Option<Stats> {
    let files = trajectories(limit);
    if files.is_empty() || !have_python() {
        eprintln!("skipping: no trajectories under {TRAJECTORIES}");
        return None;
    }
    let mut stats = Stats::default();
    for file in &files {
        replay(file, &mut stats);
    }
    for m in stats.mismatches.iter().take(5) {
        eprintln!("MISMATCH {m}\n");
    }
    if std::env::var_os("MLGYM_COMPAT_VERBOSE").is_some() {
        for m in &stats.outcome_notes {
            eprintln!("OUTCOME {m}\n");
        }
    }
    eprintln!(
        "replayed {} trajectories: compared {}, identical {}, outcome differs {}, error lists differ {}, shortened {}",
        files.len(),
        stats.compared,
        stats.identical,
        stats.outcome_differs,
        stats.errors_differ,
        stats.shortened
    );
    Some(stats)
}

#[test]
fn observations_match_mlgym_trajectories() {
    let Some(stats) = run(8) else { return };
    assert!(stats.compared >= 50, "too few comparable steps: {stats:?}");
    assert!(
        stats.mismatches.is_empty(),
        "{} mismatches, first:\n{}",
        stats.mismatches.len(),
        stats.mismatches[0]
    );
    assert!(stats.outcome_differs * 10 <= stats.compared, "{stats:?}");
}

#[test]
#[ignore = "replays every stored trajectory (slow); run with --ignored"]
fn all_trajectories() {
    let Some(stats) = run(usize::MAX) else { return };
    assert!(
        stats.mismatches.is_empty(),
        "{} mismatches",
        stats.mismatches.len()
    );
}
