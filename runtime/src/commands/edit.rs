//! `edit` and `insert`: change lines of the open file (or of the file the command names),
//! refusing read-only files and Python changes that introduce new errors.
//!
//! Fixes over MLGym: a file named in the command is the file edited (it becomes the open
//! file) instead of being silently ignored; the check runs on the would-be content before
//! anything is written, so a refused edit never touches the file; writes are atomic.

use std::path::{Path, PathBuf};

use super::context::Resolver;
use super::lint::{self, Replaced};
use super::python_check::Diagnostic;
use super::state::{EditorState, Observation};
use super::text::{self, TextFile};
use super::view::{load_open, load_viewable, resolve_file, show};
use super::window::{self, Anchor};

/// MLGym's success message (kept verbatim: agents look for it).
pub const FILE_UPDATED: &str = "File updated. Please review the changes and make sure they are correct (correct indentation, no duplicate lines, etc). Edit the file again if necessary.";
const RULE: &str = "-------------------------------------------------";
const NO_FILE_OPEN_EDIT: &str = "No file open. Use the `open` command first.";

/// What is being changed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    /// Replace lines `start..=end`.
    Edit { start: usize, end: usize },
    /// Insert after line `after` (0: at the top).
    Insert { after: usize },
}

impl Change {
    fn command(self) -> &'static str {
        match self {
            Change::Edit { .. } => "edit",
            Change::Insert { .. } => "insert",
        }
    }
}

/// Runs `edit` or `insert` with the body `lines`.
pub(crate) fn apply(
    change: Change,
    file_arg: Option<&str>,
    lines: &[String],
    state: &mut EditorState,
    r: &Resolver,
) -> Observation {
    let (path, old) = match target(change, file_arg, state, r) {
        Ok(v) => v,
        Err(obs) => return obs,
    };
    if let Change::Edit { start, end } = change {
        if start == 0 {
            return Observation::error("Usage: edit <start_line>:<end_line>\nError: start_line must be at least 1 (lines are numbered from 1)");
        }
        if end < start {
            return Observation::error(format!(
                "Usage: edit <start_line>:<end_line>\nError: end_line ({end}) must not be smaller than start_line ({start}); to add lines without replacing any, use insert"
            ));
        }
    }
    if (r.ctx.is_read_only)(&path) || !text::is_writable(&path) {
        return Observation::error(format!(
            "Error: You cannot edit read-only file {}",
            path.display()
        ));
    }
    let n = old.len();
    let (cut_from, cut_to, replaced) = match change {
        Change::Edit { start, end } => {
            let from = (start - 1).min(n);
            (
                from,
                end.min(n).max(from),
                Replaced {
                    first: start,
                    last: end,
                    added: lines.len(),
                },
            )
        }
        Change::Insert { after } => {
            let at = after.min(n);
            (
                at,
                at,
                Replaced {
                    first: after + 1,
                    last: after,
                    added: lines.len(),
                },
            )
        }
    };
    let mut new_lines = old.lines[..cut_from].to_vec();
    new_lines.extend(old.adopt(lines));
    new_lines.extend_from_slice(&old.lines[cut_to..]);
    let new = TextFile {
        lines: new_lines,
        trailing_newline: old.trailing_newline || old.len() == 0,
        crlf: old.crlf,
    };
    let new_text = new.to_text();
    let mut note = String::new();
    if path.extension().is_some_and(|e| e == "py") {
        let checker = r.ctx.python;
        match (
            checker.check(&path, &old.to_text()),
            checker.check(&path, &new_text),
        ) {
            (Ok(before), Ok(after)) => {
                let problems = lint::introduced(&before, &after, replaced);
                if !problems.is_empty() {
                    return refused(change, &path, &old, &new, lines.len(), &problems);
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                note = format!(
                    "Note: the Python check could not run ({e}); the change was applied without it.\n"
                );
            }
        }
    }
    if let Err(e) = text::write_atomic(&path, new_text.as_bytes(), &r.root) {
        return Observation::error(format!(
            "Error: could not write {}: {e}. The file was not changed.",
            path.display()
        ));
    }
    let (current, focus) = match change {
        Change::Edit { start, .. } => (start as i64 - 1, start),
        Change::Insert { after } => (after as i64 + 1, after + 1),
    };
    let window = show(state, path.clone(), &new, current, Anchor::Focus(focus));
    Observation::changed(format!("{note}{window}\n{FILE_UPDATED}"), path)
}

/// The file to change: the one named in the command (which becomes the open file), or the
/// open file.
fn target(
    change: Change,
    file_arg: Option<&str>,
    state: &mut EditorState,
    r: &Resolver,
) -> Result<(PathBuf, TextFile), Observation> {
    let Some(arg) = file_arg else {
        return load_open(state, r, NO_FILE_OPEN_EDIT);
    };
    let loaded =
        resolve_file(arg, r).and_then(|path| Ok((path.clone(), load_viewable(&path, arg, r)?)));
    let (path, file) = loaded.map_err(|mut obs| {
        obs.text = format!(
            "{}\nNothing was changed: the {} command names {arg}, which cannot be opened.",
            obs.text,
            change.command()
        );
        obs
    })?;
    if state.open_file.as_deref() != Some(path.as_path()) {
        let window = state.window();
        state.open_file = Some(path.clone());
        state.current_line = window::constrain((window / 2) as i64, window, file.len());
        state.shortened_view = None;
    }
    Ok((path, file))
}

/// The observation for a change refused by the Python check (nothing was written).
fn refused(
    change: Change,
    path: &Path,
    old: &TextFile,
    new: &TextFile,
    count: usize,
    problems: &[Diagnostic],
) -> Observation {
    let half = (count / 2) as i64;
    let (noun, would_be, original, fix) = match change {
        Change::Edit { start, end } => {
            let from = start as i64 - 1;
            let span = end as i64 - from;
            (
                "edit",
                (from + half, count + 10, start),
                ((span + 1) / 2 + from, (span + 10).max(1) as usize, start),
                "the start/end line numbers or the replacement text",
            )
        }
        Change::Insert { after } => (
            "insertion",
            (after as i64 + half, count + 10, after + 1),
            (after as i64, 10, after),
            "the line number or the inserted text",
        ),
    };
    let view = |file: &TextFile, (current, window, focus): (i64, usize, usize)| {
        let current = window::constrain(current, window, file.len());
        window::render(path, file, current, window, Anchor::Focus(focus)).text
    };
    let text = format!(
        "Your proposed {noun} introduces new error(s) in this Python file, so it was NOT applied. Read the errors below, then retry.\n\
         ERRORS:\n{}\n\
         Here is how the file would look with your {noun}:\n{RULE}\n{}\n{RULE}\n\
         Here is the original code at that place:\n{RULE}\n{}\n{RULE}\n\
         Your changes have NOT been applied; the file is unchanged. Fix {fix} and send a corrected {} command.\n\
         Sending the same command again would fail in the same way.",
        lint::format(problems),
        view(new, would_be),
        view(old, original),
        change.command(),
    );
    Observation::error(text)
}
