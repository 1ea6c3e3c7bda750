//! The COMMANDS section of the system prompt: every command's docstring, signature and
//! arguments, laid out as MLGym's generated command docs are (our own wording).

use super::state::DEFAULT_WINDOW;

struct Arg {
    name: &'static str,
    kind: &'static str,
    required: bool,
    about: &'static str,
}

struct Doc {
    name: &'static str,
    signature: &'static str,
    docstring: &'static str,
    args: &'static [Arg],
}

const fn arg(name: &'static str, kind: &'static str, required: bool, about: &'static str) -> Arg {
    Arg {
        name,
        kind,
        required,
        about,
    }
}

const DOCS: &[Doc] = &[
    Doc {
        name: "open",
        signature: "open \"<path>\" [<line_number>]",
        docstring: "shows the file at <path> in the editor window ({WINDOW} lines at a time) and makes it the open file. With <line_number>, the window is moved so that this line is visible",
        args: &[
            arg("path", "string", true, "the file to open"),
            arg("line_number", "integer", false, "a line to show (without it, the window starts at the top of the file)"),
        ],
    },
    Doc {
        name: "goto",
        signature: "goto <line_number>",
        docstring: "moves the window of the open file so that <line_number> is visible",
        args: &[arg("line_number", "integer", true, "the line to show")],
    },
    Doc {
        name: "scroll_down",
        signature: "scroll_down",
        docstring: "moves the window of the open file down by {WINDOW} lines",
        args: &[],
    },
    Doc {
        name: "scroll_up",
        signature: "scroll_up",
        docstring: "moves the window of the open file up by {WINDOW} lines",
        args: &[],
    },
    Doc {
        name: "create",
        signature: "create <filename>",
        docstring: "creates a new, empty file and opens it; use insert or edit afterwards to add its content",
        args: &[arg("filename", "string", true, "the file to create")],
    },
    Doc {
        name: "search_dir",
        signature: "search_dir <search_term> [<dir>]",
        docstring: "lists the files below <dir> (default: the current directory) that contain <search_term> (a grep basic regular expression), with the number of matching lines in each. Hidden and binary files are skipped",
        args: &[
            arg("search_term", "string", true, "what to look for"),
            arg("dir", "string", false, "where to look (default: the current directory)"),
        ],
    },
    Doc {
        name: "search_file",
        signature: "search_file <search_term> [<file>]",
        docstring: "prints the numbered lines of <file> (default: the open file) that contain <search_term> (a grep basic regular expression)",
        args: &[
            arg("search_term", "string", true, "what to look for"),
            arg("file", "string", false, "the file to search (default: the open file)"),
        ],
    },
    Doc {
        name: "find_file",
        signature: "find_file <file_name> [<dir>]",
        docstring: "lists the files below <dir> (default: the current directory) whose name is <file_name>; shell patterns such as \"*.py\" work",
        args: &[
            arg("file_name", "string", true, "the name or pattern to look for"),
            arg("dir", "string", false, "where to look (default: the current directory)"),
        ],
    },
    Doc {
        name: "edit",
        signature: "edit <start_line>:<end_line>\n<replacement_text>\nend_of_edit",
        docstring: "replaces lines <start_line> to <end_line> (both included) of the open file with <replacement_text>, which ends at a line holding only end_of_edit. An empty replacement deletes the lines. To edit another file, name it after the line range (edit <start_line>:<end_line> <file>); it becomes the open file. The text is used exactly as written, so indent it correctly. Python files are checked after the change: if it adds syntax errors or undefined names, nothing is changed and the errors are shown; correct the command rather than repeating it. Read-only files cannot be edited",
        args: &[
            arg("start_line", "integer", true, "the first line to replace"),
            arg("end_line", "integer", true, "the last line to replace (included)"),
            arg("replacement_text", "string", true, "the new lines"),
        ],
    },
    Doc {
        name: "insert",
        signature: "insert <line_number>\n<text_to_add>\nend_of_insert",
        docstring: "inserts <text_to_add> after line <line_number> of the open file (0 inserts at the top); the text ends at a line holding only end_of_insert. To insert into another file, name it after the line number; it becomes the open file. The text is used exactly as written, so indent it correctly. Python files are checked as for edit, and nothing is changed if the insertion adds errors",
        args: &[
            arg("line_number", "integer", true, "the line after which the text goes"),
            arg("text_to_add", "string", true, "the lines to insert"),
        ],
    },
    Doc {
        name: "submit",
        signature: "submit",
        docstring: "evaluates your submission artefact one last time and ends the session",
        args: &[],
    },
    Doc {
        name: "validate",
        signature: "validate",
        docstring: "evaluates your current submission artefact and shows its score without ending the session",
        args: &[],
    },
];

/// The COMMANDS section for the system prompt, for MLGym's default window of 1000 lines.
pub fn command_docs() -> String {
    command_docs_for_window(DEFAULT_WINDOW)
}

/// The COMMANDS section for a given window height.
pub fn command_docs_for_window(window: usize) -> String {
    let mut out = String::new();
    for doc in DOCS {
        out.push_str(&format!(
            "{}:\n  docstring: {}\n  signature: {}\n",
            doc.name,
            doc.docstring.replace("{WINDOW}", &window.to_string()),
            doc.signature
        ));
        if !doc.args.is_empty() {
            out.push_str("  arguments:\n");
            for a in doc.args {
                let need = if a.required { "required" } else { "optional" };
                out.push_str(&format!(
                    "    - {} ({}) [{need}]: {}\n",
                    a.name, a.kind, a.about
                ));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_cover_every_command() {
        let docs = command_docs();
        for name in [
            "open",
            "goto",
            "scroll_down",
            "scroll_up",
            "create",
            "search_dir",
            "search_file",
            "find_file",
            "edit",
            "insert",
            "submit",
            "validate",
        ] {
            assert!(
                docs.contains(&format!("\n{name}:\n")) || docs.starts_with(&format!("{name}:\n"))
            );
        }
        assert!(docs.contains("moves the window of the open file up by 1000 lines"));
        assert!(command_docs_for_window(50).contains("down by 50 lines"));
        assert!(docs.contains(
            "  signature: edit <start_line>:<end_line>\n<replacement_text>\nend_of_edit\n"
        ));
    }
}
