//! `search_dir`, `search_file` and `find_file`, done natively with MLGym's output formats
//! and limits. Like `find -type f`, the walk never follows symlinks (so it cannot leave
//! the workspace); like `grep -I`, `search_dir` skips binary files; like MLGym's
//! `! -path '*/.*'`, it skips hidden files and directories (below the searched directory).

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::class::glob_matches;
use super::context::{PathProblem, Resolver};
use super::pattern::Pattern;
use super::state::{EditorState, Observation};
use super::text;
use super::view::{load_open, load_text, NO_FILE_OPEN};
use super::window::MAX_LINE_CHARS;

/// More matching files (or lines, for `search_file`) than this: "Please narrow your search."
pub const MAX_SEARCH_RESULTS: usize = 100;
/// Bytes inspected to decide whether a file is binary (as grep does with its first buffer).
const BINARY_PROBE: usize = 32 * 1024;

fn bad_pattern(term: &str, e: impl std::fmt::Display) -> Observation {
    Observation::error(format!(
        "Error: invalid search pattern \"{term}\": {e}. Patterns are grep basic regular expressions; put a backslash before special characters ([ ] . * ^ $ \\) to match them literally."
    ))
}

fn stopped_note(r: &Resolver) -> String {
    format!(
        "\n(search stopped after {} seconds; the results above are incomplete. Search a smaller directory.)",
        r.ctx.search_time_limit.as_secs()
    )
}

/// Resolves the directory argument of `search_dir`/`find_file` (default: the current one).
fn search_root(dir: Option<&str>, r: &Resolver) -> Result<PathBuf, Observation> {
    let arg = dir.unwrap_or("./");
    match r.existing(arg) {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(_) | Err(PathProblem::NotFound) => {
            Err(Observation::error(format!("Directory {arg} not found")))
        }
        Err(other) => Err(Observation::error(r.describe(arg, &other))),
    }
}

/// Visits every regular file below `root` in name order without following symlinks.
/// Returns false when the deadline stopped the walk.
fn walk(
    root: &Path,
    r: &Resolver,
    skip_dotfiles: bool,
    deadline: Instant,
    visit: &mut dyn FnMut(&Path) -> bool,
) -> bool {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            if Instant::now() >= deadline {
                return false;
            }
            let name = entry.file_name();
            if skip_dotfiles && name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if (r.ctx.is_hidden)(&path) {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                subdirs.push(path);
            } else if kind.is_file() && !visit(&path) {
                return false;
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    true
}

/// Whether the start of a file looks binary to `grep -I` (a NUL byte or invalid UTF-8).
fn looks_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    match std::str::from_utf8(head) {
        Ok(_) => false,
        // A character cut by the end of the probe is fine.
        Err(e) => e.error_len().is_some(),
    }
}

/// Counts lines of a text file matching `pattern`; `None` for binary or unreadable files
/// and when the deadline passes (then `*stopped` is set).
fn count_matches(
    path: &Path,
    pattern: &Pattern,
    r: &Resolver,
    deadline: Instant,
    stopped: &mut bool,
) -> Option<usize> {
    let file = text::open_confined(path, &r.root).ok()?;
    let mut reader = BufReader::with_capacity(BINARY_PROBE, file);
    if looks_binary(reader.fill_buf().ok()?) {
        return None;
    }
    let (mut count, mut line, mut seen) = (0, Vec::new(), 0usize);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let bytes = line.strip_suffix(b"\n").unwrap_or(&line);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if pattern.is_match(&String::from_utf8_lossy(bytes)) {
            count += 1;
        }
        seen += 1;
        if seen % 4096 == 0 && Instant::now() >= deadline {
            *stopped = true;
            break;
        }
    }
    Some(count)
}

/// `search_dir <search_term> [<dir>]`.
pub(crate) fn search_dir(term: &str, dir: Option<&str>, r: &Resolver) -> Observation {
    let root = match search_root(dir, r) {
        Ok(p) => p,
        Err(obs) => return obs,
    };
    let pattern = match Pattern::new(term) {
        Ok(p) => p,
        Err(e) => return bad_pattern(term, e),
    };
    let deadline = Instant::now() + r.ctx.search_time_limit;
    let mut hits: Vec<(String, usize)> = Vec::new();
    let mut stopped = false;
    let finished = walk(&root, r, true, deadline, &mut |path| {
        if let Some(n) = count_matches(path, &pattern, r, deadline, &mut stopped) {
            if n > 0 {
                hits.push((path.display().to_string(), n));
            }
        }
        !stopped
    });
    let note = if finished && !stopped {
        String::new()
    } else {
        stopped_note(r)
    };
    let shown = root.display();
    if hits.is_empty() {
        return Observation::ok(format!("No matches found for \"{term}\" in {shown}{note}"));
    }
    if hits.len() > MAX_SEARCH_RESULTS {
        return Observation::ok(format!(
            "More than {} files matched for \"{term}\" in {shown}. Please narrow your search.{note}",
            hits.len()
        ));
    }
    hits.sort();
    let total: usize = hits.iter().map(|(_, n)| n).sum();
    let mut text = format!("Found {total} matches for \"{term}\" in {shown}:");
    for (path, n) in &hits {
        text.push_str(&format!("\n{path} ({n} matches)"));
    }
    text.push_str(&format!("\nEnd of matches for \"{term}\" in {shown}{note}"));
    Observation::ok(text)
}

/// `search_file <search_term> [<file>]`.
pub(crate) fn search_file(
    term: &str,
    file: Option<&str>,
    state: &EditorState,
    r: &Resolver,
) -> Observation {
    let loaded = match file {
        Some(arg) => match r.existing(arg) {
            Ok(p) if p.is_file() => load_text(&p, arg, r).map(|f| (p, f)),
            Ok(_) | Err(PathProblem::NotFound) => Err(Observation::error(format!(
                "Usage: search_file <search_term> [<file>]\nError: File name {arg} not found. Please provide a valid file name."
            ))),
            Err(other) => Err(Observation::error(r.describe(arg, &other))),
        },
        None => load_open(state, r, NO_FILE_OPEN),
    };
    let (path, contents) = match loaded {
        Ok(v) => v,
        Err(obs) => return obs,
    };
    let pattern = match Pattern::new(term) {
        Ok(p) => p,
        Err(e) => return bad_pattern(term, e),
    };
    let deadline = Instant::now() + r.ctx.search_time_limit;
    let mut matches = Vec::new();
    let mut note = String::new();
    for n in 1..=contents.len() {
        if pattern.is_match(contents.display(n)) {
            matches.push(n);
        }
        if n % 4096 == 0 && Instant::now() >= deadline {
            note = stopped_note(r);
            break;
        }
    }
    let shown = path.display();
    if matches.is_empty() {
        return Observation::ok(format!("No matches found for \"{term}\" in {shown}{note}"));
    }
    if matches.len() > MAX_SEARCH_RESULTS {
        return Observation::ok(format!(
            "More than {} lines matched for \"{term}\" in {shown}. Please narrow your search.{note}",
            matches.len()
        ));
    }
    let mut text = format!("Found {} matches for \"{term}\" in {shown}:", matches.len());
    for n in matches {
        let line = contents.display(n);
        let cut = match line.char_indices().nth(MAX_LINE_CHARS) {
            Some((i, _)) => format!(
                "{} [... line cut: {} characters in total]",
                &line[..i],
                line.chars().count()
            ),
            None => line.to_string(),
        };
        text.push_str(&format!("\nLine {n}:{cut}"));
    }
    text.push_str(&format!("\nEnd of matches for \"{term}\" in {shown}{note}"));
    Observation::ok(text)
}

/// `find_file <file_name> [<dir>]`.
pub(crate) fn find_file(name: &str, dir: Option<&str>, r: &Resolver) -> Observation {
    let root = match search_root(dir, r) {
        Ok(p) => p,
        Err(obs) => return obs,
    };
    if let Err(e) = glob_matches(name, "") {
        return Observation::error(format!(
            "Error: invalid file name pattern \"{name}\": {e}. Use a file name or a shell pattern such as \"*.py\"."
        ));
    }
    let deadline = Instant::now() + r.ctx.search_time_limit;
    let mut found = Vec::new();
    let finished = walk(&root, r, false, deadline, &mut |path| {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if glob_matches(name, &file_name).unwrap_or(false) {
            found.push(path.display().to_string());
        }
        true
    });
    let note = if finished {
        String::new()
    } else {
        stopped_note(r)
    };
    let shown = root.display();
    if found.is_empty() {
        return Observation::ok(format!("No matches found for \"{name}\" in {shown}{note}"));
    }
    if found.len() > MAX_SEARCH_RESULTS {
        return Observation::ok(format!(
            "More than {} files matched for \"{name}\" in {shown}. Please narrow your search.{note}",
            found.len()
        ));
    }
    found.sort();
    Observation::ok(format!(
        "Found {} matches for \"{name}\" in {shown}:\n{}{note}",
        found.len(),
        found.join("\n")
    ))
}
