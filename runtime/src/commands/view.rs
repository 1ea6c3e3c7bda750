//! The viewing commands: `open`, `goto`, `scroll_up`, `scroll_down` and `create`.

use std::fs;
use std::path::{Path, PathBuf};

use super::context::{PathProblem, Resolver};
use super::state::{EditorState, Observation};
use super::text::{self, TextFile, TextProblem};
use super::window::{self, Anchor};

/// MLGym's message for commands that need an open file (`goto`, scrolling, `search_file`).
pub(crate) const NO_FILE_OPEN: &str = "No file open. Use the open command first.";

/// Loads a confined file as text; `shown` names it in messages.
pub(crate) fn load_text(path: &Path, shown: &str, r: &Resolver) -> Result<TextFile, Observation> {
    let bytes =
        text::read_confined(path, &r.root).map_err(|p| Observation::error(p.describe(shown)))?;
    TextFile::decode(bytes).map_err(|p| Observation::error(p.describe(shown)))
}

/// The open file, re-checked (it may have been moved, deleted or replaced by a symlink).
pub(crate) fn load_open(
    state: &EditorState,
    r: &Resolver,
    no_file_message: &str,
) -> Result<(PathBuf, TextFile), Observation> {
    let Some(stored) = &state.open_file else {
        return Err(Observation::error(no_file_message));
    };
    let shown = stored.display().to_string();
    let path = r.recheck(stored).map_err(|p| {
        Observation::error(match p {
            PathProblem::NotFound => format!(
                "Error: the open file {shown} no longer exists. Open a file again with open."
            ),
            other => r.describe(&shown, &other),
        })
    })?;
    let file = load_text(&path, &shown, r)?;
    Ok((path, file))
}

/// Resolves a path the agent wants to view as a file, with MLGym's messages.
pub(crate) fn resolve_file(arg: &str, r: &Resolver) -> Result<PathBuf, Observation> {
    let path = r
        .existing(arg)
        .map_err(|p| Observation::error(r.describe(arg, &p)))?;
    let meta = fs::metadata(&path)
        .map_err(|e| Observation::error(r.describe(arg, &PathProblem::Io(e))))?;
    if meta.is_dir() {
        return Err(Observation::error(format!(
            "Error: {arg} is a directory. You can only open files. Use cd or ls to navigate directories."
        )));
    }
    if !meta.is_file() {
        return Err(Observation::error(format!(
            "Error: {arg} is not a regular file (it may be a pipe, socket or device); the editor only opens files."
        )));
    }
    Ok(path)
}

/// Loads a file for viewing: images and non-text files are refused.
pub(crate) fn load_viewable(path: &Path, arg: &str, r: &Resolver) -> Result<TextFile, Observation> {
    let bytes =
        text::read_confined(path, &r.root).map_err(|p| Observation::error(p.describe(arg)))?;
    if text::looks_like_image(path, &bytes[..bytes.len().min(64)]) {
        return Err(Observation::error(format!(
            "Error: {arg} is an image file. Current environment does not support image viewing."
        )));
    }
    TextFile::decode(bytes).map_err(|p: TextProblem| Observation::error(p.describe(arg)))
}

/// Prints the window of `file` and records it in `state` as the open file's view.
pub(crate) fn show(
    state: &mut EditorState,
    path: PathBuf,
    file: &TextFile,
    current: i64,
    anchor: Anchor,
) -> String {
    let window = state.window();
    let current = window::constrain(current, window, file.len());
    let shown = window::render(&path, file, current, window, anchor);
    state.current_line = current;
    state.shortened_view = shown.shortened.then_some((shown.first, shown.last));
    state.open_file = Some(path);
    shown.text
}

/// `open "<path>" [<line_number>]`.
pub(crate) fn open(
    arg: &str,
    line: Option<usize>,
    state: &mut EditorState,
    r: &Resolver,
) -> Observation {
    let opened = resolve_file(arg, r).and_then(|path| Ok((load_viewable(&path, arg, r)?, path)));
    let (file, path) = match opened {
        Ok(v) => v,
        Err(obs) => return obs,
    };
    let window = state.window();
    let total = file.len();
    let mut text = String::new();
    let (current, focus) = match line {
        None => ((window / 2) as i64, 1),
        Some(n) if n > total => {
            text.push_str(&format!(
                "Warning: <line_number> ({n}) is greater than the number of lines in the file ({total})\nWarning: Setting <line_number> to {total}\n"
            ));
            (total as i64, total)
        }
        Some(0) => {
            text.push_str(
                "Warning: <line_number> (0) is less than 1\nWarning: Setting <line_number> to 1\n",
            );
            (1, 1)
        }
        Some(n) => (window::centre_on(n, window), n),
    };
    let anchor = if line.is_some() {
        Anchor::Focus(focus)
    } else {
        Anchor::Start(1)
    };
    text.push_str(&show(state, path, &file, current, anchor));
    Observation::ok(text)
}

/// `goto <line_number>`.
pub(crate) fn goto(line: usize, state: &mut EditorState, r: &Resolver) -> Observation {
    let (path, file) = match load_open(state, r, NO_FILE_OPEN) {
        Ok(v) => v,
        Err(obs) => return obs,
    };
    if line > file.len() {
        return Observation::error(format!(
            "Error: <line> must be less than or equal to {}",
            file.len()
        ));
    }
    let current = window::centre_on(line, state.window());
    Observation::ok(show(state, path, &file, current, Anchor::Focus(line)))
}

/// `scroll_down` (`down == true`) and `scroll_up`.
pub(crate) fn scroll(down: bool, state: &mut EditorState, r: &Resolver) -> Observation {
    let (path, file) = match load_open(state, r, NO_FILE_OPEN) {
        Ok(v) => v,
        Err(obs) => return obs,
    };
    let window = state.window();
    let (up_half, down_half) = (window.div_ceil(2) as i64, (window / 2) as i64);
    let step = window.saturating_sub(state.overlap) as i64;
    let current = state.current_line as i64;
    let (current, anchor) = match (state.shortened_view, down) {
        // The last window was shortened: continue from what was actually shown.
        (Some((lo, hi)), true) => {
            let top = (hi + 1).saturating_sub(state.overlap).max(lo + 1);
            (top as i64 - 1 + up_half, Anchor::Start(top))
        }
        (Some((lo, hi)), false) => {
            let bottom = (lo.saturating_sub(1) + state.overlap)
                .min(hi.saturating_sub(1))
                .max(1);
            (bottom as i64 - down_half, Anchor::End(bottom))
        }
        (None, true) => (current + step, Anchor::Start(0)),
        (None, false) => (current - step, Anchor::End(usize::MAX)),
    };
    let mut text = show(state, path, &file, current, anchor);
    state.consecutive_scrolls += 1;
    if state.consecutive_scrolls >= state.warn_after_scrolls {
        text.push_str(
            "\nWARNING: scrolling again and again is slow and costs steps.\nIf you know what you are looking for, use `search_file <pattern>` or `goto <line_number>` instead.",
        );
    }
    Observation::ok(text)
}

/// `create <filename>`.
pub(crate) fn create(arg: &str, state: &mut EditorState, r: &Resolver) -> Observation {
    let path = match r.new_file(arg) {
        Ok(p) => p,
        Err(PathProblem::NotFound) => {
            return Observation::error(format!(
                "Error: cannot create {arg}: its directory does not exist. Create the directory first (mkdir -p), then run create again."
            ))
        }
        Err(other) => return Observation::error(r.describe(arg, &other)),
    };
    if fs::symlink_metadata(&path).is_ok() {
        let mut obs = open(arg, None, state, r);
        obs.text = format!("Error: File '{arg}' already exists.\n{}", obs.text);
        obs.is_error = true;
        return obs;
    }
    if (r.ctx.is_read_only)(&path) {
        return Observation::error(format!(
            "Error: You cannot create {arg}: its location is read-only."
        ));
    }
    if let Err(e) = text::create_new(&path, b"\n", &r.root) {
        return Observation::error(format!("Error: cannot create {arg}: {e}"));
    }
    let obs = open(arg, None, state, r);
    if obs.is_error {
        return obs;
    }
    Observation::changed(obs.text, path)
}
