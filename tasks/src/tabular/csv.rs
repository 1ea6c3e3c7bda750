//! A small, strict CSV reader and writer (RFC 4180): comma-separated fields, optional
//! double-quoted fields with `""` escapes and embedded commas or newlines, `\n` or `\r\n`
//! line ends. Every error names the line it is on.
//!
//! Blank lines are skipped (as pandas does) and a leading UTF-8 byte-order mark is
//! ignored. Anything else that is not well-formed is an error: a quote inside an unquoted
//! field, text after a closing quote, an unterminated quote, a record with the wrong number
//! of fields, bytes that are not UTF-8.

/// One data record and the line it starts on (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based line number of the record's first character.
    pub line: usize,
    /// The fields, unquoted.
    pub fields: Vec<String>,
}

/// A parsed CSV file: the header and the data records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Column names from the first line.
    pub header: Vec<String>,
    /// Data records, in file order.
    pub records: Vec<Record>,
}

impl Table {
    /// The index of column `name`, if present.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

/// Why a CSV file could not be read. Messages start with the line where that is known;
/// callers prefix the file name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The file has no bytes (or only blank lines).
    #[error("the file is empty: write a header line and one row per prediction")]
    Empty,
    /// A byte sequence is not UTF-8.
    #[error(
        "line {line}: the file is not UTF-8 text (invalid byte 0x{byte:02x}); save it as UTF-8"
    )]
    NotUtf8 {
        /// Line of the first invalid byte.
        line: usize,
        /// That byte.
        byte: u8,
    },
    /// A quoted field never ends.
    #[error("line {line}: a quoted field is never closed (missing `\"`)")]
    UnterminatedQuote {
        /// Line where the field starts.
        line: usize,
    },
    /// A `"` inside an unquoted field, or text after a closing quote.
    #[error("line {line}: misplaced `\"` in field {field}; quote the whole field and double inner quotes")]
    StrayQuote {
        /// Line of the quote.
        line: usize,
        /// 1-based field number.
        field: usize,
    },
    /// A record has more or fewer fields than the header.
    #[error("line {line}: {found} fields, but the header has {expected}")]
    FieldCount {
        /// Line of the record.
        line: usize,
        /// Number of header columns.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// Two header columns have the same name.
    #[error("line 1: column `{name}` appears twice in the header")]
    DuplicateColumn {
        /// The name.
        name: String,
    },
}

/// Parses `bytes` as CSV with a header line.
pub fn parse(bytes: &[u8]) -> Result<Table, CsvError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(CsvError::NotUtf8 {
                line,
                byte: bytes.get(at).copied().unwrap_or(0),
            });
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = split_records(text)?;
    if records.is_empty() {
        return Err(CsvError::Empty);
    }
    let header = records.remove(0).fields;
    let mut seen = std::collections::HashSet::new();
    for h in &header {
        if !seen.insert(h.as_str()) {
            return Err(CsvError::DuplicateColumn { name: h.clone() });
        }
    }
    for r in &records {
        if r.fields.len() != header.len() {
            return Err(CsvError::FieldCount {
                line: r.line,
                expected: header.len(),
                found: r.fields.len(),
            });
        }
    }
    Ok(Table { header, records })
}

/// Splits text into records (header included), skipping blank lines.
fn split_records(text: &str) -> Result<Vec<Record>, CsvError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start = line;
        // A blank line (`\n` or `\r\n` alone) is skipped.
        if chars.peek() == Some(&'\n') {
            chars.next();
            line += 1;
            continue;
        }
        if chars.peek() == Some(&'\r') {
            let mut look = chars.clone();
            look.next();
            if matches!(look.peek(), Some('\n') | None) {
                chars.next();
                if chars.next().is_some() {
                    line += 1;
                }
                continue;
            }
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false; // inside a quoted field
        let mut was_quoted = false; // the current field was quoted (and is closed)
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err(CsvError::UnterminatedQuote { line: start });
                }
                fields.push(std::mem::take(&mut field));
                break;
            };
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        quoted = false;
                        was_quoted = true;
                    }
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '\n' => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                '\r' if matches!(chars.peek(), Some('\n') | None) => {}
                '"' if field.is_empty() && !was_quoted => quoted = true,
                _ if was_quoted || c == '"' => {
                    return Err(CsvError::StrayQuote {
                        line,
                        field: fields.len() + 1,
                    });
                }
                _ => field.push(c),
            }
        }
        records.push(Record {
            line: start,
            fields,
        });
    }
    Ok(records)
}

/// Appends `fields` as one CSV line (quoting fields that need it) to `out`.
pub fn write_record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(t: &Table) -> Vec<Vec<&str>> {
        t.records
            .iter()
            .map(|r| r.fields.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn reads_quoted_fields_crlf_bom_and_blank_lines() {
        let text = "\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\",\r\n\r\n2,\"multi\nline\",z\n\n";
        let t = parse(text.as_bytes()).unwrap();
        assert_eq!(t.header, ["a", "b", "c"]);
        assert_eq!(
            fields(&t),
            vec![vec!["1", "x, \"y\"", ""], vec!["2", "multi\nline", "z"]]
        );
        assert_eq!(t.records[0].line, 2);
        assert_eq!(t.records[1].line, 4);
        assert_eq!(t.column_index("c"), Some(2));
    }

    #[test]
    fn no_trailing_newline_and_empty_last_field() {
        let t = parse(b"a,b\n1,").unwrap();
        assert_eq!(fields(&t), vec![vec!["1", ""]]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse(b""), Err(CsvError::Empty));
        assert_eq!(parse(b"\n\r\n"), Err(CsvError::Empty));
        let e = parse(b"a,b\n1,2\n3,\"oops\n").unwrap_err();
        assert_eq!(e, CsvError::UnterminatedQuote { line: 3 });
        let e = parse(b"a,b\n1,2\n3,x\"y\n").unwrap_err();
        assert_eq!(e, CsvError::StrayQuote { line: 3, field: 2 });
        let e = parse(b"a,b\n\"1\"x,2\n").unwrap_err();
        assert_eq!(e, CsvError::StrayQuote { line: 2, field: 1 });
        let e = parse(b"a,b\n1,2\n3\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: 1 fields, but the header has 2");
        let e = parse(b"a,b\n1,\xff\n").unwrap_err();
        assert_eq!(
            e,
            CsvError::NotUtf8 {
                line: 2,
                byte: 0xff
            }
        );
        let e = parse(b"a,a\n1,2\n").unwrap_err();
        assert!(e.to_string().contains("`a` appears twice"));
    }

    #[test]
    fn writer_round_trips() {
        let rows = [
            vec!["Id", "Name"],
            vec!["1", "Braund, Mr. \"Owen\""],
            vec!["2", "plain"],
        ];
        let mut out = String::new();
        for r in &rows {
            write_record(&mut out, r);
        }
        assert_eq!(out, "Id,Name\n1,\"Braund, Mr. \"\"Owen\"\"\"\n2,plain\n");
        let t = parse(out.as_bytes()).unwrap();
        assert_eq!(fields(&t), vec![rows[1].clone(), rows[2].clone()]);
    }
}
