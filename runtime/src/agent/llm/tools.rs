//! Native tool (function) calling, with `--tool-calls`: one tool per editor command,
//! plus `bash`, `validate` and `submit`. A tool call is turned back into the command
//! text the runner expects and returned as a DISCUSSION plus one fenced block, so the
//! runner's parser, requery loop and records work unchanged. Several tool calls in one
//! response become several blocks, which the runner rejects as it rejects several
//! blocks (the model is asked again for exactly one command).

use serde_json::{json, Value};

/// A tool parameter.
#[derive(Debug)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// JSON-schema type: `string` or `integer`.
    pub kind: &'static str,
    /// Required?
    pub required: bool,
    /// Description.
    pub about: &'static str,
}

/// A declared tool.
#[derive(Debug)]
pub struct ToolSpec {
    /// Name (= the command).
    pub name: &'static str,
    /// Description.
    pub about: &'static str,
    /// Parameters.
    pub params: &'static [Param],
}

const fn p(name: &'static str, kind: &'static str, required: bool, about: &'static str) -> Param {
    Param {
        name,
        kind,
        required,
        about,
    }
}

/// Every tool.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec { name: "bash", about: "Runs one shell command line in the workspace's shell (non-interactive) and returns its output.", params: &[p("command", "string", true, "the command line")] },
    ToolSpec { name: "open", about: "Opens a file in the editor window, optionally at a line.", params: &[p("path", "string", true, "the file"), p("line_number", "integer", false, "a line to show")] },
    ToolSpec { name: "goto", about: "Moves the editor window of the open file to a line.", params: &[p("line_number", "integer", true, "the line to show")] },
    ToolSpec { name: "scroll_down", about: "Moves the editor window of the open file down.", params: &[] },
    ToolSpec { name: "scroll_up", about: "Moves the editor window of the open file up.", params: &[] },
    ToolSpec { name: "create", about: "Creates a new empty file and opens it.", params: &[p("filename", "string", true, "the file to create")] },
    ToolSpec {
        name: "search_dir",
        about: "Lists the files under a directory that contain a search term, with match counts.",
        params: &[p("search_term", "string", true, "grep basic regular expression"), p("dir", "string", false, "directory (default: current)")],
    },
    ToolSpec {
        name: "search_file",
        about: "Prints the numbered lines of a file (default: the open file) that contain a search term.",
        params: &[p("search_term", "string", true, "grep basic regular expression"), p("file", "string", false, "file (default: the open file)")],
    },
    ToolSpec {
        name: "find_file",
        about: "Lists the files under a directory whose name matches.",
        params: &[p("file_name", "string", true, "name or shell pattern"), p("dir", "string", false, "directory (default: current)")],
    },
    ToolSpec {
        name: "edit",
        about: "Replaces lines start_line..end_line (inclusive) of the open file (or `file`) with replacement_text, used exactly as given (indent it). An empty text deletes the lines.",
        params: &[
            p("start_line", "integer", true, "first line replaced"),
            p("end_line", "integer", true, "last line replaced"),
            p("replacement_text", "string", true, "the new lines"),
            p("file", "string", false, "file to edit (default: the open file)"),
        ],
    },
    ToolSpec {
        name: "insert",
        about: "Inserts text_to_add after line line_number (0: at the top) of the open file (or `file`).",
        params: &[
            p("line_number", "integer", true, "line after which the text goes"),
            p("text_to_add", "string", true, "the lines to insert"),
            p("file", "string", false, "file to insert into (default: the open file)"),
        ],
    },
    ToolSpec { name: "validate", about: "Scores the current submission artefact without ending the episode.", params: &[] },
    ToolSpec { name: "submit", about: "Scores the submission artefact and ends the episode.", params: &[] },
];

/// Added to the system prompt when tools are declared.
pub const TOOL_NOTE: &str = "\n\nTOOLS: the commands are also available as tools. In each response you may call exactly one tool instead of writing the fenced code block (write your DISCUSSION as ordinary text next to the call). Use the `bash` tool for any other shell command.";

fn schema(spec: &ToolSpec) -> Value {
    let props: serde_json::Map<String, Value> = spec
        .params
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                json!({ "type": p.kind, "description": p.about }),
            )
        })
        .collect();
    let required: Vec<&str> = spec
        .params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    json!({ "type": "object", "properties": props, "required": required })
}

/// The `tools` list of an OpenAI chat request.
pub fn openai_tools() -> Value {
    Value::Array(TOOLS.iter().map(|t| json!({ "type": "function", "function": { "name": t.name, "description": t.about, "parameters": schema(t) } })).collect())
}

/// The `tools` list of an Anthropic Messages request.
pub fn anthropic_tools() -> Value {
    Value::Array(
        TOOLS
            .iter()
            .map(|t| json!({ "name": t.name, "description": t.about, "input_schema": schema(t) }))
            .collect(),
    )
}

/// A tool call from a response.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    /// Tool name.
    pub name: String,
    /// Arguments (an object), or why they could not be read.
    pub arguments: Result<Value, String>,
}

/// Quotes a word for the editor commands' word splitter (single quotes; `'` as `'\''`).
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-+=,%@".contains(c))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn arg<'a>(args: &'a Value, name: &str) -> Option<&'a Value> {
    args.get(name).filter(|v| !v.is_null())
}

fn text(args: &Value, name: &str) -> Result<Option<String>, String> {
    match arg(args, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ Value::Number(_)) => Ok(Some(v.to_string())),
        Some(_) => Err(format!("argument `{name}` must be a string")),
    }
}

fn number(args: &Value, name: &str) -> Result<Option<u64>, String> {
    match arg(args, name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("argument `{name}` must be a whole number ≥ 0")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("argument `{name}` must be a whole number ≥ 0")),
        Some(_) => Err(format!("argument `{name}` must be a whole number")),
    }
}

fn need<T>(v: Option<T>, name: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("missing required argument `{name}`"))
}

fn block_text(text: &str) -> String {
    let t = text.strip_suffix('\n').unwrap_or(text);
    if t.is_empty() {
        String::new()
    } else {
        format!("{t}\n")
    }
}

/// The command text for a tool call.
pub fn to_action(call: &ToolCall) -> Result<String, String> {
    let args = call
        .arguments
        .as_ref()
        .map_err(|e| format!("its arguments are not a JSON object ({e})"))?;
    let with_opt = |mut line: String, opt: Option<String>| {
        if let Some(o) = opt {
            line.push(' ');
            line.push_str(&quote(&o));
        }
        line
    };
    Ok(match call.name.as_str() {
        "bash" => need(text(args, "command")?, "command")?,
        "open" => {
            let line = format!("open {}", quote(&need(text(args, "path")?, "path")?));
            with_opt(line, number(args, "line_number")?.map(|n| n.to_string()))
        }
        "goto" => format!(
            "goto {}",
            need(number(args, "line_number")?, "line_number")?
        ),
        "scroll_down" | "scroll_up" | "validate" | "submit" => call.name.clone(),
        "create" => format!(
            "create {}",
            quote(&need(text(args, "filename")?, "filename")?)
        ),
        "search_dir" => with_opt(
            format!(
                "search_dir {}",
                quote(&need(text(args, "search_term")?, "search_term")?)
            ),
            text(args, "dir")?,
        ),
        "search_file" => with_opt(
            format!(
                "search_file {}",
                quote(&need(text(args, "search_term")?, "search_term")?)
            ),
            text(args, "file")?,
        ),
        "find_file" => with_opt(
            format!(
                "find_file {}",
                quote(&need(text(args, "file_name")?, "file_name")?)
            ),
            text(args, "dir")?,
        ),
        "edit" => {
            let s = need(number(args, "start_line")?, "start_line")?;
            let e = need(number(args, "end_line")?, "end_line")?;
            let body = need(text(args, "replacement_text")?, "replacement_text")?;
            format!(
                "{}\n{}end_of_edit",
                with_opt(format!("edit {s}:{e}"), text(args, "file")?),
                block_text(&body)
            )
        }
        "insert" => {
            let n = need(number(args, "line_number")?, "line_number")?;
            let body = need(text(args, "text_to_add")?, "text_to_add")?;
            format!(
                "{}\n{}end_of_insert",
                with_opt(format!("insert {n}"), text(args, "file")?),
                block_text(&body)
            )
        }
        other => return Err(format!("there is no tool `{other}`")),
    })
}

/// The response text for a reply with `text` and `calls`: the text as the DISCUSSION,
/// then one fenced block per call. A call that cannot be turned into a command, or
/// whose command cannot be fenced, yields a response without a block that explains why
/// (the runner then asks again).
pub fn render_response(text: &str, calls: &[ToolCall]) -> String {
    if calls.is_empty() {
        return text.to_string();
    }
    let discussion = text.trim();
    let mut out = if discussion.starts_with("DISCUSSION") {
        discussion.to_string()
    } else {
        format!("DISCUSSION\n{discussion}")
    };
    out.push('\n');
    for call in calls {
        let action = match to_action(call) {
            Ok(a) => a,
            Err(why) => {
                return format!(
                    "{out}\nThe tool call `{}` could not be used: {why}.",
                    call.name
                )
            }
        };
        let block = format!("\n```\n{}\n```\n", action.trim_end_matches('\n'));
        let fenced_ok = crate::agent::parse::thought_action(&block)
            .is_ok_and(|(_, a)| a.trim_end() == action.trim_end());
        if !fenced_ok {
            return format!("{out}\nThe tool call `{}` could not be used: its text contains a line of three backticks, which cannot be sent as one command.", call.name);
        }
        out.push_str(&block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::parse::thought_action;

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall {
            name: name.into(),
            arguments: Ok(args),
        }
    }

    #[test]
    fn tools_cover_every_documented_command() {
        let docs = crate::commands::command_docs();
        for t in TOOLS.iter().filter(|t| t.name != "bash") {
            assert!(
                docs.contains(&format!("{}:\n", t.name)),
                "{} is not a command",
                t.name
            );
        }
        assert_eq!(openai_tools().as_array().unwrap().len(), TOOLS.len());
        assert_eq!(
            anthropic_tools()[0]["input_schema"]["required"][0],
            "command"
        );
    }

    #[test]
    fn calls_become_runner_actions() {
        let cases = [
            (
                call("bash", json!({"command": "ls -la | head"})),
                "ls -la | head",
            ),
            (
                call("open", json!({"path": "my file.py", "line_number": 30})),
                "open 'my file.py' 30",
            ),
            (call("goto", json!({"line_number": "12"})), "goto 12"),
            (
                call("search_dir", json!({"search_term": "it's", "dir": "src"})),
                r"search_dir 'it'\''s' src",
            ),
            (call("submit", json!({})), "submit"),
            (
                call(
                    "edit",
                    json!({"start_line": 1, "end_line": 2, "replacement_text": "x = 1\n    y = '''```python'''\n"}),
                ),
                "edit 1:2\nx = 1\n    y = '''```python'''\nend_of_edit",
            ),
            (
                call(
                    "insert",
                    json!({"line_number": 0, "text_to_add": "", "file": "a.py"}),
                ),
                "insert 0 a.py\nend_of_insert",
            ),
        ];
        for (c, want) in cases {
            assert_eq!(to_action(&c).unwrap(), want);
            let r = render_response("I act.", &[c]);
            let (thought, action) = thought_action(&r).unwrap();
            assert_eq!(action.trim_end(), want);
            assert!(thought.starts_with("DISCUSSION\nI act."));
        }
        use crate::commands::{parse_action, Action, EditorCommand};
        let a = parse_action(r"search_dir 'it'\''s' src").unwrap();
        assert_eq!(
            a,
            Action::Editor(EditorCommand::SearchDir {
                term: "it's".into(),
                dir: Some("src".into())
            })
        );
        let a = parse_action("open 'my file.py' 30").unwrap();
        assert_eq!(
            a,
            Action::Editor(EditorCommand::Open {
                path: "my file.py".into(),
                line: Some(30)
            })
        );
    }

    #[test]
    fn bad_calls_explain_without_a_block() {
        let r = render_response("", &[call("goto", json!({}))]);
        assert!(
            thought_action(&r).is_err() && r.contains("line_number"),
            "{r}"
        );
        let r = render_response("", &[call("rm_rf", json!({}))]);
        assert!(r.contains("no tool `rm_rf`"));
        let r = render_response(
            "",
            &[call("bash", json!({"command": "cat <<EOF\n```\nEOF"}))],
        );
        assert!(thought_action(&r).is_err(), "{r}");
        let two = render_response(
            "x",
            &[call("validate", json!({})), call("submit", json!({}))],
        );
        assert_eq!(
            thought_action(&two).unwrap_err(),
            crate::agent::parse::FormatError::TooMany
        );
    }
}
