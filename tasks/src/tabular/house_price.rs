//! regressionKaggleHousePrice's native baseline: MLGym's pipeline reproduced exactly —
//! pandas' column typing, mean imputation + standardisation of numeric columns,
//! `"missing"` imputation + one-hot encoding of text columns (unknown categories ignored),
//! and `Ridge(alpha=0.1)` with an intercept, fitted on `train.csv` only and applied to
//! `test.csv`. Deterministic: no randomness is involved, the seed is unused.

use std::path::Path;

use super::dataset::HOUSE_PRICE;
use super::evaluate::{r2, rmse};
use super::frame::Frame;
use super::preprocess::Preprocessor;
use super::ridge::Ridge;
use super::{read_frame, write_submission};
use crate::evaluator::{Baseline, BaselineContext, EvalError};

/// The ridge penalty of MLGym's baseline.
pub const ALPHA: f64 = 0.1;

/// What the pipeline produced.
#[derive(Clone, Debug, PartialEq)]
pub struct HousePriceFit {
    /// The fitted transformer.
    pub preprocessor: Preprocessor,
    /// The fitted model.
    pub model: Ridge,
    /// `(rmse, r2)` on the training split.
    pub train: (f64, f64),
    /// `(rmse, r2)` on the validation split.
    pub validation: (f64, f64),
    /// Test ids, in `test.csv` order.
    pub test_ids: Vec<i64>,
    /// Predicted `SalePrice` for each test id.
    pub predictions: Vec<f64>,
}

/// Runs the pipeline on the staged public files under `data_root`.
pub fn fit_and_predict(data_root: &Path) -> Result<HousePriceFit, EvalError> {
    let public = HOUSE_PRICE.public_dir(data_root);
    if let Err(why) = HOUSE_PRICE.check_staged(data_root) {
        return Err(EvalError::DataMissing(format!(
            "{why}; {}",
            HOUSE_PRICE.how_to_stage()
        )));
    }
    let train = read_frame(&public.join("train.csv"))?;
    let validation = read_frame(&public.join("validation.csv"))?;
    let test = read_frame(&public.join("test.csv"))?;
    fit_frames(&train, &validation, &test)
}

/// The pipeline on frames already read (train and validation with `SalePrice`).
pub fn fit_frames(
    train: &Frame,
    validation: &Frame,
    test: &Frame,
) -> Result<HousePriceFit, EvalError> {
    let (id, target) = (HOUSE_PRICE.id_column, HOUSE_PRICE.target_column);
    let internal =
        |e: &dyn std::fmt::Display| EvalError::Internal(format!("house-price baseline: {e}"));
    let y_of = |f: &Frame, split: &str| -> Result<Vec<f64>, EvalError> {
        let col = f
            .column(target)
            .ok_or_else(|| internal(&format!("{split}.csv has no `{target}` column")))?;
        let y = col
            .numbers()
            .map_err(|i| internal(&format!("{split}.csv row {}: bad {target}", i + 1)))?;
        match y.iter().position(|v| !v.is_finite()) {
            Some(i) => Err(internal(&format!(
                "{split}.csv row {}: missing {target}",
                i + 1
            ))),
            None => Ok(y),
        }
    };
    let y_train = y_of(train, "train")?;
    let y_val = y_of(validation, "validation")?;
    let preprocessor = Preprocessor::fit(train, &[id, target]).map_err(|e| internal(&e))?;
    let x_train = preprocessor.transform(train).map_err(|e| internal(&e))?;
    let model = Ridge::fit(&x_train, &y_train, ALPHA).map_err(|e| internal(&e))?;
    let p_train = model.predict(&x_train);
    let p_val = model.predict(
        &preprocessor
            .transform(validation)
            .map_err(|e| internal(&e))?,
    );
    let predictions = model.predict(&preprocessor.transform(test).map_err(|e| internal(&e))?);
    let test_ids = ids(test, id)?;
    Ok(HousePriceFit {
        train: (rmse(&y_train, &p_train), r2(&y_train, &p_train)),
        validation: (rmse(&y_val, &p_val), r2(&y_val, &p_val)),
        preprocessor,
        model,
        test_ids,
        predictions,
    })
}

/// The integer ids of a frame's `name` column.
pub(crate) fn ids(frame: &Frame, name: &str) -> Result<Vec<i64>, EvalError> {
    let col = frame
        .column(name)
        .ok_or_else(|| EvalError::Internal(format!("test.csv has no `{name}` column")))?;
    col.cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.as_deref()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| EvalError::Internal(format!("test.csv row {}: bad {name}", i + 1)))
        })
        .collect()
}

/// The native baseline of regressionKaggleHousePrice: writes `submission.csv`.
#[derive(Debug, Default)]
pub struct HousePriceBaseline;

impl Baseline for HousePriceBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        (ctx.progress)(
            "house-price baseline: Ridge(alpha=0.1) on imputed, scaled, one-hot features",
        );
        let fit = fit_and_predict(ctx.data_root)?;
        (ctx.progress)(&format!(
            "{} features; train rmse {:.2} r2 {:.6}; validation rmse {:.2} r2 {:.6}",
            fit.preprocessor.n_features(),
            fit.train.0,
            fit.train.1,
            fit.validation.0,
            fit.validation.1
        ));
        let values: Vec<String> = fit.predictions.iter().map(|v| format!("{v}")).collect();
        write_submission(ctx.out_dir, &HOUSE_PRICE, &fit.test_ids, &values)
    }
}
