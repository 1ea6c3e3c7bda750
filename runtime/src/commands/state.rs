//! The editor's state between actions ([`EditorState`]) and what one command returns
//! ([`Observation`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// MLGym's default window height (`WINDOW`).
pub const DEFAULT_WINDOW: usize = 1000;
/// MLGym's default scroll overlap (`OVERLAP`).
pub const DEFAULT_OVERLAP: usize = 2;
/// After this many scrolls in a row, scrolling prints a warning.
pub const DEFAULT_WARN_AFTER_SCROLLS: u32 = 3;

/// The editor's state: MLGym's `CURRENT_FILE`, `CURRENT_LINE`, `WINDOW`, `OVERLAP` and
/// scroll counter. Serializable so that the runtime can persist it for `--resume`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditorState {
    /// The open file (canonical absolute path), if any.
    pub open_file: Option<PathBuf>,
    /// The window's centre line, as MLGym computes it (`CURRENT_LINE`).
    pub current_line: usize,
    /// Lines shown per window (`WINDOW`).
    pub window: usize,
    /// Lines kept from the previous window when scrolling (`OVERLAP`).
    pub overlap: usize,
    /// Scroll commands in a row so far.
    pub consecutive_scrolls: u32,
    /// Scrolls in a row after which a warning is printed.
    pub warn_after_scrolls: u32,
    /// First and last line of the last window shown, when it had to be shortened to stay
    /// under the size limit; scrolling then continues from what was actually shown.
    pub shortened_view: Option<(usize, usize)>,
}

impl Default for EditorState {
    fn default() -> Self {
        EditorState {
            open_file: None,
            current_line: 0,
            window: DEFAULT_WINDOW,
            overlap: DEFAULT_OVERLAP,
            consecutive_scrolls: 0,
            warn_after_scrolls: DEFAULT_WARN_AFTER_SCROLLS,
            shortened_view: None,
        }
    }
}

impl EditorState {
    /// A state with no open file and the given window height and scroll overlap (a window
    /// of 0 is treated as 1; the overlap is kept below the window).
    pub fn new(window: usize, overlap: usize) -> Self {
        let window = window.max(1);
        EditorState {
            window,
            overlap: overlap.min(window - 1),
            ..EditorState::default()
        }
    }

    /// Tells the editor that the agent's last action was not an editor command (a shell
    /// command, `validate`, or an action that failed to parse), which ends a run of scrolls.
    pub fn note_other_action(&mut self) {
        self.consecutive_scrolls = 0;
    }

    /// The window height actually used (never 0).
    pub(crate) fn window(&self) -> usize {
        self.window.max(1)
    }
}

/// The result of one editor command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The text shown to the agent. Like MLGym's post-processed shell output it contains
    /// no empty lines.
    pub text: String,
    /// The file this command wrote (created or edited), if any.
    pub changed_file: Option<PathBuf>,
    /// Whether the command failed (bad arguments, missing file, refused edit, ...).
    pub is_error: bool,
}

impl Observation {
    /// A successful observation that changed nothing.
    pub(crate) fn ok(text: impl Into<String>) -> Self {
        Observation {
            text: text.into(),
            changed_file: None,
            is_error: false,
        }
    }

    /// A failed observation.
    pub(crate) fn error(text: impl Into<String>) -> Self {
        Observation {
            text: text.into(),
            changed_file: None,
            is_error: true,
        }
    }

    /// A successful observation after writing `path`.
    pub(crate) fn changed(text: impl Into<String>, path: PathBuf) -> Self {
        Observation {
            text: text.into(),
            changed_file: Some(path),
            is_error: false,
        }
    }
}
