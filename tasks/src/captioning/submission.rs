//! `submission.csv` of imageCaptioningCOCO: the header `file_name,caption`, then one
//! generated caption per test image (any order). Captions with commas or quotes must be
//! quoted as CSV requires (Python's `csv` and pandas' `to_csv` do it).
//!
//! Rejected, with a message naming the line: a missing or empty file, a header without
//! both columns, a file name that is not a test image, a test image listed twice, and
//! test images left out (the first few are named).

use std::collections::BTreeMap;
use std::path::Path;

use crate::evaluator::EvalError;
use crate::tabular::csv::{self, CsvError};

/// The submission file.
pub const SUBMISSION: &str = "submission.csv";
/// At most this many problems are listed in one message.
const MAX_LISTED: usize = 5;

/// Reads `path` and returns the caption of every test image, in the order of `images`.
pub fn read_captions(path: &Path, images: &[String]) -> Result<Vec<String>, EvalError> {
    let n = images.len();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EvalError::SubmissionNotFound(format!(
                "{SUBMISSION}: write one caption per image listed in data/test_images.csv ({n} rows under the header `file_name,caption`) to {SUBMISSION} in the workspace"
            )))
        }
        Err(e) => return Err(EvalError::io(format!("reading {}", path.display()), e)),
    };
    let fmt = |m: String| EvalError::Format(format!("{SUBMISSION}: {m}"));
    let table = csv::parse(&bytes).map_err(|e| match e {
        CsvError::Empty => fmt(format!(
            "the file is empty: write the header `file_name,caption` and {n} rows, one per test image"
        )),
        other => fmt(other.to_string()),
    })?;
    let (Some(name_col), Some(cap_col)) = (
        table.column_index("file_name"),
        table.column_index("caption"),
    ) else {
        return Err(fmt(format!(
            "the header is `{}`, but it must have the columns `file_name` and `caption` (one generated caption per test image)",
            table.header.join(",")
        )));
    };
    let index: BTreeMap<&str, usize> = images
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i))
        .collect();
    let mut captions: Vec<Option<String>> = vec![None; n];
    let mut problems = Vec::new();
    for r in &table.records {
        let name = r.fields[name_col].trim();
        match index.get(name) {
            None => problems.push(format!(
                "line {}: `{name}` is not a test image (see data/test_images.csv)",
                r.line
            )),
            Some(&i) if captions[i].is_some() => problems.push(format!(
                "line {}: `{name}` is listed twice; give one caption per image",
                r.line
            )),
            Some(&i) => captions[i] = Some(r.fields[cap_col].clone()),
        }
    }
    if !problems.is_empty() {
        let more = problems.len().saturating_sub(MAX_LISTED);
        problems.truncate(MAX_LISTED);
        let tail = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        return Err(fmt(format!("{}{tail}", problems.join("; "))));
    }
    let missing: Vec<&str> = images
        .iter()
        .zip(&captions)
        .filter(|(_, c)| c.is_none())
        .map(|(f, _)| f.as_str())
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(MAX_LISTED).copied().collect();
        return Err(fmt(format!(
            "{} of the {n} test images have no caption (e.g. {}); write one row per image of data/test_images.csv",
            missing.len(),
            shown.join(", ")
        )));
    }
    Ok(captions
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}
