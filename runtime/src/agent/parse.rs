//! MLGym's default response format: a discussion followed by exactly one fenced code
//! block holding one command. The action is the block's content; the thought is
//! everything else.

/// Why a response has no usable action. The text is sent back to the model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// No fenced block.
    #[error("No action found in model response.")]
    NoAction,
    /// More than one complete fenced block.
    #[error("Found more than one code block in the response. Please include exactly one code block with exactly one command.")]
    TooMany,
}

fn is_open(line: &str) -> bool {
    let t = line.trim_end();
    t.starts_with("```") && !t[3..].contains('`') && t.len() > 3 || t == "```"
}

fn is_close(line: &str) -> bool {
    line.trim_end() == "```"
}

/// Splits `response` into `(thought, action)`.
///
/// Fences nest (an opening fence with a language tag opens, a bare fence closes the
/// innermost one, a bare fence with nothing open opens); the last top-level block is the
/// action. The action keeps a trailing newline, as MLGym stores it.
pub fn thought_action(response: &str) -> Result<(String, String), FormatError> {
    let lines: Vec<&str> = response.split_inclusive('\n').collect();
    let mut stack: Vec<usize> = Vec::new();
    let mut blocks: Vec<(usize, usize)> = Vec::new(); // (open line, close line), top level
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim_end_matches(['\n', '\r']);
        if is_close(l) && !stack.is_empty() {
            let open = stack.pop().unwrap_or(0);
            if stack.is_empty() {
                blocks.push((open, i));
            }
        } else if is_open(l) && l.trim_start() == l {
            stack.push(i);
        }
    }
    if blocks.len() > 1 {
        return Err(FormatError::TooMany);
    }
    let Some(&(open, close)) = blocks.last() else {
        return Err(FormatError::NoAction);
    };
    let action: String = lines[open + 1..close].concat();
    let thought: String = lines[..open].concat() + &lines[close + 1..].concat();
    Ok((thought, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_discussion_and_command() {
        let r = "DISCUSSION\nLet's look.\n\n```\nls -la\n```";
        let (t, a) = thought_action(r).unwrap();
        assert_eq!(a, "ls -la\n");
        assert_eq!(t, "DISCUSSION\nLet's look.\n\n");
    }

    #[test]
    fn keeps_inner_fences_of_an_edit() {
        let r = "DISCUSSION\nEdit.\n```\nedit 1:2\nx = '''\n```python\ncode\n```\n'''\nend_of_edit\n```\n";
        let (_, a) = thought_action(r).unwrap();
        assert!(
            a.starts_with("edit 1:2\n") && a.ends_with("end_of_edit\n"),
            "{a:?}"
        );
    }

    #[test]
    fn rejects_none_or_two_blocks() {
        assert_eq!(
            thought_action("just talk").unwrap_err(),
            FormatError::NoAction
        );
        assert_eq!(
            thought_action("```\nls\n```\nand\n```\npwd\n```").unwrap_err(),
            FormatError::TooMany
        );
    }
}
