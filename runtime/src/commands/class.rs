//! Bracket expressions (`[a-z]`, `[^0-9]`, `[[:alpha:]]`), shared by the grep patterns of
//! `search_dir`/`search_file` and the shell globs of `find_file`.

/// A bracket expression that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClassError {
    /// No closing `]`.
    #[error("Unmatched [, [^, [:, [., or [=")]
    Unmatched,
    /// `[:name:]` with an unknown name.
    #[error("Invalid character class name `{0}`")]
    UnknownName(String),
    /// A range whose end is before its start.
    #[error("Invalid range end")]
    BadRange,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Char(char),
    Range(char, char),
    Named(Named),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Named {
    Alpha,
    Digit,
    Alnum,
    Upper,
    Lower,
    Space,
    Blank,
    Punct,
    Print,
    Graph,
    Cntrl,
    Xdigit,
    Word,
}

impl Named {
    fn from_name(name: &str) -> Option<Named> {
        Some(match name {
            "alpha" => Named::Alpha,
            "digit" => Named::Digit,
            "alnum" => Named::Alnum,
            "upper" => Named::Upper,
            "lower" => Named::Lower,
            "space" => Named::Space,
            "blank" => Named::Blank,
            "punct" => Named::Punct,
            "print" => Named::Print,
            "graph" => Named::Graph,
            "cntrl" => Named::Cntrl,
            "xdigit" => Named::Xdigit,
            "word" => Named::Word,
            _ => return None,
        })
    }

    fn matches(self, c: char) -> bool {
        match self {
            Named::Alpha => c.is_alphabetic(),
            Named::Digit => c.is_ascii_digit(),
            Named::Alnum => c.is_alphanumeric(),
            Named::Upper => c.is_uppercase(),
            Named::Lower => c.is_lowercase(),
            Named::Space => c.is_whitespace(),
            Named::Blank => c == ' ' || c == '\t',
            Named::Punct => c.is_ascii_punctuation(),
            Named::Print => !c.is_control(),
            Named::Graph => !c.is_control() && !c.is_whitespace(),
            Named::Cntrl => c.is_control(),
            Named::Xdigit => c.is_ascii_hexdigit(),
            Named::Word => c.is_alphanumeric() || c == '_',
        }
    }
}

/// A set of characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharClass {
    negated: bool,
    items: Vec<Item>,
}

impl CharClass {
    /// A named class such as `word` or `space` (used for `\w`, `\s` and their negations).
    /// Unknown names give an empty class.
    pub fn named(name: &str, negated: bool) -> CharClass {
        CharClass {
            negated,
            items: Named::from_name(name)
                .map(Item::Named)
                .into_iter()
                .collect(),
        }
    }

    /// Whether `c` belongs to the set.
    pub fn matches(&self, c: char) -> bool {
        let hit = self.items.iter().any(|item| match item {
            Item::Char(x) => *x == c,
            Item::Range(a, b) => (*a..=*b).contains(&c),
            Item::Named(n) => n.matches(c),
        });
        hit != self.negated
    }
}

/// Parses a bracket expression whose `[` is just before `start`; returns the class and the
/// position after the closing `]`. With `glob`, `!` also negates (as in shell patterns) and
/// a backslash escapes the next character; in grep patterns a backslash is literal.
pub fn parse_bracket(
    chars: &[char],
    start: usize,
    glob: bool,
) -> Result<(CharClass, usize), ClassError> {
    let mut pos = start;
    let mut negated = false;
    if matches!(chars.get(pos), Some('^')) || (glob && matches!(chars.get(pos), Some('!'))) {
        negated = true;
        pos += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(pos) else {
            return Err(ClassError::Unmatched);
        };
        if c == ']' && !first {
            return Ok((CharClass { negated, items }, pos + 1));
        }
        first = false;
        if c == '[' && matches!(chars.get(pos + 1), Some(':') | Some('=') | Some('.')) {
            let delim = chars[pos + 1];
            let body_start = pos + 2;
            let mut end = body_start;
            while end + 1 < chars.len() && !(chars[end] == delim && chars[end + 1] == ']') {
                end += 1;
            }
            if end + 1 >= chars.len() {
                return Err(ClassError::Unmatched);
            }
            let body: String = chars[body_start..end].iter().collect();
            pos = end + 2;
            if delim == ':' {
                let named =
                    Named::from_name(&body).ok_or_else(|| ClassError::UnknownName(body.clone()))?;
                items.push(Item::Named(named));
            } else {
                items.extend(body.chars().map(Item::Char));
            }
            continue;
        }
        let (lo, next) = bracket_char(chars, pos, glob);
        pos = next;
        if chars.get(pos) == Some(&'-') && chars.get(pos + 1).is_some_and(|c| *c != ']') {
            let (hi, next) = bracket_char(chars, pos + 1, glob);
            if hi < lo {
                return Err(ClassError::BadRange);
            }
            items.push(Item::Range(lo, hi));
            pos = next;
        } else {
            items.push(Item::Char(lo));
        }
    }
}

fn bracket_char(chars: &[char], pos: usize, glob: bool) -> (char, usize) {
    if glob && chars[pos] == '\\' {
        if let Some(&escaped) = chars.get(pos + 1) {
            return (escaped, pos + 2);
        }
    }
    (chars[pos], pos + 1)
}

/// Whether a file name matches a shell glob (`*`, `?`, `[...]`, `\x`), as `find -name` does.
/// Returns an error for a malformed bracket expression.
pub fn glob_matches(pattern: &str, name: &str) -> Result<bool, ClassError> {
    enum Tok {
        Star,
        One,
        Lit(char),
        Set(CharClass),
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        toks.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            '\\' if i < chars.len() => {
                i += 1;
                Tok::Lit(chars[i - 1])
            }
            '[' => match parse_bracket(&chars, i, true) {
                Ok((class, next)) => {
                    i = next;
                    Tok::Set(class)
                }
                // fnmatch treats an unterminated `[` as a literal.
                Err(ClassError::Unmatched) => Tok::Lit('['),
                Err(e) => return Err(e),
            },
            other => Tok::Lit(other),
        });
    }
    let text: Vec<char> = name.chars().collect();
    let one = |tok: &Tok, c: char| match tok {
        Tok::One => true,
        Tok::Lit(x) => *x == c,
        Tok::Set(class) => class.matches(c),
        Tok::Star => false,
    };
    // Classic wildcard matching with one backtrack point for the last `*`.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < toks.len() && matches!(toks[p], Tok::Star) {
            star = Some((p, t));
            p += 1;
        } else if p < toks.len() && one(&toks[p], text[t]) {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return Ok(false);
        }
    }
    while p < toks.len() && matches!(toks[p], Tok::Star) {
        p += 1;
    }
    Ok(p == toks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_find_name() {
        let g = |p: &str, n: &str| glob_matches(p, n).unwrap();
        assert!(g("*.py", "train.py"));
        assert!(!g("*.py", "train.pyc"));
        assert!(g("strategy.py", "strategy.py"));
        assert!(!g("strategy.py", "my_strategy.py"));
        assert!(g("?odel*.p[yt]", "model_v2.pt"));
        assert!(g("[!a]*", "bcd") && !g("[!a]*", "abc"));
        assert!(g("a\\*b", "a*b") && !g("a\\*b", "axb"));
        assert!(g("*", ".hidden"));
        assert!(g("x[", "x["));
    }

    #[test]
    fn bracket_classes() {
        let chars: Vec<char> = "[:digit:]_]".chars().collect();
        let (class, next) = parse_bracket(&chars, 0, false).unwrap();
        assert_eq!(next, chars.len());
        assert!(class.matches('7') && class.matches('_') && !class.matches('a'));
        let bad: Vec<char> = "[:nope:]]".chars().collect();
        assert!(matches!(
            parse_bracket(&bad, 0, false),
            Err(ClassError::UnknownName(_))
        ));
        let range: Vec<char> = "z-a]".chars().collect();
        assert_eq!(parse_bracket(&range, 0, false), Err(ClassError::BadRange));
    }
}
