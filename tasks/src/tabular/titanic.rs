//! titanicSurvival's native baseline: L2-regularised logistic regression (λ = 1, Newton's
//! method) on fifteen engineered, standardised features, fitted on `train.csv`:
//!
//! * `female`; `class1`, `class2` (third class is the reference);
//! * `age` (missing → training median) and `age_missing`;
//! * `sibsp`, `parch`, `log_fare` = ln(1 + fare) (missing → training median);
//! * `embarked_c`, `embarked_q` (Southampton, or missing, is the reference);
//! * title from the name: `master`, `miss` (also Mlle, Ms), `mrs` (also Mme), `rare`
//!   (anything but Mr);
//! * `has_cabin`.
//!
//! Also [`gender_rule`], Kaggle's classic reference: every woman survives, no man does.
//! Deterministic: no randomness is involved, the seed is unused.

use std::path::Path;

use super::dataset::TITANIC;
use super::frame::Frame;
use super::house_price::ids;
use super::linalg::Matrix;
use super::logistic::Logistic;
use super::{read_frame, write_submission};
use crate::evaluator::{Baseline, BaselineContext, EvalError};

/// The L2 penalty of the baseline.
pub const LAMBDA: f64 = 1.0;

/// Names of the engineered features, in column order.
pub const FEATURES: [&str; 15] = [
    "female",
    "class1",
    "class2",
    "age",
    "age_missing",
    "sibsp",
    "parch",
    "log_fare",
    "embarked_c",
    "embarked_q",
    "master",
    "miss",
    "mrs",
    "rare",
    "has_cabin",
];

/// Imputation values and standardisation learned on the training split.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureScaler {
    /// Median observed age.
    pub age_median: f64,
    /// Median observed fare.
    pub fare_median: f64,
    /// Mean of each raw feature.
    pub mean: Vec<f64>,
    /// Population standard deviation of each raw feature (1 when constant).
    pub scale: Vec<f64>,
}

fn cell<'a>(frame: &'a Frame, name: &str, i: usize) -> Option<&'a str> {
    frame.column(name).and_then(|c| c.cells[i].as_deref())
}

fn number(frame: &Frame, name: &str, i: usize) -> Option<f64> {
    cell(frame, name, i)
        .and_then(super::frame::parse_number)
        .filter(|v| v.is_finite())
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The title in a name like `Braund, Mr. Owen Harris`, grouped as in [`FEATURES`]:
/// `mr`, `master`, `miss`, `mrs` or `rare`.
pub fn title_group(name: &str) -> &'static str {
    let title = name
        .split_once(", ")
        .and_then(|(_, rest)| rest.split_once('.'))
        .map_or("", |(t, _)| t.trim());
    match title {
        "Mr" => "mr",
        "Master" => "master",
        "Miss" | "Mlle" | "Ms" => "miss",
        "Mrs" | "Mme" => "mrs",
        _ => "rare",
    }
}

/// Raw (unstandardised) features of row `i`.
fn raw_features(frame: &Frame, i: usize, age_median: f64, fare_median: f64) -> [f64; 15] {
    let b = |c: bool| f64::from(u8::from(c));
    let pclass = number(frame, "Pclass", i);
    let age = number(frame, "Age", i);
    let fare = number(frame, "Fare", i).unwrap_or(fare_median).max(0.0);
    let embarked = cell(frame, "Embarked", i).unwrap_or("S");
    let title = title_group(cell(frame, "Name", i).unwrap_or(""));
    [
        b(cell(frame, "Sex", i) == Some("female")),
        b(pclass == Some(1.0)),
        b(pclass == Some(2.0)),
        age.unwrap_or(age_median),
        b(age.is_none()),
        number(frame, "SibSp", i).unwrap_or(0.0),
        number(frame, "Parch", i).unwrap_or(0.0),
        fare.ln_1p(),
        b(embarked == "C"),
        b(embarked == "Q"),
        b(title == "master"),
        b(title == "miss"),
        b(title == "mrs"),
        b(title == "rare"),
        b(cell(frame, "Cabin", i).is_some()),
    ]
}

impl FeatureScaler {
    /// Learns medians and standardisation on `train`.
    pub fn fit(train: &Frame) -> FeatureScaler {
        let observed = |name: &str| {
            (0..train.len())
                .filter_map(|i| number(train, name, i))
                .collect::<Vec<_>>()
        };
        let age_median = median(observed("Age"));
        let fare_median = median(observed("Fare"));
        let rows: Vec<[f64; 15]> = (0..train.len())
            .map(|i| raw_features(train, i, age_median, fare_median))
            .collect();
        let n = rows.len().max(1) as f64;
        let mean: Vec<f64> = (0..15)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let scale = (0..15)
            .map(|j| {
                let var = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
                if var > 0.0 {
                    var.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        FeatureScaler {
            age_median,
            fare_median,
            mean,
            scale,
        }
    }

    /// The standardised feature matrix of `frame`.
    pub fn transform(&self, frame: &Frame) -> Matrix {
        let mut x = Matrix::zeros(frame.len(), FEATURES.len());
        for i in 0..frame.len() {
            let raw = raw_features(frame, i, self.age_median, self.fare_median);
            for (j, out) in x.row_mut(i).iter_mut().enumerate() {
                *out = (raw[j] - self.mean[j]) / self.scale[j];
            }
        }
        x
    }
}

/// What the baseline produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TitanicFit {
    /// Learned preprocessing.
    pub scaler: FeatureScaler,
    /// The classifier.
    pub model: Logistic,
    /// Accuracy on the training split.
    pub train_accuracy: f64,
    /// Test ids in `test.csv` order.
    pub test_ids: Vec<i64>,
    /// Predicted `Survived` (0/1) per test id.
    pub predictions: Vec<u8>,
}

/// Fits on `train` (with `Survived`) and predicts `test`.
pub fn fit_frames(train: &Frame, test: &Frame) -> Result<TitanicFit, EvalError> {
    let internal = |m: String| EvalError::Internal(format!("titanic baseline: {m}"));
    let y = train
        .column(TITANIC.target_column)
        .ok_or_else(|| internal("train.csv has no `Survived` column".into()))?
        .numbers()
        .map_err(|i| internal(format!("train.csv row {}: bad Survived", i + 1)))?;
    if let Some(i) = y.iter().position(|v| *v != 0.0 && *v != 1.0) {
        return Err(internal(format!(
            "train.csv row {}: Survived must be 0 or 1",
            i + 1
        )));
    }
    let scaler = FeatureScaler::fit(train);
    let x = scaler.transform(train);
    let model = Logistic::fit(&x, &y, LAMBDA).map_err(|e| internal(e.to_string()))?;
    let fitted = model.predict(&x);
    let hits = fitted
        .iter()
        .zip(&y)
        .filter(|(p, t)| f64::from(**p) == **t)
        .count();
    let predictions = model.predict(&scaler.transform(test));
    Ok(TitanicFit {
        train_accuracy: hits as f64 / y.len().max(1) as f64,
        test_ids: ids(test, TITANIC.id_column)?,
        scaler,
        model,
        predictions,
    })
}

/// Fits on the staged public files under `data_root`.
pub fn fit_and_predict(data_root: &Path) -> Result<TitanicFit, EvalError> {
    if let Err(why) = TITANIC.check_staged(data_root) {
        return Err(EvalError::DataMissing(format!(
            "{why}; {}",
            TITANIC.how_to_stage()
        )));
    }
    let public = TITANIC.public_dir(data_root);
    fit_frames(
        &read_frame(&public.join("train.csv"))?,
        &read_frame(&public.join("test.csv"))?,
    )
}

/// The gender rule: 1 for every female passenger, 0 otherwise.
pub fn gender_rule(frame: &Frame) -> Vec<u8> {
    (0..frame.len())
        .map(|i| u8::from(cell(frame, "Sex", i) == Some("female")))
        .collect()
}

/// The native baseline of titanicSurvival: writes `submission.csv`.
#[derive(Debug, Default)]
pub struct TitanicBaseline;

impl Baseline for TitanicBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        (ctx.progress)("titanic baseline: logistic regression (L2, λ=1) on 15 engineered features");
        let fit = fit_and_predict(ctx.data_root)?;
        (ctx.progress)(&format!(
            "converged in {} Newton steps; train accuracy {:.4}",
            fit.model.iterations, fit.train_accuracy
        ));
        let values: Vec<String> = fit.predictions.iter().map(u8::to_string).collect();
        write_submission(ctx.out_dir, &TITANIC, &fit.test_ids, &values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_grouped() {
        assert_eq!(title_group("Braund, Mr. Owen Harris"), "mr");
        assert_eq!(title_group("Palsson, Master. Gosta Leonard"), "master");
        assert_eq!(title_group("Sagesser, Mlle. Emma"), "miss");
        assert_eq!(
            title_group("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)"),
            "rare"
        );
        assert_eq!(title_group("no comma"), "rare");
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
