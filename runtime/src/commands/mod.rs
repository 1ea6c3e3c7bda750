//! Native editor and search commands (`open`, `edit`, `search_dir`, ...).
//!
//! MLGym gives its agents a small file editor implemented as bash functions inside the
//! container. Here the same commands run natively in the runtime process:
//!
//! 1. [`parse_action`] splits an agent action into an editor command, `validate`,
//!    `submit`, or a shell command (multi-line `edit`/`insert` bodies included);
//! 2. [`execute`] runs an editor command against an [`EditorState`] (the open file and
//!    window, persisted by the runtime) inside the limits of a [`CommandContext`];
//! 3. [`command_docs`] writes the COMMANDS section of the system prompt.
//!
//! Observations keep MLGym's machine-visible formats (the `[File: PATH (N lines total)]`
//! window, `N:text` lines, search listings, error strings) so trajectories look the same.
//! Deliberate differences: a file named in `edit`/`insert` is honoured or refused, never
//! ignored; read-only files and new Python errors leave the file untouched; every path is
//! confined to the workspace (symlinks included); windows are capped at 20000 characters
//! instead of refusing large files; non-UTF-8 and binary files are refused rather than
//! mangled.
//!
//! Architecture invariant: these commands never run a shell and never touch a path outside
//! the workspace; Python checking goes through the [`PythonChecker`] trait.

mod class;
mod context;
mod docs;
mod edit;
mod lint;
mod parse;
mod pattern;
mod python_check;
mod search;
mod state;
mod text;
mod view;
mod window;
mod words;

pub use context::CommandContext;
pub use docs::{command_docs, command_docs_for_window};
pub use edit::FILE_UPDATED;
pub use parse::{parse_action, Action, EditorCommand, ParseError};
pub use pattern::{Pattern, PatternError};
pub use python_check::{
    parse_checker_output, stderr_tail, CheckerError, Diagnostic, NoPythonCheck,
    ProcessPythonChecker, PythonChecker, PYTHON_CHECK_SCRIPT,
};
pub use search::MAX_SEARCH_RESULTS;
pub use state::{EditorState, Observation, DEFAULT_OVERLAP, DEFAULT_WINDOW};
pub use window::{MAX_LINE_CHARS, MAX_WINDOW_CHARS};
pub use words::WordsError;

use context::Resolver;
use edit::Change;

/// Runs one editor command, updating `state`, and returns what the agent sees.
///
/// Never panics and never touches anything outside `ctx.workspace`; problems (missing
/// files, bad arguments, refused edits) come back as observations with `is_error` set.
pub fn execute(cmd: &EditorCommand, state: &mut EditorState, ctx: &CommandContext) -> Observation {
    if !matches!(cmd, EditorCommand::ScrollUp | EditorCommand::ScrollDown) {
        state.consecutive_scrolls = 0;
    }
    let r = match Resolver::new(ctx) {
        Ok(r) => r,
        Err(e) => {
            let shown = ctx.workspace.display();
            return Observation::error(format!(
                "Error: the workspace {shown} cannot be accessed ({e})."
            ));
        }
    };
    match cmd {
        EditorCommand::Open { path, line } => view::open(path, *line, state, &r),
        EditorCommand::Goto { line } => view::goto(*line, state, &r),
        EditorCommand::ScrollUp => view::scroll(false, state, &r),
        EditorCommand::ScrollDown => view::scroll(true, state, &r),
        EditorCommand::Create { path } => view::create(path, state, &r),
        EditorCommand::SearchDir { term, dir } => search::search_dir(term, dir.as_deref(), &r),
        EditorCommand::SearchFile { term, file } => {
            search::search_file(term, file.as_deref(), state, &r)
        }
        EditorCommand::FindFile { name, dir } => search::find_file(name, dir.as_deref(), &r),
        EditorCommand::Edit {
            file,
            start,
            end,
            lines,
        } => {
            let change = Change::Edit {
                start: *start,
                end: *end,
            };
            edit::apply(change, file.as_deref(), lines, state, &r)
        }
        EditorCommand::Insert { file, after, lines } => edit::apply(
            Change::Insert { after: *after },
            file.as_deref(),
            lines,
            state,
            &r,
        ),
    }
}
