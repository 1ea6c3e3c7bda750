//! A typed view of a CSV table with pandas' reading rules: which strings are missing
//! values, and which columns are integer, float or text (`object`).
//!
//! MLGym's baselines pick their numeric and categorical columns by the dtypes pandas
//! infers, so reproducing them needs the same inference: a column is numeric when every
//! non-missing cell parses as a number (integer when there is no missing cell and every
//! cell is an integer), text otherwise; a column with no value at all is float.

use super::csv::Table;

/// The strings pandas (2.x) reads as missing by default.
pub const NA_STRINGS: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// Whether pandas reads `s` as a missing value.
pub fn is_na(s: &str) -> bool {
    NA_STRINGS.contains(&s)
}

/// `s` as a number, as pandas' parser reads it: optional surrounding spaces, decimal or
/// exponent notation, `inf`. `None` when it is not a number.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim_matches(' ');
    if t.is_empty() || t.starts_with('_') || t.contains('_') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Whether `s` is an integer literal pandas would read as int64.
fn is_integer(s: &str) -> bool {
    let t = s.trim_matches(' ');
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The dtype pandas would give a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// int64: every cell an integer, none missing.
    Integer,
    /// float64: every non-missing cell a number (or every cell missing).
    Float,
    /// object: text.
    Text,
}

impl Kind {
    /// int64 or float64.
    pub fn is_numeric(self) -> bool {
        matches!(self, Kind::Integer | Kind::Float)
    }
}

/// One column: its cells (`None` = missing) and inferred kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Header name.
    pub name: String,
    /// Cells, `None` where pandas sees a missing value.
    pub cells: Vec<Option<String>>,
    /// Inferred dtype.
    pub kind: Kind,
}

impl Column {
    /// Builds a column from raw strings and infers its kind.
    pub fn new(name: &str, raw: impl IntoIterator<Item = String>) -> Column {
        let cells: Vec<Option<String>> =
            raw.into_iter().map(|s| (!is_na(&s)).then_some(s)).collect();
        let numeric = cells.iter().flatten().all(|s| parse_number(s).is_some());
        let kind = if !numeric {
            Kind::Text
        } else if !cells.is_empty() && cells.iter().all(|c| c.as_deref().is_some_and(is_integer)) {
            Kind::Integer
        } else {
            Kind::Float
        };
        Column {
            name: name.to_string(),
            cells,
            kind,
        }
    }

    /// The cells as numbers, NaN where missing; `Err(row)` at the first cell that is not
    /// a number (0-based row).
    pub fn numbers(&self) -> Result<Vec<f64>, usize> {
        self.cells
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                None => Ok(f64::NAN),
                Some(s) => parse_number(s).ok_or(i),
            })
            .collect()
    }
}

/// A table of typed columns.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Columns in header order.
    pub columns: Vec<Column>,
    /// 1-based file line of each row.
    pub lines: Vec<usize>,
}

impl Frame {
    /// Types every column of `table`.
    pub fn from_table(table: &Table) -> Frame {
        let columns = table
            .header
            .iter()
            .enumerate()
            .map(|(j, name)| Column::new(name, table.records.iter().map(|r| r.fields[j].clone())))
            .collect();
        Frame {
            columns,
            lines: table.records.iter().map(|r| r.line).collect(),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Column `name`, if present.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(cells: &[&str]) -> Column {
        Column::new("c", cells.iter().map(|s| s.to_string()))
    }

    #[test]
    fn infers_kinds_like_pandas() {
        assert_eq!(col(&["1", "2", "-3"]).kind, Kind::Integer);
        assert_eq!(col(&["1", "NA", "3"]).kind, Kind::Float);
        assert_eq!(col(&["1", "2.5"]).kind, Kind::Float);
        assert_eq!(col(&["NA", ""]).kind, Kind::Float);
        assert_eq!(col(&["1e3", " 4 "]).kind, Kind::Float);
        assert_eq!(col(&["Pave", "NA", "None"]).kind, Kind::Text);
        assert_eq!(col(&["1", "x"]).kind, Kind::Text);
        assert!(!Kind::Text.is_numeric() && Kind::Float.is_numeric());
    }

    #[test]
    fn missing_values_and_numbers() {
        let c = col(&["Pave", "NA", "None", "", "nan", "Grvl"]);
        assert_eq!(c.cells.iter().filter(|c| c.is_none()).count(), 4);
        let n = col(&["1", "NA", "2.5"]).numbers().unwrap();
        assert_eq!(n[0], 1.0);
        assert!(n[1].is_nan());
        assert_eq!(col(&["1", "x"]).numbers(), Err(1));
        assert_eq!(parse_number("1_000"), None);
        assert_eq!(parse_number("inf"), Some(f64::INFINITY));
    }
}
