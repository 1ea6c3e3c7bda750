//! Just enough TOML for `config.toml`: `[table]` headers, `key = value` lines with
//! numbers (`1e-4`, `20_000_000`), strings and booleans, and `#` comments.

/// A value of a `key = value` line.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer or float.
    Num(f64),
    /// A double-quoted string.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
}

/// One setting: its table ("" before any header), key and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The enclosing `[table]`.
    pub table: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// 1-based line number.
    pub line: usize,
}

/// Parses `text`; the error names the line.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut table = String::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or(format!("line {line_no}: unclosed table header"))?;
            table = name.trim().to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or(format!("line {line_no}: expected `key = value`"))?;
        let value = parse_value(v.trim()).ok_or(format!(
            "line {line_no}: cannot read the value `{}`",
            v.trim()
        ))?;
        out.push(Entry {
            table: table.clone(),
            key: k.trim().to_string(),
            value,
            line: line_no,
        });
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    let mut in_str = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '#' if !in_str => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse_value(v: &str) -> Option<Value> {
    if let Some(s) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Some(Value::Str(s.to_string()));
    }
    match v {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    v.replace('_', "").parse::<f64>().ok().map(Value::Num)
}
