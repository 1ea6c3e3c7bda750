//! Splits the argument line of an editor command into words the way bash would for simple
//! words: whitespace separates, `'...'` and `"..."` quote, a backslash escapes, and an
//! unquoted `#` at the start of a word starts a comment.
//!
//! Editor commands run natively rather than in bash, so shell syntax that would need a
//! shell (pipes, `;`, `&&`, redirections, command substitution, `$VAR`) is refused with a
//! [`WordsError`] instead of being silently taken literally. Globs are not expanded: `*`
//! reaches `find_file` as typed.

/// Shell syntax the editor commands cannot honour.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    /// A quote was opened and never closed.
    #[error("unterminated {0} quote")]
    Unterminated(&'static str),
    /// An unquoted shell operator such as `|`, `;`, `&&`, `>` or a backtick.
    #[error("shell operator `{0}`")]
    Operator(char),
    /// A `$VAR`, `${...}` or `$(...)` expansion.
    #[error("shell expansion `${0}`")]
    Expansion(char),
}

/// Splits `line` into words.
pub fn split_words(line: &str) -> Result<Vec<String>, WordsError> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                let end = chars[i..]
                    .iter()
                    .position(|&x| x == '\'')
                    .ok_or(WordsError::Unterminated("single"))?;
                word.extend(&chars[i..i + end]);
                i += end + 1;
            }
            '"' => {
                in_word = true;
                loop {
                    let Some(&d) = chars.get(i) else {
                        return Err(WordsError::Unterminated("double"));
                    };
                    i += 1;
                    match d {
                        '"' => break,
                        '\\' if matches!(chars.get(i), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i]);
                            i += 1;
                        }
                        '$' => {
                            check_dollar(chars.get(i))?;
                            word.push('$');
                        }
                        '`' => return Err(WordsError::Operator('`')),
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(&next) = chars.get(i) {
                    word.push(next);
                    i += 1;
                }
            }
            '|' | '&' | ';' | '<' | '>' | '`' | '(' | ')' => return Err(WordsError::Operator(c)),
            '$' => {
                in_word = true;
                check_dollar(chars.get(i))?;
                word.push('$');
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A `$` is literal unless bash would expand it (`$name`, `${`, `$(`, `$1`, ...).
fn check_dollar(next: Option<&char>) -> Result<(), WordsError> {
    match next {
        Some(&c)
            if c.is_ascii_alphanumeric()
                || matches!(c, '_' | '{' | '(' | '@' | '*' | '#' | '?' | '!' | '$') =>
        {
            Err(WordsError::Expansion(c))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s).unwrap()
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w(r#"open "my file.py" 3"#), ["open", "my file.py", "3"]);
        assert_eq!(
            w("search_dir 'a \"b\"' dir"),
            ["search_dir", "a \"b\"", "dir"]
        );
        assert_eq!(
            w(r#"search_file "say \"hi\"""#),
            ["search_file", "say \"hi\""]
        );
        assert_eq!(w(r"find_file a\ b.py"), ["find_file", "a b.py"]);
        assert_eq!(w(r#"x "a"'b'c"#), ["x", "abc"]);
        assert_eq!(w(r#"x """#), ["x", ""]);
        assert_eq!(w("open a.py   # look at it"), ["open", "a.py"]);
        assert_eq!(w("search_file a#b"), ["search_file", "a#b"]);
        assert_eq!(w(r#"search_file "price$""#), ["search_file", "price$"]);
        assert_eq!(w("find_file *.py"), ["find_file", "*.py"]);
    }

    #[test]
    fn shell_syntax_is_refused() {
        assert_eq!(
            split_words("open a.py && ls"),
            Err(WordsError::Operator('&'))
        );
        assert_eq!(
            split_words("open a.py | head"),
            Err(WordsError::Operator('|'))
        );
        assert_eq!(split_words("open $FILE"), Err(WordsError::Expansion('F')));
        assert_eq!(
            split_words("open \"$(pwd)/a\""),
            Err(WordsError::Expansion('('))
        );
        assert_eq!(
            split_words("open 'a.py"),
            Err(WordsError::Unterminated("single"))
        );
        assert!(split_words("open 'a | b'").is_ok());
    }
}
