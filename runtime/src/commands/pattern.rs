//! Line matching for `search_dir` and `search_file`: GNU grep's basic regular expressions
//! (BRE), matched with a Thompson NFA simulation so that no pattern can take exponential
//! time. Back-references (`\1`) are not supported.
//!
//! Supported: literals, `.`, `[...]` (ranges, negation, `[:alpha:]`-style classes), `*`,
//! `\+`, `\?`, `\{m,n\}`, `\(...\)`, `\|`, `^` / `$` anchors, `\<`, `\>`, `\b`, `\B`,
//! `\w`, `\W`, `\s`, `\S`. As in grep, `+ ? { } | ( )` without a backslash are literals.

use super::class::{parse_bracket, CharClass};

/// Largest repetition count in `\{m,n\}` (grep's `RE_DUP_MAX` is larger; ours bounds
/// the compiled program).
const MAX_REPEAT: u32 = 1000;
/// Largest compiled program, in instructions.
const MAX_PROGRAM: usize = 100_000;

/// A pattern that could not be compiled; the message reads like grep's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assertion {
    LineStart,
    LineEnd,
    WordBoundary,
    NotWordBoundary,
    WordStart,
    WordEnd,
}

#[derive(Clone, Debug)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(CharClass),
    Assert(Assertion),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

#[derive(Clone, Debug)]
enum Inst {
    Char(char),
    Any,
    Class(usize),
    Assert(Assertion),
    Split(usize, usize),
    Jump(usize),
    Match,
}

/// A compiled basic regular expression.
#[derive(Clone, Debug)]
pub struct Pattern {
    literal: Option<String>,
    program: Vec<Inst>,
    classes: Vec<CharClass>,
}

impl Pattern {
    /// Compiles `source` as a grep basic regular expression.
    pub fn new(source: &str) -> Result<Pattern, PatternError> {
        let chars: Vec<char> = source.chars().collect();
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
            depth: 0,
        };
        let node = parser.alternation()?;
        if parser.pos < chars.len() {
            return Err(PatternError("Unmatched ) or \\)".into()));
        }
        let literal = literal_of(&node);
        let mut compiler = Compiler {
            program: Vec::new(),
            classes: Vec::new(),
        };
        compiler.emit_node(&node)?;
        compiler.push(Inst::Match)?;
        Ok(Pattern {
            literal,
            program: compiler.program,
            classes: compiler.classes,
        })
    }

    /// Whether the pattern matches somewhere in `line` (which has no line terminator).
    pub fn is_match(&self, line: &str) -> bool {
        if let Some(lit) = &self.literal {
            return line.contains(lit.as_str());
        }
        let text: Vec<char> = line.chars().collect();
        let mut current = ThreadList::new(self.program.len());
        let mut next = ThreadList::new(self.program.len());
        for pos in 0..=text.len() {
            if self.add_thread(&mut current, 0, pos, &text) {
                return true;
            }
            let Some(&c) = text.get(pos) else { break };
            for i in 0..current.dense.len() {
                let pc = current.dense[i];
                let advances = match &self.program[pc] {
                    Inst::Char(x) => *x == c,
                    Inst::Any => true,
                    Inst::Class(k) => self.classes[*k].matches(c),
                    _ => false,
                };
                if advances && self.add_thread(&mut next, pc + 1, pos + 1, &text) {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
        }
        false
    }

    /// Adds `pc` and everything reachable from it without consuming input; true on a match.
    fn add_thread(&self, list: &mut ThreadList, pc: usize, pos: usize, text: &[char]) -> bool {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if !list.insert(pc) {
                continue;
            }
            match &self.program[pc] {
                Inst::Match => return true,
                Inst::Jump(to) => stack.push(*to),
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Assert(a) => {
                    if holds(*a, pos, text) {
                        stack.push(pc + 1);
                    }
                }
                Inst::Char(_) | Inst::Any | Inst::Class(_) => {}
            }
        }
        false
    }
}

fn is_word(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

fn holds(assertion: Assertion, pos: usize, text: &[char]) -> bool {
    let before = is_word(pos.checked_sub(1).and_then(|p| text.get(p)));
    let after = is_word(text.get(pos));
    match assertion {
        Assertion::LineStart => pos == 0,
        Assertion::LineEnd => pos == text.len(),
        Assertion::WordBoundary => before != after,
        Assertion::NotWordBoundary => before == after,
        Assertion::WordStart => !before && after,
        Assertion::WordEnd => before && !after,
    }
}

/// A set of program counters with insertion order (sparse-set representation).
struct ThreadList {
    dense: Vec<usize>,
    sparse: Vec<usize>,
}

impl ThreadList {
    fn new(size: usize) -> Self {
        ThreadList {
            dense: Vec::with_capacity(size),
            sparse: vec![usize::MAX; size],
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        let slot = self.sparse[pc];
        if slot < self.dense.len() && self.dense[slot] == pc {
            return false;
        }
        self.sparse[pc] = self.dense.len();
        self.dense.push(pc);
        true
    }

    fn clear(&mut self) {
        self.dense.clear();
    }
}

/// The plain string a pattern stands for, when it has no special characters at all.
fn literal_of(node: &Node) -> Option<String> {
    match node {
        Node::Empty => Some(String::new()),
        Node::Char(c) => Some(c.to_string()),
        Node::Concat(parts) => parts
            .iter()
            .map(|p| match p {
                Node::Char(c) => Some(*c),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek_escape(&self, c: char) -> bool {
        self.chars.get(self.pos) == Some(&'\\') && self.chars.get(self.pos + 1) == Some(&c)
    }

    fn alternation(&mut self) -> Result<Node, PatternError> {
        let mut branches = vec![self.concatenation()?];
        while self.peek_escape('|') {
            self.pos += 2;
            branches.push(self.concatenation()?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alt(branches)
        })
    }

    /// Whether the parser stands at the end of a branch (end, `\|` or `\)`).
    fn at_branch_end(&self, pos: usize) -> bool {
        pos >= self.chars.len()
            || (self.chars[pos] == '\\' && matches!(self.chars.get(pos + 1), Some('|') | Some(')')))
    }

    fn concatenation(&mut self) -> Result<Node, PatternError> {
        let mut items: Vec<Node> = Vec::new();
        let branch_start = self.pos;
        while !self.at_branch_end(self.pos) {
            if self.peek_escape(')') && self.depth == 0 {
                return Err(PatternError("Unmatched ) or \\)".into()));
            }
            let at_start = items.is_empty()
                || (items.len() == 1 && matches!(items[0], Node::Assert(Assertion::LineStart)));
            let c = self.chars[self.pos];
            if c == '^' && self.pos == branch_start {
                self.pos += 1;
                items.push(Node::Assert(Assertion::LineStart));
                continue;
            }
            if c == '$' && self.at_branch_end(self.pos + 1) {
                self.pos += 1;
                items.push(Node::Assert(Assertion::LineEnd));
                continue;
            }
            if c == '*' && at_start {
                self.pos += 1;
                items.push(Node::Char('*'));
                continue;
            }
            let atom = self.atom()?;
            let atom = self.postfix(atom)?;
            items.push(atom);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.remove(0),
            _ => Node::Concat(items),
        })
    }

    fn postfix(&mut self, mut atom: Node) -> Result<Node, PatternError> {
        loop {
            if self.chars.get(self.pos) == Some(&'*') {
                self.pos += 1;
                atom = Node::Repeat(Box::new(atom), 0, None);
            } else if self.peek_escape('+') {
                self.pos += 2;
                atom = Node::Repeat(Box::new(atom), 1, None);
            } else if self.peek_escape('?') {
                self.pos += 2;
                atom = Node::Repeat(Box::new(atom), 0, Some(1));
            } else if self.peek_escape('{') {
                self.pos += 2;
                let (min, max) = self.interval()?;
                atom = Node::Repeat(Box::new(atom), min, max);
            } else {
                return Ok(atom);
            }
        }
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        if digits.is_empty() {
            None
        } else {
            Some(digits.parse::<u32>().unwrap_or(u32::MAX))
        }
    }

    fn interval(&mut self) -> Result<(u32, Option<u32>), PatternError> {
        let bad = || PatternError("Invalid content of \\{\\}".into());
        let min = self.number();
        let max = if self.chars.get(self.pos) == Some(&',') {
            self.pos += 1;
            self.number()
        } else {
            Some(min.ok_or_else(bad)?)
        };
        if !self.peek_escape('}') {
            return Err(PatternError("Unmatched \\{".into()));
        }
        self.pos += 2;
        let min = min.unwrap_or(0);
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
            return Err(PatternError("Regular expression too big".into()));
        }
        if max.is_some_and(|m| m < min) {
            return Err(bad());
        }
        Ok((min, max))
    }

    fn atom(&mut self) -> Result<Node, PatternError> {
        let c = self.chars[self.pos];
        self.pos += 1;
        match c {
            '.' => Ok(Node::Any),
            '[' => {
                let (class, next) = parse_bracket(self.chars, self.pos, false)
                    .map_err(|e| PatternError(e.to_string()))?;
                self.pos = next;
                Ok(Node::Class(class))
            }
            '\\' => self.escape(),
            other => Ok(Node::Char(other)),
        }
    }

    fn escape(&mut self) -> Result<Node, PatternError> {
        let Some(&c) = self.chars.get(self.pos) else {
            return Err(PatternError("Trailing backslash".into()));
        };
        self.pos += 1;
        let class = |name: &str, negated: bool| Node::Class(CharClass::named(name, negated));
        Ok(match c {
            '(' => {
                self.depth += 1;
                let inner = self.alternation()?;
                self.depth -= 1;
                if !self.peek_escape(')') {
                    return Err(PatternError("Unmatched ( or \\(".into()));
                }
                self.pos += 2;
                inner
            }
            '<' => Node::Assert(Assertion::WordStart),
            '>' => Node::Assert(Assertion::WordEnd),
            'b' => Node::Assert(Assertion::WordBoundary),
            'B' => Node::Assert(Assertion::NotWordBoundary),
            '`' => Node::Assert(Assertion::LineStart),
            '\'' => Node::Assert(Assertion::LineEnd),
            'w' => class("word", false),
            'W' => class("word", true),
            's' => class("space", false),
            'S' => class("space", true),
            '1'..='9' => {
                return Err(PatternError(
                    "back-references (\\1 ... \\9) are not supported by search_dir/search_file"
                        .into(),
                ))
            }
            '{' => return Err(PatternError("Invalid preceding regular expression".into())),
            other => Node::Char(other),
        })
    }
}

struct Compiler {
    program: Vec<Inst>,
    classes: Vec<CharClass>,
}

impl Compiler {
    fn push(&mut self, inst: Inst) -> Result<usize, PatternError> {
        if self.program.len() >= MAX_PROGRAM {
            return Err(PatternError("Regular expression too big".into()));
        }
        self.program.push(inst);
        Ok(self.program.len() - 1)
    }

    fn emit_node(&mut self, node: &Node) -> Result<(), PatternError> {
        match node {
            Node::Empty => {}
            Node::Char(c) => {
                self.push(Inst::Char(*c))?;
            }
            Node::Any => {
                self.push(Inst::Any)?;
            }
            Node::Class(class) => {
                self.classes.push(class.clone());
                self.push(Inst::Class(self.classes.len() - 1))?;
            }
            Node::Assert(a) => {
                self.push(Inst::Assert(*a))?;
            }
            Node::Concat(parts) => {
                for part in parts {
                    self.emit_node(part)?;
                }
            }
            Node::Alt(branches) => self.emit_alternation(branches)?,
            Node::Repeat(inner, min, max) => self.emit_repeat(inner, *min, *max)?,
        }
        Ok(())
    }

    fn emit_alternation(&mut self, branches: &[Node]) -> Result<(), PatternError> {
        let mut jumps = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            if i + 1 < branches.len() {
                let split = self.push(Inst::Split(0, 0))?;
                self.emit_node(branch)?;
                jumps.push(self.push(Inst::Jump(0))?);
                let next = self.program.len();
                self.program[split] = Inst::Split(split + 1, next);
            } else {
                self.emit_node(branch)?;
            }
        }
        let end = self.program.len();
        for j in jumps {
            self.program[j] = Inst::Jump(end);
        }
        Ok(())
    }

    fn emit_repeat(
        &mut self,
        inner: &Node,
        min: u32,
        max: Option<u32>,
    ) -> Result<(), PatternError> {
        for _ in 0..min {
            self.emit_node(inner)?;
        }
        match max {
            None => {
                let split = self.push(Inst::Split(0, 0))?;
                self.emit_node(inner)?;
                self.push(Inst::Jump(split))?;
                let end = self.program.len();
                self.program[split] = Inst::Split(split + 1, end);
            }
            Some(max) => {
                let mut splits = Vec::new();
                for _ in min..max {
                    splits.push(self.push(Inst::Split(0, 0))?);
                    self.emit_node(inner)?;
                }
                let end = self.program.len();
                for s in splits {
                    self.program[s] = Inst::Split(s + 1, end);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::new(p).unwrap().is_match(s)
    }

    #[test]
    fn literals_and_specials() {
        assert!(m("row_strategy", "def row_strategy(history):"));
        assert!(!m("row_strategy", "def col_strategy(history):"));
        assert!(m("a+b", "x = a+b"), "+ is literal in BRE");
        assert!(!m("a\\+b", "a+b"));
        assert!(m("a\\+b", "aaab"));
        assert!(m("f(x)", "call f(x)"), "parentheses are literal");
        assert!(m("", "anything"));
        assert!(m("a|b", "a|b") && !m("a|b", "a"));
    }

    #[test]
    fn anchors_and_dots() {
        assert!(m("^def", "def f():"));
        assert!(!m("^def", "    def f():"));
        assert!(m("):$", "def f():"));
        assert!(m("a$b", "a$b"), "$ in the middle is literal");
        assert!(m("x^y", "x^y"), "^ in the middle is literal");
        assert!(m("l.r", "lr = 0.1; lar"));
        assert!(m("*star", "a *star"), "leading * is literal");
    }

    #[test]
    fn repetition_groups_alternation() {
        assert!(m("lr\\|learning_rate", "learning_rate = 3"));
        assert!(m("\\(ab\\)\\{2\\}c", "xxababc"));
        assert!(!m("\\(ab\\)\\{2\\}c", "xxabc"));
        assert!(m("colou\\?r", "color") && m("colou\\?r", "colour"));
        assert!(m("^ *return", "        return x"));
        assert!(m("\\(a*\\)*b", &format!("{}b", "a".repeat(200))));
        assert!(
            !m("\\(a*\\)*b", &"a".repeat(2000)),
            "no exponential blow-up"
        );
    }

    #[test]
    fn classes_and_words() {
        assert!(m("[0-9]\\{3\\}", "abc 123"));
        assert!(!m("[0-9]\\{3\\}", "abc 12"));
        assert!(m("[[:upper:]][[:lower:]]*Model", "class ResNetModel"));
        assert!(m("[^a-z ]", "abc def1"));
        assert!(m("[]x]", "a]"));
        assert!(m("\\<lr\\>", "set lr = 1") && !m("\\<lr\\>", "slr = 1"));
        assert!(m("\\bx\\b", "a x b") && !m("\\bx\\b", "axb"));
        assert!(m("\\w\\+\\s=", "value = 3"));
    }

    #[test]
    fn errors_read_like_grep() {
        assert!(Pattern::new("[abc").is_err());
        assert!(Pattern::new("\\(abc").is_err());
        assert!(Pattern::new("abc\\)").is_err());
        assert!(Pattern::new("a\\{2").is_err());
        assert!(Pattern::new("\\(a\\)\\1").is_err());
        assert!(Pattern::new("a\\{5000\\}").is_err());
    }
}
