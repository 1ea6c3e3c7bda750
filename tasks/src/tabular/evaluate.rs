//! The strict evaluator of both tabular tasks: `submission.csv` is joined on the id column
//! with the hidden answers (so row order never matters), then scored with
//! scikit-learn's definitions — `rmse` and `r2` for House Price, `accuracy` for Titanic.
//!
//! A submission is rejected, with a message that names the line, id and value, when it is
//! empty, not UTF-8, malformed CSV, lacks the id or prediction column, has no rows, has an
//! id that is not an integer, repeated or not in the test set, has a prediction that is
//! missing, not a number or not finite (for Titanic: not 0 or 1), or does not cover every
//! test id.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use super::csv::{self, CsvError};
use super::dataset::{sha256_hex, DatasetSpec};
use super::frame::parse_number;
use crate::evaluator::{EvalContext, EvalError, Evaluator, Metrics};

/// The submission file name, relative to the workspace.
pub const SUBMISSION: &str = "submission.csv";

/// What kind of prediction a task expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A real number (regression): metrics `rmse` and `r2`.
    Real,
    /// A class 0 or 1 (binary classification): metric `accuracy`.
    Binary,
}

/// The hidden answers of a test split, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Answers {
    /// Test ids.
    pub ids: Vec<i64>,
    /// True targets, aligned with `ids`.
    pub targets: Vec<f64>,
}

/// Reads `private/answer.csv` of a staged dataset, checking it against the manifest.
pub fn load_answers(spec: &DatasetSpec, data_root: &Path) -> Result<Answers, EvalError> {
    let missing = |why: String| EvalError::DataMissing(format!("{why}; {}", spec.how_to_stage()));
    let manifest = spec.check_staged(data_root).map_err(missing)?;
    let path = spec.answer_path(data_root);
    let bytes = std::fs::read(&path).map_err(|e| missing(format!("{}: {e}", path.display())))?;
    let recorded = manifest
        .files
        .iter()
        .find(|f| f.path == "private/answer.csv")
        .map(|f| f.sha256.as_str());
    if recorded != Some(sha256_hex(&bytes).as_str()) {
        return Err(missing(format!(
            "{} does not match its manifest (modified?)",
            path.display()
        )));
    }
    let bad = |what: String| EvalError::Internal(format!("{}: {what}", path.display()));
    let table = csv::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    let (Some(ic), Some(tc)) = (
        table.column_index(spec.id_column),
        table.column_index(spec.target_column),
    ) else {
        return Err(bad("lacks the id or target column".into()));
    };
    let mut answers = Answers {
        ids: Vec::new(),
        targets: Vec::new(),
    };
    for r in &table.records {
        let id = r.fields[ic]
            .parse()
            .map_err(|_| bad(format!("line {}: bad id", r.line)))?;
        let y = parse_number(&r.fields[tc])
            .ok_or_else(|| bad(format!("line {}: bad target", r.line)))?;
        answers.ids.push(id);
        answers.targets.push(y);
    }
    Ok(answers)
}

/// At most this many row problems are listed in one message.
const MAX_LISTED: usize = 5;

/// Reads and parses the CSV submission at `path`; returns the file's name (the prefix of
/// every message about it) and the table. A missing file is `SubmissionNotFound` and an
/// empty one a format error, each followed by the caller's advice (`missing`: what to
/// write where; `empty`: what the file must hold). Shared by every CSV-scored task.
pub(crate) fn read_csv_submission(
    path: &Path,
    missing: &str,
    empty: &str,
) -> Result<(String, csv::Table), EvalError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EvalError::SubmissionNotFound(format!("{file}: {missing}")));
        }
        Err(e) => return Err(EvalError::io(format!("reading {}", path.display()), e)),
    };
    let table = csv::parse(&bytes).map_err(|e| {
        EvalError::Format(match e {
            CsvError::Empty => format!("{file}: the file is empty: {empty}"),
            other => format!("{file}: {other}"),
        })
    })?;
    Ok((file, table))
}

/// Reads the submission at `path` and returns one prediction per answer, in the answers'
/// order. `Err(EvalError::Format)` names every problem found (up to five rows).
pub fn read_submission(
    path: &Path,
    spec: &DatasetSpec,
    target: Target,
    answers: &Answers,
) -> Result<Vec<f64>, EvalError> {
    let (idc, tc) = (spec.id_column, spec.target_column);
    let n = answers.ids.len();
    let (file, table) = read_csv_submission(
        path,
        &format!("write your predictions for data/test.csv to {SUBMISSION} in the workspace"),
        &format!("write the header `{idc},{tc}` and one row per {idc} of data/test.csv ({n} rows)"),
    )?;
    let fmt = |msg: String| EvalError::Format(format!("{file}: {msg}"));
    let missing: Vec<&str> = [idc, tc]
        .into_iter()
        .filter(|c| table.column_index(c).is_none())
        .collect();
    if !missing.is_empty() {
        let names = missing
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        return Err(fmt(format!(
            "missing column {names} (header: `{}`); the header must be `{idc},{tc}`",
            table.header.join(",")
        )));
    }
    let (ic, pc) = (
        table.column_index(idc).unwrap_or(0),
        table.column_index(tc).unwrap_or(0),
    );
    if table.records.is_empty() {
        return Err(fmt(format!(
            "the file has a header but no rows: write one row per {idc} of data/test.csv ({n} rows)"
        )));
    }
    let position: HashMap<i64, usize> = answers
        .ids
        .iter()
        .enumerate()
        .map(|(k, &id)| (id, k))
        .collect();
    let mut preds = vec![f64::NAN; n];
    let mut seen_on: Vec<Option<usize>> = vec![None; n];
    let mut problems = Vec::new();
    for r in &table.records {
        let raw_id = r.fields[ic].trim();
        let Some(id) = parse_id(raw_id) else {
            problems.push(format!(
                "line {}: {idc} `{raw_id}` is not an integer",
                r.line
            ));
            continue;
        };
        let raw = r.fields[pc].trim();
        let value = match parse_prediction(raw, target) {
            Ok(v) => v,
            Err(why) => {
                problems.push(format!("line {} ({idc} {id}): {tc} {why}", r.line));
                continue;
            }
        };
        let Some(&k) = position.get(&id) else {
            problems.push(format!(
                "line {}: {idc} {id} is not in the test set (data/test.csv)",
                r.line
            ));
            continue;
        };
        if let Some(first) = seen_on[k] {
            problems.push(format!(
                "line {}: {idc} {id} appears twice (first on line {first})",
                r.line
            ));
            continue;
        }
        seen_on[k] = Some(r.line);
        preds[k] = value;
    }
    if !problems.is_empty() {
        let mut msg = problems
            .iter()
            .take(MAX_LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if problems.len() > MAX_LISTED {
            let _ = write!(msg, "; and {} more problems", problems.len() - MAX_LISTED);
        }
        return Err(fmt(msg));
    }
    let absent: Vec<i64> = answers
        .ids
        .iter()
        .zip(&seen_on)
        .filter(|(_, s)| s.is_none())
        .map(|(&id, _)| id)
        .collect();
    if !absent.is_empty() {
        let mut list = absent
            .iter()
            .take(10)
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if absent.len() > 10 {
            let _ = write!(list, " and {} more", absent.len() - 10);
        }
        return Err(fmt(format!(
            "{} rows, but the test set has {n}: no prediction for {idc} {list}",
            table.records.len()
        )));
    }
    Ok(preds)
}

/// An id: an integer, also written as `12.0`.
fn parse_id(s: &str) -> Option<i64> {
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let v = s.parse::<f64>().ok()?;
    (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
}

/// A prediction, or why it is unusable.
fn parse_prediction(s: &str, target: Target) -> Result<f64, String> {
    if s.is_empty() {
        return Err("is empty; every row needs a prediction".into());
    }
    let v = match (target, s) {
        (Target::Binary, "True") => 1.0,
        (Target::Binary, "False") => 0.0,
        _ => s
            .parse::<f64>()
            .map_err(|_| format!("`{s}` is not a number"))?,
    };
    if !v.is_finite() {
        return Err(format!("`{s}` is not a finite number"));
    }
    if target == Target::Binary && v != 0.0 && v != 1.0 {
        return Err(format!("`{s}` must be 0 or 1"));
    }
    Ok(v)
}

/// Root mean squared error (`sqrt(sklearn.metrics.mean_squared_error)`).
pub fn rmse(y: &[f64], p: &[f64]) -> f64 {
    let ss: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    (ss / y.len() as f64).sqrt()
}

/// Coefficient of determination (`sklearn.metrics.r2_score`): `1 − SSres/SStot`, and for
/// a constant target 1 when the predictions are exact, else 0.
pub fn r2(y: &[f64], p: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - mean) * (a - mean)).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// Fraction of equal labels (`sklearn.metrics.accuracy_score`).
pub fn accuracy(y: &[f64], p: &[f64]) -> f64 {
    let hits = y.iter().zip(p).filter(|(a, b)| a == b).count();
    hits as f64 / y.len() as f64
}

/// The metrics of predictions aligned with `answers`.
pub fn score(answers: &Answers, preds: &[f64], target: Target) -> Metrics {
    let y = &answers.targets;
    match target {
        Target::Real => Metrics::from([
            ("rmse".to_string(), rmse(y, preds)),
            ("r2".to_string(), r2(y, preds)),
        ]),
        Target::Binary => Metrics::from([("accuracy".to_string(), accuracy(y, preds))]),
    }
}

/// The native evaluator of a tabular task. Deterministic; the seed is unused.
#[derive(Debug)]
pub struct TabularEvaluator {
    /// The dataset whose test split is scored.
    pub spec: &'static DatasetSpec,
    /// Regression or classification.
    pub target: Target,
}

impl TabularEvaluator {
    /// Scores the submission file at `path` against the staged answers under `data_root`.
    pub fn evaluate_file(&self, path: &Path, data_root: &Path) -> Result<Metrics, EvalError> {
        let answers = load_answers(self.spec, data_root)?;
        let preds = read_submission(path, self.spec, self.target, &answers)?;
        Ok(score(&answers, &preds, self.target))
    }
}

impl Evaluator for TabularEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        self.evaluate_file(&ctx.submission_dir.join(SUBMISSION), ctx.data_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        let y = [3.0, -0.5, 2.0, 7.0];
        let p = [2.5, 0.0, 2.0, 8.0];
        // sklearn docs example: mean_squared_error = 0.375, r2_score = 0.9486081370449679.
        assert!((rmse(&y, &p) - 0.375f64.sqrt()).abs() < 1e-15);
        assert!((r2(&y, &p) - 0.9486081370449679).abs() < 1e-15);
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
        assert_eq!(accuracy(&[0., 1., 1., 0.], &[0., 1., 0., 0.]), 0.75);
    }

    #[test]
    fn ids_and_predictions_parse_strictly() {
        assert_eq!(parse_id("12"), Some(12));
        assert_eq!(parse_id("12.0"), Some(12));
        assert_eq!(parse_id("12.5"), None);
        assert_eq!(parse_prediction("1.5e5", Target::Real), Ok(150000.0));
        assert!(parse_prediction("nan", Target::Real)
            .unwrap_err()
            .contains("not a finite number"));
        assert_eq!(parse_prediction("True", Target::Binary), Ok(1.0));
        assert_eq!(parse_prediction("0.0", Target::Binary), Ok(0.0));
        assert!(parse_prediction("0.7", Target::Binary)
            .unwrap_err()
            .contains("must be 0 or 1"));
    }
}
