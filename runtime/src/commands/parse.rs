//! Turns one agent action into an [`Action`]: an editor command (possibly multi-line, for
//! `edit`/`insert`), `validate`, `submit`, or anything else for the shell.

use serde::{Deserialize, Serialize};

use super::words::{split_words, WordsError};

/// What one agent action asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// A native editor or search command, run by [`execute`](super::execute).
    Editor(EditorCommand),
    /// `validate`: evaluate the current submission without ending the episode.
    Validate,
    /// `submit`: evaluate the submission and end the episode.
    Submit,
    /// Anything else: the (trimmed) text, for the sandboxed shell.
    Shell(String),
}

/// A parsed editor or search command. Paths are as the agent typed them (relative to the
/// shell's current directory unless absolute).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EditorCommand {
    /// `open "<path>" [<line_number>]`.
    Open {
        /// The file to open.
        path: String,
        /// The line to show, if given.
        line: Option<usize>,
    },
    /// `goto <line_number>`.
    Goto {
        /// The line to show.
        line: usize,
    },
    /// `scroll_up`.
    ScrollUp,
    /// `scroll_down`.
    ScrollDown,
    /// `create <filename>`.
    Create {
        /// The file to create.
        path: String,
    },
    /// `search_dir <search_term> [<dir>]`.
    SearchDir {
        /// A grep basic regular expression.
        term: String,
        /// The directory to search (default: the current directory).
        dir: Option<String>,
    },
    /// `search_file <search_term> [<file>]`.
    SearchFile {
        /// A grep basic regular expression.
        term: String,
        /// The file to search (default: the open file).
        file: Option<String>,
    },
    /// `find_file <file_name> [<dir>]`.
    FindFile {
        /// A file name or shell glob.
        name: String,
        /// The directory to search (default: the current directory).
        dir: Option<String>,
    },
    /// `edit <start_line>:<end_line> [<file>]` + lines + `end_of_edit`.
    Edit {
        /// The file named in the command, if any (default: the open file).
        file: Option<String>,
        /// First line replaced (1-based).
        start: usize,
        /// Last line replaced (inclusive).
        end: usize,
        /// The replacement lines (may be empty: the range is deleted).
        lines: Vec<String>,
    },
    /// `insert <line_number> [<file>]` + lines + `end_of_insert`.
    Insert {
        /// The file named in the command, if any (default: the open file).
        file: Option<String>,
        /// The text goes after this line (0: at the top).
        after: usize,
        /// The lines to insert.
        lines: Vec<String>,
    },
}

impl EditorCommand {
    /// The command's name as the agent types it.
    pub fn name(&self) -> &'static str {
        match self {
            EditorCommand::Open { .. } => "open",
            EditorCommand::Goto { .. } => "goto",
            EditorCommand::ScrollUp => "scroll_up",
            EditorCommand::ScrollDown => "scroll_down",
            EditorCommand::Create { .. } => "create",
            EditorCommand::SearchDir { .. } => "search_dir",
            EditorCommand::SearchFile { .. } => "search_file",
            EditorCommand::FindFile { .. } => "find_file",
            EditorCommand::Edit { .. } => "edit",
            EditorCommand::Insert { .. } => "insert",
        }
    }
}

/// An action that names an editor command but cannot be run. Its `Display` text is the
/// observation to show the agent (MLGym's wording where MLGym has one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `edit`/`insert` without its end marker line.
    #[error(
        "Malformed {command} command. Please ensure you use the `{marker}` keyword to mark the end of your {noun}."
    )]
    MissingEndMarker {
        /// `edit` or `insert`.
        command: &'static str,
        /// `end_of_edit` or `end_of_insert`.
        marker: &'static str,
        /// `edit` or `insertion`.
        noun: &'static str,
    },
    /// Wrong arguments; the text is the command's usage message.
    #[error("{0}")]
    Usage(String),
    /// A single-line command followed by more lines.
    #[error(
        "Error: `{0}` must be the only command in the action and fit on one line; nothing was run. Send other commands as separate actions (to put text into a file, use `edit` or `insert`)."
    )]
    ExtraLines(&'static str),
    /// Non-blank text after the `end_of_edit`/`end_of_insert` line.
    #[error(
        "Error: found more text after `{marker}`; nothing was changed. An action holds one command: send the {command} on its own and the rest as the next action."
    )]
    TextAfterEndMarker {
        /// `edit` or `insert`.
        command: &'static str,
        /// `end_of_edit` or `end_of_insert`.
        marker: &'static str,
    },
    /// Shell syntax in an editor command's arguments.
    #[error(
        "Error: `{command}` is an editor command, not a shell command, so it cannot use a {problem}; nothing was run. Its arguments are taken literally (quotes are fine): run other shell commands as a separate action."
    )]
    ShellSyntax {
        /// The editor command.
        command: &'static str,
        /// What was found.
        problem: WordsError,
    },
}

const EDITOR_COMMANDS: [&str; 12] = [
    "open",
    "goto",
    "scroll_up",
    "scroll_down",
    "create",
    "search_dir",
    "search_file",
    "find_file",
    "edit",
    "insert",
    "validate",
    "submit",
];

/// Parses one agent action (the text of its command block).
///
/// Actions whose first word is not an editor command, `validate` or `submit` become
/// [`Action::Shell`]. An `edit`/`insert` body runs up to a line consisting of
/// `end_of_edit`/`end_of_insert`; its lines are kept verbatim (backticks, quotes, `$` and
/// blank lines included).
pub fn parse_action(text: &str) -> Result<Action, ParseError> {
    let text = text.trim();
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("").trim_end_matches('\r');
    let rest: Vec<&str> = lines.map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let Some(name) = first.split_whitespace().next() else {
        return Ok(Action::Shell(text.to_string()));
    };
    let Some(&name) = EDITOR_COMMANDS.iter().find(|c| **c == name) else {
        return Ok(Action::Shell(text.to_string()));
    };
    if name == "edit" || name == "insert" {
        return parse_block(name, first, &rest);
    }
    if rest.iter().any(|l| !l.trim().is_empty()) {
        return Err(ParseError::ExtraLines(name));
    }
    let words = split_words(first).map_err(|problem| ParseError::ShellSyntax {
        command: name,
        problem,
    })?;
    let args: Vec<String> = words.into_iter().skip(1).collect();
    single_line(name, args)
}

fn usage(text: &str) -> ParseError {
    ParseError::Usage(text.to_string())
}

fn digits(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: a number too large for usize saturates (it is then out of range anyway).
    Some(s.parse().unwrap_or(usize::MAX))
}

fn single_line(name: &'static str, mut args: Vec<String>) -> Result<Action, ParseError> {
    let n = args.len();
    let cmd = match name {
        "validate" | "submit" => {
            if n > 0 {
                return Err(ParseError::Usage(format!(
                    "Usage: {name}\nError: `{name}` takes no arguments; it evaluates the submission artefact described in the task."
                )));
            }
            return Ok(if name == "validate" {
                Action::Validate
            } else {
                Action::Submit
            });
        }
        "scroll_up" | "scroll_down" => {
            if n > 0 {
                return Err(ParseError::Usage(format!(
                    "Usage: {name}\nError: `{name}` takes no arguments; use goto <line_number> to jump to a line."
                )));
            }
            if name == "scroll_up" {
                EditorCommand::ScrollUp
            } else {
                EditorCommand::ScrollDown
            }
        }
        "open" => {
            if n == 0 || args[0].is_empty() {
                return Err(usage("Usage: open \"<file>\""));
            }
            if n > 2 {
                return Err(usage("Usage: open \"<file>\" [<line_number>]"));
            }
            let line = match args.get(1) {
                None => None,
                Some(l) => Some(digits(l).ok_or_else(|| {
                    usage("Usage: open \"<file>\" [<line_number>]\nError: <line_number> must be a number")
                })?),
            };
            EditorCommand::Open {
                path: args.swap_remove(0),
                line,
            }
        }
        "goto" => {
            if n > 1 {
                return Err(usage("goto allows only one line number at a time."));
            }
            let arg = args
                .first()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| usage("Usage: goto <line>"))?;
            let line = digits(arg)
                .ok_or_else(|| usage("Usage: goto <line>\nError: <line> must be a number"))?;
            EditorCommand::Goto { line }
        }
        "create" => {
            if n != 1 || args[0].is_empty() {
                return Err(usage("Usage: create <filename>"));
            }
            EditorCommand::Create {
                path: args.swap_remove(0),
            }
        }
        "search_dir" | "find_file" => {
            if n == 0 || n > 2 {
                return Err(ParseError::Usage(if name == "search_dir" {
                    "Usage: search_dir <search_term> [<dir>]".into()
                } else {
                    "Usage: find_file <file_name> [<dir>]".into()
                }));
            }
            let dir = if n == 2 { args.pop() } else { None };
            let first = args.swap_remove(0);
            if name == "search_dir" {
                EditorCommand::SearchDir { term: first, dir }
            } else {
                EditorCommand::FindFile { name: first, dir }
            }
        }
        // search_file
        _ => {
            if n == 0 || n > 2 || args[0].is_empty() {
                return Err(usage("Usage: search_file <search_term> [<file>]"));
            }
            let file = if n == 2 { args.pop() } else { None };
            EditorCommand::SearchFile {
                term: args.swap_remove(0),
                file,
            }
        }
    };
    Ok(Action::Editor(cmd))
}

fn parse_block(name: &'static str, first: &str, rest: &[&str]) -> Result<Action, ParseError> {
    let (marker, noun) = if name == "edit" {
        ("end_of_edit", "edit")
    } else {
        ("end_of_insert", "insertion")
    };
    let Some(end) = rest.iter().position(|l| l.trim() == marker) else {
        return Err(ParseError::MissingEndMarker {
            command: name,
            marker,
            noun,
        });
    };
    if rest[end + 1..].iter().any(|l| !l.trim().is_empty()) {
        return Err(ParseError::TextAfterEndMarker {
            command: name,
            marker,
        });
    }
    let lines: Vec<String> = rest[..end].iter().map(|l| l.to_string()).collect();
    let words = split_words(first).map_err(|problem| ParseError::ShellSyntax {
        command: name,
        problem,
    })?;
    let args: Vec<String> = words.into_iter().skip(1).collect();
    let cmd = if name == "edit" {
        edit_args(args, lines)?
    } else {
        insert_args(args, lines)?
    };
    Ok(Action::Editor(cmd))
}

fn edit_args(args: Vec<String>, lines: Vec<String>) -> Result<EditorCommand, ParseError> {
    const USAGE: &str = "Usage: edit <start_line>:<end_line>";
    let (ranges, others): (Vec<String>, Vec<String>) =
        args.into_iter().partition(|a| a.contains(':'));
    if ranges.len() != 1 {
        return Err(usage(USAGE));
    }
    if others.len() > 1 {
        return Err(ParseError::Usage(format!(
            "{USAGE} [<file>]\nError: edit takes at most one file name, got {}",
            others.len()
        )));
    }
    let mut parts = ranges[0].split(':');
    let start = parts.next().unwrap_or("");
    let end = parts.next().unwrap_or("");
    if start.is_empty() || end.is_empty() {
        return Err(usage(USAGE));
    }
    let start = digits(start)
        .ok_or_else(|| ParseError::Usage(format!("{USAGE}\nError: start_line must be a number")))?;
    let end = digits(end)
        .ok_or_else(|| ParseError::Usage(format!("{USAGE}\nError: end_line must be a number")))?;
    Ok(EditorCommand::Edit {
        file: others.into_iter().next(),
        start,
        end,
        lines,
    })
}

fn insert_args(args: Vec<String>, lines: Vec<String>) -> Result<EditorCommand, ParseError> {
    const USAGE: &str = "Usage: insert <line_number>";
    let not_a_number =
        || ParseError::Usage(format!("{USAGE}\nError: line_number must be a number"));
    match args.as_slice() {
        [] => Err(usage(USAGE)),
        [only] if only.is_empty() => Err(usage(USAGE)),
        [only] => {
            let after = digits(only).ok_or_else(not_a_number)?;
            Ok(EditorCommand::Insert {
                file: None,
                after,
                lines,
            })
        }
        [a, b] => {
            let (after, file) = match (digits(a), digits(b)) {
                (Some(n), _) => (n, b.clone()),
                (None, Some(n)) => (n, a.clone()),
                (None, None) => return Err(not_a_number()),
            };
            Ok(EditorCommand::Insert {
                file: Some(file),
                after,
                lines,
            })
        }
        _ => Err(ParseError::Usage(format!(
            "{USAGE} [<file>]\nError: insert takes a line number and at most one file name"
        ))),
    }
}
