//! The evaluator of both image tasks: `submission.csv` holds a `label` column with one
//! predicted class id per test image, in the order of `data/test_images.npy`; the score
//! is `accuracy` (scikit-learn's `accuracy_score`). Other columns are ignored.
//!
//! A file is rejected, with a message naming the line and value, when it is missing,
//! empty, not CSV, lacks the `label` header, has a row count other than the number of
//! test images, or holds a label that is not an integer or not a class id.

use std::fmt::Write as _;
use std::path::Path;

use super::data::load_test_labels;
use crate::datasets::registry::DatasetSpec;
use crate::evaluator::{EvalContext, EvalError, Evaluator, Metrics};
use crate::tabular::evaluate::read_csv_submission;

/// The submission file, relative to the workspace.
pub const SUBMISSION: &str = "submission.csv";

/// At most this many bad rows are listed in one message.
const MAX_LISTED: usize = 5;

/// A label: an integer, also written `3.0`.
fn parse_label(s: &str) -> Option<i64> {
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let v = s.parse::<f64>().ok()?;
    (v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15).then_some(v as i64)
}

/// Reads the predicted labels of `path`, expecting `n` rows of class ids below `classes`.
pub fn read_submission(path: &Path, n: usize, classes: usize) -> Result<Vec<u8>, EvalError> {
    let (file, table) = read_csv_submission(
        path,
        &format!("write one predicted label per image of data/test_images.npy ({n} rows under the header `label`) to {SUBMISSION} in the workspace"),
        &format!("write the header `label` and {n} rows, one per test image"),
    )?;
    let fmt = |m: String| EvalError::Format(format!("{file}: {m}"));
    let Some(col) = table.column_index("label") else {
        let hint = if table.header.iter().all(|h| parse_label(h.trim()).is_some()) {
            "the first line holds data: add the header line `label`"
        } else {
            "the header must have a column `label`"
        };
        return Err(fmt(format!(
            "no `label` column (header: `{}`); {hint}",
            table.header.join(",")
        )));
    };
    if table.records.len() != n {
        return Err(fmt(format!(
            "{} rows, but the test set has {n} images: write one label per image of data/test_images.npy, in order",
            table.records.len()
        )));
    }
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(n);
    for r in &table.records {
        let raw = r.fields[col].trim();
        match parse_label(raw) {
            Some(v) if (0..classes as i64).contains(&v) => out.push(v as u8),
            Some(v) => problems.push(format!(
                "line {}: label {v} is not a class id (0 to {})",
                r.line,
                classes - 1
            )),
            None => problems.push(format!("line {}: label `{raw}` is not an integer", r.line)),
        }
    }
    if !problems.is_empty() {
        let mut msg = problems
            .iter()
            .take(MAX_LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if problems.len() > MAX_LISTED {
            let _ = write!(msg, "; and {} more", problems.len() - MAX_LISTED);
        }
        return Err(fmt(msg));
    }
    Ok(out)
}

/// Fraction of equal labels.
pub fn accuracy(truth: &[u8], pred: &[u8]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    truth.iter().zip(pred).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

/// The evaluator of an image task. Deterministic; the seed is unused.
#[derive(Debug)]
pub struct ImageEvaluator {
    /// The dataset whose test split is scored.
    pub spec: &'static DatasetSpec,
}

impl ImageEvaluator {
    /// Scores the submission at `path` against the staged labels under `data_root`.
    pub fn evaluate_file(&self, path: &Path, data_root: &Path) -> Result<Metrics, EvalError> {
        let truth = load_test_labels(self.spec, data_root)?;
        let pred = read_submission(path, truth.len(), self.spec.classes.len())?;
        Ok(Metrics::from([(
            "accuracy".to_string(),
            accuracy(&truth, &pred),
        )]))
    }
}

impl Evaluator for ImageEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        self.evaluate_file(&ctx.submission_dir.join(SUBMISSION), ctx.data_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_strictly() {
        assert_eq!(parse_label("3"), Some(3));
        assert_eq!(parse_label("3.0"), Some(3));
        assert_eq!(parse_label("3.5"), None);
        assert_eq!(parse_label("cat"), None);
        assert_eq!(accuracy(&[1, 2, 3, 4], &[1, 2, 0, 4]), 0.75);
    }
}
